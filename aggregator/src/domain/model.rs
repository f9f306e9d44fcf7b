//! The domain's own plain types: what reconciliation knows of a host an agent reported
//! ([`AgentHost`]) and what it answers ([`Reconciliation`]: per-host results and findings).
//!
//! No proto, no I/O, no clock: `aggregator/src/convert.rs` builds an [`AgentHost`] from a
//! `subcap.v1.HostReport`, and every date is a parameter. ILMT's side is
//! [`crate::ilmt::IlmtComputer`], used as it is. Unknown is `None` (or empty), never a made-up zero.

use std::fmt;

use std::sync::Arc;

use serde::{Serialize, Serializer};
use subcap_proto::vocab::{Cloud, Signature, Technology, VirtKind};

use crate::ilmt::IlmtComputer;
pub use crate::ilmt::{CivilDate, UtcTime};

/// One host as its latest agent report describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentHost {
    /// The store's key: lower-case FQDN, else lower-case hostname.
    pub host_key: String,
    pub hostname: String,
    pub fqdn: String,
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// DMI product_uuid as the kernel shows it.
    pub product_uuid: String,
    /// DMI product_serial (on VMware: `VMware-42 1c ...`, the UUID's raw bytes).
    pub product_serial: String,
    pub ip_addresses: Vec<String>,
    /// BigFix computer id as read from the client's files (decimal text), empty when unknown.
    pub bigfix_computer_id: String,
    /// As uname says it: x86_64, aarch64, ppc64le, ppc64, s390x.
    pub architecture: String,
    /// os-release NAME.
    pub os_name: String,
    /// Operating system family for the PVU table's `os` condition (`linux` for every agent today).
    pub os_family: String,
    pub topology: Topology,
    pub virtualization: Virtualization,
    pub ibm_installs: Vec<IbmInstall>,
    pub ilmt_agent: IlmtAgent,
    /// When the latest report was collected.
    pub last_report: UtcTime,
    /// First day IBM software was seen on the host, computed by the caller from the report
    /// history. `None`: unknown (no IBM software, or no history).
    pub first_ibm_seen: Option<CivilDate>,
}

/// Processor topology as the host's OS sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topology {
    /// Logical CPUs online.
    pub logical_cpus: Option<u32>,
    /// Sockets visible to this OS instance (virtual sockets in a VM).
    pub sockets: Option<u32>,
    /// Cores visible to this OS instance (counted, not multiplied).
    pub cores: Option<u32>,
    pub threads_per_core: Option<u32>,
    /// `/proc/cpuinfo` vendor_id ("GenuineIntel", "AuthenticAMD", "IBM/S390", "IBM").
    pub vendor: String,
    /// `/proc/cpuinfo` model name ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz").
    pub model_name: String,
    pub power: Option<PowerLpar>,
    pub s390: Option<S390>,
    /// Container CPU quota in CPUs (cgroup `cpu.max`), when limited.
    pub container_quota_cpus: Option<f64>,
    /// Size of the effective cpuset, when known.
    pub cpuset_cpus: Option<u32>,
}

/// How a POWER LPAR's processors are provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Shared,
    Dedicated,
}

/// A POWER logical partition (`/proc/powerpc/lparcfg`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PowerLpar {
    /// Entitled capacity in hundredths of a processor (350 = 3.5).
    pub entitled_capacity_centi: Option<u32>,
    /// Virtual processors of a shared LPAR, cores of a dedicated one.
    pub virtual_processors: Option<u32>,
    pub sharing: Option<Sharing>,
    pub capped: Option<bool>,
    /// Processors of the shared pool, in hundredths.
    pub pool_capacity_centi: Option<u32>,
    /// Active processor cores of the whole managed system.
    pub system_active_processors: Option<u32>,
    pub partition_name: String,
}

/// IBM Z (`/proc/sysinfo`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct S390 {
    pub machine_type: String,
    /// CPUs of the machine (every engine type).
    pub cpus_total: Option<u32>,
    pub lpar_name: String,
    /// Logical CPUs (IFLs for Linux) defined to the LPAR.
    pub lpar_cpus_total: Option<u32>,
    pub lpar_cpus_dedicated: Option<u32>,
    pub lpar_cpus_shared: Option<u32>,
    /// Virtual CPUs of a z/VM or KVM guest.
    pub guest_cpus_total: Option<u32>,
    pub control_program: String,
}

