#!/usr/bin/env bash
# Load test of the built server on loopback, paired with the in-process number for the same request.
#
#   tools/load/run.sh [--body base64|pixels] [--duration 5s] [--rounds 3] [--connections "1 8 32"] [--port 18080]
#                     [--out DIR] [--warmup 10]
#
# Needs: `dotnet build -c Release` (the server) and `dotnet build bench -c Release` (the in-process harness), wrk,
# curl, and /usr/bin/python3 with Pillow for the `pixels` body. The server runs pinned to core $SERVER_CPU (default 0)
# and wrk to core $CLIENT_CPU (default 1), so "per core" means one core and the load generator does not steal
# from the server; the in-process harness runs on the server's core with the same config.
#
# Both processes stay up for the whole run and take turns: each round measures, for each connection count, the
# in-process pipeline for --duration and then wrk against the server for --duration (the other way round in even
# rounds), so a change in the shared machine's speed hits both sides of each ratio alike. bench/summarize.py takes
# the median over rounds of each pair's ratio. Both warm up for --warmup seconds first (the server's JIT is still
# compiling for about 10 s under load; see docs/benchmarks.md).
# Prints JSON lines: inproc_engine and inproc_model from the harness and one "http" line per connection count, each
# with "round": "c<connections>-r<round>", then label_cache; they also go to $OUT/load.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BODY=base64 DURATION=5s ROUNDS=3 CONNECTIONS="1 8 32" PORT=18080 OUT=/tmp/truss-clip-bench/load WARMUP=10
while [ $# -gt 0 ]; do
  case "$1" in
    --body) BODY=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
SERVER=$ROOT/bin/Release/net10.0/linux-x64/Truss.Clip
HARNESS=$ROOT/bench/bin/Release/net10.0/linux-x64/Truss.Clip.Benchmarks
CONFIG=${CONFIG:-$ROOT/tools/load/config.yaml}
# MODEL_DIR (optional) serves another model with the same config, e.g. the ViT-B/32-shaped export, to see what the
# same HTTP cost weighs against a real-size model.
MODEL_ARGS=()
[ -n "${MODEL_DIR:-}" ] && MODEL_ARGS=(--model-dir "$MODEL_DIR")
for f in "$SERVER" "$HARNESS"; do
  [ -x "$f" ] || { echo "missing $f: run dotnet build -c Release && dotnet build bench -c Release" >&2; exit 2; }
done
mkdir -p "$OUT"
. "$ROOT/tools/load/common.sh"
BODY_FILE=$OUT/body-$BODY.json
case "$BODY" in
  base64) load_write_body "$BODY_FILE" ;;
  # The original truss's input: a 64x64x3 pixel array (numpy .tolist()), the embedded model's input size.
  pixels) /usr/bin/python3 -c "
import json, sys
from PIL import Image
im = Image.open('$ROOT/data/samples/red_circle.png').convert('RGB').resize((64, 64), Image.BICUBIC)
px = [[list(im.getpixel((x, y))) for x in range(64)] for y in range(64)]
json.dump({'labels': $LOAD_LABELS, 'image': px}, open('$BODY_FILE', 'w'))" ;;
  *) echo "--body is base64 or pixels" >&2; exit 2 ;;
esac
URL=http://127.0.0.1:$PORT/v1/models/model:predict
: > "$OUT/load.jsonl"

SECONDS_PER_TURN=${DURATION%s}
case "$SECONDS_PER_TURN" in ''|*[!0-9]*) echo "--duration takes whole seconds, like 5s" >&2; exit 2 ;; esac

