//! The body log: report bodies (protobuf) in append-only segment files beside the sled index, so
//! that a body is written once and never rewritten by sled's page merges.
//!
//! Files: `<store>/bodies/<segment>.log`, `<segment>` being ten decimal digits. Appends go to one
//! active segment, a new one after [`SEGMENT_BYTES`] and at every open (a segment is never appended
//! to after a restart, so a torn tail stays where it is). Each record is
//!
//! ```text
//! magic "RB" | id length (u16 LE) | body length (u32 LE) | CRC-32 of id ++ body (u32 LE) | id | body
//! ```
//!
//! and is found through its [`Location`] (segment, offset, length), kept in the store's `ids` tree.
//! A read checks magic, lengths, checksum and that the record holds the report id asked for, so a
//! location left dangling by a crash (its id indexed, its body never made durable) reads as
//! absent or damaged, never as another report's body.
//!
//! [`BodyLog::sync`] makes every append that returned before it durable (`fdatasync` of each
//! segment written since). Space of deleted bodies is reclaimed by the store's compaction, which
//! copies the live records of a mostly dead segment to the active one and then removes the file.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::StoreError;

/// A segment is closed for appends once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 32 * 1024 * 1024;
const MAGIC: [u8; 2] = *b"RB";
const HEADER: usize = 12;
const SUFFIX: &str = ".log";
/// Most closed segments kept open for reading at once.
const OPEN_READERS: usize = 64;

/// Where one record is: segment number, byte offset in it, record length (header included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub segment: u32,
    pub offset: u32,
    pub len: u32,
}

impl Location {
    pub const BYTES: usize = 12;

    /// Big-endian segment, offset, length.
    pub fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut b = [0u8; Self::BYTES];
        b[..4].copy_from_slice(&self.segment.to_be_bytes());
        b[4..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    /// The first [`Location::BYTES`] of `b`; `None` when shorter.
    pub fn from_bytes(b: &[u8]) -> Option<Location> {
        let word = |i: usize| -> Option<u32> {
            let w: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
            Some(u32::from_be_bytes(w))
        };
        Some(Location {
            segment: word(0)?,
            offset: word(4)?,
            len: word(8)?,
        })
    }
}

/// Appends `id` and the body written by `body` as one record at the end of `buf`; returns the
/// record's offset in `buf` and its length. Errors when the id or the record is too long to frame.
pub fn encode_record(
    buf: &mut Vec<u8>,
    id: &str,
    body: impl FnOnce(&mut Vec<u8>),
) -> Result<(usize, u32), StoreError> {
    let start = buf.len();
    let id_len = u16::try_from(id.len()).map_err(|_| StoreError::Internal("report id too long"))?;
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&id_len.to_le_bytes());
    buf.extend_from_slice(&[0u8; 8]); // body length and checksum, filled in below
    buf.extend_from_slice(id.as_bytes());
    let body_start = buf.len();
    body(buf);
    let too_long = || StoreError::Internal("report body too long for the body log");
    let body_len = u32::try_from(buf.len() - body_start).map_err(|_| too_long())?;
    let crc = crc32fast::hash(buf.get(start + HEADER..).unwrap_or_default());
    let total = u32::try_from(buf.len() - start).map_err(|_| too_long())?;
    if let Some(h) = buf.get_mut(start + 4..start + HEADER) {
        h[..4].copy_from_slice(&body_len.to_le_bytes());
        h[4..].copy_from_slice(&crc.to_le_bytes());
    }
    Ok((start, total))
}

/// What a record read back holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// The body of the report asked for.
    Body(&'a [u8]),
    /// Nothing was written there (zeros, or the file ends first): an append lost in a crash.
    Absent,
    /// Something else is there; says what.
    Damaged(String),
}

/// Checks that `bytes` (read at a location) is one whole record for report `id`.
pub fn parse_record<'a>(bytes: &'a [u8], id: &str) -> Record<'a> {
    let Some(header) = bytes
        .get(..HEADER)
        .and_then(|h| <&[u8; HEADER]>::try_from(h).ok())
    else {
        return Record::Absent;
    };
    if header.iter().all(|b| *b == 0) {
        return Record::Absent;
    }
    let [m0, m1, i0, i1, b0, b1, b2, b3, c0, c1, c2, c3] = *header;
    if [m0, m1] != MAGIC {
        return Record::Damaged("no record starts here".into());
    }
    let id_len = usize::from(u16::from_le_bytes([i0, i1]));
    let body_len = u32::from_le_bytes([b0, b1, b2, b3]) as usize;
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    let payload = bytes.get(HEADER..).unwrap_or_default();
    if payload.len() != id_len + body_len {
        return Record::Damaged(format!(
            "record holds {} bytes, its location {}",
            HEADER + id_len + body_len,
            bytes.len()
        ));
    }
    if crc32fast::hash(payload) != crc {
        return Record::Damaged("checksum mismatch".into());
    }
    let (stored_id, body) = payload.split_at(id_len);
    if stored_id != id.as_bytes() {
        return Record::Damaged(format!(
            "record of report {:?}",
            String::from_utf8_lossy(stored_id)
        ));
    }
    Record::Body(body)
}

