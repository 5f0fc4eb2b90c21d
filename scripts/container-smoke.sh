#!/usr/bin/env bash
# Container smoke test without a Docker engine: reproduces the Dockerfile's `standalone` image (CPU flavor) and checks
# it from the outside, the way `docker run -p 8080:8080 truss-clip:cpu` would be used.
#
#   1. The Dockerfile still has the lines this script reproduces (publish flags, paths, uid, ENV, CMD, HEALTHCHECK).
#   2. The build context is copied with .dockerignore's rules and published with the Dockerfile's `dotnet publish`
#      into a root folder laid out like the image: /opt/truss-clip, /app/config.yaml, /app/data, /home/app.
#   3. Every ELF file the image ships needs only libraries that ubuntu:24.04 provides.
#   4. In private mount, PID and network namespaces (so nothing listens outside and every process dies with the test),
#      that folder becomes a chroot whose root filesystem is read-only with a tmpfs on /tmp (the Kubernetes manifests'
#      readOnlyRootFilesystem), and the image's ENTRYPOINT + CMD runs as uid 60000 with the image's environment only.
#      The routes are then called with curl (STANDALONE_ROUTE_CHECKS), the HEALTHCHECK command is run, and SIGTERM must
#      end the server with exit code 0. Then config.yaml's docker_server.start_command runs the same way on
#      server_port, as Truss's supervisord would start it behind nginx.
#
# Needs root (namespaces, chroot, setpriv), curl, readelf and the .NET SDK. Prints one PASS/FAIL line per check and
# exits 1 when any fails. Every wait is bounded; the work folder and every process are gone when it exits
# (CONTAINER_SMOKE_KEEP=1 keeps the folder, with the server logs, for a look).
set -uo pipefail

# ---- The image, as the Dockerfile builds it (check_dockerfile fails when the Dockerfile no longer says so) ---------
APP_UID=60000
BIN_DIR=/opt/truss-clip
APP_DIR=/app
HOME_DIR=/home/app
IMAGE_PORT=8080
PUBLISH_ARGS=(Truss.Clip.csproj -c Release -r linux-x64 --self-contained true)
CPU_DROPPED=(libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so)
RUNTIME_PACKAGES=(ca-certificates libicu74 libssl3t64 libturbojpeg python3)
ENTRYPOINT=("$BIN_DIR/Truss.Clip")
CMD=(serve --config "$APP_DIR/config.yaml")
HEALTHCHECK=("$BIN_DIR/Truss.Clip" healthcheck)
# ubuntu:24.04's PATH plus the standalone stage's ENV line: what the server sees, and nothing else.
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
IMAGE_ENV=(PATH=$BASE_PATH HOME=$HOME_DIR INFERENCE_SERVER_PORT=$IMAGE_PORT)
# Shared libraries ubuntu:24.04 itself has (glibc, libgcc, libstdc++, zlib). ICU and OpenSSL are loaded by name at run
# time (libicu74, libssl3t64 in RUNTIME_PACKAGES), so they are not in any NEEDED list; libturbojpeg is dlopen'ed
# when present (the JPEG fast decoder, optional: Skia decodes without it), so it is not in one either.
BASE_SONAMES=(libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 ld-linux-x86-64.so.2 libgcc_s.so.1 libstdc++.so.6 libz.so.1)

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Byte-wise matching: msgpack answers are compared as raw bytes.
export LC_ALL=C

# ---- Reporting -------------------------------------------------------------------------------------------------------
pass() { echo "PASS  $1"; echo PASS >>"$WORK/results"; }
fail() { echo "FAIL  $1${2:+: $2}"; echo FAIL >>"$WORK/results"; }
note() { echo "      $1"; }

