//! Reconciliation: agent hosts against ILMT computers, into per-host coverage and findings with
//! stable codes, each with the values that decided it, its PVU exposure and its dates.
//!
//! Pure: `now` and every date are parameters; no clock, no I/O.
//!
//! Which host gets which finding (a host is *in scope* when it runs IBM software other than the
//! ILMT/BigFix tooling, or matches an ILMT computer; hosts out of scope get none):
//! - UNCOVERED: IBM software, no undeleted ILMT computer.
//! - DEADLINE: UNCOVERED, with the days left of the 90 after IBM software was first seen (or
//!   overdue). Without a first-seen date the report's date stands in, said so, marked uncertain.
//! - STALE: a matched ILMT computer last seen more than `stale_days` before `now`.
//! - ILMT_AGENT_DOWN: neither BigFix client nor disconnected scanner installed, or none running,
//!   or the last software/capacity scan or upload older than `scan_max_age_days` (a scan time
//!   the agent could not read counts too, marked uncertain). Containers are left out: ILMT's agent
//!   runs on their machine.
//! - INELIGIBLE_VIRTUALIZATION: a machine layer not eligible (or uncertain, marked so) per the
//!   policy; a container inherits its machine's layers.
//! - VM_MANAGER_DATA_MISSING: a matched computer with ILMT status 4/5; or counted by default
//!   (`TLM_VM_`) or not managed by a VM manager, on a technology that needs one.
//! - DUPLICATE: several undeleted ILMT computers for one host.
//! - CAPACITY_MISMATCH: ILMT's partition cores, entitlement, virtual processors or server cores
//!   differ from the agent's by more than `capacity_tolerance_cores`.
//! - UNKNOWN_PROCESSOR: no PVU table entry matched (120 default used), or ILMT applied its own
//!   default PVU value.
//! - GHOST: a current, undeleted ILMT computer no agent matched.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::matching::{match_hosts, parse_uuid, HostMatches, UuidValue};
use super::model::{
    AgentHost, CivilDate, Code, Coverage, Exposure, Finding, HostResult, IlmtMatch, IlmtRef, Num,
    Reconciliation, Thresholds, UtcTime,
};
use super::model::{IbmInstall, Virtualization};
use super::policy::{Assessment, Eligibility, Policy};
use super::pvu::{exposure, exposure_at, rate_with, visible_cores, Lookup, ProcessorId, PvuTable};
use crate::ilmt::{HardwareStatus, IlmtComputer};

/// Reconciles `agents` (the latest report of each host) with `ilmt` (ILMT's computers, from one
/// or more imports, oldest first) as of `now`.
pub fn reconcile(
    agents: &[AgentHost],
    ilmt: &[IlmtComputer],
    policy: &Policy,
    pvu_table: &PvuTable,
    thresholds: &Thresholds,
    now: CivilDate,
) -> Reconciliation {
    let old_before =
        CivilDate::from_days_since_epoch(now.days_since_epoch() - thresholds.stale_days)
            .and_then(|d| UtcTime::from_parts(d, 0, 0, 0))
            .unwrap_or_else(|| UtcTime::from_unix(i64::MIN / 2));
    let matching = match_hosts(agents, ilmt, old_before);
    let ctx = Ctx {
        ilmt,
        policy,
        table: pvu_table,
        th: thresholds,
        now,
        lookups: RefCell::default(),
        assessments: RefCell::default(),
    };

    // Output order without moving results around: hosts are visited in host-key order (then
    // input order), and each host's findings go to one bucket per code, so every bucket is
    // already sorted by host key; only the few findings of one host need sorting among
    // themselves. Sorting the finished results instead moved gigabytes at a million hosts.
    let mut order: Vec<usize> = (0..agents.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| agents.get(i).map(|h| h.host_key.as_str());
        key(a).cmp(&key(b)).then(a.cmp(&b))
    });
    let mut unclaimed: Vec<&IlmtComputer> = matching
        .unclaimed(ilmt)
        .filter_map(|r| ilmt.get(r))
        .collect();
    let mut per_agent = matching.hosts;
    let mut hosts = Vec::with_capacity(agents.len());
    let mut buckets: Vec<Vec<Finding>> = Code::ALL.iter().map(|_| Vec::new()).collect();
    let mut mine: Vec<Finding> = Vec::new();
    for i in order {
        let (Some(agent), Some(m)) = (agents.get(i), per_agent.get_mut(i)) else {
            continue;
        };
        hosts.push(ctx.host(agent, std::mem::take(m), &mut mine));
        mine.sort_by(|a, b| (a.code, &a.ilmt).cmp(&(b.code, &b.ilmt)));
        for f in mine.drain(..) {
            if let Some(bucket) = buckets.get_mut(f.code as usize) {
                bucket.push(f);
            }
        }
    }
    unclaimed.sort_by_key(|r| IlmtRef::of(r));
    if let Some(ghosts) = buckets.get_mut(Code::Ghost as usize) {
        ghosts.extend(unclaimed.into_iter().map(|r| ctx.ghost(r)));
    }
    let findings: Vec<Finding> = buckets.into_iter().flatten().collect();
    Reconciliation { hosts, findings }
}

