//! Storage of host reports behind a small trait, so a second backend can come later. The sled
//! backend is in [`sled_store`], its report bodies in [`body_log`]. Callers make writes durable
//! with [`Store::sync`]; nothing is acknowledged to an agent before that returns.

pub mod body_log;
pub mod sled_store;

use std::time::SystemTime;

use subcap_proto::v1 as pb;

use crate::ilmt::Import;

pub use sled_store::SledStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: corrupt record in tree {tree}: {problem}")]
    Corrupt { tree: &'static str, problem: String },
    #[error("store: schema version {found} is not {expected}; this binary cannot read it")]
    Schema { found: String, expected: String },
    #[error("store: {what} ({path}): {source}")]
    Io {
        path: String,
        what: String,
        source: std::io::Error,
    },
    #[error("store: internal error: {0}")]
    Internal(&'static str),
}

/// What storing a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored now, at `received_at`.
    Stored { received_at: SystemTime },
    /// This report id was stored before, at `received_at`; nothing was written.
    Duplicate { received_at: SystemTime },
}

/// One stored report of a host, by time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub report_id: String,
    pub collected_at: SystemTime,
    pub received_at: SystemTime,
}

/// A stored ILMT import's header: what `subcap ilmt imports` lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportRecord {
    /// Sequence number, growing with every import, never reused.
    pub id: u64,
    pub imported_at_nanos: u64,
    pub source: String,
    pub file_name: String,
    pub sha256: String,
    pub computers: u64,
    pub warnings: u64,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub format_version: Option<String>,
}

/// One report to store: for host `host_key`, received at `received_at`.
#[derive(Debug, Clone, Copy)]
pub struct Put<'a> {
    pub host_key: &'a str,
    pub report: &'a pb::HostReport,
    /// `report`'s protobuf, kept as its body: the bytes as received when the caller has them,
    /// else `report` encoded (the ingest writer encodes it on the request's task, so the one
    /// writer thread does not).
    pub body: &'a [u8],
    pub received_at: SystemTime,
}

/// Where reports are kept: latest per host, per-host history by collection time, report-id index.
pub trait Store: Send + Sync + 'static {
    /// Stores each report of `batch` for its host unless its report id is already stored (then
    /// nothing changes for it), in order: one outcome per report, a report the store cannot take
    /// (a damaged record of its host) failing alone. Not yet durable. Not atomic: a report counts
    /// as stored once its id is indexed, which is written after the rest of it, so a crash leaves
    /// at most pieces of a report that was not acknowledged, which its resend completes. `Err`
    /// when the store could not write at all (then none of the batch may be acknowledged).
    fn put_reports(
        &self,
        batch: &[Put<'_>],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError>;
    /// [`Store::put_reports`] with one report.
    fn put_report(
        &self,
        host_key: &str,
        report: &pb::HostReport,
        received_at: SystemTime,
    ) -> Result<PutOutcome, StoreError> {
        let body = prost::Message::encode_to_vec(report);
        let outcomes = self.put_reports(&[Put {
            host_key,
            report,
            body: &body,
            received_at,
        }])?;
        outcomes
            .into_iter()
            .next()
            .ok_or(StoreError::Internal("a batch of one gave no outcome"))?
    }
    /// Makes every write that returned before this call durable on disk.
    fn sync(&self) -> Result<(), StoreError>;
    /// A stored report by id, with when it was received.
    fn report(&self, report_id: &str) -> Result<Option<(pb::HostReport, SystemTime)>, StoreError>;
    /// The summary of a host's latest report.
    fn host(&self, host_key: &str) -> Result<Option<pb::HostSummary>, StoreError>;
    /// Summaries of hosts whose key sorts after `after`, at most `limit`, in key order.
    fn hosts(&self, after: &str, limit: usize) -> Result<Vec<pb::HostSummary>, StoreError>;
    /// A host's history, newest first, at most `limit` entries.
    fn history(&self, host_key: &str, limit: usize) -> Result<Vec<HistoryEntry>, StoreError>;
    /// How many hosts have reported.
    fn host_count(&self) -> usize;
    /// Bytes the store takes on disk.
    fn size_on_disk(&self) -> u64;
    /// Deletes report bodies collected before `before`, except each host's latest; history entries
    /// (the coverage record) are kept. Returns how many bodies were deleted. Reclaims their space.
    fn prune_reports(&self, before: SystemTime) -> Result<usize, StoreError>;
    /// Deletes history entries collected before `before` (and their bodies), except each host's
    /// latest. Returns how many. Reclaims their space.
    fn prune_history(&self, before: SystemTime) -> Result<usize, StoreError>;

    /// Stores an ILMT import as a new dated record (history kept, nothing overwritten), unless an
    /// import with the same SHA-256 is stored already: then that one's record and `true`.
    fn put_import(
        &self,
        import: &Import,
        imported_at: SystemTime,
    ) -> Result<(ImportRecord, bool), StoreError>;
    /// Every import's record, oldest first.
    fn imports(&self) -> Result<Vec<ImportRecord>, StoreError>;
    /// One import, whole.
    fn import(&self, id: u64) -> Result<Option<(ImportRecord, Import)>, StoreError>;
}