# ---- HTTP checks (inside the namespaces) -----------------------------------------------------------------------------
# expect NAME METHOD PATH STATUS BODY [curl args...]
#   BODY "=TEXT": the whole body is TEXT; "~TEXT": the body contains TEXT; "": any body.
#   The answer stays in $WORK/last.body and $WORK/last.headers for expect_header.
expect() {
  local name=$1 method=$2 path=$3 status=$4 want=$5 code
  shift 5
  code=$(curl -sS -o "$WORK/last.body" -D "$WORK/last.headers" -w '%{http_code}' --max-time 15 -X "$method" "$@" \
    "http://127.0.0.1:$PORT$path" 2>"$WORK/last.curl")
  local got
  got=$(head -c 300 "$WORK/last.body" 2>/dev/null | tr -d '\0\r' | tr '\n' ' ')
  if [ "$code" != "$status" ]; then
    fail "$name" "$method $path: status ${code:-none}, want $status ($(cat "$WORK/last.curl")$got)"
  elif [[ $want == =* ]] && [ "$(cat "$WORK/last.body")" != "${want#=}" ]; then
    fail "$name" "$method $path: body '$got', want '${want#=}'"
  elif [[ $want == ~* ]] && ! grep -qaF -- "${want#\~}" "$WORK/last.body"; then
    fail "$name" "$method $path: body '$got' lacks '${want#\~}'"
  else
    pass "$name ($method $path -> $status)"
  fi
}

