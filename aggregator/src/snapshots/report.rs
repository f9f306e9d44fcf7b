//! The check's answer as a `subcap` table, one row per quarter and snapshot, and the notes for a
//! person (every checksum problem and warning in full, and a summary). Pure.

use super::coverage::{Evaluation, Finding, Integrity, Period, Snapshot, CHECKSUM_MISMATCH};
use super::coverage::{SNAPSHOT_GAP, UNREADABLE};
use crate::domain::quarter::{range_text, Quarter};
use crate::ilmt::CivilDate;
use crate::ops::output::Table;

/// The columns of `subcap snapshots check`, the same in table, CSV and JSON.
pub const COLUMNS: &[&str] = &[
    "quarter",
    "status",
    "snapshot",
    "period",
    "checksums",
    "warnings",
    "uncovered",
    "detail",
];

/// What the check prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub table: Table,
    /// Lines for standard error: each problem and warning in full, then a summary.
    pub notes: Vec<String>,
    pub findings: Vec<Finding>,
}

fn period_text(s: &Snapshot) -> String {
    match &s.period {
        Period::Known { start, end } => {
            range_text(start.days_since_epoch(), end.days_since_epoch())
        }
        Period::Unknown(_) => String::new(),
    }
}

/// The integrity problem in a few words: the first failure, and how many more.
fn integrity_detail(s: &Snapshot) -> String {
    match &s.integrity {
        Integrity::Verified => String::new(),
        Integrity::Unreadable(problem) => problem.clone(),
        Integrity::Mismatch(failures) => match failures.split_first() {
            None => String::new(),
            Some((first, [])) => format!("{}: {}", first.member, first.problem),
            Some((first, rest)) => format!(
                "{}: {} (and {} more)",
                first.member,
                first.problem,
                rest.len()
            ),
        },
    }
}

/// Builds the table (quarters oldest first, each with the snapshots overlapping it, then the
/// snapshots of unknown period with an empty quarter) and the notes.
pub fn report(snapshots: &[Snapshot], eval: &Evaluation, as_of: CivilDate) -> Report {
    let mut table = Table::new(COLUMNS);
    for q in &eval.quarters {
        let uncovered: Vec<String> = q.uncovered.iter().map(|&(a, b)| range_text(a, b)).collect();
        let uncovered = uncovered.join(" ");
        if q.snapshots.is_empty() {
            table.push(vec![
                q.quarter.to_string(),
                q.status().to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                uncovered,
                "no snapshot for this quarter".to_string(),
            ]);
            continue;
        }
        for s in q.snapshots.iter().filter_map(|&i| snapshots.get(i)) {
            table.push(vec![
                q.quarter.to_string(),
                q.status().to_string(),
                s.file.clone(),
                period_text(s),
                s.integrity.code().to_string(),
                s.warnings.len().to_string(),
                uncovered.clone(),
                integrity_detail(s),
            ]);
        }
    }
    for s in eval.unplaced.iter().filter_map(|&i| snapshots.get(i)) {
        let detail = match (&s.integrity, &s.period) {
            (Integrity::Unreadable(_), _) => integrity_detail(s),
            (Integrity::Mismatch(_), Period::Unknown(why)) => {
                format!("{why}; {}", integrity_detail(s))
            }
            (_, Period::Unknown(why)) => why.clone(),
            (_, Period::Known { .. }) => integrity_detail(s),
        };
        table.push(vec![
            String::new(),
            String::new(),
            s.file.clone(),
            period_text(s),
            s.integrity.code().to_string(),
            s.warnings.len().to_string(),
            String::new(),
            detail,
        ]);
    }
    let findings = eval.findings(snapshots);
    Report {
        notes: notes(snapshots, eval, as_of, &findings),
        table,
        findings,
    }
}

