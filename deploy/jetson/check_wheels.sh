#!/usr/bin/env bash
# Every pin in the Jetson constraint set must have a wheel a Jetson on JetPack 6 can install: CPython 3.10,
# aarch64, glibc 2.35 (Ubuntu 22.04), i.e. a manylinux_2_17 ... manylinux_2_35 aarch64 wheel or a pure-Python
# one. Nothing is built from source on the Jetson, so a pin without such a wheel is a broken install.
#
#   deploy/jetson/check_wheels.sh [CONSTRAINTS]        (PYTHON=python3, GLIBC_MINOR=35)
#
# Prints the wheel pip chose for every pin and exits 1 when any pin has none. Needs PyPI.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
constraints=${1:-$here/constraints-jetson.txt}
python=${PYTHON:-python3}
glibc_minor=${GLIBC_MINOR:-35}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# pip matches --platform tags exactly: list every manylinux tag a glibc-2.35 aarch64 machine accepts
platforms=(--platform manylinux2014_aarch64)
for minor in $(seq 17 "$glibc_minor"); do
    platforms+=(--platform "manylinux_2_${minor}_aarch64")
done

pins=()
while IFS= read -r line || [ -n "$line" ]; do
    spec=${line%%#*}
    spec=${spec//[[:space:]]/}
    [ -z "$spec" ] || pins+=("$spec")
done <"$constraints"

download() {  # download DEST SPEC...
    local dest=$1
    shift
    "$python" -m pip download --quiet --no-deps --only-binary=:all: "${platforms[@]}" --python-version 3.10 \
        --implementation cp --dest "$dest" "$@" >"$tmp/log" 2>&1
}

missing=0
if download "$tmp/all" "${pins[@]}"; then   # one resolver run when everything is there (the usual case)
    for whl in "$tmp"/all/*.whl; do
        printf 'ok  %s\n' "$(basename "$whl")"
    done
else                                       # find which pins have no wheel
    for spec in "${pins[@]}"; do
        if download "$tmp/one" "$spec"; then
            printf 'ok       %s\n' "$spec"
        else
            printf 'MISSING  %-30s %s\n' "$spec" "$(grep -m1 ERROR "$tmp/log" || tail -1 "$tmp/log")"
            missing=$((missing + 1))
        fi
    done
fi
echo "${#pins[@]} pins of $(basename "$constraints") checked for CPython 3.10 on aarch64 (glibc 2.$glibc_minor): $missing without a wheel"
[ "$missing" -eq 0 ]
