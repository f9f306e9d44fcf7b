//! The rpm package database, read without rpm or SQLite libraries:
//! - `rpmdb.sqlite` (rpm ≥ 4.16: RHEL 9, Fedora ≥ 33): [`sqlite`];
//! - `Packages` Berkeley DB hash (RHEL 7/8, SLES ≤ 15 SP2): [`bdb`];
//! - `Packages.db` ndb (SLES ≥ 15 SP3, openSUSE): [`ndb`];
//!
//! under `var/lib/rpm` or `usr/lib/sysimage/rpm`. Each stored value is a header blob
//! ([`header`]). The first database found in that order is read; all of it is untrusted input.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;

use std::io;
use std::os::unix::fs::FileExt;

use super::packages::Package;
use crate::collect::Warnings;
use crate::root::Root;

/// Most packages read from one database.
pub const MAX_PACKAGES: usize = 200_000;

/// The databases looked for, in order of preference: (path, format).
pub const DATABASES: &[(&str, Format)] = &[
    ("var/lib/rpm/rpmdb.sqlite", Format::Sqlite),
    ("usr/lib/sysimage/rpm/rpmdb.sqlite", Format::Sqlite),
    ("var/lib/rpm/Packages.db", Format::Ndb),
    ("usr/lib/sysimage/rpm/Packages.db", Format::Ndb),
    ("var/lib/rpm/Packages", Format::Bdb),
    ("usr/lib/sysimage/rpm/Packages", Format::Bdb),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sqlite,
    Bdb,
    Ndb,
}

