//! `subcap snapshots check DIR`: whether the ILMT audit snapshots kept in a folder prove IBM's
//! condition "an audit report at least once per calendar quarter, kept two years": which snapshot
//! covers each quarter of the window, whether its checksums hold, what its data condition warns
//! about, and `SNAPSHOT_GAP` for each quarter that is not covered. Runs offline: no aggregator.
//!
//! Read [`check`] first. The pieces: [`crate::domain::quarter`] (calendar quarters and the window),
//! [`coverage`] (the rule: which snapshots cover which days; pure), [`condition`] (data-condition
//! warnings; pure), [`read`] (the I/O edge: zips and extracted folders, checksums verified) and
//! [`report`] (the table and notes; pure).
//!
//! Why a folder of its own and not `domain/`: `domain/` reconciles hosts (agent reports against
//! ILMT's computers) into per-host findings with PVU exposure, and knows no files. This check is
//! about the estate's evidence files, has no host and no PVU, and needs its own I/O edge; one
//! folder keeps the pure rule and the reading of files side by side, named for what they do. The
//! handoff report (issue 5) can call [`check_dir`] for the same answer.

pub mod condition;
pub mod coverage;
pub mod read;
pub mod report;

use std::path::Path;
use std::time::SystemTime;

pub use coverage::{evaluate, Evaluation, Finding, Integrity, Period, Snapshot};
pub use read::ReadError;

use crate::ilmt::{CivilDate, Limits, UtcTime};
use crate::ops::output::Format;

/// The default window: IBM's retention period, two years (eight quarters).
pub const DEFAULT_YEARS: u32 = 2;

/// What [`check`] prints and whether there are findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The table in the format asked for (standard output).
    pub output: String,
    /// Problems, warnings and a summary (standard error).
    pub notes: Vec<String>,
    /// Gaps, checksum failures, unreadable snapshots: `snapshots check` exits 1 when any.
    pub findings: Vec<Finding>,
}

/// Reads every snapshot in `dir` and evaluates the `4 * years` quarters that ended before `as_of`.
pub fn check_dir(
    dir: &Path,
    years: u32,
    as_of: CivilDate,
    limits: &Limits,
) -> Result<report::Report, ReadError> {
    let snapshots = read::read_dir(dir, limits)?;
    let window = crate::domain::quarter::window(as_of, years);
    let evaluation = evaluate(&snapshots, &window);
    let mut r = report::report(&snapshots, &evaluation, as_of);
    if snapshots.is_empty() {
        r.notes.insert(
            0,
            format!(
                "{}: no audit snapshot (*.zip, or an extracted snapshot folder)",
                dir.display()
            ),
        );
    }
    Ok(r)
}

/// `subcap snapshots check`: [`check_dir`] rendered in `format`.
pub fn check(
    dir: &Path,
    years: u32,
    as_of: CivilDate,
    format: Format,
) -> Result<Outcome, ReadError> {
    let r = check_dir(dir, years, as_of, &Limits::default())?;
    Ok(Outcome {
        output: r.table.render(format),
        notes: r.notes,
        findings: r.findings,
    })
}

/// Today in UTC, from the system clock.
pub fn today() -> CivilDate {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UtcTime::from_unix(i64::try_from(secs).unwrap_or(0)).date()
}

/// `--as-of DATE`: `YYYY-MM-DD`.
pub fn parse_date_arg(text: &str) -> Result<CivilDate, String> {
    let t = text.trim();
    let bad = || format!("{t:?} is not a date (YYYY-MM-DD)");
    let mut parts = t.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse(), m.parse(), d.parse()) else {
        return Err(bad());
    };
    CivilDate::new(y, m, d).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_argument() {
        let cases = [
            ("2026-05-10", Ok("2026-05-10")),
            (" 2024-02-29 ", Ok("2024-02-29")),
            (
                "2023-02-29",
                Err("\"2023-02-29\" is not a date (YYYY-MM-DD)"),
            ),
            (
                "10.05.2026",
                Err("\"10.05.2026\" is not a date (YYYY-MM-DD)"),
            ),
            ("2026-5-10", Err("\"2026-5-10\" is not a date (YYYY-MM-DD)")),
            ("", Err("\"\" is not a date (YYYY-MM-DD)")),
        ];
        for (text, want) in cases {
            let got = parse_date_arg(text).map(|d| d.to_string());
            assert_eq!(
                got,
                want.map(String::from).map_err(String::from),
                "{text:?}"
            );
        }
    }

    #[test]
    fn today_is_a_plausible_date() {
        // The clock is outside input; only check that it is read, not what it says.
        assert!(today().year() >= 2024);
    }
}