# expect_header NAME HEADER VALUE: a header of the last answer (case-insensitive name, exact value).
expect_header() {
  local value
  value=$(grep -i "^$2:" "$WORK/last.headers" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//')
  if [ "$value" = "$3" ]; then pass "$1 ($2: $3)"; else fail "$1" "$2 is '${value}', want '$3'"; fi
}

# The sample images and their labels: data/samples/red_circle.png is "a red circle".
sample_label() { local name; name=$(basename "$1" .png); echo "a ${name//_/ }"; }
labels_json() {
  local sample sep="" out=""
  for sample in "$ROOTFS$APP_DIR"/data/samples/*.png; do out+="$sep\"$(sample_label "$sample")\""; sep=", "; done
  echo "[$out]"
}

# predict_checks PATH: each sample image as image_base64 with top_k 1 must come back with its own label on top.
predict_checks() {
  local path=$1 sample label body
  for sample in "$ROOTFS$APP_DIR"/data/samples/*.png; do
    label=$(sample_label "$sample")
    body="$WORK/predict-$(basename "$sample" .png).json"
    printf '{"labels": %s, "image_base64": "%s", "top_k": 1}' "$(labels_json)" "$(base64 -w0 "$sample")" >"$body"
    expect "predict $(basename "$sample") -> '$label'" POST "$path" 200 "~\"predictions\": [{\"$label\": " \
      -H 'Content-Type: application/json' --data-binary "@$body"
  done
}

# A msgpack request (Content-Type application/octet-stream): {"labels": [...], "image_base64": <bin32>, "top_k": 1}.
msgpack_str() { printf "\\x$(printf %02x $((0xa0 + ${#1})))%s" "$1"; }   # fixstr, at most 31 bytes
msgpack_request() {
  local sample=$1 size label
  size=$(stat -c %s "$sample")
  {
    printf '\x83'
    msgpack_str labels
    printf "\\x$(printf %02x $((0x90 + $(ls "$ROOTFS$APP_DIR"/data/samples/*.png | wc -l))))"
    for label in "$ROOTFS$APP_DIR"/data/samples/*.png; do msgpack_str "$(sample_label "$label")"; done
    msgpack_str image_base64
    printf "\\xc6\\x$(printf %02x $((size >> 24 & 255)))\\x$(printf %02x $((size >> 16 & 255)))\\x$(printf %02x $((size >> 8 & 255)))\\x$(printf %02x $((size & 255)))"
    cat "$sample"
    msgpack_str top_k
    printf '\x01'
  }
}

# Every route of the standalone image. New routes get their line here (e.g. GET /metrics, POST /v1/embeddings).
STANDALONE_ROUTE_CHECKS() {
  expect "liveness" GET / 200 "=true"
  expect "readiness" GET /v1/models/model 200 "={}"
  expect "readiness, any model name" GET /v1/models/anything 200 "={}"
  expect "loaded" GET /v1/models/model/loaded 200 "={}"
  expect "ping" GET /ping 200 "={}"
  expect "schema (none, as truss without pydantic types)" GET /v1/models/model/schema 404 '~"error":"No schema found"'
  expect_header "schema error source" X-BASETEN-ERROR-SOURCE 04
  predict_checks /v1/models/model:predict
  expect "predict_binary with a JSON body" POST /v1/models/model:predict_binary 200 '~"predictions": [{"a red circle": ' \
    -H 'Content-Type: application/json' --data-binary "@$WORK/predict-red_circle.json"
  msgpack_request "$ROOTFS$APP_DIR/data/samples/blue_square.png" >"$WORK/predict-blue_square.msgpack"
  expect "predict_binary with a msgpack body" POST /v1/models/model:predict_binary 200 "~$(msgpack_str 'a blue square')" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/predict-blue_square.msgpack"
  expect_header "msgpack answer type" Content-Type application/octet-stream
  expect "invocations (SageMaker route)" POST /invocations 200 '~"predictions": [{"a yellow star": ' \
    -H 'Content-Type: application/json' --data-binary "@$WORK/predict-yellow_star.json"
  expect "invalid JSON" POST /v1/models/model:predict 400 '~"error":"Invalid JSON payload: ' \
    -H 'Content-Type: application/json' --data-binary '{"labels": '
  expect_header "invalid JSON error source" X-BASETEN-ERROR-SOURCE 04
  expect_header "invalid JSON error code" X-BASETEN-ERROR-CODE 700
  expect "empty labels" POST /v1/models/model:predict 422 '~`labels`' \
    -H 'Content-Type: application/json' --data-binary '{"labels": [], "image": [[[0, 0, 0]]]}'
  expect_header "empty labels error code" X-BASETEN-ERROR-CODE 700
  expect "unknown route" GET /v2/health/ready 404 '={"detail":"Not Found"}'
  expect "wrong method" GET /invocations 405 '={"detail":"Method Not Allowed"}'
  expect "embeddings, text" POST /v1/embeddings 200 '~"object": "list", "data": [{"object": "embedding", "embedding": [' \
    -H 'Content-Type: application/json' --data-binary '{"input": ["a red circle", "a blue square"], "model": "clip"}'
  printf '{"input": ["data:image/png;base64,%s"], "modality": "image", "encoding_format": "base64"}' \
    "$(base64 -w0 "$ROOTFS$APP_DIR/data/samples/red_circle.png")" >"$WORK/embeddings-image.json"
  expect "embeddings, image data: URI, base64 vectors" POST /v1/embeddings 200 '~"usage": {"prompt_tokens": 1, "total_tokens": 1}' \
    -H 'Content-Type: application/json' --data-binary "@$WORK/embeddings-image.json"
  expect "embeddings, bad modality" POST /v1/embeddings 422 '~modality' \
    -H 'Content-Type: application/json' --data-binary '{"input": "x", "modality": "audio"}'
  expect "chat completions (not served, as truss)" POST /v1/chat/completions 404 '~must only be called if model has it' \
    -H 'Content-Type: application/json' --data-binary '{}'
  # Last, so that the requests above are in the counters.
  expect "metrics" GET /metrics 200 '~http_requests_total{method="POST",route="/v1/models/{name}",code="200"}'
  expect_header "metrics content type" Content-Type "text/plain; version=0.0.4; charset=utf-8"
  expect "metrics/ (truss's path)" GET /metrics/ 200 '~truss_clip_inference_duration_seconds_count{tower="image"}'
}

# The routes config.yaml's docker_server section hands to Truss's nginx.
DOCKER_SERVER_ROUTE_CHECKS() {
  expect "docker_server liveness_endpoint" GET "$(docker_server_value liveness_endpoint)" 200 "=true"
  expect "docker_server readiness_endpoint" GET "$(docker_server_value readiness_endpoint)" 200 "={}"
  predict_checks "$(docker_server_value predict_endpoint)"
}

# ---- Helpers for running the image (inside the namespaces) -----------------------------------------------------------
# run_as_app ENV... -- COMMAND...: COMMAND in the chroot as uid/gid 60000 without capabilities, with exactly ENV, from
# /app (the image's WORKDIR) or / for a Truss build (it sets no WORKDIR; start_command does `cd /app` itself).
run_as_app() {
  local workdir=$1 envs=()
  shift
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  # exec: a backgrounded call's $! is then the server itself, so that SIGTERM reaches it.
  exec chroot "$ROOTFS" /usr/bin/setpriv --reuid=$APP_UID --regid=$APP_UID --clear-groups --inh-caps=-all \
    --bounding-set=-all --no-new-privs /usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
}

docker_server_value() {
  awk -v key="$1" '/^docker_server:/ { inside = 1; next } /^[^ #]/ { inside = 0 }
    inside && $1 == key ":" { sub(/^[^:]*: */, ""); print; exit }' "$ROOTFS$APP_DIR/config.yaml"
}

