#!/usr/bin/env bash
# The benchmarks on a GPU: the towers and the ViT-B/32-shaped request of bench/run-all.sh, plus the GPU-specific
# comparisons, with ONNX Runtime's CUDA execution provider (through the engine) against PyTorch on CUDA, both in one
# run on one host, ending with one table (bench/gpu/summarize.py).
#
#   bench/gpu/run.sh                                   # on an NVIDIA GPU host (written for an H100)
#   nice -n 15 bench/gpu/run.sh --device cpu --quick   # plumbing dry run: tiny model, labelled CPU, ~1 min
#
# Options: --device cuda|cpu (default cuda)   --quick (few repetitions: a plumbing check, not a measurement)
#          --out DIR (default $OUT, else /tmp/truss-clip-bench-gpu)   --model b32|tiny (default b32; tiny with cpu)
#          --vit-dir DIR (where the export is or goes)   --tf32 off|on (default off)   --no-fp16   --no-build
#
# WHERE IT RUNS. A host with an NVIDIA GPU and a driver for CUDA 13 (>= 580); the .NET 10 SDK (the build restores
# NuGet packages: network or a filled package cache) or a published harness named by TRUSS_CLIP_HARNESS (`dotnet publish
# bench -c Release --self-contained -o DIR`, then TRUSS_CLIP_HARNESS=DIR/Truss.Clip.Benchmarks; run here on CPU); python3
# with a CUDA build of torch, onnx, Pillow, numpy and regex (torchvision used when present); and the CUDA 13 user-space
# libraries ONNX Runtime 1.31's CUDA provider loads (libcudart, libcublas, libcublasLt 13, libcurand 10, cuDNN 9).
# Those are looked up with the loader, under /usr/local/cuda and /usr/local/nvidia, and in the nvidia-* pip packages
# beside torch; the folders found go on LD_LIBRARY_PATH, and `ldd` must then resolve the provider.
# The GPU machines this project's sessions can borrow have torch with CUDA but no .NET SDK, and the tool that runs
# commands there moves at most 64 MiB per call, while ORT's CUDA provider alone (libonnxruntime_providers_cuda.so,
# from Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0) is 284 MB: bench/gpu/ship.sh cuts the published harness into
# pieces that travel one per call and prints the calls. This script has not been run on a GPU yet.
#
# WHAT IT MEASURES (all on the requested device, in this order): which provider each tower really got (stops if
# ONNX Runtime fell back to CPU: no CPU number is ever reported as a GPU number); ONNX Runtime vs torch embeddings
# (same weights); the PyTorch baseline (tools/python_baseline.py --device: towers at batch 1/8/32 and 77-token text at
# batch 1/8, the 1080p classify; fp32, plus fp16 autocast and TF32 as separately labelled stages); BenchmarkDotNet
# TowerBenchmarks (image batch 1/8/32, text 77 tokens and real length) and VitB32EndToEndBenchmarks, with ORT I/O
# binding on, then the image tower again with it off; on CUDA the towers with TF32 flipped and the fp16 export;
# the request stage by stage; the real image tower at 32 concurrent callers through the dynamic batcher against
# batch-1 serial. TF32: "off" runs strict fp32 on both sides (ORT use_tf32=0, torch's TF32 switches off); the TF32
# rows then show ORT's default (use_tf32=1, what the server runs on CUDA) against torch with TF32 allowed.
# Outputs go to $OUT; nothing is written into the repository.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEVICE=cuda QUICK=0 MODEL= VIT= TF32=off FP16=1 BUILD=1
OUT=${OUT:-/tmp/truss-clip-bench-gpu}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --vit-dir) VIT=$2; shift 2 ;;
    --tf32) TF32=$2; shift 2 ;;
    --no-fp16) FP16=0; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "--device is cuda or cpu" >&2; exit 2 ;; esac
