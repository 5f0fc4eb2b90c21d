#!/usr/bin/env bash
# Gets bench/gpu/run.sh onto a GPU machine that has no .NET SDK and takes at most 64 MiB per call: the machines
# this project's sessions can borrow through the workplace's device tool. ONNX Runtime's CUDA provider alone is
# 284 MB (186 MB compressed), so the harness travels published, compressed and cut into pieces, one per call.
#
#   bench/gpu/ship.sh [--piece-mib 52] [--check] [--full]
#
# It publishes the benchmark harness self-contained (`dotnet publish bench -c Release --self-contained`), packs it
# as one .tar.xz, and cuts that into folders .gpu-ship/p01 ... pNN (ignored by git), each small enough that the
# repository's tracked files plus one piece stay under a call's 64 MiB. Then it prints the calls to make: one per
# piece, each carrying that folder (the tool keeps ignored files on a warm machine between calls, and a machine
# stays warm for 30 s after a call, so make them back to back), the last also joining the pieces, unpacking them
# with python3 (always there), running `bench/gpu/run.sh --no-build` with the unpacked harness, and putting the
# summary and a tarball of the outputs in the tool's $OUT. By default the run is `--quick`, so it fits one call's
# 10 minutes after the transfers have used some of the session's 15; --full prints the full run instead.
#
# --check joins the pieces here the way the last call does, unpacks them into a temporary folder and runs the CPU dry
# run (`bench/gpu/run.sh --device cpu --quick --no-build`) with that harness, so the route is proven before any
# device time is spent. Nothing is written into the tracked tree; .gpu-ship/ is in .gitignore.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PIECE_MIB=52 CHECK=0 RUN_MODE=--quick
while [ $# -gt 0 ]; do
  case "$1" in
    --piece-mib) PIECE_MIB=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    --full) RUN_MODE=; shift ;;
    *) echo "unknown argument $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
