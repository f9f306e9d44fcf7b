#!/usr/bin/env bash
# Tests the Ansible roles on this machine (local connection, as root), end to end:
#   (a) release binaries (built here, or taken from SUBCAP_BIN_DIR),
#   (b) a development PKI made with `subcap-aggregator certs`,
#   (c) check mode on a clean machine changes nothing; the aggregator role, then the whole
#       playbook, whose agent role verifies the rollout with `subcap-agent push --once`,
#   (d) a second run of the playbook must report changed=0,
#   (e) check mode: unchanged settings report changed=0; a changed setting is reported and not
#       applied.
# Everything is installed under a temporary prefix (paths are role variables); the users subcap
# and subcap-agent are created for real, and removed at the end if this script created them.
#
# The units are installed under the prefix too, where systemd would not see them, so the roles
# run with subcap_manage_service: false (as they do by themselves where systemd is not the running
# service manager, e.g. in a container) and this script starts the aggregator itself, as the user
# subcap, with the configuration the role wrote.
#
# Usage: deploy/ansible/test.sh        (needs root, ansible-playbook, a Rust toolchain)
#   SUBCAP_BIN_DIR=DIR   take subcap-agent, subcap-aggregator and subcap from DIR, do not build
#   KEEP=1               keep the temporary folder (its path is printed)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export ANSIBLE_CONFIG="$here/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

fail() { echo "FAIL: ansible: $*"; exit 1; }
pass() { echo "PASS: ansible: $*"; }

[[ $(id -u) -eq 0 ]] || fail "must run as root (it creates system users and runs the roles as root)"
command -v ansible-playbook >/dev/null || fail "ansible-playbook not found (apt-get install ansible-core)"

work=$(mktemp -d /tmp/subcap-ansible.XXXXXX)
chmod 0755 "$work" # the service users must reach the prefix below it
prefix="$work/root"
mkdir -p "$prefix"
agg_pid=""
created_users=()
for u in subcap subcap-agent; do
    getent passwd "$u" >/dev/null || created_users+=("$u")
