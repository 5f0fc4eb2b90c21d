#!/usr/bin/env bash
# The whole benchmark suite, in order, ending with ONE summary table whose ratios all come from this run:
#
#   bench/run-all.sh            # ~10-15 minutes on a 2-core box
#
# Steps: build (server + bench) -> export the ViT-B/32-shaped random model (reused when present) -> prepare the
# test images -> check the C# side runs the same weights as torch -> Python baseline -> BenchmarkDotNet suite ->
# the ViT-B/32 request stage by stage ->
# HTTP load test + in-process pipeline -> the same load test with tiered compilation off (diagnostic) -> the same
# request served by the ViT-B/32-shaped model (context) -> summary.
# Everything goes to $OUT (default /tmp/truss-clip-bench); nothing is written into the repository.
# Needs: .NET 10 SDK, /usr/bin/python3 with python3-torch python3-onnx python3-pil python3-numpy python3-regex and
# libopenblas0-openmp (without it torch runs on the reference BLAS, ~50x slower; torchvision is used when installed),
# libturbojpeg0, wrk, curl, taskset; ../shared for the 1080p photo and OpenAI's merges (both optional).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-/tmp/truss-clip-bench}
export TRUSS_CLIP_BENCH_IMAGES=$OUT/images
export TRUSS_CLIP_VIT_DIR=${TRUSS_CLIP_VIT_DIR:-/tmp/vit-b-32-random}
PY=/usr/bin/python3
HARNESS=$ROOT/bench/bin/Release/net10.0/linux-x64/Truss.Clip.Benchmarks
start=$SECONDS
step() { echo "== [$((SECONDS - start)) s] $*" >&2; }
cd "$ROOT"
mkdir -p "$OUT"
rm -rf "$OUT/breakdown.jsonl" "$OUT/bdn" "$OUT/load" "$OUT/load-tc0" "$OUT/load-vit"

step "machine"
{
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p')"
  echo "cores=$(nproc)"
  echo "ram=$(free -h | awk '/^Mem:/{print $2}')"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME") $(uname -r)"
  echo "dotnet=$(dotnet --version) (runtime $(dotnet --list-runtimes | awk '/NETCore.App/{v=$2} END{print v}'))"
  echo "ort=$(sed -n 's/.*Microsoft.ML.OnnxRuntime[^"]*" Version="\([^"]*\)".*/\1/p' Directory.Packages.props | head -1)"
  echo "skiasharp=$(sed -n 's/.*Include="SkiaSharp" Version="\([^"]*\)".*/\1/p' Directory.Packages.props)"
  $PY -c 'import torch, PIL, numpy; print(f"torch={torch.__version__}\npillow={PIL.__version__}\nnumpy={numpy.__version__}")'
  $PY -c 'import PIL.features as f; print("pillow_libjpeg_turbo=" + str(f.check_feature("libjpeg_turbo")))'
  echo "wrk=$(wrk --version 2>&1 | head -1 | awk '{print $2}')"
  echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

step "build"
dotnet build -c Release -nologo -v q -clp:ErrorsOnly
dotnet build bench -c Release -nologo -v q -clp:ErrorsOnly

step "ViT-B/32-shaped export ($TRUSS_CLIP_VIT_DIR)"
if [ ! -f "$TRUSS_CLIP_VIT_DIR/torch_reference.json" ] || [ ! -f "$TRUSS_CLIP_VIT_DIR/onnx/text_model_ctx77.onnx" ]; then
  $PY tools/export_vit_b32_random.py "$TRUSS_CLIP_VIT_DIR" 2>&1 | grep -v -i warn >&2
fi

step "test images ($TRUSS_CLIP_BENCH_IMAGES)"
"$HARNESS" prepare-images "$TRUSS_CLIP_BENCH_IMAGES" >&2

step "same weights on both sides"
"$HARNESS" check-vit | tee "$OUT/parity.jsonl" >&2

step "Python baseline"
$PY tools/python_baseline.py --images "$TRUSS_CLIP_BENCH_IMAGES" --model "$TRUSS_CLIP_VIT_DIR" | tee "$OUT/python.jsonl" >&2

step "BenchmarkDotNet suite"
"$HARNESS" --filter '*' --artifacts "$OUT/bdn" > "$OUT/bdn.log" 2>&1 || { tail -40 "$OUT/bdn.log" >&2; exit 1; }
grep -h "LabelCache:" "$OUT/bdn.log" >&2 || true

step "ViT-B/32 request, stage by stage (medians of 9, as the Python baseline)"
"$HARNESS" breakdown 9 | tee "$OUT/breakdown.jsonl" >&2

step "HTTP load test + in-process pipeline"
# Five rounds: single rounds spread by ±8 points on a shared machine, and the table takes the median of the rounds.
tools/load/run.sh --out "$OUT/load" --rounds 5 >&2

step "diagnostic: the same at 8 connections with tiered compilation off (DOTNET_TieredCompilation=0)"
DOTNET_TieredCompilation=0 tools/load/run.sh --out "$OUT/load-tc0" --connections 8 --rounds 2 --duration 5s >&2

step "context: the same request against the ViT-B/32-shaped model (c=8), server and harness on one core each"
MODEL_DIR=$TRUSS_CLIP_VIT_DIR tools/load/run.sh --out "$OUT/load-vit" --connections 8 --rounds 3 --duration 8s >&2

echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
echo "suite_seconds=$((SECONDS - start))" >> "$OUT/machine.txt"
step "summary"
$PY bench/summarize.py "$OUT" | tee "$OUT/summary.md"
