//! The sled backend of [`Store`].
//!
//! Trees and keys, chosen for the queries ops run:
//! - `reports`:  `report_id` -> received_at (8 bytes BE nanos) ++ HostReport (protobuf). The
//!   report-id index: idempotency and "show me report X".
//! - `history`:  `host_key` 0x00 collected_at (8 bytes BE nanos) `report_id` -> received_at. One
//!   host's reports by time is a prefix scan, newest first by scanning it backwards.
//! - `latest`:   `host_key` -> HostSummary (protobuf). Listing hosts pages through this tree alone.
//! - `imports`:  import id (8 bytes BE) -> ImportRecord (JSON) ++ 0x00 ++ Import (JSON). Dated, never
//!   overwritten; ids from sled's persistent counter.
//! - `import_sha`: SHA-256 hex -> import id: the same file imported twice is stored once.
//! - `meta`:     `schema` -> "1".
//!
//! Host keys never hold 0x00 (validation allows only host-name characters), so the separator is safe.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use subcap_proto::v1 as pb;

use super::{HistoryEntry, ImportRecord, PutOutcome, Store, StoreError};
use crate::ilmt::Import;

const SCHEMA: &str = "1";

pub struct SledStore {
    db: sled::Db,
    reports: sled::Tree,
    history: sled::Tree,
    latest: sled::Tree,
    imports: sled::Tree,
    import_sha: sled::Tree,
    hosts: AtomicUsize,
}

impl SledStore {
    /// Opens (or creates) the store in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            None => {
                meta.insert("schema", SCHEMA)?;
            }
            Some(v) if v.as_ref() == SCHEMA.as_bytes() => {}
            Some(v) => {
                return Err(StoreError::Schema {
                    found: String::from_utf8_lossy(&v).into_owned(),
                    expected: SCHEMA.into(),
                })
            }
        }
        let latest = db.open_tree("latest")?;
        let hosts = AtomicUsize::new(latest.len());
        Ok(SledStore {
            reports: db.open_tree("reports")?,
            history: db.open_tree("history")?,
            latest,
            imports: db.open_tree("imports")?,
            import_sha: db.open_tree("import_sha")?,
            hosts,
            db,
        })
    }
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
    let id = r.identity.clone().unwrap_or_default();
    let v = r.virtualization.clone().unwrap_or_default();
    pb::HostSummary {
        host_key: host_key.to_string(),
        hostname: id.hostname,
        fqdn: id.fqdn,
        last_report_id: r.report_id.clone(),
        last_collected_at: r.collected_at,
        last_received_at: Some(timestamp(received_at)),
        kind: v.kind,
        technology: v.technology,
        cloud: v.cloud,
        ibm_installs: u32::try_from(r.ibm_installs.len()).unwrap_or(u32::MAX),
    }
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

impl Store for SledStore {
    fn put_report(
        &self,
        host_key: &str,
        report: &pb::HostReport,
        received_at: SystemTime,
    ) -> Result<PutOutcome, StoreError> {
        let id = report.report_id.as_str();
        let collected = report.collected_at.as_ref().map(ts_nanos).unwrap_or(0);
        let mut body = Vec::with_capacity(8 + report.encoded_len());
        body.extend_from_slice(&nanos(received_at).to_be_bytes());
        report.encode(&mut body).map_err(|e| StoreError::Corrupt {
            tree: "reports",
            problem: e.to_string(),
        })?;
        let hkey = history_key(host_key, collected, id);
        let new_summary = summary(host_key, report, received_at).encode_to_vec();

        let result = (&self.reports, &self.history, &self.latest).transaction(
            |(reports, history, latest)| {
                if let Some(old) = reports.get(id)? {
                    let at =
                        read_u64("reports", &old).map_err(ConflictableTransactionError::Abort)?;
                    return Ok((
                        PutOutcome::Duplicate {
                            received_at: from_nanos(at),
                        },
                        false,
                    ));
                }
                reports.insert(id.as_bytes(), body.as_slice())?;
                history.insert(hkey.as_slice(), &nanos(received_at).to_be_bytes()[..])?;
                let previous = latest.get(host_key)?;
                let newer = match &previous {
                    None => true,
                    Some(v) => {
                        let s = decode_summary(v).map_err(ConflictableTransactionError::Abort)?;
                        s.last_collected_at.as_ref().map(ts_nanos).unwrap_or(0) <= collected
                    }
                };
                if newer {
                    latest.insert(host_key.as_bytes(), new_summary.as_slice())?;
                }
                Ok((PutOutcome::Stored { received_at }, previous.is_none()))
            },
        );
        match result {
            Ok((outcome, new_host)) => {
                if new_host {
                    self.hosts.fetch_add(1, Ordering::Relaxed);
                }
                Ok(outcome)
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
        let Some(v) = self.reports.get(report_id)? else {
            return Ok(None);
        };
        let at = read_u64("reports", &v)?;
        let r = pb::HostReport::decode(&v[8..]).map_err(|e| StoreError::Corrupt {
            tree: "reports",
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
                if id != latest_id && self.reports.remove(id.as_bytes())?.is_some() {
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
                    self.reports.remove(id.as_bytes())?;
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
}
