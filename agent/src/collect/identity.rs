//! Host identity: names, machine and DMI ids, addresses, OS, kernel and architecture.
//!
//! These are the keys the aggregator matches against ILMT's records, so each carries evidence of
//! where it was read. No name service is asked: the FQDN comes from the host's own files.

use subcap_proto::v1 as pb;

use super::{evidence, expect, key_value, probe, Warnings};
use crate::root::Root;

const DMI: &str = "sys/class/dmi/id";

/// Collects the identity of the host under `root`. The BigFix computer id is filled in by the
/// ILMT agent collector, which reads the client's files.
pub fn collect(root: &Root, w: &mut Warnings) -> pb::HostIdentity {
    let mut id = pb::HostIdentity::default();
    let ev = &mut id.evidence;

    let hostname = first_line(root, "proc/sys/kernel/hostname", w)
        .map(|h| ("proc/sys/kernel/hostname", h))
        .or_else(|| first_line(root, "etc/hostname", w).map(|h| ("etc/hostname", h)));
    match hostname {
        Some((src, h)) => {
            evidence(ev, src, h.clone());
            id.hostname = h;
        }
        None => w.warn(
            "proc/sys/kernel/hostname",
            "hostname unknown: neither proc/sys/kernel/hostname nor etc/hostname is readable",
        ),
    }
    if !id.hostname.is_empty() {
        match fqdn(root, &id.hostname, w) {
            Some((src, f)) => {
                evidence(ev, src, f.clone());
                id.fqdn = f;
            }
            None => w.warn(
                "etc/hosts",
                format!(
                    "FQDN unknown: {:?} has no dotted name in etc/hosts and no NIS domain",
                    id.hostname
                ),
            ),
        }
    }

    if let Some(m) = first_line_expected(root, "etc/machine-id", w) {
        evidence(ev, "etc/machine-id", m.clone());
        id.machine_id = m;
    }

    if root.is_dir(DMI) {
        for (field, file) in [
            ("product_uuid", "product_uuid"),
            ("product_serial", "product_serial"),
        ] {
            let path = format!("{DMI}/{file}");
            if let Some(v) = first_line_expected(root, &path, w) {
                evidence(ev, path, v.clone());
                match field {
                    "product_uuid" => id.product_uuid = v.to_ascii_lowercase(),
                    _ => id.product_serial = v,
                }
            }
        }
    } else {
        w.warn(DMI, "no DMI on this host: product UUID and serial unknown");
    }

    id.ip_addresses = addresses(root, w);
    if !id.ip_addresses.is_empty() {
        evidence(ev, "proc/net", id.ip_addresses.join(" "));
    }

    let os = probe(root, "etc/os-release", w)
        .map(|t| ("etc/os-release", t))
        .or_else(|| expect(root, "usr/lib/os-release", w).map(|t| ("usr/lib/os-release", t)));
    if let Some((src, text)) = os {
        id.os_name = key_value(&text, "NAME").unwrap_or_default();
        id.os_version = key_value(&text, "VERSION_ID").unwrap_or_default();
        evidence(
            ev,
            src,
            format!("{} {}", id.os_name, id.os_version)
                .trim()
                .to_string(),
        );
    }

    if let Some(k) = first_line_expected(root, "proc/sys/kernel/osrelease", w) {
        evidence(ev, "proc/sys/kernel/osrelease", k.clone());
        id.kernel = k;
    }

    match architecture(root, w) {
        Some((src, a)) => {
            evidence(ev, src, a.clone());
            id.architecture = a;
        }
        None => w.warn("proc/cpuinfo", "architecture unknown"),
    }
    id
}

fn first_line(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    probe(root, rel, w).and_then(|t| nonempty(t.lines().next().unwrap_or("")))
}

fn first_line_expected(root: &Root, rel: &str, w: &mut Warnings) -> Option<String> {
    expect(root, rel, w).and_then(|t| nonempty(t.lines().next().unwrap_or("")))
}

fn nonempty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The FQDN: the hostname itself when dotted, else the first dotted alias of it in `etc/hosts`,
/// else the hostname with the NIS domain.
fn fqdn(root: &Root, hostname: &str, w: &mut Warnings) -> Option<(&'static str, String)> {
    if hostname.contains('.') {
        return Some(("proc/sys/kernel/hostname", hostname.to_string()));
    }
    if let Some(hosts) = probe(root, "etc/hosts", w) {
        if let Some(f) = fqdn_from_hosts(&hosts, hostname) {
            return Some(("etc/hosts", f));
        }
    }
    let domain = first_line(root, "proc/sys/kernel/domainname", w)?;
    (domain != "(none)").then(|| ("proc/sys/kernel/domainname", format!("{hostname}.{domain}")))
}

fn fqdn_from_hosts(hosts: &str, hostname: &str) -> Option<String> {
    let prefix = format!("{}.", hostname.to_ascii_lowercase());
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let names: Vec<&str> = line.split_whitespace().skip(1).collect();
        let mentions = names.iter().any(|n| {
            let n = n.to_ascii_lowercase();
            n == hostname.to_ascii_lowercase() || n.starts_with(&prefix)
        });
        if !mentions {
            return None;
        }
        names
            .iter()
            .find(|n| n.to_ascii_lowercase().starts_with(&prefix))
            .map(|n| n.to_string())
    })
}

