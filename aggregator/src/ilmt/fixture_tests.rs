//! Tests over the fixture files in `tests/fixtures/ilmt`: every case directory is parsed and
//! compared with its `expected.json` / `expected-error.txt` (`UPDATE_EXPECT=1` rewrites them), and
//! the facts the fixtures were written to show are asserted one by one.

use std::fs;
use std::path::{Path, PathBuf};

use super::model::{ComputerType, HardwareStatus, IlmtComputer, Import};
use super::time::parse_time;
use super::{csv, json, snapshot, Aliases, ImportError, Limits};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ilmt")
}

/// The input file of a case: the one `.json`, `.csv` or `.zip` that is not an expected file.
fn input_of(dir: &Path) -> PathBuf {
    let mut inputs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file()
                && !name.starts_with("expected")
                && [".json", ".csv", ".zip"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
        })
        .collect();
    assert_eq!(
        inputs.len(),
        1,
        "{}: one input file expected",
        dir.display()
    );
    inputs.remove(0)
}

/// Parses a case by its directory name.
fn run(case: &str) -> Result<Import, ImportError> {
    let dir = root().join(case);
    let input = input_of(&dir);
    let name = input.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let bytes = fs::read(&input).unwrap();
    let limits = Limits::default();
    if case.starts_with("v2") {
        json::parse_v2(name, &bytes, &limits)
    } else if case.starts_with("v1") {
        json::parse_v1(name, &bytes, &limits)
    } else if case.starts_with("csv") {
        csv::parse_report(name, &bytes, Aliases::builtin(), &limits)
    } else if case.starts_with("snapshot") {
        snapshot::parse_snapshot(name, &bytes, Aliases::builtin(), &limits)
    } else {
        panic!("{case}: no parser for this directory name (see the README)");
    }
}

fn ok(case: &str) -> Import {
    match run(case) {
        Ok(import) => import,
        Err(e) => panic!("{case}: {e}"),
    }
}

fn by_name<'i>(import: &'i Import, name: &str) -> Vec<&'i IlmtComputer> {
    import
        .computers
        .iter()
        .filter(|c| c.name.as_deref() == Some(name))
        .collect()
}

#[test]
fn every_case_matches_its_expected_output() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut cases: Vec<String> = fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(cases.len() >= 7, "{cases:?}");
    let mut mismatched = Vec::new();
    for case in &cases {
        let dir = root().join(case);
        let (file, actual) = match run(case) {
            Ok(import) => (
                "expected.json",
                serde_json::to_string_pretty(&import).unwrap() + "\n",
            ),
            Err(e) => ("expected-error.txt", format!("{e}\n")),
        };
        let path = dir.join(file);
        let other = dir.join(if file == "expected.json" {
            "expected-error.txt"
        } else {
            "expected.json"
        });
        if update {
            fs::write(&path, &actual).unwrap();
            let _ = fs::remove_file(&other);
            continue;
        }
        assert!(
            !other.exists(),
            "{case}: {} exists but the parser gave the other outcome:\n{actual}",
            other.display()
        );
        let expected = fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            mismatched.push(format!("{case}/{file}"));
        }
    }
    assert!(
        mismatched.is_empty(),
        "differ from the parser's output (UPDATE_EXPECT=1 rewrites them; review the diff): {mismatched:?}"
    );
}

#[test]
fn v2_fixture_shows_duplicates_staleness_and_default_counting() {
    let import = ok("v2-nested");
    assert_eq!(import.computers.len(), 7);
    assert_eq!(import.declared_total, Some(7));
    let db01 = by_name(&import, "db01");
    assert_eq!(db01.len(), 2, "a duplicate name is kept, not merged");
    assert_ne!(db01[0].id, db01[1].id);
    assert_ne!(db01[0].bigfix_id, db01[1].bigfix_id);

    let cutoff = parse_time("2025-01-01T00:00:00Z").unwrap();
    let stale: Vec<&str> = import
        .computers
        .iter()
        .filter(|c| c.is_deleted == Some(false) && c.last_seen.is_some_and(|t| t < cutoff))
        .filter_map(|c| c.name.as_deref())
        .collect();
    assert_eq!(stale, vec!["app7"]);

    let web3 = by_name(&import, "web3")[0];
    assert_eq!(web3.status, Some(HardwareStatus::MissingVmManagerData));
    assert!(web3
        .server_name
        .as_deref()
        .unwrap_or("")
        .starts_with("TLM_VM_"));
    assert_eq!(web3.default_pvu_value, Some(true));
    assert_eq!(web3.node_total_processors, None);
    assert_eq!(web3.ip_addresses, vec!["192.168.50.13", "10.20.40.13"]);
    let defaults: Vec<&str> = import
        .computers
        .iter()
        .filter(|c| c.default_counting())
        .filter_map(|c| c.name.as_deref())
        .collect();
    assert_eq!(defaults, vec!["web3"]);

    let lpar = by_name(&import, "lpar1")[0];
    assert_eq!(
        (lpar.entitlement, lpar.is_capped, lpar.online_vp_count),
        (Some(1.5), Some(false), Some(2.0))
    );
    let phys = by_name(&import, "phys1")[0];
    assert_eq!(phys.computer_type, Some(ComputerType::Physical));
    assert_eq!(phys.custom_pvu_per_core, Some(true));
    let gone = by_name(&import, "old-batch2")[0];
    assert_eq!(gone.is_deleted, Some(true));
    assert_eq!(
        gone.computer_type, None,
        "computer_hardware: null is unknown"
    );
    assert_eq!(gone.deletion_date, parse_time("2025-01-10T09:00:00Z"));
}

