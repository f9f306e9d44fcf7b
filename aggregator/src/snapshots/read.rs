//! The I/O edge of the check: a folder of audit snapshots, each a zip as ILMT exports it
//! (`audit_snapshot_<date>_<time>.zip`) or a folder it was extracted into, turned into plain
//! [`Snapshot`] descriptions. Every file `checksums.txt` lists is verified, `data_condition.txt`
//! gives the period and the warnings.
//!
//! Reading one snapshot never fails the whole check: an archive that cannot be read becomes an
//! [`Integrity::Unreadable`] snapshot naming the file and the problem, and the others are read. Only
//! a folder that cannot be listed is an error. Zips are read with the crate's bounded reader (entry
//! count, sizes, compression ratio) and members are hashed one at a time.

use std::path::Path;

use thiserror::Error;

use super::condition;
use super::coverage::{Failure, Integrity, Period, Snapshot};
use crate::ilmt::csv::decode;
use crate::ilmt::snapshot::{
    parse_checksums, parse_data_condition, CHECKSUMS, DATA_CONDITION, NOT_CHECKSUMMED,
};
use crate::ilmt::zip::Archive;
use crate::ilmt::Limits;

/// The snapshot folder itself cannot be read.
#[derive(Debug, Error)]
#[error("{dir}: cannot list the snapshot folder: {source}")]
pub struct ReadError {
    pub dir: String,
    #[source]
    pub source: std::io::Error,
}

/// Every snapshot in `dir`: each `*.zip` file, and each sub-folder that holds a `checksums.txt` or
/// a `data_condition.txt` (an extracted snapshot), by name. Other entries are ignored.
pub fn read_dir(dir: &Path, limits: &Limits) -> Result<Vec<Snapshot>, ReadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReadError {
        dir: dir.display().to_string(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ReadError {
            dir: dir.display().to_string(),
            source,
        })?;
        paths.push(entry.path());
    }
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Follows symbolic links: a folder of links to the archive is fine.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                if name.to_lowercase().ends_with(".zip") {
                    out.push(unreadable(&name, format!("cannot read: {e}")));
                }
                continue;
            }
        };
        if meta.is_file() && name.to_lowercase().ends_with(".zip") {
            out.push(read_zip(&path, &name, meta.len(), limits));
        } else if meta.is_dir() && is_extracted_snapshot(&path) {
            out.push(read_folder(&path, &format!("{name}/"), limits));
        }
    }
    Ok(out)
}

fn is_extracted_snapshot(path: &Path) -> bool {
    [CHECKSUMS, DATA_CONDITION]
        .iter()
        .any(|f| path.join(f).is_file())
}

fn unreadable(file: &str, problem: String) -> Snapshot {
    Snapshot {
        file: file.to_string(),
        period: Period::Unknown("the snapshot cannot be read".into()),
        integrity: Integrity::Unreadable(problem),
        warnings: Vec::new(),
    }
}

fn read_zip(path: &Path, name: &str, len: u64, limits: &Limits) -> Snapshot {
    if usize::try_from(len).map_or(true, |l| l > limits.max_input_bytes) {
        return unreadable(
            name,
            format!(
                "{len} bytes is more than the {} bytes accepted",
                limits.max_input_bytes
            ),
        );
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return unreadable(name, format!("cannot read: {e}")),
    };
    let archive = match Archive::open(&bytes, limits) {
        Ok(a) => a,
        Err(p) => {
            let problem = match p.member {
                Some(m) => format!("{m}: {}", p.problem),
                None => p.problem,
            };
            return unreadable(name, problem);
        }
    };
    let members: Vec<String> = archive
        .entries()
        .iter()
        .map(|e| e.base_name().to_string())
        .collect();
    let mut budget = limits.max_total_uncompressed;
    let mut read = |member: &str| -> Result<Vec<u8>, String> {
        let entry = archive
            .find(member)
            .ok_or_else(|| "not in the archive".to_string())?;
        archive
            .read(entry, limits, &mut budget)
            .map_err(|p| p.problem)
    };
    inspect(name, &members, &mut read)
}

fn read_folder(path: &Path, name: &str, limits: &Limits) -> Snapshot {
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => return unreadable(name, format!("cannot list the folder: {e}")),
    };
    let mut members: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    members.sort();
    let mut read = |member: &str| -> Result<Vec<u8>, String> {
        let file = members
            .iter()
            .find(|m| m.eq_ignore_ascii_case(member))
            .ok_or_else(|| "not in the folder".to_string())?;
        let file = path.join(file);
        let len = std::fs::metadata(&file).map_err(|e| e.to_string())?.len();
        if usize::try_from(len).map_or(true, |l| l > limits.max_entry_bytes) {
            return Err(format!(
                "{len} bytes, more than the {} accepted for one file",
                limits.max_entry_bytes
            ));
        }
        std::fs::read(&file).map_err(|e| e.to_string())
    };
    inspect(name, &members, &mut read)
}

