//! Reconciliation end to end: agents report over mTLS, the aggregator pulls ILMT's host list from
//! an HTTPS server speaking ILMT's REST API (`subcap ilmt pull`), and the operator asks `subcap
//! hosts --uncovered / --ineligible`, `subcap findings`, `subcap host`, with `--fail-on` exit
//! codes, and the Prometheus coverage gauges follow.

use std::process::Output;

use subcap_aggregator::certs::{self, Leaf};
use subcap_aggregator::ilmt::test_server::{IlmtServer, Mode};
use subcap_proto::time::rfc3339;
use subcap_proto::v1 as pb;
use subcap_tests::pki::Pki;
use subcap_tests::process::{free_port, ingest, subcap, Aggregator};
use subcap_tests::reports::{ibm_report, now_secs as now, Host};

const TOKEN: &str = "5f0b7c1e2d3a4b5c6d7e8f90a1b2c3d4e5f60718";

fn ok(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// An ILMT v2 `computers` row with its `computer_hardware`, last seen `days` ago.
fn ilmt_row(id: i64, fqdn: &str, days: i64) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "bigfix_id": 1_600_000 + id,
        "name": fqdn.split('.').next().unwrap(),
        "dns_name": fqdn,
        "os": "Linux Red Hat Enterprise Linux 9",
        "last_seen": rfc3339(now() - days * 86_400),
        "is_deleted": false,
        "is_managed_by_vm_manager": true,
        "computer_hardware": {
            "computer_type": 1, "status": 1, "server_id": 7, "partition_cores": 4,
            "node_total_processors": 2, "server_name": "esx07", "server_vendor": "Dell",
            "processor_brand": "Xeon", "processor_vendor": "Intel",
            "processor_brand_string": "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
        }
    })
}