/// Local unicast addresses: IPv4 from `proc/net/fib_trie` (host LOCAL routes), IPv6 from
/// `proc/net/if_inet6`; loopback and link-local left out.
fn addresses(root: &Root, w: &mut Warnings) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(trie) = probe(root, "proc/net/fib_trie", w) {
        for a in ipv4_local(&trie) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    if let Some(text) = probe(root, "proc/net/if_inet6", w) {
        for a in ipv6_global(&text) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

fn ipv4_local(trie: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut last: Option<&str> = None;
    for line in trie.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("|-- ") {
            last = Some(addr.trim());
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last {
                if let Ok(ip) = a.parse::<std::net::Ipv4Addr>() {
                    if !ip.is_loopback() && !ip.is_link_local() && !out.contains(&a.to_string()) {
                        out.push(a.to_string());
                    }
                }
            }
        }
    }
    out
}

fn ipv6_global(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // address, ifindex, prefix length, scope, flags, device
        if f.len() < 6 || f[0].len() != 32 || f[3] != "00" {
            continue;
        }
        let Ok(n) = u128::from_str_radix(f[0], 16) else {
            continue;
        };
        let ip = std::net::Ipv6Addr::from(n);
        if !ip.is_loopback() {
            out.push(ip.to_string());
        }
    }
    out
}

/// The architecture as uname names it: `proc/sys/kernel/arch` where the kernel has it, else
/// inferred from `proc/cpuinfo`, else (live root only) the one this agent was built for.
fn architecture(root: &Root, w: &mut Warnings) -> Option<(&'static str, String)> {
    if let Some(a) = first_line(root, "proc/sys/kernel/arch", w) {
        return Some(("proc/sys/kernel/arch", a));
    }
    if let Some(cpuinfo) = probe(root, "proc/cpuinfo", w) {
        if let Some(a) = arch_from_cpuinfo(&cpuinfo) {
            return Some(("proc/cpuinfo", a.to_string()));
        }
    }
    root.is_live()
        .then(|| ("agent build", std::env::consts::ARCH.to_string()))
}

/// Infers the architecture from the fields only one architecture's `/proc/cpuinfo` has.
pub fn arch_from_cpuinfo(cpuinfo: &str) -> Option<&'static str> {
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim())
        })
    };
    if field("vendor_id").is_some_and(|v| v.contains("S390")) {
        return Some("s390x");
    }
    if let Some(v) = field("vendor_id") {
        if v.starts_with("GenuineIntel") || v.starts_with("AuthenticAMD") || v.starts_with("Hygon")
        {
            return Some("x86_64");
        }
    }
    if field("CPU implementer").is_some() {
        return Some("aarch64");
    }
    if field("cpu").is_some_and(|v| v.contains("POWER"))
        || field("platform").is_some_and(|v| v.starts_with("pSeries") || v.starts_with("PowerNV"))
    {
        return Some("ppc64le");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_from_hosts_finds_the_dotted_alias() {
        let hosts = "127.0.0.1 localhost\n10.1.2.3 db01.bank.example db01 # primary\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "db01").as_deref(),
            Some("db01.bank.example")
        );
        assert_eq!(
            fqdn_from_hosts(hosts, "DB01").as_deref(),
            Some("db01.bank.example")
        );
        assert_eq!(fqdn_from_hosts(hosts, "db02"), None);
        assert_eq!(fqdn_from_hosts("10.0.0.1 web\n", "web"), None);
    }

    #[test]
    fn ipv4_local_skips_loopback_and_broadcast() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 127.0.0.1\n        /32 host LOCAL\n     |-- 10.20.30.40\n        /32 host LOCAL\n     |-- 10.20.30.255\n        /32 link BROADCAST\nLocal:\n     |-- 10.20.30.40\n        /32 host LOCAL\n";
        assert_eq!(ipv4_local(trie), vec!["10.20.30.40"]);
    }

    #[test]
    fn ipv6_keeps_global_scope_only() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    fe800000000000000000000000000001 02 40 20 80     eth0\n\
                    20010db8000000000000000000000010 02 40 00 00     eth0\n";
        assert_eq!(ipv6_global(text), vec!["2001:db8::10"]);
    }

    #[test]
    fn arch_table() {
        let cases = [
            ("vendor_id\t: GenuineIntel\n", Some("x86_64")),
            ("vendor_id\t: AuthenticAMD\n", Some("x86_64")),
            ("vendor_id       : IBM/S390\n", Some("s390x")),
            ("processor\t: 0\nCPU implementer\t: 0x41\n", Some("aarch64")),
            (
                "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\n",
                Some("ppc64le"),
            ),
            ("processor\t: 0\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(arch_from_cpuinfo(text), want, "{text:?}");
        }
    }
}
