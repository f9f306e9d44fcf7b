//! Reconciliation on the wire: the domain's answers as `subcap.v1` messages, and the query's
//! filters. The same words as the domain (codes, coverage states, match keys).

use subcap_proto::v1 as pb;

use super::{Outcome, Totals};
use crate::domain::model::{CapacitySide, FullCapacity, IlmtMatch, IlmtRef};
use crate::domain::{self, Code, Coverage};
use crate::ilmt::CivilDate;
use crate::store::ImportRecord;

fn capacity(c: &CapacitySide) -> pb::Capacity {
    pb::Capacity {
        cores: c.cores,
        pvu: c.pvu,
        how: c.how.clone(),
    }
}

pub fn exposure(e: &domain::Exposure) -> pb::Exposure {
    let (full, lower, unknown) = match &e.full_capacity {
        FullCapacity::Known(c) => (Some(capacity(c)), None, String::new()),
        FullCapacity::Unknown { lower_bound, why } => {
            (None, lower_bound.as_ref().map(capacity), why.clone())
        }
    };
    pb::Exposure {
        pvu_per_core: e.rate.pvu_per_core,
        pvu_per_core_how: e.rate.how.to_string(),
        unidentified_processor: e.rate.unidentified,
        uncertain: e.rate.uncertain,
        sub_capacity: e.sub_capacity.as_ref().map(capacity),
        full_capacity: full,
        full_capacity_lower_bound: lower,
        full_capacity_unknown: unknown,
        exposed_pvu: e.exposed_pvu,
        summary: e.summary.clone(),
    }
}

fn ilmt_ref(r: &IlmtRef) -> pb::IlmtRef {
    pb::IlmtRef {
        id: r.id,
        name: r.name.clone().unwrap_or_default(),
        source_row: r.source_row as u64,
    }
}

fn ilmt_match(m: &IlmtMatch) -> pb::IlmtMatch {
    pb::IlmtMatch {
        ilmt: Some(ilmt_ref(&m.ilmt)),
        key: m.key.as_str().to_string(),
        evidence: m.evidence.clone(),
    }
}

fn date(d: Option<CivilDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

pub fn finding(f: &domain::Finding) -> pb::Finding {
    pb::Finding {
        code: f.code.as_str().to_string(),
        host_key: f.host_key.clone().unwrap_or_default(),
        ilmt: f.ilmt.iter().map(ilmt_ref).collect(),
        summary: f.summary.clone(),
        evidence: f.evidence.clone(),
        exposure: f.exposure.as_deref().map(exposure),
        first_seen: date(f.first_seen),
        last_seen: date(f.last_seen),
        due: date(f.due),
        uncertain: f.uncertain,
    }
}

pub fn host(h: &domain::HostResult, codes: Vec<String>) -> pb::HostCoverage {
    pb::HostCoverage {
        host_key: h.host_key.clone(),
        coverage: h.coverage.as_str().to_string(),
        matches: h.matches.iter().map(ilmt_match).collect(),
        exposure: Some(exposure(&h.exposure)),
        codes,
        notes: h.notes.clone(),
    }
}

pub fn totals(t: &Totals) -> pb::ReconcileTotals {
    pb::ReconcileTotals {
        hosts: t.hosts,
        hosts_by_coverage: t
            .hosts_by_coverage
            .iter()
            .map(|(c, n)| (c.as_str().to_string(), *n))
            .collect(),
        findings_by_code: t
            .findings_by_code
            .iter()
            .map(|(c, n)| (c.as_str().to_string(), *n))
            .collect(),
        exposed_pvu: t.exposed_pvu,
        exposure_unknown_hosts: t.exposure_unknown_hosts,
    }
}

/// The basis of an answer; `import` is the wire form of the import used.
pub fn basis(
    o: &Outcome,
    rules: &super::Rules,
    import: impl Fn(&ImportRecord) -> pb::ImportInfo,
) -> pb::ReconcileBasis {
    let t = &rules.thresholds;
    pb::ReconcileBasis {
        as_of: o.as_of.to_string(),
        computed_at: Some(crate::store::sled_store::timestamp(o.computed_at)),
        ilmt_import: o.import.as_ref().map(import),
        pvu_table: rules.pvu_table_source.clone(),
        eligibility_policy: rules.policy_source.clone(),
        stale_days: u32::try_from(t.stale_days).unwrap_or(u32::MAX),
        scan_max_age_days: u32::try_from(t.scan_max_age_days).unwrap_or(u32::MAX),
        capacity_tolerance_cores: t.capacity_tolerance_cores,
        deadline_days: u32::try_from(t.deadline_days).unwrap_or(u32::MAX),
        skipped: o.skipped.clone(),
    }
}

/// A day a request names (`YYYY-MM-DD`), `None` when empty; the error names `field`.
pub fn day(field: &str, text: &str) -> Result<Option<CivilDate>, String> {
    match text.trim() {
        "" => Ok(None),
        t => crate::ilmt::time::parse_date(t)
            .filter(|_| t.len() == 10)
            .map(Some)
            .ok_or_else(|| format!("{field}: {t:?} is not a date YYYY-MM-DD")),
    }
}

/// A `ReconcileRequest`'s filters, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub codes: Vec<Code>,
    pub since: Option<CivilDate>,
    pub coverage: Vec<Coverage>,
    /// Lower-case host key; resolved against hostnames by the caller.
    pub host: Option<String>,
}

/// Checks a request's filters; the error names the field.
pub fn filter(r: &pb::ReconcileRequest) -> Result<Filter, String> {
    let codes = r
        .codes
        .iter()
        .map(|c| c.parse::<Code>().map_err(|e| format!("codes: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let coverage = r
        .coverage
        .iter()
        .map(|c| c.parse::<Coverage>().map_err(|e| format!("coverage: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let since = day("since", &r.since)?;
    if r.host.len() > 253 {
        return Err("host: at most 253 characters".into());
    }
    let host = (!r.host.is_empty()).then(|| r.host.to_ascii_lowercase());
    Ok(Filter {
        codes,
        since,
        coverage,
        host,
    })
}

impl Filter {
    /// Whether a finding passes the code, since and host filters.
    pub fn finding(&self, f: &domain::Finding) -> bool {
        (self.codes.is_empty() || self.codes.contains(&f.code))
            && match (self.since, f.first_seen) {
                (Some(since), Some(first)) => first >= since,
                _ => true,
            }
            && self
                .host
                .as_deref()
                .is_none_or(|h| f.host_key.as_deref() == Some(h))
    }

    /// Whether a host passes the coverage, host and code filters (`codes`: the host's findings'
    /// codes).
    pub fn host(&self, h: &domain::HostResult, codes: &[Code]) -> bool {
        (self.coverage.is_empty() || self.coverage.contains(&h.coverage))
            && self.host.as_deref().is_none_or(|k| h.host_key == k)
            && (self.codes.is_empty() || codes.iter().any(|c| self.codes.contains(c)))
    }
}
