#!/usr/bin/env bash
# Makes TorchSharp's native library load on systems whose libstdc++ is older than the one it was
# built against (Debian 12: GCC 12's libstdc++ lacks GLIBCXX_3.4.32).
#
#   patch-libtorchsharp.sh FOLDER
#
# FOLDER holds a copy of libLibTorchSharp.so (never point it at the NuGet cache). When the system
# libstdc++ satisfies the library, nothing happens. Otherwise:
#   1. compile glibcxx_shim.cpp (defines std::ios_base_library_init, the one GLIBCXX_3.4.32
#      symbol the library uses) into FOLDER/libauthoring_glibcxx_shim.so;
#   2. on a temporary copy, with patchelf: clear that symbol's version, add the shim as a needed
#      library and make sure the rpath holds $ORIGIN so the shim is found next to it;
#   3. mark the GLIBCXX_3.4.32 entry of .gnu.version_r weak (vna_flags = VER_FLG_WEAK = 2), so the
#      loader only notes, instead of refusing, that libstdc++ lacks that version;
#   4. check the result and move it over the original (a new inode, so hard links are not touched).
# Idempotent: an already patched library is recognized and left alone.
# Exit codes: 0 patched or nothing to do; 3 the patch is needed but its tools (g++, patchelf,
# readelf) are missing: FOLDER/torchsharp-setup-missing.txt then says which and which script
# installs them, and MSBuild turns that into a warning (building the library must not fail for
# want of tools only the TorchSharp tests need); anything else is an error, printed as
# "error TORCHSHIM00n: ..." so MSBuild's Exec reports it as a build error.
set -euo pipefail

folder=${1:?usage: patch-libtorchsharp.sh FOLDER}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lib="$folder/libLibTorchSharp.so"
shim_name=libauthoring_glibcxx_shim.so
shim="$folder/$shim_name"
marker="$folder/torchsharp-setup-missing.txt"
symbol=_ZSt21ios_base_library_initv
version=GLIBCXX_3.4.32

fail() { echo "error TORCHSHIM$1: $2" >&2; exit 1; }

[[ -f "$lib" ]] || fail 001 "$lib not found."
rm -f "$marker"

# The loader's own verdict: does the system satisfy every version the library needs?
# (Output captured first: with pipefail, grep -q closing the pipe early could fail the pipeline.)
missing_version() {
    local out
    out=$(ldd "$1" 2>&1 || true)
    grep -q ": version \`$version' not found" <<<"$out"   # not ": weak version ..."
}

needs_shim() {
    local out
    out=$(readelf -d -W "$1" 2>/dev/null || true)
    grep -q "Shared library: \[$shim_name\]" <<<"$out"
}

already_patched=false
if needs_shim "$lib"; then
    if [[ -f "$shim" ]]; then
        echo "patch-libtorchsharp: $lib already patched."
        exit 0
    fi
    already_patched=true   # copied without its shim: only the shim is rebuilt below
elif ! missing_version "$lib"; then
    echo "patch-libtorchsharp: the system libstdc++ provides $version; nothing to do."
    exit 0
fi

# Check every tool before changing anything; report all that are missing at once.
missing_tools=()
command -v g++ >/dev/null 2>&1 || missing_tools+=(g++)
if ! $already_patched; then
    command -v patchelf >/dev/null 2>&1 || missing_tools+=(patchelf)
    command -v readelf >/dev/null 2>&1 || missing_tools+=(readelf)
fi
if [[ ${#missing_tools[@]} -gt 0 ]]; then
    message="TorchSharp's native library needs a patch to load here (the system libstdc++ lacks $version), and the tools for it are missing: ${missing_tools[*]}. Run scripts/setup-test-deps.sh (as root; it installs them with apt-get), then build again. Only the TorchSharp tests and benchmarks need this; everything else builds and runs without it."
    printf '%s\n' "$message" > "$marker"
    echo "patch-libtorchsharp: $message"
    exit 3
fi

tmp_shim=$(mktemp "$folder/.shim.XXXXXX")
trap 'rm -f "$tmp_shim" "${tmp_lib:-}"' EXIT
g++ -shared -fPIC -O2 -o "$tmp_shim" "$here/glibcxx_shim.cpp" || fail 005 "compiling $here/glibcxx_shim.cpp failed."
chmod 755 "$tmp_shim"
mv -f "$tmp_shim" "$shim"

if $already_patched; then
    echo "patch-libtorchsharp: rebuilt $shim for the already patched $lib."
    exit 0
fi

tmp_lib=$(mktemp "$folder/.libLibTorchSharp.XXXXXX")
cp "$lib" "$tmp_lib"
chmod 755 "$tmp_lib"

patchelf --clear-symbol-version "$symbol" "$tmp_lib"
patchelf --add-needed "$shim_name" "$tmp_lib"
rpath=$(patchelf --print-rpath "$tmp_lib")
case ":$rpath:" in
    *':$ORIGIN:'*) ;;
    *) patchelf --set-rpath "\$ORIGIN${rpath:+:$rpath}" "$tmp_lib" ;;
esac

# Find the vernaux entry: readelf prints the section's file offset, then each entry's offset
# within the section. vna_flags sits 4 bytes into Elf64_Vernaux (after vna_hash).
read -r section_offset entry_offset < <(readelf -V -W "$tmp_lib" | awk -v v="$version" '
    /Version needs section/ { in_r = 1; next }
    /Version (definition|symbols) section/ { in_r = 0 }
    in_r && /Offset:/ { for (i = 1; i <= NF; i++) if ($i == "Offset:") sec = $(i + 1) }
    in_r && $2 == "Name:" && $3 == v { sub(":", "", $1); print sec, $1; exit }') \
    || fail 006 "$version not found in .gnu.version_r of $lib."
[[ -n "${entry_offset:-}" ]] || fail 006 "$version not found in .gnu.version_r of $lib."
flags_at=$(( section_offset + entry_offset + 4 ))
printf '\x02\x00' | dd of="$tmp_lib" bs=1 seek="$flags_at" count=2 conv=notrunc status=none

versions=$(readelf -V -W "$tmp_lib")
grep -q "Name: $version  *Flags: WEAK" <<<"$versions" || fail 007 "marking $version weak in $lib failed."
symbols=$(readelf --dyn-syms -W "$tmp_lib")
if grep -q "$symbol@" <<<"$symbols"; then fail 007 "clearing the version of $symbol in $lib failed."; fi
missing_version "$tmp_lib" && fail 007 "$lib still requires $version after patching."

mv -f "$tmp_lib" "$lib"
echo "patch-libtorchsharp: patched $lib (shim $shim_name for $version)."
