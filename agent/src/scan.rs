//! One collection: runs every collector through the scan root and assembles the `HostReport`.

use std::path::PathBuf;
use std::time::SystemTime;

use subcap_proto::v1 as pb;

use crate::collect::{ibm, identity, ilmt_agent, topology, virt, Warnings};
use crate::root::Root;

/// The agent's version, written into every report.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The directory that stands for `/` of the host (default `/`).
    pub root: PathBuf,
    pub cpuid: virt::CpuidSource,
    pub ibm: ibm::SearchLimits,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            root: PathBuf::from("/"),
            cpuid: virt::CpuidSource::Native,
            ibm: ibm::SearchLimits::default(),
        }
    }
}

/// Collects a report of the host. Never fails: what could not be read is a warning in the report.
/// `now` is the collection time and `report_id` its unique id (the caller owns clock and randomness).
pub fn scan(opts: &ScanOptions, now: SystemTime, report_id: String) -> pb::HostReport {
    let root = Root::new(&opts.root);

    let mut w_identity = Warnings::new("identity");
    let mut identity = identity::collect(&root, &mut w_identity);
    let mut w_topology = Warnings::new("topology");
    let topology = topology::collect(&root, &mut w_topology);
    let mut w_virt = Warnings::new("virtualization");
    let virtualization = virt::collect(&root, &opts.cpuid, &mut w_virt);
    let mut w_ibm = Warnings::new("ibm_installs");
    let ibm_installs = ibm::collect(&root, &opts.ibm, &mut w_ibm);
    let mut w_ilmt = Warnings::new("ilmt_agent");
    let ilmt = ilmt_agent::collect(&root, &mut w_ilmt);
    identity.bigfix_computer_id = ilmt.bigfix_computer_id;

    let warnings = [w_identity, w_topology, w_virt, w_ibm, w_ilmt]
        .into_iter()
        .flat_map(Warnings::into_vec)
        .collect();

    pb::HostReport {
        report_id,
        collected_at: Some(timestamp(now)),
        agent_version: AGENT_VERSION.to_string(),
        identity: Some(identity),
        topology: Some(topology),
        virtualization: Some(virtualization),
        ibm_installs,
        ilmt_agent: Some(ilmt.health),
        warnings,
        scan_root: opts.root.to_string_lossy().into_owned(),
    }
}

/// A protobuf timestamp for `t` (times before 1970 are clamped to it).
pub fn timestamp(t: SystemTime) -> pbjson_types::Timestamp {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    pbjson_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// A new report id: 128 random bits from the operating system, as 32 hex digits.
pub fn new_report_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
