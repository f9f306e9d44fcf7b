//! The coverage ledger: for every host, the days on which its coverage state changed, derived by
//! reconciling, day by day, each host's latest report collected by that day with the ILMT import
//! in effect that day. Only changes are stored (see [`crate::domain::history`]), so five years of
//! an estate stay small.
//!
//! The ledger is derived data: [`Ledger::build`] recomputes from the first day its inputs changed
//! (a report collected on an earlier day arriving late, an import dated in the past such as an
//! old audit snapshot) through today, and today is recomputed at every build because it is not
//! over. Reports whose bodies retention has deleted count through the last body kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use subcap_proto::v1 as pb;

use crate::convert;
use crate::domain::history::{day_states, failing, periods, DayState, Period};
use crate::domain::{self, AgentHost, Code};
use crate::ilmt::{CivilDate, IlmtComputer};
use crate::reconcile::{day_of, first_ibm_seen_by, ReconcileError, Rules};
use crate::store::{ImportRecord, LedgerMarks, Store, StoreError};

/// The day an import describes ILMT from: an audit snapshot's first period day, else the day it
/// was imported.
pub fn import_as_of(r: &ImportRecord) -> Option<CivilDate> {
    if r.source == "audit_snapshot" {
        if let Some(d) = r
            .period_start
            .as_deref()
            .and_then(crate::ilmt::time::parse_date)
        {
            return Some(d);
        }
    }
    let secs = i64::try_from(r.imported_at_nanos / 1_000_000_000).ok()?;
    Some(crate::ilmt::UtcTime::from_unix(secs).date())
}

/// The import in effect on `day`: the one describing ILMT from the latest day on or before it;
/// on the same day a host list wins over an audit snapshot, then the later import.
pub fn import_in_effect(records: &[ImportRecord], day: CivilDate) -> Option<&ImportRecord> {
    records
        .iter()
        .filter_map(|r| import_as_of(r).filter(|d| *d <= day).map(|d| (d, r)))
        .max_by_key(|(d, r)| (*d, r.source != "audit_snapshot", r.id))
        .map(|(_, r)| r)
}

fn day_number(d: CivilDate) -> u32 {
    u32::try_from(d.days_since_epoch()).unwrap_or(0)
}

fn day_from_number(n: u32) -> Option<CivilDate> {
    CivilDate::from_days_since_epoch(i64::from(n))
}

fn start_of(d: CivilDate) -> SystemTime {
    let secs = u64::try_from(d.days_since_epoch()).unwrap_or(0) * 86_400;
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// A host's ledger: the days its state changed and the new state, oldest first.
pub type Changes = Vec<(CivilDate, DayState)>;

/// What one build did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BuildStats {
    /// Days recomputed.
    pub days: u32,
    pub changes: usize,
    /// Reports listed in the history whose body is gone (retention); the host keeps its state.
    pub missing_bodies: usize,
}

/// Builds and reads the ledger of one store.
pub struct Ledger {
    store: Arc<dyn Store>,
    /// Report bodies are kept this many days: no day before can be recomputed.
    report_days: u32,
    building: Mutex<()>,
}

impl Ledger {
    pub fn new(store: Arc<dyn Store>, report_days: u32) -> Ledger {
        Ledger {
            store,
            report_days,
            building: Mutex::new(()),
        }
    }

