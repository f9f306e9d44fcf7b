//! The provider-handoff report end to end: agents report on past days over mTLS, an ILMT audit
//! snapshot is imported, `subcap report handoff` writes the folder; its files, manifest and
//! `SHA256SUMS` are checked (with coreutils' `sha256sum -c`, and `subcap report verify`, which also
//! catches a tampered file); then `report.html` is rendered in a real headless Chromium: it shows
//! the figures of the JSON the same run wrote, checks its embedded data's SHA-256, and logs no
//! console error. The screenshot and the folder are kept in `target/test-artifacts/`.
//!
//! Chromium is required (Debian's `chromium`, installed by `.ci/run`): without it this test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use subcap_proto::v1 as pb;
use subcap_tests::pki::Pki;
use subcap_tests::process::{free_port, ingest, subcap, Aggregator};
use subcap_tests::reports::{ibm_report, noon as secs, now_secs as now, Host};

/// A 4-core VM on `technology` running `product`, collected at `at`, BigFix healthy then.
fn report(id: &str, fqdn: &str, at: i64, technology: &str, product: &str) -> pb::HostReport {
    ibm_report(
        id,
        &Host {
            fqdn,
            at,
            technology: Some(technology),
            product,
            model: Some("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"),
        },
    )
}

/// SHA-256 of a file as coreutils' `sha256sum` computes it (an implementation independent of the
/// aggregator's).
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// `target/test-artifacts`, beside the profile folder of this test executable.
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<exe>
    let target = exe.ancestors().nth(3).expect("target folder").to_path_buf();
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium with `args` on `page`; returns (stdout, stderr). Waits up to two minutes
/// (a bound on a hang, not a timing assertion).
fn chromium(page: &Path, args: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    // Output to files: a pipe nobody reads while waiting would fill and stall Chromium.
    let (out_path, err_path) = (profile.path().join("stdout"), profile.path().join("stderr"));
    let mut child = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect(
            "run chromium: the report test needs a headless Chromium (Debian package `chromium`; \
             .ci/run installs it)",
        );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(status.success(), "chromium: {status:?}\n{stderr}");
    (stdout, stderr)
}

/// The text of the element with `id` in serialized HTML (up to its first child tag).
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the rendered page"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    &rest[start..start + end]
}

/// The serialized element with `id` up to its closing `tag`.
fn element<'a>(dom: &'a str, id: &str, tag: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the rendered page"));
    let rest = &dom[at..];
    let end = rest.find(&format!("</{tag}>")).unwrap();
    &rest[..end]
}

/// A figure as the page writes it (`3,360`, `12.5`) as a number.
fn figure(dom: &str, id: &str) -> f64 {
    let t = text_of(dom, id).replace(',', "");
    t.parse()
        .unwrap_or_else(|_| panic!("#{id} shows {t:?}, not a number"))
}