# wait_until_ready PID: polls readiness for up to 60 s while the server process lives.
wait_until_ready() {
  local pid=$1 deadline=$((SECONDS + 60)) code
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/v1/models/model")
    [ "$code" = 200 ] && return 0
    sleep 0.2
  done
  return 1
}

# stop_server NAME PID LOG: SIGTERM must end the server with exit code 0 within shutdown_timeout_seconds + 10 s.
stop_server() {
  local name=$1 pid=$2 log=$3 deadline rc
  deadline=$((SECONDS + 40))
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    fail "$name: SIGTERM stops the server" "still running after 40 s"
  else
    wait "$pid"
    rc=$?
    if [ $rc -eq 0 ]; then pass "$name: SIGTERM stops the server with exit code 0"; else fail "$name: SIGTERM" "exit code $rc"; fi
  fi
}

expect_listening_on_all_interfaces() {
  if ss -Hltn "sport = :$PORT" | awk '{ print $4 }' | grep -qxF "0.0.0.0:$PORT"; then
    pass "$1 listens on 0.0.0.0:$PORT"
  else
    fail "$1 listens on 0.0.0.0:$PORT" "listening: $(ss -Hltn | awk '{ print $4 }' | tr '\n' ' ')"
  fi
}

# expect_clean_log NAME LOG: JSON log lines only (no stray stderr such as ONNX Runtime's CUDA messages) and no
# WARNING, ERROR or CRITICAL line: on the CPU image nothing should even try CUDA.
expect_clean_log() {
  local bad
  bad=$(grep -v '^{"asctime":' "$2" | head -n1)
  [ -z "$bad" ] && bad=$(grep -E -m1 '"levelname":"(WARNING|ERROR|CRITICAL)"' "$2")
  if [ -z "$bad" ]; then pass "$1: the log is JSON lines without warnings or errors"; else fail "$1: clean log" "${bad:0:300}"; fi
}

show_log_tail() { note "last lines of $1:"; tail -n 20 "$1" | sed 's/^/      | /'; }

