#!/usr/bin/env bash
# Fails unless every given ELF binary runs with glibc MAX (default 2.17, RHEL 7): reads the
# symbol versions each requires (readelf's version-needs section, any architecture) and prints
# the highest GLIBC_ version and the shared libraries it needs.
#
# Usage: deploy/check-glibc.sh [--max 2.17] BINARY...
set -euo pipefail

max=2.17
if [[ ${1:-} == --max ]]; then
    max=${2:?--max needs a version}
    shift 2
fi
(($#)) || { echo "usage: $0 [--max VERSION] BINARY..." >&2; exit 2; }
command -v readelf >/dev/null || { echo "FAIL: glibc: readelf not found (binutils)"; exit 1; }

status=0
for f in "$@"; do
    if [[ ! -f $f ]]; then
        echo "FAIL: glibc: $f: no such file"
        status=1
        continue
    fi
    arch=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
    # "Name: GLIBC_2.17  Flags: none  Version: 3" in .gnu.version_r, one line per version needed.
    versions=$(readelf --version-info -W "$f" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/Name: GLIBC_//' | sort -uV)
    libs=$(readelf -d -W "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
    if [[ -z $versions ]]; then
        if readelf -d -W "$f" | grep -q 'Shared library: \[libc\.so'; then
            echo "FAIL: glibc: $f links libc but names no GLIBC_ version"
            status=1
        else
            echo "PASS: glibc: $f ($arch) needs no glibc (static)"
        fi
        continue
    fi
    highest=$(tail -n1 <<<"$versions")
    if [[ $(printf '%s\n%s\n' "$highest" "$max" | sort -V | tail -n1) != "$max" ]]; then
        too_new=$(while read -r v; do
            [[ $(printf '%s\n%s\n' "$v" "$max" | sort -V | tail -n1) != "$max" ]] && echo "GLIBC_$v"
        done <<<"$versions")
        echo "FAIL: glibc: $f ($arch) needs GLIBC_$highest > $max:" $too_new
        # The symbols that need them (name@GLIBC_x.y in the dynamic symbol table).
        readelf --dyn-syms -W "$f" | awk -v want="$(tr '\n' ' ' <<<"$too_new")" '
            BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) bad[w[i]] = 1 }
            { for (i = 1; i <= NF; i++) if (split($i, p, "@") >= 2 && (p[2] in bad || p[3] in bad)) print "    " $i }' | sort -u | head -20
        status=1
    else
        echo "PASS: glibc: $f ($arch) needs at most GLIBC_$highest (<= $max); libraries: $libs"
    fi
done
exit $status
