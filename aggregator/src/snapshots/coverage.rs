//! Which audit snapshots cover which quarter: pure, over plain descriptions of the snapshots (no
//! files, no clock).
//!
//! The rule, as an auditor reads IBM's "a report at least once per quarter, kept two years": a
//! quarter is **covered** when every one of its days lies in the period of at least one snapshot
//! whose checksums hold. A snapshot's period (`data_condition.txt` start and end dates) is
//! inclusive: ILMT reports from the first date 00:00:00 to the second date 23:59:59. So:
//! - a snapshot spanning two quarters covers its days in each;
//! - snapshots may overlap, and several may together cover one quarter;
//! - a snapshot that ends mid-quarter leaves the rest of that quarter uncovered unless another
//!   covers it: partial coverage is a [`SNAPSHOT_GAP`] naming the days that are missing, since
//!   the PVU peak of those days is recorded nowhere;
//! - a snapshot whose checksums fail covers nothing: it is no longer what ILMT produced, an auditor
//!   would refuse it, and counting it would hide the gap. It is still listed under the quarters its
//!   period claims, as [`CHECKSUM_MISMATCH`] (regenerate it in ILMT: historical snapshots can be
//!   produced again);
//! - a snapshot whose period is unknown (no dates in `data_condition.txt`) covers nothing and is
//!   placed in no quarter.

use crate::domain::quarter::Quarter;
use crate::ilmt::CivilDate;

/// A quarter of the window with a day that no valid snapshot covers.
pub const SNAPSHOT_GAP: &str = "SNAPSHOT_GAP";
/// A snapshot whose files do not match its `checksums.txt` (or that has none).
pub const CHECKSUM_MISMATCH: &str = "CHECKSUM_MISMATCH";
/// A snapshot file that cannot be read at all (not a zip, damaged archive, unreadable file).
pub const UNREADABLE: &str = "UNREADABLE";
/// The status of a quarter every day of which is covered.
pub const COVERED: &str = "covered";

/// One audit snapshot as the check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The file (or folder) name in the snapshot folder.
    pub file: String,
    pub period: Period,
    pub integrity: Integrity,
    /// Data-condition warnings and other notes that do not make the snapshot invalid.
    pub warnings: Vec<String>,
}

/// The period a snapshot reports on, from its `data_condition.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Period {
    /// Start and end dates, inclusive.
    Known { start: CivilDate, end: CivilDate },
    /// Why the period is not known.
    Unknown(String),
}

/// Whether a snapshot's files are what ILMT produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// Every file `checksums.txt` lists is present and matches.
    Verified,
    /// At least one problem; each names the file it is about.
    Mismatch(Vec<Failure>),
    /// The snapshot could not be read at all.
    Unreadable(String),
}

/// One checksum problem: the file (member of the snapshot) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub member: String,
    pub problem: String,
}

impl Integrity {
    /// `ok`, `CHECKSUM_MISMATCH` or `UNREADABLE`.
    pub fn code(&self) -> &'static str {
        match self {
            Integrity::Verified => "ok",
            Integrity::Mismatch(_) => CHECKSUM_MISMATCH,
            Integrity::Unreadable(_) => UNREADABLE,
        }
    }
}

impl Snapshot {
    /// Its period as inclusive day numbers, when known and not reversed.
    pub fn days(&self) -> Option<(i64, i64)> {
        match &self.period {
            Period::Known { start, end } if start <= end => {
                Some((start.days_since_epoch(), end.days_since_epoch()))
            }
            _ => None,
        }
    }

    /// Whether it counts as evidence: checksums verified and period known.
    pub fn counts(&self) -> bool {
        self.integrity == Integrity::Verified && self.days().is_some()
    }
}

/// One quarter of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarterCoverage {
    pub quarter: Quarter,
    /// Every snapshot whose period overlaps the quarter, valid or not (indices into the list given
    /// to [`evaluate`]), by period start, then file name.
    pub snapshots: Vec<usize>,
    /// The days of the quarter that no valid snapshot covers, as inclusive ranges of day numbers,
    /// in order. Empty: the quarter is covered.
    pub uncovered: Vec<(i64, i64)>,
}

