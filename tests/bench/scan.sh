#!/usr/bin/env bash
# Benchmark of `subcap-agent scan` beside virt-what and lscpu (Debian's packages), in one run.
#
#   tests/bench/scan.sh            # prints a Markdown report; BENCHMARKS.md quotes it
#
# Needs: hyperfine, virt-what, util-linux (lscpu), GNU time (apt-get install hyperfine virt-what time).
# Measures: wall time of a full scan of this machine and of a fixture tree, peak RSS, stripped
# binary size. Targets (issue 2): scan <= 1/10 of virt-what + lscpu, peak RSS <= 8 MiB, binary <= 10 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in hyperfine virt-what lscpu /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install hyperfine virt-what util-linux time" >&2; exit 2; }
done

cargo build --release -q -p subcap-agent
bin=target/release/subcap-agent
fixture=tests/fixtures/hosts/baremetal-x86-2socket
runs=${RUNS:-200}
out=$(mktemp -d)

echo "## scan benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r), $(systemd-detect-virt --vm 2>/dev/null || echo '?') VM, container $(systemd-detect-virt --container 2>/dev/null || echo none)"
echo "- subcap-agent $($bin --version | awk '{print $2}'), release profile; virt-what $(dpkg-query -W -f='${Version}' virt-what 2>/dev/null); $(lscpu --version)"
echo "- stripped binary: $(stat -c %s "$bin") bytes ($(awk "BEGIN{printf \"%.2f\", $(stat -c %s "$bin")/1048576}") MiB)"
echo

hyperfine --style none --warmup 10 --runs "$runs" --export-markdown "$out/time.md" --export-json "$out/time.json" \
    -n "subcap-agent scan (this host)" "$bin scan --format json >/dev/null" \
    -n "subcap-agent scan (fixture $(basename $fixture))" "$bin scan --root $fixture/root --cpuid-vendor none --format json >/dev/null" \
    -n "virt-what" "virt-what >/dev/null 2>&1" \
    -n "lscpu" "lscpu >/dev/null" \
    -n "virt-what + lscpu" "virt-what >/dev/null 2>&1; lscpu >/dev/null" >/dev/null
cat "$out/time.md"
echo

python3 - "$out/time.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
scan = r["subcap-agent scan (this host)"]["mean"]
both = r["virt-what + lscpu"]["mean"]
print(f"- scan of this host / (virt-what + lscpu): {scan*1000:.2f} ms / {both*1000:.2f} ms = {scan/both:.3f} (target <= 0.100)")
PY

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo "- peak RSS, scan of this host: $(rss $bin scan --format json) KiB (target <= 8192)"
echo "- peak RSS, scan of the fixture: $(rss $bin scan --root $fixture/root --cpuid-vendor none --format json) KiB"
echo "- peak RSS, lscpu: $(rss lscpu) KiB"
rm -rf "$out"
