//! Coverage history end to end: reports collected on past days and a dated ILMT audit snapshot
//! become, day by day, each host's coverage periods; `subcap history` answers "was host X covered
//! on D" and "which hosts were uncovered in quarter Q"; a report collected long ago that arrives
//! late rewrites the past; the history survives a restart.

use std::process::Output;

use subcap_proto::v1 as pb;
use subcap_tests::pki::Pki;
use subcap_tests::process::{free_port, ingest, subcap, Aggregator};
use subcap_tests::reports::{ibm_report, noon, Host};

/// A bare-metal host running `product`, reporting on `day`.
fn report(id: &str, fqdn: &str, day: &str, product: &str) -> pb::HostReport {
    ibm_report(
        id,
        &Host {
            fqdn,
            at: noon(day),
            technology: None,
            product,
            model: None,
        },
    )
}

fn json(out: Output) -> Vec<serde_json::Value> {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .expect("JSON")
        .as_array()
        .expect("array")
        .clone()
}

/// `subcap history --host HOST --on DAY`: that day's (coverage, fails).
fn on(op: &std::path::Path, host: &str, day: &str) -> Option<(String, String)> {
    let rows = json(subcap(
        op,
        &["history", "--host", host, "--on", day, "--format", "json"],
    ));
    assert!(rows.len() <= 1, "{rows:?}");
    rows.first().map(|r| {
        (
            r["coverage"].as_str().unwrap().to_string(),
            r["fails"].as_str().unwrap().to_string(),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_by_day_quarter_late_reports_and_restart() {
    let hosts = ["db01.bank.example", "mq01.bank.example"];
    let pki = Pki::new(&hosts);
    let data = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    // Reports from two years ago: keep their bodies (the ledger recomputes no further back).
    let retention = "[retention]\nreport_days = 1500\n";
    let cfg = pki.aggregator_config(port, mport, &data.path().join("store"), "", retention);
    let agg = Aggregator::start(&cfg, port, mport);
    let op = pki.operator_config(port);

    let mut db = ingest(&pki, port, "agent-db01.bank.example").await;
    for (id, day) in [("d1", "2024-12-01"), ("d2", "2025-02-01")] {
        db.submit_report(pb::SubmitReportRequest {
            report: Some(report(id, hosts[0], day, "IBM Db2")),
        })
        .await
        .unwrap();
    }
    let mut mq = ingest(&pki, port, "agent-mq01.bank.example").await;
    mq.submit_report(pb::SubmitReportRequest {
        report: Some(report("m1", hosts[1], "2025-01-15", "IBM MQ")),
    })
    .await
    .unwrap();
    // ILMT's audit snapshot of Q1 2025: it lists db01 (by short name), not mq01.
    let zip = subcap_tests::fixtures_dir().join("ilmt/snapshot/audit_snapshot_20250401_0815.zip");
    let out = subcap(&op, &["ilmt", "import", &zip.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // Before the snapshot's period nothing from ILMT covers db01; during it, it is covered.
    assert_eq!(
        on(&op, "db01", "2024-12-15"),
        Some(("uncovered".into(), "yes".into()))
    );
    assert_eq!(
        on(&op, "db01", "2025-02-05"),
        Some(("covered".into(), "no".into()))
    );
    // Before its first report a host has no state.
    assert_eq!(on(&op, "db01", "2024-11-30"), None);
    assert_eq!(on(&op, "mq01", "2025-01-14"), None);

    let uncovered = |q: &str| -> Vec<String> {
        let mut v: Vec<String> = json(subcap(
            &op,
            &["history", "--quarter", q, "--uncovered", "--format", "json"],
        ))
        .iter()
        .map(|r| r["host_key"].as_str().unwrap().to_string())
        .collect();
        v.dedup();
        v
    };
    assert_eq!(uncovered("2024-Q4"), [hosts[0]]);
    assert_eq!(uncovered("2025-Q1"), [hosts[1]]);

    // db01's Q4 2024 - Q1 2025: uncovered through New Year's Eve, covered from the snapshot's
    // first day until its scans grow older than 14 days.
    let rows = json(subcap(
        &op,
        &[
            "history",
            "--host",
            "db01",
            "--from",
            "2024-12-01",
            "--to",
            "2025-02-10",
            "--format",
            "json",
        ],
    ));
    let spans: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap(),
                r["to"].as_str().unwrap(),
                r["coverage"].as_str().unwrap(),
            )
        })
        .collect();
    let new_year = spans
        .iter()
        .position(|s| s.0 == "2025-01-01")
        .expect("a period starts with the snapshot");
    assert_eq!(spans[0].0, "2024-12-01", "{rows:#?}");
    assert_eq!(spans[new_year - 1].1, "2024-12-31", "{rows:#?}");
    assert!(
        spans[..new_year].iter().all(|s| s.2 == "uncovered"),
        "{rows:#?}"
    );
    // Two weeks after the report its scans are old: ILMT_AGENT_DOWN joins on Dec 15.
    assert_eq!(rows[0]["to"], "2024-12-14", "{rows:#?}");
    assert!(rows[1]["codes"]
        .as_str()
        .unwrap()
        .contains("ILMT_AGENT_DOWN"));
    assert_eq!(spans[new_year].2, "covered", "{rows:#?}");
    assert_eq!(spans.last().unwrap().1, "2025-02-10");

    // A report collected before anything else arrives late (a spool delivered at last): the
    // past is recomputed from that day.
    mq.submit_report(pb::SubmitReportRequest {
        report: Some(report("m0", hosts[1], "2024-11-01", "IBM MQ")),
    })
    .await
    .unwrap();
    assert_eq!(
        on(&op, "mq01", "2024-11-20"),
        Some(("uncovered".into(), "yes".into()))
    );
    assert_eq!(uncovered("2024-Q4"), hosts);

    // The history is kept on disk.
    let status = agg.terminate();
    assert!(status.success(), "{status:?}");
    let _agg = Aggregator::start(&cfg, port, mport);
    assert_eq!(
        on(&op, "db01", "2025-02-05"),
        Some(("covered".into(), "no".into()))
    );
    let out = subcap(&op, &["history", "--quarter", "2025-Q5"]);
    assert_eq!(out.status.code(), Some(2));
    let out = subcap(&op, &["history", "--from", "2025-13-01"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
