//! The Db2 global registry `var/db2/global.reg`: one record per Db2 copy (service record),
//! instance and global variable, which `db2ls`, `db2ilist` and `db2greg -dump` read.
//!
//! The file is binary and its record layout is not published. What is known is the order of the
//! fields `db2greg -dump` prints for each record (`S,DB2,11.5.8.0,/opt/ibm/db2/V11.5,...` for a
//! copy; `I,DB2,11.5.8.0,db2inst1,/home/db2inst1/sqllib,...,/opt/ibm/db2/V11.5,...` for an
//! instance; `V,DB2GPRF,DB2SYSTEM,host,/opt/ibm/db2/V11.5` for a variable), and that the strings
//! are stored as NUL-padded text. So this reader does not decode records: it scans the file's
//! printable strings, takes every absolute path that is not an instance directory (`…/sqllib`,
//! `…/das`) as a Db2 copy, and gives it the version string (`11.5.8.0`) that precedes it in the
//! same record: the nearest one before it, within [`RECORD_WINDOW`] bytes, not already claimed
//! by another path. When records disagree, the version seen most often wins. This is a heuristic
//! over an unconfirmed layout; the install path found is checked against the tree by the caller.

use std::collections::BTreeMap;

use subcap_proto::v1 as pb;
use subcap_proto::vocab::Signature;

use super::{install, rel_path};
use crate::collect::Warnings;
use crate::root::Root;

pub const GLOBAL_REG: &str = "var/db2/global.reg";

/// Largest file read (real registries are a few kilobytes).
pub const READ_LIMIT: u64 = 4 * 1024 * 1024;

/// How far (bytes) a version string may precede the path it belongs to.
pub const RECORD_WINDOW: usize = 1024;

/// One Db2 copy the registry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Db2Copy {
    /// Absolute install path, `/opt/ibm/db2/V11.5`.
    pub path: String,
    /// `11.5.8.0`, empty when no version string was near the path.
    pub version: String,
}

/// The Db2 copies named in the bytes of a `global.reg`, in order of first appearance.
pub fn scan(bytes: &[u8]) -> Vec<Db2Copy> {
    let mut order: Vec<String> = Vec::new();
    let mut votes: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    let mut last_version: Option<(String, usize)> = None;
    for (offset, s) in strings(bytes) {
        if is_version(s) {
            last_version = Some((s.to_string(), offset));
            continue;
        }
        if !is_install_path(s) {
            continue;
        }
        let path = s.trim_end_matches('/').to_string();
        let version = match last_version.take() {
            Some((v, at)) if offset.saturating_sub(at) <= RECORD_WINDOW => Some(v),
            _ => None,
        };
        let entry = votes.entry(path.clone()).or_insert_with(|| {
            order.push(path.clone());
            Vec::new()
        });
        if let Some(v) = version {
            match entry.iter_mut().find(|(seen, _)| *seen == v) {
                Some((_, n)) => *n += 1,
                None => entry.push((v, 1)),
            }
        }
    }
    order
        .into_iter()
        .map(|path| {
            let version = votes
                .get(&path)
                .and_then(|v| {
                    // Most votes; the first seen wins a tie (max_by_key keeps the last maximum).
                    v.iter()
                        .rev()
                        .max_by_key(|(_, n)| *n)
                        .map(|(v, _)| v.clone())
                })
                .unwrap_or_default();
            Db2Copy { path, version }
        })
        .collect()
}

/// Reads the Db2 global registry; returns the copies' install directories (absolute).
pub fn collect(root: &Root, w: &mut Warnings, out: &mut Vec<pb::IbmInstall>) -> Vec<String> {
    let bytes = match root.read_bytes(GLOBAL_REG, READ_LIMIT) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Vec::new(),
        Err(e) => {
            w.read_failed(&e);
            return Vec::new();
        }
    };
    let copies = scan(&bytes);
    if copies.is_empty() {
        w.warn(
            GLOBAL_REG,
            "no Db2 installation path found in the global registry",
        );
    }
    let mut paths = Vec::new();
    for c in copies {
        if !root.is_dir(&rel_path(&c.path)) {
            w.warn(
                GLOBAL_REG,
                format!(
                    "the global registry names Db2 copy {} but it is not a directory here",
                    c.path
                ),
            );
        }
        if c.version.is_empty() {
            w.warn(
                GLOBAL_REG,
                format!("no version string found for Db2 copy {}", c.path),
            );
        }
        out.push(install(
            Signature::Db2GlobalReg,
            "IBM Db2",
            &c.version,
            "",
            "IBM",
            &c.path,
            GLOBAL_REG,
        ));
        paths.push(c.path);
    }
    paths
}

/// Printable ASCII runs of at least two bytes, with their offsets, trimmed.
fn strings(bytes: &[u8]) -> impl Iterator<Item = (usize, &str)> {
    bytes
        .split(|b| !(0x20..=0x7e).contains(b))
        .scan(0usize, |pos, run| {
            let start = *pos;
            *pos += run.len() + 1;
            Some((start, run))
        })
        .filter_map(|(start, run)| {
            let s = std::str::from_utf8(run).ok()?.trim();
            (s.len() >= 2).then_some((start, s))
        })
}