    /// Brings the ledger up to `now`'s day. Blocking; one build at a time.
    pub fn build(&self, rules: &Rules, now: SystemTime) -> Result<BuildStats, ReconcileError> {
        let _one = self
            .building
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let store = self.store.as_ref();
        let today = day_of(now);
        let marks = store.ledger_marks()?;
        let records = store.imports()?;
        let (reports_high, earliest_new) = store.reports_after(marks.and_then(|m| m.reports))?;
        let imports_high = records.iter().map(|r| r.id).max().unwrap_or(0);
        let new_import_day = records
            .iter()
            .filter(|r| r.id > marks.map_or(0, |m| m.imports))
            .filter_map(import_as_of)
            .min();
        let start = [
            marks.and_then(|m| day_from_number(m.through_day)),
            earliest_new.map(day_of),
            new_import_day.filter(|_| marks.is_some()),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(start) = start.map(|s| s.min(today)) else {
            return Ok(BuildStats::default());
        };
        // Days whose reports retention deleted keep what was recorded for them.
        let horizon = CivilDate::from_days_since_epoch(
            today.days_since_epoch() - i64::from(self.report_days),
        )
        .unwrap_or(start);
        if start < horizon {
            tracing::warn!(from = %start, horizon = %horizon, "data older than report retention arrived; the coverage ledger is recomputed from the retention horizon only");
        }
        let start = start.max(horizon);
        let mut stats = BuildStats::default();
        let changes = self.replay(rules, &records, start, today, &mut stats)?;
        stats.changes = changes.len();
        store.replace_ledger(
            day_number(start),
            &changes,
            LedgerMarks {
                through_day: day_number(today),
                reports: reports_high,
                imports: imports_high,
            },
        )?;
        tracing::info!(
            from = %start,
            through = %today,
            days = stats.days,
            changes = stats.changes,
            missing_bodies = stats.missing_bodies,
            "coverage ledger built"
        );
        Ok(stats)
    }

    fn replay(
        &self,
        rules: &Rules,
        records: &[ImportRecord],
        start: CivilDate,
        today: CivilDate,
        stats: &mut BuildStats,
    ) -> Result<Vec<(String, u32, Vec<u8>)>, ReconcileError> {
        let store = self.store.as_ref();
        // Each host's last state before `start`.
        let mut last: HashMap<String, DayState> = HashMap::new();
        store.each_ledger_change(None, &mut |host, day, state| {
            if day < day_number(start) {
                if let Some(s) = DayState::decode(state) {
                    last.insert(host.to_string(), s);
                }
            }
            Ok(())
        })?;
        // Every host's reports from the one in effect at `start` on, by day.
        let mut summaries = Vec::new();
        let mut after = String::new();
        loop {
            let page = store.hosts(&after, 10_000)?;
            let Some(tail) = page.last().map(|h| h.host_key.clone()) else {
                break;
            };
            summaries.extend(page);
            after = tail;
        }
        let end = start_of(today) + Duration::from_secs(86_400 - 1);
        let mut pending: Vec<(CivilDate, usize, String)> = Vec::new();
        for (i, s) in summaries.iter().enumerate() {
            let (before, within) = store.history_window(&s.host_key, start_of(start), end)?;
            let first = before.map(|e| (start, e.report_id));
            let rest = within
                .into_iter()
                .map(|e| (day_of(e.collected_at), e.report_id));
            pending.extend(first.into_iter().chain(rest).map(|(d, id)| (d, i, id)));
        }
        pending.sort_by_key(|(d, _, _)| *d);
        let mut pending = pending.into_iter().peekable();

        let mut agents: Vec<AgentHost> = Vec::new();
        let mut slot: HashMap<usize, usize> = HashMap::new();
        let mut computers: HashMap<u64, Arc<Vec<IlmtComputer>>> = HashMap::new();
        let mut changes = Vec::new();
        let stale = rules.thresholds.stale_days;
        let mut day = start;
        while day <= today {
            while let Some((_, host, id)) = pending.next_if(|(d, _, _)| *d <= day) {
                let Some(summary) = summaries.get(host) else {
                    continue;
                };
                let Some((report, _)) = store.report(&id)? else {
                    stats.missing_bodies += 1;
                    continue;
                };
                let first = first_ibm_seen_by(&summary.products_seen, &rules.policy, day);
                let Ok(mut agent) = convert::agent_host(&report, first) else {
                    continue;
                };
                agent.host_key.clone_from(&summary.host_key);
                match slot.get(&host).and_then(|&i| agents.get_mut(i)) {
                    Some(a) => *a = agent,
                    None => {
                        slot.insert(host, agents.len());
                        agents.push(agent);
                    }
                }
            }
            if !agents.is_empty() {
                let import = import_in_effect(records, day);
                let list = match import {
                    None => Arc::new(Vec::new()),
                    Some(r) => match computers.get(&r.id) {
                        Some(c) => Arc::clone(c),
                        None => {
                            let c = Arc::new(
                                store
                                    .import(r.id)?
                                    .ok_or(ReconcileError::MissingImport(r.id))?
                                    .1
                                    .computers,
                            );
                            computers.insert(r.id, Arc::clone(&c));
                            c
                        }
                    },
                };
                let result = domain::reconcile(
                    &agents,
                    &list,
                    &rules.policy,
                    &rules.pvu_table,
                    &rules.thresholds,
                    day,
                );
                let reported: HashMap<&str, CivilDate> = agents
                    .iter()
                    .map(|a| (a.host_key.as_str(), a.last_report.date()))
                    .collect();
                let silent = |h: &str| {
                    reported
                        .get(h)
                        .is_some_and(|d| day.days_since_epoch() - d.days_since_epoch() > stale)
                };
                for (host, state) in day_states(&result, import.map_or(0, |r| r.id), silent) {
                    if last.get(&host) != Some(&state) {
                        changes.push((host.clone(), day_number(day), state.encode().to_vec()));
                        last.insert(host, state);
                    }
                }
            }
            stats.days += 1;
            match CivilDate::from_days_since_epoch(day.days_since_epoch() + 1) {
                Some(next) => day = next,
                None => break,
            }
        }
        Ok(changes)
    }

    /// The changes of one host (or every host), grouped by host key, oldest first.
    pub fn changes(&self, host_key: Option<&str>) -> Result<Vec<(String, Changes)>, StoreError> {
        let mut out: Vec<(String, Changes)> = Vec::new();
        self.store
            .each_ledger_change(host_key, &mut |host, day, state| {
                let (Some(d), Some(s)) = (day_from_number(day), DayState::decode(state)) else {
                    return Err(StoreError::Corrupt {
                        tree: "ledger",
                        problem: format!("{host}: day {day} or its state is unreadable"),
                    });
                };
                match out.last_mut() {
                    Some((h, list)) if h == host => list.push((d, s)),
                    _ => out.push((host.to_string(), vec![(d, s)])),
                }
                Ok(())
            })?;
        Ok(out)
    }
}

/// One host's history over a window, for the query API (pure).
pub fn host_history(
    host_key: &str,
    changes: &[(CivilDate, DayState)],
    from: CivilDate,
    to: CivilDate,
    products: &[pb::ProductSeen],
) -> pb::HostHistory {
    let ps: Vec<Period> = periods(changes, from, to);
    let (failing_days, max_exposed_pvu) = failing(&ps);
    pb::HostHistory {
        host_key: host_key.to_string(),
        periods: ps.iter().map(period).collect(),
        failing_days,
        max_exposed_pvu,
        products: products.to_vec(),
    }
}

fn period(p: &Period) -> pb::CoveragePeriod {
    pb::CoveragePeriod {
        from: p.from.to_string(),
        to: p.to.to_string(),
        coverage: p.state.coverage.as_str().to_string(),
        codes: p
            .state
            .codes()
            .map(|c: Code| c.as_str().to_string())
            .collect(),
        exposed_pvu: p.state.exposed_pvu,
        ilmt_import: p.state.import,
        agent_silent: p.state.agent_silent,
        fails: p.state.fails(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64, source: &str, imported: &str, period_start: Option<&str>) -> ImportRecord {
        let day = crate::ilmt::time::parse_date(imported).unwrap();
        ImportRecord {
            id,
            imported_at_nanos: u64::try_from(day.days_since_epoch()).unwrap()
                * 86_400
                * 1_000_000_000
                + 3_600_000_000_000,
            source: source.into(),
            file_name: format!("import-{id}"),
            sha256: String::new(),
            computers: 0,
            warnings: 0,
            period_start: period_start.map(str::to_string),
            period_end: None,
            format_version: None,
        }
    }

    #[test]
    fn the_import_in_effect_is_the_latest_dated_on_or_before_the_day() {
        let d = |s: &str| crate::ilmt::time::parse_date(s).unwrap();
        let records = [
            // Imported today, but describes Q1 2025.
            record(1, "audit_snapshot", "2026-11-20", Some("2025-01-01")),
            record(2, "rest_api", "2026-06-01", None),
            record(3, "audit_snapshot", "2026-11-20", Some("2025-04-01")),
            // Same day as import 2: the host list wins over a snapshot.
            record(4, "audit_snapshot", "2026-11-21", Some("2026-06-01")),
            record(5, "csv", "2026-11-22", None),
        ];
        let cases = [
            ("2024-12-31", None),
            ("2025-01-01", Some(1)),
            ("2025-03-31", Some(1)),
            ("2025-04-01", Some(3)),
            ("2026-05-31", Some(3)),
            ("2026-06-01", Some(2)),
            ("2026-11-21", Some(2)),
            ("2026-11-22", Some(5)),
            ("2027-01-01", Some(5)),
        ];
        for (day, want) in cases {
            assert_eq!(
                import_in_effect(&records, d(day)).map(|r| r.id),
                want,
                "{day}"
            );
        }
        assert_eq!(import_as_of(&records[0]), Some(d("2025-01-01")));
        assert_eq!(import_as_of(&records[1]), Some(d("2026-06-01")));
    }
}
