//! The handoff report's data model ([`Handoff`], serialized as `handoff.json`, schema
//! [`SCHEMA`], documented in `docs/handoff-schema.md`) and [`build`], the pure function that makes
//! it from the aggregator's answers: the current reconciliation, the coverage history over the
//! window and the list of ILMT imports.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use subcap_proto::v1 as pb;

use super::timeline::{self, Span, Timeline};
use crate::domain::quarter::{range_text, Quarter};
use crate::domain::{Code, Coverage};
use crate::ilmt::time::CivilDate;
use crate::ops::views::Answer;
use crate::snapshots::coverage::COVERED;
use crate::snapshots::{Integrity, Period as SnapshotPeriod, Snapshot};

/// The `schema` field of `handoff.json`: changes with any change of meaning or removal of a field.
pub const SCHEMA: &str = "subcap.handoff/1";

/// The longest window a report may cover, in days (ten years; IBM's lookback reaches five).
pub const MAX_WINDOW_DAYS: i64 = 3_660;

/// The days a report covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: CivilDate,
    pub to: CivilDate,
    /// Days in the window, both ends included.
    pub days: u32,
}

impl Window {
    /// The window `--from` / `--to` name: `to` defaults to `today`, `from` to the same day two
    /// years before `to` (IBM may ask for any quarter of the last two years). Errors name the flag.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: CivilDate) -> Result<Window, String> {
        let to = match to {
            Some(s) => day(s).ok_or_else(|| format!("--to: {s:?} is not a date YYYY-MM-DD"))?,
            None => today,
        };
        if to > today {
            return Err(format!("--to: {to} is after today ({today})"));
        }
        let from = match from {
            Some(s) => day(s).ok_or_else(|| format!("--from: {s:?} is not a date YYYY-MM-DD"))?,
            None => years_before(to, 2),
        };
        if from > to {
            return Err(format!("--from: {from} is after --to {to}"));
        }
        let days = to.days_since_epoch() - from.days_since_epoch() + 1;
        if days > MAX_WINDOW_DAYS {
            return Err(format!(
                "--from {from} --to {to}: {days} days; a report covers at most {MAX_WINDOW_DAYS}"
            ));
        }
        Ok(Window {
            from,
            to,
            days: u32::try_from(days).unwrap_or(u32::MAX),
        })
    }

    pub(crate) fn first(&self) -> i64 {
        self.from.days_since_epoch()
    }

    pub(crate) fn last(&self) -> i64 {
        self.to.days_since_epoch()
    }
}

/// A day written exactly `YYYY-MM-DD`.
pub fn day(s: &str) -> Option<CivilDate> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    crate::ilmt::time::parse_date(s)
}

/// The same day `years` earlier (29 February becomes 28 February).
fn years_before(d: CivilDate, years: i32) -> CivilDate {
    let y = d.year() - years;
    CivilDate::new(y, d.month(), d.day())
        .or_else(|| CivilDate::new(y, d.month(), 28))
        .unwrap_or(d)
}

/// The date of a Unix time (UTC).
pub fn date_of(unix: i64) -> Option<CivilDate> {
    CivilDate::from_days_since_epoch(unix.div_euclid(86_400))
}

/// What a report is built from, as the aggregator answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sources {
    /// `Query.Reconcile` with hosts and findings: the state now.
    pub reconcile: Answer,
    /// `Query.History` over the window.
    pub history: History,
    /// `Ilmt.ListImports`: every stored import.
    pub imports: Vec<pb::ImportInfo>,
    /// The audit snapshots the customer keeps (`--snapshots DIR`); `None` when not given.
    pub snapshots: Option<SnapshotInputs>,
}

/// A snapshot folder as read: every file hashed (for the manifest), and each snapshot (zip or
/// extracted folder) with its period, checksum verdict and data-condition warnings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotInputs {
    pub files: Vec<InputFile>,
    pub snapshots: Vec<Snapshot>,
}

/// A whole `Query.History` answer, its chunks put together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub basis: Option<pb::HistoryBasis>,
    pub hosts: Vec<pb::HostHistory>,
}

/// What the report is about and when it was made (the caller's clock).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub window: Window,
    pub provider: Option<String>,
    /// Seconds since the Unix epoch.
    pub generated_at: i64,
}

/// The whole report: `handoff.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// [`SCHEMA`].
    pub schema: String,
    /// RFC 3339 UTC.
    pub generated_at: String,
    /// The provider handing over (or taking over), as given with `--provider`.
    pub provider: Option<String>,
    pub window: Window,
    pub basis: Basis,
    pub summary: Summary,
    pub coverage_over_time: Timeline,
    pub findings_by_code: Vec<CodeRow>,
    pub products: Vec<ProductRow>,
    pub hosts: Vec<HostRow>,
    pub periods: Vec<PeriodRow>,
    pub findings: Vec<FindingRow>,
    pub ilmt_imports: Vec<ImportRow>,
    /// Whether a snapshot folder was given (`--snapshots`): without one, the three snapshot
    /// lists are empty and the retention condition is not checked.
    pub snapshots_checked: bool,
    /// Each calendar quarter of the window that has ended, with the snapshots covering it.
    pub snapshot_quarters: Vec<SnapshotQuarterRow>,
    /// Each snapshot of the folder: period, checksum verdict, warnings.
    pub snapshots: Vec<SnapshotRow>,
    /// Every file of the snapshot folder, hashed (they are inputs in the manifest).
    pub snapshot_files: Vec<InputFile>,
    /// What a reader must know about this report (missing data, checks not included).
    pub notes: Vec<String>,
}