impl QuarterCoverage {
    pub fn covered(&self) -> bool {
        self.uncovered.is_empty()
    }

    /// `covered` or `SNAPSHOT_GAP`.
    pub fn status(&self) -> &'static str {
        if self.covered() {
            COVERED
        } else {
            SNAPSHOT_GAP
        }
    }
}

/// The coverage of a window by a list of snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The window's quarters, oldest first.
    pub quarters: Vec<QuarterCoverage>,
    /// Snapshots placed in no quarter because their period is unknown.
    pub unplaced: Vec<usize>,
    /// Snapshots whose period lies entirely outside the window (kept longer than needed).
    pub outside: Vec<usize>,
}

/// Something an auditor would hold against the record; any one makes `snapshots check` exit 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A quarter with uncovered days.
    SnapshotGap { quarter: Quarter },
    /// A snapshot in the window (or of unknown period) whose checksums fail.
    ChecksumMismatch { snapshot: usize },
    /// A snapshot in the window (or of unknown period) that cannot be read.
    Unreadable { snapshot: usize },
}

impl Finding {
    pub fn code(&self) -> &'static str {
        match self {
            Finding::SnapshotGap { .. } => SNAPSHOT_GAP,
            Finding::ChecksumMismatch { .. } => CHECKSUM_MISMATCH,
            Finding::Unreadable { .. } => UNREADABLE,
        }
    }
}

/// Places `snapshots` in the quarters of `window` (consecutive, oldest first, as
/// [`crate::domain::quarter::window`] gives them) and finds each quarter's uncovered days.
pub fn evaluate(snapshots: &[Snapshot], window: &[Quarter]) -> Evaluation {
    let mut order: Vec<usize> = (0..snapshots.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| snapshots.get(i).map(|s| (s.days(), s.file.as_str()));
        key(a).cmp(&key(b))
    });
    let mut quarters = Vec::with_capacity(window.len());
    for &quarter in window {
        let (first, last) = (quarter.first_day(), quarter.last_day());
        let overlapping: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| {
                snapshots
                    .get(i)
                    .and_then(Snapshot::days)
                    .is_some_and(|(s, e)| s <= last && e >= first)
            })
            .collect();
        let covering: Vec<(i64, i64)> = overlapping
            .iter()
            .filter_map(|&i| snapshots.get(i))
            .filter(|s| s.counts())
            .filter_map(Snapshot::days)
            .map(|(s, e)| (s.max(first), e.min(last)))
            .collect();
        quarters.push(QuarterCoverage {
            quarter,
            snapshots: overlapping,
            uncovered: uncovered(first, last, covering),
        });
    }
    let (window_first, window_last) = match (window.first(), window.last()) {
        (Some(f), Some(l)) => (f.first_day(), l.last_day()),
        _ => (i64::MAX, i64::MIN),
    };
    let mut unplaced = Vec::new();
    let mut outside = Vec::new();
    for &i in &order {
        match snapshots.get(i).and_then(Snapshot::days) {
            None => unplaced.push(i),
            Some((s, e)) if e < window_first || s > window_last => outside.push(i),
            Some(_) => {}
        }
    }
    Evaluation {
        quarters,
        unplaced,
        outside,
    }
}

/// The days of `first..=last` outside every range of `covering` (each within it).
fn uncovered(first: i64, last: i64, mut covering: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    covering.sort_unstable();
    let mut gaps = Vec::new();
    // The first day not yet known to be covered.
    let mut next = first;
    for (s, e) in covering {
        if s > next {
            gaps.push((next, s - 1));
        }
        next = next.max(e + 1);
    }
    if next <= last {
        gaps.push((next, last));
    }
    gaps
}