/// Where the agent runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Virtualization {
    /// The innermost layer's kind; `None` when the report did not say.
    pub kind: Option<VirtKind>,
    /// Technology of the innermost layer; `None` on bare metal or when not said.
    pub technology: Option<Technology>,
    /// Public cloud; `None` when not said or `none`.
    pub cloud: Option<Cloud>,
    /// Every layer from the machine outward (a container in a VM: the VM, then the container).
    /// Empty on bare metal.
    pub layers: Vec<VirtLayer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VirtLayer {
    pub kind: VirtKind,
    pub technology: Technology,
}

impl Virtualization {
    /// Whether the agent runs in a container (its own identity is not the machine's).
    pub fn in_container(&self) -> bool {
        self.kind == Some(VirtKind::Container)
            || self
                .layers
                .last()
                .is_some_and(|l| l.kind == VirtKind::Container)
    }

    /// The layers that are machines (VMs and partitions), from the outside in: a container takes
    /// the eligibility and capacity of the machine it runs on, so containers are left out.
    pub fn machine_layers(&self) -> Vec<VirtLayer> {
        self.machine_iter().collect()
    }

    /// [`Self::machine_layers`] without allocating.
    fn machine_iter(&self) -> impl DoubleEndedIterator<Item = VirtLayer> + '_ {
        // A report with a verdict but no layer list: the verdict is the one layer.
        let verdict = match (self.layers.is_empty(), self.kind, self.technology) {
            (true, Some(kind), Some(technology))
                if kind != VirtKind::Container && kind != VirtKind::BareMetal =>
            {
                Some(VirtLayer { kind, technology })
            }
            _ => None,
        };
        self.layers
            .iter()
            .filter(|l| l.kind != VirtKind::Container)
            .copied()
            .chain(verdict)
    }

    /// The innermost machine layer (where the OS instance that owns the processors runs).
    pub fn machine_layer(&self) -> Option<VirtLayer> {
        self.machine_iter().next_back()
    }

    /// Whether the machine the agent sees is bare metal (no VM or partition under it). `false`
    /// when the report did not say.
    pub fn on_bare_metal(&self) -> bool {
        self.kind.is_some() && self.machine_iter().next().is_none()
    }
}

/// One IBM product installation seen on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct IbmInstall {
    pub product: String,
    pub version: String,
    pub signature: Signature,
    pub publisher: String,
}

/// The ILMT/BigFix agent as the host shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IlmtAgent {
    pub bigfix_installed: bool,
    pub bigfix_running: bool,
    pub scanner_installed: bool,
    pub scanner_running: bool,
    pub last_software_scan: Option<UtcTime>,
    pub last_capacity_scan: Option<UtcTime>,
    pub last_upload: Option<UtcTime>,
    pub vm_manager_present: bool,
}

/// Which key tied an agent host to an ILMT computer, strongest first (the order is the
/// derive order: `BigfixId < Uuid < ... < IpAddress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// Agent's BigFix computer id = ILMT `bigfix_id`.
    BigfixId,
    /// DMI product_uuid (either byte order) = the UUID in ILMT's `TLM_VM_<uuid>`.
    Uuid,
    /// Bare-metal DMI product_serial = a physical computer's `server_serial_number`.
    Serial,
    /// FQDN = `dns_name`.
    Fqdn,
    /// Short hostname = short `name` (case-insensitive).
    Hostname,
    /// A `TLM_VM_` value that holds only the start of a UUID (at least 8 hex digits): too short
    /// to outrank a name.
    UuidPrefix,
    /// An address in both lists.
    IpAddress,
}

impl MatchKey {
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchKey::BigfixId => "bigfix_id",
            MatchKey::Uuid => "uuid",
            MatchKey::Serial => "serial",
            MatchKey::Fqdn => "fqdn",
            MatchKey::Hostname => "hostname",
            MatchKey::UuidPrefix => "uuid_prefix",
            MatchKey::IpAddress => "ip_address",
        }
    }

    /// Keys that name the machine (or its BigFix registration) rather than a name or address.
    pub const fn is_identity(self) -> bool {
        matches!(self, MatchKey::BigfixId | MatchKey::Uuid | MatchKey::Serial)
    }
}

impl fmt::Display for MatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How findings and results name an ILMT computer: ILMT's id when it has one, else the row of
/// the input it was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IlmtRef {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub source_row: usize,
}

impl IlmtRef {
    pub fn of(c: &IlmtComputer) -> IlmtRef {
        IlmtRef {
            id: c.id,
            name: c.name.clone(),
            source_row: c.source_row,
        }
    }
}