/// What the figures were computed from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    /// The aggregator's "today" of the current reconciliation, YYYY-MM-DD.
    pub as_of: String,
    /// RFC 3339 UTC.
    pub computed_at: String,
    /// Id of the ILMT import the current reconciliation used (`ilmt_imports`); null when none.
    pub ilmt_import: Option<u64>,
    pub pvu_table: String,
    pub eligibility_policy: String,
    pub thresholds: Thresholds,
    /// Hosts whose latest report could not be used, each "host key: why".
    pub skipped: Vec<String>,
    /// The first day any report was collected, and the last day the history covers.
    pub history_first_day: String,
    pub history_through: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub stale_days: u32,
    pub scan_max_age_days: u32,
    pub capacity_tolerance_cores: f64,
    pub deadline_days: u32,
}

/// The headline figures, each computed from the rows of this report (the page recomputes them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `hosts` rows.
    pub hosts: u64,
    /// Hosts per current coverage state, every state listed.
    pub hosts_by_coverage: BTreeMap<String, u64>,
    /// Hosts whose current coverage is `uncovered`.
    pub uncovered_now: u64,
    /// Hosts with a current finding that fails a sub-capacity condition (`fails_now`).
    pub failing_now: u64,
    /// Hosts that failed a condition on at least one day of the window (`failing_days` > 0).
    pub failing_hosts_in_window: u64,
    /// Sum of `exposed_pvu` over the hosts failing now whose exposure is known.
    pub exposed_pvu_now: f64,
    /// Hosts failing now whose exposure is not known (host capacity unknown).
    pub exposure_unknown_now: u64,
    /// Sum of `max_exposed_pvu` over the hosts that failed in the window, where known.
    pub peak_exposed_pvu_in_window: f64,
    /// Hosts that failed in the window whose largest exposure is not known.
    pub peak_exposure_unknown_hosts: u64,
    /// `findings` rows.
    pub findings: u64,
    /// Quarters of `snapshot_quarters` with a day no valid snapshot covers (SNAPSHOT_GAP).
    pub snapshot_gaps: u64,
    /// Snapshots whose checksums fail or that cannot be read.
    pub snapshot_problems: u64,
}

/// Findings of one code, now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeRow {
    pub code: String,
    /// A finding of this code fails a sub-capacity condition (the host counts at full capacity).
    pub breaks_claim: bool,
    pub findings: u64,
    /// Distinct hosts with a finding of this code (GHOST findings have none).
    pub hosts: u64,
    /// Sum of the exposed PVU of those hosts, each counted once, where known.
    pub exposed_pvu: f64,
    pub exposure_unknown_hosts: u64,
}

/// One IBM product across the hosts whose reports have shown it. PVU is licensed per product, so
/// a host's exposure counts once for every product on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRow {
    pub product_name: String,
    pub publisher: String,
    pub hosts: u64,
    pub failing_now: u64,
    pub failing_hosts_in_window: u64,
    /// Sum of the hosts' `exposed_pvu` over those failing now (known ones).
    pub exposed_pvu_now: f64,
    /// Sum of the hosts' `max_exposed_pvu` over those that failed in the window (known ones).
    pub peak_exposed_pvu_in_window: f64,
    /// Hosts failing now or failed in the window whose exposure (now or largest) is not known.
    pub exposure_unknown_hosts: u64,
}

/// One host: its state now and over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    pub host_key: String,
    /// Coverage state now (`covered`, `stale`, `uncovered`, `not_required`, `superseded`); empty
    /// when the current reconciliation did not include the host (see `basis.skipped`).
    pub coverage: String,
    /// Codes of the host's current findings, in code order.
    pub codes: Vec<String>,
    /// A current finding fails a sub-capacity condition.
    pub fails_now: bool,
    /// The key that matched the ILMT computer used for capacity (`bigfix_id`, `uuid`, ...).
    pub matched_by: String,
    pub products: Vec<Product>,
    /// Days of the window on which a condition failed.
    pub failing_days: u32,
    /// Largest exposed PVU over those days; null when none failed or it is unknown.
    pub max_exposed_pvu: Option<f64>,
    /// Full minus sub-capacity PVU now; null when the host's capacity is unknown.
    pub exposed_pvu: Option<f64>,
    pub pvu_per_core: Option<f64>,
    pub sub_capacity_pvu: Option<f64>,
    pub full_capacity_pvu: Option<f64>,
    /// How the exposure was computed (rate, sub-capacity, full capacity), as the reconciliation
    /// explains it.
    pub exposure_how: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub product_name: String,
    pub publisher: String,
    /// The day a report first showed it, YYYY-MM-DD (empty when unknown).
    pub first_seen: String,
}

/// Days, both included, in which a host's state did not change (clipped to the window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRow {
    pub host_key: String,
    pub from: CivilDate,
    pub to: CivilDate,
    pub days: u32,
    pub coverage: String,
    pub codes: Vec<String>,
    /// A sub-capacity condition failed on these days.
    pub fails: bool,
    pub exposed_pvu: Option<f64>,
    /// The ILMT import reconciled against; null before the first import.
    pub ilmt_import: Option<u64>,
    /// The host's latest report was older than the stale threshold on these days.
    pub agent_silent: bool,
}

