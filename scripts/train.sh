#!/usr/bin/env bash
# The main job: trains the sample CNN on Fashion-MNIST with the generated CPU SIMD code, printing
# per-epoch figures and saving checkpoints/smallcnn.safetensors. Extra arguments go to the sample
# (--epochs N --batch N --lr X --seed N --checkpoint PATH --data DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-dataset.sh
dotnet run -c Release --project samples/FashionCnn -- "$@"
