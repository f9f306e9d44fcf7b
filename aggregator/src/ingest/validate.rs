//! Validation of an incoming `HostReport`: sizes, counts, ranges, timestamps, text and vocabularies.
//!
//! Pure: `now` is a parameter. The first problem found is returned with the dotted path of the
//! field (`report.topology.sockets`), which the server sends back as INVALID_ARGUMENT.

use std::fmt::Display;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use subcap_proto::v1 as pb;
use subcap_proto::vocab::{Cloud, Signature, Technology, VirtKind};

/// Limits on what a peer may send, beyond the transport's message-size limit.
pub mod limits {
    /// Longest name-like text field (hostnames, ids, versions, product names).
    pub const TEXT: usize = 1024;
    /// Longest evidence value or warning message (file contents may be quoted).
    pub const LONG_TEXT: usize = 8192;
    /// Most evidence entries in one section, warnings, IBM installs.
    pub const EVIDENCE: usize = 4096;
    pub const WARNINGS: usize = 4096;
    pub const IBM_INSTALLS: usize = 10_000;
    pub const IP_ADDRESSES: usize = 1024;
    pub const LAYERS: usize = 8;
    pub const DECIDED_BY: usize = 64;
    /// Largest logical CPU count (Linux's NR_CPUS maximum is 8192; leave room).
    pub const CPUS: u32 = 65_536;
    /// How far in the future a collection time may be (clock skew), and how old.
    pub const FUTURE_SKEW_SECS: u64 = 24 * 3600;
    /// 2000-01-01T00:00:00Z: nothing was collected before it.
    pub const EARLIEST_SECS: i64 = 946_684_800;
}

/// A report refused: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

fn err<T>(field: impl Display, problem: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError {
        field: field.to_string(),
        problem: problem.into(),
    })
}

/// The store's key for a report's host: the lower-case FQDN, else the lower-case hostname.
pub fn host_key(identity: &pb::HostIdentity) -> String {
    if identity.fqdn.is_empty() {
        identity.hostname.to_ascii_lowercase()
    } else {
        identity.fqdn.to_ascii_lowercase()
    }
}

/// Checks every field of `r`; `now` bounds the collection time. Field paths are formatted only
/// for the error (the checks take `format_args!`), so a valid report costs no allocation per field.
pub fn validate(r: &pb::HostReport, now: SystemTime) -> Result<(), FieldError> {
    report_id("report.report_id", &r.report_id)?;
    let Some(at) = &r.collected_at else {
        return err("report.collected_at", "missing");
    };
    timestamp("report.collected_at", at, now)?;
    text("report.agent_version", &r.agent_version, limits::TEXT)?;
    text("report.scan_root", &r.scan_root, limits::TEXT)?;

    let Some(id) = &r.identity else {
        return err("report.identity", "missing");
    };
    identity(id)?;
    if let Some(t) = &r.topology {
        topology(t)?;
    }
    if let Some(v) = &r.virtualization {
        virtualization(v)?;
    }
    count(
        "report.ibm_installs",
        r.ibm_installs.len(),
        limits::IBM_INSTALLS,
    )?;
    for (i, inst) in r.ibm_installs.iter().enumerate() {
        let f = format!("report.ibm_installs[{i}]");
        word::<Signature>(format_args!("{f}.signature"), &inst.signature, false)?;
        for (name, v) in [
            ("product_name", &inst.product_name),
            ("version", &inst.version),
            ("product_id", &inst.product_id),
            ("publisher", &inst.publisher),
            ("install_path", &inst.install_path),
            ("source", &inst.source),
        ] {
            text(format_args!("{f}.{name}"), v, limits::TEXT)?;
        }
    }
    if let Some(a) = &r.ilmt_agent {
        text(
            "report.ilmt_agent.bigfix_version",
            &a.bigfix_version,
            limits::TEXT,
        )?;
        text(
            "report.ilmt_agent.scanner_version",
            &a.scanner_version,
            limits::TEXT,
        )?;
        for (name, t) in [
            ("last_software_scan", &a.last_software_scan),
            ("last_capacity_scan", &a.last_capacity_scan),
            ("last_upload", &a.last_upload),
        ] {
            if let Some(t) = t {
                timestamp(format_args!("report.ilmt_agent.{name}"), t, now)?;
            }
        }
        evidence("report.ilmt_agent.evidence", &a.evidence)?;
    }
    count("report.warnings", r.warnings.len(), limits::WARNINGS)?;
    for (i, w) in r.warnings.iter().enumerate() {
        text(
            format_args!("report.warnings[{i}].collector"),
            &w.collector,
            limits::TEXT,
        )?;
        text(
            format_args!("report.warnings[{i}].source"),
            &w.source,
            limits::TEXT,
        )?;
        long_text(format_args!("report.warnings[{i}].message"), &w.message)?;
    }
    Ok(())
}