# ---- Inside: private mount, PID and network namespaces ---------------------------------------------------------------
inside() {
  WORK=$1
  ROOTFS=$WORK/rootfs
  set -e
  mount --make-rprivate /
  mount --bind "$ROOTFS" "$ROOTFS"
  for dir in usr etc; do
    mount --rbind "/$dir" "$ROOTFS/$dir"
    mount -o remount,bind,ro "$ROOTFS/$dir"
  done
  mount --rbind /dev "$ROOTFS/dev"
  mount -t proc proc "$ROOTFS/proc"
  mount --rbind /sys "$ROOTFS/sys"
  mount -o remount,bind,ro "$ROOTFS"
  # What the Kubernetes manifests mount as an emptyDir; everything else is read-only.
  mount -t tmpfs -o mode=1777,size=256m tmpfs "$ROOTFS/tmp"
  ip link set lo up
  set +e

  # The standalone image: ENTRYPOINT + CMD, as uid 60000, with the image's environment.
  PORT=$IMAGE_PORT
  local log=$WORK/standalone.log pid rc out
  run_as_app "$APP_DIR" "${IMAGE_ENV[@]}" -- "${ENTRYPOINT[@]}" "${CMD[@]}" >"$log" 2>&1 &
  pid=$!
  if wait_until_ready "$pid"; then
    pass "standalone: '${ENTRYPOINT[*]} ${CMD[*]}' as uid $APP_UID is ready on :$PORT with a read-only root"
    expect_listening_on_all_interfaces standalone
    STANDALONE_ROUTE_CHECKS
    out=$(run_as_app "$APP_DIR" "${IMAGE_ENV[@]}" -- "${HEALTHCHECK[@]}" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ "$out" = "healthy: GET http://127.0.0.1:$PORT/v1/models/model -> 200" ]; then
      pass "HEALTHCHECK '${HEALTHCHECK[*]}' exits 0 ($out)"
    else
      fail "HEALTHCHECK '${HEALTHCHECK[*]}'" "exit $rc: $out"
    fi
    note "the server wrote under /tmp: $(cd "$ROOTFS/tmp" && find . -mindepth 1 -maxdepth 1 | sed 's|^\./||' | tr '\n' ' ')"
    stop_server standalone "$pid" "$log"
    out=$(run_as_app "$APP_DIR" "${IMAGE_ENV[@]}" -- "${HEALTHCHECK[@]}" --timeout 2 2>&1)
    rc=$?
    if [ $rc -eq 1 ]; then pass "HEALTHCHECK exits 1 once the server is gone"; else fail "HEALTHCHECK after stop" "exit $rc: $out"; fi
  else
    fail "standalone: '${ENTRYPOINT[*]} ${CMD[*]}' becomes ready on :$PORT" "not ready within 60 s or exited"
    show_log_tail "$log"
    kill -KILL "$pid" 2>/dev/null
  fi
  expect_clean_log standalone "$log"

  # Behind Truss: docker_server.start_command, split as supervisord splits it, as uid 60000 with Truss's HOME.
  local start_command
  start_command=$(docker_server_value start_command)
  PORT=$(docker_server_value server_port)
  eval "local -a truss_command=($start_command)"
  log=$WORK/docker_server.log
  run_as_app / PATH=$BASE_PATH HOME=$HOME_DIR -- "${truss_command[@]}" >"$log" 2>&1 &
  pid=$!
  if wait_until_ready "$pid"; then
    pass "docker_server: start_command is ready on server_port $PORT"
    expect_listening_on_all_interfaces docker_server
    DOCKER_SERVER_ROUTE_CHECKS
    stop_server docker_server "$pid" "$log"
    expect_clean_log docker_server "$log"
  else
    fail "docker_server: start_command becomes ready on server_port $PORT" "not ready within 60 s or exited"
    show_log_tail "$log"
    kill -KILL "$pid" 2>/dev/null
  fi
}

# ---- Outside -----------------------------------------------------------------------------------------------------------
json_array() { local out="" sep="" item; for item; do out+="$sep\"$item\""; sep=", "; done; printf '[%s]' "$out"; }

dockerfile_has() {
  if grep -qxF -- "$2" "$REPO/Dockerfile"; then pass "Dockerfile: $1"; else fail "Dockerfile: $1" "no line '$2'"; fi
}

