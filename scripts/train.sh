#!/usr/bin/env bash
# The main job: trains a sample on Fashion-MNIST with the generated CPU SIMD code, printing per-epoch
# figures, saving a safetensors checkpoint, then folding it into its deploy model and reporting that.
#   scripts/train.sh [fashioncnn|ghostnet|repvgg|spiking|vit|charlm|binary] [--epochs N --batch N --lr X --seed N --checkpoint PATH --data DIR]
# Without a sample name it trains fashioncnn (SmallCnn).
set -euo pipefail
cd "$(dirname "$0")/.."
sample=fashioncnn
if [[ $# -gt 0 && "$1" != --* ]]; then sample="$1"; shift; fi
case "$sample" in
  fashioncnn) project=samples/FashionCnn ;;
  ghostnet) project=samples/GhostNetFashion ;;
  repvgg) project=samples/RepVggFashion ;;
  spiking) project=samples/SpikingFashion ;;
  vit) project=samples/VitFashion ;;
  charlm) project=samples/CharLm ;;
  binary) project=samples/BinaryFashion ;;
  *) echo "Unknown sample '$sample'; choose fashioncnn, ghostnet, repvgg, spiking, vit, charlm or binary." >&2; exit 2 ;;
esac
if [[ "$sample" == charlm ]]; then scripts/ensure-fortunes.sh; else scripts/ensure-dataset.sh; fi
dotnet run -c Release --project "$project" -- "$@"