#[test]
fn v2_nested_and_flat_fixtures_decode_alike() {
    let nested = ok("v2-nested");
    let flat = ok("v2-flat");
    assert_eq!(nested.computers, flat.computers);
    assert_ne!(nested.sha256, flat.sha256);
}

#[test]
fn v1_fixture_keeps_the_hierarchy_and_maps_to_v2_names() {
    let import = ok("v1");
    assert_eq!(import.computers.len(), 3);
    let host = &import.computers[0];
    assert_eq!(host.id, None, "an ESX host has no ILMT computer");
    assert_eq!(host.computer_type, Some(ComputerType::Physical));
    assert_eq!(host.server_cores, Some(64.0));
    let app7 = by_name(&import, "app7")[0];
    assert_eq!(app7.parent_id, host.computer_system_id);
    assert_eq!((app7.id, app7.bigfix_id), (Some(1003), Some(1_622_000_102)));
    assert_eq!(app7.server_vendor, None, "\"-\" is unknown");
    let web3 = by_name(&import, "web3")[0];
    assert_eq!(
        web3.hardware_serial_number.as_deref(),
        Some("TLM_VM_4236ac43")
    );
    assert!(web3.default_counting());
}

#[test]
fn english_and_german_csv_exports_give_the_same_computers() {
    let en = ok("csv-en");
    let de = ok("csv-de");
    assert_eq!(en.computers.len(), 6);
    assert_eq!(en.computers, de.computers);
    let app7 = by_name(&en, "app7")[0];
    assert_eq!(app7.os.as_deref(), Some("Windows Server 2019, Datacenter"));
    assert_eq!(app7.status, Some(HardwareStatus::MissingScanData));
    // The record after the multi-line comment (lines 4-5) starts on line 6.
    assert_eq!(by_name(&en, "web3")[0].source_row, 6);
    assert_eq!(by_name(&de, "lpar1")[0].partition_cores, Some(1.5));
    for import in [&en, &de] {
        assert!(
            import.warnings[0].message.contains("columns not used"),
            "{:?}",
            import.warnings
        );
    }
}

#[test]
fn snapshot_fixture_reads_period_versions_and_computers_once() {
    let import = ok("snapshot");
    assert_eq!(import.format_version.as_deref(), Some("9.2.38.0"));
    assert_eq!(
        import.period_start.map(|d| d.to_string()).as_deref(),
        Some("2025-01-01")
    );
    assert_eq!(
        import.period_end.map(|d| d.to_string()).as_deref(),
        Some("2025-03-31")
    );
    assert_eq!(import.pvu_table_version.as_deref(), Some("2025-02-11"));
    assert_eq!(import.catalog_version.as_deref(), Some("10.0.7.0-20250301"));
    let names: Vec<&str> = import
        .computers
        .iter()
        .filter_map(|c| c.name.as_deref())
        .collect();
    assert_eq!(
        names,
        vec!["db01", "app7", "web3", "lpar1", "phys1", "old-batch2"]
    );
    let db01 = by_name(&import, "db01")[0];
    assert_eq!(
        db01.partition_cores,
        Some(4.0),
        "first row's value, not 4 + 4 + 6"
    );
    assert_eq!(db01.server_cores, Some(64.0));
    assert_eq!(db01.pvu_per_core, Some(70.0));
    assert!(import.warnings.iter().any(|w| w
        .message
        .contains("computer \"db01\": rows disagree (4 on line 2, 6 on line 4)")));
    assert_eq!(by_name(&import, "lpar1")[0].partition_cores, Some(1.5));
    let phys1 = by_name(&import, "phys1")[0];
    assert_eq!(
        (phys1.custom_pvu_per_core, phys1.pvu_per_core),
        (Some(true), Some(100.0))
    );
    assert_eq!(by_name(&import, "old-batch2")[0].is_deleted, Some(true));
    assert!(by_name(&import, "web3")[0].default_counting());
}

#[test]
fn tampered_snapshot_is_refused_naming_the_file() {
    let err = run("snapshot-tampered").err().unwrap();
    assert_eq!(
        err.file,
        "audit_snapshot_20250401_0815.zip!pvu_sub_capacity.csv"
    );
    assert!(
        err.problem.contains("does not match checksums.txt line 2"),
        "{err}"
    );
}
