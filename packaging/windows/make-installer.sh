#!/usr/bin/env bash
# Builds the Windows NSIS installer from a cross-built (or Windows-built) cw-shared-devices.exe:
#
#   bash packaging/windows/make-installer.sh EXE OUT_DIR
#
# writes OUT_DIR/cw-shared-devices_<version>_x64-setup.exe (version from Cargo.toml) and prints
# its path as the last line of stdout. Needs `makensis` (NSIS 3; Debian: the `nsis` package).
# On Windows, call makensis with the same defines (packaging/README.md has both).
# CW_NSIS_COMPRESSOR=zlib builds faster and larger than the default lzma.
set -euo pipefail

if (($# != 2)); then
    echo "usage: $0 EXE OUT_DIR" >&2
    exit 2
fi
exe="$1"
out_dir="$2"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

[[ -f "$exe" ]] || {
    echo "error: $exe does not exist; build it first (packaging/README.md)" >&2
    exit 2
}
command -v makensis >/dev/null || {
    echo "error: makensis not found; install NSIS 3 (Debian: apt-get install nsis)" >&2
    exit 2
}

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
[[ -n "$version" ]] || {
    echo "error: no version in $root/Cargo.toml" >&2
    exit 2
}
# Windows version resources take four numbers: 1.2.3-beta.1 becomes 1.2.3.0.
IFS=. read -r major minor patch <<<"${version%%[-+]*}"
version_quad="${major:-0}.${minor:-0}.${patch:-0}.0"

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
installer="$out_dir/cw-shared-devices_${version}_x64-setup.exe"

makensis -V2 -INPUTCHARSET UTF8 \
    -DVERSION="$version" \
    -DVERSION_QUAD="$version_quad" \
    -DEXE="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")" \
    -DOUTFILE="$installer" \
    -DICON="$root/assets/icon.ico" \
    -DCOMPRESSOR="${CW_NSIS_COMPRESSOR:-lzma}" \
    "$here/installer.nsi" >&2
echo "$installer"