impl fmt::Display for IlmtRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "ILMT computer {id}")?,
            None => write!(f, "ILMT row {}", self.source_row)?,
        }
        if let Some(name) = &self.name {
            write!(f, " ({name})")?;
        }
        Ok(())
    }
}

/// The stable finding codes (one vocabulary everywhere: reports, JSON, docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Code {
    #[serde(rename = "UNCOVERED")]
    Uncovered,
    #[serde(rename = "DEADLINE")]
    Deadline,
    #[serde(rename = "STALE")]
    Stale,
    #[serde(rename = "ILMT_AGENT_DOWN")]
    IlmtAgentDown,
    #[serde(rename = "INELIGIBLE_VIRTUALIZATION")]
    IneligibleVirtualization,
    #[serde(rename = "VM_MANAGER_DATA_MISSING")]
    VmManagerDataMissing,
    #[serde(rename = "DUPLICATE")]
    Duplicate,
    #[serde(rename = "CAPACITY_MISMATCH")]
    CapacityMismatch,
    #[serde(rename = "UNKNOWN_PROCESSOR")]
    UnknownProcessor,
    #[serde(rename = "GHOST")]
    Ghost,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::Uncovered,
        Code::Deadline,
        Code::Stale,
        Code::IlmtAgentDown,
        Code::IneligibleVirtualization,
        Code::VmManagerDataMissing,
        Code::Duplicate,
        Code::CapacityMismatch,
        Code::UnknownProcessor,
        Code::Ghost,
    ];

    /// Whether a finding of this code fails a sub-capacity condition for its host, so the host
    /// counts at full capacity: not covered by ILMT (UNCOVERED, STALE, ILMT_AGENT_DOWN), not an
    /// eligible technology, or counted by ILMT's defaults for want of VM manager data.
    pub const fn breaks_claim(self) -> bool {
        matches!(
            self,
            Code::Uncovered
                | Code::Stale
                | Code::IlmtAgentDown
                | Code::IneligibleVirtualization
                | Code::VmManagerDataMissing
        )
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Uncovered => "UNCOVERED",
            Code::Deadline => "DEADLINE",
            Code::Stale => "STALE",
            Code::IlmtAgentDown => "ILMT_AGENT_DOWN",
            Code::IneligibleVirtualization => "INELIGIBLE_VIRTUALIZATION",
            Code::VmManagerDataMissing => "VM_MANAGER_DATA_MISSING",
            Code::Duplicate => "DUPLICATE",
            Code::CapacityMismatch => "CAPACITY_MISMATCH",
            Code::UnknownProcessor => "UNKNOWN_PROCESSOR",
            Code::Ghost => "GHOST",
        }
    }
}

impl std::str::FromStr for Code {
    type Err = String;
    /// A code as written (`UNCOVERED`), case-insensitive.
    fn from_str(s: &str) -> Result<Code, String> {
        word(Code::ALL, Code::as_str, s, "a finding code")
    }
}

/// The member of `all` whose name is `s` (case-insensitive); the error lists the names.
fn word<T: Copy>(all: &[T], name: fn(T) -> &'static str, s: &str, what: &str) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|c| name(*c).eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|c| name(*c)).collect();
            format!("{s:?} is not {what} (one of {})", names.join(", "))
        })
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PVU per core in effect for a host, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PvuRate {
    pub pvu_per_core: f64,
    /// e.g. `120 PVU/core: PVU table 2026-05-20 entry "Xeon, more than 4 sockets" (8 sockets, ILMT node_total_processors)`.
    /// Shared between the hosts with the same processor.
    #[serde(serialize_with = "shared")]
    pub how: Arc<str>,
    /// No table entry matched: the unidentified-processor default was used.
    pub unidentified: bool,
    /// The entry (or the choice among entries) is marked uncertain.
    pub uncertain: bool,
}

/// One side of an exposure: cores, PVU, and how they were computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacitySide {
    pub cores: f64,
    pub pvu: f64,
    pub how: String,
}

/// Full capacity: known, or not, with what is proven about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FullCapacity {
    Known(CapacitySide),
    /// "host capacity unknown": the full capacity is at least `lower_bound` (the sub-capacity
    /// cores, or a larger count the host proves), when even that is known.
    Unknown {
        lower_bound: Option<CapacitySide>,
        why: String,
    },
}

