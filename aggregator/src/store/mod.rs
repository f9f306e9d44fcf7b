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
    /// Calls `visit` with every host's summary and latest report, in host-key order; stops at the
    /// first error `visit` returns. A latest report whose body is gone is a corrupt store.
    fn each_latest(
        &self,
        visit: &mut dyn FnMut(pb::HostSummary, pb::HostReport) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// A number that changes whenever a report or an import is stored (not persistent: it
    /// restarts with the process). Readers cache what they derived from the store under it.
    fn generation(&self) -> u64;
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

    // The coverage ledger (see `crate::history`): derived from the reports and imports above,
    // rebuildable, so written without transactions.

    /// A host's history entries collected in `from..=to`, oldest first, and the last one
    /// collected before `from`.
    fn history_window(
        &self,
        host_key: &str,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<(Option<HistoryEntry>, Vec<HistoryEntry>), StoreError>;
    /// The highest stored report number (arrival order) and the earliest collection time among
    /// the reports numbered above `after` (all of them for `None`).
    fn reports_after(
        &self,
        after: Option<u64>,
    ) -> Result<(Option<u64>, Option<SystemTime>), StoreError>;
    /// Calls `visit` with every ledger change (host key, day, state bytes) in host-key then day
    /// order; only `host_key`'s when given.
    fn each_ledger_change(
        &self,
        host_key: Option<&str>,
        visit: &mut LedgerVisit<'_>,
    ) -> Result<(), StoreError>;
    /// Replaces every ledger change on or after `day` with `changes` (host key, day, state), then
    /// records `marks`.
    fn replace_ledger(
        &self,
        day: u32,
        changes: &[(String, u32, Vec<u8>)],
        marks: LedgerMarks,
    ) -> Result<(), StoreError>;
    /// Deletes each host's ledger changes before `day` except the last one (the state the host
    /// entered that day still holds). Returns how many.
    fn prune_ledger(&self, day: u32) -> Result<usize, StoreError>;
    /// What the ledger was last built from; `None` before the first build.
    fn ledger_marks(&self) -> Result<Option<LedgerMarks>, StoreError>;
}

/// What [`Store::each_ledger_change`] calls: host key, day (days since 1970-01-01), state bytes.
pub type LedgerVisit<'a> = dyn FnMut(&str, u32, &[u8]) -> Result<(), StoreError> + 'a;

/// How far the coverage ledger is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerMarks {
    /// The last day computed (days since 1970-01-01); it is recomputed on the next build, as the
    /// day may not be over.
    pub through_day: u32,
    /// The highest report number taken into account (`None`: no report yet).
    pub reports: Option<u64>,
    /// The highest import id taken into account.
    pub imports: u64,
}
