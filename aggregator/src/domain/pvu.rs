//! PVU math: the PVU-per-core table (data: `aggregator/data/pvu-table.toml`), what a host is
//! allocated (sub-capacity), what the physical host or pool has (full capacity), and the PVU
//! exposure between the two, each side with a sentence saying how it was computed.
//!
//! Rules (IBM sub-capacity counting as DESIGN.md states it; see each function for the details):
//! - PVU = cores x PVU per core. A per-server value set by hand in ILMT wins; else the first
//!   matching table entry; else the unidentified-processor default (120).
//! - Sub-capacity: a VM's vCPUs as cores (threads per core respected); POWER shared capped LPAR:
//!   entitled capacity rounded up; shared uncapped: virtual processors, at most the shared pool;
//!   dedicated: its cores; IBM Z: IFLs of the LPAR, or a guest's virtual CPUs at most the LPAR's;
//!   a container: the machine it runs on; bare metal: every active core. Never more than the
//!   full capacity when that is known.
//! - Full capacity: bare metal as the agent counts it; a PowerVM LPAR's managed system
//!   (`system_active_processors`); else ILMT's cluster or server cores (not for a VM ILMT counts
//!   by default); else unknown, with the sub-capacity cores as an explicit lower bound.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Deserialize;
use subcap_proto::vocab::Technology;
use toml::Spanned;

use super::data::DataError;
use super::model::{
    AgentHost, CapacitySide, Exposure, FullCapacity, Num, PvuRate, Sharing, Topology,
};
use crate::ilmt::IlmtComputer;

/// The table shipped with subcap.
pub const BUILTIN_TOML: &str = include_str!("../../data/pvu-table.toml");
/// How the embedded table is named in errors.
pub const BUILTIN_FILE: &str = "aggregator/data/pvu-table.toml";

/// The loaded PVU table.
#[derive(Debug, Clone, PartialEq)]
pub struct PvuTable {
    /// The date the table was last checked (`YYYY-MM-DD`).
    pub version: String,
    entries: Vec<Entry>,
    unidentified: Unidentified,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    name: String,
    vendors: Vec<String>,
    brand: Option<String>,
    architectures: Vec<String>,
    os: Option<String>,
    server_models: Vec<String>,
    model_number: Option<ModelNumber>,
    sockets_min: Option<u32>,
    sockets_max: Option<u32>,
    pvu_per_core: u32,
    uncertain: bool,
    source: String,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelNumber {
    prefixes: Vec<String>,
    min: u32,
    max: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct Unidentified {
    pvu_per_core: u32,
    source: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    schema: Spanned<u32>,
    version: Spanned<String>,
    sources: BTreeMap<String, String>,
    unidentified: UnidentifiedFile,
    entry: Vec<Spanned<EntryFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnidentifiedFile {
    pvu_per_core: Spanned<u32>,
    source: Spanned<String>,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    name: String,
    #[serde(default)]
    vendors: Vec<String>,
    brand: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
    os: Option<String>,
    #[serde(default)]
    server_models: Vec<String>,
    model_number: Option<ModelNumber>,
    sockets_min: Option<u32>,
    sockets_max: Option<u32>,
    pvu_per_core: Spanned<u32>,
    #[serde(default)]
    uncertain: bool,
    source: Spanned<String>,
    text: String,
}

/// Checks a data file's `version`: a real `YYYY-MM-DD` date.
pub(crate) fn check_version(v: &str) -> Result<(), String> {
    let b = v.as_bytes();
    let shaped = b.len() == 10 && b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-');
    if shaped && crate::ilmt::time::parse_date(v).is_some() {
        Ok(())
    } else {
        Err(format!("{v:?} is not a date written YYYY-MM-DD"))
    }
}

/// What the table is looked up with, borrowed from the host and/or ILMT record. Text fields may
/// be empty (unknown); they are compared case-insensitively.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ProcessorId<'a> {
    /// Processor vendor as given ("GenuineIntel", "Intel", "IBM/S390"); normalized on lookup.
    pub vendor: &'a str,
    /// The processor brand string ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "POWER10").
    pub brand_string: &'a str,
    /// ILMT's processor_brand ("Xeon"), when known.
    pub brand: &'a str,
    pub architecture: &'a str,
    /// Operating system family or name ("linux", "AIX 7.3").
    pub os: &'a str,
    /// ILMT's server_model.
    pub server_model: &'a str,
    /// Sockets of the physical server, when known, and where that came from.
    pub sockets: Option<u32>,
    pub sockets_from: &'static str,
}

/// The table's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub pvu_per_core: u32,
    /// The deciding entry's name; `None` for the unidentified default.
    pub entry: Option<Arc<str>>,
    /// Shared: an estate has few distinct processors, and this sentence is long.
    pub how: Arc<str>,
    pub unidentified: bool,
    pub uncertain: bool,
}

impl PvuTable {
    /// The embedded table.
    pub fn builtin() -> Result<PvuTable, DataError> {
        PvuTable::parse(BUILTIN_FILE, BUILTIN_TOML)
    }

