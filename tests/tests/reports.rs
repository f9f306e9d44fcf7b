//! Whole-report snapshots: every host fixture's report, as `subcap-agent scan --format json` prints
//! it, must equal its `expected.json`. `UPDATE_EXPECT=1 cargo test -p subcap-tests --test reports`
//! rewrites them when a change is meant; review the diff in the commit.

use subcap_tests::{fixture_names, fixtures_dir, scan_fixture_dir, HOSTS, IBM_HOSTS};

#[test]
fn every_fixture_report_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let names: Vec<(&str, String)> = [HOSTS, IBM_HOSTS]
        .into_iter()
        .flat_map(|g| fixture_names(g).into_iter().map(move |n| (g, n)))
        .collect();
    assert!(
        names.len() >= 30,
        "expected at least 30 host fixtures, found {}",
        names.len()
    );
    let mut failed = Vec::new();
    for (group, name) in &names {
        let dir = fixtures_dir().join(group).join(name);
        let mut report = scan_fixture_dir(&dir, name);
        // The scan root is where the checkout happens to be: not part of the snapshot.
        report.scan_root = format!("tests/fixtures/{group}/{name}/root");
        let got = subcap_agent::render::json(&report).expect("report serializes") + "\n";
        let path = dir.join("expected.json");
        if update {
            std::fs::write(&path, &got).expect("write expected.json");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => failed.push(format!(
                "{group}/{name}: report differs from expected.json\n{}",
                first_difference(&want, &got)
            )),
            Err(e) => failed.push(format!(
                "{group}/{name}: {}: {e} (run with UPDATE_EXPECT=1 to create it)",
                path.display()
            )),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failed.len(),
        names.len(),
        failed.join("\n")
    );
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!(
                "  line {}: expected {w:?}\n  line {}: got      {g:?}",
                i + 1,
                i + 1
            );
        }
    }
    format!(
        "  lengths differ: expected {} lines, got {}",
        want.lines().count(),
        got.lines().count()
    )
}