impl Evaluation {
    /// The findings: each quarter's gap, oldest first, then each invalid snapshot in the order the
    /// table lists them (under the quarters, then those of unknown period). A snapshot listed under
    /// two quarters is one finding; one entirely outside the window is none.
    pub fn findings(&self, snapshots: &[Snapshot]) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let listed = self
            .quarters
            .iter()
            .flat_map(|q| q.snapshots.iter())
            .chain(self.unplaced.iter());
        for q in &self.quarters {
            if !q.covered() {
                out.push(Finding::SnapshotGap { quarter: q.quarter });
            }
        }
        for &i in listed {
            if seen.contains(&i) {
                continue;
            }
            seen.push(i);
            match snapshots.get(i).map(|s| &s.integrity) {
                Some(Integrity::Mismatch(_)) => out.push(Finding::ChecksumMismatch { snapshot: i }),
                Some(Integrity::Unreadable(_)) => out.push(Finding::Unreadable { snapshot: i }),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::quarter::{range_text, window};

    fn date(text: &str) -> CivilDate {
        crate::ilmt::time::parse_date(text).unwrap_or_else(|| panic!("bad test date {text}"))
    }

    fn snap(file: &str, start: &str, end: &str, integrity: Integrity) -> Snapshot {
        Snapshot {
            file: file.into(),
            period: Period::Known {
                start: date(start),
                end: date(end),
            },
            integrity,
            warnings: Vec::new(),
        }
    }

    fn ok(file: &str, start: &str, end: &str) -> Snapshot {
        snap(file, start, end, Integrity::Verified)
    }

    fn tampered(file: &str, start: &str, end: &str) -> Snapshot {
        snap(
            file,
            start,
            end,
            Integrity::Mismatch(vec![Failure {
                member: "pvu_sub_capacity.csv".into(),
                problem: "does not match".into(),
            }]),
        )
    }

    fn unknown(file: &str, why: &str) -> Snapshot {
        Snapshot {
            file: file.into(),
            period: Period::Unknown(why.into()),
            integrity: Integrity::Verified,
            warnings: Vec::new(),
        }
    }

    /// One quarter's outcome as text: `quarter status [files] uncovered`.
    fn describe(e: &Evaluation, snapshots: &[Snapshot]) -> Vec<String> {
        e.quarters
            .iter()
            .map(|q| {
                let files: Vec<&str> = q
                    .snapshots
                    .iter()
                    .filter_map(|&i| snapshots.get(i))
                    .map(|s| s.file.as_str())
                    .collect();
                let gaps: Vec<String> =
                    q.uncovered.iter().map(|&(a, b)| range_text(a, b)).collect();
                format!(
                    "{} {} [{}] {}",
                    q.quarter,
                    q.status(),
                    files.join(" "),
                    gaps.join(" ")
                )
                .trim_end()
                .to_string()
            })
            .collect()
    }

    #[test]
    fn quarters_covered_partly_covered_or_not() {
        // Each case: the snapshots, the as-of date (two-year window unless said), and the expected
        // line per quarter of the window.
        struct Case {
            name: &'static str,
            snapshots: Vec<Snapshot>,
            as_of: &'static str,
            years: u32,
            want: Vec<&'static str>,
        }
        let cases = vec![
            Case {
                name: "exact quarters, one missing",
                snapshots: vec![
                    ok("q1.zip", "2025-01-01", "2025-03-31"),
                    ok("q2.zip", "2025-04-01", "2025-06-30"),
                    ok("q4.zip", "2025-10-01", "2025-12-31"),
                ],
                as_of: "2026-01-15",
                years: 1,
                want: vec![
                    "2025-Q1 covered [q1.zip]",
                    "2025-Q2 covered [q2.zip]",
                    "2025-Q3 SNAPSHOT_GAP [] 2025-07-01..2025-09-30",
                    "2025-Q4 covered [q4.zip]",
                ],
            },
            Case {
                name: "one snapshot spanning two quarters covers both",
                snapshots: vec![ok("half.zip", "2025-01-01", "2025-06-30")],
                as_of: "2025-07-01",
                years: 1,
                want: vec![
                    "2024-Q3 SNAPSHOT_GAP [] 2024-07-01..2024-09-30",
                    "2024-Q4 SNAPSHOT_GAP [] 2024-10-01..2024-12-31",
                    "2025-Q1 covered [half.zip]",
                    "2025-Q2 covered [half.zip]",
                ],
            },
            Case {
                name: "ends mid-quarter: the rest is a gap until another snapshot covers it",
                snapshots: vec![
                    ok("a.zip", "2025-01-01", "2025-05-15"),
                    ok("b.zip", "2025-07-01", "2025-09-30"),
                    ok("c.zip", "2025-10-01", "2025-11-30"),
                    ok("d.zip", "2025-11-15", "2025-12-31"),
                ],
                as_of: "2026-02-01",
                years: 1,
                want: vec![
                    "2025-Q1 covered [a.zip]",
                    "2025-Q2 SNAPSHOT_GAP [a.zip] 2025-05-16..2025-06-30",
                    "2025-Q3 covered [b.zip]",
                    // Overlapping snapshots: together they cover the quarter.
                    "2025-Q4 covered [c.zip d.zip]",
                ],
            },
            Case {
                name: "overlaps and duplicates, a hole of one day",
                snapshots: vec![
                    ok("x2.zip", "2025-01-01", "2025-03-31"),
                    ok("x1.zip", "2025-01-01", "2025-03-31"),
                    ok("y.zip", "2025-02-01", "2025-05-31"),
                    ok("z.zip", "2025-06-02", "2025-06-30"),
                ],
                as_of: "2025-07-01",
                years: 1,
                want: vec![
                    "2024-Q3 SNAPSHOT_GAP [] 2024-07-01..2024-09-30",
                    "2024-Q4 SNAPSHOT_GAP [] 2024-10-01..2024-12-31",
                    "2025-Q1 covered [x1.zip x2.zip y.zip]",
                    "2025-Q2 SNAPSHOT_GAP [y.zip z.zip] 2025-06-01",
                ],
            },
            Case {
                name: "leap year: 29 February must be covered too",
                snapshots: vec![
                    ok("jan-feb28.zip", "2024-01-01", "2024-02-28"),
                    ok("mar.zip", "2024-03-01", "2024-03-31"),
                    ok("q1-2023.zip", "2023-01-01", "2023-02-28"),
                    ok("mar-2023.zip", "2023-03-01", "2023-03-31"),
                ],
                as_of: "2024-04-01",
                years: 2,
                want: vec![
                    "2022-Q2 SNAPSHOT_GAP [] 2022-04-01..2022-06-30",
                    "2022-Q3 SNAPSHOT_GAP [] 2022-07-01..2022-09-30",
                    "2022-Q4 SNAPSHOT_GAP [] 2022-10-01..2022-12-31",
                    // 2023 is not a leap year: the same split covers its Q1.
                    "2023-Q1 covered [q1-2023.zip mar-2023.zip]",
                    "2023-Q2 SNAPSHOT_GAP [] 2023-04-01..2023-06-30",
                    "2023-Q3 SNAPSHOT_GAP [] 2023-07-01..2023-09-30",
                    "2023-Q4 SNAPSHOT_GAP [] 2023-10-01..2023-12-31",
                    "2024-Q1 SNAPSHOT_GAP [jan-feb28.zip mar.zip] 2024-02-29",
                ],
            },
            Case {
                name: "failed checksums do not cover; listed under the quarter they claim",
                snapshots: vec![
                    tampered("bad.zip", "2025-01-01", "2025-03-31"),
                    tampered("bad2.zip", "2025-04-01", "2025-06-30"),
                    ok("good2.zip", "2025-04-01", "2025-06-30"),
                ],
                as_of: "2025-07-01",
                years: 1,
                want: vec![
                    "2024-Q3 SNAPSHOT_GAP [] 2024-07-01..2024-09-30",
                    "2024-Q4 SNAPSHOT_GAP [] 2024-10-01..2024-12-31",
                    "2025-Q1 SNAPSHOT_GAP [bad.zip] 2025-01-01..2025-03-31",
                    "2025-Q2 covered [bad2.zip good2.zip]",
                ],
            },
            Case {
                name: "period unknown: placed nowhere, covers nothing",
                snapshots: vec![
                    unknown("nodates.zip", "data_condition.txt gives no start date"),
                    ok("q2.zip", "2025-04-01", "2025-06-30"),
                ],
                as_of: "2025-07-01",
                years: 1,
                want: vec![
                    "2024-Q3 SNAPSHOT_GAP [] 2024-07-01..2024-09-30",
                    "2024-Q4 SNAPSHOT_GAP [] 2024-10-01..2024-12-31",
                    "2025-Q1 SNAPSHOT_GAP [] 2025-01-01..2025-03-31",
                    "2025-Q2 covered [q2.zip]",
                ],
            },
            Case {
                name: "a snapshot reaching past as-of covers what it covers",
                snapshots: vec![ok("long.zip", "2024-01-01", "2026-12-31")],
                as_of: "2025-03-01",
                years: 1,
                want: vec![
                    "2024-Q1 covered [long.zip]",
                    "2024-Q2 covered [long.zip]",
                    "2024-Q3 covered [long.zip]",
                    "2024-Q4 covered [long.zip]",
                ],
            },
        ];
        for case in cases {
            let w = window(date(case.as_of), case.years);
            let e = evaluate(&case.snapshots, &w);
            assert_eq!(describe(&e, &case.snapshots), case.want, "{}", case.name);
        }
    }

    #[test]
    fn unplaced_outside_and_findings() {
        let snapshots = vec![
            ok("old.zip", "2020-01-01", "2020-03-31"),
            tampered("old-bad.zip", "2020-04-01", "2020-06-30"),
            unknown("nodates.zip", "no start date"),
            Snapshot {
                file: "broken.zip".into(),
                period: Period::Unknown("not a zip archive".into()),
                integrity: Integrity::Unreadable("not a zip archive".into()),
                warnings: Vec::new(),
            },
            tampered("span.zip", "2025-03-01", "2025-04-30"),
            ok("q1.zip", "2025-01-01", "2025-03-31"),
            // Reversed period: treated as unknown.
            ok("reversed.zip", "2025-06-30", "2025-04-01"),
        ];
        let w = window(date("2025-07-01"), 1);
        let e = evaluate(&snapshots, &w);
        let files = |list: &[usize]| -> Vec<String> {
            list.iter()
                .filter_map(|&i| snapshots.get(i))
                .map(|s| s.file.clone())
                .collect()
        };
        assert_eq!(files(&e.outside), ["old.zip", "old-bad.zip"]);
        assert_eq!(
            files(&e.unplaced),
            ["broken.zip", "nodates.zip", "reversed.zip"]
        );
        let findings: Vec<String> = e
            .findings(&snapshots)
            .iter()
            .map(|f| match f {
                Finding::SnapshotGap { quarter } => format!("{} {quarter}", f.code()),
                Finding::ChecksumMismatch { snapshot } | Finding::Unreadable { snapshot } => {
                    format!("{} {}", f.code(), files(&[*snapshot]).concat())
                }
            })
            .collect();
        // span.zip is listed under Q1 and Q2 but is one finding; the bad snapshot outside the
        // window is none.
        assert_eq!(
            findings,
            [
                "SNAPSHOT_GAP 2024-Q3",
                "SNAPSHOT_GAP 2024-Q4",
                "SNAPSHOT_GAP 2025-Q2",
                "CHECKSUM_MISMATCH span.zip",
                "UNREADABLE broken.zip",
            ]
        );
        let all_good = vec![ok("y.zip", "2024-07-01", "2025-06-30")];
        assert!(evaluate(&all_good, &w).findings(&all_good).is_empty());
    }

    #[test]
    fn uncovered_sweep() {
        // (quarter days, covering ranges, gaps)
        type Ranges = &'static [(i64, i64)];
        let cases: [(i64, i64, Ranges, Ranges); 6] = [
            (1, 10, &[], &[(1, 10)]),
            (1, 10, &[(1, 10)], &[]),
            (1, 10, &[(3, 4), (1, 2), (5, 10)], &[]),
            (
                1,
                10,
                &[(2, 3), (3, 5), (8, 9)],
                &[(1, 1), (6, 7), (10, 10)],
            ),
            (1, 10, &[(1, 9), (2, 4)], &[(10, 10)]),
            (1, 10, &[(5, 5), (5, 5)], &[(1, 4), (6, 10)]),
        ];
        for (first, last, covering, want) in cases {
            assert_eq!(
                uncovered(first, last, covering.to_vec()),
                want.to_vec(),
                "{covering:?}"
            );
        }
    }
}
