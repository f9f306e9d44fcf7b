//! Reconciliation for operators: fetching a whole streamed answer, and the tables `subcap hosts
//! --uncovered`, `subcap findings` and the demo print. Column names are the proto's field names.

use std::fmt::Write as _;

use subcap_proto::v1 as pb;
use subcap_proto::v1::query_client::QueryClient;
use tonic::transport::Channel;

use super::output::Table;
use crate::domain::model::num;

/// A whole reconciliation answer, its chunks put together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub basis: Option<pb::ReconcileBasis>,
    pub totals: Option<pb::ReconcileTotals>,
    pub hosts: Vec<pb::HostCoverage>,
    pub findings: Vec<pb::Finding>,
}

/// Asks the aggregator and collects every chunk.
pub async fn reconcile(
    q: &mut QueryClient<Channel>,
    request: pb::ReconcileRequest,
) -> Result<Answer, tonic::Status> {
    let mut stream = q.reconcile(request).await?.into_inner();
    let mut a = Answer::default();
    while let Some(chunk) = stream.message().await? {
        if chunk.basis.is_some() {
            a.basis = chunk.basis;
        }
        if chunk.totals.is_some() {
            a.totals = chunk.totals;
        }
        a.hosts.extend(chunk.hosts);
        a.findings.extend(chunk.findings);
    }
    Ok(a)
}

/// `exposed_pvu` as a cell: the number, or `unknown` when the host's full capacity is unknown.
fn exposed(e: Option<&pb::Exposure>) -> String {
    match e.and_then(|e| e.exposed_pvu) {
        Some(p) => num(p),
        None => "unknown".into(),
    }
}

fn side(c: Option<&pb::Capacity>, part: fn(&pb::Capacity) -> f64) -> String {
    c.map(|c| num(part(c))).unwrap_or_default()
}

/// The full-capacity PVU cell: known, or `>= N` (the lower bound) when the host's capacity is
/// unknown, or empty when even that is unknown.
fn full_pvu(e: Option<&pb::Exposure>) -> String {
    let Some(e) = e else {
        return String::new();
    };
    match (&e.full_capacity, &e.full_capacity_lower_bound) {
        (Some(c), _) => num(c.pvu),
        (None, Some(lb)) => format!(">= {}", num(lb.pvu)),
        (None, None) => String::new(),
    }
}

fn full_cores(e: Option<&pb::Exposure>) -> String {
    let Some(e) = e else {
        return String::new();
    };
    match (&e.full_capacity, &e.full_capacity_lower_bound) {
        (Some(c), _) => num(c.cores),
        (None, Some(lb)) => format!(">= {}", num(lb.cores)),
        (None, None) => String::new(),
    }
}

fn ilmt_ref(r: &pb::IlmtRef) -> String {
    let mut s = match r.id {
        Some(id) => format!("ILMT computer {id}"),
        None => format!("ILMT row {}", r.source_row),
    };
    if !r.name.is_empty() {
        let _ = write!(s, " ({})", r.name);
    }
    s
}

pub const HOST_COLUMNS: &[&str] = &[
    "host_key",
    "coverage",
    "codes",
    "matched_by",
    "pvu_per_core",
    "sub_capacity_cores",
    "sub_capacity_pvu",
    "full_capacity_cores",
    "full_capacity_pvu",
    "exposed_pvu",
];

/// One row per host.
pub fn hosts_table(hosts: &[pb::HostCoverage]) -> Table {
    let mut t = Table::new(HOST_COLUMNS);
    for h in hosts {
        let e = h.exposure.as_ref();
        let sub = e.and_then(|e| e.sub_capacity.as_ref());
        t.push(vec![
            h.host_key.clone(),
            h.coverage.clone(),
            h.codes.join(","),
            h.matches.first().map(|m| m.key.clone()).unwrap_or_default(),
            e.map(|e| num(e.pvu_per_core)).unwrap_or_default(),
            side(sub, |c| c.cores),
            side(sub, |c| c.pvu),
            full_cores(e),
            full_pvu(e),
            exposed(e),
        ]);
    }
    t
}

pub const FINDING_COLUMNS: &[&str] = &[
    "code",
    "host_key",
    "ilmt",
    "summary",
    "exposed_pvu",
    "first_seen",
    "due",
    "uncertain",
    "evidence",
];

