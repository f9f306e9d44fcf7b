//! The sled backend of [`Store`], with report bodies in a [`BodyLog`] beside it.
//!
//! Trees and keys, chosen for the queries ops run:
//! - `ids`:      `report_id` -> body location (segment, offset, length: 4 bytes BE each) ++
//!   received_at (8 bytes BE nanos). The report-id index: idempotency and "show me report X".
//!   Small entries, so the whole index stays in a small cache although report ids are random.
//! - `history`:  `host_key` 0x00 collected_at (8 bytes BE nanos) `report_id` -> received_at. One
//!   host's reports by time is a prefix scan, newest first by scanning it backwards.
//! - `latest`:   `host_key` -> HostSummary (protobuf), with each IBM product the host ever
//!   reported and the first time it was seen. Listing hosts pages through this tree alone.
//! - `arrivals`: arrival number (sled's `generate_id`, 8 bytes BE) -> collected_at (8 bytes BE
//!   nanos) of each report stored since the coverage ledger was last built; the ledger's build
//!   reads them to know from which day to recompute, and deletes those it took into account.
//! - `imports`:  import id (8 bytes BE) -> ImportRecord (JSON) ++ 0x00 ++ Import (JSON). Dated, never
//!   overwritten; ids from sled's persistent counter.
//! - `import_sha`: SHA-256 hex -> import id: the same file imported twice is stored once.
//! - `ledger`:   `host_key` 0x00 day (u32 BE, days since 1970-01-01) -> coverage state: the
//!   coverage ledger (`crate::history`), derived from the rest, written without transactions.
//! - `meta`:     `schema` -> "3"; `ledger_marks` -> how far the ledger is built.
//!
//! Report bodies (the protobuf) are not in sled but in the body log, folder `bodies/` ([`body_log`]):
//! appended once, in arrival order, never rewritten. sled is a log of page updates: a body kept in
//! a sled tree was written again with every change of its leaf (deltas, merges, splits), about
//! 8 KB of disk per 2.9 KB report, and bodies' pages crowded the index out of sled's cache.
//!
//! **Write order, no transaction.** A report is written as: body (body log), history entry,
//! latest summary, and its `ids` entry last; sled recovers a prefix of its log after a crash, so
//! a report whose id is indexed has its history and summary too. A crash before that leaves
//! pieces of a report that was not acknowledged (an unreferenced body, a history entry, a summary
//! naming it), which the agent's resend completes. Bodies have their own `fdatasync`, which
//! [`Store::sync`] runs beside sled's flush: when a crash loses a body whose id sled kept, the id
//! reads as absent and a resend of it is stored again, not taken for a duplicate (the body
//! log's records name their report id and carry a checksum, so this is checked, not assumed).
//!
//! Schemas: 1 kept each body under its report id in a `reports` tree; 2 kept them in a `bodies`
//! tree by arrival number; 3 keeps them in the body log. [`SledStore::open`] migrates older stores.
//!
//! Host keys never hold 0x00 (validation allows only host-name characters), so the separator is safe.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use subcap_proto::v1 as pb;

use super::body_log::{BodyBatch, BodyLog, Location, ReadError};
use super::{
    HistoryEntry, ImportRecord, LedgerMarks, LedgerVisit, Put, PutOutcome, Store, StoreError,
};
use crate::ilmt::Import;

const SCHEMA: &str = "3";

/// How long opening waits for another handle's file lock to be released.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Most bytes of bodies a migration or compaction copies before making them durable.
const MOVE_CHUNK_BYTES: usize = 8 * 1024 * 1024;

pub struct SledStore {
    db: sled::Db,
    ids: sled::Tree,
    bodies: BodyLog,
    history: sled::Tree,
    latest: sled::Tree,
    imports: sled::Tree,
    import_sha: sled::Tree,
    arrivals: sled::Tree,
    ledger: sled::Tree,
    meta: sled::Tree,
    hosts: AtomicUsize,
    /// What `latest` holds, read once at open and kept by [`Store::put_reports`] (which holds
    /// this lock throughout, so batches are stored one at a time): storing a report reads its
    /// host's summary back only to carry over products seen. About 80 bytes per host.
    known: Mutex<Known>,
    /// See [`Store::generation`].
    generation: AtomicU64,
}

/// What the store keeps in memory of one host's `latest` entry.
#[derive(Debug, Clone, Copy)]
struct KnownHost {
    /// Collection time of its latest report (nanos).
    collected: u64,
    /// Whether its summary lists products seen, which a new summary must carry over.
    products: bool,
}

impl KnownHost {
    fn of(s: &pb::HostSummary) -> KnownHost {
        KnownHost {
            collected: s.last_collected_at.as_ref().map(ts_nanos).unwrap_or(0),
            products: !s.products_seen.is_empty(),
        }
    }
}

/// Each known host, as the `latest` tree holds it.
#[derive(Default)]
struct Known {
    hosts: HashMap<Box<str>, KnownHost>,
    /// Hosts whose summary could not be read at open: looked up in `latest` each time (a report
    /// of theirs fails while it stays unreadable). Any other host not in `hosts` is new.
    unreadable: HashSet<Box<str>>,
}

/// Memory sled may use for its page cache unless configured: enough for the hot part of a
/// 100,000-host store (host list, history keys, report-id index: about 0.5 KiB per host).
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl SledStore {
    /// Opens (or creates) the store in directory `path` with the default cache.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store in directory `path`; sled caches at most `cache_bytes` of it.
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        // sled releases its file lock from a background thread shortly after the last handle is
        // dropped (a restart in the same process, a process that just exited): wait for it a
        // little, then say plainly that another process holds the store.
        let config = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(cache_bytes);
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("lock") =>
                {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Open {
                            path: path.display().to_string(),
                            source: sled::Error::Io(std::io::Error::other(format!(
                                "in use by another process ({e}); one aggregator per data_dir"
                            ))),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(StoreError::Open {
                        path: path.display().to_string(),
                        source,
                    })
                }
            }
        };
        let bodies = BodyLog::open(&path.join("bodies"))?;
        let meta = db.open_tree("meta")?;
        loop {
            match meta.get("schema")? {
                None => {
                    meta.insert("schema", SCHEMA)?;
                }
                Some(v) if v.as_ref() == SCHEMA.as_bytes() => break,
                Some(v) if v.as_ref() == b"1" => migrate_from_1(&db)?,
                Some(v) if v.as_ref() == b"2" => migrate_from_2(&db, &bodies)?,
                Some(v) => {
                    return Err(StoreError::Schema {
                        found: String::from_utf8_lossy(&v).into_owned(),
                        expected: SCHEMA.into(),
                    })
                }
            }
        }
        // A migration that stopped after recording its schema may have left its old tree.
        for old in ["reports", "bodies"] {
            if db.tree_names().iter().any(|n| n.as_ref() == old.as_bytes()) {
                db.drop_tree(old)?;
            }
        }
        let latest = db.open_tree("latest")?;
        let mut known = Known::default();
        let mut hosts = 0;
        for item in latest.iter() {
            let (k, v) = item?;
            hosts += 1;
            let host: Box<str> = String::from_utf8_lossy(&k).into();
            match decode_summary(&v) {
                Ok(s) => {
                    known.hosts.insert(host, KnownHost::of(&s));
                }
                Err(e) => {
                    tracing::warn!(%host, error = %e, "unreadable latest summary; this host's reports are refused until it is repaired");
                    known.unreadable.insert(host);
                }
            }
        }
        Ok(SledStore {
            ids: db.open_tree("ids")?,
            bodies,
            history: db.open_tree("history")?,
            latest,
            imports: db.open_tree("imports")?,
            import_sha: db.open_tree("import_sha")?,
            arrivals: db.open_tree("arrivals")?,
            ledger: db.open_tree("ledger")?,
            meta,
            hosts: AtomicUsize::new(hosts),
            known: Mutex::new(known),
            generation: AtomicU64::new(0),
            db,
        })
    }
}

/// Schema 1 -> 2: each `reports` entry (`report_id` -> received_at ++ body) becomes an `ids` entry
/// (body number ++ received_at) and a `bodies` entry. Reports already moved (a migration
/// interrupted before) are skipped, so it can run again; the schema is recorded as 2 only once
/// every report is moved.
fn migrate_from_1(db: &sled::Db) -> Result<(), StoreError> {
    let old = db.open_tree("reports")?;
    let ids = db.open_tree("ids")?;
    let bodies = db.open_tree("bodies")?;
    let mut moved = 0usize;
    for item in old.iter() {
        let (id, v) = item?;
        if ids.contains_key(&id)? {
            continue;
        }
        let at = read_u64("reports", &v)?;
        let n = db.generate_id()?;
        bodies.insert(n.to_be_bytes(), v.get(8..).unwrap_or_default())?;
        let mut entry = [0u8; 16];
        entry[..8].copy_from_slice(&n.to_be_bytes());
        entry[8..].copy_from_slice(&at.to_be_bytes());
        ids.insert(id, &entry[..])?;
        moved += 1;
    }
    db.flush()?;
    db.open_tree("meta")?.insert("schema", "2")?;
    db.flush()?;
    db.drop_tree("reports")?;
    tracing::info!(reports = moved, "store migrated from schema 1 to 2");
    Ok(())
}