/// A segment's file name: its number as ten decimal digits, `.log`.
pub fn segment_name(n: u32) -> String {
    format!("{n:010}{SUFFIX}")
}

/// The segment number of a file name made by [`segment_name`]; `None` for any other name.
pub fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Records encoded for one append: [`BodyBatch::push`] each, then [`BodyLog::append`].
#[derive(Default)]
pub struct BodyBatch {
    buf: Vec<u8>,
    records: Vec<(usize, u32)>,
}

impl BodyBatch {
    /// Adds a record for report `id` with body `body`.
    pub fn push_bytes(&mut self, id: &str, body: &[u8]) -> Result<(), StoreError> {
        let r = encode_record(&mut self.buf, id, |b| b.extend_from_slice(body))?;
        self.records.push(r);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }
}

struct Active {
    segment: u32,
    file: Arc<File>,
    len: u64,
    /// Files written since the last sync began (the active one included when it was written).
    unsynced: Vec<Arc<File>>,
    active_dirty: bool,
}

pub struct BodyLog {
    dir: PathBuf,
    active: Mutex<Active>,
    /// Held for a whole sync, so a sync waits for one in progress before it returns.
    syncing: Mutex<()>,
    /// Once an fdatasync failed, what it wrote may be lost while later ones succeed: every sync
    /// after it fails too, until a restart.
    failed: AtomicBool,
    /// Bytes of every segment file.
    size: AtomicU64,
    /// Closed segments open for reading (at most [`OPEN_READERS`]): reading every host's latest
    /// body jumps between segments.
    readers: Mutex<HashMap<u32, Arc<File>>>,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        what: what.to_string(),
        source: e,
    }
}

