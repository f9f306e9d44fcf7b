//! `subcap-aggregator demo`, the README's first command, run as a user runs it: the real binary,
//! its bundled estate, the repository's fixtures, a real aggregator and agents over mTLS inside.
//! The estate file says what reconciliation should find for each host; these tests hold the
//! printed answer to it.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use subcap_aggregator::demo::estate::Estate;
use subcap_aggregator::domain::{Code, Coverage};
use subcap_tests::binary;

/// Runs `subcap-aggregator demo ARGS` with its temporary folder under `tmp`.
fn demo(tmp: &Path, args: &[&str]) -> Output {
    Command::new(binary("subcap-aggregator"))
        .arg("demo")
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .expect("run subcap-aggregator demo")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rows of a printed table (JSON array of objects) by `host_key`.
fn by_host(rows: &Value) -> HashMap<String, &Value> {
    rows.as_array()
        .expect("an array of rows")
        .iter()
        .map(|r| (r["host_key"].as_str().unwrap_or_default().to_string(), r))
        .collect()
}

fn codes(row: &Value) -> BTreeSet<String> {
    row["codes"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// This machine's hostname, as the agent reads it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_ascii_lowercase()
}

fn is_exposure(cell: &str) -> bool {
    cell == "unknown" || cell.parse::<f64>().is_ok_and(|v| v >= 0.0)
}

#[test]
fn the_demo_finds_what_the_estate_says_and_reports_this_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&demo(tmp.path(), &["--format", "json"]));
    let v: Value = serde_json::from_str(&out).expect("one JSON document");
    let estate = Estate::builtin().unwrap();

    // Every host: its coverage and exactly the finding codes the estate expects.
    let hosts = by_host(&v["hosts"]);
    for h in &estate.hosts {
        let row = hosts
            .get(&h.name)
            .unwrap_or_else(|| panic!("{} was not reported", h.name));
        assert_eq!(
            row["coverage"].as_str(),
            Some(h.expect.coverage.as_str()),
            "{}: {row}",
            h.name
        );
        let want: BTreeSet<String> = h.expect.codes.iter().map(|c| c.to_string()).collect();
        assert_eq!(codes(row), want, "{}: {row}", h.name);
    }

    // The uncovered table: each host the estate marks uncovered, with its exposure.
    let uncovered = by_host(&v["uncovered"]);
    let want_uncovered: BTreeSet<&str> = estate
        .hosts
        .iter()
        .filter(|h| h.expect.coverage == Coverage::Uncovered)
        .map(|h| h.name.as_str())
        .collect();
    assert!(want_uncovered.len() >= 3);
    for name in &want_uncovered {
        let row = uncovered
            .get(*name)
            .unwrap_or_else(|| panic!("{name} missing from the uncovered table"));
        let cell = row["exposed_pvu"].as_str().unwrap_or_default();
        assert!(is_exposure(cell), "{name}: exposed_pvu {cell:?}");
        assert_eq!(row["coverage"], "uncovered");
    }
    // At least one uncovered host's exposure is known (a POWER LPAR's managed system).
    assert!(uncovered
        .values()
        .any(|r| r["exposed_pvu"].as_str().is_some_and(|c| c != "unknown")));

    // The ineligible table: each host the estate expects on ineligible virtualization.
    let ineligible = by_host(&v["ineligible"]);
    for h in estate
        .hosts
        .iter()
        .filter(|h| h.expect.codes.contains(&Code::IneligibleVirtualization))
    {
        let row = ineligible
            .get(&h.name)
            .unwrap_or_else(|| panic!("{} missing from the ineligible table", h.name));
        assert!(is_exposure(row["exposed_pvu"].as_str().unwrap_or_default()));
    }

    // ILMT's side: ghosts (undeleted ILMT-only computers), the duplicate and the stale records.
    let findings = v["findings"].as_array().unwrap();
    let of =
        |code: &str| -> Vec<&Value> { findings.iter().filter(|f| f["code"] == code).collect() };
    let ghosts = of("GHOST");
    for g in estate.ilmt_only.iter() {
        let named = ghosts.iter().any(|f| {
            f["ilmt"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("({})", g.name)))
        });
        assert_eq!(named, g.deleted_days_ago.is_none(), "ghost {}", g.name);
    }
    assert!(!of("DUPLICATE").is_empty());
    assert!(!of("STALE").is_empty());
    // The totals count the same findings.
    assert_eq!(
        v["totals"]["findingsByCode"]["GHOST"].as_str(),
        Some(ghosts.len().to_string().as_str())
    );

    // This machine reported under its own name.
    let me = v["this_machine"].as_str().expect("this machine reported");
    let name = hostname();
    assert!(
        me == name || me.starts_with(&format!("{name}.")),
        "{me} vs {name}"
    );
    assert!(hosts.contains_key(me));

    // The import was the REST API v2 JSON the demo wrote.
    assert_eq!(v["ilmt_import"]["source"], "api_json_v2");
    assert_eq!(v["ilmt_import"]["fileName"], "computers.json");

    // Without --keep the folder is gone.
    let folder = PathBuf::from(v["folder"].as_str().unwrap());
    assert!(folder.starts_with(tmp.path()), "{}", folder.display());
    assert!(!folder.exists(), "{} was left behind", folder.display());
}