/// Schema 2 -> 3: each body of the `bodies` tree moves to the body log, and its `ids` entry (body
/// number ++ received_at, 16 bytes) becomes location ++ received_at (20 bytes). Bodies are made
/// durable before the entries pointing to them change; entries already in the new form (a
/// migration interrupted before) are skipped, so it can run again. The schema is recorded as 3
/// once every entry is moved; the `bodies` tree is dropped after that. Bodies numbered above the
/// coverage ledger's report mark (stored since its last build) get their `arrivals` entry, under
/// the same number, so the next build still takes them into account.
fn migrate_from_2(db: &sled::Db, log: &BodyLog) -> Result<(), StoreError> {
    let ids = db.open_tree("ids")?;
    let old = db.open_tree("bodies")?;
    let arrivals = db.open_tree("arrivals")?;
    let ledger_mark = read_ledger_marks(&db.open_tree("meta")?)?.and_then(|m| m.reports);
    let mut moved = 0usize;
    let mut chunk: Vec<(sled::IVec, u64)> = Vec::new();
    let mut batch = BodyBatch::default();
    let flush_chunk =
        |chunk: &mut Vec<(sled::IVec, u64)>, batch: &mut BodyBatch| -> Result<(), StoreError> {
            let locations = log.append(batch)?;
            log.sync()?;
            for ((id, received), loc) in chunk.drain(..).zip(locations) {
                ids.insert(id, &id_entry(loc, received)[..])?;
            }
            *batch = BodyBatch::default();
            Ok(())
        };
    for item in ids.iter() {
        let (id, v) = item?;
        if v.len() != 16 {
            continue;
        }
        let number = read_u64("ids", &v)?;
        let received = read_u64("ids", v.get(8..).unwrap_or_default())?;
        let body = old
            .get(number.to_be_bytes())?
            .ok_or_else(|| StoreError::Corrupt {
                tree: "bodies",
                problem: format!("{}: body {number} is missing", String::from_utf8_lossy(&id)),
            })?;
        let report_id = String::from_utf8_lossy(&id).into_owned();
        if ledger_mark.is_none_or(|m| number > m) {
            // An undecodable body counts as collected at the epoch: the ledger recomputes as far
            // back as it can.
            let collected = pb::HostReport::decode(body.as_ref())
                .ok()
                .and_then(|r| r.collected_at)
                .as_ref()
                .map_or(0, ts_nanos);
            arrivals.insert(number.to_be_bytes(), &collected.to_be_bytes()[..])?;
        }
        batch.push_bytes(&report_id, &body)?;
        chunk.push((id, received));
        moved += 1;
        if batch.bytes() >= MOVE_CHUNK_BYTES {
            flush_chunk(&mut chunk, &mut batch)?;
        }
    }
    flush_chunk(&mut chunk, &mut batch)?;
    db.flush()?;
    db.open_tree("meta")?.insert("schema", "3")?;
    db.flush()?;
    db.drop_tree("bodies")?;
    tracing::info!(reports = moved, "store migrated from schema 2 to 3");
    Ok(())
}

/// An `ids` value: body location (12 bytes) and received_at (8 bytes BE nanos).
fn id_entry(loc: Location, received: u64) -> [u8; 20] {
    let mut v = [0u8; 20];
    v[..Location::BYTES].copy_from_slice(&loc.to_bytes());
    v[Location::BYTES..].copy_from_slice(&received.to_be_bytes());
    v
}

/// An `ids` value read back: (body location, received_at nanos).
fn read_id_entry(v: &[u8]) -> Result<(Location, u64), StoreError> {
    let corrupt = || StoreError::Corrupt {
        tree: "ids",
        problem: format!("value of {} bytes, not 20", v.len()),
    };
    let loc = Location::from_bytes(v).ok_or_else(corrupt)?;
    let received =
        read_u64("ids", v.get(Location::BYTES..).unwrap_or_default()).map_err(|_| corrupt())?;
    Ok((loc, received))
}

