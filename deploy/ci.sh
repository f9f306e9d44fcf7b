#!/usr/bin/env bash
# CI checks of deploy/ (run by .ci/run; runnable by hand as root on a disposable machine):
#   units     systemd-analyze verify of both units, which must print nothing
#   compat    glibc 2.17 builds (cargo-zigbuild): agent and aggregator for x86_64, the agent for
#             aarch64, and their GLIBC_ symbol versions (deploy/check-glibc.sh); the aarch64
#             agent run under qemu-aarch64 on a fixture host
#   units     (also) the agent's one capability reads a root-only DMI serial, as nobody
#   packages  deb and rpm of both (deploy/package.sh), their contents, metadata and scripts; on
#             CI (or SUBCAP_INSTALL_TEST=1) the agent's deb installed, checked and purged
#   manifests YAML of the DaemonSet and the Ansible files parses; the playbook's syntax
#   ansible    deploy/ansible/test.sh: rollout, idempotence (changed=0), check mode
# Each prints PASS or FAIL lines; the script exits 1 if any check failed. Installs what a bare
# Debian machine lacks (apt-get, pip).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "PASS: $*"; }

# --- tools -----------------------------------------------------------------------------------
apt_updated=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ((!apt_updated)); then
        apt-get update -qq && apt_updated=1
    fi
    apt-get install -y -qq "$@" >/dev/null
}
need=()
command -v ansible-playbook >/dev/null || need+=(ansible-core)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v readelf >/dev/null || need+=(binutils)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v dpkg-deb >/dev/null || need+=(dpkg)
if ((${#need[@]})); then
    echo "== apt-get install ${need[*]}"
    apt_install "${need[@]}" || fail "tools: apt-get install ${need[*]}"
fi
if ! cargo zigbuild --help >/dev/null 2>&1; then
    echo "== pip install ziglang cargo-zigbuild"
    python3 -m pip install -q ziglang cargo-zigbuild || echo "pip install ziglang cargo-zigbuild failed"
    # pip's scripts folder (cargo-zigbuild) may not be on PATH (pyenv shims, --user installs).
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
    export PATH
fi

# --- units -----------------------------------------------------------------------------------
echo "== systemd-analyze verify"
units_root=$(mktemp -d)
mkdir -p "$units_root/usr/bin" "$units_root/etc/systemd/system" "$units_root/usr/lib/systemd"
# verify needs the ExecStart binaries and the targets the units name, inside the root.
cp -a /lib/systemd/system "$units_root/usr/lib/systemd/"
for b in subcap-agent subcap-aggregator; do
    install -m 0755 /bin/true "$units_root/usr/bin/$b"
done
cp deploy/systemd/*.service "$units_root/etc/systemd/system/"
out=$(systemd-analyze verify --man=no --root="$units_root" subcap-agent.service subcap-aggregator.service 2>&1)
rc=$?
if [[ $rc -eq 0 && -z $out ]]; then
    pass "units: systemd-analyze verify subcap-agent.service subcap-aggregator.service: clean"
else
    echo "$out"
    fail "units: systemd-analyze verify (rc=$rc) printed the lines above"
fi
for u in subcap-agent subcap-aggregator; do
    systemd-analyze security --offline=yes --root="$units_root" "$u.service" 2>/dev/null |
        grep -E '^→ Overall exposure level' | sed "s/^/    $u: /"
done
rm -rf "$units_root"

# --- compat ----------------------------------------------------------------------------------
bin_x86="$target/x86_64-unknown-linux-gnu/release"
arches=(x86_64)
if cargo zigbuild --help >/dev/null 2>&1; then
    if PACKAGES="subcap-agent subcap-aggregator" deploy/build-compat.sh x86_64; then
        pass "compat: x86_64 glibc 2.17 build of subcap-agent, subcap-aggregator, subcap"
    else
        fail "compat: x86_64 glibc 2.17 build"
    fi
    if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu ||
        rustup target add aarch64-unknown-linux-gnu; then
        if deploy/build-compat.sh aarch64; then
            pass "compat: aarch64 glibc 2.17 build of subcap-agent"
            arches+=(aarch64)
        else
            fail "compat: aarch64 glibc 2.17 build"
        fi
    else
        # Not this project's failure: the toolchain's server was out of reach.
        echo "SKIP: compat: aarch64: rustup could not install the aarch64-unknown-linux-gnu standard library; x86_64 only"
    fi
else
    fail "compat: cargo-zigbuild is not installable here; packages and the Ansible test use a native build"
    cargo build --release --locked -p subcap-agent -p subcap-aggregator || fail "native release build"
    bin_x86="$target/release"
fi

# The aarch64 agent runs (qemu-user, Debian's aarch64 glibc) and reads an aarch64 fixture host as
# the fixture expects.
if [[ " ${arches[*]} " == *" aarch64 "* ]]; then
    if ! command -v qemu-aarch64 >/dev/null || [[ ! -d /usr/aarch64-linux-gnu/lib ]]; then
        apt_install qemu-user libc6-arm64-cross || echo "apt-get install qemu-user libc6-arm64-cross failed"
    fi
    fixture=tests/fixtures/hosts/aws-graviton-vm
    verdict='import json, sys
r = json.load(open(sys.argv[1]))
v, t = r.get("virtualization", {}), r.get("topology", {})
print(v.get("kind"), v.get("technology"), v.get("cloud"), t.get("onlineCpus"), t.get("sockets"))'
    arm_json=$(mktemp)
    if qemu-aarch64 -L /usr/aarch64-linux-gnu "$target/aarch64-unknown-linux-gnu/release/subcap-agent" \
        scan --root "$fixture/root" --cpuid-vendor none --format json >"$arm_json"; then
        got=$(python3 -c "$verdict" "$arm_json")
        want=$(python3 -c "$verdict" "$fixture/expected.json")
        if [[ $got == "$want" ]]; then
            pass "compat: the aarch64 agent runs (qemu-aarch64) and reads $fixture as expected: $got"
        else
            fail "compat: the aarch64 agent on $fixture: $got (expected $want)"
        fi
    else
        fail "compat: the aarch64 agent did not run under qemu-aarch64"
    fi
    rm -f "$arm_json"
fi

# --- the agent's capability ------------------------------------------------------------------
# The unit gives the agent's user CAP_DAC_READ_SEARCH and nothing else. Same here with setpriv:
# as nobody, a DMI serial readable by root only (0400) must be read with that one capability and
# be missing without it.
serial_of() {
    python3 -c 'import json, sys
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "productSerial":
                return v
            r = find(v)
            if r:
                return r
    if isinstance(o, list):
        for v in o:
            r = find(v)
            if r:
                return r
    return ""
print(find(json.load(sys.stdin)))'
}
fx=$(mktemp -d)
chmod 0755 "$fx"
cp -a tests/fixtures/hosts/vmware-vm/root "$fx/"
chown -R root:root "$fx/root"
chmod 0400 "$fx/root/sys/class/dmi/id/product_serial"
want=$(cat "$fx/root/sys/class/dmi/id/product_serial")
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
with=$("${as_nobody[@]}" --inh-caps=-all,+dac_read_search --ambient-caps=-all,+dac_read_search \
    --bounding-set=-all,+dac_read_search -- "$bin_x86/subcap-agent" scan --root "$fx/root" \
    --cpuid-vendor none --format json | serial_of)
without=$("${as_nobody[@]}" --inh-caps=-all --bounding-set=-all -- "$bin_x86/subcap-agent" scan \
    --root "$fx/root" --cpuid-vendor none --format json | serial_of)
if [[ $with == "$want" && -z $without ]]; then
    pass "units: as an unprivileged user, CAP_DAC_READ_SEARCH alone reads the root-only DMI serial (and nothing without it)"
else
    fail "units: DMI serial with CAP_DAC_READ_SEARCH: '$with' (want '$want'); without: '$without' (want none)"
fi
rm -rf "$fx"

# --- packages --------------------------------------------------------------------------------
dist=$(mktemp -d)
for arch in "${arches[@]}"; do
    bin_dir="$target/$arch-unknown-linux-gnu/release"
    [[ $arch == x86_64 ]] && bin_dir=$bin_x86
    echo "== deploy/package.sh --arch $arch --bin-dir $bin_dir"
    if ! deploy/package.sh --arch "$arch" --bin-dir "$bin_dir" --out "$dist/$arch"; then
        fail "packages: deploy/package.sh --arch $arch"
    fi
done
# check_pkg FILE: the files, metadata and scripts each package must have.
check_pkg() {
    local f=$1 name ok=1 files info
    name=$(basename "$f")
    case $f in
    *.deb)
        files=$(dpkg-deb -c "$f" | awk '{ print $1, $2, $6 }')
        info=$(dpkg-deb -I "$f")
        local pkg
        pkg=$(dpkg-deb -f "$f" Package)
        local config=agent.toml
        [[ $pkg == subcap-aggregator ]] && config=aggregator.toml
        for want in "./usr/bin/$pkg" "./lib/systemd/system/$pkg.service" "./etc/subcap/$config" "./usr/share/doc/$pkg/README.md"; do
            grep -q " $want\$" <<<"$files" || { echo "    $name lacks $want"; ok=0; }
        done
        grep -q "^-rwxr-xr-x root/root ./usr/bin/$pkg\$" <<<"$files" || { echo "    $name: /usr/bin/$pkg is not root-owned 0755"; ok=0; }
        grep -q 'Depends: libc6 (>= 2\.17)' <<<"$info" || { echo "    $name: Depends is not libc6 (>= 2.17): $(dpkg-deb -f "$f" Depends)"; ok=0; }
        dpkg-deb --ctrl-tarfile "$f" | tar -xO ./conffiles | grep -qx "/etc/subcap/$config" || { echo "    $name: $config is not a conffile"; ok=0; }
        dpkg-deb --ctrl-tarfile "$f" | tar -xO ./postinst | grep -q 'useradd -r' || { echo "    $name: postinst creates no user"; ok=0; }
        echo "    $name: $(dpkg-deb -f "$f" Package Version Architecture Depends | tr '\n' ' ')"
        ;;
    *.rpm)
        files=$(rpm -qlp "$f" 2>/dev/null)
        local pkg config=agent.toml
        pkg=$(rpm -qp --qf '%{NAME}' "$f" 2>/dev/null)
        [[ $pkg == subcap-aggregator ]] && config=aggregator.toml
        for want in "/usr/bin/$pkg" "/usr/lib/systemd/system/$pkg.service" "/etc/subcap/$config"; do
            grep -qx "$want" <<<"$files" || { echo "    $name lacks $want"; ok=0; }
        done
        rpm -qp --scripts "$f" 2>/dev/null | grep -q 'useradd -r' || { echo "    $name: no %pre creating the user"; ok=0; }
        rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$f" 2>/dev/null | grep -q "^cn /etc/subcap/$config\$" ||
            { echo "    $name: $config is not %config(noreplace)"; ok=0; }
        local glibc
        glibc=$(rpm -qp --requires "$f" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
        if [[ -n $glibc && $(printf '%s\n2.17\n' "$glibc" | sort -V | tail -n1) != 2.17 ]]; then
            echo "    $name requires GLIBC_$glibc > 2.17"
            ok=0
        fi
        echo "    $name: $(rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}' "$f" 2>/dev/null), requires up to GLIBC_${glibc:-?}"
        ;;
    esac
    ((ok))
}
n=0
for f in "$dist"/*/*.deb "$dist"/*/*.rpm; do
    [[ -f $f ]] || continue
    n=$((n + 1))
    if check_pkg "$f"; then pass "packages: $(basename "$f")"; else fail "packages: $(basename "$f")"; fi
done
((n >= 4)) || fail "packages: only $n packages were built (want deb and rpm of the agent and the aggregator)"

# The agent's deb installed for real: user, permissions, conffile; then purged.
deb=$(ls "$dist"/x86_64/subcap-agent_*_amd64.deb 2>/dev/null | head -n1)
if [[ ${CI:-} == true || ${SUBCAP_INSTALL_TEST:-0} == 1 ]] && [[ $(id -u) -eq 0 && -n $deb ]] &&
    ! dpkg -s subcap-agent >/dev/null 2>&1; then
    had_user=0
    getent passwd subcap-agent >/dev/null && had_user=1
    if dpkg -i "$deb" >/dev/null &&
        getent passwd subcap-agent >/dev/null &&
        [[ $(stat -c '%U:%G %a' /etc/subcap/agent.toml) == "root:subcap-agent 640" ]] &&
        [[ $(stat -c '%U:%G %a' /var/lib/subcap-agent) == "subcap-agent:subcap-agent 750" ]] &&
        /usr/bin/subcap-agent scan --format json >/dev/null &&
        dpkg -P subcap-agent >/dev/null && [[ ! -e /usr/bin/subcap-agent && ! -e /var/lib/subcap-agent ]]; then
        pass "packages: $(basename "$deb") installs (user subcap-agent, config root:subcap-agent 0640, state folder), runs, purges"
    else
        fail "packages: $(basename "$deb") install, run or purge"
        dpkg -P subcap-agent >/dev/null 2>&1
    fi
    if ((!had_user)) && getent passwd subcap-agent >/dev/null; then
        userdel subcap-agent
        getent group subcap-agent >/dev/null && groupdel subcap-agent
    fi
fi
rm -rf "$dist"

# --- manifests -------------------------------------------------------------------------------
# Debian's python3 has PyYAML (python3-yaml comes with ansible-core).
yaml_python=/usr/bin/python3
[[ -x $yaml_python ]] || yaml_python=python3
if "$yaml_python" - <<'EOF'; then
import glob, sys, yaml
files = ["deploy/kubernetes/agent-daemonset.yaml"] + sorted(glob.glob("deploy/ansible/**/*.yml", recursive=True))
kinds = []
for f in files:
    with open(f) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d is not None]
    if f.endswith("agent-daemonset.yaml"):
        kinds = [d["kind"] for d in docs]
        ds = next(d for d in docs if d["kind"] == "DaemonSet")
        spec = ds["spec"]["template"]["spec"]
        sc = spec["containers"][0]["securityContext"]
        assert spec["hostNetwork"] is True and spec["hostPID"] is False, "hostNetwork/hostPID"
        assert sc["readOnlyRootFilesystem"] is True, "readOnlyRootFilesystem"
        assert sc["capabilities"] == {"drop": ["ALL"], "add": ["DAC_READ_SEARCH"]}, "capabilities"
        assert spec["containers"][0]["resources"]["limits"], "limits"
        mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
        assert mounts["/host"]["readOnly"] is True, "/host read-only"
        cm = next(d for d in docs if d["kind"] == "ConfigMap")
        assert 'root = "/host"' in cm["data"]["agent.toml"], "scan root /host"
print(f"    {len(files)} YAML files parse; the DaemonSet file holds {', '.join(kinds)}")
EOF
    pass "manifests: YAML parses; DaemonSet: host / read-only at /host, hostNetwork, caps ALL-DAC_READ_SEARCH, read-only root, limits"
else
    fail "manifests: YAML"
fi
if (cd deploy/ansible && ANSIBLE_CONFIG=ansible.cfg ansible-playbook -i inventory/local.yml site.yml --syntax-check >/dev/null); then
    pass "manifests: ansible-playbook --syntax-check site.yml"
else
    fail "manifests: ansible-playbook --syntax-check site.yml"
fi

# --- ansible ---------------------------------------------------------------------------------
if SUBCAP_BIN_DIR=$bin_x86 deploy/ansible/test.sh; then
    pass "ansible: roles tested (deploy/ansible/test.sh)"
else
    fail "ansible: deploy/ansible/test.sh"
fi

echo "deploy checks: $failed failed"
((failed == 0))