case "$PIECE_MIB" in ''|*[!0-9]*) echo "--piece-mib takes whole MiB" >&2; exit 2 ;; esac
cd "$ROOT"
git check-ignore -q .gpu-ship/p01 || { echo ".gpu-ship/ must be ignored by git (.gitignore) so that pieces never get committed" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "publishing the harness (self-contained, linux-x64)" >&2
dotnet publish bench -c Release --self-contained -o "$WORK/harness" -nologo -v q -clp:ErrorsOnly >&2
[ -f "$WORK/harness/libonnxruntime_providers_cuda.so" ] || { echo "the publish has no CUDA provider" >&2; exit 1; }
# The engine decodes JPEGs with the system's libturbojpeg when there is one, and the GPU machines may have none. A
# copy beside the harness is found first (the app's folder leads the native search), so the decode rows measure the
# same decoder as the CPU suite; the device check's jpeg_decoder says which one ran.
turbo=$( (ldconfig -p 2>/dev/null || true) | awk '$1 == "libturbojpeg.so.0" && /x86-64/ && !found {print $NF; found = 1}')
if [ -n "$turbo" ]; then
  cp -L "$turbo" "$WORK/harness/libturbojpeg.so.0"
  echo "bundled $turbo" >&2
else
  echo "no libturbojpeg here to bundle: the GPU run decodes JPEGs with whatever that machine has" >&2
fi
echo "packing ($(du -sh "$WORK/harness" | cut -f1)); xz takes a few minutes on 2 cores" >&2
tar -C "$WORK" -cf - harness | xz -T0 -6 > "$WORK/harness.tar.xz"

rm -rf .gpu-ship
mkdir -p .gpu-ship
split -b "${PIECE_MIB}M" -d -a 2 "$WORK/harness.tar.xz" "$WORK/piece-"
pieces=()
for part in "$WORK"/piece-*; do
  k=$(printf '%02d' $((10#${part##*-} + 1)))
  mkdir -p ".gpu-ship/p$k"
  mv "$part" ".gpu-ship/p$k/harness.tar.xz.$k"
  pieces+=("p$k")
done
rm "$WORK/harness.tar.xz"

# What travels with every call besides the carried piece: tracked files and untracked ones git does not ignore.
tree_bytes=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
limit=$((64 * 1024 * 1024))
for p in "${pieces[@]}"; do
  bytes=$(du -sb ".gpu-ship/$p" | cut -f1)
  total=$((tree_bytes + bytes))
  if (( total >= limit )); then
    echo "a call carrying .gpu-ship/$p would move $total bytes, over 64 MiB: use a smaller --piece-mib" >&2
    exit 1
  fi
done
echo "${#pieces[@]} pieces of at most $PIECE_MIB MiB in .gpu-ship/ (tree $((tree_bytes / 1024 / 1024)) MiB per call)" >&2

# The last call's command: join, unpack, run, collect (the device tool's $OUT takes at most 8 files).
# One unpacker for the device and for --check: python3 is on both, tar and xz may not be on the device.
UNPACK_PY='import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.stdin.buffer), mode="r|").extractall(sys.argv[1])'
UNPACK="cat .gpu-ship/p*/harness.tar.xz.* | python3 -c '$UNPACK_PY' /tmp"
RUN="TRUSS_CLIP_HARNESS=/tmp/harness/Truss.Clip.Benchmarks bench/gpu/run.sh --no-build ${RUN_MODE:+$RUN_MODE }--out /tmp/gpu-bench"
COLLECT="cp /tmp/gpu-bench/summary.md \"\$OUT\"/ 2>/dev/null; tar -C /tmp -czf \"\$OUT\"/gpu-bench.tar.gz --exclude=gpu-bench/images gpu-bench"
HAVE_ALL="[ \$(ls .gpu-ship/p*/harness.tar.xz.* | wc -l) = ${#pieces[@]} ] || { echo 'not all ${#pieces[@]} pieces are on this machine: it went back between calls; start again from the first'; exit 1; }"
FINAL="set -o pipefail; $HAVE_ALL; $UNPACK && $RUN 2>&1 | tee /tmp/gpu-bench.log; rc=\$?; cp /tmp/gpu-bench.log \"\$OUT\"/ 2>/dev/null; $COLLECT; exit \$rc"

(( ${#FINAL} <= 2000 )) || { echo "the last call's command is ${#FINAL} characters, over the tool's 2,000" >&2; exit 1; }

if [ "$CHECK" = 1 ]; then
  echo "check: joining and unpacking the pieces as the last call would, then the CPU dry run with that harness" >&2
  unpacked=$WORK/unpacked
  mkdir -p "$unpacked"
  cat .gpu-ship/p*/harness.tar.xz.* | /usr/bin/python3 -c "$UNPACK_PY" "$unpacked"
  TRUSS_CLIP_HARNESS=$unpacked/harness/Truss.Clip.Benchmarks OUT=$WORK/dry nice -n 15 bench/gpu/run.sh --no-build --device cpu --quick > "$WORK/dry.log" 2>&1 \
    || { tail -20 "$WORK/dry.log" >&2; echo "check: the dry run with the unpacked harness failed" >&2; exit 1; }
  echo "check: the unpacked harness ran the CPU dry run ($(grep -c '^|' "$WORK/dry/summary.md") table lines in its summary)" >&2
fi

echo "Calls to make with the device tool, back to back (a machine goes back 30 s after a call ends):"
last=$(( ${#pieces[@]} - 1 ))
for i in "${!pieces[@]}"; do
  p=${pieces[$i]}
  if (( i < last )); then
    printf 'run  carry=[".gpu-ship/%s"]  timeout_s=120  command: ls -l .gpu-ship/%s\n' "$p" "$p"
  else
    printf 'run  carry=[".gpu-ship/%s"]  timeout_s=600  command: %s\n' "$p" "$FINAL"
  fi
done
