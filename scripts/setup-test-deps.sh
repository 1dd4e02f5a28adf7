#!/usr/bin/env bash
# Installs the system tools the build needs to make TorchSharp load on Debian 12 (see
# build/TorchSharp.targets): patchelf and g++ (which brings binutils' readelf). Idempotent and
# quiet: does nothing when they are present, runs apt-get update only when something must be
# installed. Needs root (or sudo) for the install.
set -euo pipefail

missing=()
command -v patchelf >/dev/null 2>&1 || missing+=(patchelf)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
[[ ${#missing[@]} -eq 0 ]] && exit 0

command -v apt-get >/dev/null 2>&1 \
    || { echo "setup-test-deps: please install ${missing[*]} with your package manager." >&2; exit 1; }
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)

echo "setup-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
