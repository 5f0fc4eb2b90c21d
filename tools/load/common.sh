# Shared by tools/load/run.sh, ab.sh and ab-paired.sh (sourced, not run): the request body, waiting for a server,
# one wrk turn that voids the measurement on any answer but 200, and the server's CPU time from /proc.
# Callers set ROOT (the repository) and use `set -euo pipefail`; everything sends requests to 127.0.0.1 only.

LOAD_LABELS='["a red circle", "a blue square", "a yellow star", "a green triangle", "a purple cross"]'

# load_write_body FILE: the README's sample photo (320x240 PNG, 158 KB) as base64 with five labels, 211 KB of JSON:
# what a client uploading a file sends.
load_write_body() {
  printf '{"labels": %s, "image_base64": "%s"}' "$LOAD_LABELS" "$(base64 -w0 "$ROOT/data/samples/red_circle.png")" > "$1"
}

# load_start_server BINARY CONFIG[:ENV=VALUE,...] PORT: starts the server in the background on 127.0.0.1, pinned to
# core $SERVER_CPU (default 0), with that config and those environment variables; its pid goes to LOAD_SERVER_PID.
load_start_server() {
  local binary=$1 config=${2%%:*} port=$3 envs=()
  if [[ $2 == *:* ]]; then IFS=, read -r -a envs <<< "${2#*:}"; fi
  env "${envs[@]}" taskset -c "${SERVER_CPU:-0}" "$binary" serve --config "$config" --host 127.0.0.1 --port "$port" > /dev/null 2>&1 &
  LOAD_SERVER_PID=$!
}

# load_wait_ready PORT [PID]: waits up to $LOAD_READY_SECONDS (default 120: the ViT-B/32-shaped export loads in
# seconds, but on a busy box) for readiness; fails early when PID (the server) has exited.
load_wait_ready() {
  local port=$1 pid=${2:-}
  for _ in $(seq 1 $(( ${LOAD_READY_SECONDS:-120} * 10 ))); do
    curl -sf "http://127.0.0.1:$port/v1/models/model" > /dev/null 2>&1 && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then echo "the server on port $port exited" >&2; return 1; fi
    sleep 0.1
  done
  echo "the server on port $port did not become ready" >&2
  return 1
}

# load_wrk SECONDS CONNECTIONS PORT BODY: one wrk turn from core $CLIENT_CPU; prints predict.lua's JSON line. A fast
# 4xx/5xx (a queue overflow, a bad body) would count as throughput, so any answer but 200 fails the turn.
load_wrk() {
  local seconds=$1 connections=$2 port=$3 body=$4 threads line
  threads=$(( connections < 2 ? connections : 2 ))   # wrk needs at least one connection per thread
  line=$(PREDICT_BODY=$body CONNECTIONS=$connections taskset -c "${CLIENT_CPU:-1}" wrk -t"$threads" -c"$connections" \
    -d"${seconds}s" --timeout 10s -s "$ROOT/tools/load/predict.lua" "http://127.0.0.1:$port/v1/models/model:predict" \
    | grep '^{"stage": "http"')
  case "$line" in
    *'"non_200": 0,'*'"errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}'*) ;;
    *) echo "wrk saw failed requests on port $port: $line" >&2; return 1 ;;
  esac
  printf '%s\n' "$line"
}

# load_field NAME LINE: a number from a predict.lua line ("requests", "req_per_s", ...).
load_field() { sed -E "s/.*\"$1\": ([0-9.]+).*/\\1/" <<< "$2"; }

# load_cpu_ticks PID: the process's user + system CPU time so far, in clock ticks.
load_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# load_ms_per_request TICKS REQUESTS: milliseconds of CPU per request, the harness's cpu_ms_per_request measure.
load_ms_per_request() {
  awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.4f", (n > 0 ? t * 1000 / hz / n : 0) }'
}