#[test]
fn the_table_printout_is_what_subcap_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&demo(tmp.path(), &[]));
    let section = |title: &str| -> &str {
        let start = out
            .find(title)
            .unwrap_or_else(|| panic!("{title} missing:\n{out}"));
        let rest = &out[start..];
        let end = rest[1..].find("\n== ").map_or(rest.len(), |e| e + 1);
        &rest[..end]
    };
    let uncovered = section("== Uncovered hosts (subcap hosts --uncovered)");
    assert!(uncovered.contains("exposed_pvu"));
    for h in Estate::builtin()
        .unwrap()
        .hosts
        .iter()
        .filter(|h| h.expect.coverage == Coverage::Uncovered)
    {
        let row = uncovered
            .lines()
            .find(|l| l.starts_with(&format!("{} ", h.name)))
            .unwrap_or_else(|| panic!("{} missing:\n{uncovered}", h.name));
        let last = row.split_whitespace().last().unwrap_or_default();
        assert!(is_exposure(last), "{row}");
    }
    let findings = section("== Findings (subcap findings)");
    for code in ["GHOST", "DUPLICATE", "STALE", "UNCOVERED", "DEADLINE"] {
        assert!(
            findings.lines().any(|l| l.starts_with(code)),
            "{code} missing"
        );
    }
    assert!(out.contains("findings by code: UNCOVERED "));
    assert!(out.contains("operator.toml hosts --uncovered"));
    assert!(out.contains(&format!("reported as {}", hostname())));
}

#[test]
fn a_missing_fixtures_folder_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-fixtures");
    let out = demo(tmp.path(), &["--fixtures", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("tests/fixtures folder"), "{err}");
}

/// Kills the demo if a test fails while it serves.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn with_keep_subcap_can_ask_until_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Running(
        Command::new(binary("subcap-aggregator"))
            .args(["demo", "--keep"])
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the demo"),
    );
    // The printout ends with the commands to try; the last is `ilmt imports`.
    let stdout = child.0.stdout.take().unwrap();
    let mut config = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read the demo's output");
        if let Some(rest) = line.trim().split(" --config ").nth(1) {
            config = rest.split_whitespace().next().map(PathBuf::from);
        }
        if line.trim_end().ends_with("ilmt imports") {
            break;
        }
    }
    let config = config.expect("the printout names an operator.toml");
    let subcap = Command::new(binary("subcap"))
        .arg("--config")
        .arg(&config)
        .args(["findings", "--code", "GHOST", "--format", "json"])
        .output()
        .expect("run subcap");
    let ghosts: Value = serde_json::from_str(&ok(&subcap)).unwrap();
    assert_eq!(
        ghosts.as_array().map(Vec::len),
        Some(
            Estate::builtin()
                .unwrap()
                .ilmt_only
                .iter()
                .filter(|g| g.deleted_days_ago.is_none())
                .count()
        )
    );

    // Ctrl-C: a graceful stop, and the folder stays.
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let folder = config.parent().unwrap();
    assert!(folder.join("store").is_dir());
    assert!(folder.join("computers.json").is_file());
}
