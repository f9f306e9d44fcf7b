//! The on-disk spool: every collected report is written here before it is sent, and removed only
//! once the aggregator has acknowledged it, so nothing is lost to a crash or an outage.
//!
//! One file per report, `<sequence>.report`, named in collection order (20 digits). A record is
//! `SUBCAPSP` | version (u32 LE, 1) | payload length (u32 LE) | CRC-32 of the payload (u32 LE) |
//! payload (the `HostReport` protobuf). Files are written as `.tmp`, synced, renamed and the folder
//! synced, so a record is either whole or absent. A record that fails its checks is moved to
//! `corrupt/`; one the aggregator refuses as invalid is moved to `rejected/`: kept, never resent.
//!
//! Bounded: when a new report would exceed the byte or count limit, the OLDEST reports are dropped
//! (the newest describes the host as it is now); each drop is returned so the caller logs it.
//!
//! Shared: the daemon and a `push --once` (config management verifying a rollout) may use one
//! spool at the same time. Every change takes an exclusive lock on `<spool>/.lock` for its
//! duration, so two writers never pick the same sequence number and a starting process never
//! deletes a `.tmp` another is still writing; an entry another process already delivered and
//! removed is simply gone (the aggregator de-duplicates by report id).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use prost::Message;
use subcap_proto::v1 as pb;

const MAGIC: &[u8; 8] = b"SUBCAPSP";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 4 + 4;
/// Largest payload accepted when reading back (a report is far smaller; a bigger length is corrupt).
const MAX_PAYLOAD: u32 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("spool record {path}: {problem}")]
    Corrupt { path: String, problem: String },
}

/// `Ok` for a file that is already gone.
fn gone_is_fine(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A spooled report: its file and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub path: PathBuf,
    pub bytes: u64,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    max_reports: usize,
}