/// A finding now, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRow {
    pub code: String,
    /// Empty for a GHOST (an ILMT computer no agent matched).
    pub host_key: String,
    pub ilmt: Vec<IlmtRef>,
    pub summary: String,
    pub evidence: Vec<String>,
    pub exposed_pvu: Option<f64>,
    pub first_seen: String,
    pub last_seen: String,
    pub due: String,
    pub uncertain: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IlmtRef {
    pub id: Option<i64>,
    pub name: String,
    pub source_row: u64,
}

/// A stored ILMT import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRow {
    pub id: u64,
    pub imported_at: String,
    pub source: String,
    pub file_name: String,
    /// SHA-256 of the file's bytes, recorded when it was imported.
    pub sha256: String,
    pub computers: u64,
    pub warnings: u64,
    pub period_start: String,
    pub period_end: String,
    pub format_version: String,
    /// The report used it: the current reconciliation or a day of the window reconciled against it.
    pub used: bool,
}

/// A calendar quarter and whether audit snapshots cover it: `covered` when every day lies in the
/// period of a snapshot whose checksums hold, else `SNAPSHOT_GAP` with the days missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotQuarterRow {
    /// `2025-Q3`.
    pub quarter: String,
    pub first_day: CivilDate,
    pub last_day: CivilDate,
    /// `covered` or `SNAPSHOT_GAP`.
    pub status: String,
    /// The snapshots whose period overlaps the quarter, valid or not (`snapshots[].file`).
    pub snapshots: Vec<String>,
    /// Days no valid snapshot covers, as `YYYY-MM-DD..YYYY-MM-DD` ranges (or one day).
    pub uncovered: Vec<String>,
}

/// One audit snapshot of the folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRow {
    /// Its file (or extracted folder) name in the folder.
    pub file: String,
    /// The period it reports on (`data_condition.txt`), null when unknown.
    pub period_start: Option<CivilDate>,
    pub period_end: Option<CivilDate>,
    /// `ok`, `CHECKSUM_MISMATCH` or `UNREADABLE`.
    pub checksums: String,
    /// What is wrong: each checksum failure, the reason the period is unknown, or why it cannot be
    /// read.
    pub problems: Vec<String>,
    /// Data-condition warnings that do not make it invalid.
    pub warnings: Vec<String>,
}

/// A file given to the report as input, hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    pub file_name: String,
    pub sha256: String,
    pub size: u64,
}

fn time(t: &Option<pbjson_types::Timestamp>) -> String {
    t.as_ref()
        .map(|t| subcap_proto::time::rfc3339(t.seconds))
        .unwrap_or_default()
}

fn breaks_claim(code: &str) -> bool {
    code.parse::<Code>().is_ok_and(Code::breaks_claim)
}

/// The report, from the aggregator's answers. Pure: the clock is `params.generated_at`.
pub fn build(params: &Params, sources: &Sources) -> Handoff {
    let mut notes = Vec::new();
    let basis = basis(sources, &mut notes);
    let hosts = host_rows(sources);
    let periods = period_rows(params.window, &sources.history.hosts, &mut notes);
    let findings: Vec<FindingRow> = sources.reconcile.findings.iter().map(finding_row).collect();
    let coverage_over_time = {
        let spans: Vec<Vec<Span>> = group_spans(&periods);
        timeline::compute(params.window, &spans)
    };
    let summary = summary(&hosts, &findings);
    cross_check(&summary, sources, &mut notes);
    let used = used_imports(sources, &periods);
    let ilmt_imports = sources
        .imports
        .iter()
        .map(|i| import_row(i, used.contains(&i.id)))
        .collect();
    if basis.ilmt_import.is_none() {
        notes.push(
            "No ILMT import was used by the current reconciliation: every host with IBM software \
             is UNCOVERED."
                .into(),
        );
    }
    let snapshots = snapshot_tables(params.window, sources.snapshots.as_ref());
    if sources.snapshots.is_none() {
        notes.push(
            "No snapshot folder was given (--snapshots): whether an audit snapshot covers every \
             quarter of the window, and holds its checksums, is not checked in this report."
                .into(),
        );
    }
    let mut summary = summary;
    summary.snapshot_gaps = snapshots
        .quarters
        .iter()
        .filter(|q| q.status != COVERED)
        .count() as u64;
    summary.snapshot_problems = snapshots
        .rows
        .iter()
        .filter(|r| r.checksums != Integrity::Verified.code())
        .count() as u64;
    Handoff {
        schema: SCHEMA.into(),
        generated_at: subcap_proto::time::rfc3339(params.generated_at),
        provider: params.provider.clone(),
        window: params.window,
        basis,
        summary,
        coverage_over_time,
        findings_by_code: code_rows(&findings, &hosts),
        products: product_rows(&hosts),
        hosts,
        periods,
        findings,
        ilmt_imports,
        snapshots_checked: sources.snapshots.is_some(),
        snapshot_quarters: snapshots.quarters,
        snapshots: snapshots.rows,
        snapshot_files: sources
            .snapshots
            .as_ref()
            .map(|s| s.files.clone())
            .unwrap_or_default(),
        notes,
    }
}