/// Verifies one snapshot's members (base names in `members`, bytes from `read`) against its
/// `checksums.txt` and reads its `data_condition.txt`. The same for a zip and a folder.
fn inspect(
    file: &str,
    members: &[String],
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Snapshot {
    let has = |n: &str| members.iter().any(|m| m.eq_ignore_ascii_case(n));
    if !has(CHECKSUMS) && !has(DATA_CONDITION) {
        return unreadable(
            file,
            format!("no {CHECKSUMS} and no {DATA_CONDITION}: not an ILMT audit snapshot"),
        );
    }
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let fail = |member: &str, problem: String| Failure {
        member: member.to_string(),
        problem,
    };
    // 1. checksums.txt, and every file it lists.
    let mut data_condition: Option<Vec<u8>> = None;
    let mut listed: Vec<String> = Vec::new();
    let sums = if has(CHECKSUMS) {
        read(CHECKSUMS)
            .and_then(|b| {
                decode(CHECKSUMS, &b)
                    .map(|t| t.into_owned())
                    .map_err(|e| e.problem)
            })
            .and_then(|text| {
                parse_checksums(&text).map_err(|(line, problem)| format!("line {line}: {problem}"))
            })
            .map_err(|problem| failures.push(fail(CHECKSUMS, problem)))
            .ok()
    } else {
        failures.push(fail(
            CHECKSUMS,
            "missing: nothing in the snapshot can be verified".into(),
        ));
        None
    };
    for sum in sums.iter().flatten() {
        let base = sum.base_name();
        listed.push(base.to_lowercase());
        if !has(base) {
            failures.push(fail(
                base,
                format!("listed in {CHECKSUMS} line {} but missing", sum.line),
            ));
            continue;
        }
        match read(base) {
            Err(problem) => failures.push(fail(base, problem)),
            Ok(data) => {
                if sum.verify(&data).is_err() {
                    failures.push(fail(
                        base,
                        format!(
                            "does not match its {} in {CHECKSUMS} line {}: changed after ILMT \
                             produced the snapshot",
                            sum.algorithm.name(),
                            sum.line
                        ),
                    ));
                }
                if base.eq_ignore_ascii_case(DATA_CONDITION) {
                    data_condition = Some(data);
                }
            }
        }
    }
    if sums.is_some() {
        if has(DATA_CONDITION) && !listed.iter().any(|l| l == DATA_CONDITION) {
            failures.push(fail(
                DATA_CONDITION,
                format!("not listed in {CHECKSUMS}: the snapshot's period cannot be verified"),
            ));
        }
        for m in members {
            let lower = m.to_lowercase();
            if !listed.contains(&lower) && !NOT_CHECKSUMMED.contains(&lower.as_str()) {
                warnings.push(format!("{m}: not listed in {CHECKSUMS}, not verified"));
            }
        }
    }
    // 2. data_condition.txt: the period and the warnings.
    let bytes = match data_condition {
        Some(b) => Ok(b),
        None if has(DATA_CONDITION) => read(DATA_CONDITION),
        None => Err("missing".to_string()),
    };
    let parsed = bytes
        .and_then(|b| {
            decode(DATA_CONDITION, &b)
                .map(|t| t.into_owned())
                .map_err(|e| e.problem)
        })
        .and_then(|text| {
            parse_data_condition(&text).map_err(|(line, problem)| format!("line {line}: {problem}"))
        });
    let period = match parsed {
        Err(problem) => Period::Unknown(format!("{DATA_CONDITION}: {problem}")),
        Ok(dc) => {
            warnings.extend(condition::warnings(&dc));
            match (dc.start, dc.end) {
                (Some(start), Some(end)) if end < start => Period::Unknown(format!(
                    "{DATA_CONDITION}: the period ends ({end}) before it starts ({start})"
                )),
                (Some(start), Some(end)) => Period::Known { start, end },
                (None, Some(_)) => Period::Unknown(format!("{DATA_CONDITION} gives no start date")),
                (Some(_), None) => Period::Unknown(format!("{DATA_CONDITION} gives no end date")),
                (None, None) => {
                    Period::Unknown(format!("{DATA_CONDITION} gives no start or end date"))
                }
            }
        }
    };
    Snapshot {
        file: file.to_string(),
        period,
        integrity: if failures.is_empty() {
            Integrity::Verified
        } else {
            Integrity::Mismatch(failures)
        },
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ilmt::snapshot::Algorithm;
    use crate::ilmt::zip::write::{zip, Member};

    const DC: &str = "Start Date:\n\tJan 1, 2025\nEnd Date:\n\tMar 31, 2025\n\
                      Number of disconnected computers:\n\t1 (1%).\n";

    fn sums(files: &[(&str, &[u8])]) -> String {
        files
            .iter()
            .map(|(n, d)| format!("{}  {n}\n", Algorithm::Sha256.digest_hex(d)))
            .collect()
    }

    /// Runs `inspect` over in-memory members.
    fn inspect_members(members: &[(&str, &[u8])]) -> Snapshot {
        let names: Vec<String> = members.iter().map(|(n, _)| n.to_string()).collect();
        let mut read = |name: &str| -> Result<Vec<u8>, String> {
            members
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, d)| d.to_vec())
                .ok_or_else(|| "not there".to_string())
        };
        inspect("s.zip", &names, &mut read)
    }

    fn failures(s: &Snapshot) -> Vec<String> {
        match &s.integrity {
            Integrity::Mismatch(f) => f
                .iter()
                .map(|f| format!("{}: {}", f.member, f.problem))
                .collect(),
            Integrity::Unreadable(p) => vec![p.clone()],
            Integrity::Verified => Vec::new(),
        }
    }

    #[test]
    fn verifies_and_reads_the_period() {
        let pvu = b"Computer\nc1\n".as_slice();
        let good = sums(&[
            ("data_condition.txt", DC.as_bytes()),
            ("pvu_sub_capacity.csv", pvu),
        ]);
        let s = inspect_members(&[
            ("checksums.txt", good.as_bytes()),
            ("data_condition.txt", DC.as_bytes()),
            ("pvu_sub_capacity.csv", pvu),
            ("signature.rsa", b"sig"),
            ("notes.txt", b"unlisted"),
        ]);
        assert_eq!(s.integrity, Integrity::Verified);
        assert_eq!(
            s.period,
            Period::Known {
                start: crate::ilmt::CivilDate::new(2025, 1, 1).unwrap(),
                end: crate::ilmt::CivilDate::new(2025, 3, 31).unwrap(),
            }
        );
        assert_eq!(
            s.warnings,
            [
                "notes.txt: not listed in checksums.txt, not verified",
                "Number of disconnected computers: 1 (1%)",
            ]
        );
    }

    #[test]
    fn what_makes_a_snapshot_fail() {
        let pvu = b"Computer\nc1\n".as_slice();
        let good = sums(&[
            ("data_condition.txt", DC.as_bytes()),
            ("pvu_sub_capacity.csv", pvu),
        ]);
        let no_dc_sum = sums(&[("pvu_sub_capacity.csv", pvu)]);
        let dc_only = sums(&[("data_condition.txt", DC.as_bytes())]);
        let changed_dc = DC.replace("Mar 31", "Jun 30");
        let with_ghost = sums(&[
            ("data_condition.txt", DC.as_bytes()),
            ("cloud_paks.csv", b"x"),
        ]);
        // (what, members, expected failures, period known?)
        type Members<'a> = Vec<(&'a str, &'a [u8])>;
        let cases: Vec<(&str, Members, Vec<&str>, bool)> = vec![
            (
                "a changed file",
                vec![
                    ("checksums.txt", good.as_bytes()),
                    ("data_condition.txt", DC.as_bytes()),
                    ("pvu_sub_capacity.csv", b"Computer\nc2\n"),
                ],
                vec![
                    "pvu_sub_capacity.csv: does not match its SHA-256 in checksums.txt line 2: \
                     changed after ILMT produced the snapshot",
                ],
                true,
            ),
            (
                "a changed data_condition.txt: the period is still read, but fails",
                vec![
                    ("checksums.txt", good.as_bytes()),
                    ("data_condition.txt", changed_dc.as_bytes()),
                    ("pvu_sub_capacity.csv", pvu),
                ],
                vec![
                    "data_condition.txt: does not match its SHA-256 in checksums.txt line 1: \
                     changed after ILMT produced the snapshot",
                ],
                true,
            ),
            (
                "no checksums.txt",
                vec![("data_condition.txt", DC.as_bytes())],
                vec!["checksums.txt: missing: nothing in the snapshot can be verified"],
                true,
            ),
            (
                "data_condition.txt not listed",
                vec![
                    ("checksums.txt", no_dc_sum.as_bytes()),
                    ("data_condition.txt", DC.as_bytes()),
                    ("pvu_sub_capacity.csv", pvu),
                ],
                vec![
                    "data_condition.txt: not listed in checksums.txt: the snapshot's period \
                     cannot be verified",
                ],
                true,
            ),
            (
                "a listed file is missing",
                vec![
                    ("checksums.txt", with_ghost.as_bytes()),
                    ("data_condition.txt", DC.as_bytes()),
                ],
                vec!["cloud_paks.csv: listed in checksums.txt line 2 but missing"],
                true,
            ),
            (
                "checksums.txt is not a checksum list",
                vec![
                    ("checksums.txt", b"hello world\n"),
                    ("data_condition.txt", DC.as_bytes()),
                ],
                vec![
                    "checksums.txt: line 1: \"hello world\" is not a checksum line (expected \
                     '<hex>  <file>')",
                ],
                true,
            ),
            (
                "no data_condition.txt: verified, period unknown",
                vec![("checksums.txt", b""), ("pvu_sub_capacity.csv", pvu)],
                vec![],
                false,
            ),
            (
                "not a snapshot",
                vec![("readme.txt", b"hi")],
                vec!["no checksums.txt and no data_condition.txt: not an ILMT audit snapshot"],
                false,
            ),
            (
                "only data_condition.txt, listed",
                vec![
                    ("checksums.txt", dc_only.as_bytes()),
                    ("data_condition.txt", DC.as_bytes()),
                ],
                vec![],
                true,
            ),
        ];
        for (what, members, want, known) in cases {
            let s = inspect_members(&members);
            assert_eq!(failures(&s), want, "{what}");
            assert_eq!(matches!(s.period, Period::Known { .. }), known, "{what}");
        }
    }

    #[test]
    fn period_problems_are_named() {
        let cases = [
            (
                "Start Date: 2025-01-01\n",
                "data_condition.txt gives no end date",
            ),
            (
                "End Date: 2025-01-01\n",
                "data_condition.txt gives no start date",
            ),
            (
                "Time Zone: GMT\n",
                "data_condition.txt gives no start or end date",
            ),
            (
                "Start Date: 2025-03-01\nEnd Date: 2025-01-01\n",
                "data_condition.txt: the period ends (2025-01-01) before it starts (2025-03-01)",
            ),
            (
                "Start Date:\n\tsoon\n",
                "data_condition.txt: line 2: \"soon\" is not a date",
            ),
        ];
        for (dc, want) in cases {
            let listed = sums(&[("data_condition.txt", dc.as_bytes())]);
            let s = inspect_members(&[
                ("checksums.txt", listed.as_bytes()),
                ("data_condition.txt", dc.as_bytes()),
            ]);
            assert_eq!(s.integrity, Integrity::Verified, "{dc:?}");
            match &s.period {
                Period::Unknown(why) => assert!(why.starts_with(want), "{dc:?}: {why}"),
                Period::Known { .. } => panic!("{dc:?}: period known"),
            }
        }
    }

    #[test]
    fn folder_of_zips_and_extracted_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let listed = sums(&[("data_condition.txt", DC.as_bytes())]);
        let good = zip(&[
            Member {
                name: "checksums.txt",
                data: listed.as_bytes(),
                deflate: false,
                declared_size: None,
            },
            Member {
                name: "data_condition.txt",
                data: DC.as_bytes(),
                deflate: true,
                declared_size: None,
            },
        ]);
        let write = |name: &str, data: &[u8]| {
            std::fs::write(dir.path().join(name), data).unwrap();
        };
        write("a_good.ZIP", &good);
        write("b_not_a_zip.zip", b"name,os\n");
        let mut damaged = good.clone();
        // Flip a byte of the stored checksums.txt (after the 30-byte local header and its 13-byte
        // name): its CRC-32 no longer holds.
        if let Some(b) = damaged.get_mut(45) {
            *b ^= 0x01;
        }
        write("c_damaged.zip", &damaged);
        write("notes.txt", b"not a snapshot, ignored");
        let extracted = dir.path().join("d_extracted");
        std::fs::create_dir(&extracted).unwrap();
        std::fs::write(extracted.join("checksums.txt"), listed.as_bytes()).unwrap();
        std::fs::write(extracted.join("DATA_CONDITION.TXT"), DC.as_bytes()).unwrap();
        std::fs::create_dir(dir.path().join("e_other_folder")).unwrap();

        let got = read_dir(dir.path(), &Limits::default()).unwrap();
        let summary: Vec<(String, &str)> = got
            .iter()
            .map(|s| (s.file.clone(), s.integrity.code()))
            .collect();
        assert_eq!(
            summary,
            [
                ("a_good.ZIP".to_string(), "ok"),
                ("b_not_a_zip.zip".to_string(), "UNREADABLE"),
                ("c_damaged.zip".to_string(), "CHECKSUM_MISMATCH"),
                ("d_extracted/".to_string(), "ok"),
            ]
        );
        assert!(matches!(got[0].period, Period::Known { .. }));
        assert_eq!(
            failures(&got[1]),
            ["not a zip archive (no end of central directory record)"]
        );
        assert_eq!(
            failures(&got[2]),
            ["checksums.txt: CRC-32 mismatch: the entry is damaged"]
        );
        let missing = dir.path().join("nowhere");
        let err = read_dir(&missing, &Limits::default()).err();
        assert!(err.is_some_and(|e| e.to_string().contains("nowhere: cannot list")));
    }
}