fn identity(id: &pb::HostIdentity) -> Result<(), FieldError> {
    if id.hostname.is_empty() {
        return err(
            "report.identity.hostname",
            "missing: a report must name its host",
        );
    }
    host_name("report.identity.hostname", &id.hostname)?;
    if !id.fqdn.is_empty() {
        host_name("report.identity.fqdn", &id.fqdn)?;
    }
    for (name, v) in [
        ("machine_id", &id.machine_id),
        ("product_uuid", &id.product_uuid),
        ("product_serial", &id.product_serial),
        ("os_name", &id.os_name),
        ("os_version", &id.os_version),
        ("kernel", &id.kernel),
        ("architecture", &id.architecture),
        ("bigfix_computer_id", &id.bigfix_computer_id),
    ] {
        text(format_args!("report.identity.{name}"), v, limits::TEXT)?;
    }
    count(
        "report.identity.ip_addresses",
        id.ip_addresses.len(),
        limits::IP_ADDRESSES,
    )?;
    for (i, a) in id.ip_addresses.iter().enumerate() {
        if a.parse::<std::net::IpAddr>().is_err() {
            return err(
                format!("report.identity.ip_addresses[{i}]"),
                format!("{a:?} is not an IP address"),
            );
        }
    }
    evidence("report.identity.evidence", &id.evidence)
}

fn topology(t: &pb::Topology) -> Result<(), FieldError> {
    for (name, v) in [
        ("online_cpus", t.online_cpus),
        ("present_cpus", t.present_cpus),
        ("sockets", t.sockets),
        ("cores_per_socket", t.cores_per_socket),
        ("threads_per_core", t.threads_per_core),
        ("cores", t.cores),
        ("dies", t.dies),
        ("books", t.books),
        ("drawers", t.drawers),
        ("numa_nodes", t.numa_nodes),
    ] {
        if let Some(v) = v {
            if v > limits::CPUS {
                return err(
                    format!("report.topology.{name}"),
                    format!("{v} exceeds {}", limits::CPUS),
                );
            }
        }
    }
    for (name, v) in [
        ("online_cpu_list", &t.online_cpu_list),
        ("vendor", &t.vendor),
        ("model_name", &t.model_name),
        ("cpu_family", &t.cpu_family),
        ("cpu_model", &t.cpu_model),
        ("cpu_stepping", &t.cpu_stepping),
    ] {
        text(format_args!("report.topology.{name}"), v, limits::TEXT)?;
    }
    if let Some(p) = &t.power_lpar {
        if !matches!(p.sharing.as_str(), "" | "shared" | "dedicated") {
            return err(
                "report.topology.power_lpar.sharing",
                format!("{:?} is not one of: shared, dedicated", p.sharing),
            );
        }
        text(
            "report.topology.power_lpar.partition_name",
            &p.partition_name,
            limits::TEXT,
        )?;
    }
    if let Some(z) = &t.s390 {
        for (name, v) in [
            ("machine_type", &z.machine_type),
            ("lpar_name", &z.lpar_name),
            ("lpar_characteristics", &z.lpar_characteristics),
            ("guest_name", &z.guest_name),
            ("control_program", &z.control_program),
        ] {
            text(format_args!("report.topology.s390.{name}"), v, limits::TEXT)?;
        }
    }
    if let Some(c) = &t.cpu_limit {
        if !matches!(c.cgroup_version.as_str(), "" | "v1" | "v2") {
            return err(
                "report.topology.cpu_limit.cgroup_version",
                format!("{:?} is not one of: v1, v2", c.cgroup_version),
            );
        }
        if let Some(q) = c.quota_cpus {
            if !q.is_finite() || q < 0.0 || q > f64::from(limits::CPUS) {
                return err(
                    "report.topology.cpu_limit.quota_cpus",
                    format!("{q} is not a CPU count"),
                );
            }
        }
        text("report.topology.cpu_limit.cpuset", &c.cpuset, limits::TEXT)?;
    }
    evidence("report.topology.evidence", &t.evidence)
}