fn basis(sources: &Sources, notes: &mut Vec<String>) -> Basis {
    let mut b = Basis::default();
    match &sources.reconcile.basis {
        Some(r) => {
            b.as_of = r.as_of.clone();
            b.computed_at = time(&r.computed_at);
            b.ilmt_import = r.ilmt_import.as_ref().map(|i| i.id);
            b.pvu_table = r.pvu_table.clone();
            b.eligibility_policy = r.eligibility_policy.clone();
            b.thresholds = Thresholds {
                stale_days: r.stale_days,
                scan_max_age_days: r.scan_max_age_days,
                capacity_tolerance_cores: r.capacity_tolerance_cores,
                deadline_days: r.deadline_days,
            };
            b.skipped = r.skipped.clone();
        }
        None => notes.push("The aggregator sent no reconciliation basis.".into()),
    }
    match &sources.history.basis {
        Some(h) => {
            b.history_first_day = h.first_day.clone();
            b.history_through = h.through.clone();
        }
        None => notes.push("The aggregator sent no history basis.".into()),
    }
    b
}

/// `exposure_how`: the exposure's summary, then how each side was computed.
fn exposure_how(e: &pb::Exposure) -> String {
    let mut parts = Vec::new();
    if !e.summary.is_empty() {
        parts.push(e.summary.clone());
    }
    if !e.pvu_per_core_how.is_empty() {
        parts.push(format!("rate: {}", e.pvu_per_core_how));
    }
    if let Some(c) = &e.sub_capacity {
        parts.push(format!("sub-capacity: {}", c.how));
    }
    match (&e.full_capacity, &e.full_capacity_lower_bound) {
        (Some(c), _) => parts.push(format!("full capacity: {}", c.how)),
        (None, lb) => {
            parts.push(format!(
                "full capacity unknown: {}",
                e.full_capacity_unknown
            ));
            if let Some(lb) = lb {
                parts.push(format!("at least: {}", lb.how));
            }
        }
    }
    parts.join("; ")
}

fn products(h: &pb::HostHistory) -> Vec<Product> {
    let mut all: Vec<Product> = h
        .products
        .iter()
        .map(|p| Product {
            product_name: p.product_name.clone(),
            publisher: p.publisher.clone(),
            first_seen: p
                .first_seen_at
                .as_ref()
                .and_then(|t| date_of(t.seconds))
                .map(|d| d.to_string())
                .unwrap_or_default(),
        })
        .collect();
    // One row per product and publisher, with the earliest known first-seen day.
    all.sort_by(|a, b| {
        (
            &a.product_name,
            &a.publisher,
            a.first_seen.is_empty(),
            &a.first_seen,
        )
            .cmp(&(
                &b.product_name,
                &b.publisher,
                b.first_seen.is_empty(),
                &b.first_seen,
            ))
    });
    all.dedup_by(|b, a| a.product_name == b.product_name && a.publisher == b.publisher);
    all
}

/// One row per host of the current reconciliation or of the history, by host key.
fn host_rows(sources: &Sources) -> Vec<HostRow> {
    let mut by_key: BTreeMap<&str, (Option<&pb::HostCoverage>, Option<&pb::HostHistory>)> =
        BTreeMap::new();
    for h in &sources.reconcile.hosts {
        by_key.entry(&h.host_key).or_default().0 = Some(h);
    }
    for h in &sources.history.hosts {
        by_key.entry(&h.host_key).or_default().1 = Some(h);
    }
    by_key
        .into_iter()
        .map(|(key, (now, hist))| {
            let e = now.and_then(|h| h.exposure.as_ref());
            let codes = now.map(|h| h.codes.clone()).unwrap_or_default();
            let failing_days = hist.map(|h| h.failing_days).unwrap_or(0);
            HostRow {
                host_key: key.to_string(),
                coverage: now.map(|h| h.coverage.clone()).unwrap_or_default(),
                fails_now: codes.iter().any(|c| breaks_claim(c)),
                codes,
                matched_by: now
                    .and_then(|h| h.matches.first())
                    .map(|m| m.key.clone())
                    .unwrap_or_default(),
                products: hist.map(products).unwrap_or_default(),
                failing_days,
                max_exposed_pvu: hist
                    .and_then(|h| h.max_exposed_pvu)
                    .filter(|_| failing_days > 0),
                exposed_pvu: e.and_then(|e| e.exposed_pvu),
                pvu_per_core: e.map(|e| e.pvu_per_core),
                sub_capacity_pvu: e.and_then(|e| e.sub_capacity.as_ref()).map(|c| c.pvu),
                full_capacity_pvu: e.and_then(|e| e.full_capacity.as_ref()).map(|c| c.pvu),
                exposure_how: e.map(exposure_how).unwrap_or_default(),
            }
        })
        .collect()
}

/// The history's periods clipped to the window, by host key then day. A period whose days are not
/// dates is left out and named in the notes.
fn period_rows(
    window: Window,
    hosts: &[pb::HostHistory],
    notes: &mut Vec<String>,
) -> Vec<PeriodRow> {
    let mut rows = Vec::new();
    for h in hosts {
        for p in &h.periods {
            let (Some(from), Some(to)) = (day(&p.from), day(&p.to)) else {
                notes.push(format!(
                    "{}: a period {:?} to {:?} is not made of dates YYYY-MM-DD; left out",
                    h.host_key, p.from, p.to
                ));
                continue;
            };
            let from = from.max(window.from);
            let to = to.min(window.to);
            if from > to {
                continue;
            }
            let days = to.days_since_epoch() - from.days_since_epoch() + 1;
            rows.push(PeriodRow {
                host_key: h.host_key.clone(),
                from,
                to,
                days: u32::try_from(days).unwrap_or(u32::MAX),
                coverage: p.coverage.clone(),
                codes: p.codes.clone(),
                fails: p.fails,
                exposed_pvu: p.exposed_pvu,
                ilmt_import: (p.ilmt_import != 0).then_some(p.ilmt_import),
                agent_silent: p.agent_silent,
            });
        }
    }
    rows.sort_by(|a, b| (&a.host_key, a.from).cmp(&(&b.host_key, b.from)));
    rows
}

