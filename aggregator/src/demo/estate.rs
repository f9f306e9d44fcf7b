//! The demo estate (`aggregator/demo/estate.toml`): which hosts the demo composes from which
//! fixtures, what ILMT knows of each, and what reconciliation should say. Parsing and checking
//! only (pure); the file's own comments document every key.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{Code, Coverage, DataError};
use crate::ilmt::ComputerType;

/// The estate compiled into the binary.
pub const BUILTIN_TOML: &str = include_str!("../../demo/estate.toml");
/// How the compiled-in estate is named in errors.
pub const BUILTIN_FILE: &str = "aggregator/demo/estate.toml";

/// Longest `*_days_ago` accepted: ten years.
const MAX_DAYS: u32 = 3650;

/// The whole estate.
#[derive(Debug, Clone, PartialEq)]
pub struct Estate {
    pub hosts: Vec<HostSpec>,
    pub ilmt_only: Vec<IlmtOnly>,
}

/// One machine an agent reports.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec {
    /// FQDN, lower-case.
    pub name: String,
    /// The first label of `name`.
    pub short: String,
    /// `tests/fixtures/hosts/<platform>`.
    pub platform: String,
    /// `tests/fixtures/ibm-hosts/<overlay>`, applied in order.
    pub ibm: Vec<String>,
    pub ip: Ipv4Addr,
    pub bigfix_id: Option<u64>,
    pub scans_days_ago: Option<u32>,
    pub ibm_first_seen_days_ago: Option<u32>,
    pub story: String,
    pub expect: Expect,
    /// ILMT's record; `None`: ILMT does not know the host.
    pub ilmt: Option<IlmtSpec>,
}

/// What reconciliation should say about a host.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub coverage: Coverage,
    pub codes: Vec<Code>,
}

/// Which keys ILMT's record carries to be matched by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Name, DNS name, address, BigFix id, and a physical machine's serial.
    All,
    /// The short name only.
    Hostname,
}

/// ILMT's record of an agent's host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IlmtSpec {
    pub last_seen_days_ago: u32,
    pub first_seen_days_ago: u32,
    pub keys: Option<Keys>,
    pub name: Option<String>,
    pub vm_manager: bool,
    pub server: Option<String>,
    pub server_vendor: Option<String>,
    pub server_model: Option<String>,
    pub server_cores: Option<f64>,
    pub sockets: Option<f64>,
    pub cluster: Option<String>,
    pub cluster_cores: Option<f64>,
    pub partition_cores: Option<f64>,
    pub entitlement: Option<f64>,
    pub online_vp_count: Option<f64>,
    pub default_pvu: bool,
    pub duplicate: Option<Duplicate>,
}

impl IlmtSpec {
    pub fn keys(&self) -> Keys {
        self.keys.unwrap_or(Keys::All)
    }
}

/// A second, older ILMT computer for the same machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    pub bigfix_id: u64,
    pub last_seen_days_ago: u32,
    pub first_seen_days_ago: u32,
}

/// An ILMT computer no agent reports.
#[derive(Debug, Clone, PartialEq)]
pub struct IlmtOnly {
    pub name: String,
    pub dns_name: Option<String>,
    pub ip: Option<Ipv4Addr>,
    pub os: Option<String>,
    pub bigfix_id: Option<u64>,
    pub first_seen_days_ago: u32,
    pub last_seen_days_ago: u32,
    pub deleted_days_ago: Option<u32>,
    pub computer_type: ComputerType,
    pub partition_cores: Option<f64>,
    pub server: Option<String>,
    pub server_cores: Option<f64>,
    pub cluster: Option<String>,
    pub cluster_cores: Option<f64>,
    pub processor: Option<String>,
    pub story: String,
}

