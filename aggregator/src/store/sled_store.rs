//! The sled backend of [`Store`].
//!
//! Trees and keys, chosen for the queries ops run:
//! - `ids`:      `report_id` -> body number (8 bytes BE) ++ received_at (8 bytes BE nanos). The
//!   report-id index: idempotency and "show me report X". Small entries, so the whole index stays
//!   in a small cache although report ids are random.
//! - `bodies`:   body number (8 bytes BE) -> HostReport (protobuf). Numbers grow with arrival
//!   (sled's `generate_id`), so new bodies are appended at the end of the tree: writing one
//!   touches only the last leaf, and old bodies are not needed in memory.
//! - `history`:  `host_key` 0x00 collected_at (8 bytes BE nanos) `report_id` -> received_at. One
//!   host's reports by time is a prefix scan, newest first by scanning it backwards.
//! - `latest`:   `host_key` -> HostSummary (protobuf). Listing hosts pages through this tree alone.
//! - `imports`:  import id (8 bytes BE) -> ImportRecord (JSON) ++ 0x00 ++ Import (JSON). Dated, never
//!   overwritten; ids from sled's persistent counter.
//! - `import_sha`: SHA-256 hex -> import id: the same file imported twice is stored once.
//! - `meta`:     `schema` -> "2".
//!
//! Schema 1 kept each body under its (random) report id in a `reports` tree; every write then
//! touched a random leaf of large values, which needed the whole tree in memory to stay fast.
//! [`SledStore::open`] migrates a schema-1 store.
//!
//! Host keys never hold 0x00 (validation allows only host-name characters), so the separator is safe.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use subcap_proto::v1 as pb;

use super::{
    HistoryEntry, ImportRecord, LedgerMarks, LedgerVisit, Put, PutOutcome, Store, StoreError,
};
use crate::ilmt::Import;

const SCHEMA: &str = "2";

/// How long opening waits for another handle's file lock to be released.
const LOCK_WAIT: Duration = Duration::from_secs(5);

pub struct SledStore {
    db: sled::Db,
    ids: sled::Tree,
    bodies: sled::Tree,
    history: sled::Tree,
    latest: sled::Tree,
    imports: sled::Tree,
    import_sha: sled::Tree,
    /// Coverage ledger: host key, 0x00, day (u32 BE) -> state.
    ledger: sled::Tree,
    meta: sled::Tree,
    hosts: AtomicUsize,
    /// See [`Store::generation`].
    generation: AtomicU64,
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
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            None => {
                meta.insert("schema", SCHEMA)?;
            }
            Some(v) if v.as_ref() == SCHEMA.as_bytes() => {}
            Some(v) if v.as_ref() == b"1" => migrate_from_1(&db)?,
            Some(v) => {
                return Err(StoreError::Schema {
                    found: String::from_utf8_lossy(&v).into_owned(),
                    expected: SCHEMA.into(),
                })
            }
        }
        // A migration that stopped after recording schema 2 may have left the old tree.
        if db.tree_names().iter().any(|n| n.as_ref() == b"reports") {
            db.drop_tree("reports")?;
        }
        let latest = db.open_tree("latest")?;
        let hosts = AtomicUsize::new(latest.len());
        Ok(SledStore {
            ids: db.open_tree("ids")?,
            bodies: db.open_tree("bodies")?,
            history: db.open_tree("history")?,
            latest,
            imports: db.open_tree("imports")?,
            import_sha: db.open_tree("import_sha")?,
            ledger: db.open_tree("ledger")?,
            meta,
            hosts,
            generation: AtomicU64::new(0),
            db,
        })
    }
}

/// Schema 1 -> 2: each `reports` entry (`report_id` -> received_at ++ body) becomes an `ids` entry
/// and a `bodies` entry. Reports already moved (a migration interrupted before) are skipped, so it
/// can run again; the schema is recorded as 2 only once every report is moved.
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
        ids.insert(id, &id_entry(n, at)[..])?;
        moved += 1;
    }
    db.flush()?;
    db.open_tree("meta")?.insert("schema", SCHEMA)?;
    db.flush()?;
    db.drop_tree("reports")?;
    tracing::info!(reports = moved, "store migrated from schema 1 to 2");
    Ok(())
}

/// An `ids` value: body number and received_at, both 8 bytes big-endian.
fn id_entry(body: u64, received: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&body.to_be_bytes());
    v[8..].copy_from_slice(&received.to_be_bytes());
    v
}