    /// Reads a table file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<PvuTable, DataError> {
        let raw: TableFile = toml::from_str(text).map_err(|e| DataError::toml(file, text, &e))?;
        let err = |span: std::ops::Range<usize>, field: String, problem: String| {
            DataError::new(file, text, Some(span), Some(field), problem)
        };
        if *raw.schema.get_ref() != 1 {
            return Err(err(
                raw.schema.span(),
                "schema".into(),
                format!(
                    "schema {} is not 1, the one this build reads",
                    raw.schema.get_ref()
                ),
            ));
        }
        check_version(raw.version.get_ref())
            .map_err(|problem| err(raw.version.span(), "version".into(), problem))?;
        let source = |s: &Spanned<String>, field: String| -> Result<String, DataError> {
            raw.sources.get(s.get_ref()).cloned().ok_or_else(|| {
                err(
                    s.span(),
                    field,
                    format!("unknown source {:?}: add it to [sources]", s.get_ref()),
                )
            })
        };
        let pvu = |v: &Spanned<u32>, field: String| -> Result<u32, DataError> {
            match *v.get_ref() {
                1..=10_000 => Ok(*v.get_ref()),
                other => Err(err(
                    v.span(),
                    field,
                    format!("{other} PVU per core is outside 1..=10000"),
                )),
            }
        };
        let unidentified = Unidentified {
            pvu_per_core: pvu(
                &raw.unidentified.pvu_per_core,
                "unidentified.pvu_per_core".into(),
            )?,
            source: source(&raw.unidentified.source, "unidentified.source".into())?,
            text: raw.unidentified.text.clone(),
        };
        let mut entries = Vec::with_capacity(raw.entry.len());
        for (i, spanned) in raw.entry.iter().enumerate() {
            let e = spanned.get_ref();
            let field = format!("entry[{i}]");
            let span = spanned.span();
            if let (Some(lo), Some(hi)) = (e.sockets_min, e.sockets_max) {
                if lo > hi {
                    return Err(err(
                        span,
                        format!("{field}.sockets_min"),
                        format!("sockets_min {lo} is above sockets_max {hi}"),
                    ));
                }
            }
            if let Some(m) = &e.model_number {
                if m.min > m.max || m.prefixes.is_empty() {
                    return Err(err(
                        span,
                        format!("{field}.model_number"),
                        "needs prefixes and min <= max".into(),
                    ));
                }
            }
            let conditions = !e.vendors.is_empty()
                || e.brand.is_some()
                || !e.architectures.is_empty()
                || e.os.is_some()
                || !e.server_models.is_empty()
                || e.model_number.is_some()
                || e.sockets_min.is_some()
                || e.sockets_max.is_some();
            if !conditions {
                return Err(err(
                    span,
                    field,
                    format!(
                        "entry {:?} has no condition: it would match every processor (use [unidentified])",
                        e.name
                    ),
                ));
            }
            entries.push(Entry {
                name: e.name.clone(),
                vendors: e.vendors.iter().map(|v| normalize_vendor(v)).collect(),
                brand: e.brand.as_deref().map(str::to_lowercase),
                architectures: e.architectures.iter().map(|a| a.to_lowercase()).collect(),
                os: e.os.as_deref().map(str::to_lowercase),
                server_models: e.server_models.iter().map(|m| m.to_lowercase()).collect(),
                model_number: e.model_number.clone(),
                sockets_min: e.sockets_min,
                sockets_max: e.sockets_max,
                pvu_per_core: pvu(&e.pvu_per_core, format!("{field}.pvu_per_core"))?,
                uncertain: e.uncertain,
                source: source(&e.source, format!("{field}.source"))?,
                text: e.text.clone(),
            });
        }
        Ok(PvuTable {
            version: raw.version.into_inner(),
            entries,
            unidentified,
        })
    }