fn notes(
    snapshots: &[Snapshot],
    eval: &Evaluation,
    as_of: CivilDate,
    findings: &[Finding],
) -> Vec<String> {
    let mut out = Vec::new();
    let mut listed: Vec<usize> = Vec::new();
    for &i in eval
        .quarters
        .iter()
        .flat_map(|q| q.snapshots.iter())
        .chain(eval.unplaced.iter())
    {
        if !listed.contains(&i) {
            listed.push(i);
        }
    }
    for s in listed.iter().filter_map(|&i| snapshots.get(i)) {
        match &s.integrity {
            Integrity::Verified => {}
            Integrity::Unreadable(p) => out.push(format!("{}: {UNREADABLE}: {p}", s.file)),
            Integrity::Mismatch(failures) => {
                for f in failures {
                    out.push(format!(
                        "{}: {CHECKSUM_MISMATCH}: {}: {}",
                        s.file, f.member, f.problem
                    ));
                }
            }
        }
        if let (Period::Unknown(why), false) =
            (&s.period, matches!(s.integrity, Integrity::Unreadable(_)))
        {
            out.push(format!("{}: {why}; placed in no quarter", s.file));
        }
        for w in &s.warnings {
            out.push(format!("{}: warning: {w}", s.file));
        }
    }
    let (first, last) = match (eval.quarters.first(), eval.quarters.last()) {
        (Some(f), Some(l)) => (f.quarter, l.quarter),
        _ => {
            let q = Quarter::of(as_of).prev();
            (q, q)
        }
    };
    if !eval.outside.is_empty() {
        let files: Vec<&str> = eval
            .outside
            .iter()
            .filter_map(|&i| snapshots.get(i))
            .map(|s| s.file.as_str())
            .collect();
        out.push(format!(
            "{} snapshot(s) outside {first}..{last}, not checked: {}",
            files.len(),
            files.join(", ")
        ));
    }
    let gaps = findings.iter().filter(|f| f.code() == SNAPSHOT_GAP).count();
    let count = |code: &str| findings.iter().filter(|f| f.code() == code).count();
    out.push(format!(
        "{} quarter(s) {first}..{last} as of {as_of}: {} covered, {gaps} {SNAPSHOT_GAP}; \
         {} {CHECKSUM_MISMATCH}, {} {UNREADABLE}",
        eval.quarters.len(),
        eval.quarters.len().saturating_sub(gaps),
        count(CHECKSUM_MISMATCH),
        count(UNREADABLE),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::coverage::{evaluate, Failure};
    use super::*;
    use crate::domain::quarter::window;
    use crate::ops::output::Format;

    fn date(y: i32, m: u8, d: u8) -> CivilDate {
        CivilDate::new(y, m, d).unwrap()
    }

    #[test]
    fn one_row_per_quarter_and_snapshot() {
        let snapshots = vec![
            Snapshot {
                file: "q3.zip".into(),
                period: Period::Known {
                    start: date(2025, 7, 1),
                    end: date(2025, 9, 30),
                },
                integrity: Integrity::Verified,
                warnings: vec!["Computers with outdated capacity scans: 6%".into()],
            },
            Snapshot {
                file: "q4.zip".into(),
                period: Period::Known {
                    start: date(2025, 10, 1),
                    end: date(2025, 12, 31),
                },
                integrity: Integrity::Mismatch(vec![
                    Failure {
                        member: "pvu_sub_capacity.csv".into(),
                        problem: "does not match".into(),
                    },
                    Failure {
                        member: "cloud_paks.csv".into(),
                        problem: "does not match".into(),
                    },
                ]),
                warnings: Vec::new(),
            },
            Snapshot {
                file: "undated/".into(),
                period: Period::Unknown("data_condition.txt gives no start date".into()),
                integrity: Integrity::Verified,
                warnings: Vec::new(),
            },
        ];
        let w = window(date(2026, 2, 1), 1);
        let e = evaluate(&snapshots, &w);
        let r = report(&snapshots, &e, date(2026, 2, 1));
        assert_eq!(
            r.table.render(Format::Csv),
            "quarter,status,snapshot,period,checksums,warnings,uncovered,detail\r\n\
             2025-Q1,SNAPSHOT_GAP,,,,,2025-01-01..2025-03-31,no snapshot for this quarter\r\n\
             2025-Q2,SNAPSHOT_GAP,,,,,2025-04-01..2025-06-30,no snapshot for this quarter\r\n\
             2025-Q3,covered,q3.zip,2025-07-01..2025-09-30,ok,1,,\r\n\
             2025-Q4,SNAPSHOT_GAP,q4.zip,2025-10-01..2025-12-31,CHECKSUM_MISMATCH,0,\
             2025-10-01..2025-12-31,pvu_sub_capacity.csv: does not match (and 1 more)\r\n\
             ,,undated/,,ok,0,,data_condition.txt gives no start date\r\n"
        );
        assert_eq!(
            r.notes,
            [
                "q3.zip: warning: Computers with outdated capacity scans: 6%",
                "q4.zip: CHECKSUM_MISMATCH: pvu_sub_capacity.csv: does not match",
                "q4.zip: CHECKSUM_MISMATCH: cloud_paks.csv: does not match",
                "undated/: data_condition.txt gives no start date; placed in no quarter",
                "4 quarter(s) 2025-Q1..2025-Q4 as of 2026-02-01: 1 covered, 3 SNAPSHOT_GAP; \
                 1 CHECKSUM_MISMATCH, 0 UNREADABLE",
            ]
        );
        assert_eq!(r.findings.len(), 4);
    }
}
