#!/usr/bin/env bash
# Installs Debian's Fashion-MNIST package (IDX .gz files under /usr/share/datasets/fashion-mnist/)
# when it is missing. Idempotent and quiet when the files are already there.
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
if compgen -G "$dir/*train-images*" >/dev/null 2>&1; then exit 0; fi
command -v apt-get >/dev/null 2>&1 \
    || { echo "ensure-dataset: install Debian's dataset-fashion-mnist (IDX files in $dir)." >&2; exit 1; }
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "ensure-dataset: installing dataset-fashion-mnist"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null
