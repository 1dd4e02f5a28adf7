#!/usr/bin/env bash
# Installs Debian's fortunes package (the fortune cookie files under /usr/share/games/fortunes/, the text of the
# CharLm sample) when it is missing. Idempotent and quiet when the files are already there.
set -euo pipefail
dir=/usr/share/games/fortunes
if [[ -f "$dir/fortunes" ]]; then exit 0; fi
command -v apt-get >/dev/null 2>&1 \
    || { echo "ensure-fortunes: install Debian's fortunes package (text files in $dir)." >&2; exit 1; }
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "ensure-fortunes: installing fortunes"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends fortunes >/dev/null
