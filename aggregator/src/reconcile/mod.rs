//! The aggregator's reconciliation edge: reads every host's latest report and ILMT's newest host
//! list from the store, runs the pure [`crate::domain::reconcile`], and keeps the answer until
//! the store changes (or the day does), so queries and metrics share one computation.
//!
//! Which ILMT import is reconciled against: the one in effect today
//! ([`crate::history::import_in_effect`]: the latest dated, a host list from the day it was
//! imported, an audit snapshot from its period's first day). Each import is a whole host list, so
//! older imports are history, not additions.

pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::config::ReconcileConfig;
use crate::convert;
use crate::domain::model::IbmInstall;
use crate::domain::{self, Code, Coverage, Policy, PvuTable, Reconciliation, Thresholds};
use crate::ilmt::CivilDate;
use crate::ilmt::UtcTime;
use crate::store::{ImportRecord, Store, StoreError};
use subcap_proto::vocab::Signature;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{file}: {source}")]
    Data {
        file: String,
        source: domain::DataError,
    },
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("store: ILMT import {0} is listed but missing")]
    MissingImport(u64),
}

/// What reconciliation judges by: the data files and the thresholds.
#[derive(Debug, Clone)]
pub struct Rules {
    pub policy: Policy,
    pub pvu_table: PvuTable,
    pub thresholds: Thresholds,
    /// Where each data file came from, with its version (for the basis of every answer).
    pub policy_source: String,
    pub pvu_table_source: String,
}

impl Rules {
    /// The built-in data files and default thresholds.
    pub fn builtin() -> Result<Rules, ReconcileError> {
        Rules::from_config(&ReconcileConfig::default())
    }

    /// The data files a config names (built-in ones otherwise) and its thresholds.
    pub fn from_config(c: &ReconcileConfig) -> Result<Rules, ReconcileError> {
        let data = |path: &Option<std::path::PathBuf>, builtin_file: &str, builtin: &str| match path
        {
            None => Ok((format!("built-in {builtin_file}"), builtin.to_string())),
            Some(p) => std::fs::read_to_string(p)
                .map(|t| (p.display().to_string(), t))
                .map_err(|source| ReconcileError::Read {
                    file: p.display().to_string(),
                    source,
                }),
        };
        let (policy_file, text) = data(
            &c.eligibility,
            domain::policy::BUILTIN_FILE,
            domain::policy::BUILTIN_TOML,
        )?;
        let policy = Policy::parse(&policy_file, &text).map_err(|source| ReconcileError::Data {
            file: policy_file.clone(),
            source,
        })?;
        let (table_file, text) = data(
            &c.pvu_table,
            domain::pvu::BUILTIN_FILE,
            domain::pvu::BUILTIN_TOML,
        )?;
        let pvu_table =
            PvuTable::parse(&table_file, &text).map_err(|source| ReconcileError::Data {
                file: table_file.clone(),
                source,
            })?;
        Ok(Rules {
            policy_source: format!("{policy_file} (version {})", policy.version),
            pvu_table_source: format!("{table_file} (version {})", pvu_table.version),
            policy,
            pvu_table,
            thresholds: c.thresholds(),
        })
    }
}

/// One computed reconciliation and what it was computed from.
#[derive(Debug)]
pub struct Outcome {
    /// The store generation it was computed at.
    pub generation: u64,
    pub as_of: CivilDate,
    pub computed_at: SystemTime,
    /// The ILMT import used; `None` when nothing was imported yet.
    pub import: Option<ImportRecord>,
    pub result: Reconciliation,
    /// Hosts whose latest report could not be converted: "host key: why".
    pub skipped: Vec<String>,
    pub totals: Totals,
    /// Host key to its index in `result.hosts`.
    index: HashMap<String, usize>,
}

impl Outcome {
    /// A host's result by host key.
    pub fn host(&self, host_key: &str) -> Option<&domain::HostResult> {
        self.index
            .get(host_key)
            .and_then(|&i| self.result.hosts.get(i))
    }
}

/// Counts over a reconciliation (for the query API's totals and the metrics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub hosts: u64,
    /// In [`Coverage::ALL`] order.
    pub hosts_by_coverage: Vec<(Coverage, u64)>,
    /// In [`Code::ALL`] order.
    pub findings_by_code: Vec<(Code, u64)>,
    /// Exposed PVU of the hosts with a finding that [breaks the claim](Code::breaks_claim), each
    /// host once.
    pub exposed_pvu: f64,
    /// Such hosts whose exposure is unknown.
    pub exposure_unknown_hosts: u64,
}