/// Random access to a database file.
pub trait Source {
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; an error when the file is shorter.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl Source for [u8] {
    fn size(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let src = self.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A file read with positioned reads (the database is never loaded whole).
pub struct FileSource {
    file: std::fs::File,
    len: u64,
}

impl FileSource {
    pub fn new(file: std::fs::File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(FileSource { file, len })
    }
}

impl Source for FileSource {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

/// Why a database could not be read (or not to its end).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    #[error("not a {0} file")]
    NotThisFormat(&'static str),
    #[error("corrupt at page {page}: {what}")]
    Corrupt { page: u64, what: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Limit(String),
}

impl DbError {
    pub fn corrupt(page: u64, what: impl Into<String>) -> Self {
        DbError::Corrupt {
            page,
            what: what.into(),
        }
    }
}

/// The header blobs of a database, and the problems met (blobs read before a fatal error are
/// kept).
pub fn blobs<S: Source + ?Sized>(src: &S, format: Format) -> (Vec<Vec<u8>>, Option<DbError>) {
    let mut out = Vec::new();
    let mut keep = |b: Vec<u8>| {
        out.push(b);
        out.len() < MAX_PACKAGES
    };
    let r = match format {
        Format::Sqlite => sqlite_blobs(src, &mut keep),
        Format::Bdb => bdb::values(src, &mut keep),
        Format::Ndb => ndb::blobs(src, &mut keep),
    };
    let limit = (out.len() >= MAX_PACKAGES).then(|| {
        DbError::Limit(format!(
            "more than {MAX_PACKAGES} packages: the rest is not read"
        ))
    });
    (out, r.err().or(limit))
}

fn sqlite_blobs<S: Source + ?Sized>(
    src: &S,
    keep: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), DbError> {
    let db = sqlite::Db::open(src)?;
    let root = db
        .table_root("Packages")?
        .ok_or_else(|| DbError::corrupt(1, "no Packages table in the schema"))?;
    db.rows(root, &mut |_, payload| {
        let cols = sqlite::record(payload)?;
        match cols.get(1) {
            Some(sqlite::Value::Blob(b)) => Ok(keep(b.to_vec())),
            _ => Ok(true),
        }
    })
}

/// Packages from header blobs; undecodable blobs are counted, not fatal.
pub fn packages(blobs: &[Vec<u8>]) -> (Vec<Package>, usize) {
    let mut bad = 0;
    let mut out: Vec<Package> = blobs
        .iter()
        .filter_map(|b| match header::parse(b) {
            Ok(h) => Some(Package {
                version: h.evr(),
                arch: h.arch,
                vendor: if h.vendor.is_empty() {
                    h.packager
                } else {
                    h.vendor
                },
                summary: h.summary,
                name: h.name,
            }),
            Err(_) => {
                bad += 1;
                None
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.version, &a.arch).cmp(&(&b.name, &b.version, &b.arch)));
    out.dedup();
    (out, bad)
}

/// Reads the rpm database of `root`, if there is one.
pub fn read(root: &Root, w: &mut Warnings) -> Option<(String, Vec<Package>)> {
    let (path, format) = DATABASES.iter().find(|(p, _)| root.exists(p))?;
    let file = match root.open(path) {
        Ok(f) => f,
        Err(e) => {
            w.read_failed(&e);
            return None;
        }
    };
    let src = match FileSource::new(file) {
        Ok(s) => s,
        Err(e) => {
            w.warn(*path, e.to_string());
            return None;
        }
    };
    if *format == Format::Sqlite {
        let wal = format!("{path}-wal");
        if root.metadata(&wal).is_ok_and(|m| m.len() > 0) {
            w.warn(
                wal,
                "the rpm database has changes not yet written back from its write-ahead log; \
                 packages installed or removed in them are not seen",
            );
        }
    }
    let (blobs, err) = blobs(&src, *format);
    if let Some(e) = err {
        w.warn(*path, e.to_string());
    }
    let (packages, bad) = packages(&blobs);
    if bad > 0 {
        w.warn(*path, format!("{bad} package headers could not be decoded"));
    }
    Some((path.to_string(), packages))
}

#[cfg(test)]
mod tests {
    use super::header::{build, TAG_NAME, TAG_RELEASE, TAG_VENDOR, TAG_VERSION};
    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/ibm-hosts")
            .join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn names(db: &[u8], format: Format) -> Vec<(String, String, String)> {
        let (b, err) = blobs(db, format);
        assert!(err.is_none(), "{err:?}");
        let (p, bad) = packages(&b);
        assert_eq!(bad, 0);
        p.into_iter()
            .map(|p| (p.name, p.version, p.vendor))
            .collect()
    }

    /// What `make_rpmdb.sh` installs into both databases.
    fn expected() -> Vec<(String, String, String)> {
        [
            ("MQSeriesRuntime", "9.3.4-0", "IBM"),
            ("MQSeriesServer", "9.3.4-0", "IBM"),
            ("bash", "5.1.8-9.el9", "Red Hat, Inc."),
            ("coreutils", "8.32-35.el9", "Red Hat, Inc."),
            ("glibc", "2.34-100.el9", "Red Hat, Inc."),
            ("ibm-java-x86_64-sdk", "8.0-8.15", "IBM Corporation"),
            ("openssl-libs", "3.0.7-27.el9", "Red Hat, Inc."),
            ("tzdata", "2024a-1.el9", "Red Hat, Inc."),
        ]
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
    }

    #[test]
    fn sqlite_fixture_written_by_rpm() {
        let db = fixture("ibm-rpm/root/var/lib/rpm/rpmdb.sqlite");
        assert_eq!(names(&db, Format::Sqlite), expected());
    }

    #[test]
    fn bdb_fixture_written_by_db_load() {
        let db = fixture("ibm-rpm-bdb/root/var/lib/rpm/Packages");
        assert_eq!(names(&db, Format::Bdb), expected());
    }

    #[test]
    fn read_through_the_root_and_warn_about_an_unmerged_log() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("usr/lib/sysimage/rpm");
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(
            db.join("rpmdb.sqlite"),
            fixture("ibm-rpm/root/var/lib/rpm/rpmdb.sqlite"),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib")).unwrap();
        std::os::unix::fs::symlink("../../usr/lib/sysimage/rpm", dir.path().join("var/lib/rpm"))
            .unwrap();
        let root = Root::new(dir.path());
        let mut w = Warnings::new("ibm_installs");
        let (source, packages) = read(&root, &mut w).unwrap();
        assert_eq!(source, "var/lib/rpm/rpmdb.sqlite");
        assert_eq!(packages.len(), 8);
        assert!(w.is_empty());
        std::fs::write(db.join("rpmdb.sqlite-wal"), b"pending").unwrap();
        // A new scan (a root remembers what it saw for the length of one).
        let root = Root::new(dir.path());
        let mut w = Warnings::new("ibm_installs");
        let _ = read(&root, &mut w);
        let w = w.into_vec();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].source, "var/lib/rpm/rpmdb.sqlite-wal");
    }

    #[test]
    fn ndb_layout() {
        let blobs_in = vec![
            build(&[
                (TAG_NAME, "MQSeriesRuntime"),
                (TAG_VERSION, "9.3.4"),
                (TAG_RELEASE, "0"),
                (TAG_VENDOR, "IBM"),
            ]),
            build(&[(TAG_NAME, "bash"), (TAG_VERSION, "4.4"), (TAG_RELEASE, "1")]),
        ];
        let db = ndb::build(&blobs_in);
        let (b, err) = blobs(&db[..], Format::Ndb);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(b, blobs_in);
    }

    #[test]
    fn wrong_format_is_named() {
        let db = fixture("ibm-rpm/root/var/lib/rpm/rpmdb.sqlite");
        for f in [Format::Bdb, Format::Ndb] {
            assert!(matches!(
                blobs(&db[..], f).1,
                Some(DbError::NotThisFormat(_))
            ));
        }
        let bdb = fixture("ibm-rpm-bdb/root/var/lib/rpm/Packages");
        assert!(matches!(
            blobs(&bdb[..], Format::Sqlite).1,
            Some(DbError::NotThisFormat(_))
        ));
        assert!(matches!(
            blobs(&[][..], Format::Sqlite).1,
            Some(DbError::NotThisFormat(_))
        ));
    }

    /// Deterministic pseudo-random positions (xorshift), so a failure can be replayed.
    fn positions(len: usize, n: usize, mut seed: u64) -> Vec<usize> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % len as u64) as usize
            })
            .collect()
    }

