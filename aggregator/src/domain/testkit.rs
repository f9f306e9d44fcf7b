//! Builders for the domain's tests: plain values, written the way a table row reads.

use subcap_proto::vocab::{Cloud, Signature, Technology, VirtKind};

use super::model::{
    AgentHost, CivilDate, IbmInstall, IlmtAgent, Topology, UtcTime, VirtLayer, Virtualization,
};
use super::policy::Policy;
use super::pvu::PvuTable;
use crate::ilmt::{ComputerType, HardwareStatus, IlmtComputer};

pub fn date(y: i32, m: u8, d: u8) -> CivilDate {
    CivilDate::new(y, m, d).unwrap_or_else(|| panic!("bad test date {y}-{m}-{d}"))
}

pub fn at(y: i32, m: u8, d: u8) -> UtcTime {
    UtcTime::from_parts(date(y, m, d), 12, 0, 0).unwrap_or_else(|| panic!("bad test time"))
}

pub fn policy() -> Policy {
    Policy::builtin().unwrap_or_else(|e| panic!("builtin policy: {e}"))
}

pub fn table() -> PvuTable {
    PvuTable::builtin().unwrap_or_else(|e| panic!("builtin PVU table: {e}"))
}

/// A healthy bare-metal x86 host, 2 sockets x 16 cores, no IBM software, reported on 2026-11-20.
pub fn host(fqdn: &str) -> AgentHost {
    let short = fqdn.split('.').next().unwrap_or(fqdn).to_string();
    AgentHost {
        host_key: fqdn.to_lowercase(),
        hostname: short,
        fqdn: fqdn.to_string(),
        machine_id: String::new(),
        product_uuid: String::new(),
        product_serial: String::new(),
        ip_addresses: Vec::new(),
        bigfix_computer_id: String::new(),
        architecture: "x86_64".into(),
        os_name: "Red Hat Enterprise Linux".into(),
        os_family: "linux".into(),
        topology: Topology {
            logical_cpus: Some(64),
            sockets: Some(2),
            cores: Some(32),
            threads_per_core: Some(2),
            vendor: "GenuineIntel".into(),
            model_name: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz".into(),
            ..Topology::default()
        },
        virtualization: Virtualization {
            kind: Some(VirtKind::BareMetal),
            technology: None,
            cloud: Some(Cloud::None),
            layers: Vec::new(),
        },
        ibm_installs: Vec::new(),
        ilmt_agent: IlmtAgent {
            bigfix_installed: true,
            bigfix_running: true,
            last_software_scan: Some(at(2026, 11, 18)),
            last_capacity_scan: Some(at(2026, 11, 20)),
            last_upload: Some(at(2026, 11, 20)),
            ..IlmtAgent::default()
        },
        last_report: at(2026, 11, 20),
        first_ibm_seen: None,
    }
}

/// `h` as a VM (or container) whose layers are `layers`, from the machine outward, with `vcpus`
/// single-threaded vCPUs.
pub fn virtual_host(fqdn: &str, layers: &[Technology], vcpus: u32) -> AgentHost {
    let mut h = host(fqdn);
    h.virtualization = Virtualization {
        kind: layers.last().map(|t| t.kind()),
        technology: layers.last().copied(),
        cloud: Some(Cloud::None),
        layers: layers
            .iter()
            .map(|t| VirtLayer {
                kind: t.kind(),
                technology: *t,
            })
            .collect(),
    };
    h.topology.logical_cpus = Some(vcpus);
    h.topology.cores = Some(vcpus);
    h.topology.sockets = Some(1);
    h.topology.threads_per_core = Some(1);
    h
}

pub fn with_ibm(mut h: AgentHost, first_seen: CivilDate) -> AgentHost {
    h.ibm_installs.push(IbmInstall {
        product: "IBM Db2 Standard Edition".into(),
        version: "11.5.8.0".into(),
        signature: Signature::SwidTag,
        publisher: "IBM".into(),
    });
    h.first_ibm_seen = Some(first_seen);
    h
}

/// An ILMT computer named like `fqdn`, physical, status OK, last seen 2026-11-20.
pub fn computer(id: i64, fqdn: &str) -> IlmtComputer {
    IlmtComputer {
        source_row: usize::try_from(id).unwrap_or(0),
        id: Some(id),
        name: Some(fqdn.split('.').next().unwrap_or(fqdn).to_uppercase()),
        dns_name: Some(fqdn.to_string()),
        first_seen: Some(at(2025, 1, 10)),
        last_seen: Some(at(2026, 11, 20)),
        is_deleted: Some(false),
        computer_type: Some(ComputerType::Physical),
        status: Some(HardwareStatus::Ok),
        ..IlmtComputer::default()
    }
}

/// An ILMT virtual computer on a host of `server_cores` cores.
pub fn vm_computer(id: i64, fqdn: &str, partition_cores: f64, server_cores: f64) -> IlmtComputer {
    IlmtComputer {
        computer_type: Some(ComputerType::Virtual),
        server_id: Some(900 + id),
        server_name: Some(format!("esx{id}.bank.example")),
        partition_cores: Some(partition_cores),
        server_cores: Some(server_cores),
        ..computer(id, fqdn)
    }
}