fn virtualization(v: &pb::Virtualization) -> Result<(), FieldError> {
    word::<VirtKind>("report.virtualization.kind", &v.kind, true)?;
    word::<Technology>("report.virtualization.technology", &v.technology, true)?;
    word::<Cloud>("report.virtualization.cloud", &v.cloud, true)?;
    count(
        "report.virtualization.layers",
        v.layers.len(),
        limits::LAYERS,
    )?;
    for (i, l) in v.layers.iter().enumerate() {
        let f = format!("report.virtualization.layers[{i}]");
        word::<VirtKind>(format_args!("{f}.kind"), &l.kind, false)?;
        word::<Technology>(format_args!("{f}.technology"), &l.technology, false)?;
        count(
            format_args!("{f}.decided_by"),
            l.decided_by.len(),
            limits::DECIDED_BY,
        )?;
        for (j, d) in l.decided_by.iter().enumerate() {
            text(format_args!("{f}.decided_by[{j}]"), d, limits::TEXT)?;
        }
    }
    evidence("report.virtualization.evidence", &v.evidence)
}

fn evidence(field: &str, list: &[pb::Evidence]) -> Result<(), FieldError> {
    count(field, list.len(), limits::EVIDENCE)?;
    for (i, e) in list.iter().enumerate() {
        text(format_args!("{field}[{i}].source"), &e.source, limits::TEXT)?;
        long_text(format_args!("{field}[{i}].value"), &e.value)?;
    }
    Ok(())
}

fn count(field: impl Display, n: usize, max: usize) -> Result<(), FieldError> {
    if n > max {
        return err(field, format!("{n} entries exceed the limit of {max}"));
    }
    Ok(())
}

/// Whether `v` may hold a control character: a byte below 0x20, DEL, or 0xC2, the lead byte of the
/// C1 controls U+0080..U+009F in UTF-8 (and of other characters, which the slow path then tells
/// apart). A byte scan, so the common all-clean string is checked without decoding characters.
fn may_hold_control(v: &str) -> bool {
    v.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2)
}

/// One-line text: bounded, no control characters.
fn text(field: impl Display, v: &str, max: usize) -> Result<(), FieldError> {
    if v.len() > max {
        return err(
            field,
            format!("{} bytes exceed the limit of {max}", v.len()),
        );
    }
    if !may_hold_control(v) {
        return Ok(());
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return err(
            field,
            format!("contains control character U+{:04X}", c as u32),
        );
    }
    Ok(())
}

/// Multi-line text (evidence values, messages): bounded, tabs and newlines allowed.
fn long_text(field: impl Display, v: &str) -> Result<(), FieldError> {
    if v.len() > limits::LONG_TEXT {
        return err(
            field,
            format!(
                "{} bytes exceed the limit of {}",
                v.len(),
                limits::LONG_TEXT
            ),
        );
    }
    if !may_hold_control(v) {
        return Ok(());
    }
    if let Some(c) = v
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return err(
            field,
            format!("contains control character U+{:04X}", c as u32),
        );
    }
    Ok(())
}