/// What a host would cost at full capacity beyond its sub-capacity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    pub rate: PvuRate,
    /// What the VM/LPAR/host is allocated; `None` when even that is unknown.
    pub sub_capacity: Option<CapacitySide>,
    pub full_capacity: FullCapacity,
    /// Full minus sub-capacity PVU, when both are known.
    pub exposed_pvu: Option<f64>,
    /// One line saying it all.
    pub summary: String,
}

/// Whether ILMT covers a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Matched to an ILMT computer that reported within the stale threshold.
    Covered,
    /// Matched, but every matched ILMT computer is stale.
    Stale,
    /// IBM software on the host and no (undeleted) ILMT computer for it.
    Uncovered,
    /// No IBM software seen and no ILMT computer: nothing to cover.
    NotRequired,
    /// Another host key reported later with this host's machine identity (BigFix id, UUID or
    /// serial) while this one's report is old: an old name of that machine. No findings.
    Superseded,
}

impl Coverage {
    pub const ALL: &'static [Coverage] = &[
        Coverage::Covered,
        Coverage::Stale,
        Coverage::Uncovered,
        Coverage::NotRequired,
        Coverage::Superseded,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Coverage::Covered => "covered",
            Coverage::Stale => "stale",
            Coverage::Uncovered => "uncovered",
            Coverage::NotRequired => "not_required",
            Coverage::Superseded => "superseded",
        }
    }
}

impl std::str::FromStr for Coverage {
    type Err = String;
    fn from_str(s: &str) -> Result<Coverage, String> {
        word(Coverage::ALL, Coverage::as_str, s, "a coverage state")
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ILMT computer tied to a host, and by what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IlmtMatch {
    pub ilmt: IlmtRef,
    pub key: MatchKey,
    /// The values that matched, e.g. `bigfix_id 1612345678`.
    pub evidence: String,
}

/// Reconciliation's answer for one agent host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostResult {
    pub host_key: String,
    pub coverage: Coverage,
    /// Matched (undeleted) ILMT computers, the one used for capacity first.
    pub matches: Vec<IlmtMatch>,
    /// Shared with the host's findings.
    #[serde(serialize_with = "shared")]
    pub exposure: Arc<Exposure>,
    /// What else reconciliation noticed (rejected candidates, superseded records, ignored keys).
    pub notes: Vec<String>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub host_key: Option<String>,
    pub ilmt: Vec<IlmtRef>,
    /// One line for a person.
    pub summary: String,
    /// The values that decided it.
    pub evidence: Vec<String>,
    /// The host's exposure (shared with its other findings), or an ILMT computer's alone.
    #[serde(serialize_with = "shared_opt")]
    pub exposure: Option<Arc<Exposure>>,
    pub first_seen: Option<CivilDate>,
    pub last_seen: Option<CivilDate>,
    /// DEADLINE: the day the 90 days end.
    pub due: Option<CivilDate>,
    /// The rule or data behind it is marked uncertain (policy or PVU entry, or missing input).
    pub uncertain: bool,
}

/// Everything reconciliation answers, in a deterministic order: hosts by host key, findings by
/// code, then host key, then ILMT reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    pub hosts: Vec<HostResult>,
    pub findings: Vec<Finding>,
}

/// Limits the findings are judged by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// An ILMT computer whose `last_seen` is more than this many days before `now` is STALE. An
    /// agent report older than this is *old*: it yields a machine key (BigFix id, UUID, serial)
    /// it shares with a later report, and its host becomes [`Coverage::Superseded`].
    pub stale_days: i64,
    /// A host whose last software or capacity scan (or upload) is older than this is
    /// ILMT_AGENT_DOWN. ILMT's software scan runs weekly by default: 14 days is two missed runs.
    pub scan_max_age_days: i64,
    /// Cores by which the agent's and ILMT's counts may differ before CAPACITY_MISMATCH
    /// (absorbs rounding of fractional entitlements).
    pub capacity_tolerance_cores: f64,
    /// Days after the first sub-capacity deployment by which ILMT must cover it.
    pub deadline_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stale_days: 14,
            scan_max_age_days: 14,
            capacity_tolerance_cores: 0.5,
            deadline_days: 90,
        }
    }
}

fn shared<T: Serialize + ?Sized, S: Serializer>(v: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
    T::serialize(v, s)
}

fn shared_opt<T: Serialize, S: Serializer>(v: &Option<Arc<T>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&**v),
        None => s.serialize_none(),
    }
}

/// A number for a person: integral values without decimals, others rounded to two decimals
/// (trailing zeros dropped). See [`Num`].
pub fn num(v: f64) -> String {
    Num(v).to_string()
}

