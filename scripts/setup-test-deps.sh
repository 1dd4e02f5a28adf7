#!/usr/bin/env bash
# Installs the system tools the tests need on Debian 12: patchelf and g++ (which brings binutils'
# readelf) to make TorchSharp load (see build/TorchSharp.targets), and clang with zlib1g-dev for the
# NativeAOT publish (scripts/test-aot.sh: NativeAOT links with clang and needs zlib's static library).
# Idempotent and quiet: does nothing when they are present, runs apt-get update only when something
# must be installed. Needs root (or sudo) for the install.
set -euo pipefail

missing=()
command -v patchelf >/dev/null 2>&1 || missing+=(patchelf)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
command -v clang >/dev/null 2>&1 || missing+=(clang)
# zlib1g-dev brings zlib.h and the libz the linker needs (the runtime library alone is always there).
[[ -f /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
[[ ${#missing[@]} -eq 0 ]] && exit 0

command -v apt-get >/dev/null 2>&1 \
    || { echo "setup-test-deps: please install ${missing[*]} with your package manager." >&2; exit 1; }
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)

echo "setup-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