struct Ctx<'a> {
    ilmt: &'a [IlmtComputer],
    policy: &'a Policy,
    table: &'a PvuTable,
    th: &'a Thresholds,
    now: CivilDate,
    /// Memoized table lookups and eligibility verdicts: an estate has few distinct processors
    /// and virtualization stacks, and their explanations are long strings.
    lookups: RefCell<HashMap<ProcessorId<'a>, Lookup>>,
    assessments: RefCell<HashMap<Virtualization, Rc<Assessment>>>,
}

fn days_between(earlier: CivilDate, later: CivilDate) -> i64 {
    later.days_since_epoch() - earlier.days_since_epoch()
}

fn plus_days(d: CivilDate, days: i64) -> CivilDate {
    CivilDate::from_days_since_epoch(d.days_since_epoch() + days).unwrap_or(d)
}

fn date_of(t: Option<UtcTime>) -> Option<CivilDate> {
    t.map(UtcTime::date)
}

/// A finding about one host, with its exposure.
fn host_finding(
    code: Code,
    agent: &AgentHost,
    ilmt: Vec<IlmtRef>,
    summary: String,
    evidence: Vec<String>,
    exposure: &Arc<Exposure>,
) -> Finding {
    Finding {
        code,
        host_key: Some(agent.host_key.clone()),
        ilmt,
        summary,
        evidence,
        exposure: Some(Arc::clone(exposure)),
        first_seen: None,
        last_seen: Some(agent.last_report.date()),
        due: None,
        uncertain: false,
    }
}