/// Each host's periods as day spans, for the timeline (rows are sorted by host, then day).
fn group_spans(rows: &[PeriodRow]) -> Vec<Vec<Span>> {
    let mut out: Vec<Vec<Span>> = Vec::new();
    let mut last: Option<&str> = None;
    for r in rows {
        let span = Span {
            from: r.from.days_since_epoch(),
            to: r.to.days_since_epoch(),
            coverage: r.coverage.parse::<Coverage>().ok(),
            fails: r.fails,
            exposed_pvu: r.exposed_pvu,
        };
        match out.last_mut() {
            Some(v) if last == Some(r.host_key.as_str()) => v.push(span),
            _ => out.push(vec![span]),
        }
        last = Some(&r.host_key);
    }
    out
}

fn finding_row(f: &pb::Finding) -> FindingRow {
    FindingRow {
        code: f.code.clone(),
        host_key: f.host_key.clone(),
        ilmt: f
            .ilmt
            .iter()
            .map(|r| IlmtRef {
                id: r.id,
                name: r.name.clone(),
                source_row: r.source_row,
            })
            .collect(),
        summary: f.summary.clone(),
        evidence: f.evidence.clone(),
        exposed_pvu: f.exposure.as_ref().and_then(|e| e.exposed_pvu),
        first_seen: f.first_seen.clone(),
        last_seen: f.last_seen.clone(),
        due: f.due.clone(),
        uncertain: f.uncertain,
    }
}

fn summary(hosts: &[HostRow], findings: &[FindingRow]) -> Summary {
    let mut s = Summary {
        hosts: hosts.len() as u64,
        hosts_by_coverage: Coverage::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), 0))
            .collect(),
        findings: findings.len() as u64,
        ..Summary::default()
    };
    for h in hosts {
        if let Some(n) = s.hosts_by_coverage.get_mut(&h.coverage) {
            *n += 1;
        }
        if h.coverage == Coverage::Uncovered.as_str() {
            s.uncovered_now += 1;
        }
        if h.fails_now {
            s.failing_now += 1;
            match h.exposed_pvu {
                Some(p) => s.exposed_pvu_now += p,
                None => s.exposure_unknown_now += 1,
            }
        }
        if h.failing_days > 0 {
            s.failing_hosts_in_window += 1;
            match h.max_exposed_pvu {
                Some(p) => s.peak_exposed_pvu_in_window += p,
                None => s.peak_exposure_unknown_hosts += 1,
            }
        }
    }
    s
}

/// Notes where this report's own sums differ from the aggregator's totals (they should not).
fn cross_check(s: &Summary, sources: &Sources, notes: &mut Vec<String>) {
    let Some(t) = &sources.reconcile.totals else {
        return;
    };
    let reconciled = sources.reconcile.hosts.len() as u64;
    if t.hosts != reconciled {
        notes.push(format!(
            "The aggregator counted {} hosts; its answer listed {reconciled}.",
            t.hosts
        ));
    }
    if (t.exposed_pvu - s.exposed_pvu_now).abs() > 1e-6 {
        notes.push(format!(
            "The aggregator's total exposed PVU is {}; the hosts of this report add up to {}.",
            crate::domain::model::num(t.exposed_pvu),
            crate::domain::model::num(s.exposed_pvu_now)
        ));
    }
}

fn used_imports(sources: &Sources, periods: &[PeriodRow]) -> BTreeSet<u64> {
    let mut used: BTreeSet<u64> = periods.iter().filter_map(|p| p.ilmt_import).collect();
    if let Some(i) = sources
        .reconcile
        .basis
        .as_ref()
        .and_then(|b| b.ilmt_import.as_ref())
    {
        used.insert(i.id);
    }
    if let Some(b) = &sources.history.basis {
        used.extend(b.ilmt_imports.iter().map(|i| i.id));
    }
    used
}

fn import_row(i: &pb::ImportInfo, used: bool) -> ImportRow {
    ImportRow {
        id: i.id,
        imported_at: time(&i.imported_at),
        source: i.source.clone(),
        file_name: i.file_name.clone(),
        sha256: i.sha256.clone(),
        computers: i.computers,
        warnings: i.warnings,
        period_start: i.period_start.clone(),
        period_end: i.period_end.clone(),
        format_version: i.format_version.clone(),
        used,
    }
}

/// Every finding code (the vocabulary's order, then any other code the answer has), with counts.
fn code_rows(findings: &[FindingRow], hosts: &[HostRow]) -> Vec<CodeRow> {
    let mut codes: Vec<String> = Code::ALL.iter().map(|c| c.as_str().to_string()).collect();
    let extra: BTreeSet<&str> = findings
        .iter()
        .map(|f| f.code.as_str())
        .filter(|c| c.parse::<Code>().is_err())
        .collect();
    codes.extend(extra.into_iter().map(str::to_string));
    let exposure: BTreeMap<&str, Option<f64>> = hosts
        .iter()
        .map(|h| (h.host_key.as_str(), h.exposed_pvu))
        .collect();
    codes
        .into_iter()
        .map(|code| {
            let of_code = findings.iter().filter(|f| f.code == code);
            let n = of_code.clone().count() as u64;
            let keys: BTreeSet<&str> = of_code
                .filter(|f| !f.host_key.is_empty())
                .map(|f| f.host_key.as_str())
                .collect();
            let mut row = CodeRow {
                breaks_claim: breaks_claim(&code),
                code,
                findings: n,
                hosts: keys.len() as u64,
                exposed_pvu: 0.0,
                exposure_unknown_hosts: 0,
            };
            for k in keys {
                match exposure.get(k).copied().flatten() {
                    Some(p) => row.exposed_pvu += p,
                    None => row.exposure_unknown_hosts += 1,
                }
            }
            row
        })
        .collect()
}