impl BodyLog {
    /// Opens the body log in `dir` (created when missing) and starts a new active segment.
    pub fn open(dir: &Path) -> Result<BodyLog, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, "create the body log folder", e))?;
        let mut last = 0;
        let mut size = 0;
        for (n, len) in list_segments(dir)? {
            last = last.max(n);
            size += len;
        }
        let segment = last
            .checked_add(1)
            .ok_or(StoreError::Internal("body log segment numbers exhausted"))?;
        let file = create_segment(dir, segment)?;
        Ok(BodyLog {
            dir: dir.to_path_buf(),
            active: Mutex::new(Active {
                segment,
                file: Arc::new(file),
                len: 0,
                unsynced: Vec::new(),
                active_dirty: false,
            }),
            syncing: Mutex::new(()),
            failed: AtomicBool::new(false),
            size: AtomicU64::new(size),
            readers: Mutex::new(HashMap::new()),
        })
    }

    fn lock_active(&self) -> Result<std::sync::MutexGuard<'_, Active>, StoreError> {
        self.active
            .lock()
            .map_err(|_| StoreError::Internal("body log lock poisoned"))
    }

    /// The segment appends go to now; every lower number is closed.
    pub fn active_segment(&self) -> Result<u32, StoreError> {
        Ok(self.lock_active()?.segment)
    }

    /// Writes the records of `batch` at the end of the log (one write); their locations, in order.
    /// Not durable before [`BodyLog::sync`].
    pub fn append(&self, batch: &BodyBatch) -> Result<Vec<Location>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut a = self.lock_active()?;
        if a.len > 0 && a.len + batch.buf.len() as u64 > SEGMENT_BYTES {
            let segment = a
                .segment
                .checked_add(1)
                .ok_or(StoreError::Internal("body log segment numbers exhausted"))?;
            let file = Arc::new(create_segment(&self.dir, segment)?);
            let old = std::mem::replace(&mut a.file, Arc::clone(&file));
            if a.active_dirty {
                a.unsynced.push(old);
            }
            a.segment = segment;
            a.len = 0;
            a.active_dirty = false;
        }
        let base = u32::try_from(a.len)
            .map_err(|_| StoreError::Internal("body log segment past 4 GiB"))?;
        let end = a.len + batch.buf.len() as u64;
        if u32::try_from(end).is_err() {
            return Err(StoreError::Internal("body log segment past 4 GiB"));
        }
        // At the offset this log keeps, not the file's end: after a failed (partial) write the
        // next append writes over what it left.
        a.file.write_all_at(&batch.buf, a.len).map_err(|e| {
            let path = self.dir.join(segment_name(a.segment));
            io(&path, "append report bodies", e)
        })?;
        a.len = end;
        if !a.active_dirty {
            a.active_dirty = true;
            let f = Arc::clone(&a.file);
            a.unsynced.push(f);
        }
        let segment = a.segment;
        drop(a);
        self.size
            .fetch_add(batch.buf.len() as u64, Ordering::Relaxed);
        Ok(batch
            .records
            .iter()
            .map(|&(start, len)| Location {
                segment,
                // start < buf.len() and base + buf.len() fits in u32 (checked above).
                offset: base + start as u32,
                len,
            })
            .collect())
    }

    /// Makes every append that returned before this call durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self
            .syncing
            .lock()
            .map_err(|_| StoreError::Internal("body log sync lock poisoned"))?;
        if self.failed.load(Ordering::Acquire) {
            return Err(StoreError::Internal(
                "an earlier fdatasync of the body log failed; restart the aggregator",
            ));
        }
        let files = {
            let mut a = self.lock_active()?;
            a.active_dirty = false;
            std::mem::take(&mut a.unsynced)
        };
        for f in files {
            if let Err(e) = f.sync_data() {
                self.failed.store(true, Ordering::Release);
                return Err(io(&self.dir, "fdatasync the body log", e));
            }
        }
        Ok(())
    }

    /// The body of report `id` at `loc`.
    pub fn read(&self, loc: Location, id: &str) -> Result<Option<Vec<u8>>, ReadError> {
        let file = match self.segment_file(loc.segment) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(None),
            Err(e) => return Err(ReadError::Store(e)),
        };
        let mut buf = vec![0u8; loc.len as usize];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], u64::from(loc.offset) + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let path = self.dir.join(segment_name(loc.segment));
                    return Err(ReadError::Store(io(&path, "read a report body", e)));
                }
            }
        }
        buf.truncate(got);
        match parse_record(&buf, id) {
            Record::Body(b) => {
                let start = buf.len() - b.len();
                buf.drain(..start);
                Ok(Some(buf))
            }
            Record::Absent => Ok(None),
            Record::Damaged(why) => Err(ReadError::Damaged(format!(
                "{} at {}: {why}",
                segment_name(loc.segment),
                loc.offset
            ))),
        }
    }

    /// The open file of `segment`, `None` when there is no such file.
    fn segment_file(&self, segment: u32) -> Result<Option<Arc<File>>, StoreError> {
        {
            let a = self.lock_active()?;
            if a.segment == segment {
                return Ok(Some(Arc::clone(&a.file)));
            }
        }
        let mut readers = self
            .readers
            .lock()
            .map_err(|_| StoreError::Internal("body log reader lock poisoned"))?;
        if let Some(f) = readers.get(&segment) {
            return Ok(Some(Arc::clone(f)));
        }
        let path = self.dir.join(segment_name(segment));
        match File::open(&path) {
            Ok(f) => {
                let f = Arc::new(f);
                if readers.len() >= OPEN_READERS {
                    readers.clear();
                }
                readers.insert(segment, Arc::clone(&f));
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, "open a body log segment", e)),
        }
    }

    /// Closed segments (below the active one) and their sizes in bytes.
    pub fn closed_segments(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        let active = self.active_segment()?;
        Ok(list_segments(&self.dir)?
            .into_iter()
            .filter(|(n, _)| *n < active)
            .collect())
    }

    /// Deletes closed segment `segment` (its records must no longer be referenced).
    pub fn remove_segment(&self, segment: u32) -> Result<(), StoreError> {
        if segment >= self.active_segment()? {
            return Err(StoreError::Internal(
                "the active body log segment cannot be removed",
            ));
        }
        if let Ok(mut readers) = self.readers.lock() {
            readers.remove(&segment);
        }
        let path = self.dir.join(segment_name(segment));
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&path).map_err(|e| io(&path, "remove a body log segment", e))?;
        self.size.fetch_sub(len.min(self.size()), Ordering::Relaxed);
        Ok(())
    }

    /// Bytes of every segment file.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }
}

/// A body could not be read.
#[derive(Debug)]
pub enum ReadError {
    Store(StoreError),
    /// The location holds something other than the record asked for; says what.
    Damaged(String),
}

fn create_segment(dir: &Path, segment: u32) -> Result<File, StoreError> {
    let path = dir.join(segment_name(segment));
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .read(true)
        .open(&path)
        .map_err(|e| io(&path, "create a body log segment", e))?;
    // The new file's directory entry must survive a crash along with what is appended to it.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, "sync the body log folder", e))?;
    Ok(file)
}