fn report_id(field: impl Display, v: &str) -> Result<(), FieldError> {
    if v.is_empty() {
        return err(field, "missing");
    }
    if v.len() > 64
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return err(field, "must be 1 to 64 characters of [A-Za-z0-9_-]");
    }
    Ok(())
}

/// A DNS-style host name: labels of letters, digits, '-' and '_', at most 253 bytes.
fn host_name(field: impl Display, v: &str) -> Result<(), FieldError> {
    let ok = v.len() <= 253
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !ok {
        return err(field, format!("{v:?} is not a host name"));
    }
    Ok(())
}

fn word<W: std::str::FromStr<Err = subcap_proto::vocab::UnknownWord>>(
    field: impl Display,
    v: &str,
    may_be_empty: bool,
) -> Result<(), FieldError> {
    if v.is_empty() {
        return if may_be_empty {
            Ok(())
        } else {
            err(field, "missing")
        };
    }
    v.parse::<W>().map(|_| ()).map_err(|e| FieldError {
        field: field.to_string(),
        problem: format!("{:?} is not one of: {}", e.value, e.allowed),
    })
}

fn timestamp(
    field: impl Display,
    t: &pbjson_types::Timestamp,
    now: SystemTime,
) -> Result<(), FieldError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return err(field, format!("nanos {} out of range", t.nanos));
    }
    if t.seconds < limits::EARLIEST_SECS {
        return err(field, format!("{} is before 2000-01-01", t.seconds));
    }
    let latest = now
        .checked_add(Duration::from_secs(limits::FUTURE_SKEW_SECS))
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(u64::MAX);
    if u64::try_from(t.seconds).unwrap_or(0) > latest {
        return err(
            field,
            format!("{} is more than a day in the future", t.seconds),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_392_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    pub(crate) fn good() -> pb::HostReport {
        pb::HostReport {
            report_id: "0123456789abcdef0123456789abcdef".into(),
            collected_at: Some(pbjson_types::Timestamp {
                seconds: NOW as i64 - 60,
                nanos: 0,
            }),
            agent_version: "0.1.0".into(),
            identity: Some(pb::HostIdentity {
                hostname: "db01".into(),
                fqdn: "db01.bank.example".into(),
                ip_addresses: vec!["10.0.0.5".into()],
                ..Default::default()
            }),
            topology: Some(pb::Topology {
                sockets: Some(2),
                ..Default::default()
            }),
            virtualization: Some(pb::Virtualization {
                kind: "virtual_machine".into(),
                technology: "vmware".into(),
                cloud: "none".into(),
                layers: vec![pb::VirtLayer {
                    kind: "virtual_machine".into(),
                    technology: "vmware".into(),
                    decided_by: vec!["sys/class/dmi/id/sys_vendor".into()],
                }],
                evidence: vec![pb::Evidence {
                    source: "sys/class/dmi/id/sys_vendor".into(),
                    value: "VMware, Inc.".into(),
                }],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_report_passes() {
        assert_eq!(validate(&good(), now()), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Edit = fn(&mut pb::HostReport);
        let cases: &[(&str, Edit)] = &[
            ("report.report_id", |r| r.report_id.clear()),
            ("report.report_id", |r| r.report_id = "a/b".into()),
            ("report.collected_at", |r| r.collected_at = None),
            ("report.collected_at", |r| {
                r.collected_at.as_mut().unwrap().seconds = 10
            }),
            ("report.collected_at", |r| {
                r.collected_at.as_mut().unwrap().seconds = NOW as i64 + 90_000
            }),
            ("report.collected_at", |r| {
                r.collected_at.as_mut().unwrap().nanos = -1
            }),
            ("report.identity", |r| r.identity = None),
            ("report.identity.hostname", |r| {
                r.identity.as_mut().unwrap().hostname.clear()
            }),
            ("report.identity.hostname", |r| {
                r.identity.as_mut().unwrap().hostname = "db 01".into()
            }),
            ("report.identity.fqdn", |r| {
                r.identity.as_mut().unwrap().fqdn = "db01..bank".into()
            }),
            ("report.identity.ip_addresses[0]", |r| {
                r.identity.as_mut().unwrap().ip_addresses[0] = "10.0.0.999".into()
            }),
            ("report.identity.os_name", |r| {
                r.identity.as_mut().unwrap().os_name = "x\u{0}".into()
            }),
            ("report.identity.kernel", |r| {
                r.identity.as_mut().unwrap().kernel = "k".repeat(2000)
            }),
            ("report.topology.sockets", |r| {
                r.topology.as_mut().unwrap().sockets = Some(70_000)
            }),
            ("report.virtualization.kind", |r| {
                r.virtualization.as_mut().unwrap().kind = "vm".into()
            }),
            ("report.virtualization.technology", |r| {
                r.virtualization.as_mut().unwrap().technology = "VMware".into()
            }),
            ("report.virtualization.cloud", |r| {
                r.virtualization.as_mut().unwrap().cloud = "aws-gov".into()
            }),
            ("report.virtualization.layers[0].technology", |r| {
                r.virtualization.as_mut().unwrap().layers[0]
                    .technology
                    .clear()
            }),
            ("report.virtualization.evidence[0].value", |r| {
                r.virtualization.as_mut().unwrap().evidence[0].value = "v".repeat(9000)
            }),
            ("report.ibm_installs[0].signature", |r| {
                r.ibm_installs.push(pb::IbmInstall {
                    signature: "guess".into(),
                    ..Default::default()
                })
            }),
            ("report.warnings", |r| {
                r.warnings = vec![pb::Warning::default(); limits::WARNINGS + 1]
            }),
        ];
        for (field, edit) in cases {
            let mut r = good();
            edit(&mut r);
            let e = validate(&r, now()).expect_err(field);
            assert_eq!(&e.field, field, "{e}");
        }
    }

    #[test]
    fn control_characters_are_found_in_any_encoding_width() {
        // (text, one-line verdict, multi-line verdict): None passes, Some(code point) is refused.
        let cases: &[(&str, Option<u32>, Option<u32>)] = &[
            ("plain ASCII", None, None),
            ("", None, None),
            ("café, Zürich, 東京, ✓", None, None),
            ("\u{a0}no-break space and \u{c0}", None, None), // 0xC2 / 0xC3 lead bytes, not controls
            ("tab\there", Some(0x09), None),
            ("line\nbreak\r\n", Some(0x0a), None),
            ("nul\u{0}", Some(0x00), Some(0x00)),
            ("escape\u{1b}[31m", Some(0x1b), Some(0x1b)),
            ("delete\u{7f}", Some(0x7f), Some(0x7f)),
            ("C1 next line\u{85}", Some(0x85), Some(0x85)),
            ("C1 last\u{9f}", Some(0x9f), Some(0x9f)),
        ];
        let code = |r: Result<(), FieldError>| {
            r.err().map(|e| {
                let hex = e.problem.rsplit("U+").next().unwrap_or_default();
                u32::from_str_radix(hex, 16).unwrap_or(u32::MAX)
            })
        };
        for (v, line, multi) in cases {
            assert_eq!(code(text("f", v, limits::TEXT)), *line, "text {v:?}");
            assert_eq!(code(long_text("f", v)), *multi, "long_text {v:?}");
        }
    }

    #[test]
    fn host_key_prefers_the_fqdn_lower_case() {
        let mut id = pb::HostIdentity {
            hostname: "DB01".into(),
            ..Default::default()
        };
        assert_eq!(host_key(&id), "db01");
        id.fqdn = "DB01.Bank.Example".into();
        assert_eq!(host_key(&id), "db01.bank.example");
    }
}
