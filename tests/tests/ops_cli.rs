//! The operators' `subcap` command against a real aggregator over mTLS.

use subcap_proto::v1 as pb;
use subcap_tests::pki::Pki;
use subcap_tests::process::{free_port, ingest, subcap, Aggregator};
use subcap_tests::reports::{ibm_report, now_secs, Host};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_and_host_in_every_format() {
    let pki = Pki::new(&["*.bank.example"]);
    let data = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    let cfg = pki.aggregator_config(port, mport, &data.path().join("store"), "", "");
    let _agg = Aggregator::start(&cfg, port, mport);
    let mut a = ingest(&pki, port, "agent-*.bank.example").await;
    for (id, host, tech) in [
        ("r1", "db01.bank.example", "vmware"),
        ("r2", "web01.bank.example", "kvm"),
        ("r3", "db01.bank.example", "vmware"),
    ] {
        a.submit_report(pb::SubmitReportRequest {
            report: Some(ibm_report(
                id,
                &Host {
                    fqdn: host,
                    at: now_secs(),
                    technology: Some(tech),
                    product: "IBM MQ",
                    model: None,
                },
            )),
        })
        .await
        .unwrap();
    }
    let op = pki.operator_config(port);

    let out = subcap(&op, &["hosts", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host_key"].as_str().unwrap(),
                h["technology"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [
            ("db01.bank.example", "vmware"),
            ("web01.bank.example", "kvm")
        ]
    );
    assert_eq!(v[0]["ibm_installs"], "1");

    let out = subcap(&op, &["hosts", "--format", "csv"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("host_key,hostname,fqdn,kind,technology,cloud,ibm_installs,last_collected_at,last_received_at\r\n"), "{csv}");
    assert_eq!(csv.lines().count(), 3);

    let out = subcap(&op, &["hosts"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.lines().next().unwrap().starts_with("host_key"),
        "{table}"
    );
    assert!(table.contains("web01.bank.example"));

    let out = subcap(&op, &["host", "DB01", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["latest"]["reportId"], "r3");
    assert_eq!(v["history"].as_array().unwrap().len(), 2);

    let out = subcap(&op, &["host", "db01"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[virtualization]") && text.contains("[history]") && text.contains("r1"),
        "{text}"
    );

    let out = subcap(&op, &["host", "nosuch"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotFound"));
}

#[test]
fn bad_config_and_unreachable_aggregator_have_their_own_exit_codes() {
    let pki = Pki::new(&[]);
    let missing = pki.file("nope.toml");
    let out = subcap(&missing, &["hosts"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
    // Nothing listens on this port.
    let op = pki.operator_config(free_port());
    let out = subcap(&op, &["hosts"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ilmt_files_are_imported_listed_and_a_malformed_one_refused_whole() {
    let pki = Pki::new(&[]);
    let data = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    let cfg = pki.aggregator_config(port, mport, &data.path().join("store"), "", "");
    let _agg = Aggregator::start(&cfg, port, mport);
    let op = pki.operator_config(port);
    let ilmt = subcap_tests::fixtures_dir().join("ilmt");
    let v2 = ilmt.join("v2-nested/computers.json");
    let de = ilmt.join("csv-de/hardware_inventory.csv");
    let zip = ilmt.join("snapshot/audit_snapshot_20250401_0815.zip");

    let mut args = vec!["ilmt", "import", "--format", "json"];
    let paths: Vec<String> = [&v2, &de, &zip]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let out = subcap(&op, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["api_json_v2", "csv", "audit_snapshot"]);
    assert!(
        v.as_array().unwrap().iter().all(|i| i["computers"] != "0"),
        "{v:#}"
    );
    assert_eq!(v[2]["period_start"], "2025-01-01", "{v:#}");

    // The same file again: not stored twice.
    let out = subcap(&op, &["ilmt", "import", &paths[0]]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already imported"));

    // A tampered snapshot is refused whole, naming the file and what is wrong.
    let bad = ilmt.join("snapshot-tampered/audit_snapshot_20250401_0815.zip");
    let out = subcap(&op, &["ilmt", "import", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("InvalidArgument") && err.contains("audit_snapshot_20250401_0815.zip"),
        "{err}"
    );

    let out = subcap(&op, &["ilmt", "imports", "--format", "csv"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 4, "header and three imports:\n{csv}");
}
