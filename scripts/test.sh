#!/usr/bin/env bash
# The test command: installs what the tests need (patchelf and g++ for TorchSharp's native library on
# Debian 12, the Fashion-MNIST package for the real-data checks), then runs every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-deps.sh
scripts/ensure-dataset.sh
dotnet test Authoring.sln -c Release "$@"