pub(crate) fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn from_nanos(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

pub(crate) fn ts_nanos(t: &pbjson_types::Timestamp) -> u64 {
    let secs = u64::try_from(t.seconds).unwrap_or(0);
    let nanos = u64::try_from(t.nanos).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

pub(crate) fn timestamp(t: SystemTime) -> pbjson_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    pbjson_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

fn history_prefix(host_key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(host_key.len() + 1);
    k.extend_from_slice(host_key.as_bytes());
    k.push(0);
    k
}

fn history_key(host_key: &str, collected: u64, report_id: &str) -> Vec<u8> {
    let mut k = history_prefix(host_key);
    k.extend_from_slice(&collected.to_be_bytes());
    k.extend_from_slice(report_id.as_bytes());
    k
}

/// Splits a history key after its host prefix into (collected nanos, report id).
fn parse_history_tail(tail: &[u8]) -> Result<(u64, String), StoreError> {
    let (time, id) = tail
        .split_at_checked(8)
        .ok_or_else(|| StoreError::Corrupt {
            tree: "history",
            problem: "key shorter than its time field".into(),
        })?;
    let mut b = [0u8; 8];
    b.copy_from_slice(time);
    Ok((
        u64::from_be_bytes(b),
        String::from_utf8_lossy(id).into_owned(),
    ))
}

fn read_u64(tree: &'static str, v: &[u8]) -> Result<u64, StoreError> {
    let head = v.get(..8).ok_or_else(|| StoreError::Corrupt {
        tree,
        problem: "value shorter than 8 bytes".into(),
    })?;
    let mut b = [0u8; 8];
    b.copy_from_slice(head);
    Ok(u64::from_be_bytes(b))
}

fn summary(host_key: &str, r: &pb::HostReport, received_at: SystemTime) -> pb::HostSummary {
    // Only the few strings it needs are copied (not the identity's or verdict's evidence).
    let id = r.identity.as_ref();
    let v = r.virtualization.as_ref();
    let copy = |s: Option<&String>| s.cloned().unwrap_or_default();
    pb::HostSummary {
        host_key: host_key.to_string(),
        hostname: copy(id.map(|i| &i.hostname)),
        fqdn: copy(id.map(|i| &i.fqdn)),
        last_report_id: r.report_id.clone(),
        last_collected_at: r.collected_at,
        last_received_at: Some(timestamp(received_at)),
        kind: copy(v.map(|v| &v.kind)),
        technology: copy(v.map(|v| &v.technology)),
        cloud: copy(v.map(|v| &v.cloud)),
        ibm_installs: u32::try_from(r.ibm_installs.len()).unwrap_or(u32::MAX),
        products_seen: Vec::new(),
    }
}

/// Most products kept in a host's `products_seen` (the earliest seen are kept).
pub const MAX_PRODUCTS_SEEN: usize = 256;

/// `seen` with every IBM product of `r` added at its collection time, or moved earlier when `r`
/// was collected before the time recorded (reports can arrive out of order). True when changed.
fn merge_products_seen(seen: &mut Vec<pb::ProductSeen>, r: &pb::HostReport) -> bool {
    let Some(at) = r.collected_at else {
        return false;
    };
    let mut changed = false;
    for install in &r.ibm_installs {
        let name = &install.product_name;
        match seen
            .iter_mut()
            .find(|p| p.product_name.eq_ignore_ascii_case(name))
        {
            Some(p) if p.first_seen_at.as_ref().map(ts_nanos) > Some(ts_nanos(&at)) => {
                p.first_seen_at = Some(at);
                p.publisher.clone_from(&install.publisher);
                changed = true;
            }
            Some(_) => {}
            None => {
                seen.push(pb::ProductSeen {
                    product_name: name.clone(),
                    publisher: install.publisher.clone(),
                    first_seen_at: Some(at),
                });
                changed = true;
            }
        }
    }
    if changed {
        seen.sort_by_key(|p| {
            (
                p.first_seen_at.as_ref().map(ts_nanos),
                p.product_name.clone(),
            )
        });
        seen.truncate(MAX_PRODUCTS_SEEN);
    }
    changed
}

/// An `imports` value: the record (JSON), 0x00, the import (JSON).
fn split_import(v: &[u8]) -> Result<(ImportRecord, &[u8]), StoreError> {
    let corrupt = |problem: String| StoreError::Corrupt {
        tree: "imports",
        problem,
    };
    let at = v
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| corrupt("no separator".into()))?;
    let record = serde_json::from_slice(&v[..at]).map_err(|e| corrupt(e.to_string()))?;
    Ok((record, &v[at + 1..]))
}

fn decode_summary(v: &[u8]) -> Result<pb::HostSummary, StoreError> {
    pb::HostSummary::decode(v).map_err(|e| StoreError::Corrupt {
        tree: "latest",
        problem: e.to_string(),
    })
}

/// What the first pass of [`Store::put_reports`] decided for one report.
enum Plan {
    /// Already stored (before, or earlier in the same batch).
    Duplicate(SystemTime),
    /// Its host's latest-summary record is unreadable: this report fails alone.
    Failed(StoreError),
    /// To store; `newer`: it becomes its host's latest; `new_host`: the host had no report.
    Store { newer: bool, new_host: bool },
}

impl SledStore {
    /// Whether report `id` is stored, and when it was received. An `ids` entry whose body cannot
    /// be read back (its body was lost in a crash before the report was acknowledged) does not
    /// count: the report is stored again.
    fn stored(&self, id: &str) -> Result<Option<SystemTime>, StoreError> {
        let Some(v) = self.ids.get(id)? else {
            return Ok(None);
        };
        let (loc, at) = read_id_entry(&v)?;
        match self.bodies.read(loc, id) {
            Ok(Some(_)) => Ok(Some(from_nanos(at))),
            Ok(None) => {
                tracing::warn!(report_id = id, "indexed report has no body (a crash before it was acknowledged); storing it again");
                Ok(None)
            }
            Err(ReadError::Damaged(why)) => {
                tracing::warn!(report_id = id, problem = %why, "indexed report's body is unreadable; storing it again");
                Ok(None)
            }
            Err(ReadError::Store(e)) => Err(e),
        }
    }

    /// Collection time of host `host_key`'s latest report, `None` for a host never seen.
    fn latest_collected(&self, host_key: &str) -> Result<Option<u64>, StoreError> {
        self.latest
            .get(host_key)?
            .map(|v| {
                decode_summary(&v).map(|s| s.last_collected_at.as_ref().map(ts_nanos).unwrap_or(0))
            })
            .transpose()
    }

    /// The summary to write for host `p.host_key` when storing `p` (`newer`: it becomes the
    /// host's latest), `None` when it stays. A newer report replaces the summary, carrying over the
    /// products seen before; an older one can only add a product or move its first-seen time
    /// earlier. The stored summary is read back only when products must be carried over or
    /// merged into it.
    fn next_summary(
        &self,
        known: &Known,
        p: &Put<'_>,
        newer: bool,
    ) -> Result<Option<pb::HostSummary>, StoreError> {
        let had_products = match known.hosts.get(p.host_key) {
            Some(h) => h.products,
            None => known.unreadable.contains(p.host_key),
        };
        let has_products = !p.report.ibm_installs.is_empty();
        if !newer && !has_products {
            return Ok(None);
        }
        let mut previous = if had_products || !newer {
            self.host(p.host_key)?
        } else {
            None
        };
        let mut seen = previous
            .as_mut()
            .map(|s| std::mem::take(&mut s.products_seen))
            .unwrap_or_default();
        let changed = merge_products_seen(&mut seen, p.report);
        let next = if newer {
            Some(summary(p.host_key, p.report, p.received_at))
        } else if changed {
            previous
        } else {
            None
        };
        Ok(next.map(|mut s| {
            s.products_seen = seen;
            s
        }))
    }

    /// Deletes a report's id entry (its body becomes garbage for compaction). False when the id was
    /// not stored.
    fn remove_report(&self, report_id: &str) -> Result<bool, StoreError> {
        Ok(self.ids.remove(report_id.as_bytes())?.is_some())
    }

    /// Copies the live bodies of closed body-log segments that are at least half garbage to the
    /// active segment, repoints their `ids` entries, and deletes those segments. Returns
    /// (segments deleted, bytes reclaimed).
    fn compact_bodies(&self) -> Result<(usize, u64), StoreError> {
        let closed: HashMap<u32, u64> = self.bodies.closed_segments()?.into_iter().collect();
        if closed.is_empty() {
            return Ok((0, 0));
        }
        let mut live: HashMap<u32, u64> = HashMap::new();
        for item in self.ids.iter() {
            let (_, v) = item?;
            let (loc, _) = read_id_entry(&v)?;
            if closed.contains_key(&loc.segment) {
                *live.entry(loc.segment).or_default() += u64::from(loc.len);
            }
        }
        let victims: HashSet<u32> = closed
            .iter()
            .filter(|(n, size)| live.get(n).copied().unwrap_or(0).saturating_mul(2) <= **size)
            .map(|(n, _)| *n)
            .collect();
        if victims.is_empty() {
            return Ok((0, 0));
        }
        let mut moves: Vec<(Location, sled::IVec, sled::IVec)> = Vec::new();
        for item in self.ids.iter() {
            let (k, v) = item?;
            let (loc, _) = read_id_entry(&v)?;
            if victims.contains(&loc.segment) {
                moves.push((loc, k, v));
            }
        }
        // In file order: each segment is read front to back, one at a time.
        moves.sort_unstable_by_key(|(loc, _, _)| (loc.segment, loc.offset));
        let mut batch = BodyBatch::default();
        let mut pending: Vec<(sled::IVec, sled::IVec, u64)> = Vec::new();
        let repoint = |batch: &mut BodyBatch,
                       pending: &mut Vec<(sled::IVec, sled::IVec, u64)>|
         -> Result<(), StoreError> {
            let locations = self.bodies.append(batch)?;
            self.bodies.sync()?;
            for ((k, old, received), loc) in pending.drain(..).zip(locations) {
                // Unless the entry changed meanwhile (pruned, or the report stored again).
                let _ = self.ids.compare_and_swap(
                    &k,
                    Some(&old),
                    Some(&id_entry(loc, received)[..]),
                )?;
            }
            *batch = BodyBatch::default();
            Ok(())
        };
        for (loc, k, v) in moves {
            let id = String::from_utf8_lossy(&k).into_owned();
            let (_, received) = read_id_entry(&v)?;
            match self.bodies.read(loc, &id) {
                Ok(Some(body)) => {
                    batch.push_bytes(&id, &body)?;
                    pending.push((k, v, received));
                }
                // A body lost before it was acknowledged stays lost; the entry reads as before.
                Ok(None) | Err(ReadError::Damaged(_)) => {}
                Err(ReadError::Store(e)) => return Err(e),
            }
            if batch.bytes() >= MOVE_CHUNK_BYTES {
                repoint(&mut batch, &mut pending)?;
            }
        }
        repoint(&mut batch, &mut pending)?;
        // The new locations are durable before the old copies go.
        self.db.flush()?;
        let mut reclaimed = 0;
        for n in &victims {
            self.bodies.remove_segment(*n)?;
            reclaimed += closed.get(n).copied().unwrap_or(0);
        }
        tracing::info!(
            segments = victims.len(),
            bytes = reclaimed,
            "body log compacted"
        );
        Ok((victims.len(), reclaimed))
    }
}

/// A ledger key: the host's prefix (as in `history`), then the day.
fn ledger_key(host_key: &str, day: u32) -> Vec<u8> {
    let mut k = history_prefix(host_key);
    k.extend_from_slice(&day.to_be_bytes());
    k
}

fn split_ledger_key(k: &[u8]) -> Result<(&str, u32), StoreError> {
    let corrupt = |problem: &str| StoreError::Corrupt {
        tree: "ledger",
        problem: problem.to_string(),
    };
    let (host, day) = k
        .len()
        .checked_sub(5)
        .map(|at| k.split_at(at))
        .ok_or_else(|| corrupt("key shorter than 5 bytes"))?;
    let day: [u8; 5] = day.try_into().map_err(|_| corrupt("bad key"))?;
    if day[0] != 0 {
        return Err(corrupt("no separator before the day"));
    }
    let host = std::str::from_utf8(host).map_err(|_| corrupt("host key not UTF-8"))?;
    Ok((host, u32::from_be_bytes([day[1], day[2], day[3], day[4]])))
}

const LEDGER_MARKS: &str = "ledger_marks";

/// Ledger writes per sled batch.
const LEDGER_BATCH: usize = 1024;

impl SledStore {
    fn put_ledger_marks(&self, marks: LedgerMarks) -> Result<(), StoreError> {
        // The report mark is stored plus one, so 0 stands for "none".
        let reports = marks.reports.map_or(0, |r| r.saturating_add(1));
        let mut m = [0u8; 20];
        m[..4].copy_from_slice(&marks.through_day.to_be_bytes());
        m[4..12].copy_from_slice(&reports.to_be_bytes());
        m[12..].copy_from_slice(&marks.imports.to_be_bytes());
        self.meta.insert(LEDGER_MARKS, &m[..])?;
        Ok(())
    }
}

/// The ledger marks recorded in `meta`; `None` before the first build.
fn read_ledger_marks(meta: &sled::Tree) -> Result<Option<LedgerMarks>, StoreError> {
    let Some(v) = meta.get(LEDGER_MARKS)? else {
        return Ok(None);
    };
    let corrupt = || StoreError::Corrupt {
        tree: "meta",
        problem: "ledger_marks is not 20 bytes".into(),
    };
    let v: [u8; 20] = v.as_ref().try_into().map_err(|_| corrupt())?;
    Ok(Some(LedgerMarks {
        through_day: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        reports: read_u64("meta", &v[4..12])?.checked_sub(1),
        imports: read_u64("meta", &v[12..])?,
    }))
}

impl Store for SledStore {
    fn put_reports(
        &self,
        batch: &[Put<'_>],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        // First pass, reading only: duplicates, and which report becomes its host's latest (a
        // batch may hold the same report id, or the same host, more than once).
        let mut known = self
            .known
            .lock()
            .map_err(|_| StoreError::Internal("store lock poisoned"))?;
        let mut in_batch: HashMap<&str, SystemTime> = HashMap::new();
        let mut latest_in_batch: HashMap<&str, u64> = HashMap::new();
        let mut plans = Vec::with_capacity(batch.len());
        let mut bodies = BodyBatch::default();
        for p in batch {
            let id = p.report.report_id.as_str();
            if let Some(at) = in_batch.get(id) {
                plans.push(Plan::Duplicate(*at));
                continue;
            }
            if let Some(at) = self.stored(id)? {
                plans.push(Plan::Duplicate(at));
                continue;
            }
            let collected = p.report.collected_at.as_ref().map(ts_nanos).unwrap_or(0);
            let current = match latest_in_batch
                .get(p.host_key)
                .copied()
                .or(known.hosts.get(p.host_key).map(|h| h.collected))
            {
                Some(c) => Some(c),
                None if known.unreadable.contains(p.host_key) => {
                    match self.latest_collected(p.host_key) {
                        Ok(c) => c,
                        Err(e) => {
                            plans.push(Plan::Failed(e));
                            continue;
                        }
                    }
                }
                None => None,
            };
            let newer = current.is_none_or(|c| c <= collected);
            if newer {
                latest_in_batch.insert(p.host_key, collected);
            }
            in_batch.insert(id, p.received_at);
            bodies.push_bytes(id, p.body)?;
            plans.push(Plan::Store {
                newer,
                new_host: current.is_none(),
            });
        }
        // The bodies, in one write; then each report's history, summary, arrival and, last, its
        // id.
        let mut locations = self.bodies.append(&bodies)?.into_iter();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut new_hosts = 0;
        for (p, plan) in batch.iter().zip(plans) {
            let (newer, new_host) = match plan {
                Plan::Duplicate(received_at) => {
                    outcomes.push(Ok(PutOutcome::Duplicate { received_at }));
                    continue;
                }
                Plan::Failed(e) => {
                    outcomes.push(Err(e));
                    continue;
                }
                Plan::Store { newer, new_host } => (newer, new_host),
            };
            let loc = locations
                .next()
                .ok_or(StoreError::Internal("fewer body locations than bodies"))?;
            let next = match self.next_summary(&known, p, newer) {
                Ok(next) => next,
                Err(e) => {
                    outcomes.push(Err(e));
                    continue;
                }
            };
            let id = p.report.report_id.as_str();
            let collected = p.report.collected_at.as_ref().map(ts_nanos).unwrap_or(0);
            let received = nanos(p.received_at);
            self.history.insert(
                history_key(p.host_key, collected, id),
                &received.to_be_bytes()[..],
            )?;
            if let Some(s) = next {
                self.latest
                    .insert(p.host_key.as_bytes(), s.encode_to_vec())?;
                let host = KnownHost::of(&s);
                match known.hosts.get_mut(p.host_key) {
                    Some(h) => *h = host,
                    None => {
                        known.unreadable.remove(p.host_key);
                        known.hosts.insert(Box::from(p.host_key), host);
                    }
                }
            }
            let arrival = self.db.generate_id()?;
            self.arrivals
                .insert(arrival.to_be_bytes(), &collected.to_be_bytes()[..])?;
            self.ids
                .insert(id.as_bytes(), &id_entry(loc, received)[..])?;
            new_hosts += usize::from(new_host);
            outcomes.push(Ok(PutOutcome::Stored {
                received_at: p.received_at,
            }));
        }
        self.hosts.fetch_add(new_hosts, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(outcomes)
    }

    fn sync(&self) -> Result<(), StoreError> {
        // The body log's fdatasync and sled's flush are independent (see the module's write
        // order): run them side by side.
        let flush = || self.db.flush().map(|_| ()).map_err(StoreError::from);
        std::thread::scope(|s| {
            match std::thread::Builder::new()
                .name("body-log-sync".into())
                .spawn_scoped(s, || self.bodies.sync())
            {
                Ok(bodies) => {
                    let index = flush();
                    let bodies = bodies
                        .join()
                        .unwrap_or(Err(StoreError::Internal("body log sync panicked")));
                    index.and(bodies)
                }
                // No thread to be had: one after the other.
                Err(_) => self.bodies.sync().and_then(|()| flush()),
            }
        })
    }

    fn report(&self, report_id: &str) -> Result<Option<(pb::HostReport, SystemTime)>, StoreError> {
        // Twice at most: compaction may move the body between reading the entry and the body.
        let mut previous: Option<sled::IVec> = None;
        loop {
            let Some(v) = self.ids.get(report_id)? else {
                return Ok(None);
            };
            if previous.as_ref() == Some(&v) {
                return Ok(None);
            }
            let (loc, at) = read_id_entry(&v)?;
            match self.bodies.read(loc, report_id) {
                Ok(Some(body)) => {
                    let r = pb::HostReport::decode(body.as_slice()).map_err(|e| {
                        StoreError::Corrupt {
                            tree: "bodies",
                            problem: format!("{report_id}: {e}"),
                        }
                    })?;
                    return Ok(Some((r, from_nanos(at))));
                }
                Ok(None) => previous = Some(v),
                Err(ReadError::Damaged(why)) => {
                    return Err(StoreError::Corrupt {
                        tree: "bodies",
                        problem: format!("{report_id}: {why}"),
                    })
                }
                Err(ReadError::Store(e)) => return Err(e),
            }
        }
    }

    fn host(&self, host_key: &str) -> Result<Option<pb::HostSummary>, StoreError> {
        self.latest
            .get(host_key)?
            .map(|v| decode_summary(&v))
            .transpose()
    }

    fn hosts(&self, after: &str, limit: usize) -> Result<Vec<pb::HostSummary>, StoreError> {
        use std::ops::Bound;
        let range = (Bound::Excluded(after.as_bytes().to_vec()), Bound::Unbounded);
        let range = if after.is_empty() {
            (Bound::Unbounded, Bound::Unbounded)
        } else {
            range
        };
        let mut out = Vec::new();
        for item in self.latest.range::<Vec<u8>, _>(range).take(limit) {
            let (_, v) = item?;
            out.push(decode_summary(&v)?);
        }
        Ok(out)
    }

    fn history(&self, host_key: &str, limit: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let prefix = history_prefix(host_key);
        let mut out = Vec::new();
        for item in self.history.scan_prefix(&prefix).rev().take(limit) {
            let (k, v) = item?;
            let (collected, report_id) = parse_history_tail(&k[prefix.len()..])?;
            out.push(HistoryEntry {
                report_id,
                collected_at: from_nanos(collected),
                received_at: from_nanos(read_u64("history", &v)?),
            });
        }
        Ok(out)
    }

    fn each_latest(
        &self,
        visit: &mut dyn FnMut(pb::HostSummary, pb::HostReport) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for item in self.latest.iter() {
            let (_, v) = item?;
            let summary = decode_summary(&v)?;
            let Some((report, _)) = self.report(&summary.last_report_id)? else {
                return Err(StoreError::Corrupt {
                    tree: "ids",
                    problem: format!(
                        "{}: latest report {} is missing",
                        summary.host_key, summary.last_report_id
                    ),
                });
            };
            visit(summary, report)?;
        }
        Ok(())
    }

    fn history_window(
        &self,
        host_key: &str,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<(Option<HistoryEntry>, Vec<HistoryEntry>), StoreError> {
        let prefix = history_prefix(host_key);
        let at = |t: SystemTime| {
            let mut k = prefix.clone();
            k.extend_from_slice(&nanos(t).to_be_bytes());
            k
        };
        let entry = |k: &[u8], v: &[u8]| -> Result<HistoryEntry, StoreError> {
            let (collected, report_id) = parse_history_tail(&k[prefix.len()..])?;
            Ok(HistoryEntry {
                report_id,
                collected_at: from_nanos(collected),
                received_at: from_nanos(read_u64("history", v)?),
            })
        };
        let before = match self.history.range(prefix.clone()..at(from)).next_back() {
            Some(item) => {
                let (k, v) = item?;
                Some(entry(&k, &v)?)
            }
            None => None,
        };
        let mut end = at(to);
        end.push(0xff);
        let mut within = Vec::new();
        for item in self.history.range(at(from)..end) {
            let (k, v) = item?;
            within.push(entry(&k, &v)?);
        }
        Ok((before, within))
    }

    fn reports_after(
        &self,
        after: Option<u64>,
    ) -> Result<(Option<u64>, Option<SystemTime>), StoreError> {
        let first = match after {
            None => 0,
            Some(n) => match n.checked_add(1) {
                Some(f) => f,
                None => return Ok((after, None)),
            },
        };
        let mut highest = after;
        let mut earliest: Option<u64> = None;
        for item in self.arrivals.range(first.to_be_bytes()..) {
            let (k, v) = item?;
            let n = read_u64("arrivals", &k)?;
            highest = Some(highest.map_or(n, |h| h.max(n)));
            let c = read_u64("arrivals", &v)?;
            earliest = Some(earliest.map_or(c, |e| e.min(c)));
        }
        Ok((highest, earliest.map(from_nanos)))
    }

    fn each_ledger_change(
        &self,
        host_key: Option<&str>,
        visit: &mut LedgerVisit<'_>,
    ) -> Result<(), StoreError> {
        let iter = match host_key {
            Some(h) => self.ledger.scan_prefix(history_prefix(h)),
            None => self.ledger.iter(),
        };
        for item in iter {
            let (k, v) = item?;
            let (host, day) = split_ledger_key(&k)?;
            visit(host, day, &v)?;
        }
        Ok(())
    }

    fn replace_ledger(
        &self,
        day: u32,
        changes: &[(String, u32, Vec<u8>)],
        marks: LedgerMarks,
    ) -> Result<(), StoreError> {
        // Written in bounded batches (one huge batch leaves sled with huge nodes that are slow to
        // read); so that a crash in between cannot leave a gap, the marks first say the ledger
        // holds only the days before `day`, and only at the end where it really reaches.
        let before = self.ledger_marks()?;
        self.put_ledger_marks(LedgerMarks {
            through_day: day.min(before.map_or(day, |m| m.through_day)),
            ..before.unwrap_or(marks)
        })?;
        let mut stale = Vec::new();
        for item in self.ledger.iter() {
            let (k, _) = item?;
            if split_ledger_key(&k)?.1 >= day {
                stale.push(k);
            }
        }
        for part in stale.chunks(LEDGER_BATCH) {
            let mut batch = sled::Batch::default();
            for k in part {
                batch.remove(k);
            }
            self.ledger.apply_batch(batch)?;
        }
        for part in changes.chunks(LEDGER_BATCH) {
            let mut batch = sled::Batch::default();
            for (host, d, state) in part {
                batch.insert(ledger_key(host, *d), state.as_slice());
            }
            self.ledger.apply_batch(batch)?;
        }
        self.put_ledger_marks(marks)?;
        // The arrivals the marks now cover are taken into account: delete them.
        if let Some(upto) = marks.reports {
            let mut taken = Vec::new();
            for item in self.arrivals.range(..=upto.to_be_bytes()) {
                taken.push(item?.0);
            }
            for part in taken.chunks(LEDGER_BATCH) {
                let mut batch = sled::Batch::default();
                for k in part {
                    batch.remove(k);
                }
                self.arrivals.apply_batch(batch)?;
            }
        }
        Ok(())
    }

    fn prune_ledger(&self, day: u32) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut deleted = 0;
        // The previous key, when it was of the same host and before `day`.
        let mut held: Option<(Vec<u8>, sled::IVec)> = None;
        for item in self.ledger.iter() {
            let (k, _) = item?;
            let (host, d) = split_ledger_key(&k)?;
            let host = host.as_bytes().to_vec();
            if let Some((h, prev)) = held.take() {
                // A later change of the same host before `day` supersedes the previous one.
                if h == host && d < day {
                    batch.remove(prev);
                    deleted += 1;
                }
            }
            if d < day {
                held = Some((host, k));
            }
        }
        self.ledger.apply_batch(batch)?;
        Ok(deleted)
    }

    fn ledger_marks(&self) -> Result<Option<LedgerMarks>, StoreError> {
        read_ledger_marks(&self.meta)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn host_count(&self) -> usize {
        self.hosts.load(Ordering::Relaxed)
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0) + self.bodies.size()
    }

    fn prune_reports(&self, before: SystemTime) -> Result<usize, StoreError> {
        let cutoff = nanos(before);
        let mut deleted = 0;
        for item in self.latest.iter() {
            let (host, v) = item?;
            let latest_id = decode_summary(&v)?.last_report_id;
            let host = String::from_utf8_lossy(&host).into_owned();
            let prefix = history_prefix(&host);
            for h in self.history.scan_prefix(&prefix) {
                let (k, _) = h?;
                let (collected, id) = parse_history_tail(&k[prefix.len()..])?;
                if collected >= cutoff {
                    break;
                }
                if id != latest_id && self.remove_report(&id)? {
                    deleted += 1;
                }
            }
        }
        self.compact_bodies()?;
        Ok(deleted)
    }

    fn prune_history(&self, before: SystemTime) -> Result<usize, StoreError> {
        let cutoff = nanos(before);
        let mut deleted = 0;
        for item in self.latest.iter() {
            let (host, v) = item?;
            let latest_id = decode_summary(&v)?.last_report_id;
            let prefix = history_prefix(&String::from_utf8_lossy(&host));
            for h in self.history.scan_prefix(&prefix) {
                let (k, _) = h?;
                let (collected, id) = parse_history_tail(&k[prefix.len()..])?;
                if collected >= cutoff {
                    break;
                }
                if id != latest_id {
                    self.history.remove(&k)?;
                    self.remove_report(&id)?;
                    deleted += 1;
                }
            }
        }
        self.compact_bodies()?;
        Ok(deleted)
    }

    fn put_import(
        &self,
        import: &Import,
        imported_at: SystemTime,
    ) -> Result<(ImportRecord, bool), StoreError> {
        if let Some(id) = self.import_sha.get(import.sha256.as_bytes())? {
            let id = read_u64("import_sha", &id)?;
            if let Some((record, _)) = self.import(id)? {
                return Ok((record, true));
            }
        }
        let id = self.db.generate_id()? + 1;
        let record = ImportRecord {
            id,
            imported_at_nanos: nanos(imported_at),
            source: import.source.as_str().to_string(),
            file_name: import.file_name.clone(),
            sha256: import.sha256.clone(),
            computers: import.computers.len() as u64,
            warnings: import.warnings.len() as u64,
            period_start: import.period_start.map(|d| d.to_string()),
            period_end: import.period_end.map(|d| d.to_string()),
            format_version: import.format_version.clone(),
        };
        let corrupt = |e: serde_json::Error| StoreError::Corrupt {
            tree: "imports",
            problem: e.to_string(),
        };
        let mut value = serde_json::to_vec(&record).map_err(corrupt)?;
        value.push(0);
        value.extend(serde_json::to_vec(import).map_err(corrupt)?);
        (&self.imports, &self.import_sha)
            .transaction(|(imports, by_sha)| {
                imports.insert(&id.to_be_bytes()[..], value.as_slice())?;
                by_sha.insert(import.sha256.as_bytes(), &id.to_be_bytes()[..])?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => StoreError::Sled(e),
            })?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok((record, false))
    }

    fn imports(&self) -> Result<Vec<ImportRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.imports.iter() {
            let (_, v) = item?;
            out.push(split_import(&v)?.0);
        }
        Ok(out)
    }

    fn import(&self, id: u64) -> Result<Option<(ImportRecord, Import)>, StoreError> {
        let Some(v) = self.imports.get(id.to_be_bytes())? else {
            return Ok(None);
        };
        let (record, body) = split_import(&v)?;
        let import = serde_json::from_slice(body).map_err(|e| StoreError::Corrupt {
            tree: "imports",
            problem: format!("import {id}: {e}"),
        })?;
        Ok(Some((record, import)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, host: &str, secs: i64) -> pb::HostReport {
        pb::HostReport {
            report_id: id.into(),
            collected_at: Some(pbjson_types::Timestamp {
                seconds: secs,
                nanos: 0,
            }),
            identity: Some(pb::HostIdentity {
                hostname: host.into(),
                ..Default::default()
            }),
            virtualization: Some(pb::Virtualization {
                kind: "virtual_machine".into(),
                technology: "kvm".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn put_is_idempotent_by_report_id_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            assert_eq!(
                s.put_report("a", &report("r1", "a", 1_000_000_000), at(1_000_000_010))
                    .unwrap(),
                PutOutcome::Stored {
                    received_at: at(1_000_000_010)
                }
            );
            assert_eq!(
                s.put_report("a", &report("r1", "a", 1_000_000_000), at(1_000_000_099))
                    .unwrap(),
                PutOutcome::Duplicate {
                    received_at: at(1_000_000_010)
                }
            );
            s.sync().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.host_count(), 1);
        assert_eq!(s.history("a", 10).unwrap().len(), 1);
        let (r, received) = s.report("r1").unwrap().unwrap();
        assert_eq!(r.report_id, "r1");
        assert_eq!(received, at(1_000_000_010));
    }

    #[test]
    fn products_seen_keep_the_earliest_collection_even_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let with = |id: &str, secs: i64, products: &[&str]| {
            let mut r = report(id, "a", secs);
            r.ibm_installs = products
                .iter()
                .map(|p| pb::IbmInstall {
                    product_name: p.to_string(),
                    publisher: "IBM".into(),
                    ..Default::default()
                })
                .collect();
            r
        };
        let first = |s: &SledStore| -> Vec<(String, i64)> {
            s.host("a")
                .unwrap()
                .unwrap()
                .products_seen
                .into_iter()
                .map(|p| (p.product_name, p.first_seen_at.unwrap().seconds))
                .collect()
        };
        s.put_report(
            "a",
            &with("r1", 2_000_000_000, &["IBM Db2"]),
            at(2_000_000_001),
        )
        .unwrap();
        s.put_report(
            "a",
            &with("r2", 2_000_100_000, &["IBM DB2", "IBM MQ"]),
            at(2_000_100_001),
        )
        .unwrap();
        assert_eq!(
            first(&s),
            [
                ("IBM Db2".to_string(), 2_000_000_000),
                ("IBM MQ".to_string(), 2_000_100_000)
            ]
        );
        // A spooled report collected earlier arrives last: latest stays, MQ moves earlier.
        s.put_report(
            "a",
            &with("r0", 1_999_000_000, &["IBM MQ"]),
            at(2_000_200_000),
        )
        .unwrap();
        assert_eq!(s.host("a").unwrap().unwrap().last_report_id, "r2");
        assert_eq!(
            first(&s),
            [
                ("IBM MQ".to_string(), 1_999_000_000),
                ("IBM Db2".to_string(), 2_000_000_000)
            ]
        );
        // A later report without IBM software forgets nothing.
        s.put_report("a", &with("r3", 2_000_300_000, &[]), at(2_000_300_001))
            .unwrap();
        assert_eq!(first(&s).len(), 2);
        assert_eq!(s.host("a").unwrap().unwrap().ibm_installs, 0);
    }

    #[test]
    fn each_latest_visits_every_host_with_its_latest_report_and_generation_moves() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let g0 = s.generation();
        s.put_report("b", &report("b1", "b", 2_000_000_000), at(2_000_000_001))
            .unwrap();
        s.put_report("a", &report("a1", "a", 2_000_000_000), at(2_000_000_001))
            .unwrap();
        s.put_report("a", &report("a2", "a", 2_000_000_100), at(2_000_000_101))
            .unwrap();
        assert!(s.generation() > g0);
        let mut seen = Vec::new();
        s.each_latest(&mut |summary, report| {
            seen.push((summary.host_key, report.report_id));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                ("a".to_string(), "a2".to_string()),
                ("b".into(), "b1".into())
            ]
        );
    }

    #[test]
    fn the_ledger_is_replaced_from_a_day_and_pruned_to_the_state_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let marks = LedgerMarks {
            through_day: 30,
            reports: Some(4),
            imports: 0,
        };
        let change = |h: &str, d: u32, v: u8| (h.to_string(), d, vec![v]);
        s.replace_ledger(
            0,
            &[
                change("a", 1, 1),
                change("a", 5, 2),
                change("a", 9, 3),
                change("a", 20, 4),
                change("b", 2, 1),
                change("b", 25, 2),
            ],
            marks,
        )
        .unwrap();
        assert_eq!(s.ledger_marks().unwrap(), Some(marks));
        let all = |s: &SledStore| {
            let mut v = Vec::new();
            s.each_ledger_change(None, &mut |h, d, st| {
                v.push((h.to_string(), d, st[0]));
                Ok(())
            })
            .unwrap();
            v
        };
        // Recompute from day 9: a's changes from 9 on are replaced, b's from 25.
        s.replace_ledger(9, &[change("a", 12, 7)], marks).unwrap();
        assert_eq!(
            all(&s),
            [
                ("a".into(), 1, 1),
                ("a".into(), 5, 2),
                ("a".into(), 12, 7),
                ("b".into(), 2, 1)
            ]
        );
        // Prune before day 10: a keeps its day-5 state (still in force on day 10).
        assert_eq!(s.prune_ledger(10).unwrap(), 1);
        assert_eq!(
            all(&s),
            [("a".into(), 5, 2), ("a".into(), 12, 7), ("b".into(), 2, 1)]
        );
        let mut one = Vec::new();
        s.each_ledger_change(Some("a"), &mut |_, d, _| {
            one.push(d);
            Ok(())
        })
        .unwrap();
        assert_eq!(one, [5, 12]);
    }

    #[test]
    fn latest_follows_collection_time_not_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        s.put_report("a", &report("new", "a", 2_000_000_000), at(2_000_000_001))
            .unwrap();
        // A spooled older report arrives later: history grows, latest stays.
        s.put_report("a", &report("old", "a", 1_000_000_000), at(2_000_000_002))
            .unwrap();
        assert_eq!(s.host("a").unwrap().unwrap().last_report_id, "new");
        let h: Vec<String> = s
            .history("a", 10)
            .unwrap()
            .into_iter()
            .map(|e| e.report_id)
            .collect();
        assert_eq!(h, vec!["new", "old"]);
        assert_eq!(s.history("a", 1).unwrap().len(), 1);
        // The same after a restart, and a newer report still takes over.
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        s.put_report("a", &report("older", "a", 1_500_000_000), at(2_000_000_003))
            .unwrap();
        assert_eq!(s.host("a").unwrap().unwrap().last_report_id, "new");
        s.put_report(
            "a",
            &report("newest", "a", 2_100_000_000),
            at(2_000_000_004),
        )
        .unwrap();
        assert_eq!(s.host("a").unwrap().unwrap().last_report_id, "newest");
        assert_eq!(s.host_count(), 1);
    }

    #[test]
    fn hosts_page_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        for (i, h) in ["c", "a", "b", "ab"].iter().enumerate() {
            s.put_report(
                h,
                &report(&format!("r{i}"), h, 1_000_000_000),
                at(1_000_000_000),
            )
            .unwrap();
        }
        let keys = |v: Vec<pb::HostSummary>| v.into_iter().map(|s| s.host_key).collect::<Vec<_>>();
        assert_eq!(keys(s.hosts("", 2).unwrap()), vec!["a", "ab"]);
        assert_eq!(keys(s.hosts("ab", 10).unwrap()), vec!["b", "c"]);
        assert_eq!(s.host_count(), 4);
        // A host key that is a prefix of another does not leak into its history.
        assert_eq!(s.history("a", 10).unwrap().len(), 1);
    }

    #[test]
    fn pruning_keeps_latest_and_history_entries() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        for (id, t) in [
            ("r1", 1_000_000_000),
            ("r2", 1_100_000_000),
            ("r3", 1_200_000_000),
        ] {
            s.put_report("a", &report(id, "a", t), at(t as u64))
                .unwrap();
        }
        assert_eq!(s.prune_reports(at(1_150_000_000)).unwrap(), 2);
        assert!(s.report("r1").unwrap().is_none());
        assert!(s.report("r3").unwrap().is_some());
        assert_eq!(
            s.history("a", 10).unwrap().len(),
            3,
            "the coverage record stays"
        );
        // Even far past every report, the latest body stays.
        assert_eq!(s.prune_reports(at(2_000_000_000)).unwrap(), 0);
        assert!(s.report("r3").unwrap().is_some());
        assert_eq!(s.prune_history(at(1_150_000_000)).unwrap(), 2);
        assert_eq!(s.history("a", 10).unwrap().len(), 1);
    }

    #[test]
    fn imports_are_dated_numbered_and_never_stored_twice() {
        use crate::ilmt::{IlmtComputer, Import, ImportSource};
        let dir = tempfile::tempdir().unwrap();
        let mut a = Import::new(ImportSource::Csv, "computers.csv", "aa".repeat(32));
        a.computers.push(IlmtComputer {
            name: Some("db01".into()),
            ..Default::default()
        });
        let b = Import::new(ImportSource::ApiJsonV2, "computers.json", "bb".repeat(32));
        {
            let s = SledStore::open(dir.path()).unwrap();
            let (ra, dup) = s.put_import(&a, at(1_000)).unwrap();
            assert!(!dup);
            let (ra2, dup) = s.put_import(&a, at(2_000)).unwrap();
            assert!(dup, "the same bytes again are not a new import");
            assert_eq!(ra2, ra);
            let (rb, _) = s.put_import(&b, at(3_000)).unwrap();
            assert!(rb.id > ra.id);
            s.sync().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        let all = s.imports().unwrap();
        assert_eq!(
            all.iter().map(|r| r.file_name.as_str()).collect::<Vec<_>>(),
            ["computers.csv", "computers.json"]
        );
        assert_eq!(all[0].computers, 1);
        assert_eq!(all[0].source, "csv");
        let (_, back) = s.import(all[0].id).unwrap().unwrap();
        assert_eq!(back.computers[0].name.as_deref(), Some("db01"));
        assert!(s.import(9_999).unwrap().is_none());
    }

    /// Puts of `(host, report, its encoding)`, all received at `secs`.
    fn puts<'a>(items: &'a [(&'a str, &'a pb::HostReport, Vec<u8>)], secs: u64) -> Vec<Put<'a>> {
        items
            .iter()
            .map(|(host_key, report, body)| Put {
                host_key,
                report,
                body,
                received_at: at(secs),
            })
            .collect()
    }

    #[test]
    fn a_batch_sees_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let (old, new, again) = (
            report("r1", "a", 1_000_000_000),
            report("r2", "a", 1_100_000_000),
            report("r1", "a", 1_000_000_000),
        );
        let other = report("r3", "b", 1_000_000_000);
        let outcomes: Vec<PutOutcome> = s
            .put_reports(&puts(
                &[
                    ("a", &new, new.encode_to_vec()),
                    ("a", &old, old.encode_to_vec()),
                    ("a", &again, again.encode_to_vec()),
                    ("b", &other, other.encode_to_vec()),
                ],
                2_000_000_000,
            ))
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let stored = PutOutcome::Stored {
            received_at: at(2_000_000_000),
        };
        assert_eq!(
            outcomes,
            vec![
                stored,
                stored,
                PutOutcome::Duplicate {
                    received_at: at(2_000_000_000)
                },
                stored
            ]
        );
        assert_eq!(s.host_count(), 2, "host a is counted once");
        assert_eq!(s.host("a").unwrap().unwrap().last_report_id, "r2");
        assert_eq!(s.history("a", 10).unwrap().len(), 2);
        assert_eq!(s.report("r1").unwrap().unwrap().0, old);
    }

    #[test]
    fn a_report_whose_host_record_is_damaged_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.latest.insert("bad", &[0xff, 0xff, 0xff][..]).unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        let (good, bad) = (
            report("g1", "good", 1_000_000_000),
            report("b1", "bad", 1_000_000_000),
        );
        let outcomes = s
            .put_reports(&puts(
                &[
                    ("bad", &bad, bad.encode_to_vec()),
                    ("good", &good, good.encode_to_vec()),
                ],
                1_000_000_001,
            ))
            .unwrap();
        assert!(
            matches!(
                &outcomes[0],
                Err(StoreError::Corrupt { tree: "latest", .. })
            ),
            "{outcomes:?}"
        );
        assert!(matches!(outcomes[1], Ok(PutOutcome::Stored { .. })));
        assert!(s.report("b1").unwrap().is_none());
        assert!(s.history("bad", 10).unwrap().is_empty());
        assert_eq!(s.report("g1").unwrap().unwrap().0, good);
        assert_eq!(s.host("good").unwrap().unwrap().last_report_id, "g1");
    }

    #[test]
    fn an_id_whose_body_was_lost_or_damaged_is_stored_again() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let (lost, damaged) = (
            report("lost", "a", 1_000_000_000),
            report("damaged", "a", 1_100_000_000),
        );
        s.put_report("a", &damaged, at(1_100_000_001)).unwrap();
        s.sync().unwrap();
        // As a crash may leave them: an id indexed whose body never reached the disk, and one
        // whose body's bytes are not what was written.
        let segment = s.bodies.active_segment().unwrap();
        let nowhere = Location {
            segment,
            offset: 1 << 20,
            len: 200,
        };
        s.ids
            .insert("lost", &id_entry(nowhere, nanos(at(1_000_000_001)))[..])
            .unwrap();
        let (loc, _) = read_id_entry(&s.ids.get("damaged").unwrap().unwrap()).unwrap();
        let file = dir
            .path()
            .join("bodies")
            .join(super::super::body_log::segment_name(loc.segment));
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[loc.offset as usize + loc.len as usize - 1] ^= 0xff;
        std::fs::write(&file, bytes).unwrap();

        assert_eq!(s.report("lost").unwrap(), None);
        assert!(matches!(
            s.report("damaged"),
            Err(StoreError::Corrupt { tree: "bodies", .. })
        ));
        for (r, secs) in [(&lost, 1_000_000_002), (&damaged, 1_100_000_002)] {
            assert_eq!(
                s.put_report("a", r, at(secs)).unwrap(),
                PutOutcome::Stored {
                    received_at: at(secs)
                },
                "{}",
                r.report_id
            );
            assert_eq!(s.report(&r.report_id).unwrap(), Some((r.clone(), at(secs))));
        }
        assert_eq!(s.history("a", 10).unwrap().len(), 2, "one entry per report");
        assert_eq!(
            s.put_report("a", &lost, at(1_000_000_003)).unwrap(),
            PutOutcome::Duplicate {
                received_at: at(1_000_000_002)
            }
        );
    }

    #[test]
    fn compaction_keeps_live_bodies_and_removes_dead_segments() {
        let dir = tempfile::tempdir().unwrap();
        let reports: Vec<_> = (0..30u32)
            .map(|i| report(&format!("r{i}"), "a", 1_000_000_000 + i64::from(i)))
            .collect();
        let other = report("o1", "b", 1_000_000_000);
        {
            let s = SledStore::open(dir.path()).unwrap();
            for (i, r) in reports.iter().enumerate() {
                s.put_report("a", r, at(1_000_000_000 + i as u64)).unwrap();
            }
            s.put_report("b", &other, at(1_000_000_000)).unwrap();
            s.sync().unwrap();
        }
        // Reopened, the store appends to a new segment; the first one is closed.
        let s = SledStore::open(dir.path()).unwrap();
        let first = s.bodies.closed_segments().unwrap();
        assert_eq!(first.len(), 1);
        let before = s.size_on_disk();
        // Every body of host a but its latest goes: the segment is mostly garbage.
        assert_eq!(s.prune_reports(at(1_000_000_029)).unwrap(), 29);
        assert!(
            s.bodies
                .closed_segments()
                .unwrap()
                .iter()
                .all(|(n, _)| *n != first[0].0),
            "the old segment is deleted"
        );
        assert!(s.size_on_disk() < before);
        let (latest, _) = s.report("r29").unwrap().unwrap();
        assert_eq!(latest, reports[29]);
        assert_eq!(s.report("o1").unwrap().unwrap().0, other);
        assert!(s.report("r0").unwrap().is_none());
        assert_eq!(s.history("a", 100).unwrap().len(), 30);
        // The moved bodies survive another reopen, and resends are still duplicates.
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.report("r29").unwrap().unwrap().0, reports[29]);
        assert!(matches!(
            s.put_report("b", &other, at(2_000_000_000)).unwrap(),
            PutOutcome::Duplicate { .. }
        ));
    }

    #[test]
    fn a_schema_1_store_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let r1 = report("r1", "a", 1_000_000_000);
        {
            // Schema 1 as it was written: body under the report id, after received_at.
            let db = sled::open(dir.path()).unwrap();
            db.open_tree("meta").unwrap().insert("schema", "1").unwrap();
            let mut v = nanos(at(1_000_000_010)).to_be_bytes().to_vec();
            r1.encode(&mut v).unwrap();
            db.open_tree("reports").unwrap().insert("r1", v).unwrap();
            db.open_tree("history")
                .unwrap()
                .insert(
                    history_key("a", 1_000_000_000_000_000_000, "r1"),
                    &nanos(at(1_000_000_010)).to_be_bytes()[..],
                )
                .unwrap();
            db.open_tree("latest")
                .unwrap()
                .insert("a", summary("a", &r1, at(1_000_000_010)).encode_to_vec())
                .unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.report("r1").unwrap(),
            Some((r1.clone(), at(1_000_000_010)))
        );
        assert_eq!(
            s.put_report("a", &r1, at(1_000_000_099)).unwrap(),
            PutOutcome::Duplicate {
                received_at: at(1_000_000_010)
            }
        );
        assert_eq!(s.host_count(), 1);
        assert_eq!(s.history("a", 10).unwrap().len(), 1);
        for old in ["reports", "bodies"] {
            assert!(!s
                .db
                .tree_names()
                .iter()
                .any(|n| n.as_ref() == old.as_bytes()));
        }
        drop(s);
        // Opened again, it is the current schema and keeps the report.
        let s = SledStore::open(dir.path()).unwrap();
        assert!(s.report("r1").unwrap().is_some());
        assert_eq!(
            s.db.open_tree("meta")
                .unwrap()
                .get("schema")
                .unwrap()
                .unwrap(),
            SCHEMA.as_bytes()
        );
    }

    /// Writes a schema-2 store as schema 2 wrote it: `ids` (body number ++ received_at),
    /// `bodies` (body number -> protobuf), history and latest.
    fn write_schema_2(dir: &Path, reports: &[(&str, &pb::HostReport, u64)]) {
        let db = sled::open(dir).unwrap();
        db.open_tree("meta").unwrap().insert("schema", "2").unwrap();
        let (ids, bodies, history, latest) = (
            db.open_tree("ids").unwrap(),
            db.open_tree("bodies").unwrap(),
            db.open_tree("history").unwrap(),
            db.open_tree("latest").unwrap(),
        );
        for (n, (host, r, received)) in reports.iter().enumerate() {
            let n = n as u64 + 1;
            let received = nanos(at(*received));
            bodies.insert(n.to_be_bytes(), r.encode_to_vec()).unwrap();
            let mut v = n.to_be_bytes().to_vec();
            v.extend_from_slice(&received.to_be_bytes());
            ids.insert(r.report_id.as_bytes(), v).unwrap();
            let collected = r.collected_at.as_ref().map(ts_nanos).unwrap();
            history
                .insert(
                    history_key(host, collected, &r.report_id),
                    &received.to_be_bytes()[..],
                )
                .unwrap();
            latest
                .insert(
                    *host,
                    summary(host, r, from_nanos(received)).encode_to_vec(),
                )
                .unwrap();
        }
        db.flush().unwrap();
    }

    #[test]
    fn a_schema_2_store_is_migrated_and_a_half_done_migration_resumes() {
        let (r1, r2) = (
            report("r1", "a", 1_000_000_000),
            report("r2", "b", 1_000_000_000),
        );
        let dir = tempfile::tempdir().unwrap();
        write_schema_2(
            dir.path(),
            &[("a", &r1, 1_000_000_010), ("b", &r2, 1_000_000_020)],
        );
        {
            // Half done: r1 already moved to the body log, its entry rewritten; schema still 2.
            let db = sled::open(dir.path()).unwrap();
            let log = BodyLog::open(&dir.path().join("bodies")).unwrap();
            let mut batch = BodyBatch::default();
            batch.push_bytes("r1", &r1.encode_to_vec()).unwrap();
            let loc = log.append(&batch).unwrap()[0];
            log.sync().unwrap();
            db.open_tree("ids")
                .unwrap()
                .insert("r1", &id_entry(loc, nanos(at(1_000_000_010)))[..])
                .unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.report("r1").unwrap(),
            Some((r1.clone(), at(1_000_000_010)))
        );
        assert_eq!(
            s.report("r2").unwrap(),
            Some((r2.clone(), at(1_000_000_020)))
        );
        assert_eq!(
            s.put_report("b", &r2, at(1_000_000_099)).unwrap(),
            PutOutcome::Duplicate {
                received_at: at(1_000_000_020)
            }
        );
        assert_eq!(s.host_count(), 2);
        assert!(!s.db.tree_names().iter().any(|n| n.as_ref() == b"bodies"));
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.report("r2").unwrap(), Some((r2, at(1_000_000_020))));
    }

    #[test]
    fn a_schema_2_migration_keeps_the_reports_the_ledger_has_not_taken_into_account() {
        let (r1, r2, r3) = (
            report("r1", "a", 1_000_000_300),
            report("r2", "b", 1_000_000_100),
            report("r3", "c", 1_000_000_200),
        );
        let dir = tempfile::tempdir().unwrap();
        write_schema_2(
            dir.path(),
            &[
                ("a", &r1, 1_000_000_310),
                ("b", &r2, 1_000_000_320),
                ("c", &r3, 1_000_000_330),
            ],
        );
        {
            // The ledger was built after body 1 (r1) arrived.
            let db = sled::open(dir.path()).unwrap();
            let mut marks = [0u8; 20];
            marks[4..12].copy_from_slice(&2u64.to_be_bytes()); // report mark 1, stored plus one
            db.open_tree("meta")
                .unwrap()
                .insert(LEDGER_MARKS, &marks[..])
                .unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.reports_after(Some(1)).unwrap(),
            (Some(3), Some(at(1_000_000_100))),
            "r2 and r3 arrived after the ledger's build; r2 was collected first"
        );
    }

    #[test]
    fn arrivals_tell_the_ledger_what_came_since_its_build_until_it_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.reports_after(None).unwrap(), (None, None));
        s.put_report("a", &report("r1", "a", 2_000_000_500), at(2_000_000_600))
            .unwrap();
        // Collected earlier, arrived later (from a spool).
        s.put_report("b", &report("r2", "b", 2_000_000_100), at(2_000_000_700))
            .unwrap();
        let (high, earliest) = s.reports_after(None).unwrap();
        assert_eq!(earliest, Some(at(2_000_000_100)));
        let high = high.expect("two arrivals");
        // A resend stores nothing and is no arrival.
        s.put_report("b", &report("r2", "b", 2_000_000_100), at(2_000_000_800))
            .unwrap();
        assert_eq!(s.reports_after(Some(high)).unwrap(), (Some(high), None));
        let marks = LedgerMarks {
            through_day: 23_148,
            reports: Some(high),
            imports: 0,
        };
        s.replace_ledger(23_148, &[], marks).unwrap();
        assert_eq!(s.arrivals.len(), 0, "taken into account, deleted");
        s.put_report("c", &report("r3", "c", 2_000_000_900), at(2_000_001_000))
            .unwrap();
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        let (next_high, earliest) = s.reports_after(Some(high)).unwrap();
        assert!(next_high > Some(high));
        assert_eq!(earliest, Some(at(2_000_000_900)));
        assert_eq!(s.ledger_marks().unwrap(), Some(marks));
    }

    #[test]
    fn products_seen_are_carried_over_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut with_mq = report("r1", "a", 2_000_000_000);
        with_mq.ibm_installs = vec![pb::IbmInstall {
            product_name: "IBM MQ".into(),
            publisher: "IBM".into(),
            ..Default::default()
        }];
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.put_report("a", &with_mq, at(2_000_000_001)).unwrap();
            s.put_report("b", &report("b1", "b", 2_000_000_000), at(2_000_000_001))
                .unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        // Newer reports without IBM software: a keeps MQ (known at open), b still has none.
        s.put_report("a", &report("r2", "a", 2_000_100_000), at(2_000_100_001))
            .unwrap();
        s.put_report("b", &report("b2", "b", 2_000_100_000), at(2_000_100_001))
            .unwrap();
        let a = s.host("a").unwrap().unwrap();
        assert_eq!(a.last_report_id, "r2");
        assert_eq!(
            a.products_seen
                .iter()
                .map(|p| (p.product_name.as_str(), p.first_seen_at.unwrap().seconds))
                .collect::<Vec<_>>(),
            [("IBM MQ", 2_000_000_000)]
        );
        assert!(s.host("b").unwrap().unwrap().products_seen.is_empty());
    }
}