    /// The PVU per core of `p`: the first entry whose conditions hold. An entry that needs the
    /// server's sockets when they are unknown cannot decide: the highest value among such entries
    /// (up to the first entry that decides without sockets) is used, marked uncertain.
    pub fn lookup(&self, p: &ProcessorId) -> Lookup {
        let facts = Facts::of(p);
        let mut undecided: Vec<&Entry> = Vec::new();
        for e in &self.entries {
            if !facts.matches_without_sockets(e) {
                continue;
            }
            let needs_sockets = e.sockets_min.is_some() || e.sockets_max.is_some();
            match (needs_sockets, p.sockets) {
                (false, _) if undecided.is_empty() => return self.decided(e, p),
                (false, _) => {
                    undecided.push(e);
                    break;
                }
                // With the sockets known nothing is ever undecided.
                (true, Some(s)) => {
                    let in_range = e.sockets_min.is_none_or(|lo| s >= lo)
                        && e.sockets_max.is_none_or(|hi| s <= hi);
                    if in_range {
                        return self.decided(e, p);
                    }
                }
                (true, None) => undecided.push(e),
            }
        }
        let highest = undecided.iter().copied().reduce(|a, b| {
            if b.pvu_per_core > a.pvu_per_core {
                b
            } else {
                a
            }
        });
        if let Some(top) = highest {
            let names: Vec<String> = undecided
                .iter()
                .map(|e| format!("{:?} {}", e.name, e.pvu_per_core))
                .collect();
            return Lookup {
                pvu_per_core: top.pvu_per_core,
                entry: Some(Arc::from(top.name.as_str())),
                how: Arc::from(format!(
                    "{} PVU/core: physical server sockets unknown, so the highest of the entries that could apply ({}) in PVU table {} ({}: {})",
                    top.pvu_per_core,
                    names.join(", "),
                    self.version,
                    top.source,
                    top.text
                )),
                unidentified: false,
                uncertain: true,
            };
        }
        Lookup {
            pvu_per_core: self.unidentified.pvu_per_core,
            entry: None,
            how: Arc::from(format!(
                "{} PVU/core: no entry of PVU table {} matches {} ({}: {})",
                self.unidentified.pvu_per_core,
                self.version,
                describe(p),
                self.unidentified.source,
                self.unidentified.text
            )),
            unidentified: true,
            uncertain: false,
        }
    }

    fn decided(&self, e: &Entry, p: &ProcessorId) -> Lookup {
        let sockets = match (
            e.sockets_min.is_some() || e.sockets_max.is_some(),
            p.sockets,
        ) {
            (true, Some(s)) => format!(", {s} sockets ({})", p.sockets_from),
            _ => String::new(),
        };
        Lookup {
            pvu_per_core: e.pvu_per_core,
            entry: Some(Arc::from(e.name.as_str())),
            how: Arc::from(format!(
                "{} PVU/core: PVU table {} entry {:?} for {}{} ({}: {})",
                e.pvu_per_core,
                self.version,
                e.name,
                describe(p),
                sockets,
                e.source,
                e.text
            )),
            unidentified: false,
            uncertain: e.uncertain,
        }
    }
}

/// The lower-cased facts of a processor, computed once per lookup.
struct Facts {
    vendor: String,
    brand_text: String,
    architecture: String,
    os: String,
    server_model: String,
    words: Vec<String>,
}

impl Facts {
    fn of(p: &ProcessorId) -> Facts {
        Facts {
            vendor: normalize_vendor(p.vendor),
            brand_text: format!("{} {}", p.brand_string, p.brand).to_lowercase(),
            architecture: p.architecture.to_lowercase(),
            os: p.os.to_lowercase(),
            server_model: p.server_model.to_lowercase(),
            words: p
                .brand_string
                .split_whitespace()
                .map(|w| w.to_uppercase())
                .collect(),
        }
    }