fn product_rows(hosts: &[HostRow]) -> Vec<ProductRow> {
    let mut by: BTreeMap<(&str, &str), ProductRow> = BTreeMap::new();
    for h in hosts {
        for p in &h.products {
            let row = by
                .entry((&p.product_name, &p.publisher))
                .or_insert_with(|| ProductRow {
                    product_name: p.product_name.clone(),
                    publisher: p.publisher.clone(),
                    hosts: 0,
                    failing_now: 0,
                    failing_hosts_in_window: 0,
                    exposed_pvu_now: 0.0,
                    peak_exposed_pvu_in_window: 0.0,
                    exposure_unknown_hosts: 0,
                });
            row.hosts += 1;
            let mut unknown = false;
            if h.fails_now {
                row.failing_now += 1;
                match h.exposed_pvu {
                    Some(p) => row.exposed_pvu_now += p,
                    None => unknown = true,
                }
            }
            if h.failing_days > 0 {
                row.failing_hosts_in_window += 1;
                match h.max_exposed_pvu {
                    Some(p) => row.peak_exposed_pvu_in_window += p,
                    None => unknown = true,
                }
            }
            if unknown {
                row.exposure_unknown_hosts += 1;
            }
        }
    }
    by.into_values().collect()
}

/// The calendar quarters of `window` that have ended by its last day: from the quarter holding
/// its first day (IBM may ask for a quarter the window starts in) to the last one ended by `to`.
pub fn quarters(window: Window) -> Vec<Quarter> {
    let mut out = Vec::new();
    let mut q = Quarter::of(window.from);
    while q.last_day() <= window.last() {
        out.push(q);
        q = q.next();
    }
    out
}

struct SnapshotTables {
    quarters: Vec<SnapshotQuarterRow>,
    rows: Vec<SnapshotRow>,
}

/// The snapshot check over the window's quarters (`crate::snapshots`' rule), as rows.
fn snapshot_tables(window: Window, inputs: Option<&SnapshotInputs>) -> SnapshotTables {
    let Some(inputs) = inputs else {
        return SnapshotTables {
            quarters: Vec::new(),
            rows: Vec::new(),
        };
    };
    let snaps = &inputs.snapshots;
    let eval = crate::snapshots::evaluate(snaps, &quarters(window));
    let day = |d: i64| CivilDate::from_days_since_epoch(d).unwrap_or(window.from);
    let quarters = eval
        .quarters
        .iter()
        .map(|q| SnapshotQuarterRow {
            quarter: q.quarter.to_string(),
            first_day: day(q.quarter.first_day()),
            last_day: day(q.quarter.last_day()),
            status: q.status().to_string(),
            snapshots: q
                .snapshots
                .iter()
                .filter_map(|&i| snaps.get(i))
                .map(|s| s.file.clone())
                .collect(),
            uncovered: q.uncovered.iter().map(|&(a, b)| range_text(a, b)).collect(),
        })
        .collect();
    let rows = snaps
        .iter()
        .map(|s| {
            let (period_start, period_end, mut problems) = match &s.period {
                SnapshotPeriod::Known { start, end } => (Some(*start), Some(*end), Vec::new()),
                SnapshotPeriod::Unknown(why) => (None, None, vec![why.clone()]),
            };
            match &s.integrity {
                Integrity::Verified => {}
                Integrity::Mismatch(failures) => problems.extend(
                    failures
                        .iter()
                        .map(|f| format!("{}: {}", f.member, f.problem)),
                ),
                Integrity::Unreadable(why) => problems.push(why.clone()),
            }
            SnapshotRow {
                file: s.file.clone(),
                period_start,
                period_end,
                checksums: s.integrity.code().to_string(),
                problems,
                warnings: s.warnings.clone(),
            }
        })
        .collect();
    SnapshotTables { quarters, rows }
}

/// `handoff.json`: compact JSON (one line: 20,000 hosts' periods make tens of megabytes, which the
/// page parses and hashes on opening; `jq .` shows it indented) with `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026`, so
/// the file's bytes can be embedded in an HTML `<script>` element unchanged (nothing in it can close
/// the element) and the page can show, and check, the file's SHA-256.
pub fn to_json(h: &Handoff) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string(h)?;
    Ok(escape_for_html(&text) + "\n")
}

