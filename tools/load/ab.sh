#!/usr/bin/env bash
# A/B of server settings under the same load: each NAME=CONFIG[:ENV=VALUE,...] argument starts the built server with
# that config and environment, pinned to core $SERVER_CPU (default 0), drives it with wrk on core $CLIENT_CPU
# (default 1) at $CONNECTIONS (default 8) connections for $SECONDS_MEASURED s (default 8) after a $WARMUP s (default
# 6) warm-up, and prints req/s and the server's CPU per request (from /proc). The arguments are run round by round
# ($ROUNDS rounds, default 3), alternating, so drift in a shared machine's load hits each alike.
#
#   tools/load/ab.sh default=tools/load/config.yaml old-jit=tools/load/config.yaml:DOTNET_TC_CallCountingDelayMs=100
#
# Needs `dotnet build -c Release`, wrk and curl; sends requests to 127.0.0.1 only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SERVER=$ROOT/bin/Release/net10.0/linux-x64/Truss.Clip
PORT=${PORT:-18095} CONNECTIONS=${CONNECTIONS:-8} SECONDS_MEASURED=${SECONDS_MEASURED:-8} WARMUP=${WARMUP:-6} ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
BODY=$(mktemp)
trap 'rm -f "$BODY"' EXIT
printf '{"labels": ["a red circle", "a blue square", "a yellow star", "a green triangle", "a purple cross"], "image_base64": "%s"}' \
  "$(base64 -w0 "$ROOT/data/samples/red_circle.png")" > "$BODY"
URL=http://127.0.0.1:$PORT/v1/models/model:predict
threads=$(( CONNECTIONS < 2 ? CONNECTIONS : 2 ))

measure() {
  local name=$1 config=${2%%:*} envs=() pid t0 t1 line n rps
  [[ $2 == *:* ]] && IFS=, read -r -a envs <<< "${2#*:}"
  env "${envs[@]}" taskset -c "$SERVER_CPU" "$SERVER" serve --config "$config" --host 127.0.0.1 --port "$PORT" > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/v1/models/model" > /dev/null 2>&1 && break; sleep 0.1; done
  PREDICT_BODY=$BODY CONNECTIONS=$CONNECTIONS taskset -c "$CLIENT_CPU" wrk -t"$threads" -c"$CONNECTIONS" -d"${WARMUP}s" \
    -s "$ROOT/tools/load/predict.lua" "$URL" > /dev/null
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  line=$(PREDICT_BODY=$BODY CONNECTIONS=$CONNECTIONS taskset -c "$CLIENT_CPU" wrk -t"$threads" -c"$CONNECTIONS" \
    -d"${SECONDS_MEASURED}s" -s "$ROOT/tools/load/predict.lua" "$URL" | grep '"stage"')
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # A fast 4xx/5xx would count as throughput: any answer but 200 voids the comparison.
  case "$line" in
    *'"non_200": 0,'*'"errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}'*) ;;
    *) echo "$name: wrk saw failed requests: $line" >&2; exit 1 ;;
  esac
  n=$(sed -E 's/.*"requests": ([0-9]+).*/\1/' <<< "$line"); rps=$(sed -E 's/.*"req_per_s": ([0-9.]+).*/\1/' <<< "$line")
  awk -v name="$name" -v rps="$rps" -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s: %s req/s, server CPU %.3f ms/req\n", name, rps, (n > 0 ? t * 1000 / hz / n : 0) }'
}

[ -x "$SERVER" ] || { echo "missing $SERVER: run dotnet build -c Release" >&2; exit 2; }
[ $# -gt 0 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
for round in $(seq 1 "$ROUNDS"); do
  for arg in "$@"; do measure "${arg%%=*}" "${arg#*=}"; done
done