    fn matches_without_sockets(&self, e: &Entry) -> bool {
        (e.vendors.is_empty() || e.vendors.contains(&self.vendor))
            && e.brand
                .as_ref()
                .is_none_or(|b| self.brand_text.contains(b.as_str()))
            && (e.architectures.is_empty() || e.architectures.contains(&self.architecture))
            && e.os
                .as_ref()
                .is_none_or(|os| !self.os.is_empty() && self.os.contains(os.as_str()))
            && (e.server_models.is_empty()
                || (!self.server_model.is_empty()
                    && e.server_models
                        .iter()
                        .any(|m| self.server_model.contains(m.as_str()))))
            && e.model_number
                .as_ref()
                .is_none_or(|m| self.has_model_number(m))
    }

    /// A word made of one of the prefixes and a 4-digit number in range ("X5670").
    fn has_model_number(&self, m: &ModelNumber) -> bool {
        self.words.iter().any(|w| {
            m.prefixes.iter().any(|prefix| {
                let Some(rest) = w.strip_prefix(prefix.to_uppercase().as_str()) else {
                    return false;
                };
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.len() == 4
                    && digits
                        .parse::<u32>()
                        .is_ok_and(|n| (m.min..=m.max).contains(&n))
            })
        })
    }
}

/// The vendor words the table uses: intel, amd, ibm, arm; anything else lower-cased.
pub fn normalize_vendor(vendor: &str) -> String {
    let v = vendor.trim().to_lowercase();
    if v.contains("intel") {
        "intel".into()
    } else if v.contains("amd") {
        "amd".into()
    } else if v.contains("ibm") {
        "ibm".into()
    } else if v == "arm" || v.starts_with("arm ") || v.contains("arm limited") {
        "arm".into()
    } else {
        v
    }
}

fn describe(p: &ProcessorId) -> String {
    let mut parts = Vec::new();
    if !p.vendor.is_empty() {
        parts.push(format!("vendor {:?}", p.vendor));
    }
    if !p.brand_string.is_empty() {
        parts.push(format!("processor {:?}", p.brand_string));
    }
    if !p.brand.is_empty() {
        parts.push(format!("brand {:?}", p.brand));
    }
    if !p.architecture.is_empty() {
        parts.push(format!("architecture {}", p.architecture));
    }
    if !p.server_model.is_empty() {
        parts.push(format!("server model {:?}", p.server_model));
    }
    if parts.is_empty() {
        "an unreported processor".into()
    } else {
        parts.join(", ")
    }
}

/// A core count and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreCount {
    pub cores: f64,
    pub how: String,
}

/// Full capacity before PVU: known, or unknown with a lower bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Full {
    Known(CoreCount),
    Unknown {
        lower_bound: Option<CoreCount>,
        why: String,
    },
}

/// The cores the OS instance sees: counted cores, else logical CPUs over threads per core, else
/// logical CPUs (each counted as a core, said so).
pub fn visible_cores(t: &Topology) -> Option<CoreCount> {
    visible(t).map(|v| CoreCount {
        cores: v.cores(),
        how: v.to_string(),
    })
}

/// The count behind [`visible_cores`], written out only where it is used.
#[derive(Debug, Clone, Copy)]
enum Visible {
    Counted { cores: u32, logical: u32, tpc: u32 },
    CountedOnly { cores: u32 },
    Divided { logical: u32, tpc: u32 },
    LogicalOnly { logical: u32 },
}

fn visible(t: &Topology) -> Option<Visible> {
    match (t.cores, t.logical_cpus, t.threads_per_core) {
        (Some(cores), Some(logical), Some(tpc)) if cores > 0 => Some(Visible::Counted {
            cores,
            logical,
            tpc,
        }),
        (Some(cores), _, _) if cores > 0 => Some(Visible::CountedOnly { cores }),
        (_, Some(logical), Some(tpc)) if logical > 0 && tpc > 0 => {
            Some(Visible::Divided { logical, tpc })
        }
        (_, Some(logical), _) if logical > 0 => Some(Visible::LogicalOnly { logical }),
        _ => None,
    }
}

impl Visible {
    fn cores(self) -> f64 {
        f64::from(match self {
            Visible::Counted { cores, .. } | Visible::CountedOnly { cores } => cores,
            Visible::Divided { logical, tpc } => logical.div_ceil(tpc),
            Visible::LogicalOnly { logical } => logical,
        })
    }
}

