#!/usr/bin/env bash
# The test command: installs what the tests need (patchelf and g++ for TorchSharp's native library on Debian 12,
# clang and zlib1g-dev for NativeAOT, the Fashion-MNIST package for the real-data checks), runs every test
# project, then the two end-to-end checks that build outside the solution: the NuGet package consumed by a
# project made from scratch (scripts/test-package.sh) and the NativeAOT inference sample against its JIT run
# (scripts/test-aot.sh). Arguments go to `dotnet test`; AUTHORING_SKIP_E2E=1 skips the two end-to-end checks.
# On a CPU with AVX-512 the CPU kernel tests run a second time with .NET's AVX-512 support switched
# off, so the 256-bit (AVX2) paths are tested on this machine too. .NET 10 reads DOTNET_EnableAVX512
# (checked: DOTNET_EnableAVX512F=0 alone leaves Vector512 accelerated there); older runtimes read
# DOTNET_EnableAVX512F, so both are set. A test (SimdSettingTests) fails if the setting did not take.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-deps.sh
scripts/ensure-dataset.sh
dotnet test Authoring.sln -c Release "$@"
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    echo "test.sh: AVX-512 CPU: CPU kernel tests again on the 256-bit paths (DOTNET_EnableAVX512=0)"
    DOTNET_EnableAVX512=0 DOTNET_EnableAVX512F=0 AUTHORING_EXPECT_SIMD=256 \
        dotnet test tests/Authoring.Runtime.Tests -c Release --no-build \
        --filter "FullyQualifiedName~Authoring.Runtime.Tests.Cpu" "$@"
fi
if [[ "${AUTHORING_SKIP_E2E:-0}" != 1 ]]; then
    scripts/test-package.sh
    scripts/test-aot.sh
fi