impl<'a> Ctx<'a> {
    fn record(&self, i: usize) -> Option<&'a IlmtComputer> {
        self.ilmt.get(i)
    }

    fn exposure(&self, agent: &'a AgentHost, record: Option<&'a IlmtComputer>) -> Arc<Exposure> {
        let mut lookups = self.lookups.borrow_mut();
        let rate = rate_with(Some(agent), record, &mut |p| {
            if let Some(hit) = lookups.get(&p) {
                return hit.clone();
            }
            let found = self.table.lookup(&p);
            lookups.insert(p, found.clone());
            found
        });
        Arc::new(exposure_at(Some(agent), record, rate))
    }

    fn assess(&self, v: &Virtualization) -> Rc<Assessment> {
        let mut cache = self.assessments.borrow_mut();
        if let Some(hit) = cache.get(v) {
            return Rc::clone(hit);
        }
        let found = Rc::new(self.policy.assess(v));
        cache.insert(v.clone(), Rc::clone(&found));
        found
    }

    fn is_stale(&self, r: &IlmtComputer) -> bool {
        r.last_seen
            .is_none_or(|t| days_between(t.date(), self.now) > self.th.stale_days)
    }

    fn host(&self, agent: &'a AgentHost, mut m: HostMatches, out: &mut Vec<Finding>) -> HostResult {
        let primary = m.matched.first().and_then(|c| self.record(c.record));
        let exposure = self.exposure(agent, primary);
        let mut notes = std::mem::take(&mut m.notes);
        for c in &m.deleted {
            if let Some(r) = self.record(c.record) {
                notes.push(format!(
                    "{} matched by {} is deleted in ILMT{}",
                    IlmtRef::of(r),
                    c.evidence,
                    r.deletion_date
                        .map(|d| format!(" (since {})", d.date()))
                        .unwrap_or_default()
                ));
            }
        }
        let ibm: Vec<&IbmInstall> = agent
            .ibm_installs
            .iter()
            .filter(|i| !self.policy.is_tooling(i))
            .collect();

        let fresh = m
            .matched
            .iter()
            .filter_map(|c| self.record(c.record))
            .any(|r| !self.is_stale(r));
        let coverage = if m.superseded_by.is_some() {
            Coverage::Superseded
        } else if !m.matched.is_empty() {
            if fresh {
                Coverage::Covered
            } else {
                Coverage::Stale
            }
        } else if !ibm.is_empty() {
            Coverage::Uncovered
        } else {
            Coverage::NotRequired
        };

        let in_scope =
            coverage != Coverage::Superseded && (!ibm.is_empty() || !m.matched.is_empty());
        if in_scope {
            if coverage == Coverage::Uncovered {
                out.push(self.uncovered(agent, &ibm, &notes, &exposure));
                out.push(self.deadline(agent, &ibm, &exposure));
            }
            self.stale(agent, &m, &exposure, out);
            if let Some(f) = self.agent_down(agent, &exposure) {
                out.push(f);
            }
            let assessment = self.assess(&agent.virtualization);
            if assessment.overall != Eligibility::Eligible {
                let layers: Vec<&str> = assessment
                    .layers
                    .iter()
                    .filter(|l| l.eligibility != Eligibility::Eligible)
                    .map(|l| l.technology.as_str())
                    .collect();
                let mut evidence: Vec<String> =
                    assessment.layers.iter().map(|l| l.reason.clone()).collect();
                evidence.extend(assessment.note.clone());
                if agent.virtualization.in_container() {
                    evidence.push(
                        "the agent runs in a container: it takes its machine's eligibility".into(),
                    );
                }
                evidence.push(format!("policy version {}", self.policy.version));
                let what = if layers.is_empty() {
                    "unknown virtualization".to_string()
                } else {
                    layers.join(", ")
                };
                let mut f = host_finding(
                    Code::IneligibleVirtualization,
                    agent,
                    Vec::new(),
                    format!(
                        "runs on {what}: {} for sub-capacity counting, so full capacity applies",
                        if assessment.overall == Eligibility::NotEligible {
                            "not eligible"
                        } else {
                            "eligibility uncertain"
                        }
                    ),
                    evidence,
                    &exposure,
                );
                f.uncertain = assessment.overall == Eligibility::Uncertain;
                out.push(f);
            }
            for c in &m.matched {
                if let Some(r) = self.record(c.record) {
                    if let Some(f) = self.vm_manager(
                        agent,
                        r,
                        assessment.needs_vm_manager,
                        &assessment.layers,
                        &exposure,
                    ) {
                        out.push(f);
                    }
                }
            }
            if m.matched.len() > 1 {
                out.push(self.duplicate(agent, &m, &exposure));
            }
            if let Some(r) = primary {
                if let Some(f) = self.capacity(agent, r, &exposure) {
                    out.push(f);
                }
            }
            let ilmt_default = primary.filter(|r| r.default_pvu_value == Some(true));
            if exposure.rate.unidentified || ilmt_default.is_some() {
                let mut evidence = vec![exposure.rate.how.to_string()];
                if let Some(r) = ilmt_default {
                    evidence.push(format!(
                        "ILMT applied its default PVU value to {} (default_pvu_value)",
                        IlmtRef::of(r)
                    ));
                }
                out.push(host_finding(
                    Code::UnknownProcessor,
                    agent,
                    ilmt_default.map(IlmtRef::of).into_iter().collect(),
                    format!(
                        "processor not identified: {} PVU per core used",
                        Num(exposure.rate.pvu_per_core)
                    ),
                    evidence,
                    &exposure,
                ));
            }
        }

        // Last: the findings above quoted the match evidence.
        let matches: Vec<IlmtMatch> = m
            .matched
            .into_iter()
            .filter_map(|c| {
                self.record(c.record).map(|r| IlmtMatch {
                    ilmt: IlmtRef::of(r),
                    key: c.key,
                    evidence: c.evidence,
                })
            })
            .collect();
        HostResult {
            host_key: agent.host_key.clone(),
            coverage,
            matches,
            exposure,
            notes,
        }
    }

    fn uncovered(
        &self,
        agent: &AgentHost,
        ibm: &[&IbmInstall],
        notes: &[String],
        exposure: &Arc<Exposure>,
    ) -> Finding {
        let mut evidence = vec![format!("IBM software: {}", list(ibm))];
        evidence.push(format!("keys looked up in ILMT: {}", keys_of(agent)));
        evidence.extend(notes.iter().cloned());
        let mut f = host_finding(
            Code::Uncovered,
            agent,
            Vec::new(),
            format!("IBM software and no ILMT computer: {}", exposure.summary),
            evidence,
            exposure,
        );
        f.first_seen = agent.first_ibm_seen;
        f
    }

    fn deadline(
        &self,
        agent: &AgentHost,
        ibm: &[&IbmInstall],
        exposure: &Arc<Exposure>,
    ) -> Finding {
        let (first, guessed) = match agent.first_ibm_seen {
            Some(d) => (d, false),
            None => (agent.last_report.date(), true),
        };
        let due = plus_days(first, self.th.deadline_days);
        let left = days_between(self.now, due);
        let mut evidence = vec![
            format!("IBM software: {}", list(ibm)),
            format!(
                "first seen {first}; ILMT must cover it within {} days",
                self.th.deadline_days
            ),
        ];
        if guessed {
            evidence.push(format!(
                "first-seen date unknown: the report of {first} stands in, so at most {left} days are left"
            ));
        }
        let summary = match left {
            1.. => format!("{left} days left to cover it in ILMT (due {due})"),
            0 => format!("due today ({due}): not covered by ILMT"),
            _ => format!("overdue by {} days (due {due}): not covered by ILMT", -left),
        };
        let mut f = host_finding(
            Code::Deadline,
            agent,
            Vec::new(),
            summary,
            evidence,
            exposure,
        );
        f.first_seen = Some(first);
        f.due = Some(due);
        f.uncertain = guessed;
        f
    }

    fn stale(
        &self,
        agent: &AgentHost,
        m: &HostMatches,
        exposure: &Arc<Exposure>,
        out: &mut Vec<Finding>,
    ) {
        for c in &m.matched {
            let Some(r) = self.record(c.record) else {
                continue;
            };
            if !self.is_stale(r) {
                continue;
            }
            let seen = match r.last_seen {
                Some(t) => format!(
                    "ILMT last saw it on {} ({} days before {}; limit {})",
                    t.date(),
                    days_between(t.date(), self.now),
                    self.now,
                    self.th.stale_days
                ),
                None => "ILMT gives no last_seen for it".into(),
            };
            let mut f = host_finding(
                Code::Stale,
                agent,
                vec![IlmtRef::of(r)],
                format!("{} is stale: {seen}", IlmtRef::of(r)),
                vec![seen.clone(), format!("matched by {}", c.evidence)],
                exposure,
            );
            f.first_seen = date_of(r.first_seen);
            f.last_seen = date_of(r.last_seen);
            out.push(f);
        }
    }

    fn agent_down(&self, agent: &AgentHost, exposure: &Arc<Exposure>) -> Option<Finding> {
        if agent.virtualization.in_container() {
            return None;
        }
        let g = &agent.ilmt_agent;
        let mut problems: Vec<String> = Vec::new();
        let mut unreadable_only = true;
        if !g.bigfix_installed && !g.scanner_installed {
            problems.push(
                "neither the BigFix client nor the ILMT disconnected scanner is installed".into(),
            );
            unreadable_only = false;
        } else {
            let bigfix = g.bigfix_installed && g.bigfix_running;
            let scanner = g.scanner_installed && g.scanner_running;
            if !bigfix && !scanner {
                problems.push(format!(
                    "not running: BigFix client {}, disconnected scanner {}",
                    state(g.bigfix_installed, g.bigfix_running),
                    state(g.scanner_installed, g.scanner_running)
                ));
                unreadable_only = false;
            }
            for (what, t, required) in [
                ("software scan", g.last_software_scan, true),
                ("capacity scan", g.last_capacity_scan, true),
                ("upload", g.last_upload, false),
            ] {
                match t {
                    None if required => {
                        problems.push(format!("no last {what} time found on the host"))
                    }
                    None => {}
                    Some(t) => {
                        let age = days_between(t.date(), self.now);
                        if age > self.th.scan_max_age_days {
                            problems.push(format!(
                                "last {what} on {} ({age} days before {}; limit {})",
                                t.date(),
                                self.now,
                                self.th.scan_max_age_days
                            ));
                            unreadable_only = false;
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            return None;
        }
        let last = [g.last_software_scan, g.last_capacity_scan, g.last_upload]
            .into_iter()
            .flatten()
            .max();
        let mut f = host_finding(
            Code::IlmtAgentDown,
            agent,
            Vec::new(),
            format!("ILMT agent down: {}", problems.join("; ")),
            problems,
            exposure,
        );
        f.last_seen = date_of(last);
        f.uncertain = unreadable_only;
        Some(f)
    }

    fn vm_manager(
        &self,
        agent: &AgentHost,
        r: &IlmtComputer,
        needs: bool,
        layers: &[super::policy::LayerVerdict],
        exposure: &Arc<Exposure>,
    ) -> Option<Finding> {
        let status = matches!(
            r.status,
            Some(HardwareStatus::MissingVmManagerData | HardwareStatus::OutdatedVmManagerData)
        );
        let tlm: Vec<&str> = [
            &r.server_name,
            &r.server_serial_number,
            &r.hardware_serial_number,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|v| {
            v.get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("TLM_VM_"))
        })
        .collect();
        let unmanaged = r.is_managed_by_vm_manager == Some(false);
        if !(status || (needs && (!tlm.is_empty() || unmanaged))) {
            return None;
        }
        let mut evidence = Vec::new();
        match r.status {
            Some(HardwareStatus::MissingVmManagerData) => {
                evidence.push("ILMT status 4: missing VM manager data".to_string())
            }
            Some(HardwareStatus::OutdatedVmManagerData) => {
                evidence.push("ILMT status 5: outdated VM manager data".to_string())
            }
            _ => {}
        }
        for v in &tlm {
            let uuid = match parse_uuid(v) {
                Some(UuidValue::Full(_)) => "a VM UUID",
                Some(UuidValue::Prefix(_)) => "the start of a VM UUID",
                None => "no readable UUID",
            };
            evidence.push(format!(
                "ILMT server {v:?} ({uuid}): the VM is counted by default (120 PVU/core, no cap)"
            ));
        }
        if unmanaged {
            evidence.push("ILMT: is_managed_by_vm_manager = 0".into());
        }
        let needing: Vec<&str> = layers
            .iter()
            .filter(|l| l.needs_vm_manager)
            .map(|l| l.technology.as_str())
            .collect();
        if needing.is_empty() {
            evidence.push("the agent's virtualization does not need a VM manager by the policy; ILMT's own status decides".into());
        } else {
            evidence.push(format!(
                "{} hosts need ILMT's VM Manager Tool connection (policy)",
                needing.join(", ")
            ));
        }
        evidence.push(format!(
            "agent: VM manager data {} on the host",
            if agent.ilmt_agent.vm_manager_present {
                "present"
            } else {
                "absent"
            }
        ));
        let mut f = host_finding(
            Code::VmManagerDataMissing,
            agent,
            vec![IlmtRef::of(r)],
            format!(
                "{} lacks VM manager data: ILMT counts it by default",
                IlmtRef::of(r)
            ),
            evidence,
            exposure,
        );
        f.first_seen = date_of(r.first_seen);
        Some(f)
    }

    fn duplicate(&self, agent: &AgentHost, m: &HostMatches, exposure: &Arc<Exposure>) -> Finding {
        let mut refs = Vec::new();
        let mut evidence = Vec::new();
        for (n, c) in m.matched.iter().enumerate() {
            let Some(r) = self.record(c.record) else {
                continue;
            };
            refs.push(IlmtRef::of(r));
            evidence.push(format!(
                "{} matched by {}; last seen {}{}",
                IlmtRef::of(r),
                c.evidence,
                r.last_seen
                    .map_or_else(|| "unknown".into(), |t| t.date().to_string()),
                if n == 0 {
                    " (its capacity data is used)"
                } else {
                    ""
                }
            ));
        }
        host_finding(
            Code::Duplicate,
            agent,
            refs,
            format!("{} ILMT computers for one host", m.matched.len()),
            evidence,
            exposure,
        )
    }

    fn capacity(
        &self,
        agent: &AgentHost,
        r: &IlmtComputer,
        exposure: &Arc<Exposure>,
    ) -> Option<Finding> {
        let tol = self.th.capacity_tolerance_cores;
        let mut evidence = Vec::new();
        let mut check = |what: &str, ilmt: Option<f64>, ours: Option<(f64, String)>| {
            if let (Some(i), Some((a, how))) = (ilmt, ours) {
                if (i - a).abs() > tol {
                    let dir = if i > a {
                        "ILMT counts more"
                    } else {
                        "ILMT counts fewer"
                    };
                    evidence.push(format!(
                        "ILMT {what} {}, the agent {} ({how}): {dir}, beyond the {} tolerance",
                        Num(i),
                        Num(a),
                        Num(tol)
                    ));
                }
            }
        };
        check(
            "partition_cores",
            r.partition_cores,
            visible_cores(&agent.topology).map(|c| (c.cores, c.how)),
        );
        if let Some(lpar) = &agent.topology.power {
            check(
                "entitlement",
                r.entitlement,
                lpar.entitled_capacity_centi.map(|c| {
                    (
                        f64::from(c) / 100.0,
                        "lparcfg partition_entitled_capacity".to_string(),
                    )
                }),
            );
            check(
                "online_vp_count",
                r.online_vp_count,
                lpar.virtual_processors.map(|v| {
                    (
                        f64::from(v),
                        "lparcfg partition_active_processors".to_string(),
                    )
                }),
            );
        }
        let own_full = if agent.virtualization.on_bare_metal() {
            visible_cores(&agent.topology).map(|c| (c.cores, format!("bare metal, {}", c.how)))
        } else {
            None
        };
        if !r.default_counting() {
            check("server_cores", r.server_cores, own_full);
        }
        if evidence.is_empty() {
            return None;
        }
        Some(host_finding(
            Code::CapacityMismatch,
            agent,
            vec![IlmtRef::of(r)],
            format!(
                "ILMT and the agent disagree on the capacity of {}",
                agent.host_key
            ),
            evidence,
            exposure,
        ))
    }

    fn ghost(&self, r: &IlmtComputer) -> Finding {
        let mut evidence = Vec::new();
        let mut keys = Vec::new();
        if let Some(b) = r.bigfix_id {
            keys.push(format!("bigfix_id {b}"));
        }
        if let Some(n) = &r.name {
            keys.push(format!("name {n}"));
        }
        if let Some(d) = &r.dns_name {
            keys.push(format!("dns_name {d}"));
        }
        if !r.ip_addresses.is_empty() {
            keys.push(format!("addresses {}", r.ip_addresses.join(" ")));
        }
        if let Some(s) = &r.server_name {
            keys.push(format!("server {s}"));
        }
        evidence.push(format!(
            "no agent report matches its keys ({})",
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            }
        ));
        match r.last_seen {
            Some(t) => evidence.push(format!(
                "ILMT last saw it on {} ({} days before {})",
                t.date(),
                days_between(t.date(), self.now),
                self.now
            )),
            None => evidence.push("ILMT gives no last_seen for it".into()),
        }
        if let Some(s) = r.status {
            evidence.push(format!("ILMT hardware status: {s:?}"));
        }
        Finding {
            code: Code::Ghost,
            host_key: None,
            ilmt: vec![IlmtRef::of(r)],
            summary: format!("{} has no reporting agent", IlmtRef::of(r)),
            evidence,
            exposure: Some(Arc::new(exposure(None, Some(r), self.table))),
            first_seen: date_of(r.first_seen),
            last_seen: date_of(r.last_seen),
            due: None,
            uncertain: false,
        }
    }
}

fn state(installed: bool, running: bool) -> &'static str {
    match (installed, running) {
        (false, _) => "not installed",
        (true, false) => "installed, not running",
        (true, true) => "running",
    }
}