/// `11.5.8.0`, `10.5.0.11`, `11.1.4.7`: three or four dot-separated numbers.
fn is_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (3..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// An absolute path that is not an instance or DAS directory.
fn is_install_path(s: &str) -> bool {
    let s = s.trim_end_matches('/');
    s.starts_with('/')
        && s.len() > 1
        && !s.contains(char::is_whitespace)
        && !s.contains(',')
        && !s.ends_with("/sqllib")
        && !s.contains("/sqllib/")
        && !s.ends_with("/das")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry laid out the way `db2greg -dump` orders the fields, in fixed-size NUL-padded
    /// records (the real record size is not known; the reader must not depend on it).
    fn registry(records: &[&[&str]], record_size: usize) -> Vec<u8> {
        let mut out = vec![0u8; 16];
        out[..4].copy_from_slice(b"\x00\x00\x00\x03");
        for fields in records {
            let mut rec = Vec::new();
            for f in *fields {
                let mut field = f.as_bytes().to_vec();
                field.resize(f.len().div_ceil(8) * 8 + 8, 0);
                rec.extend(field);
            }
            rec.resize(record_size.max(rec.len()), 0);
            out.extend(rec);
        }
        out
    }

    #[test]
    fn table() {
        let one_copy: &[&[&str]] = &[
            &[
                "S",
                "DB2",
                "11.5.8.0",
                "/opt/ibm/db2/V11.5",
                "",
                "",
                "8",
                "0",
            ],
            &[
                "I",
                "DB2",
                "11.5.8.0",
                "db2inst1",
                "/home/db2inst1/sqllib",
                "",
                "1",
                "0",
                "/opt/ibm/db2/V11.5",
            ],
            &["V", "DB2GPRF", "DB2SYSTEM", "db2host", "/opt/ibm/db2/V11.5"],
        ];
        let two_copies: &[&[&str]] = &[
            &[
                "S",
                "DB2",
                "11.1.4.7",
                "/opt/ibm/db2/V11.1",
                "",
                "",
                "4",
                "7",
            ],
            &["V", "DB2GPRF", "DB2SYSTEM", "db2host", "/opt/ibm/db2/V11.1"],
            &[
                "S",
                "DB2",
                "11.5.9.0",
                "/db2/software/11.5.9",
                "",
                "",
                "9",
                "0",
            ],
            &[
                "I",
                "DAS",
                "11.5.9.0",
                "dasusr1",
                "/home/dasusr1/das",
                "",
                "1",
                "0",
                "/db2/software/11.5.9",
            ],
            &[
                "I",
                "DB2",
                "11.5.9.0",
                "db2prod",
                "/db2home/db2prod/sqllib",
                "",
                "1",
                "0",
                "/db2/software/11.5.9",
            ],
        ];
        let no_version: &[&[&str]] =
            &[&["V", "DB2GPRF", "DB2SYSTEM", "db2host", "/opt/ibm/db2/V10.5"]];
        for (records, size, want) in [
            (one_copy, 256, vec![("/opt/ibm/db2/V11.5", "11.5.8.0")]),
            (one_copy, 1000, vec![("/opt/ibm/db2/V11.5", "11.5.8.0")]),
            (
                two_copies,
                300,
                vec![
                    ("/opt/ibm/db2/V11.1", "11.1.4.7"),
                    ("/db2/software/11.5.9", "11.5.9.0"),
                ],
            ),
            (no_version, 200, vec![("/opt/ibm/db2/V10.5", "")]),
        ] {
            let got: Vec<(String, String)> = scan(&registry(records, size))
                .into_iter()
                .map(|c| (c.path, c.version))
                .collect();
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(p, v)| (p.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "record size {size}");
        }
    }

    #[test]
    fn garbage_and_cuts_never_panic() {
        assert!(scan(b"").is_empty());
        assert!(scan(&[0xff; 4096]).is_empty());
        let reg = registry(&[&["S", "DB2", "11.5.8.0", "/opt/ibm/db2/V11.5"]], 256);
        for cut in 0..reg.len() {
            let _ = scan(&reg[..cut]);
        }
        let mut flipped = reg.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0x5a;
            let _ = scan(&flipped);
            flipped[i] ^= 0x5a;
        }
    }

    #[test]
    fn versions_and_paths() {
        for (s, v) in [
            ("11.5.8.0", true),
            ("10.5.0", true),
            ("11.5", false),
            ("a.b.c", false),
            ("1..2.3", false),
        ] {
            assert_eq!(is_version(s), v, "{s}");
        }
        for (s, p) in [
            ("/opt/ibm/db2/V11.5", true),
            ("/home/db2inst1/sqllib", false),
            ("/home/dasusr1/das", false),
            ("/", false),
            ("DB2SYSTEM", false),
        ] {
            assert_eq!(is_install_path(s), p, "{s}");
        }
    }
}
