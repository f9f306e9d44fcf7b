//! Hand-made aggregator answers for the report's unit tests: three hosts over the first quarter
//! of 2025 (one uncovered since March, one covered throughout, one stale for ten days in February
//! with unknown capacity), a GHOST finding, three ILMT imports of which two were used, and two
//! audit snapshots that leave part of the quarter uncovered.

use subcap_proto::v1 as pb;

use super::model::{
    build, day, Handoff, History, InputFile, Params, SnapshotInputs, Sources, Window,
};
use crate::ops::views::Answer;
use crate::snapshots::coverage::Failure;
use crate::snapshots::{Integrity, Period, Snapshot};

pub fn window() -> Window {
    Window::parse(
        Some("2025-01-01"),
        Some("2025-03-31"),
        day("2025-04-01").unwrap(),
    )
    .unwrap()
}

pub fn ts(date: &str) -> Option<pbjson_types::Timestamp> {
    Some(pbjson_types::Timestamp {
        seconds: day(date).unwrap().days_since_epoch() * 86_400 + 3_600,
        nanos: 0,
    })
}

fn cap(cores: f64, pvu: f64, how: &str) -> pb::Capacity {
    pb::Capacity {
        cores,
        pvu,
        how: how.into(),
    }
}

fn exposure(full: Option<f64>, exposed: Option<f64>) -> pb::Exposure {
    pb::Exposure {
        pvu_per_core: 120.0,
        pvu_per_core_how: "Xeon, more than 4 sockets: 120".into(),
        sub_capacity: Some(cap(4.0, 480.0, "4 vCPUs x 120")),
        full_capacity: full.map(|p| cap(p / 120.0, p, "32 cores x 120")),
        full_capacity_unknown: if full.is_none() {
            "no ILMT host data".into()
        } else {
            String::new()
        },
        exposed_pvu: exposed,
        summary: match exposed {
            Some(p) => format!("{p} PVU more at full capacity"),
            None => "host capacity unknown".into(),
        },
        ..Default::default()
    }
}

fn period(
    from: &str,
    to: &str,
    coverage: &str,
    codes: &[&str],
    fails: bool,
    exposed: Option<f64>,
    import: u64,
) -> pb::CoveragePeriod {
    pb::CoveragePeriod {
        from: from.into(),
        to: to.into(),
        coverage: coverage.into(),
        codes: codes.iter().map(|c| c.to_string()).collect(),
        exposed_pvu: exposed,
        ilmt_import: import,
        agent_silent: false,
        fails,
    }
}

fn product(name: &str, first: &str) -> pb::ProductSeen {
    pb::ProductSeen {
        product_name: name.into(),
        publisher: "IBM".into(),
        first_seen_at: ts(first),
    }
}

fn import(id: u64, file: &str) -> pb::ImportInfo {
    pb::ImportInfo {
        id,
        imported_at: ts("2025-01-01"),
        source: "api_json_v2".into(),
        file_name: file.into(),
        sha256: format!("{id:064x}"),
        computers: 2,
        ..Default::default()
    }
}