fn list(items: &[&IbmInstall]) -> String {
    const SHOWN: usize = 5;
    let mut out = items
        .iter()
        .take(SHOWN)
        .map(|i| {
            let version = if i.version.is_empty() {
                String::new()
            } else {
                format!(" {}", i.version)
            };
            format!("{}{} ({})", i.product, version, i.signature)
        })
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    out
}

fn keys_of(a: &AgentHost) -> String {
    let mut keys = Vec::new();
    if !a.bigfix_computer_id.is_empty() {
        keys.push(format!("bigfix_id {}", a.bigfix_computer_id));
    }
    if !a.product_uuid.is_empty() {
        keys.push(format!("UUID {}", a.product_uuid));
    }
    if !a.product_serial.is_empty() {
        keys.push(format!("serial {}", a.product_serial));
    }
    if !a.fqdn.is_empty() {
        keys.push(format!("FQDN {}", a.fqdn));
    }
    if !a.hostname.is_empty() {
        keys.push(format!("hostname {}", a.hostname));
    }
    if !a.ip_addresses.is_empty() {
        keys.push(format!("addresses {}", a.ip_addresses.join(" ")));
    }
    if keys.is_empty() {
        "none".into()
    } else {
        keys.join(", ")
    }
}

#[cfg(test)]
mod tests;
