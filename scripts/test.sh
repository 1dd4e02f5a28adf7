#!/usr/bin/env bash
# The test command: installs what the tests need (patchelf and g++ for TorchSharp's native library on Debian 12,
# clang and zlib1g-dev for NativeAOT, the Fashion-MNIST package for the real-data checks), runs every test
# project, then the two end-to-end checks that build outside the solution: the NuGet package consumed by a
# project made from scratch (scripts/test-package.sh) and the NativeAOT inference sample against its JIT run
# (scripts/test-aot.sh). Arguments go to `dotnet test`; AUTHORING_SKIP_E2E=1 skips the two end-to-end checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-deps.sh
scripts/ensure-dataset.sh
dotnet test Authoring.sln -c Release "$@"
if [[ "${AUTHORING_SKIP_E2E:-0}" != 1 ]]; then
    scripts/test-package.sh
    scripts/test-aot.sh
fi
