#!/usr/bin/env bash
# A/B of two server variants kept up side by side on core $SERVER_CPU (default 0), each driven by wrk on core
# $CLIENT_CPU (default 1), comparing server CPU per request (from /proc). It resolves differences of a few per cent on
# a shared box, where tools/load/ab.sh (one server at a time, restarted per measurement) moves by ±10-30 %.
#
#   tools/load/ab-paired.sh A B
#   each side: SERVER_BINARY|default:CONFIG[:ENV=VALUE,...]   ("default" = bin/Release/net10.0/linux-x64/Truss.Clip)
#
#   tools/load/ab-paired.sh default:tools/load/config.yaml default:tools/load/config.yaml:DOTNET_TieredPGO=0
#
# MODE=alternate (default): both servers stay up, wrk turns of $SECONDS_MEASURED s (default 3) alternate between
#   them ($PAIRS pairs, default 12, order flipped every pair), so each runs alone on the core as in the load test.
# MODE=together: both run at once, each under its own wrk, for $ROUNDS rounds (default 5) of $SECONDS_MEASURED s
#   (default 8); they share the core and its caches at every instant. Each side gets half a core, so settings that
#   depend on how many requests overlap (predict_concurrency, batching) read differently than in the load test.
#   Run it twice with the sides swapped: the first and second server differ by about 2 % by themselves (A/A).
# MODE=counts: ONE side, one server, turns alternating as in MODE=alternate between $CONNECTIONS (A) and
#   $CONNECTIONS_B (B, default 32) connections: does a request cost the server more at one count than at another?
#     MODE=counts tools/load/ab-paired.sh default:tools/load/config.yaml
# Prints one line per pair or round and the median and quartiles of B/A. $CONNECTIONS (default 8) per wrk.
# Needs `dotnet build -c Release`, wrk and curl; sends requests to 127.0.0.1 only.
set -euo pipefail
shopt -s inherit_errexit   # a failed wrk turn inside $(...) stops the run instead of yielding an empty count
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODE=${MODE:-alternate} CONNECTIONS=${CONNECTIONS:-8} WARMUP=${WARMUP:-10} PAIRS=${PAIRS:-12} ROUNDS=${ROUNDS:-5}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1} PORT_A=${PORT_A:-18120} PORT_B=${PORT_B:-18121}
case "$MODE" in
  alternate|counts) SECONDS_MEASURED=${SECONDS_MEASURED:-3} ;;
  together) SECONDS_MEASURED=${SECONDS_MEASURED:-8} ;;
  *) echo "MODE is alternate, together or counts" >&2; exit 2 ;;
esac
[ $# -eq "$([ "$MODE" = counts ] && echo 1 || echo 2)" ] || { sed -n '2,21p' "$0" >&2; exit 2; }
CONNECTIONS_A=$CONNECTIONS CONNECTIONS_B=$([ "$MODE" = counts ] && echo "${CONNECTIONS_B:-32}" || echo "$CONNECTIONS")
. "$ROOT/tools/load/common.sh"
BODY=$(mktemp)
PID_A= PID_B=
cleanup() {
  for pid in $PID_A $PID_B; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -f "$BODY"
}
trap cleanup EXIT
load_write_body "$BODY"

# start SIDE PORT: starts one side's server in the background; its pid goes to STARTED.
start() {
  local binary=${1%%:*}
  [ "$binary" = default ] && binary=$ROOT/bin/Release/net10.0/linux-x64/Truss.Clip
  [ -x "$binary" ] || { echo "missing $binary: run dotnet build -c Release" >&2; exit 2; }
  load_start_server "$binary" "${1#*:}" "$2"
  STARTED=$LOAD_SERVER_PID
}

# drive SECONDS PORT [CONNECTIONS]: one wrk run; prints its request count, and stops everything on any answer but 200.
drive() {
  local line
  line=$(load_wrk "$1" "${3:-$CONNECTIONS}" "$2" "$BODY") || exit 1
  load_field requests "$line"
}

# alone PID PORT CONNECTIONS: one wrk turn against one server; prints "CPU-ms-per-request requests".
alone() {
  local before after n
  before=$(load_cpu_ticks "$1"); n=$(drive "$SECONDS_MEASURED" "$2" "$3"); after=$(load_cpu_ticks "$1")
  echo "$(load_ms_per_request $((after - before)) "$n") $n"
}

start "$1" "$PORT_A"; PID_A=$STARTED
if [ "$MODE" = counts ]; then
  PID_B=$PID_A PORT_B=$PORT_A
else
  start "$2" "$PORT_B"; PID_B=$STARTED
fi
load_wait_ready "$PORT_A" "$PID_A"; load_wait_ready "$PORT_B" "$PID_B"
ratios=()
if [ "$MODE" != together ]; then
  drive "$WARMUP" "$PORT_A" "$CONNECTIONS_A" > /dev/null; drive "$WARMUP" "$PORT_B" "$CONNECTIONS_B" > /dev/null
  for pair in $(seq 1 "$PAIRS"); do
    if (( pair % 2 )); then a=$(alone "$PID_A" "$PORT_A" "$CONNECTIONS_A"); b=$(alone "$PID_B" "$PORT_B" "$CONNECTIONS_B")
    else b=$(alone "$PID_B" "$PORT_B" "$CONNECTIONS_B"); a=$(alone "$PID_A" "$PORT_A" "$CONNECTIONS_A"); fi
    read -r cpu_a n_a <<< "$a"; read -r cpu_b n_b <<< "$b"
    ratio=$(awk -v a="$cpu_a" -v b="$cpu_b" 'BEGIN{printf "%.4f", b / a}')
    ratios+=("$ratio")
    echo "pair $pair: A $cpu_a ms/req ($n_a requests), B $cpu_b ms/req ($n_b requests), B/A $ratio"
  done
else
  drive "$WARMUP" "$PORT_A" > /dev/null & warm=$!; drive "$WARMUP" "$PORT_B" > /dev/null; wait "$warm"
  out=$(mktemp)
  for round in $(seq 1 "$ROUNDS"); do
    a0=$(load_cpu_ticks "$PID_A"); b0=$(load_cpu_ticks "$PID_B")
    drive "$SECONDS_MEASURED" "$PORT_A" > "$out" & side_a=$!
    n_b=$(drive "$SECONDS_MEASURED" "$PORT_B"); wait "$side_a"; n_a=$(cat "$out")
    a1=$(load_cpu_ticks "$PID_A"); b1=$(load_cpu_ticks "$PID_B")
    cpu_a=$(load_ms_per_request $((a1 - a0)) "$n_a"); cpu_b=$(load_ms_per_request $((b1 - b0)) "$n_b")
    ratio=$(awk -v a="$cpu_a" -v b="$cpu_b" 'BEGIN{printf "%.4f", b / a}')
    ratios+=("$ratio")
    echo "round $round: A $cpu_a ms/req ($n_a requests), B $cpu_b ms/req ($n_b requests), B/A $ratio"
  done
  rm -f "$out"
fi
printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR] = $1} END {
  printf "B/A CPU per request: median %.3f, quartiles %.3f-%.3f (%d %s)\n", (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2),
    r[int((NR + 3) / 4)], r[int((3 * NR + 3) / 4)], NR, "'"$([ "$MODE" = together ] && echo rounds || echo pairs)"'" }'