/// An `ids` value read back: (body number, received_at nanos).
fn read_id_entry(v: &[u8]) -> Result<(u64, u64), StoreError> {
    let body = read_u64("ids", v)?;
    let received = read_u64("ids", v.get(8..).unwrap_or_default())?;
    Ok((body, received))
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

/// One report of a batch, encoded before the transaction (which may run more than once).
struct Prepared<'a> {
    host_key: &'a str,
    id: &'a str,
    collected: u64,
    received: [u8; 8],
    received_at: SystemTime,
    /// The `bodies` key and the `ids` value.
    number: [u8; 8],
    id_entry: [u8; 16],
    body: Vec<u8>,
    history_key: Vec<u8>,
    report: &'a pb::HostReport,
}

fn prepare<'a>(put: &Put<'a>, number: u64) -> Prepared<'a> {
    let report = put.report;
    let id = report.report_id.as_str();
    let collected = report.collected_at.as_ref().map(ts_nanos).unwrap_or(0);
    let received = nanos(put.received_at);
    Prepared {
        host_key: put.host_key,
        id,
        collected,
        received: received.to_be_bytes(),
        received_at: put.received_at,
        number: number.to_be_bytes(),
        id_entry: id_entry(number, received),
        body: report.encode_to_vec(),
        history_key: history_key(put.host_key, collected, id),
        report,
    }
}

type Trees = sled::transaction::TransactionalTree;

/// Stores one prepared report inside a transaction; returns its outcome and whether its host is
/// new. Reads see the transaction's own earlier writes, so a batch may hold the same report id or
/// host twice.
fn put_in(
    (ids, bodies, history, latest): (&Trees, &Trees, &Trees, &Trees),
    p: &Prepared<'_>,
) -> Result<(PutOutcome, bool), ConflictableTransactionError<StoreError>> {
    if let Some(old) = ids.get(p.id)? {
        let (_, at) = read_id_entry(&old).map_err(ConflictableTransactionError::Abort)?;
        return Ok((
            PutOutcome::Duplicate {
                received_at: from_nanos(at),
            },
            false,
        ));
    }
    ids.insert(p.id.as_bytes(), &p.id_entry[..])?;
    bodies.insert(&p.number[..], p.body.as_slice())?;
    history.insert(p.history_key.as_slice(), &p.received[..])?;
    let previous = latest.get(p.host_key)?;
    let previous_summary = match &previous {
        None => None,
        Some(v) => Some(decode_summary(v).map_err(ConflictableTransactionError::Abort)?),
    };
    let next = match previous_summary {
        None => {
            let mut s = summary(p.host_key, p.report, p.received_at);
            merge_products_seen(&mut s.products_seen, p.report);
            Some(s)
        }
        Some(mut s) => {
            let newer = s.last_collected_at.as_ref().map(ts_nanos).unwrap_or(0) <= p.collected;
            let mut seen = std::mem::take(&mut s.products_seen);
            let products_changed = merge_products_seen(&mut seen, p.report);
            if newer {
                s = summary(p.host_key, p.report, p.received_at);
            }
            s.products_seen = seen;
            (newer || products_changed).then_some(s)
        }
    };
    if let Some(s) = next {
        latest.insert(p.host_key.as_bytes(), s.encode_to_vec())?;
    }
    Ok((
        PutOutcome::Stored {
            received_at: p.received_at,
        },
        previous.is_none(),
    ))
}