impl fmt::Display for Visible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Visible::Counted {
                cores,
                logical,
                tpc,
            } => write!(
                f,
                "{cores} cores ({logical} logical CPUs, {tpc} threads per core)"
            ),
            Visible::CountedOnly { cores } => write!(f, "{cores} cores counted"),
            Visible::Divided { logical, tpc } => write!(
                f,
                "{logical} logical CPUs / {tpc} threads per core = {} cores",
                logical.div_ceil(tpc)
            ),
            Visible::LogicalOnly { logical } => write!(
                f,
                "{logical} logical CPUs, threads per core unknown: each counted as a core"
            ),
        }
    }
}

/// What the host is allocated, before any cap by the full capacity.
pub fn sub_capacity(h: &AgentHost) -> Option<CoreCount> {
    let technology = h.virtualization.machine_layer().map(|l| l.technology);
    let container = if h.virtualization.in_container() {
        match h.topology.container_quota_cpus {
            Some(q) => format!(
                "container: counted as the machine it runs on (its CPU quota of {} CPUs does not count); ",
                Num(q)
            ),
            None => "container: counted as the machine it runs on; ".to_string(),
        }
    } else {
        String::new()
    };
    let mut count = match technology {
        Some(Technology::PowervmLparShared | Technology::PowervmLparDedicated) => {
            power_sub(h, technology)?
        }
        Some(Technology::ZLpar | Technology::Zvm | Technology::ZKvm) => s390_sub(h, technology)?,
        other => {
            let v = visible(&h.topology)?;
            let how = match other {
                Some(t) => format!("{container}{t} VM: {v}"),
                None if h.virtualization.kind.is_none() => {
                    format!("{container}virtualization not reported: {v}")
                }
                None => format!("{container}bare metal: every active core, {v}"),
            };
            return Some(CoreCount {
                cores: v.cores(),
                how,
            });
        }
    };
    if !container.is_empty() {
        count.how.insert_str(0, &container);
    }
    Some(count)
}

fn power_sub(h: &AgentHost, technology: Option<Technology>) -> Option<CoreCount> {
    let fallback = || visible_cores(&h.topology);
    let Some(lpar) = &h.topology.power else {
        return fallback();
    };
    let sharing = lpar.sharing.or(match technology {
        Some(Technology::PowervmLparShared) => Some(Sharing::Shared),
        Some(Technology::PowervmLparDedicated) => Some(Sharing::Dedicated),
        _ => None,
    });
    let name = if lpar.partition_name.is_empty() {
        String::new()
    } else {
        format!(" {}", lpar.partition_name)
    };
    let counted = match sharing {
        Some(Sharing::Dedicated) => lpar.virtual_processors.map(|vp| CoreCount {
            cores: f64::from(vp),
            how: format!(
                "dedicated POWER LPAR{name}: {vp} dedicated cores (partition_active_processors)"
            ),
        }),
        Some(Sharing::Shared) | None => {
            let ent = lpar.entitled_capacity_centi.map(|c| f64::from(c) / 100.0);
            let pool = lpar
                .pool_capacity_centi
                .map(|c| {
                    (
                        f64::from(c.div_ceil(100)),
                        format!("shared pool of {} cores", Num(f64::from(c) / 100.0)),
                    )
                })
                .or_else(|| {
                    lpar.system_active_processors.map(|s| {
                        (
                            f64::from(s),
                            format!("pool size unknown, the system's {s} active cores"),
                        )
                    })
                });
            match (lpar.capped, ent, lpar.virtual_processors) {
                (Some(true), Some(e), _) => {
                    let cores = e.ceil();
                    Some(CoreCount {
                        cores,
                        how: format!(
                            "shared capped POWER LPAR{name}: entitled capacity {} rounded up to {} cores",
                            Num(e),
                            Num(cores)
                        ),
                    })
                }
                (capped, _, Some(vp)) => {
                    let unknown = if capped.is_none() {
                        "capped or not unknown: counted as uncapped (the larger rule); "
                    } else {
                        ""
                    };
                    let (cores, limit) = match &pool {
                        Some((p, what)) if *p < f64::from(vp) => {
                            (*p, format!(", limited to the {what}"))
                        }
                        Some((_, what)) => (f64::from(vp), format!(" (within the {what})")),
                        None => (f64::from(vp), ", pool size unknown".to_string()),
                    };
                    Some(CoreCount {
                        cores,
                        how: format!(
                            "shared uncapped POWER LPAR{name}: {unknown}{vp} virtual processors{limit} = {} cores",
                            Num(cores)
                        ),
                    })
                }
                _ => None,
            }
        }
    };
    let mut counted = counted.or_else(fallback)?;
    if let Some(system) = lpar.system_active_processors {
        if counted.cores > f64::from(system) {
            counted.cores = f64::from(system);
            counted.how = format!(
                "{}, at most the system's {system} active cores",
                counted.how
            );
        }
    }
    Some(counted)
}