fn as_f64(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_folder_manifest_verify_and_the_page_in_chromium() {
    let hosts = [
        "db01.bank.example",
        "mq01.bank.example",
        "web01.bank.example",
    ];
    let pki = Pki::new(&hosts);
    let data = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    // Reports from 2024: keep their bodies, so the history reaches back to them.
    let retention = "[retention]\nreport_days = 1500\n";
    let cfg = pki.aggregator_config(port, mport, &data.path().join("store"), "", retention);
    let _agg = Aggregator::start(&cfg, port, mport);
    let op = pki.operator_config(port);

    for (id, host, at, tech, product) in [
        ("d1", hosts[0], secs("2024-12-01"), "vmware", "IBM Db2"),
        ("d2", hosts[0], secs("2025-02-01"), "vmware", "IBM Db2"),
        ("m1", hosts[1], secs("2025-01-15"), "vmware", "IBM MQ"),
        // Today, on a hypervisor not eligible for sub-capacity.
        ("w1", hosts[2], now(), "virtualbox", "IBM MQ"),
    ] {
        let mut a = ingest(&pki, port, &format!("agent-{host}")).await;
        a.submit_report(pb::SubmitReportRequest {
            report: Some(report(id, host, at, tech, product)),
        })
        .await
        .unwrap();
    }
    // ILMT's audit snapshot of 2025-Q1: it lists db01, not mq01.
    let ilmt = subcap_tests::fixtures_dir().join("ilmt");
    let zip = ilmt.join("snapshot/audit_snapshot_20250401_0815.zip");
    let out = subcap(&op, &["ilmt", "import", &zip.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // The snapshots the customer keeps: that one, and a copy changed after its checksums.
    let snaps = tempfile::tempdir().unwrap();
    std::fs::copy(&zip, snaps.path().join("audit_snapshot_20250401_0815.zip")).unwrap();
    let tampered = snaps
        .path()
        .join("tampered_audit_snapshot_20250401_0815.zip");
    std::fs::copy(
        ilmt.join("snapshot-tampered/audit_snapshot_20250401_0815.zip"),
        &tampered,
    )
    .unwrap();

    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("handoff");
    let dir_s = dir.display().to_string();
    let snaps_s = snaps.path().display().to_string();
    let handoff = |extra: &[&str]| {
        let mut args = vec![
            "report",
            "handoff",
            "--out",
            &dir_s,
            "--from",
            "2024-10-01",
            "--to",
            "2025-06-30",
            "--provider",
            "Acme Managed Services",
            "--snapshots",
            &snaps_s,
        ];
        args.extend_from_slice(extra);
        subcap(&op, &args)
    };
    let out = handoff(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("2024-10-01 to 2025-06-30: 3 hosts"),
        "{printed}"
    );

    // Every file, and coreutils agrees with SHA256SUMS.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected: Vec<&str> = subcap_aggregator::report::OUTPUTS.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    assert_eq!(
        String::from_utf8_lossy(&check.stdout)
            .matches(": OK")
            .count(),
        expected.len() - 1
    );

    // The JSON: what was submitted and imported, in the window asked for.
    let json_text = std::fs::read_to_string(dir.join("handoff.json")).unwrap();
    let h: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(h["schema"], "subcap.handoff/1");
    assert_eq!(h["provider"], "Acme Managed Services");
    assert_eq!(h["window"]["from"], "2024-10-01");
    assert_eq!(h["window"]["days"], 273);
    let keys: Vec<&str> = h["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, hosts);
    assert_eq!(h["summary"]["hosts"], 3);
    // db01 reported on 2024-12-01 and ILMT knew nothing of it before the snapshot's period.
    let db01_dec = h["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["host_key"] == hosts[0] && p["from"] == "2024-12-01")
        .expect("a db01 period from its first report");
    assert_eq!(db01_dec["coverage"], "uncovered");
    assert_eq!(db01_dec["fails"], true);
    let failing: Vec<&str> = h["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["failing_days"].as_u64().unwrap() > 0)
        .map(|r| r["host_key"].as_str().unwrap())
        .collect();
    assert_eq!(
        failing,
        [hosts[0], hosts[1]],
        "web01 reported after the window"
    );
    assert_eq!(h["coverage_over_time"]["granularity"], "week");
    let products: Vec<&str> = h["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product_name"].as_str().unwrap())
        .collect();
    assert_eq!(products, ["IBM Db2", "IBM MQ"]);
    let quarters: Vec<(&str, &str)> = h["snapshot_quarters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["quarter"].as_str().unwrap(),
                q["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        quarters,
        [
            ("2024-Q4", "SNAPSHOT_GAP"),
            ("2025-Q1", "covered"),
            ("2025-Q2", "SNAPSHOT_GAP")
        ]
    );
    assert_eq!(h["summary"]["snapshot_problems"], 1);

    // The manifest: each output, and each input with the hash of its bytes.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for o in m["outputs"].as_array().unwrap() {
        let f = dir.join(o["file"].as_str().unwrap());
        assert_eq!(o["sha256"], sha256sum(&f), "{o}");
        assert_eq!(o["size"], std::fs::metadata(&f).unwrap().len(), "{o}");
    }
    let inputs = m["inputs"].as_array().unwrap();
    let import = inputs
        .iter()
        .find(|i| i["kind"] == "ilmt_import")
        .expect("the ILMT import is an input");
    assert_eq!(import["file_name"], "audit_snapshot_20250401_0815.zip");
    assert_eq!(import["sha256"], sha256sum(&zip));
    let files: Vec<(&str, &str)> = inputs
        .iter()
        .filter(|i| i["kind"] == "snapshot_file")
        .map(|i| {
            (
                i["file_name"].as_str().unwrap(),
                i["sha256"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("audit_snapshot_20250401_0815.zip", sha256sum(&zip).as_str()),
            (
                "tampered_audit_snapshot_20250401_0815.zip",
                sha256sum(&tampered).as_str()
            ),
        ]
    );

    // The CSV files are the same rows.
    let hosts_csv = std::fs::read_to_string(dir.join("hosts.csv")).unwrap();
    assert!(hosts_csv.starts_with("host_key,coverage,codes,fails_now,"));
    assert_eq!(hosts_csv.lines().count(), 1 + hosts.len());
    let periods_csv = std::fs::read_to_string(dir.join("periods.csv")).unwrap();
    assert_eq!(
        periods_csv.lines().count(),
        1 + h["periods"].as_array().unwrap().len()
    );

    // The page, rendered by Chromium.
    let page = dir.join("report.html");
    let (dom, log) = chromium(&page, &["--dump-dom".to_string()]);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "the page logged: {console:#?}");
    assert_eq!(text_of(&dom, "errors"), "", "the page reported an error");
    let s = &h["summary"];
    assert_eq!(figure(&dom, "fig-hosts"), as_f64(&s["hosts"]));
    assert_eq!(figure(&dom, "fig-uncovered"), as_f64(&s["uncovered_now"]));
    assert_eq!(figure(&dom, "fig-failing-now"), as_f64(&s["failing_now"]));
    assert_eq!(
        figure(&dom, "fig-failing-window"),
        as_f64(&s["failing_hosts_in_window"])
    );
    assert!((figure(&dom, "fig-exposed-now") - as_f64(&s["exposed_pvu_now"])).abs() < 0.01);
    assert!((figure(&dom, "fig-peak") - as_f64(&s["peak_exposed_pvu_in_window"])).abs() < 0.01);
    assert_eq!(figure(&dom, "fig-snapshot-gaps"), 2.0);
    // The page checked its embedded data against the SHA-256 it names: handoff.json's.
    assert!(
        dom.contains("id=\"json-check\" class=\"check-ok\""),
        "{}",
        text_of(&dom, "json-check")
    );
    assert_eq!(
        text_of(&dom, "json-sha256"),
        sha256sum(&dir.join("handoff.json"))
    );
    // Each host is a row of the hosts table, drawn by the script (not the embedded JSON).
    let table = element(&dom, "t-hosts", "tbody");
    assert_eq!(table.matches("<tr").count(), 1 + hosts.len(), "{table}");
    for host in hosts {
        assert!(
            table.contains(&format!("<td>{host}</td>")),
            "{host}: {table}"
        );
    }
    // The chart: one bar group per week, and the failing line.
    let chart = element(&dom, "chart", "svg");
    assert!(chart.contains("<polyline"), "{chart}");
    let bars: usize = h["coverage_over_time"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            [
                "covered",
                "stale",
                "uncovered",
                "not_required",
                "superseded",
            ]
            .iter()
            .filter(|s| p[**s].as_u64().unwrap() > 0)
            .count()
        })
        .sum();
    assert!(bars > 0);
    assert_eq!(chart.matches("<rect").count(), bars);

    // The screenshot, kept as an artifact with the folder it shows.
    let art = artifacts();
    let shot = art.join("handoff-report.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000".to_string(),
        ],
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000);
    let kept = art.join("handoff");
    let _ = std::fs::remove_dir_all(&kept);
    std::fs::create_dir_all(&kept).unwrap();
    for n in &names {
        std::fs::copy(dir.join(n), kept.join(n)).unwrap();
    }

    // `subcap report verify`: unchanged, then with one figure changed, then with the inputs.
    let verify = |d: &Path, extra: &[&str]| {
        let mut args = vec![
            "report".to_string(),
            "verify".to_string(),
            d.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // No operator.toml needed: the config does not exist.
        subcap(&work.path().join("none.toml"), &args)
    };
    let out = verify(&dir, &["--inputs", &snaps_s]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("OK: input tampered_audit_snapshot_20250401_0815.zip"),
        "{text}"
    );
    assert!(
        text.ends_with("the report is as it was written\n"),
        "{text}"
    );

    let csv = dir.join("hosts.csv");
    std::fs::write(&csv, hosts_csv.replacen("db01", "db02", 1)).unwrap();
    let out = verify(&dir, &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED: hosts.csv: SHA-256"), "{text}");
    let check = Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("hosts.csv: FAILED"));

    // A folder with files is refused, and bad dates are bad arguments.
    let out = handoff(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    let out = handoff(&["--force"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(verify(&dir, &[]).status.code(), Some(0));
    let out = subcap(
        &op,
        &["report", "handoff", "--out", &dir_s, "--from", "2025-13-01"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from: \"2025-13-01\" is not a date"));
}
