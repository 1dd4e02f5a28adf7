#!/usr/bin/env bash
# NativeAOT check: trains a SmallCnn checkpoint for 64 steps (samples/FashionCnn, one epoch on 4,096 images), runs the
# inference sample (samples/FashionInference) with the JIT, publishes it with NativeAOT, and requires
#   - one file in the publish folder: the executable (no native library, no managed assembly beside it),
#   - that it runs without a JIT (it says so: the JIT compiled no method in the process),
#   - the same logits bit for bit and the same test accuracy as the JIT run.
# Both runs use the same vector ISA: the executable is built for x86-64-v3 (AVX2 + FMA), and the JIT run is told
# not to use AVX-512 (DOTNET_EnableAVX512=0), so both take the kernels' 256-bit paths and sum in the same order;
# on a machine with AVX-512 the JIT would otherwise take the 512-bit paths, whose different summation order
# moves the last bits (by 1-3 ulps of the logits, measured). Note: on .NET 10 the older knob
# DOTNET_EnableAVX512F=0 no longer turns Vector512 off (checked: Vector512.IsHardwareAccelerated stays true);
# the sample prints what it runs with on its "vectors:" line. Prints the executable's size and start-up time.
#   scripts/test-aot.sh            (scripts/test.sh runs it after the test projects; KEEP=1 keeps the work folder)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
start=$SECONDS
"$repo/scripts/setup-test-deps.sh"
"$repo/scripts/ensure-dataset.sh"
grep -q -w avx2 /proc/cpuinfo || { echo "test-aot: this CPU has no AVX2; the sample is built for x86-64-v3. Skipped."; exit 0; }

work=$(mktemp -d "${TMPDIR:-/tmp}/authoring-aot.XXXXXX")
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT
ckpt="$work/smallcnn.safetensors"

# 64 steps: enough for BatchNorm's running statistics (momentum 0.1) to forget their initial values, so the
# checkpoint classifies far above chance.
echo "test-aot: training a checkpoint (64 steps: 1 epoch on 4,096 images, batch 64)"
dotnet run -c Release --project samples/FashionCnn -- --epochs 1 --limit 4096 --batch 64 --checkpoint "$ckpt" > "$work/train.log" 2>&1 \
    || { cat "$work/train.log"; echo "test-aot: training failed" >&2; exit 1; }
[[ -f "$ckpt" ]] || { cat "$work/train.log"; echo "test-aot: no checkpoint written" >&2; exit 1; }

echo "test-aot: JIT run"
dotnet build -c Release samples/FashionInference -v:q -nologo > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
jit_dll=samples/FashionInference/bin/Release/net10.0/FashionInference.dll
DOTNET_EnableAVX512=0 dotnet "$jit_dll" --checkpoint "$ckpt" --show 16 > "$work/jit.txt"

echo "test-aot: publishing with NativeAOT"
aot="$work/aot"
dotnet publish samples/FashionInference -c Release -r linux-x64 -o "$aot" -nologo > "$work/publish.log" 2>&1 \
    || { cat "$work/publish.log"; echo "test-aot: dotnet publish failed" >&2; exit 1; }
files=$(cd "$aot" && ls -A)
[[ "$files" == "FashionInference" ]] || { echo "test-aot: the publish folder holds more than the executable:"; ls -la "$aot"; exit 1; }
if readelf -d "$aot/FashionInference" 2>/dev/null | grep -q "libclrjit\|libcoreclr"; then
    echo "test-aot: the executable links the JIT or CoreCLR" >&2; exit 1
fi

"$aot/FashionInference" --checkpoint "$ckpt" --show 16 > "$work/aot.txt"
grep -qx "runtime: NativeAOT (no JIT)" "$work/aot.txt" || { cat "$work/aot.txt"; echo "test-aot: the executable reports a JIT" >&2; exit 1; }
grep -qx "runtime: JIT" "$work/jit.txt" || { cat "$work/jit.txt"; echo "test-aot: the JIT run did not report a JIT" >&2; exit 1; }
# Both must have run the same vector paths, or a difference in the last bits would be expected, not a bug.
diff <(grep '^vectors' "$work/jit.txt") <(grep '^vectors' "$work/aot.txt") \
    || { echo "test-aot: the JIT and NativeAOT runs used different vector widths" >&2; exit 1; }

# The results (logit bits and accuracy) must be identical; the runtime and timing lines naturally differ.
if ! diff <(grep -E '^(logits|test accuracy)' "$work/jit.txt") <(grep -E '^(logits|test accuracy)' "$work/aot.txt"); then
    echo "test-aot: NativeAOT output differs from the JIT run's" >&2
    exit 1
fi
echo "test-aot: $(grep -c '^logits' "$work/aot.txt") images' logits identical bit for bit; $(grep '^test accuracy' "$work/aot.txt")"

size=$(stat -c %s "$aot/FashionInference")
# Start-up: the whole process from exec to its first prediction (checkpoint, deploy fold, test set, one image),
# best of three; and the time to Main it reports itself.
best() { local b=999999 t0 t1 ms; for _ in 1 2 3; do t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N); ms=$(( (t1 - t0) / 1000000 )); (( ms < b )) && b=$ms; done; echo "$b"; }
aot_ms=$(best "$aot/FashionInference" --checkpoint "$ckpt" --show 0 --count 1)
jit_ms=$(best dotnet "$jit_dll" --checkpoint "$ckpt" --show 0 --count 1)
echo "test-aot: executable $(( size / 1024 )) KiB; exec to first prediction, best of 3: NativeAOT ${aot_ms} ms, JIT ${jit_ms} ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
grep '^timing' "$work/aot.txt" | sed 's/^/test-aot: NativeAOT /'
grep '^timing' "$work/jit.txt" | sed 's/^/test-aot: JIT /'
echo "test-aot: passed in $((SECONDS - start)) s"