/// Every segment file in `dir`, with its size.
fn list_segments(dir: &Path) -> Result<Vec<(u32, u64)>, StoreError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| io(dir, "list the body log", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, "list the body log", e))?;
        let Some(n) = entry.file_name().to_str().and_then(parse_segment_name) else {
            continue;
        };
        let len = entry
            .metadata()
            .map_err(|e| io(&entry.path(), "read the size of a body log segment", e))?
            .len();
        out.push((n, len));
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, body: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_record(&mut buf, id, |b| b.extend_from_slice(body)).unwrap();
        buf
    }

    #[test]
    fn records_read_back_only_as_what_was_written() {
        let good = record("r1", b"body bytes");
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        let cases: [(&str, Vec<u8>, &str, Record<'_>); 8] = [
            (
                "whole record",
                good.clone(),
                "r1",
                Record::Body(b"body bytes"),
            ),
            ("empty body", record("r1", b""), "r1", Record::Body(b"")),
            (
                "zeros: never written",
                vec![0; good.len()],
                "r1",
                Record::Absent,
            ),
            (
                "file ends inside the header",
                good[..5].to_vec(),
                "r1",
                Record::Absent,
            ),
            (
                "file ends inside the body",
                good[..good.len() - 3].to_vec(),
                "r1",
                Record::Damaged(format!(
                    "record holds {} bytes, its location {}",
                    good.len(),
                    good.len() - 3
                )),
            ),
            (
                "flipped bit",
                flipped,
                "r1",
                Record::Damaged("checksum mismatch".into()),
            ),
            (
                "another report's record",
                good.clone(),
                "r2",
                Record::Damaged("record of report \"r1\"".into()),
            ),
            (
                "not a record",
                bad_magic,
                "r1",
                Record::Damaged("no record starts here".into()),
            ),
        ];
        for (name, bytes, id, want) in cases {
            assert_eq!(parse_record(&bytes, id), want, "{name}");
        }
    }

    #[test]
    fn locations_and_segment_names_round_trip() {
        let loc = Location {
            segment: 7,
            offset: 0x0102_0304,
            len: 99,
        };
        assert_eq!(Location::from_bytes(&loc.to_bytes()), Some(loc));
        assert_eq!(Location::from_bytes(&[0; 11]), None);
        assert_eq!(segment_name(42), "0000000042.log");
        for (name, want) in [
            ("0000000042.log", Some(42)),
            ("4294967295.log", Some(u32::MAX)),
            ("42.log", None),
            ("000000004x.log", None),
            ("0000000042.tmp", None),
            ("9999999999.log", None),
        ] {
            assert_eq!(parse_segment_name(name), want, "{name}");
        }
    }

    #[test]
    fn appends_are_readable_rotate_and_reopen_in_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let log = BodyLog::open(dir.path()).unwrap();
        let first = log.active_segment().unwrap();
        let mut batch = BodyBatch::default();
        batch.push_bytes("a", b"alpha").unwrap();
        batch.push_bytes("b", b"beta").unwrap();
        let locs = log.append(&batch).unwrap();
        log.sync().unwrap();
        assert_eq!(locs.len(), 2);
        assert_eq!(
            log.read(locs[0], "a").unwrap().as_deref(),
            Some(&b"alpha"[..])
        );
        assert_eq!(
            log.read(locs[1], "b").unwrap().as_deref(),
            Some(&b"beta"[..])
        );
        assert!(matches!(log.read(locs[0], "b"), Err(ReadError::Damaged(_))));
        // A location past the end of the file: an append that never happened.
        let past = Location {
            offset: 10_000,
            ..locs[1]
        };
        assert_eq!(log.read(past, "b").unwrap(), None);
        // A batch that does not fit the active segment starts the next one.
        let mut big = BodyBatch::default();
        big.push_bytes("c", &vec![7; SEGMENT_BYTES as usize])
            .unwrap();
        let c = log.append(&big).unwrap()[0];
        assert_eq!(c.segment, first + 1);
        assert_eq!(c.offset, 0);
        assert_eq!(log.closed_segments().unwrap().len(), 1);
        log.sync().unwrap();
        drop(log);
        let log = BodyLog::open(dir.path()).unwrap();
        assert_eq!(log.active_segment().unwrap(), first + 2);
        assert_eq!(
            log.read(locs[1], "b").unwrap().as_deref(),
            Some(&b"beta"[..])
        );
        assert_eq!(
            log.read(c, "c").unwrap().map(|b| b.len()),
            Some(SEGMENT_BYTES as usize)
        );
        log.remove_segment(first).unwrap();
        assert_eq!(log.read(locs[0], "a").unwrap(), None);
        assert!(
            log.remove_segment(first + 2).is_err(),
            "the active segment stays"
        );
    }
}
