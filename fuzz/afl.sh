#!/usr/bin/env bash
# Long-running coverage-guided fuzzing with AFL++ and SharpFuzz (see README.md in this folder).
#   fuzz/afl.sh <json|msgpack|image> [seconds]      (no seconds: run until Ctrl-C)
# Needs: afl++ (apt-get install afl++) and the SharpFuzz instrumenter
# (dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/afl.sh <json|msgpack|image> [seconds]}
seconds=${2:-}
out=fuzz/out/afl
export PATH="$PATH:$HOME/.dotnet/tools"

# A separate output folder, so the instrumented copies never mix with the plain build that .ci/fuzz runs.
rm -rf "$out"
dotnet build fuzz/Truss.Clip.Fuzz.csproj -c Release -o "$out" -nologo -v q
# Instrument the code under test: the server's serializers, the CLIP engine (decoder, preprocessor), the msgpack
# library, and the request model compiled into the harness (only its two product types, not the harness itself).
for assembly in Truss.Server.dll Clip.dll MessagePack.dll; do
  sharpfuzz "$out/$assembly"
done
sharpfuzz "$out/Truss.Clip.Fuzz.dll" Truss.Clip.PredictRequest Truss.Clip.PixelArray

# dotnet itself is not instrumented (SharpFuzz reports coverage through AFL's shared memory), hence SKIP_BIN_CHECK;
# the others make afl-fuzz start in a container without root tweaks to core_pattern and the CPU governor.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=${AFL_NO_UI:-1}
mkdir -p fuzz/findings
exec afl-fuzz ${seconds:+-V "$seconds"} -i "fuzz/corpus/$target" -o "fuzz/findings/$target" -t 5000 -m none \
  -- dotnet "$out/Truss.Clip.Fuzz.dll" "$target" --afl
