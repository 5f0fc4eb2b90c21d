#!/usr/bin/env bash
# Load test of the built server on loopback, plus the in-process number for the same request.
#
#   tools/load/run.sh [--body base64|pixels] [--duration 15s] [--connections "1 8 32"] [--port 18080] [--out DIR]
#                     [--warmup 5] [--inproc-seconds 10]
#
# Needs: `dotnet build -c Release` (the server) and `dotnet build bench -c Release` (the in-process harness), wrk,
# curl, and /usr/bin/python3 with Pillow for the `pixels` body. The server runs pinned to core $SERVER_CPU (default 0)
# and wrk to core $CLIENT_CPU (default 1), so "per core" means one core and the load generator does not steal
# from the server; the in-process harness then runs alone on the server's core with the same config.
# Prints JSON lines: inproc_engine, inproc_model and label_cache from the harness ("when": "before"), one "http" line
# per connection count (from predict.lua), then the harness again ("when": "after"); they also go to $OUT/load.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BODY=base64 DURATION=15s CONNECTIONS="1 8 32" PORT=18080 OUT=/tmp/truss-clip-bench/load INPROC_SECONDS=10 WARMUP=5
while [ $# -gt 0 ]; do
  case "$1" in
    --body) BODY=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --inproc-seconds) INPROC_SECONDS=$2; shift 2 ;;
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
BODY_FILE=$OUT/body-$BODY.json
LABELS='["a red circle", "a blue square", "a yellow star", "a green triangle", "a purple cross"]'
case "$BODY" in
  # The README's sample photo (320x240 PNG, 158 KB) as base64: what a client uploading a file sends.
  base64) printf '{"labels": %s, "image_base64": "%s"}' "$LABELS" "$(base64 -w0 "$ROOT/data/samples/red_circle.png")" > "$BODY_FILE" ;;
  # The original truss's input: a 64x64x3 pixel array (numpy .tolist()), the embedded model's input size.
  pixels) /usr/bin/python3 -c "
import json, sys
from PIL import Image
im = Image.open('$ROOT/data/samples/red_circle.png').convert('RGB').resize((64, 64), Image.BICUBIC)
px = [[list(im.getpixel((x, y))) for x in range(64)] for y in range(64)]
json.dump({'labels': $LABELS, 'image': px}, open('$BODY_FILE', 'w'))" ;;
  *) echo "--body is base64 or pixels" >&2; exit 2 ;;
esac
URL=http://127.0.0.1:$PORT/v1/models/model:predict
: > "$OUT/load.jsonl"

# The in-process number is taken before and after the HTTP runs (the box is shared, so its load drifts); the
# summary uses their mean. Each line gets "when": "before" or "after".
inproc() {
  taskset -c "$SERVER_CPU" "$HARNESS" inproc --config "$CONFIG" "${MODEL_ARGS[@]}" --body "$BODY_FILE" --seconds "$INPROC_SECONDS" \
    --warmup-seconds "$WARMUP" | sed "s/^{/{\"when\": \"$1\", /" | tee -a "$OUT/load.jsonl"
}
inproc before

taskset -c "$SERVER_CPU" "$SERVER" serve --config "$CONFIG" "${MODEL_ARGS[@]}" --host 127.0.0.1 --port "$PORT" > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$PORT/v1/models/model" > /dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited; see $OUT/server.log" >&2; exit 1; }
  sleep 0.2
done
ANSWER=$(curl -sf "$URL" -H 'Content-Type: application/json' --data-binary "@$BODY_FILE")
case "$ANSWER" in *'"status": "success"'*) ;; *) echo "unexpected answer: $ANSWER" >&2; exit 1 ;; esac

# Warm-up (discarded), the same length as the harness's: JIT tiers, pools and connections settle first.
PREDICT_BODY=$BODY_FILE taskset -c "$CLIENT_CPU" wrk -t2 -c8 -d"${WARMUP}s" -s "$ROOT/tools/load/predict.lua" "$URL" > "$OUT/wrk-warmup.txt"
# Server CPU time (user + system, in clock ticks) from /proc, so each http line also says how much CPU a request
# cost the server: the same measure as the harness's cpu_ms_per_request.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
TICK_MS=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN{print 1000 / hz}')
for c in $CONNECTIONS; do
  threads=$(( c < 2 ? c : 2 ))   # wrk needs at least one connection per thread
  before=$(cpu_ticks)
  PREDICT_BODY=$BODY_FILE CONNECTIONS=$c taskset -c "$CLIENT_CPU" \
    wrk -t"$threads" -c"$c" -d"$DURATION" --timeout 10s -s "$ROOT/tools/load/predict.lua" "$URL" > "$OUT/wrk-c$c.txt"
  after=$(cpu_ticks)
  line=$(grep '^{"stage": "http"' "$OUT/wrk-c$c.txt")
  requests=$(printf '%s' "$line" | sed -E 's/.*"requests": ([0-9]+).*/\1/')
  cpu=$(awk -v t=$((after - before)) -v ms="$TICK_MS" -v n="$requests" 'BEGIN{printf "%.4f", (n > 0 ? t * ms / n : 0)}')
  printf '%s\n' "${line%\}}, \"server_cpu_ms_per_request\": $cpu}" | tee -a "$OUT/load.jsonl"
done
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
trap - EXIT

inproc after