done
cleanup() {
    local rc=$?
    if [[ -n $agg_pid ]] && kill -0 "$agg_pid" 2>/dev/null; then
        kill -TERM "$agg_pid"
        wait "$agg_pid" 2>/dev/null || true
    fi
    for u in "${created_users[@]}"; do
        getent passwd "$u" >/dev/null && userdel "$u"
        getent group "$u" >/dev/null && groupdel "$u"
    done
    if [[ ${KEEP:-0} == 1 || $rc -ne 0 ]]; then
        echo "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# --- (a) binaries ------------------------------------------------------------------------------
if [[ -n ${SUBCAP_BIN_DIR:-} ]]; then
    bin=$SUBCAP_BIN_DIR
else
    echo "== building release binaries"
    (cd "$repo" && cargo build --release --locked -p subcap-agent -p subcap-aggregator)
    bin=${CARGO_TARGET_DIR:-$repo/target}/release
fi
for b in subcap-agent subcap-aggregator subcap; do
    [[ -x $bin/$b ]] || fail "$bin/$b is missing"
done

# --- (b) a development PKI -----------------------------------------------------------------------
pki="$work/pki"
host=$(cat /proc/sys/kernel/hostname) # the name the agent reports (strict identity binding)
"$bin/subcap-aggregator" certs init --dir "$pki" >/dev/null
"$bin/subcap-aggregator" certs server --dir "$pki" localhost 127.0.0.1 >/dev/null
"$bin/subcap-aggregator" certs agent --dir "$pki" "$host" >/dev/null
"$bin/subcap-aggregator" certs operator --dir "$pki" ci >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
metrics=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
vars="$work/vars.yml"
cat >"$vars" <<EOF
subcap_install_method: binary
# The units go to a folder of the prefix, where systemd would not see them: never start them.
subcap_manage_service: false
subcap_bin_dir: $prefix/usr/local/bin
subcap_config_dir: $prefix/etc/subcap
subcap_unit_dir: $prefix/etc/systemd/system
subcap_aggregator_binary_src: $bin/subcap-aggregator
subcap_aggregator_cli_src: $bin/subcap
subcap_aggregator_state_dir: $prefix/var/lib/subcap
subcap_aggregator_listen: "127.0.0.1:$port"
subcap_aggregator_metrics_listen: "127.0.0.1:$metrics"
subcap_aggregator_server_cert_src: $pki/server.pem
subcap_aggregator_server_key_src: $pki/server.key
subcap_aggregator_agent_ca_src: $pki/agents-ca.pem
subcap_aggregator_operator_ca_src: $pki/operators-ca.pem
subcap_agent_binary_src: $bin/subcap-agent
subcap_agent_state_dir: $prefix/var/lib/subcap-agent
subcap_agent_aggregator_url: "https://localhost:$port"
subcap_agent_ca_src: $pki/server-ca.pem
subcap_agent_cert_src: $pki/agent-$host.pem
subcap_agent_key_src: $pki/agent-$host.key
EOF

# Runs the playbook, keeps its output in $work/<name>.log, and prints its recap.
play() {
    local name=$1
    shift
    echo "== ansible-playbook $*"
    if ! ansible-playbook -i "$here/inventory/local.yml" "$here/site.yml" -e "@$vars" "$@" \
        >"$work/$name.log" 2>&1; then
        cat "$work/$name.log"
        fail "$name: ansible-playbook failed"
    fi
    sed -n '/^PLAY RECAP/,$p' "$work/$name.log"
}
# The sum of one recap counter (changed, failed, ...) over every host of a run.
recap() { awk -v k="$2" '/^PLAY RECAP/ { r = 1 } r { for (i = 1; i <= NF; i++) if (split($i, a, "=") == 2 && a[1] == k) s += a[2] } END { print s + 0 }' "$work/$1.log"; }

# --- (c) check mode on a clean machine, then the rollout ------------------------------------------
play check-fresh --check
[[ $(find "$prefix" -mindepth 1 | wc -l) -eq 0 ]] || fail "check mode created files: $(find "$prefix" -mindepth 1 | head -3)"
for u in "${created_users[@]}"; do
    getent passwd "$u" >/dev/null && fail "check mode created the user $u"
done
[[ $(recap check-fresh changed) -gt 0 ]] || fail "check mode on a clean machine reported nothing to change"
pass "check mode on a clean machine: $(recap check-fresh changed) changes reported, none made"

play aggregator --limit subcap_aggregators
grep -q 'is the service manager here, not systemd' "$work/aggregator.log" ||
    fail "the aggregator role did not say that it leaves the service alone"
# Start the aggregator as its unit would (same user, same config the role wrote).
setpriv --reuid=subcap --regid=subcap --init-groups -- \
    "$prefix/usr/local/bin/subcap-aggregator" serve --config "$prefix/etc/subcap/aggregator.toml" \
    >"$work/aggregator-serve.log" 2>&1 &
agg_pid=$!
verify=(-e subcap_aggregator_verify=true)

play first "${verify[@]}"
grep -A2 'TASK \[subcap_agent : Verify the rollout' "$work/first.log" | grep -q '^ok: \[agent-local\]' ||
    fail "the agent role's verification did not run"
[[ -n $(find "$prefix/var/lib/subcap/store" -mindepth 1 -print -quit) ]] || fail "the aggregator's store is empty"
cat >"$work/operator.toml" <<EOF
aggregator = "https://localhost:$port"
ca = "$pki/server-ca.pem"
cert = "$pki/operator-ci.pem"
key = "$pki/operator-ci.key"
EOF
"$bin/subcap" --config "$work/operator.toml" hosts --format csv >"$work/hosts.csv" ||
    fail "subcap hosts failed"
grep -q "$host" "$work/hosts.csv" || fail "the aggregator has no report of $host: $(cat "$work/hosts.csv")"
pass "rollout: the agent role's push --once was acknowledged; the aggregator lists $host"
# The container image's health check, against this real aggregator's metrics endpoint.
"$repo/deploy/container/healthcheck.sh" 127.0.0.1 "$metrics" || fail "container/healthcheck.sh against a running aggregator"
if "$repo/deploy/container/healthcheck.sh" 127.0.0.1 "$port" 2>/dev/null; then
    fail "container/healthcheck.sh called the TLS port healthy"
fi
pass "container/healthcheck.sh: healthy on the metrics endpoint, unhealthy elsewhere"

# --- (d) idempotence ---------------------------------------------------------------------------
play second "${verify[@]}"
changed=$(recap second changed)
[[ $changed -eq 0 ]] || fail "second run: changed=$changed (must be 0): $(grep -E '^changed:' "$work/second.log" | head -5)"
pass "idempotence: second run changed=0"

# --- (e) check mode on the installed machine -------------------------------------------------------
play check-same --check "${verify[@]}"
[[ $(recap check-same changed) -eq 0 ]] || fail "check mode with the same settings reported changes"
before=$(sha256sum "$prefix/etc/subcap/agent.toml")
play check-other --check --diff -e subcap_agent_interval_secs=3600
[[ $(recap check-other changed) -gt 0 ]] || fail "check mode did not report the changed interval"
grep -q '+interval_secs = 3600' "$work/check-other.log" || fail "check mode's diff lacks the new interval"
[[ $(sha256sum "$prefix/etc/subcap/agent.toml") == "$before" ]] || fail "check mode changed agent.toml"
pass "check mode: same settings changed=0; a new interval is reported ($(recap check-other changed) change(s)) and not applied"