fn s390_sub(h: &AgentHost, technology: Option<Technology>) -> Option<CoreCount> {
    let fallback = || visible_cores(&h.topology);
    let Some(z) = &h.topology.s390 else {
        return fallback();
    };
    let lpar_cpus = z
        .lpar_cpus_total
        .or(match (z.lpar_cpus_dedicated, z.lpar_cpus_shared) {
            (Some(d), Some(s)) => Some(d + s),
            _ => None,
        });
    let lpar = if z.lpar_name.is_empty() {
        "the LPAR".to_string()
    } else {
        format!("LPAR {}", z.lpar_name)
    };
    let counted = match technology {
        Some(Technology::Zvm | Technology::ZKvm) => z.guest_cpus_total.map(|g| {
            let (cores, limit) = match lpar_cpus {
                Some(l) if l < g => (l, format!(", limited to the {l} of {lpar}")),
                Some(l) => (g, format!(" ({lpar} has {l})")),
                None => (g, String::new()),
            };
            CoreCount {
                cores: f64::from(cores),
                how: format!(
                    "{} guest: {g} virtual CPUs{limit} = {cores} IFLs",
                    if technology == Some(Technology::Zvm) {
                        "z/VM"
                    } else {
                        "KVM on IBM Z"
                    }
                ),
            }
        }),
        _ => lpar_cpus.map(|l| CoreCount {
            cores: f64::from(l),
            how: format!(
                "IBM Z {lpar}: {l} IFLs defined ({} dedicated, {} shared)",
                z.lpar_cpus_dedicated.map_or("?".into(), |d| d.to_string()),
                z.lpar_cpus_shared.map_or("?".into(), |s| s.to_string())
            ),
        }),
    };
    counted.or_else(fallback)
}

/// Every active core of the physical host or pool, when known.
pub fn full_capacity(
    host: Option<&AgentHost>,
    record: Option<&IlmtComputer>,
    sub: Option<&CoreCount>,
) -> Full {
    let mut notes: Vec<String> = Vec::new();
    if let Some(h) = host {
        if h.virtualization.on_bare_metal() {
            if let Some(v) = visible(&h.topology) {
                return Full::Known(CoreCount {
                    cores: v.cores(),
                    how: format!("bare metal: every active core as the agent counts them, {v}"),
                });
            }
        }
        let technology = h.virtualization.machine_layer().map(|l| l.technology);
        if matches!(
            technology,
            Some(Technology::PowervmLparShared | Technology::PowervmLparDedicated)
        ) {
            if let Some(system) = h
                .topology
                .power
                .as_ref()
                .and_then(|p| p.system_active_processors)
            {
                return Full::Known(CoreCount {
                    cores: f64::from(system),
                    how: format!(
                        "POWER managed system: {system} active cores (lparcfg system_active_processors)"
                    ),
                });
            }
        }
    }
    if let Some(r) = record {
        if r.default_counting() {
            notes.push(format!(
                "ILMT counts {} with default capacity (no VM manager data): its server figures are not the physical host's",
                super::model::IlmtRef::of(r)
            ));
        } else if let Some(c) = r.cluster_cores_count.filter(|c| *c > 0.0) {
            let name = r.cluster_name.as_deref().unwrap_or("(unnamed)");
            return Full::Known(CoreCount {
                cores: c,
                how: format!(
                    "ILMT: cluster {name} pool of {} cores (cluster_cores_count)",
                    Num(c)
                ),
            });
        } else if let Some(c) = r.server_cores.filter(|c| *c > 0.0) {
            let name = r.server_name.as_deref().unwrap_or("(unnamed)");
            return Full::Known(CoreCount {
                cores: c,
                how: format!(
                    "ILMT: physical server {name} has {} cores (server_cores)",
                    Num(c)
                ),
            });
        } else {
            notes.push("ILMT gives neither cluster_cores_count nor server_cores".into());
        }
    }
    // Unknown: the best lower bound the data proves.
    let mut lower = sub.cloned().map(|c| CoreCount {
        cores: c.cores,
        how: format!("at least the {} sub-capacity cores", Num(c.cores)),
    });
    if let Some(z) = host.and_then(|h| h.topology.s390.as_ref()) {
        if let Some(l) = z.lpar_cpus_total {
            if lower.as_ref().is_none_or(|c| f64::from(l) > c.cores) {
                lower = Some(CoreCount {
                    cores: f64::from(l),
                    how: format!("at least the {l} CPUs of LPAR {}", z.lpar_name),
                });
            }
        }
    }
    let mut why = String::from("host capacity unknown");
    match host {
        Some(h) if h.virtualization.kind.is_none() => {
            why.push_str(": the report does not say where the host runs")
        }
        Some(h) if h.virtualization.on_bare_metal() => why.push_str(": the agent counted no cores"),
        Some(_) => why.push_str(": the agent cannot see the physical host"),
        None => {}
    }
    if record.is_none() && host.is_some() {
        why.push_str(", and no ILMT record gives it");
    }
    for n in notes {
        why.push_str("; ");
        why.push_str(&n);
    }
    Full::Unknown {
        lower_bound: lower,
        why,
    }
}