    /// Truncated and corrupted databases: an error or fewer packages, never a panic or a hang.
    fn survives(db: &[u8], format: Format, page: usize) {
        for cut in (0..db.len()).step_by(page / 4) {
            let (b, _) = blobs(&db[..cut], format);
            let _ = packages(&b);
        }
        let mut bytes = db.to_vec();
        let mut targets: Vec<usize> = (0..200.min(db.len())).collect();
        // Every page header and the start of every cell area.
        for p in 0..db.len() / page {
            targets.extend(p * page..p * page + 16);
        }
        targets.extend(positions(db.len(), 1500, 0x9e37_79b9_7f4a_7c15));
        for at in targets {
            for mask in [0xffu8, 0x80, 0x01] {
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= mask;
                }
                let (b, _) = blobs(&bytes[..], format);
                let _ = packages(&b);
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= mask;
                }
            }
        }
    }

    #[test]
    fn sqlite_survives_truncation_and_bit_flips() {
        survives(
            &fixture("ibm-rpm/root/var/lib/rpm/rpmdb.sqlite"),
            Format::Sqlite,
            4096,
        );
    }

    #[test]
    fn bdb_survives_truncation_and_bit_flips() {
        survives(
            &fixture("ibm-rpm-bdb/root/var/lib/rpm/Packages"),
            Format::Bdb,
            4096,
        );
    }

    #[test]
    fn ndb_survives_truncation_and_bit_flips() {
        let db = ndb::build(&[
            build(&[(TAG_NAME, "a"), (TAG_VERSION, "1")]),
            build(&[(TAG_NAME, "b"), (TAG_VERSION, "2")]),
        ]);
        survives(&db, Format::Ndb, 512);
    }
}