check_dockerfile() {
  dockerfile_has "publish flags and install folder" "    dotnet publish ${PUBLISH_ARGS[*]} -o $BIN_DIR"
  dockerfile_has "CPU flavor drops the CUDA providers" \
    "RUN if [ \"\$FLAVOR\" = cpu ]; then rm ${CPU_DROPPED[*]/#/$BIN_DIR/}; fi"
  dockerfile_has "runtime packages" "    && apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES[*]} \\"
  dockerfile_has "user app with uid $APP_UID" \
    "    && useradd --uid $APP_UID --gid $APP_UID --create-home --home-dir $HOME_DIR --shell /usr/sbin/nologin app \\"
  dockerfile_has "model_cache folder writable by uid $APP_UID" \
    "    && install -d $APP_DIR && install -d -o $APP_UID -g $APP_UID $APP_DIR/model_cache"
  dockerfile_has "model baked in" "COPY data $APP_DIR/data"
  dockerfile_has "config baked in" "COPY config.yaml $APP_DIR/config.yaml"
  dockerfile_has "WORKDIR" "WORKDIR $APP_DIR"
  dockerfile_has "USER" "USER $APP_UID:$APP_UID"
  dockerfile_has "environment" "ENV ${IMAGE_ENV[*]:1}"
  dockerfile_has "EXPOSE" "EXPOSE $IMAGE_PORT"
  dockerfile_has "ENTRYPOINT" "ENTRYPOINT $(json_array "${ENTRYPOINT[@]}")"
  dockerfile_has "CMD" "CMD $(json_array "${CMD[@]}")"
  if grep -E '^HEALTHCHECK ' "$REPO/Dockerfile" | grep -qF -- " CMD $(json_array "${HEALTHCHECK[@]}")"; then
    pass "Dockerfile: HEALTHCHECK runs '${HEALTHCHECK[*]}'"
  else
    fail "Dockerfile: HEALTHCHECK" "no HEALTHCHECK line ending in CMD $(json_array "${HEALTHCHECK[@]}")"
  fi
  if [ "$(grep -E '^FROM ' "$REPO/Dockerfile" | tail -n1)" = "FROM truss-base AS standalone" ]; then
    pass "Dockerfile: standalone is the last stage (what a plain docker build gives)"
  else
    fail "Dockerfile: standalone is the last stage" "last FROM is '$(grep -E '^FROM ' "$REPO/Dockerfile" | tail -n1)'"
  fi
}

# copy_context DEST: the repository as Docker sends it, less what .dockerignore excludes.
copy_context() {
  local args=() line
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      '' | '#'*) ;;
      '!'* | *'['* ) fail ".dockerignore" "'$line' is a form copy_context does not reproduce"; return 1 ;;
      '**/'*) args+=(--no-anchored "--exclude=${line#\*\*/}") ;;
      *) args+=(--anchored "--exclude=./${line%/}") ;;
    esac
  done <"$REPO/.dockerignore"
  tar -C "$REPO" -cf - "${args[@]}" . | tar -C "$1" -xf -
}

