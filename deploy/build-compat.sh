#!/usr/bin/env bash
# Builds subcap-agent for old enterprise distributions: glibc 2.17 (RHEL/CentOS 7, SLES 12) and
# newer, on x86_64 and aarch64, with cargo-zigbuild (zig links against glibc 2.17's symbol
# versions and compiles ring's C and assembly), then checks the glibc symbol versions.
#
#   pip install ziglang cargo-zigbuild       # zig and cargo-zigbuild, from PyPI
#   deploy/build-compat.sh                   # both architectures
#   deploy/build-compat.sh x86_64            # one
#   PACKAGES="subcap-agent subcap-aggregator" deploy/build-compat.sh x86_64   # the aggregator too
#
# Output: $CARGO_TARGET_DIR (or target/)/<arch>-unknown-linux-gnu/release/subcap-agent
set -euo pipefail
cd "$(dirname "$0")/.."

glibc=${GLIBC:-2.17}
packages=${PACKAGES:-subcap-agent}
arches=("$@")
((${#arches[@]})) || arches=(x86_64 aarch64)

if ! cargo zigbuild --help >/dev/null 2>&1; then
    echo "cargo-zigbuild not found: pip install ziglang cargo-zigbuild" >&2
    exit 1
fi
target_dir=${CARGO_TARGET_DIR:-target}
pkg_args=()
bins=()
for p in $packages; do
    pkg_args+=(-p "$p")
done

for arch in "${arches[@]}"; do
    triple="$arch-unknown-linux-gnu"
    if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$triple"; then
        rustup target add "$triple"
    fi
    echo "== cargo zigbuild --release --target $triple.$glibc ${pkg_args[*]}"
    cargo zigbuild --release --locked --target "$triple.$glibc" "${pkg_args[@]}"
    for p in $packages; do
        case $p in
        subcap-agent) bins+=("$target_dir/$triple/release/subcap-agent") ;;
        subcap-aggregator) bins+=("$target_dir/$triple/release/subcap-aggregator" "$target_dir/$triple/release/subcap") ;;
        esac
    done
done
deploy/check-glibc.sh --max "$glibc" "${bins[@]}"