/// One row per finding.
pub fn findings_table(findings: &[pb::Finding]) -> Table {
    let mut t = Table::new(FINDING_COLUMNS);
    for f in findings {
        t.push(vec![
            f.code.clone(),
            f.host_key.clone(),
            f.ilmt.iter().map(ilmt_ref).collect::<Vec<_>>().join("; "),
            f.summary.clone(),
            exposed(f.exposure.as_ref()),
            f.first_seen.clone(),
            f.due.clone(),
            if f.uncertain { "yes" } else { "no" }.into(),
            f.evidence.join(" | "),
        ]);
    }
    t
}

/// Two lines saying what an answer was computed from and what it adds up to (for tables).
pub fn basis_lines(a: &Answer) -> String {
    let mut out = String::new();
    if let Some(b) = &a.basis {
        let import = match &b.ilmt_import {
            Some(i) => format!(
                "ILMT import {} ({}, {}, {} computers)",
                i.id, i.source, i.file_name, i.computers
            ),
            None => "no ILMT import yet (every host with IBM software is UNCOVERED)".into(),
        };
        let _ = writeln!(out, "as of {} against {import}", b.as_of);
        for s in &b.skipped {
            let _ = writeln!(out, "skipped: {s}");
        }
    }
    if let Some(t) = &a.totals {
        let count =
            |m: &std::collections::HashMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        let c = &t.hosts_by_coverage;
        let _ = write!(
            out,
            "{} hosts: {} covered, {} uncovered, {} stale, {} not requiring ILMT, {} superseded; exposed PVU {}",
            t.hosts,
            count(c, "covered"),
            count(c, "uncovered"),
            count(c, "stale"),
            count(c, "not_required"),
            count(c, "superseded"),
            num(t.exposed_pvu)
        );
        if t.exposure_unknown_hosts > 0 {
            let _ = write!(
                out,
                " (+ {} hosts of unknown capacity)",
                t.exposure_unknown_hosts
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposure(full: Option<f64>, lower: Option<f64>, exposed: Option<f64>) -> pb::Exposure {
        let cap = |pvu: f64| pb::Capacity {
            cores: pvu / 120.0,
            pvu,
            how: String::new(),
        };
        pb::Exposure {
            pvu_per_core: 120.0,
            sub_capacity: Some(cap(480.0)),
            full_capacity: full.map(cap),
            full_capacity_lower_bound: lower.map(cap),
            exposed_pvu: exposed,
            ..Default::default()
        }
    }

    #[test]
    fn host_rows_say_unknown_capacity_plainly() {
        let hosts = [
            pb::HostCoverage {
                host_key: "known".into(),
                coverage: "uncovered".into(),
                codes: vec!["UNCOVERED".into(), "DEADLINE".into()],
                exposure: Some(exposure(Some(3840.0), None, Some(3360.0))),
                ..Default::default()
            },
            pb::HostCoverage {
                host_key: "unknown".into(),
                coverage: "covered".into(),
                matches: vec![pb::IlmtMatch {
                    key: "fqdn".into(),
                    ..Default::default()
                }],
                exposure: Some(exposure(None, Some(480.0), None)),
                ..Default::default()
            },
        ];
        let t = hosts_table(&hosts);
        let col = |name: &str| HOST_COLUMNS.iter().position(|c| *c == name).unwrap();
        assert_eq!(t.rows[0][col("codes")], "UNCOVERED,DEADLINE");
        assert_eq!(t.rows[0][col("full_capacity_pvu")], "3840");
        assert_eq!(t.rows[0][col("full_capacity_cores")], "32");
        assert_eq!(t.rows[0][col("exposed_pvu")], "3360");
        assert_eq!(t.rows[1][col("matched_by")], "fqdn");
        assert_eq!(t.rows[1][col("full_capacity_pvu")], ">= 480");
        assert_eq!(t.rows[1][col("exposed_pvu")], "unknown");
    }

    #[test]
    fn finding_rows_name_ilmt_records_and_keep_evidence() {
        let f = pb::Finding {
            code: "DUPLICATE".into(),
            host_key: "db01.example.com".into(),
            ilmt: vec![
                pb::IlmtRef {
                    id: Some(17),
                    name: "db01".into(),
                    source_row: 3,
                },
                pb::IlmtRef {
                    id: None,
                    name: String::new(),
                    source_row: 9,
                },
            ],
            evidence: vec!["a".into(), "b".into()],
            uncertain: true,
            ..Default::default()
        };
        let t = findings_table(&[f]);
        assert_eq!(t.rows[0][2], "ILMT computer 17 (db01); ILMT row 9");
        assert_eq!(t.rows[0][7], "yes");
        assert_eq!(t.rows[0][8], "a | b");
        assert_eq!(t.rows[0][4], "unknown");
    }
}