case "$TF32" in off|on) ;; *) echo "--tf32 is off or on" >&2; exit 2 ;; esac
MODEL=${MODEL:-$([ "$DEVICE" = cpu ] && echo tiny || echo b32)}
case "$MODEL" in
  b32) VIT=${VIT:-${TRUSS_CLIP_VIT_DIR:-/tmp/vit-b-32-random}} ;;
  tiny) VIT=${VIT:-/tmp/truss-clip-vit-tiny-random} ;;
  *) echo "--model is b32 or tiny" >&2; exit 2 ;;
esac
[ "$DEVICE" = cpu ] && FP16=0
HARNESS=${TRUSS_CLIP_HARNESS:-$ROOT/bench/bin/Release/net10.0/linux-x64/Truss.Clip.Benchmarks}
BIN_DIR=$(dirname "$HARNESS")
start=$SECONDS
step() { echo "== [$((SECONDS - start)) s] $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }
cd "$ROOT"
mkdir -p "$OUT"
rm -rf "$OUT"/bdn "$OUT"/bdn-* "$OUT"/*.jsonl "$OUT"/summary.md
: > "$OUT/machine.txt"
note() { echo "$1=$2" >> "$OUT/machine.txt"; echo "   $1: $2" >&2; }

step "prerequisites ($DEVICE)"
missing=()
PY=
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  command -v "$candidate" > /dev/null 2>&1 || continue
  if [ "$DEVICE" = cuda ]; then
    "$candidate" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' > /dev/null 2>&1 || continue
  else
    "$candidate" -c 'import torch' > /dev/null 2>&1 || continue
  fi
  PY=$(command -v "$candidate"); break
done
if [ -z "$PY" ]; then
  missing+=("python3 with $([ "$DEVICE" = cuda ] && echo 'a CUDA build of torch that sees the GPU (torch.cuda.is_available())' || echo torch) (set PYTHON=...)")
else
  note python "$PY"
  if ! versions=$("$PY" - <<'EOF'
import platform, torch, numpy, PIL, onnx, regex  # noqa: F401  (regex: the tokenizer port)
print(f"python_version={platform.python_version()}")
print(f"torch={torch.__version__}")
print(f"torch_cuda={torch.version.cuda}")
print(f"torch_cudnn={torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}")
print(f"numpy={numpy.__version__}")
print(f"pillow={PIL.__version__}")
print(f"onnx={onnx.__version__}")
try:
    import torchvision
    print(f"torchvision={torchvision.__version__}")
except ImportError:
    print("torchvision=absent (the baseline mirrors its transforms)")
EOF
  ); then
    missing+=("python packages: $PY needs torch, numpy, Pillow, onnx and regex")
  else
    while IFS='=' read -r k v; do note "$k" "$v"; done <<< "$versions"
  fi
fi
if [ "$BUILD" = 1 ] && [ -z "${TRUSS_CLIP_HARNESS:-}" ]; then
  if command -v dotnet > /dev/null 2>&1 && dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
    note dotnet "$(dotnet --version)"
  else
    missing+=("the .NET 10 SDK (dotnet), or TRUSS_CLIP_HARNESS=<published Truss.Clip.Benchmarks> with --no-build")
  fi
elif [ ! -x "$HARNESS" ]; then
  missing+=("the harness $HARNESS (build it, or drop --no-build)")
else
  note dotnet "$(command -v dotnet > /dev/null 2>&1 && dotnet --version || echo 'no SDK') (harness $HARNESS)"
fi
note ort_package "$(sed -n 's/.*Microsoft.ML.OnnxRuntime[^"]*" Version="\([^"]*\)".*/\1/p' Directory.Packages.props | head -1)"

if [ "$DEVICE" = cuda ]; then
  if command -v nvidia-smi > /dev/null 2>&1 && gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1) && [ -n "$gpu" ]; then
    note gpu "$(echo "$gpu" | cut -d, -f1 | xargs)"
    note gpu_memory "$(echo "$gpu" | cut -d, -f3 | xargs)"
    note driver "$(echo "$gpu" | cut -d, -f2 | xargs)"
    note driver_cuda "$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)"
  else
    missing+=("nvidia-smi answering with a GPU (NVIDIA driver)")
  fi
  # Where the CUDA 13 libraries are: the loader's cache, LD_LIBRARY_PATH, the usual toolkit folders, and the pip
  # packages (nvidia-*) that CUDA builds of torch install; every folder that holds one goes on LD_LIBRARY_PATH.
  search_dirs=()
  IFS=: read -r -a ld_dirs <<< "${LD_LIBRARY_PATH:-}"
  search_dirs+=("${ld_dirs[@]}" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu)
  if [ -n "$PY" ]; then
    while IFS= read -r d; do search_dirs+=("$d"); done < <("$PY" - <<'EOF'
import glob, importlib.util, os
spec = importlib.util.find_spec("nvidia")
for root in (spec.submodule_search_locations if spec else []):
    for d in sorted(set(os.path.dirname(p) for p in glob.glob(os.path.join(root, "**", "lib*.so*"), recursive=True))):
        print(d)
EOF
    )
  fi
  lib_dirs=()
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudnn.so.9 libcuda.so.1; do
    found=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF; exit}')
    if [ -z "$found" ]; then
      for d in "${search_dirs[@]}"; do
        [ -n "$d" ] && [ -e "$d/$lib" ] && { found=$d/$lib; break; }
      done
    fi
    if [ -z "$found" ]; then
      case "$lib" in
        libcuda.so.1) missing+=("$lib (the NVIDIA driver's CUDA library)") ;;
        *) missing+=("$lib (ONNX Runtime 1.31's CUDA provider needs the CUDA 13 libraries and cuDNN 9)") ;;
      esac
      continue
    fi
    note "lib_$lib" "$(readlink -f "$found")"
    d=$(dirname "$found")
    [[ " ${lib_dirs[*]} " == *" $d "* ]] || lib_dirs+=("$d")
  done
  if [ ${#lib_dirs[@]} -gt 0 ]; then
    export LD_LIBRARY_PATH=$(IFS=:; echo "${lib_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    note cuda_lib_dirs "$(IFS=:; echo "${lib_dirs[*]}")"
  fi
  cudnn=$(sed -n 's/^lib_libcudnn.so.9=.*libcudnn.so.//p' "$OUT/machine.txt")
  [ -z "$cudnn" ] || note cudnn_for_ort "$cudnn"
fi
if [ ${#missing[@]} -gt 0 ]; then
  printf 'ERROR: missing prerequisites for --device %s:\n' "$DEVICE" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi
note device "$DEVICE"
note quick "$QUICK"
note tf32 "$([ "$DEVICE" = cuda ] && echo "$TF32" || echo 'n/a (cpu)')"
note cpu "$(lscpu | sed -n 's/^Model name: *//p')"
note cores "$(nproc)"
note ram "$(free -h | awk '/^Mem:/{print $2}')"
note os "$(. /etc/os-release && echo "$PRETTY_NAME") $(uname -r)"
note load_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"
note date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

if [ "$BUILD" = 1 ] && [ -z "${TRUSS_CLIP_HARNESS:-}" ]; then
  step "build"
  dotnet build -c Release -nologo -v q -clp:ErrorsOnly
  dotnet build bench -c Release -nologo -v q -clp:ErrorsOnly
fi
[ -x "$HARNESS" ] || die "no harness at $HARNESS after the build"

if [ "$DEVICE" = cuda ]; then
  step "ONNX Runtime's CUDA provider resolves its libraries"
  provider=$BIN_DIR/libonnxruntime_providers_cuda.so
  [ -f "$provider" ] || die "$provider is missing: the build must reference Microsoft.ML.OnnxRuntime.Gpu.Linux"
  unresolved=$(ldd "$provider" | grep 'not found' || true)
  [ -z "$unresolved" ] || die "ldd $provider (LD_LIBRARY_PATH=$LD_LIBRARY_PATH) cannot resolve:
$unresolved"
  echo "   ldd: every library of $(basename "$provider") resolves" >&2
fi

export TRUSS_CLIP_VIT_DIR=$VIT
export TRUSS_CLIP_BENCH_IMAGES=$OUT/images
export TRUSS_CLIP_BENCH_DEVICE=$DEVICE
export TRUSS_CLIP_BENCH_BATCHES=1,8,32
export TRUSS_CLIP_BENCH_MODELS=vit-b-32-random
export TRUSS_CLIP_BENCH_IO_BINDING=on
unset TRUSS_CLIP_BENCH_VIT_VARIANT TRUSS_CLIP_BENCH_CUDA_OPTIONS TRUSS_CLIP_BENCH_QUICK
[ "$QUICK" = 1 ] && export TRUSS_CLIP_BENCH_QUICK=1
TOLERANCE=1e-3
if [ "$DEVICE" = cuda ]; then
  export TRUSS_CLIP_BENCH_CUDA_OPTIONS=use_tf32=$([ "$TF32" = on ] && echo 1 || echo 0)
  [ "$TF32" = on ] && TOLERANCE=2e-2
fi

step "model: $MODEL in $VIT"
size_of() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("size", "b32"))' "$VIT/torch_reference.json"; }
if [ ! -f "$VIT/torch_reference.json" ] || [ ! -f "$VIT/onnx/text_model_ctx77.onnx" ]; then
  "$PY" tools/export_vit_b32_random.py "$VIT" --size "$MODEL" > "$OUT/export.log" 2>&1 || { tail -20 "$OUT/export.log" >&2; die "export failed ($OUT/export.log); an export made elsewhere with the same script can be passed with --vit-dir"; }
  grep -v -i warn "$OUT/export.log" >&2 || true
fi
[ "$(size_of)" = "$MODEL" ] || die "$VIT holds a '$(size_of)' model, not '$MODEL': pass --vit-dir with another folder"
note model "$MODEL ($("$PY" -c 'import json, sys; print(format(json.load(open(sys.argv[1]))["fingerprint"]["parameters"], ","))' "$VIT/torch_reference.json") parameters, $VIT)"
FP16_STATUS="skipped: CUDA only"
if [ "$DEVICE" = cuda ]; then
  FP16_STATUS="skipped: --no-fp16"
  if [ "$FP16" = 1 ]; then
    if [ ! -f "$VIT/onnx/text_model_ctx77_fp16.onnx" ] || [ ! -e "$VIT/onnx/vision_model_fp16.onnx" ]; then
      if "$PY" tools/export_vit_b32_random.py "$VIT" --fp16-only > "$OUT/export-fp16.log" 2>&1; then
        grep -v -i warn "$OUT/export-fp16.log" >&2 || true
      else
        tail -5 "$OUT/export-fp16.log" >&2
        FP16_STATUS="skipped: the fp16 export failed (export-fp16.log)"
      fi
    fi
    [ -f "$VIT/onnx/text_model_ctx77_fp16.onnx" ] && FP16_STATUS=run
  fi
fi
note fp16 "$FP16_STATUS"

step "test images ($TRUSS_CLIP_BENCH_IMAGES)"
"$HARNESS" prepare-images "$TRUSS_CLIP_BENCH_IMAGES" >&2

step "which execution provider the towers really got"
"$HARNESS" device > "$OUT/device.jsonl" || { cat "$OUT/device.jsonl" >&2; die "ONNX Runtime did not run on $DEVICE (device.jsonl): nothing was measured"; }
cat "$OUT/device.jsonl" >&2

step "same weights on both sides (ONNX Runtime on $DEVICE vs torch on CPU, tolerance $TOLERANCE)"
"$HARNESS" check-vit --tolerance "$TOLERANCE" | tee "$OUT/parity.jsonl" >&2

step "PyTorch baseline on $DEVICE"
py_args=(--images "$TRUSS_CLIP_BENCH_IMAGES" --model "$VIT" --device "$DEVICE" --vision-batches 1,8,32)
[ "$QUICK" = 1 ] && py_args+=(--quick)
if [ "$DEVICE" = cuda ]; then
  py_args+=(--tf32 "$TF32")
  [ "$TF32" = off ] && py_args+=(--tf32-compare)
  [ "$FP16_STATUS" = run ] && py_args+=(--fp16)
fi
"$PY" tools/python_baseline.py "${py_args[@]}" | tee "$OUT/python.jsonl" >&2

bdn() {   # bdn FOLDER FILTER...: one BenchmarkDotNet run into $OUT/FOLDER; stops the script when a case fails
  local folder=$1; shift
  "$HARNESS" --filter "$@" --artifacts "$OUT/$folder" > "$OUT/$folder.log" 2>&1 || {
    grep -h -m3 'Refusing to report CPU numbers' "$OUT/$folder.log" >&2 || tail -40 "$OUT/$folder.log" >&2
    die "BenchmarkDotNet failed ($OUT/$folder.log)"; }
}
step "BenchmarkDotNet: towers (batch 1/8/32, I/O binding on) and the ViT-B/32 request"
bdn bdn '*TowerBenchmarks*' '*VitB32EndToEndBenchmarks*'

step "BenchmarkDotNet: the image tower with I/O binding off"
TRUSS_CLIP_BENCH_IO_BINDING=off bdn bdn-iobinding-off '*TowerBenchmarks.Vision*'

if [ "$DEVICE" = cuda ] && [ "$TF32" = off ]; then
  step "BenchmarkDotNet: towers with ONNX Runtime's default TF32 (use_tf32=1, the server's setting on CUDA)"
  TRUSS_CLIP_BENCH_CUDA_OPTIONS=use_tf32=1 bdn bdn-tf32 '*TowerBenchmarks.Vision*' '*TowerBenchmarks.TextContext77*'
fi

if [ "$FP16_STATUS" = run ]; then
  step "the fp16 export: provider, parity (informational) and BenchmarkDotNet"
  export TRUSS_CLIP_BENCH_VIT_VARIANT=fp16
  if "$HARNESS" device > "$OUT/device-fp16.jsonl"; then
    "$HARNESS" check-vit --tolerance 1 > "$OUT/parity-fp16.jsonl" || true
    cat "$OUT/parity-fp16.jsonl" >&2
    bdn bdn-fp16 '*TowerBenchmarks*' '*VitB32EndToEndBenchmarks*'
  else
    cat "$OUT/device-fp16.jsonl" >&2
    echo "fp16=skipped: the fp16 files did not load on CUDA (device-fp16.jsonl)" >> "$OUT/machine.txt"
  fi
  unset TRUSS_CLIP_BENCH_VIT_VARIANT
fi

step "the ViT-B/32 request stage by stage (medians, as the Python baseline)"
"$HARNESS" breakdown "$([ "$QUICK" = 1 ] && echo 3 || echo 15)" | tee "$OUT/breakdown.jsonl" >&2

step "dynamic batching with the real image tower: 32 concurrent callers vs batch-1 serial"
"$HARNESS" batching "$([ "$QUICK" = 1 ] && echo 2 || echo 10)" --model-dir "$VIT" --concurrency 32 | tee "$OUT/batching.jsonl" >&2

note load_at_end "$(cut -d' ' -f1-3 /proc/loadavg)"
note suite_seconds "$((SECONDS - start))"
step "summary"
"$PY" bench/gpu/summarize.py "$OUT" | tee "$OUT/summary.md"