// ---- The file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EstateFile {
    #[serde(default)]
    host: Vec<HostFile>,
    #[serde(default)]
    ilmt_only: Vec<IlmtOnlyFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostFile {
    name: Spanned<String>,
    platform: Spanned<String>,
    #[serde(default)]
    ibm: Vec<Spanned<String>>,
    ip: Spanned<String>,
    bigfix_id: Option<u64>,
    scans_days_ago: Option<Spanned<u32>>,
    ibm_first_seen_days_ago: Option<Spanned<u32>>,
    #[serde(default)]
    story: String,
    expect: ExpectFile,
    ilmt: Option<IlmtFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFile {
    coverage: Spanned<String>,
    codes: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IlmtFile {
    #[serde(default)]
    last_seen_days_ago: Option<Spanned<u32>>,
    #[serde(default)]
    first_seen_days_ago: Option<Spanned<u32>>,
    keys: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    #[serde(default = "yes")]
    vm_manager: bool,
    server: Option<String>,
    server_vendor: Option<String>,
    server_model: Option<String>,
    server_cores: Option<Spanned<f64>>,
    sockets: Option<Spanned<f64>>,
    cluster: Option<String>,
    cluster_cores: Option<Spanned<f64>>,
    partition_cores: Option<Spanned<f64>>,
    entitlement: Option<Spanned<f64>>,
    online_vp_count: Option<Spanned<f64>>,
    #[serde(default)]
    default_pvu: bool,
    duplicate: Option<DuplicateFile>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateFile {
    bigfix_id: u64,
    last_seen_days_ago: Spanned<u32>,
    first_seen_days_ago: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IlmtOnlyFile {
    name: Spanned<String>,
    dns_name: Option<Spanned<String>>,
    ip: Option<Spanned<String>>,
    os: Option<String>,
    bigfix_id: Option<u64>,
    first_seen_days_ago: Option<Spanned<u32>>,
    last_seen_days_ago: Spanned<u32>,
    deleted_days_ago: Option<Spanned<u32>>,
    computer_type: Spanned<String>,
    partition_cores: Option<Spanned<f64>>,
    server: Option<String>,
    server_cores: Option<Spanned<f64>>,
    cluster: Option<String>,
    cluster_cores: Option<Spanned<f64>>,
    processor: Option<String>,
    #[serde(default)]
    story: String,
}

/// Reports problems at a place in one file.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn err(&self, span: Range<usize>, field: String, problem: impl Into<String>) -> DataError {
        DataError::new(self.file, self.text, Some(span), Some(field), problem)
    }

    fn days(&self, v: &Option<Spanned<u32>>, field: String) -> Result<Option<u32>, DataError> {
        match v {
            Some(d) if *d.get_ref() > MAX_DAYS => Err(self.err(
                d.span(),
                field,
                format!("{} is more than {MAX_DAYS} days", d.get_ref()),
            )),
            Some(d) => Ok(Some(*d.get_ref())),
            None => Ok(None),
        }
    }

    fn cores(&self, v: &Option<Spanned<f64>>, field: String) -> Result<Option<f64>, DataError> {
        match v {
            Some(c)
                if !(c.get_ref().is_finite() && *c.get_ref() > 0.0 && *c.get_ref() <= 65_536.0) =>
            {
                Err(self.err(
                    c.span(),
                    field,
                    format!(
                        "{} is not a core count (more than 0, at most 65536)",
                        c.get_ref()
                    ),
                ))
            }
            Some(c) => Ok(Some(*c.get_ref())),
            None => Ok(None),
        }
    }

    fn ip(&self, v: &Spanned<String>, field: String) -> Result<Ipv4Addr, DataError> {
        v.get_ref().parse::<Ipv4Addr>().map_err(|_| {
            self.err(
                v.span(),
                field,
                format!("{:?} is not an IPv4 address", v.get_ref()),
            )
        })
    }

    /// A fixture folder name: letters, digits and `-` (no path).
    fn fixture(&self, v: &Spanned<String>, field: String) -> Result<String, DataError> {
        let s = v.get_ref();
        let ok = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(s.clone())
        } else {
            Err(self.err(
                v.span(),
                field,
                format!("{s:?} is not a fixture folder name (a-z, 0-9 and -)"),
            ))
        }
    }
}

/// A DNS name of lower-case letters, digits and `-` in dot-separated labels.
fn is_dns_name(s: &str, dotted: bool) -> bool {
    s.len() <= 253
        && (!dotted || s.contains('.'))
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

impl Estate {
    /// The estate compiled into the binary.
    pub fn builtin() -> Result<Estate, DataError> {
        Estate::parse(BUILTIN_FILE, BUILTIN_TOML)
    }

    /// Parses and checks an estate file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Estate, DataError> {
        let raw: EstateFile = toml::from_str(text).map_err(|e| DataError::toml(file, text, &e))?;
        let c = Checker { file, text };
        let mut names: HashSet<String> = HashSet::new();
        let mut hosts = Vec::with_capacity(raw.host.len());
        for (i, h) in raw.host.iter().enumerate() {
            let at = |key: &str| format!("host[{i}].{key}");
            let name = h.name.get_ref().clone();
            if !is_dns_name(&name, true) {
                return Err(c.err(
                    h.name.span(),
                    at("name"),
                    format!("{name:?} is not a lower-case FQDN (a dotted DNS name)"),
                ));
            }
            let short = name.split('.').next().unwrap_or_default().to_string();
            if !names.insert(short.clone()) {
                return Err(c.err(
                    h.name.span(),
                    at("name"),
                    format!("a host named {short:?} is already listed"),
                ));
            }
            let ibm = h
                .ibm
                .iter()
                .enumerate()
                .map(|(j, o)| c.fixture(o, format!("host[{i}].ibm[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let expect = Expect {
                coverage: h.expect.coverage.get_ref().parse().map_err(|e: String| {
                    c.err(h.expect.coverage.span(), at("expect.coverage"), e)
                })?,
                codes: h
                    .expect
                    .codes
                    .iter()
                    .map(|code| {
                        code.get_ref()
                            .parse::<Code>()
                            .map_err(|e| c.err(code.span(), at("expect.codes"), e))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let ilmt = match &h.ilmt {
                None => None,
                Some(r) => Some(ilmt_spec(&c, r, i)?),
            };
            // The expectation must fit the data given: catches an estate edited half-way.
            let known = ilmt.is_some();
            let fits = match expect.coverage {
                Coverage::Uncovered | Coverage::NotRequired => !known,
                Coverage::Covered | Coverage::Stale => known,
                Coverage::Superseded => true,
            };
            if !fits {
                return Err(c.err(
                    h.expect.coverage.span(),
                    at("expect.coverage"),
                    format!(
                        "{} does not fit a host {} [host.ilmt] record",
                        expect.coverage.as_str(),
                        if known { "with a" } else { "without a" }
                    ),
                ));
            }
            hosts.push(HostSpec {
                short,
                name,
                platform: c.fixture(&h.platform, at("platform"))?,
                ibm,
                ip: c.ip(&h.ip, at("ip"))?,
                bigfix_id: h.bigfix_id,
                scans_days_ago: c.days(&h.scans_days_ago, at("scans_days_ago"))?,
                ibm_first_seen_days_ago: c
                    .days(&h.ibm_first_seen_days_ago, at("ibm_first_seen_days_ago"))?,
                story: h.story.clone(),
                expect,
                ilmt,
            });
        }
        let mut ilmt_only = Vec::with_capacity(raw.ilmt_only.len());
        for (i, r) in raw.ilmt_only.iter().enumerate() {
            let at = |key: &str| format!("ilmt_only[{i}].{key}");
            let name = r.name.get_ref().clone();
            if !is_dns_name(&name.to_ascii_lowercase(), false) {
                return Err(c.err(
                    r.name.span(),
                    at("name"),
                    format!("{name:?} is not a host name"),
                ));
            }
            if !names.insert(name.to_ascii_lowercase()) {
                return Err(c.err(
                    r.name.span(),
                    at("name"),
                    format!("a host named {name:?} is already listed"),
                ));
            }
            let dns_name = match &r.dns_name {
                Some(d) if !is_dns_name(d.get_ref(), true) => {
                    return Err(c.err(
                        d.span(),
                        at("dns_name"),
                        format!("{:?} is not a lower-case FQDN", d.get_ref()),
                    ))
                }
                Some(d) => Some(d.get_ref().clone()),
                None => None,
            };
            let computer_type = match r.computer_type.get_ref().as_str() {
                "physical" => ComputerType::Physical,
                "virtual" => ComputerType::Virtual,
                "public_cloud" => ComputerType::PublicCloud,
                other => {
                    return Err(c.err(
                        r.computer_type.span(),
                        at("computer_type"),
                        format!("{other:?} is not one of: physical, virtual, public_cloud"),
                    ))
                }
            };
            let last_seen = c
                .days(
                    &Some(r.last_seen_days_ago.clone()),
                    at("last_seen_days_ago"),
                )?
                .unwrap_or(0);
            let first_seen = c
                .days(&r.first_seen_days_ago, at("first_seen_days_ago"))?
                .unwrap_or(DEFAULT_FIRST_SEEN.max(last_seen));
            if first_seen < last_seen {
                return Err(c.err(
                    r.last_seen_days_ago.span(),
                    at("last_seen_days_ago"),
                    "last seen before it was first seen",
                ));
            }
            ilmt_only.push(IlmtOnly {
                name,
                dns_name,
                ip: r.ip.as_ref().map(|ip| c.ip(ip, at("ip"))).transpose()?,
                os: r.os.clone(),
                bigfix_id: r.bigfix_id,
                first_seen_days_ago: first_seen,
                last_seen_days_ago: last_seen,
                deleted_days_ago: c.days(&r.deleted_days_ago, at("deleted_days_ago"))?,
                computer_type,
                partition_cores: c.cores(&r.partition_cores, at("partition_cores"))?,
                server: r.server.clone(),
                server_cores: c.cores(&r.server_cores, at("server_cores"))?,
                cluster: r.cluster.clone(),
                cluster_cores: c.cores(&r.cluster_cores, at("cluster_cores"))?,
                processor: r.processor.clone(),
                story: r.story.clone(),
            });
        }
        Ok(Estate { hosts, ilmt_only })
    }
}

/// `first_seen_days_ago` of an ILMT record that does not say.
const DEFAULT_FIRST_SEEN: u32 = 400;

fn ilmt_spec(c: &Checker<'_>, r: &IlmtFile, i: usize) -> Result<IlmtSpec, DataError> {
    let at = |key: &str| format!("host[{i}].ilmt.{key}");
    let last_seen = c
        .days(&r.last_seen_days_ago, at("last_seen_days_ago"))?
        .unwrap_or(0);
    let first_seen = c
        .days(&r.first_seen_days_ago, at("first_seen_days_ago"))?
        .unwrap_or(DEFAULT_FIRST_SEEN.max(last_seen));
    if first_seen < last_seen {
        let span = r
            .first_seen_days_ago
            .as_ref()
            .or(r.last_seen_days_ago.as_ref())
            .map(Spanned::span)
            .unwrap_or_default();
        return Err(c.err(
            span,
            at("first_seen_days_ago"),
            "last seen before it was first seen",
        ));
    }
    let keys = match &r.keys {
        None => None,
        Some(k) => Some(match k.get_ref().as_str() {
            "all" => Keys::All,
            "hostname" => Keys::Hostname,
            other => {
                return Err(c.err(
                    k.span(),
                    at("keys"),
                    format!("{other:?} is not one of: all, hostname"),
                ))
            }
        }),
    };
    let name = match &r.name {
        Some(n) if !is_dns_name(&n.get_ref().to_ascii_lowercase(), false) => {
            return Err(c.err(
                n.span(),
                at("name"),
                format!("{:?} is not a host name", n.get_ref()),
            ))
        }
        Some(n) => Some(n.get_ref().clone()),
        None => None,
    };
    let duplicate = match &r.duplicate {
        None => None,
        Some(d) => {
            let last = c
                .days(
                    &Some(d.last_seen_days_ago.clone()),
                    at("duplicate.last_seen_days_ago"),
                )?
                .unwrap_or(0);
            let first = c
                .days(
                    &Some(d.first_seen_days_ago.clone()),
                    at("duplicate.first_seen_days_ago"),
                )?
                .unwrap_or(0);
            if first < last {
                return Err(c.err(
                    d.first_seen_days_ago.span(),
                    at("duplicate.first_seen_days_ago"),
                    "last seen before it was first seen",
                ));
            }
            Some(Duplicate {
                bigfix_id: d.bigfix_id,
                last_seen_days_ago: last,
                first_seen_days_ago: first,
            })
        }
    };
    Ok(IlmtSpec {
        last_seen_days_ago: last_seen,
        first_seen_days_ago: first_seen,
        keys,
        name,
        vm_manager: r.vm_manager,
        server: r.server.clone(),
        server_vendor: r.server_vendor.clone(),
        server_model: r.server_model.clone(),
        server_cores: c.cores(&r.server_cores, at("server_cores"))?,
        sockets: c.cores(&r.sockets, at("sockets"))?,
        cluster: r.cluster.clone(),
        cluster_cores: c.cores(&r.cluster_cores, at("cluster_cores"))?,
        partition_cores: c.cores(&r.partition_cores, at("partition_cores"))?,
        entitlement: c.cores(&r.entitlement, at("entitlement"))?,
        online_vp_count: c.cores(&r.online_vp_count, at("online_vp_count"))?,
        default_pvu: r.default_pvu,
        duplicate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[host]]
name = "db01.demo.example"
platform = "vmware-vm"
ibm = ["ibm-db2"]
ip = "10.0.0.1"
expect = { coverage = "covered", codes = ["STALE"] }
[host.ilmt]
last_seen_days_ago = 20

[[ilmt_only]]
name = "ghost01"
last_seen_days_ago = 3
computer_type = "physical"
"#;

    #[test]
    fn the_builtin_estate_parses_and_tells_every_finding() {
        let e = Estate::builtin().unwrap();
        assert!(e.hosts.len() >= 14, "{} hosts", e.hosts.len());
        // Every code the data can trigger is expected somewhere (GHOST comes from ilmt_only).
        for code in Code::ALL.iter().filter(|c| **c != Code::Ghost) {
            assert!(
                e.hosts.iter().any(|h| h.expect.codes.contains(code)),
                "no host expects {code}"
            );
        }
        let current_ghosts = e
            .ilmt_only
            .iter()
            .filter(|r| r.deleted_days_ago.is_none())
            .count();
        assert!(current_ghosts >= 1);
        for coverage in [
            Coverage::Covered,
            Coverage::Stale,
            Coverage::Uncovered,
            Coverage::NotRequired,
        ] {
            assert!(
                e.hosts.iter().any(|h| h.expect.coverage == coverage),
                "no host expects {}",
                coverage.as_str()
            );
        }
    }

    #[test]
    fn a_minimal_estate_reads_with_defaults() {
        let e = Estate::parse("e.toml", MINIMAL).unwrap();
        let h = &e.hosts[0];
        assert_eq!(h.short, "db01");
        assert_eq!(h.ip, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(h.expect.codes, vec![Code::Stale]);
        let r = h.ilmt.as_ref().unwrap();
        assert_eq!(r.last_seen_days_ago, 20);
        assert_eq!(r.first_seen_days_ago, DEFAULT_FIRST_SEEN);
        assert_eq!(r.keys(), Keys::All);
        assert!(r.vm_manager);
        let g = &e.ilmt_only[0];
        assert_eq!(g.computer_type, ComputerType::Physical);
        assert_eq!(g.first_seen_days_ago, DEFAULT_FIRST_SEEN);
    }

    #[test]
    fn bad_entries_are_refused_naming_line_and_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "name = \"db01.demo.example\"",
                "name = \"DB01\"",
                "line 3, field host[0].name: \"DB01\" is not a lower-case FQDN",
            ),
            (
                "platform = \"vmware-vm\"",
                "platform = \"../etc\"",
                "line 4, field host[0].platform: \"../etc\" is not a fixture folder name",
            ),
            (
                "ip = \"10.0.0.1\"",
                "ip = \"10.0.0\"",
                "line 6, field host[0].ip: \"10.0.0\" is not an IPv4 address",
            ),
            (
                "codes = [\"STALE\"]",
                "codes = [\"STAEL\"]",
                "line 7, field host[0].expect.codes:",
            ),
            (
                "coverage = \"covered\"",
                "coverage = \"uncovered\"",
                "line 7, field host[0].expect.coverage: uncovered does not fit a host with a [host.ilmt] record",
            ),
            (
                "last_seen_days_ago = 20",
                "last_seen_days_ago = 20\nkeys = \"dns\"",
                "line 10, field host[0].ilmt.keys: \"dns\" is not one of: all, hostname",
            ),
            (
                "last_seen_days_ago = 20",
                "last_seen_days_ago = 20\nfirst_seen_days_ago = 10",
                "field host[0].ilmt.first_seen_days_ago: last seen before it was first seen",
            ),
            (
                "last_seen_days_ago = 20",
                "last_seen_days_ago = 20\nserver_cores = 0",
                "line 10, field host[0].ilmt.server_cores: 0 is not a core count",
            ),
            (
                "last_seen_days_ago = 20",
                "last_seen_days_ago = 99999",
                "line 9, field host[0].ilmt.last_seen_days_ago: 99999 is more than 3650 days",
            ),
            (
                "computer_type = \"physical\"",
                "computer_type = \"server\"",
                "line 14, field ilmt_only[0].computer_type: \"server\" is not one of",
            ),
            (
                "name = \"ghost01\"",
                "name = \"db01\"",
                "line 12, field ilmt_only[0].name: a host named \"db01\" is already listed",
            ),
            ("ip = \"10.0.0.1\"", "ip = \"10.0.0.1\"\ncolour = 1", "unknown field `colour`"),
        ];
        for (from, to, want) in cases {
            let text = MINIMAL.replacen(from, to, 1);
            assert_ne!(text, MINIMAL, "case {to:?} changed nothing");
            let e = Estate::parse("e.toml", &text).unwrap_err().to_string();
            assert!(e.starts_with("e.toml"), "{e}");
            assert!(e.contains(want), "{to:?}: got {e}");
        }
    }

    #[test]
    fn dns_names() {
        for (s, dotted, ok) in [
            ("db01.demo.example", true, true),
            ("db01", true, false),
            ("db01", false, true),
            ("db-01.x", true, true),
            ("-db.x", true, false),
            ("db..x", true, false),
            ("Db01.x", true, false),
            ("", false, false),
        ] {
            assert_eq!(is_dns_name(s, dotted), ok, "{s:?}");
        }
    }
}