check_shared_libraries() {
  local file lib missing=()
  while IFS= read -r -d '' file; do
    readelf -h "$file" >/dev/null 2>&1 || continue
    for lib in $(readelf -d "$file" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
      [[ " ${BASE_SONAMES[*]} " == *" $lib "* ]] && continue
      [ -e "$(dirname "$file")/$lib" ] && continue
      # The runtime's LTTng tracing provider: loaded only when liblttng-ust is installed, skipped otherwise.
      [[ $(basename "$file") == libcoreclrtraceptprovider.so && $lib == liblttng-ust.so.* ]] && continue
      missing+=("$(basename "$file") needs $lib")
    done
  done < <(find "$ROOTFS$BIN_DIR" -type f -print0)
  if [ ${#missing[@]} -eq 0 ]; then
    pass "every ELF file in $BIN_DIR needs only ubuntu:24.04's own libraries"
  else
    fail "shared libraries" "${missing[*]}"
  fi
}

outside() {
  if [ "$(id -u)" != 0 ]; then
    echo "container-smoke: needs root (mount/PID/network namespaces, chroot, setpriv)" >&2
    exit 1
  fi
  WORK=$(mktemp -d /tmp/truss-clip-smoke.XXXXXX)
  ROOTFS=$WORK/rootfs
  INNER_PID=""
  : >"$WORK/results"
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  check_dockerfile

  # The publish stage: COPY . . (the context), then the Dockerfile's dotnet publish into /opt/truss-clip.
  mkdir -p "$WORK/context" "$ROOTFS"
  if ! copy_context "$WORK/context"; then exit 1; fi
  local started=$SECONDS
  if (cd "$WORK/context" && timeout 600 dotnet publish "${PUBLISH_ARGS[@]}" -o "$ROOTFS$BIN_DIR" -nologo) >"$WORK/publish.log" 2>&1; then
    pass "dotnet publish ${PUBLISH_ARGS[*]} in the .dockerignore'd context ($((SECONDS - started)) s, $(du -sh "$ROOTFS$BIN_DIR" | cut -f1))"
  else
    fail "dotnet publish" "see below"
    grep -E 'error|rror\(s\)' "$WORK/publish.log" | sort -u | head -n 20 | sed 's/^/      | /'
    exit 1
  fi
  local dropped
  for dropped in "${CPU_DROPPED[@]}"; do
    if [ -f "$ROOTFS$BIN_DIR/$dropped" ]; then rm "$ROOTFS$BIN_DIR/$dropped"; else fail "CPU flavor" "$dropped is not in the publish output"; fi
  done
  note "CPU image's $BIN_DIR: $(du -sh "$ROOTFS$BIN_DIR" | cut -f1)"
  check_shared_libraries

  # The runtime stages' layout: root-owned and world-readable, like COPY makes it; only model_cache belongs to app.
  mkdir -p "$ROOTFS"/{usr,etc,dev,proc,sys,tmp} "$ROOTFS$APP_DIR/model_cache" "$ROOTFS$HOME_DIR"
  ln -s usr/bin "$ROOTFS/bin"
  ln -s usr/sbin "$ROOTFS/sbin"
  ln -s usr/lib "$ROOTFS/lib"
  ln -s usr/lib64 "$ROOTFS/lib64"
  cp -R "$WORK/context/data" "$ROOTFS$APP_DIR/data"
  cp "$WORK/context/config.yaml" "$ROOTFS$APP_DIR/config.yaml"
  chmod -R a+rX,go-w "$ROOTFS"
  chown $APP_UID:$APP_UID "$ROOTFS$APP_DIR/model_cache" "$ROOTFS$HOME_DIR"

  timeout --kill-after=10 300 unshare --mount --pid --net --fork --kill-child --mount-proc \
    "$SELF" --inside "$WORK" &
  INNER_PID=$!
  wait "$INNER_PID"
  local rc=$?
  INNER_PID=""
  if [ $rc -ne 0 ]; then fail "namespaces" "the isolated run ended with exit code $rc (124: it took more than 300 s)"; fi

  local passed failed
  passed=$(grep -c '^PASS$' "$WORK/results")
  failed=$(grep -c '^FAIL$' "$WORK/results")
  if [ "$failed" -eq 0 ]; then
    echo "container-smoke: PASS (all $passed checks)"
  else
    echo "container-smoke: FAIL ($failed of $((passed + failed)) checks failed)"
    exit 1
  fi
}

cleanup() {
  if [ -n "${INNER_PID:-}" ] && kill -0 "$INNER_PID" 2>/dev/null; then
    kill -TERM "$INNER_PID" 2>/dev/null
    wait "$INNER_PID" 2>/dev/null
  fi
  [ -n "${WORK:-}" ] && [ -d "$WORK" ] || return 0
  if findmnt -rn -o TARGET | grep -qF "$WORK"; then
    echo "container-smoke: mounts remain under $WORK; not deleting it" >&2
  elif [ "${CONTAINER_SMOKE_KEEP:-}" = 1 ]; then
    echo "container-smoke: kept $WORK"
  else
    rm -rf --one-file-system "$WORK"
  fi
}

if [ "${1:-}" = --inside ]; then
  inside "$2"
else
  outside
fi