/// Displays a number the way [`num`] writes it, without allocating: reports print millions of
/// these, and float formatting is slow, so the digits are written from integers.
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LIMIT: f64 = 1e15;
        let v = self.0;
        if !v.is_finite() || v.abs() >= LIMIT {
            return write!(f, "{v}");
        }
        // In range: |v| < 1e15, so the cast cannot overflow.
        let hundredths = (v * 100.0).round() as i64;
        if hundredths < 0 {
            f.write_str("-")?;
        }
        let h = hundredths.unsigned_abs();
        write_digits(f, h / 100)?;
        match h % 100 {
            0 => Ok(()),
            frac if frac % 10 == 0 => {
                f.write_str(".")?;
                write_digits(f, frac / 10)
            }
            frac => {
                f.write_str(if frac < 10 { ".0" } else { "." })?;
                write_digits(f, frac)
            }
        }
    }
}

fn write_digits(f: &mut fmt::Formatter<'_>, mut n: u64) -> fmt::Result {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        if let Some(slot) = buf.get_mut(at) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    f.write_str(std::str::from_utf8(buf.get(at..).unwrap_or_default()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_person_writes_them() {
        for (v, want) in [
            (480.0, "480"),
            (3840.0, "3840"),
            (0.5, "0.5"),
            (1.25, "1.25"),
            (2.0 / 3.0, "0.67"),
            (0.0, "0"),
            (0.05, "0.05"),
            (-0.5, "-0.5"),
            (-2.25, "-2.25"),
            (1.999, "2"),
            (1e16, "10000000000000000"),
        ] {
            assert_eq!(num(v), want);
        }
    }

    #[test]
    fn machine_layers_leave_containers_out() {
        let v = Virtualization {
            kind: Some(VirtKind::Container),
            technology: Some(Technology::Docker),
            cloud: None,
            layers: vec![
                VirtLayer {
                    kind: VirtKind::VirtualMachine,
                    technology: Technology::Virtualbox,
                },
                VirtLayer {
                    kind: VirtKind::Container,
                    technology: Technology::Docker,
                },
            ],
        };
        assert!(v.in_container());
        assert!(!v.on_bare_metal());
        assert_eq!(
            v.machine_layer().map(|l| l.technology),
            Some(Technology::Virtualbox)
        );
        let bare = Virtualization {
            kind: Some(VirtKind::BareMetal),
            ..Virtualization::default()
        };
        assert!(bare.on_bare_metal());
        assert!(!Virtualization::default().on_bare_metal());
        let docker_on_metal = Virtualization {
            kind: Some(VirtKind::Container),
            technology: Some(Technology::Docker),
            cloud: None,
            layers: vec![VirtLayer {
                kind: VirtKind::Container,
                technology: Technology::Docker,
            }],
        };
        assert!(docker_on_metal.on_bare_metal());
    }

    #[test]
    fn codes_and_coverage_states_read_back_as_written() {
        for c in Code::ALL {
            assert_eq!(c.as_str().parse::<Code>(), Ok(*c));
            assert_eq!(c.as_str().to_lowercase().parse::<Code>(), Ok(*c));
            // The serde name is the written one.
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{c}\""));
        }
        for c in Coverage::ALL {
            assert_eq!(c.as_str().parse::<Coverage>(), Ok(*c));
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{c}\""));
        }
        let e = "UNCOVERD".parse::<Code>().unwrap_err();
        assert!(e.contains("UNCOVERED, DEADLINE"), "{e}");
        assert!("gone".parse::<Coverage>().is_err());
        let breaking: Vec<&str> = Code::ALL
            .iter()
            .filter(|c| c.breaks_claim())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            breaking,
            [
                "UNCOVERED",
                "STALE",
                "ILMT_AGENT_DOWN",
                "INELIGIBLE_VIRTUALIZATION",
                "VM_MANAGER_DATA_MISSING"
            ]
        );
    }

    #[test]
    fn codes_are_listed_in_their_order() {
        // Reconciliation buckets findings by `code as usize` and concatenates the buckets.
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code}");
        }
        assert!(Code::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn match_keys_order_strongest_first() {
        let mut keys = vec![
            MatchKey::IpAddress,
            MatchKey::Hostname,
            MatchKey::Uuid,
            MatchKey::BigfixId,
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                MatchKey::BigfixId,
                MatchKey::Uuid,
                MatchKey::Hostname,
                MatchKey::IpAddress
            ]
        );
        assert!(MatchKey::Serial.is_identity());
        assert!(!MatchKey::Fqdn.is_identity());
    }
}