# The harness answers "SECONDS TAG" lines on its stdin with its measurement lines (InProcessPipeline --slices).
FIFO_IN=$OUT/harness.in FIFO_OUT=$OUT/harness.out
rm -f "$FIFO_IN" "$FIFO_OUT" "$OUT/harness.other"; mkfifo "$FIFO_IN" "$FIFO_OUT"
SERVER_PID= HARNESS_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
  [ -n "$HARNESS_PID" ] && { kill "$HARNESS_PID" 2>/dev/null || true; wait "$HARNESS_PID" 2>/dev/null || true; }
  rm -f "$FIFO_IN" "$FIFO_OUT"
}
trap cleanup EXIT
taskset -c "$SERVER_CPU" "$HARNESS" inproc --config "$CONFIG" "${MODEL_ARGS[@]}" --body "$BODY_FILE" \
  --warmup-seconds "$WARMUP" --slices < "$FIFO_IN" > "$FIFO_OUT" 2> "$OUT/harness.err" &
HARNESS_PID=$!
exec 3> "$FIFO_IN" 4< "$FIFO_OUT"
# Anything the harness prints besides its result lines goes to $OUT/harness.other, not into the results.
other_output() { printf '%s\n' "$1" >> "$OUT/harness.other"; }
read -r -t 600 ready <&4 || { echo "the in-process harness did not start; see $OUT/harness.err" >&2; exit 1; }
until [ "$ready" = '{"stage": "ready"}' ]; do
  other_output "$ready"
  read -r -t 600 ready <&4 || { echo "the in-process harness did not start; see $OUT/harness.err" >&2; exit 1; }
done

# Measures the in-process pipeline for one turn: two lines (engine and model level), tagged with the round.
inproc_turn() {
  local line got=0
  echo "$SECONDS_PER_TURN $1" >&3
  while (( got < 2 )); do
    read -r -t 600 line <&4 || { echo "the in-process harness stopped; see $OUT/harness.err" >&2; exit 1; }
    case "$line" in
      '{"stage":"inproc_'*) printf '%s\n' "$line" | tee -a "$OUT/load.jsonl"; got=$((got + 1)) ;;
      *) other_output "$line" ;;
    esac
  done
}

taskset -c "$SERVER_CPU" "$SERVER" serve --config "$CONFIG" "${MODEL_ARGS[@]}" --host 127.0.0.1 --port "$PORT" > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
load_wait_ready "$PORT" "$SERVER_PID" || { echo "see $OUT/server.log" >&2; exit 1; }
ANSWER=$(curl -sf "$URL" -H 'Content-Type: application/json' --data-binary "@$BODY_FILE")
case "$ANSWER" in *'"status": "success"'*) ;; *) echo "unexpected answer: $ANSWER" >&2; exit 1 ;; esac

# Warm-up (discarded), as long as the harness's: JIT tiers, pools and connections settle first.
load_wrk "$WARMUP" 8 "$PORT" "$BODY_FILE" > "$OUT/wrk-warmup.txt"
# Each http line also says how much CPU a request cost the server (user + system time from /proc): the same measure
# as the harness's cpu_ms_per_request.
http_turn() {
  local c=$1 tag=$2 before after line
  before=$(load_cpu_ticks "$SERVER_PID")
  line=$(load_wrk "$SECONDS_PER_TURN" "$c" "$PORT" "$BODY_FILE") || { echo "turn $tag failed" >&2; exit 1; }
  after=$(load_cpu_ticks "$SERVER_PID")
  printf '%s\n' "$line" > "$OUT/wrk-$tag.txt"
  printf '%s\n' "${line%\}}, \"round\": \"$tag\", \"server_cpu_ms_per_request\": $(load_ms_per_request $((after - before)) "$(load_field requests "$line")")}" \
    | tee -a "$OUT/load.jsonl"
}

for round in $(seq 1 "$ROUNDS"); do
  for c in $CONNECTIONS; do
    if (( round % 2 )); then inproc_turn "c$c-r$round"; http_turn "$c" "c$c-r$round"
    else http_turn "$c" "c$c-r$round"; inproc_turn "c$c-r$round"; fi
  done
done

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
# End of input: the harness prints its label-cache line and exits.
exec 3>&-
while read -r -t 600 line <&4; do
  case "$line" in '{'*) printf '%s\n' "$line" | tee -a "$OUT/load.jsonl" ;; *) other_output "$line" ;; esac
done
exec 4<&-
wait "$HARNESS_PID"
HARNESS_PID=