/// The processor facts the table is looked up with, from the agent and/or ILMT.
pub fn processor_id<'a>(
    host: Option<&'a AgentHost>,
    record: Option<&'a IlmtComputer>,
) -> ProcessorId<'a> {
    let r_text = |f: fn(&'a IlmtComputer) -> &'a Option<String>| {
        record.and_then(|r| f(r).as_deref()).unwrap_or_default()
    };
    let mut p = ProcessorId {
        brand: r_text(|r| &r.processor_brand),
        server_model: r_text(|r| &r.server_model),
        ..ProcessorId::default()
    };
    if let Some(h) = host {
        p.vendor = &h.topology.vendor;
        p.brand_string = &h.topology.model_name;
        p.architecture = &h.architecture;
        p.os = &h.os_family;
        if h.virtualization.on_bare_metal() {
            if let Some(s) = h.topology.sockets {
                p.sockets = Some(s);
                p.sockets_from = "active sockets counted by the agent on bare metal";
            }
        }
    }
    if p.vendor.is_empty() {
        p.vendor = r_text(|r| &r.processor_vendor);
    }
    if p.brand_string.is_empty() {
        p.brand_string = r_text(|r| &r.processor_brand_string);
    }
    if p.os.is_empty() {
        p.os = record
            .and_then(|r| r.os_type.as_deref().or(r.os.as_deref()))
            .unwrap_or_default();
    }
    if p.sockets.is_none() {
        if let Some(r) = record.filter(|r| !r.default_counting()) {
            if let Some(s) = r
                .node_total_processors
                .filter(|s| *s >= 1.0 && *s <= 1024.0)
            {
                // Integral by ILMT's definition (active sockets); rounding guards a CSV's "8.0".
                p.sockets = Some(s.round() as u32);
                p.sockets_from =
                    "active sockets of the physical server, ILMT node_total_processors";
            }
        }
    }
    p
}

/// PVU per core for a host: ILMT's hand-set per-server value, else the table.
pub fn rate(host: Option<&AgentHost>, record: Option<&IlmtComputer>, table: &PvuTable) -> PvuRate {
    rate_with(host, record, &mut |p| table.lookup(&p))
}

/// [`rate`] with the table lookup supplied (reconciliation memoizes it: an estate has few
/// distinct processors).
pub fn rate_with<'a>(
    host: Option<&'a AgentHost>,
    record: Option<&'a IlmtComputer>,
    lookup: &mut dyn FnMut(ProcessorId<'a>) -> Lookup,
) -> PvuRate {
    if let Some(r) = record {
        if r.custom_pvu_per_core == Some(true) {
            if let Some(v) = r.pvu_per_core.filter(|v| *v > 0.0) {
                return PvuRate {
                    pvu_per_core: v,
                    how: Arc::from(format!(
                        "{} PVU/core: set by hand in ILMT for this server (custom PVU per core)",
                        Num(v)
                    )),
                    unidentified: false,
                    uncertain: false,
                };
            }
        }
    }
    let lookup = lookup(processor_id(host, record));
    let mut how = lookup.how;
    if let Some(ilmt) = record.and_then(|r| r.pvu_per_core) {
        if (ilmt - f64::from(lookup.pvu_per_core)).abs() > f64::EPSILON {
            how = Arc::from(format!(
                "{how}; ILMT uses {} PVU/core for this server",
                Num(ilmt)
            ));
        }
    }
    PvuRate {
        pvu_per_core: f64::from(lookup.pvu_per_core),
        how,
        unidentified: lookup.unidentified,
        uncertain: lookup.uncertain,
    }
}