/// The store killed with SIGKILL while it writes: a child process (this test binary, running this
/// one test with [`CRASH_CHILD_DIR`] set) stores batches and prints each report id once `sync`
/// returned (what the aggregator acknowledges); the parent kills it mid-write, reopens the store
/// and finds every printed report whole: body, history entry, latest summary.
#[cfg(test)]
mod crash {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use super::*;

    const CRASH_CHILD_DIR: &str = "SUBCAP_STORE_CRASH_CHILD_DIR";
    const TEST: &str = "store::sled_store::crash::acknowledged_reports_survive_sigkill";

    /// Report `n` of the crash test: 2 KiB of evidence, on one of 50 hosts, collected in order.
    fn nth(n: u64) -> (String, pb::HostReport) {
        let host = format!("h{}", n % 50);
        let report = pb::HostReport {
            report_id: format!("r{n}"),
            collected_at: Some(pbjson_types::Timestamp {
                seconds: 1_000_000_000 + n as i64,
                nanos: 0,
            }),
            identity: Some(pb::HostIdentity {
                hostname: host.clone(),
                evidence: vec![pb::Evidence {
                    source: "etc/hostname".into(),
                    value: format!("{n:x}").repeat(2048 / 8),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        (host, report)
    }

    /// The child: stores batches of 16 and prints `acked <n>` for each once synced, until killed.
    fn child(dir: &Path) -> ! {
        let s = SledStore::open(dir).unwrap();
        let mut n = 0u64;
        loop {
            let batch: Vec<_> = (n..n + 16)
                .map(|k| {
                    let (host, report) = nth(k);
                    let body = report.encode_to_vec();
                    (host, report, body)
                })
                .collect();
            let puts: Vec<Put<'_>> = batch
                .iter()
                .map(|(host, report, body)| Put {
                    host_key: host,
                    report,
                    body,
                    received_at: SystemTime::now(),
                })
                .collect();
            for o in s.put_reports(&puts).unwrap() {
                o.unwrap();
            }
            s.sync().unwrap();
            for k in n..n + 16 {
                println!("acked {k}");
            }
            n += 16;
        }
    }

    #[test]
    fn acknowledged_reports_survive_sigkill() {
        if let Some(dir) = std::env::var_os(CRASH_CHILD_DIR) {
            child(Path::new(&dir));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(CRASH_CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut acked = Vec::new();
        let lines = BufReader::new(proc.stdout.take().unwrap()).lines();
        for line in lines {
            if let Some(n) = line.unwrap().strip_prefix("acked ") {
                acked.push(n.parse::<u64>().unwrap());
            }
            if acked.len() >= 2000 {
                break;
            }
        }
        // Killed while it writes the next batches.
        proc.kill().unwrap();
        proc.wait().unwrap();
        assert_eq!(acked.len(), 2000, "the child stopped early");

        let s = SledStore::open(dir.path()).unwrap();
        for n in acked {
            let (host, want) = nth(n);
            let got = s.report(&want.report_id).unwrap();
            assert_eq!(got.map(|(r, _)| r), Some(want.clone()), "report {n}");
            let collected = from_nanos(want.collected_at.as_ref().map(ts_nanos).unwrap());
            assert!(
                s.history(&host, 10_000)
                    .unwrap()
                    .iter()
                    .any(|h| h.report_id == want.report_id && h.collected_at == collected),
                "history of report {n}"
            );
            let latest = s.host(&host).unwrap().unwrap();
            assert!(
                latest.last_collected_at.as_ref().map(ts_nanos)
                    >= want.collected_at.as_ref().map(ts_nanos),
                "latest of {host} older than report {n}"
            );
            assert!(
                matches!(
                    s.put_report(&host, &want, SystemTime::now()).unwrap(),
                    PutOutcome::Duplicate { .. }
                ),
                "resend of report {n}"
            );
        }
    }
}
