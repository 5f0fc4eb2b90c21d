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
. "$ROOT/tools/load/common.sh"
BODY=$(mktemp) PID=
trap 'rm -f "$BODY"; if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi; true' EXIT
load_write_body "$BODY"

measure() {
  local name=$1 t0 t1 line
  load_start_server "$SERVER" "$2" "$PORT"
  PID=$LOAD_SERVER_PID
  load_wait_ready "$PORT" "$PID"
  load_wrk "$WARMUP" "$CONNECTIONS" "$PORT" "$BODY" > /dev/null
  t0=$(load_cpu_ticks "$PID")
  line=$(load_wrk "$SECONDS_MEASURED" "$CONNECTIONS" "$PORT" "$BODY") || { echo "$name: the measurement failed" >&2; exit 1; }
  t1=$(load_cpu_ticks "$PID")
  kill "$PID"; wait "$PID" 2>/dev/null || true
  PID=
  echo "$name: $(load_field req_per_s "$line") req/s, server CPU $(load_ms_per_request $((t1 - t0)) "$(load_field requests "$line")") ms/req"
}

[ -x "$SERVER" ] || { echo "missing $SERVER: run dotnet build -c Release" >&2; exit 2; }
[ $# -gt 0 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
for round in $(seq 1 "$ROUNDS"); do
  for arg in "$@"; do measure "${arg%%=*}" "${arg#*=}"; done
done