/// The PVU exposure of a host (or, with `host` `None`, of an ILMT computer alone): full minus
/// sub-capacity PVU, each side explained.
pub fn exposure(
    host: Option<&AgentHost>,
    record: Option<&IlmtComputer>,
    table: &PvuTable,
) -> Exposure {
    exposure_at(host, record, rate(host, record, table))
}

/// [`exposure`] at a PVU rate already found.
pub fn exposure_at(
    host: Option<&AgentHost>,
    record: Option<&IlmtComputer>,
    rate: PvuRate,
) -> Exposure {
    let r = rate.pvu_per_core;
    let mut sub = match host {
        Some(h) => sub_capacity(h),
        None => record.and_then(|rec| {
            rec.partition_cores.filter(|c| *c > 0.0).map(|c| CoreCount {
                cores: c,
                how: format!("ILMT: {} partition cores (partition_cores)", Num(c)),
            })
        }),
    };
    let full = full_capacity(host, record, sub.as_ref());
    if let (Some(s), Full::Known(f)) = (sub.as_mut(), &full) {
        if s.cores > f.cores {
            s.how = format!(
                "{}, capped at the full capacity of {} cores",
                s.how,
                Num(f.cores)
            );
            s.cores = f.cores;
        }
    }
    let side = |c: CoreCount| {
        let pvu = c.cores * r;
        let mut how = c.how;
        // Writing to a String cannot fail.
        let _ = write!(
            how,
            "; {} cores x {} PVU = {} PVU",
            Num(c.cores),
            Num(r),
            Num(pvu)
        );
        CapacitySide {
            cores: c.cores,
            pvu,
            how,
        }
    };
    let sub_side = sub.map(side);
    let (full_side, exposed, summary) = match full {
        Full::Known(f) => {
            let fs = side(f);
            let exposed = sub_side.as_ref().map(|s| (fs.pvu - s.pvu).max(0.0));
            let summary = match (&sub_side, exposed) {
                (Some(s), Some(e)) => format!(
                    "{} of {} cores at {} PVU/core: {} vs {} PVU, {} PVU exposed",
                    Num(s.cores),
                    Num(fs.cores),
                    Num(r),
                    Num(s.pvu),
                    Num(fs.pvu),
                    Num(e)
                ),
                _ => format!(
                    "sub-capacity unknown; full capacity {} cores at {} PVU/core = {} PVU",
                    Num(fs.cores),
                    Num(r),
                    Num(fs.pvu)
                ),
            };
            (FullCapacity::Known(fs), exposed, summary)
        }
        Full::Unknown { lower_bound, why } => {
            let lb = lower_bound.map(side);
            let summary = match (&sub_side, &lb) {
                (Some(s), Some(l)) => format!(
                    "{why}: full capacity at least {} cores = {} PVU; sub-capacity {} cores = {} PVU at {} PVU/core",
                    Num(l.cores),
                    Num(l.pvu),
                    Num(s.cores),
                    Num(s.pvu),
                    Num(r)
                ),
                (None, Some(l)) => format!(
                    "{why}: full capacity at least {} cores = {} PVU at {} PVU/core; sub-capacity unknown",
                    Num(l.cores),
                    Num(l.pvu),
                    Num(r)
                ),
                _ => format!("{why}; sub-capacity unknown too: no cores reported"),
            };
            (
                FullCapacity::Unknown {
                    lower_bound: lb,
                    why,
                },
                None,
                summary,
            )
        }
    };
    Exposure {
        rate,
        sub_capacity: sub_side,
        full_capacity: full_side,
        exposed_pvu: exposed,
        summary,
    }
}

#[cfg(test)]
mod tests;