/// Counts `r` (pure).
pub fn totals(r: &Reconciliation) -> Totals {
    let mut by_coverage: Vec<(Coverage, u64)> = Coverage::ALL.iter().map(|&c| (c, 0)).collect();
    for h in &r.hosts {
        if let Some(slot) = by_coverage.iter_mut().find(|(c, _)| *c == h.coverage) {
            slot.1 += 1;
        }
    }
    let mut by_code: Vec<(Code, u64)> = Code::ALL.iter().map(|&c| (c, 0)).collect();
    let mut breaking: HashMap<&str, &domain::Exposure> = HashMap::new();
    for f in &r.findings {
        if let Some(slot) = by_code.iter_mut().find(|(c, _)| *c == f.code) {
            slot.1 += 1;
        }
        if let (true, Some(host), Some(e)) = (f.code.breaks_claim(), &f.host_key, &f.exposure) {
            breaking.insert(host.as_str(), e);
        }
    }
    let mut exposed_pvu = 0.0;
    let mut exposure_unknown_hosts = 0;
    for e in breaking.values() {
        match e.exposed_pvu {
            Some(p) => exposed_pvu += p,
            None => exposure_unknown_hosts += 1,
        }
    }
    Totals {
        hosts: r.hosts.len() as u64,
        hosts_by_coverage: by_coverage,
        findings_by_code: by_code,
        exposed_pvu,
        exposure_unknown_hosts,
    }
}

/// The first day IBM software other than the ILMT/BigFix tooling was seen on a host, from the
/// products its reports have shown; with `by`, only products first seen on or before that day
/// count (pure).
pub fn first_ibm_seen_by(
    products: &[subcap_proto::v1::ProductSeen],
    policy: &Policy,
    by: CivilDate,
) -> Option<CivilDate> {
    products
        .iter()
        .filter(|p| {
            !policy.is_tooling(&IbmInstall {
                product: p.product_name.clone(),
                version: String::new(),
                signature: Signature::SwidTag,
                publisher: p.publisher.clone(),
            })
        })
        .filter_map(|p| p.first_seen_at.as_ref())
        .map(|t| UtcTime::from_unix(t.seconds).date())
        .filter(|d| *d <= by)
        .min()
}

/// Computes reconciliations from a store and caches the latest.
pub struct Reconciler {
    store: Arc<dyn Store>,
    rules: Rules,
    latest: Mutex<Option<Arc<Outcome>>>,
}

impl Reconciler {
    pub fn new(store: Arc<dyn Store>, rules: Rules) -> Reconciler {
        Reconciler {
            store,
            rules,
            latest: Mutex::new(None),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The reconciliation as of `now`: the cached one when the store has not changed since and
    /// the day is the same, else a new one. Blocking (reads the whole store); callers on the
    /// async runtime use `spawn_blocking`. Concurrent callers wait for one computation.
    pub fn current(&self, now: SystemTime) -> Result<Arc<Outcome>, ReconcileError> {
        let mut latest = self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let as_of = day_of(now);
        let generation = self.store.generation();
        if let Some(o) = latest.as_ref() {
            if o.generation == generation && o.as_of == as_of {
                return Ok(Arc::clone(o));
            }
        }
        let outcome = Arc::new(self.compute(generation, now)?);
        *latest = Some(Arc::clone(&outcome));
        Ok(outcome)
    }

    fn compute(&self, generation: u64, now: SystemTime) -> Result<Outcome, ReconcileError> {
        let started = std::time::Instant::now();
        let as_of = day_of(now);
        let mut agents = Vec::with_capacity(self.store.host_count());
        let mut skipped = Vec::new();
        let policy = &self.rules.policy;
        self.store.each_latest(&mut |summary, report| {
            let first = first_ibm_seen_by(&summary.products_seen, policy, as_of);
            match convert::agent_host(&report, first) {
                Ok(mut host) => {
                    // The store's key decides (it is what every other answer names).
                    host.host_key = summary.host_key;
                    agents.push(host);
                }
                Err(e) => skipped.push(format!("{}: {e}", summary.host_key)),
            }
            Ok(())
        })?;
        let records = self.store.imports()?;
        let import = crate::history::import_in_effect(&records, as_of).cloned();
        let computers = match &import {
            None => Vec::new(),
            Some(r) => {
                self.store
                    .import(r.id)?
                    .ok_or(ReconcileError::MissingImport(r.id))?
                    .1
                    .computers
            }
        };
        let result = domain::reconcile(
            &agents,
            &computers,
            policy,
            &self.rules.pvu_table,
            &self.rules.thresholds,
            as_of,
        );
        drop(agents);
        drop(computers);
        let index = result
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.host_key.clone(), i))
            .collect();
        let totals = totals(&result);
        tracing::info!(
            hosts = totals.hosts,
            findings = result.findings.len(),
            exposed_pvu = totals.exposed_pvu,
            import = import.as_ref().map(|r| r.id),
            skipped = skipped.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "reconciled"
        );
        Ok(Outcome {
            generation,
            as_of,
            computed_at: now,
            import,
            result,
            skipped,
            totals,
            index,
        })
    }
}

/// The UTC day of `t`.
pub fn day_of(t: SystemTime) -> CivilDate {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    UtcTime::from_unix(secs).date()
}