pub fn sources() -> Sources {
    let coverage = |key: &str, cov: &str, codes: &[&str], e: pb::Exposure| pb::HostCoverage {
        host_key: key.into(),
        coverage: cov.into(),
        matches: if cov == "uncovered" {
            Vec::new()
        } else {
            vec![pb::IlmtMatch {
                key: "fqdn".into(),
                ..Default::default()
            }]
        },
        exposure: Some(e),
        codes: codes.iter().map(|c| c.to_string()).collect(),
        notes: Vec::new(),
    };
    let reconcile = Answer {
        basis: Some(pb::ReconcileBasis {
            as_of: "2025-04-01".into(),
            computed_at: ts("2025-04-01"),
            ilmt_import: Some(import(2, "computers-feb.json")),
            pvu_table: "2025-06-01 (IBM PVU table)".into(),
            eligibility_policy: "2025-06-01".into(),
            stale_days: 30,
            scan_max_age_days: 30,
            capacity_tolerance_cores: 0.5,
            deadline_days: 90,
            skipped: Vec::new(),
        }),
        totals: Some(pb::ReconcileTotals {
            hosts: 3,
            exposed_pvu: 3360.0,
            ..Default::default()
        }),
        hosts: vec![
            coverage(
                "app01.bank.example",
                "covered",
                &["DEADLINE"],
                exposure(None, None),
            ),
            coverage(
                "db01.bank.example",
                "uncovered",
                &["UNCOVERED"],
                exposure(Some(3840.0), Some(3360.0)),
            ),
            coverage(
                "web01.bank.example",
                "covered",
                &[],
                exposure(Some(480.0), Some(0.0)),
            ),
        ],
        findings: vec![
            pb::Finding {
                code: "UNCOVERED".into(),
                host_key: "db01.bank.example".into(),
                summary: "IBM MQ on db01 and no ILMT computer for it".into(),
                evidence: vec![
                    "swid_tag /opt/mqm/swidtag".into(),
                    "no match by fqdn".into(),
                ],
                exposure: Some(exposure(Some(3840.0), Some(3360.0))),
                first_seen: "2025-03-01".into(),
                last_seen: "2025-04-01".into(),
                ..Default::default()
            },
            pb::Finding {
                code: "DEADLINE".into(),
                host_key: "app01.bank.example".into(),
                summary: "WebSphere first seen 2025-02-01: 30 days left".into(),
                due: "2025-05-02".into(),
                exposure: Some(exposure(None, None)),
                ..Default::default()
            },
            pb::Finding {
                code: "GHOST".into(),
                ilmt: vec![pb::IlmtRef {
                    id: Some(17),
                    name: "old01".into(),
                    source_row: 4,
                }],
                summary: "ILMT computer old01 has no reporting agent".into(),
                ..Default::default()
            },
        ],
    };
    let history = History {
        basis: Some(pb::HistoryBasis {
            first_day: "2024-12-01".into(),
            through: "2025-04-01".into(),
            from: "2025-01-01".into(),
            to: "2025-03-31".into(),
            ilmt_imports: vec![import(2, "computers-feb.json")],
        }),
        hosts: vec![
            pb::HostHistory {
                host_key: "app01.bank.example".into(),
                periods: vec![
                    period("2025-01-01", "2025-01-31", "covered", &[], false, None, 2),
                    period(
                        "2025-02-01",
                        "2025-02-10",
                        "stale",
                        &["STALE"],
                        true,
                        None,
                        2,
                    ),
                    period(
                        "2025-02-11",
                        "2025-03-31",
                        "covered",
                        &["DEADLINE"],
                        false,
                        None,
                        3,
                    ),
                ],
                failing_days: 10,
                max_exposed_pvu: None,
                products: vec![product("IBM WebSphere Application Server", "2025-02-01")],
            },
            pb::HostHistory {
                host_key: "db01.bank.example".into(),
                periods: vec![
                    period(
                        "2024-12-01",
                        "2025-02-28",
                        "covered",
                        &[],
                        false,
                        Some(3360.0),
                        2,
                    ),
                    period(
                        "2025-03-01",
                        "2025-03-31",
                        "uncovered",
                        &["UNCOVERED"],
                        true,
                        Some(3360.0),
                        2,
                    ),
                ],
                failing_days: 31,
                max_exposed_pvu: Some(3360.0),
                products: vec![
                    product("IBM MQ", "2024-12-01"),
                    product("IBM Db2", "2025-03-01"),
                    // Seen again later: one row, the earlier day.
                    product("IBM MQ", "2025-01-15"),
                ],
            },
            pb::HostHistory {
                host_key: "web01.bank.example".into(),
                periods: vec![period(
                    "2025-01-01",
                    "2025-03-31",
                    "covered",
                    &[],
                    false,
                    Some(0.0),
                    2,
                )],
                failing_days: 0,
                max_exposed_pvu: None,
                products: vec![product("IBM MQ", "2025-01-01")],
            },
        ],
    };
    Sources {
        reconcile,
        history,
        imports: vec![
            import(1, "computers-jan.json"),
            import(2, "computers-feb.json"),
            import(3, "computers-mar.json"),
        ],
        snapshots: Some(snapshots()),
    }
}

/// Two snapshots for 2025-Q1: one valid to 15 February, one whose checksums fail after it, so
/// the quarter has a gap from 16 February.
pub fn snapshots() -> SnapshotInputs {
    let snap = |file: &str, start: &str, end: &str, integrity: Integrity| Snapshot {
        file: file.into(),
        period: Period::Known {
            start: day(start).unwrap(),
            end: day(end).unwrap(),
        },
        integrity,
        warnings: Vec::new(),
    };
    SnapshotInputs {
        files: vec![
            InputFile {
                file_name: "audit_snapshot_20250216_0100.zip".into(),
                sha256: "aa".repeat(32),
                size: 10,
            },
            InputFile {
                file_name: "audit_snapshot_20250401_0100.zip".into(),
                sha256: "bb".repeat(32),
                size: 11,
            },
        ],
        snapshots: vec![
            snap(
                "audit_snapshot_20250216_0100.zip",
                "2025-01-01",
                "2025-02-15",
                Integrity::Verified,
            ),
            snap(
                "audit_snapshot_20250401_0100.zip",
                "2025-02-16",
                "2025-03-31",
                Integrity::Mismatch(vec![Failure {
                    member: "pvu_sub_capacity.csv".into(),
                    problem: "SHA-256 differs from checksums.txt".into(),
                }]),
            ),
        ],
    }
}

pub fn params() -> Params {
    Params {
        window: window(),
        provider: Some("Acme Managed Services".into()),
        generated_at: day("2025-04-01").unwrap().days_since_epoch() * 86_400 + 7_200,
    }
}

pub fn handoff() -> Handoff {
    build(&params(), &sources())
}