fn codes(v: &serde_json::Value, field: &str) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_then_uncovered_ineligible_findings_and_fail_on() {
    let hosts = [
        "db01.bank.example",
        "mq01.bank.example",
        "web01.bank.example",
    ];
    let pki = Pki::new(&hosts);
    // ILMT's server, with its own certificate from the dev server CA.
    let (ilmt_cert, ilmt_key) = certs::issue(
        pki.path(),
        Leaf::Server,
        &["127.0.0.1".into()],
        "ilmt-server",
    )
    .unwrap();
    let rows = vec![
        ilmt_row(1, "db01.bank.example", 1),
        ilmt_row(2, "web01.bank.example", 1),
        // No agent reports this one.
        ilmt_row(3, "ghost01.bank.example", 2),
    ];
    let ilmt = IlmtServer::start(&ilmt_cert, &ilmt_key, TOKEN, rows, Mode::Normal)
        .await
        .unwrap();
    let token = pki.file("ilmt-token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();

    let data = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    let ilmt_section = format!(
        "[ilmt]\nurl = \"https://{}\"\ntoken_file = \"{}\"\nca_file = \"{}\"\npull_interval_secs = 0\n",
        ilmt.addr,
        token.display(),
        pki.server_ca().display()
    );
    let cfg = pki.aggregator_config(port, mport, &data.path().join("store"), "", &ilmt_section);
    let agg = Aggregator::start(&cfg, port, mport);
    let op = pki.operator_config(port);

    for (i, (host, tech, product)) in [
        (hosts[0], "vmware", "IBM Db2"),
        (hosts[1], "vmware", "IBM MQ"),
        (hosts[2], "virtualbox", "IBM WebSphere Application Server"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut a = ingest(&pki, port, &format!("agent-{host}")).await;
        let mut r = ibm_report(
            &format!("r{i}"),
            &Host {
                fqdn: host,
                at: now(),
                technology: Some(tech),
                product,
                model: None,
            },
        );
        if host == hosts[0] {
            // ILMT row 1's BigFix id, as the BigFix client's files say it.
            r.identity.as_mut().unwrap().bigfix_computer_id = "1600001".into();
        }
        a.submit_report(pb::SubmitReportRequest { report: Some(r) })
            .await
            .unwrap();
    }

    // Before any import every host with IBM software is uncovered, and says why.
    let v = ok(&subcap(&op, &["hosts", "--uncovered", "--format", "json"]));
    assert_eq!(codes(&v, "host_key"), hosts);
    let out = subcap(&op, &["findings", "--fail-on", "UNCOVERED"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("no ILMT import yet"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fail-on: UNCOVERED: 3"));

    // The pull stores ILMT's list as a dated import.
    let v = ok(&subcap(&op, &["ilmt", "pull", "--format", "json"]));
    assert_eq!(v[0]["source"], "rest_api");
    assert_eq!(v[0]["computers"], "3");
    assert_eq!(ilmt.seen.targets.lock().unwrap().len(), 1, "one page");

    let v = ok(&subcap(&op, &["hosts", "--uncovered", "--format", "json"]));
    assert_eq!(codes(&v, "host_key"), ["mq01.bank.example"]);
    assert_eq!(v[0]["coverage"], "uncovered");
    assert!(
        v[0]["codes"].as_str().unwrap().contains("UNCOVERED"),
        "{v:#}"
    );
    // 4 cores of a Xeon at 70 PVU: the sub-capacity side is known; the host's full capacity is
    // not (no ILMT record says how big the machine is), so the exposure says so.
    assert_eq!(v[0]["sub_capacity_cores"], "4", "{v:#}");
    assert_eq!(v[0]["exposed_pvu"], "unknown", "{v:#}");

    let v = ok(&subcap(&op, &["hosts", "--ineligible", "--format", "json"]));
    assert_eq!(codes(&v, "host_key"), ["web01.bank.example"]);
    assert_eq!(v[0]["coverage"], "covered", "matched, but not eligible");
    assert_eq!(v[0]["matched_by"], "fqdn", "{v:#}");

    let v = ok(&subcap(
        &op,
        &["findings", "--code", "GHOST", "--format", "json"],
    ));
    assert_eq!(v.as_array().unwrap().len(), 1, "{v:#}");
    assert!(v[0]["ilmt"].as_str().unwrap().contains("ghost01"), "{v:#}");

    // --fail-on judges what the command shows: GHOST is not among the UNCOVERED findings.
    let out = subcap(
        &op,
        &["findings", "--code", "UNCOVERED", "--fail-on", "GHOST"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // ...and the whole reconciliation for a command that shows no findings.
    let out = subcap(&op, &["ilmt", "imports", "--fail-on", "GHOST"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = subcap(&op, &["findings", "--fail-on", "BOGUS"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a finding code"));
    let out = subcap(&op, &["findings", "--since", "23-11-2026"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("since"));
    let v = ok(&subcap(
        &op,
        &[
            "findings",
            "--since",
            "2999-01-01",
            "--code",
            "UNCOVERED",
            "--format",
            "json",
        ],
    ));
    assert!(v.as_array().unwrap().is_empty(), "{v:#}");

    let out = subcap(&op, &["host", "mq01"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[reconciliation]") && text.contains("coverage: uncovered"),
        "{text}"
    );
    assert!(text.contains("UNCOVERED: "), "{text}");
    let v = ok(&subcap(&op, &["host", "db01", "--format", "json"]));
    assert_eq!(v["reconciliation"]["host"]["coverage"], "covered", "{v:#}");
    assert_eq!(
        v["reconciliation"]["host"]["matches"][0]["key"], "bigfix_id",
        "{v:#}"
    );

    let m = agg.metrics();
    for want in [
        "subcap_hosts_by_coverage{coverage=\"uncovered\"} 1",
        "subcap_hosts_by_coverage{coverage=\"covered\"} 2",
        "subcap_findings{code=\"GHOST\"} 1",
        "subcap_findings{code=\"UNCOVERED\"} 1",
        "subcap_ilmt_pulls_total{result=\"ok\"} 1",
        "subcap_exposure_unknown_hosts ",
    ] {
        assert!(m.contains(want), "metrics lack {want:?}:\n{m}");
    }
}

#[test]
fn pull_without_ilmt_configured_is_refused_plainly() {
    let pki = Pki::new(&[]);
    let data = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    let cfg = pki.aggregator_config(port, mport, &data.path().join("store"), "", "");
    let _agg = Aggregator::start(&cfg, port, mport);
    let out = subcap(&pki.operator_config(port), &["ilmt", "pull"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FailedPrecondition") && err.contains("[ilmt]"),
        "{err}"
    );
}