impl SledStore {
    /// Deletes a report's id entry, then its body (a crash in between leaves an unreachable body,
    /// never an id without its body). False when the id was not stored.
    fn remove_report(&self, report_id: &str) -> Result<bool, StoreError> {
        let Some(v) = self.ids.remove(report_id.as_bytes())? else {
            return Ok(false);
        };
        let (number, _) = read_id_entry(&v)?;
        self.bodies.remove(number.to_be_bytes())?;
        Ok(true)
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

impl Store for SledStore {
    fn put_reports(&self, batch: &[Put<'_>]) -> Result<Vec<PutOutcome>, StoreError> {
        let prepared = batch
            .iter()
            .map(|p| Ok(prepare(p, self.db.generate_id()?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let trees = (&self.ids, &self.bodies, &self.history, &self.latest);
        let result = trees.transaction(|(i, b, h, l)| {
            let trees = (i, b, h, l);
            let mut outcomes = Vec::with_capacity(prepared.len());
            let mut new_hosts = 0;
            for p in &prepared {
                let (outcome, new_host) = put_in(trees, p)?;
                outcomes.push(outcome);
                new_hosts += usize::from(new_host);
            }
            Ok((outcomes, new_hosts))
        });
        match result {
            Ok((outcomes, new_hosts)) => {
                self.hosts.fetch_add(new_hosts, Ordering::Relaxed);
                self.generation.fetch_add(1, Ordering::AcqRel);
                Ok(outcomes)
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(StoreError::Sled(e)),
        }
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn report(&self, report_id: &str) -> Result<Option<(pb::HostReport, SystemTime)>, StoreError> {
        let Some(v) = self.ids.get(report_id)? else {
            return Ok(None);
        };
        let (number, at) = read_id_entry(&v)?;
        let Some(body) = self.bodies.get(number.to_be_bytes())? else {
            return Err(StoreError::Corrupt {
                tree: "bodies",
                problem: format!("{report_id}: body {number} is missing"),
            });
        };
        let r = pb::HostReport::decode(body.as_ref()).map_err(|e| StoreError::Corrupt {
            tree: "bodies",
            problem: format!("{report_id}: {e}"),
        })?;
        Ok(Some((r, from_nanos(at))))
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
        let mut highest = after;
        let mut earliest: Option<u64> = None;
        let first = match after {
            None => 0,
            Some(n) => match n.checked_add(1) {
                Some(f) => f,
                None => return Ok((after, None)),
            },
        };
        for item in self.bodies.range(first.to_be_bytes()..) {
            let (k, v) = item?;
            let n = read_u64("bodies", &k)?;
            highest = Some(highest.map_or(n, |h| h.max(n)));
            let r = pb::HostReport::decode(v.as_ref()).map_err(|e| StoreError::Corrupt {
                tree: "bodies",
                problem: e.to_string(),
            })?;
            let c = r.collected_at.as_ref().map(ts_nanos).unwrap_or(0);
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
        let mut batch = sled::Batch::default();
        for item in self.ledger.iter() {
            let (k, _) = item?;
            if split_ledger_key(&k)?.1 >= day {
                batch.remove(k);
            }
        }
        for (host, d, state) in changes {
            batch.insert(ledger_key(host, *d), state.as_slice());
        }
        self.ledger.apply_batch(batch)?;
        // The report mark is stored plus one, so 0 stands for "none".
        let reports = marks.reports.map_or(0, |r| r.saturating_add(1));
        let mut m = [0u8; 20];
        m[..4].copy_from_slice(&marks.through_day.to_be_bytes());
        m[4..12].copy_from_slice(&reports.to_be_bytes());
        m[12..].copy_from_slice(&marks.imports.to_be_bytes());
        self.meta.insert(LEDGER_MARKS, &m[..])?;
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
        let Some(v) = self.meta.get(LEDGER_MARKS)? else {
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

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn host_count(&self) -> usize {
        self.hosts.load(Ordering::Relaxed)
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
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

    fn put<'a>(host_key: &'a str, report: &'a pb::HostReport, secs: u64) -> Put<'a> {
        Put {
            host_key,
            report,
            received_at: at(secs),
        }
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
        let outcomes = s
            .put_reports(&[
                put("a", &new, 2_000_000_000),
                put("a", &old, 2_000_000_000),
                put("a", &again, 2_000_000_000),
                put("b", &other, 2_000_000_000),
            ])
            .unwrap();
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
    fn a_batch_is_stored_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        s.latest.insert("bad", &[0xff, 0xff, 0xff][..]).unwrap();
        let (good, bad) = (
            report("g1", "good", 1_000_000_000),
            report("b1", "bad", 1_000_000_000),
        );
        let e = s
            .put_reports(&[
                put("good", &good, 1_000_000_001),
                put("bad", &bad, 1_000_000_001),
            ])
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Corrupt { tree: "latest", .. }),
            "{e}"
        );
        assert!(s.report("g1").unwrap().is_none());
        assert!(s.host("good").unwrap().is_none());
        assert!(s.history("good", 10).unwrap().is_empty());
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
        assert!(!s.db.tree_names().iter().any(|n| n.as_ref() == b"reports"));
        drop(s);
        // Opened again, it is schema 2 and keeps the report.
        let s = SledStore::open(dir.path()).unwrap();
        assert!(s.report("r1").unwrap().is_some());
    }
}