/// Encodes a report as one spool record.
pub fn encode(report: &pb::HostReport) -> Vec<u8> {
    let payload = report.encode_to_vec();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decodes one spool record, checking magic, version, length and checksum.
pub fn decode(bytes: &[u8]) -> Result<pb::HostReport, String> {
    let header = bytes
        .get(..HEADER)
        .ok_or("shorter than the record header")?;
    if &header[..8] != MAGIC {
        return Err("not a spool record (bad magic)".into());
    }
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (version, len, crc) = (word(8), word(12), word(16));
    if version != VERSION {
        return Err(format!("record version {version}, expected {VERSION}"));
    }
    if len > MAX_PAYLOAD {
        return Err(format!("payload length {len} exceeds {MAX_PAYLOAD}"));
    }
    let payload = &bytes[HEADER..];
    if payload.len() != len as usize {
        return Err(format!(
            "payload is {} bytes, header says {len} (truncated?)",
            payload.len()
        ));
    }
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    pb::HostReport::decode(payload).map_err(|e| format!("payload does not decode: {e}"))
}

impl Spool {
    /// Opens (creating, mode 0700) the spool folder and removes unfinished `.tmp` files.
    pub fn open(dir: &Path, max_bytes: u64, max_reports: usize) -> Result<Self, SpoolError> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
        let spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            max_reports,
        };
        // Writers hold the lock while a `.tmp` exists: under it, any `.tmp` is a crashed write.
        let _lock = spool.lock()?;
        for name in fs::read_dir(dir).map_err(io(dir))? {
            let path = name.map_err(io(dir))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                gone_is_fine(fs::remove_file(&path)).map_err(io(&path))?;
            }
        }
        Ok(spool)
    }

    /// The spool's exclusive lock, held until the returned file is dropped.
    fn lock(&self) -> Result<fs::File, SpoolError> {
        let path = self.dir.join(".lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        f.lock().map_err(io(&path))?;
        Ok(f)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Spooled reports, oldest first.
    pub fn entries(&self) -> Result<Vec<Entry>, SpoolError> {
        let mut out = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let item = item.map_err(io(&self.dir))?;
            let path = item.path();
            let Some(seq) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".report"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = item.metadata().map_err(io(&path))?.len();
            out.push(Entry { seq, path, bytes });
        }
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }

    /// Writes `report` durably as the newest entry; returns the entry and any oldest entries
    /// dropped to stay within the bounds.
    pub fn push(&self, report: &pb::HostReport) -> Result<(Entry, Vec<Entry>), SpoolError> {
        let record = encode(report);
        let _lock = self.lock()?;
        let existing = self.entries()?;
        let seq = existing.last().map(|e| e.seq + 1).unwrap_or(1);
        let path = self.dir.join(format!("{seq:020}.report"));
        let tmp = self.dir.join(format!("{seq:020}.tmp"));
        {
            let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&record).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        self.sync_dir()?;

        let mut dropped = Vec::new();
        let mut kept: Vec<Entry> = existing;
        let mut total: u64 = kept.iter().map(|e| e.bytes).sum::<u64>() + record.len() as u64;
        while !kept.is_empty() && (kept.len() + 1 > self.max_reports || total > self.max_bytes) {
            let oldest = kept.remove(0);
            total -= oldest.bytes;
            gone_is_fine(fs::remove_file(&oldest.path)).map_err(io(&oldest.path))?;
            dropped.push(oldest);
        }
        if !dropped.is_empty() {
            self.sync_dir()?;
        }
        Ok((
            Entry {
                seq,
                path,
                bytes: record.len() as u64,
            },
            dropped,
        ))
    }

    /// Reads an entry back; a record that fails its checks is an error naming the file.
    pub fn read(&self, entry: &Entry) -> Result<pb::HostReport, SpoolError> {
        let bytes = fs::read(&entry.path).map_err(io(&entry.path))?;
        decode(&bytes).map_err(|problem| SpoolError::Corrupt {
            path: entry.path.display().to_string(),
            problem,
        })
    }

    /// Removes an acknowledged entry (one another process removed already is fine).
    pub fn remove(&self, entry: &Entry) -> Result<(), SpoolError> {
        let _lock = self.lock()?;
        gone_is_fine(fs::remove_file(&entry.path)).map_err(io(&entry.path))?;
        self.sync_dir()
    }

    /// Moves an entry to `<spool>/<folder>/` (`corrupt` or `rejected`), keeping it for inspection.
    pub fn set_aside(&self, entry: &Entry, folder: &str) -> Result<PathBuf, SpoolError> {
        let _lock = self.lock()?;
        let target_dir = self.dir.join(folder);
        fs::create_dir_all(&target_dir).map_err(io(&target_dir))?;
        let name = entry
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut target = target_dir.join(&name);
        let mut n = 1;
        while target.exists() {
            target = target_dir.join(format!("{name}.{n}"));
            n += 1;
        }
        fs::rename(&entry.path, &target).map_err(io(&target))?;
        self.sync_dir()?;
        Ok(target)
    }

    fn sync_dir(&self) -> Result<(), SpoolError> {
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str) -> pb::HostReport {
        pb::HostReport {
            report_id: id.into(),
            identity: Some(pb::HostIdentity {
                hostname: "h".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn two_processes_share_a_spool_without_losing_or_failing() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Spool::open(dir.path(), 1 << 20, 100).unwrap();
        let (first, _) = daemon.push(&report("r1")).unwrap();
        // A `push --once` opens the same spool: the daemon's entry stays, and both write
        // distinct sequence numbers from two threads at once.
        let once = Spool::open(dir.path(), 1 << 20, 100).unwrap();
        assert_eq!(once.entries().unwrap().len(), 1);
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let s = Spool::open(dir.path(), 1 << 20, 100).unwrap();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        s.push(&report(&format!("t{t}-{i}"))).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let entries = once.entries().unwrap();
        assert_eq!(entries.len(), 41, "no push overwrote another");
        let mut ids: Vec<String> = entries
            .iter()
            .map(|e| once.read(e).unwrap().report_id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 41);
        // Both deliver the same entry: the second removal is not an error.
        once.remove(&first).unwrap();
        daemon.remove(&first).unwrap();
        assert_eq!(daemon.entries().unwrap().len(), 40);
    }

    #[test]
    fn records_round_trip_in_order_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Spool::open(dir.path(), 1 << 20, 100).unwrap();
            for id in ["a", "b", "c"] {
                s.push(&report(id)).unwrap();
            }
        }
        let s = Spool::open(dir.path(), 1 << 20, 100).unwrap();
        let ids: Vec<String> = s
            .entries()
            .unwrap()
            .iter()
            .map(|e| s.read(e).unwrap().report_id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let first = s.entries().unwrap().remove(0);
        s.remove(&first).unwrap();
        s.push(&report("d")).unwrap();
        let ids: Vec<String> = s
            .entries()
            .unwrap()
            .iter()
            .map(|e| s.read(e).unwrap().report_id)
            .collect();
        assert_eq!(ids, ["b", "c", "d"]);
    }

    #[test]
    fn full_spool_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), 1 << 20, 2).unwrap();
        s.push(&report("a")).unwrap();
        s.push(&report("b")).unwrap();
        let (_, dropped) = s.push(&report("c")).unwrap();
        assert_eq!(dropped.len(), 1);
        let ids: Vec<String> = s
            .entries()
            .unwrap()
            .iter()
            .map(|e| s.read(e).unwrap().report_id)
            .collect();
        assert_eq!(ids, ["b", "c"]);
        // By bytes: a limit smaller than two records keeps only the newest.
        let one = encode(&report("x")).len() as u64;
        let dir2 = tempfile::tempdir().unwrap();
        let s2 = Spool::open(dir2.path(), one + one / 2, 100).unwrap();
        s2.push(&report("x")).unwrap();
        let (_, dropped) = s2.push(&report("y")).unwrap();
        assert_eq!(dropped.len(), 1);
        assert_eq!(s2.entries().unwrap().len(), 1);
    }

    #[test]
    fn every_damaged_record_is_refused_never_misread() {
        let good = encode(&report("0123456789abcdef"));
        assert_eq!(decode(&good).unwrap().report_id, "0123456789abcdef");
        // Every truncation and every single-bit flip is detected.
        for len in 0..good.len() {
            assert!(decode(&good[..len]).is_err(), "truncated to {len}");
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                assert!(decode(&bad).is_err(), "flip byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn unfinished_writes_are_cleared_and_corrupt_records_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("00000000000000000007.tmp"), b"half").unwrap();
        fs::write(
            dir.path().join("00000000000000000003.report"),
            b"SUBCAPSPgarbage",
        )
        .unwrap();
        let s = Spool::open(dir.path(), 1 << 20, 100).unwrap();
        assert!(!dir.path().join("00000000000000000007.tmp").exists());
        let e = s.entries().unwrap().remove(0);
        let err = s.read(&e).unwrap_err().to_string();
        assert!(err.contains("00000000000000000003.report"), "{err}");
        let moved = s.set_aside(&e, "corrupt").unwrap();
        assert!(moved.ends_with("corrupt/00000000000000000003.report"));
        assert!(s.entries().unwrap().is_empty());
        // The next report continues the sequence from what is left (nothing): 1.
        assert_eq!(s.push(&report("n")).unwrap().0.seq, 1);
    }
}
