#!/usr/bin/env bash
# Builds deb and rpm packages of subcap-agent and subcap-aggregator from binaries built before,
# with dpkg-deb and rpmbuild only (Debian: apt-get install dpkg-dev rpm; RHEL: rpm-build).
#
#   deploy/package.sh [--arch x86_64|aarch64] [--bin-dir DIR] [--out DIR]
#
#   --arch     the binaries' architecture (default: this machine's)
#   --bin-dir  where subcap-agent (and, for the aggregator's packages, subcap-aggregator and
#              subcap) are; default: target/<arch>-unknown-linux-gnu/release (the glibc 2.17
#              build of deploy/build-compat.sh) when it has subcap-agent, else target/release
#   --out      where the packages go (default: dist/)
#
# Each package holds its binaries, its systemd unit (deploy/systemd), its default config
# (deploy/agent.toml, deploy/aggregator.toml: a conffile / %config(noreplace)) and
# deploy/README.md; installing creates the system user (subcap-agent, subcap). The deb's libc6
# dependency is the highest GLIBC_ symbol version the binary needs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
deploy="$repo/deploy"

arch=$(uname -m)
bin_dir=""
out="$repo/dist"
while (($#)); do
    case $1 in
    --arch) arch=${2:?}; shift 2 ;;
    --bin-dir) bin_dir=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    *) echo "usage: $0 [--arch x86_64|aarch64] [--bin-dir DIR] [--out DIR]" >&2; exit 2 ;;
    esac
done
case $arch in
x86_64) deb_arch=amd64 ;;
aarch64) deb_arch=arm64 ;;
*) echo "package.sh: unsupported architecture $arch (x86_64 or aarch64)" >&2; exit 2 ;;
esac
target_dir=${CARGO_TARGET_DIR:-$repo/target}
if [[ -z $bin_dir ]]; then
    bin_dir="$target_dir/$arch-unknown-linux-gnu/release"
    [[ -x $bin_dir/subcap-agent ]] || bin_dir="$target_dir/release"
fi
[[ -x $bin_dir/subcap-agent ]] || { echo "package.sh: no subcap-agent in $bin_dir (build it first)" >&2; exit 1; }
for tool in dpkg-deb rpmbuild readelf; do
    command -v "$tool" >/dev/null || { echo "package.sh: $tool not found (apt-get install dpkg-dev rpm binutils)" >&2; exit 1; }
done
machine=$(readelf -h "$bin_dir/subcap-agent" | sed -n 's/^ *Machine: *//p')
case $arch/$machine in
x86_64/*X86-64* | aarch64/AArch64) ;;
*) echo "package.sh: $bin_dir/subcap-agent is for $machine, not $arch" >&2; exit 1 ;;
esac
with_aggregator=0
[[ -x $bin_dir/subcap-aggregator && -x $bin_dir/subcap ]] && with_aggregator=1

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The highest GLIBC_x.y a binary needs: the deb's libc6 (>= x.y).
glibc_needed() {
    readelf --version-info -W "$1" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/Name: GLIBC_//' | sort -uV | tail -n1
}

# deb PACKAGE USER STATE_DIR CONFIG DESCRIPTION PURGE BINARY...
deb() {
    local pkg=$1 user=$2 state=$3 config=$4 description=$5 purge=$6
    shift 6
    local root="$work/deb-$pkg" b glibc=0
    install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/subcap" \
        "$root/usr/share/doc/$pkg"
    for b in "$@"; do
        install -m 0755 "$bin_dir/$b" "$root/usr/bin/$b"
        local g
        g=$(glibc_needed "$bin_dir/$b")
        [[ $(printf '%s\n%s\n' "$g" "$glibc" | sort -V | tail -n1) == "$g" ]] && glibc=$g
    done
    install -m 0644 "$deploy/systemd/$pkg.service" "$root/lib/systemd/system/$pkg.service"
    install -m 0640 "$deploy/$config" "$root/etc/subcap/$config"
    install -m 0644 "$deploy/README.md" "$root/usr/share/doc/$pkg/README.md"
    if [[ $pkg == subcap-aggregator ]]; then
        install -m 0644 "$deploy/operator.toml" "$root/usr/share/doc/$pkg/operator.toml"
    fi
    printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: subcap\nFiles: *\nLicense: Apache-2.0\n' \
        >"$root/usr/share/doc/$pkg/copyright"
    echo "/etc/subcap/$config" >"$root/DEBIAN/conffiles"
    local size
    size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $version-1
Architecture: $deb_arch
Maintainer: subcap maintainers <subcap@example.invalid>
Installed-Size: $size
Depends: libc6 (>= $glibc), passwd
Section: admin
Priority: optional
Homepage: https://example.invalid/subcap
Description: $description
 subcap keeps an IBM sub-capacity licensing position provable: an agent on
 every host reports core topology, virtualization, IBM installs and ILMT agent
 health to an aggregator over mutual TLS. The service is installed but not
 enabled: put the certificates in /etc/subcap, check /etc/subcap/$config,
 then run systemctl enable --now $pkg.
EOF
    local s
    for s in postinst prerm postrm; do
        sed -e "s|@PACKAGE@|$pkg|g; s|@USER@|$user|g; s|@STATE@|$state|g" \
            -e "s|@CONFIG@|/etc/subcap/$config|g; s|@UNIT@|$pkg.service|g" \
            -e "s|@COMMENT@|${description%%:*}|g; s|@PURGE@|$purge|g" \
            "$deploy/packaging/deb/$s.in" >"$root/DEBIAN/$s"
        chmod 0755 "$root/DEBIAN/$s"
    done
    dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${pkg}_${version}-1_${deb_arch}.deb" >/dev/null
    echo "$out/${pkg}_${version}-1_${deb_arch}.deb"
}

deb subcap-agent subcap-agent /var/lib/subcap-agent agent.toml \
    "subcap host agent: reports this host's IBM sub-capacity facts" \
    "rm -rf /var/lib/subcap-agent  # the spool: reports not yet delivered are lost" \
    subcap-agent
if ((with_aggregator)); then
    deb subcap-aggregator subcap /var/lib/subcap aggregator.toml \
        "subcap aggregator: stores host reports, reconciles them with ILMT" \
        "echo 'subcap-aggregator: the store /var/lib/subcap is kept (the coverage record); remove it yourself'" \
        subcap-aggregator subcap
fi

# rpm: one spec, the binaries and files as its sources.
top="$work/rpm"
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS,BUILDROOT}
cp "$bin_dir/subcap-agent" "$deploy/systemd/subcap-agent.service" "$deploy/agent.toml" \
    "$deploy/README.md" "$top/SOURCES/"
if ((with_aggregator)); then
    cp "$bin_dir/subcap-aggregator" "$bin_dir/subcap" "$deploy/systemd/subcap-aggregator.service" \
        "$deploy/aggregator.toml" "$deploy/operator.toml" "$top/SOURCES/"
fi
sed "s/@VERSION@/$version/" "$deploy/packaging/subcap.spec.in" >"$top/SPECS/subcap.spec"
rpmbuild --quiet -bb --target "$arch-linux" \
    --define "_topdir $top" --define "with_aggregator $with_aggregator" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    "$top/SPECS/subcap.spec" >"$work/rpmbuild.log" 2>&1 || { cat "$work/rpmbuild.log" >&2; exit 1; }
for f in "$top"/RPMS/*.rpm; do
    cp "$f" "$out/"
    echo "$out/$(basename "$f")"
done