/// JSON text with `<`, `>`, `&` escaped. They occur only inside strings, where `\uXXXX` means the
/// same character, so the value is unchanged.
pub fn escape_for_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testkit;

    #[test]
    fn window_flags() {
        let today = day("2025-11-23").unwrap();
        let ok = |from: Option<&str>, to: Option<&str>| {
            let w = Window::parse(from, to, today).unwrap();
            (w.from.to_string(), w.to.to_string(), w.days)
        };
        assert_eq!(
            ok(None, None),
            ("2023-11-23".into(), "2025-11-23".into(), 732)
        );
        assert_eq!(
            ok(None, Some("2024-02-29")),
            ("2022-02-28".into(), "2024-02-29".into(), 732)
        );
        assert_eq!(
            ok(Some("2025-07-01"), Some("2025-09-30")),
            ("2025-07-01".into(), "2025-09-30".into(), 92)
        );
        assert_eq!(
            ok(Some("2025-11-23"), None),
            ("2025-11-23".into(), "2025-11-23".into(), 1)
        );
        for (from, to, err) in [
            (
                Some("2025-13-01"),
                None,
                "--from: \"2025-13-01\" is not a date YYYY-MM-DD",
            ),
            (
                Some("01.07.2025"),
                None,
                "--from: \"01.07.2025\" is not a date YYYY-MM-DD",
            ),
            (
                None,
                Some("2025-11-24"),
                "--to: 2025-11-24 is after today (2025-11-23)",
            ),
            (
                Some("2025-10-02"),
                Some("2025-10-01"),
                "--from: 2025-10-02 is after --to 2025-10-01",
            ),
            (
                Some("2010-01-01"),
                None,
                "--from 2010-01-01 --to 2025-11-23: 5806 days; a report covers at most 3660",
            ),
        ] {
            assert_eq!(Window::parse(from, to, today).unwrap_err(), err);
        }
    }

    #[test]
    fn hosts_merge_now_and_the_window() {
        let h = testkit::handoff();
        // host, coverage, fails now, failing days, max exposed, exposed now
        type Row<'a> = (&'a str, &'a str, bool, u32, Option<f64>, Option<f64>);
        let rows: Vec<Row> = h
            .hosts
            .iter()
            .map(|r| {
                (
                    r.host_key.as_str(),
                    r.coverage.as_str(),
                    r.fails_now,
                    r.failing_days,
                    r.max_exposed_pvu,
                    r.exposed_pvu,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("app01.bank.example", "covered", false, 10, None, None),
                (
                    "db01.bank.example",
                    "uncovered",
                    true,
                    31,
                    Some(3360.0),
                    Some(3360.0)
                ),
                ("web01.bank.example", "covered", false, 0, None, Some(0.0)),
            ]
        );
        let db01 = &h.hosts[1];
        let products: Vec<(&str, &str)> = db01
            .products
            .iter()
            .map(|p| (p.product_name.as_str(), p.first_seen.as_str()))
            .collect();
        assert_eq!(
            products,
            [("IBM Db2", "2025-03-01"), ("IBM MQ", "2024-12-01")]
        );
        assert_eq!(db01.matched_by, "");
        assert_eq!(h.hosts[0].matched_by, "fqdn");
        assert!(
            db01.exposure_how
                .starts_with("3360 PVU more at full capacity; rate: Xeon")
                && db01.exposure_how.contains("full capacity: 32 cores x 120"),
            "{}",
            db01.exposure_how
        );
        assert!(h.hosts[0]
            .exposure_how
            .contains("full capacity unknown: no ILMT host data"));
    }

    #[test]
    fn summary_counts_the_rows() {
        let s = testkit::handoff().summary;
        assert_eq!(
            (
                s.hosts,
                s.uncovered_now,
                s.failing_now,
                s.failing_hosts_in_window,
                s.findings
            ),
            (3, 1, 1, 2, 3)
        );
        assert_eq!((s.exposed_pvu_now, s.exposure_unknown_now), (3360.0, 0));
        assert_eq!(
            (s.peak_exposed_pvu_in_window, s.peak_exposure_unknown_hosts),
            (3360.0, 1)
        );
        assert_eq!(s.hosts_by_coverage.len(), Coverage::ALL.len());
        assert_eq!(s.hosts_by_coverage["covered"], 2);
        assert_eq!(s.hosts_by_coverage["superseded"], 0);
    }

    #[test]
    fn periods_are_clipped_to_the_window_and_timeline_follows_them() {
        let h = testkit::handoff();
        let db01: Vec<(String, String, u32, bool)> = h
            .periods
            .iter()
            .filter(|p| p.host_key == "db01.bank.example")
            .map(|p| (p.from.to_string(), p.to.to_string(), p.days, p.fails))
            .collect();
        assert_eq!(
            db01,
            [
                ("2025-01-01".into(), "2025-02-28".into(), 59, false),
                ("2025-03-01".into(), "2025-03-31".into(), 31, true),
            ]
        );
        assert_eq!(h.periods.len(), 6);
        let t = &h.coverage_over_time;
        assert_eq!((t.granularity.as_str(), t.points.len()), ("day", 90));
        let at = |d: &str| t.points.iter().find(|p| p.to.to_string() == d).unwrap();
        let feb = at("2025-02-05");
        assert_eq!(
            (
                feb.reporting,
                feb.covered,
                feb.stale,
                feb.failing,
                feb.exposed_pvu
            ),
            (3, 2, 1, 1, 0.0)
        );
        let mar = at("2025-03-15");
        assert_eq!(
            (mar.covered, mar.uncovered, mar.failing, mar.exposed_pvu),
            (2, 1, 1, 3360.0)
        );
    }

    #[test]
    fn findings_by_code_and_by_product() {
        let h = testkit::handoff();
        assert_eq!(h.findings_by_code.len(), Code::ALL.len());
        let code = |c: &str| h.findings_by_code.iter().find(|r| r.code == c).unwrap();
        let u = code("UNCOVERED");
        assert_eq!(
            (u.breaks_claim, u.findings, u.hosts, u.exposed_pvu),
            (true, 1, 1, 3360.0)
        );
        let d = code("DEADLINE");
        assert_eq!(
            (d.breaks_claim, d.findings, d.exposure_unknown_hosts),
            (false, 1, 1)
        );
        let g = code("GHOST");
        assert_eq!((g.findings, g.hosts), (1, 0));
        assert_eq!(code("STALE").findings, 0);

        // product, hosts, failing now, failed in window, exposed now, peak, unknown
        type Row<'a> = (&'a str, u64, u64, u64, f64, f64, u64);
        let p: Vec<Row> = h
            .products
            .iter()
            .map(|r| {
                (
                    r.product_name.as_str(),
                    r.hosts,
                    r.failing_now,
                    r.failing_hosts_in_window,
                    r.exposed_pvu_now,
                    r.peak_exposed_pvu_in_window,
                    r.exposure_unknown_hosts,
                )
            })
            .collect();
        assert_eq!(
            p,
            [
                ("IBM Db2", 1, 1, 1, 3360.0, 3360.0, 0),
                ("IBM MQ", 2, 1, 1, 3360.0, 3360.0, 0),
                ("IBM WebSphere Application Server", 1, 0, 1, 0.0, 0.0, 1),
            ]
        );
    }

    #[test]
    fn imports_used_and_notes() {
        let h = testkit::handoff();
        let used: Vec<(u64, bool)> = h.ilmt_imports.iter().map(|i| (i.id, i.used)).collect();
        assert_eq!(used, [(1, false), (2, true), (3, true)]);
        assert!(h.notes.is_empty(), "{:?}", h.notes);
        assert!(h.snapshots_checked);
        assert_eq!(h.basis.ilmt_import, Some(2));
        assert_eq!(h.generated_at, "2025-04-01T02:00:00Z");

        let mut s = testkit::sources();
        s.reconcile.totals.as_mut().unwrap().exposed_pvu = 1.0;
        s.reconcile.basis.as_mut().unwrap().ilmt_import = None;
        s.history.hosts[0].periods[0].from = "Jan 1".into();
        s.snapshots = None;

        let h = build(&testkit::params(), &s);
        let notes = h.notes.join("\n");
        for want in [
            "app01.bank.example: a period \"Jan 1\" to \"2025-01-31\" is not made of dates",
            "The aggregator's total exposed PVU is 1; the hosts of this report add up to 3360.",
            "No ILMT import was used by the current reconciliation",
            "No snapshot folder was given (--snapshots)",
        ] {
            assert!(notes.contains(want), "{want}: {notes}");
        }
        assert_eq!(h.periods.len(), 5);
    }

    #[test]
    fn the_quarters_of_a_window_are_those_ended_by_its_last_day() {
        let q = |from: &str, to: &str| -> Vec<String> {
            let w = Window::parse(Some(from), Some(to), day("2030-01-01").unwrap()).unwrap();
            quarters(w).iter().map(|q| q.to_string()).collect()
        };
        assert_eq!(q("2025-01-01", "2025-03-31"), ["2025-Q1"]);
        assert!(q("2025-01-01", "2025-03-30").is_empty());
        assert_eq!(q("2025-02-10", "2025-07-01"), ["2025-Q1", "2025-Q2"]);
        // The default window on 2025-11-23: the eight quarters `subcap snapshots check` checks.
        let w = Window::parse(None, None, day("2025-11-23").unwrap()).unwrap();
        let all: Vec<String> = quarters(w).iter().map(|q| q.to_string()).collect();
        assert_eq!(all.first().map(String::as_str), Some("2023-Q4"));
        assert_eq!(all.last().map(String::as_str), Some("2025-Q3"));
        assert_eq!(all.len(), 8);
    }

    #[test]
    fn snapshots_are_checked_quarter_by_quarter() {
        let h = testkit::handoff();
        assert_eq!(h.snapshot_quarters.len(), 1);
        let q = &h.snapshot_quarters[0];
        assert_eq!(
            (q.quarter.as_str(), q.status.as_str()),
            ("2025-Q1", "SNAPSHOT_GAP")
        );
        assert_eq!(q.uncovered, ["2025-02-16..2025-03-31"]);
        assert_eq!(q.snapshots.len(), 2);
        let bad = &h.snapshots[1];
        assert_eq!(bad.checksums, "CHECKSUM_MISMATCH");
        assert_eq!(
            bad.problems,
            ["pvu_sub_capacity.csv: SHA-256 differs from checksums.txt"]
        );
        assert_eq!(
            (h.summary.snapshot_gaps, h.summary.snapshot_problems),
            (1, 1)
        );
        assert_eq!(h.snapshot_files.len(), 2);

        let mut s = testkit::sources();
        s.snapshots = None;
        let h = build(&testkit::params(), &s);
        assert!(!h.snapshots_checked && h.snapshot_quarters.is_empty());
        assert_eq!(h.summary.snapshot_gaps, 0);
    }

    #[test]
    fn json_round_trips_and_embeds_safely() {
        let mut h = testkit::handoff();
        h.provider = Some("Acme <Ops> & Co".into());
        let text = to_json(&h).unwrap();
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        assert!(text.contains("Acme \\u003cOps\\u003e \\u0026 Co"));
        let back: Handoff = serde_json::from_str(&text).unwrap();
        assert_eq!(back, h);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["window"]["from"], "2025-01-01");
        assert_eq!(v["hosts"][0]["exposed_pvu"], serde_json::Value::Null);
    }
}
