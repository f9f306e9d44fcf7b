//! The demo's ILMT export: what ILMT's REST API v2 (`GET api/sam/v2/computers`, with the
//! `computer_hardware` association nested) would answer for the estate, as of today. Records take
//! their capacity from what each host's agent saw (ILMT's capacity scan and the agent read the
//! same machine) unless the estate says ILMT has other figures. Pure: the agents' facts and
//! "now" come in, JSON bytes go out.

use std::collections::HashMap;

use serde::Serialize;
use subcap_proto::time::rfc3339;
use subcap_proto::v1 as pb;

use super::estate::{Estate, HostSpec, IlmtSpec, Keys};
use crate::convert::{self, ConvertError};
use crate::domain::policy::Policy;
use crate::domain::pvu::visible_cores;
use crate::ilmt::ComputerType;

/// What ILMT's scans would have read of a host: taken from the host's agent report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFacts {
    pub product_uuid: String,
    pub product_serial: String,
    /// ILMT's way of naming it: `Linux <distribution> <version>`.
    pub os: String,
    pub computer_type: Option<ComputerType>,
    /// Cores as the agent counts them (what ILMT calls partition cores).
    pub cores: Option<f64>,
    pub sockets: Option<f64>,
    pub processor: String,
    /// POWER: entitled capacity in cores, virtual processors, capped.
    pub entitlement: Option<f64>,
    pub virtual_processors: Option<f64>,
    pub capped: Option<bool>,
    /// The host's hypervisor is one ILMT's VM Manager Tool connects to (per the policy).
    pub vm_manager_hypervisor: bool,
}

impl AgentFacts {
    /// The facts of `report`, judged by `policy` (which hypervisors need a VM manager).
    pub fn of(report: &pb::HostReport, policy: &Policy) -> Result<AgentFacts, ConvertError> {
        let host = convert::agent_host(report, None)?;
        let v = &host.virtualization;
        let computer_type = if v.kind.is_none() {
            None
        } else if v.on_bare_metal() {
            Some(ComputerType::Physical)
        } else if v
            .cloud
            .is_some_and(|c| c != subcap_proto::vocab::Cloud::Openstack)
        {
            Some(ComputerType::PublicCloud)
        } else {
            Some(ComputerType::Virtual)
        };
        let id = report.identity.clone().unwrap_or_default();
        let power = host.topology.power.as_ref();
        Ok(AgentFacts {
            os: format!("Linux {} {}", id.os_name, id.os_version)
                .trim()
                .to_string(),
            product_uuid: host.product_uuid.clone(),
            product_serial: host.product_serial.clone(),
            computer_type,
            cores: visible_cores(&host.topology).map(|c| c.cores),
            sockets: host.topology.sockets.map(f64::from),
            processor: host.topology.model_name.clone(),
            entitlement: power
                .and_then(|p| p.entitled_capacity_centi)
                .map(|c| f64::from(c) / 100.0),
            virtual_processors: power.and_then(|p| p.virtual_processors).map(f64::from),
            capped: power.and_then(|p| p.capped),
            vm_manager_hypervisor: policy.assess(v).needs_vm_manager,
        })
    }
}

/// One row of `api/sam/v2/computers`, its fields in the API's order.
#[derive(Debug, Serialize)]
struct Row {
    id: u64,
    bigfix_id: Option<u64>,
    computer_group_id: u64,
    name: String,
    dns_name: Option<String>,
    ip_address: Option<String>,
    os: Option<String>,
    os_type: &'static str,
    first_seen: String,
    last_seen: String,
    is_deleted: bool,
    deletion_date: Option<String>,
    is_managed_by_vm_manager: bool,
    computer_hardware: Hardware,
}

/// The `computer_hardware` association.
#[derive(Debug, Serialize)]
struct Hardware {
    /// 0 physical, 1 virtual, 2 public cloud.
    computer_type: u8,
    /// 1 OK, 4 missing VM manager data.
    status: u8,
    server_id: u64,
    server_name: Option<String>,
    server_vendor: Option<String>,
    server_model: Option<String>,
    server_serial_number: Option<String>,
    processor_brand_string: Option<String>,
    partition_cores: Option<serde_json::Value>,
    node_total_processors: Option<serde_json::Value>,
    cluster_name: Option<String>,
    cluster_cores_count: Option<serde_json::Value>,
    server_cores: Option<serde_json::Value>,
    entitlement: Option<serde_json::Value>,
    is_capped: Option<u8>,
    online_vp_count: Option<serde_json::Value>,
    custom_pvu_per_core: &'static str,
    default_pvu_value: &'static str,
}

/// The response document.
#[derive(Debug, Serialize)]
struct Document {
    total: usize,
    rows: Vec<Row>,
}

/// A count as ILMT writes it: whole numbers without a fraction.
fn number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Value::from(v)
    }
}

fn type_code(t: ComputerType) -> u8 {
    match t {
        ComputerType::Physical => 0,
        ComputerType::Virtual => 1,
        ComputerType::PublicCloud => 2,
    }
}

/// ILMT computer ids start here (server ids at [`FIRST_SERVER_ID`]).
pub const FIRST_ID: u64 = 1001;
const FIRST_SERVER_ID: u64 = 201;

/// `days` days before `now`, less an hour (a record "seen today" was seen earlier today).
fn ago(now: i64, days: u32) -> String {
    rfc3339(now - i64::from(days) * 86_400 - 3600)
}

fn host_row(id: u64, server_id: u64, h: &HostSpec, r: &IlmtSpec, f: &AgentFacts, now: i64) -> Row {
    let all = r.keys() == Keys::All;
    let computer_type = f.computer_type.unwrap_or(ComputerType::Virtual);
    let physical = computer_type == ComputerType::Physical;
    let default_counted = !r.vm_manager && computer_type == ComputerType::Virtual;
    let tlm = format!("TLM_VM_{}", f.product_uuid);
    let server_name = if default_counted {
        Some(tlm.clone())
    } else if physical {
        Some(r.server.clone().unwrap_or_else(|| h.short.clone()))
    } else {
        r.server.clone()
    };
    let server_serial_number = if default_counted {
        Some(tlm)
    } else if physical && all && !f.product_serial.is_empty() {
        Some(f.product_serial.clone())
    } else {
        None
    };
    let own = |over: Option<f64>, agent: Option<f64>| over.or(agent).map(number);
    Row {
        id,
        bigfix_id: if all { h.bigfix_id } else { None },
        computer_group_id: 0,
        name: r.name.clone().unwrap_or_else(|| h.short.clone()),
        dns_name: all.then(|| h.name.clone()),
        ip_address: all.then(|| h.ip.to_string()),
        os: (!f.os.is_empty()).then(|| f.os.clone()),
        os_type: "Linux",
        first_seen: ago(now, r.first_seen_days_ago),
        last_seen: ago(now, r.last_seen_days_ago),
        is_deleted: false,
        deletion_date: None,
        is_managed_by_vm_manager: r.vm_manager
            && computer_type == ComputerType::Virtual
            && f.vm_manager_hypervisor,
        computer_hardware: Hardware {
            computer_type: type_code(computer_type),
            status: if default_counted { 4 } else { 1 },
            server_id,
            server_name,
            server_vendor: r.server_vendor.clone(),
            server_model: r.server_model.clone(),
            server_serial_number,
            processor_brand_string: (!f.processor.is_empty()).then(|| f.processor.clone()),
            partition_cores: own(r.partition_cores, f.cores),
            node_total_processors: own(r.sockets, if physical { f.sockets } else { None }),
            cluster_name: r.cluster.clone(),
            cluster_cores_count: r.cluster_cores.map(number),
            server_cores: own(r.server_cores, if physical { f.cores } else { None }),
            entitlement: own(r.entitlement, f.entitlement),
            is_capped: f.capped.map(u8::from),
            online_vp_count: own(r.online_vp_count, f.virtual_processors),
            custom_pvu_per_core: "0",
            default_pvu_value: if r.default_pvu { "1" } else { "0" },
        },
    }
}

/// The saved `api/sam/v2/computers` response for `estate` as of `now` (seconds since the epoch),
/// with the agents' `facts` by host name. Rows: each host ILMT knows (and its older duplicate),
/// then the ILMT-only computers.
pub fn computers_json(
    estate: &Estate,
    facts: &HashMap<String, AgentFacts>,
    now: i64,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut rows = Vec::new();
    let mut id = FIRST_ID;
    let mut server_id = FIRST_SERVER_ID;
    let none = AgentFacts::default();
    for h in &estate.hosts {
        let Some(r) = &h.ilmt else { continue };
        let f = facts.get(&h.name).unwrap_or(&none);
        if let Some(d) = &r.duplicate {
            // The older computer: the same machine before its BigFix client was reinstalled.
            let mut old = host_row(id, server_id, h, r, f, now);
            old.bigfix_id = Some(d.bigfix_id);
            old.first_seen = ago(now, d.first_seen_days_ago);
            old.last_seen = ago(now, d.last_seen_days_ago);
            rows.push(old);
            id += 1;
        }
        rows.push(host_row(id, server_id, h, r, f, now));
        id += 1;
        server_id += 1;
    }
    for g in &estate.ilmt_only {
        let physical = g.computer_type == ComputerType::Physical;
        rows.push(Row {
            id,
            bigfix_id: g.bigfix_id,
            computer_group_id: 0,
            name: g.name.clone(),
            dns_name: g.dns_name.clone(),
            ip_address: g.ip.map(|ip| ip.to_string()),
            os: g.os.clone(),
            os_type: if g.os.as_deref().is_some_and(|o| o.starts_with("Win")) {
                "Windows"
            } else {
                "Linux"
            },
            first_seen: ago(now, g.first_seen_days_ago),
            last_seen: ago(now, g.last_seen_days_ago),
            is_deleted: g.deleted_days_ago.is_some(),
            deletion_date: g.deleted_days_ago.map(|d| ago(now, d)),
            is_managed_by_vm_manager: g.computer_type == ComputerType::Virtual
                && g.cluster.is_some(),
            computer_hardware: Hardware {
                computer_type: type_code(g.computer_type),
                status: 1,
                server_id,
                server_name: g
                    .server
                    .clone()
                    .or_else(|| physical.then(|| g.name.clone())),
                server_vendor: None,
                server_model: None,
                server_serial_number: None,
                processor_brand_string: g.processor.clone(),
                partition_cores: g.partition_cores.map(number),
                node_total_processors: None,
                cluster_name: g.cluster.clone(),
                cluster_cores_count: g.cluster_cores.map(number),
                server_cores: g.server_cores.map(number),
                entitlement: None,
                is_capped: None,
                online_vp_count: None,
                custom_pvu_per_core: "0",
                default_pvu_value: "0",
            },
        });
        id += 1;
        server_id += 1;
    }
    let doc = Document {
        total: rows.len(),
        rows,
    };
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ilmt::{HardwareStatus, IlmtComputer, Limits, UtcTime};
    use crate::imports;

    const NOW: i64 = 1_795_400_000; // 2026-11-23T02:13:20Z

    const ESTATE: &str = r#"
[[host]]
name = "db01.demo.example"
platform = "vmware-vm"
ip = "10.0.0.1"
bigfix_id = 1612340101
expect = { coverage = "covered", codes = [] }
[host.ilmt]
cluster = "PROD-CL01"
cluster_cores = 96

[[host]]
name = "web03.demo.example"
platform = "vmware-vm"
ip = "10.0.0.3"
bigfix_id = 1612340203
expect = { coverage = "covered", codes = [] }
[host.ilmt]
vm_manager = false
duplicate = { bigfix_id = 1612340023, last_seen_days_ago = 30, first_seen_days_ago = 700 }

[[host]]
name = "pay02.demo.example"
platform = "baremetal-x86-2socket"
ip = "10.0.0.12"
expect = { coverage = "covered", codes = [] }
[host.ilmt]
keys = "hostname"
name = "PAY02"
last_seen_days_ago = 9

[[host]]
name = "mq01.demo.example"
platform = "openstack-kvm"
ip = "10.0.0.21"
expect = { coverage = "uncovered", codes = [] }

[[ilmt_only]]
name = "olddb05"
dns_name = "olddb05.demo.example"
last_seen_days_ago = 61
computer_type = "virtual"
partition_cores = 4

[[ilmt_only]]
name = "olddb04"
last_seen_days_ago = 130
deleted_days_ago = 100
computer_type = "virtual"
"#;

    fn facts() -> HashMap<String, AgentFacts> {
        let vm = AgentFacts {
            product_uuid: "5e8a1c42-9d3b-412f-8a6c-0e4d2b198f33".into(),
            os: "Linux Red Hat Enterprise Linux 9.4".into(),
            computer_type: Some(ComputerType::Virtual),
            cores: Some(4.0),
            processor: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz".into(),
            vm_manager_hypervisor: true,
            ..AgentFacts::default()
        };
        let metal = AgentFacts {
            product_serial: "DMO1A2B3C4D".into(),
            computer_type: Some(ComputerType::Physical),
            cores: Some(40.0),
            sockets: Some(2.0),
            ..AgentFacts::default()
        };
        [
            ("db01.demo.example", vm.clone()),
            ("web03.demo.example", vm),
            ("pay02.demo.example", metal),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn imported() -> Vec<IlmtComputer> {
        let estate = Estate::parse("e.toml", ESTATE).unwrap();
        let bytes = computers_json(&estate, &facts(), NOW).unwrap();
        let import = imports::parse_file("computers.json", &bytes, &Limits::default()).unwrap();
        assert_eq!(import.source, crate::ilmt::ImportSource::ApiJsonV2);
        assert!(import.warnings.is_empty(), "{:?}", import.warnings);
        assert_eq!(import.declared_total, Some(import.computers.len() as u64));
        import.computers
    }

    fn by_name<'a>(c: &'a [IlmtComputer], name: &str) -> Vec<&'a IlmtComputer> {
        c.iter()
            .filter(|r| r.name.as_deref() == Some(name))
            .collect()
    }

    #[test]
    fn the_export_reads_back_with_the_real_importer() {
        let c = imported();
        // db01, web03 twice, pay02, two ILMT-only; mq01 is unknown to ILMT.
        assert_eq!(c.len(), 6);
        assert!(by_name(&c, "mq01").is_empty());
        let ids: std::collections::HashSet<i64> = c.iter().filter_map(|r| r.id).collect();
        assert_eq!(ids.len(), 6, "ids are unique");

        let db01 = by_name(&c, "db01")[0];
        assert_eq!(db01.dns_name.as_deref(), Some("db01.demo.example"));
        assert_eq!(db01.bigfix_id, Some(1612340101));
        assert_eq!(db01.ip_addresses, vec!["10.0.0.1".to_string()]);
        assert_eq!(db01.computer_type, Some(ComputerType::Virtual));
        assert_eq!(db01.status, Some(HardwareStatus::Ok));
        assert_eq!(db01.partition_cores, Some(4.0));
        assert_eq!(db01.cluster_cores_count, Some(96.0));
        assert_eq!(db01.is_managed_by_vm_manager, Some(true));
        assert_eq!(db01.default_pvu_value, Some(false));
        let seen = db01.last_seen.unwrap();
        assert_eq!(seen, UtcTime::from_unix(NOW - 3600));
    }

    #[test]
    fn duplicates_default_counting_and_hostname_only_records() {
        let c = imported();
        let web03 = by_name(&c, "web03");
        assert_eq!(web03.len(), 2);
        let bigfix: Vec<Option<i64>> = web03.iter().map(|r| r.bigfix_id).collect();
        assert_eq!(bigfix, vec![Some(1612340023), Some(1612340203)]);
        assert_eq!(
            web03[0].last_seen.map(|t| t.date()),
            Some(UtcTime::from_unix(NOW - 30 * 86_400 - 3600).date())
        );
        for r in &web03 {
            assert_eq!(r.status, Some(HardwareStatus::MissingVmManagerData));
            assert!(r.default_counting());
            assert_eq!(
                r.tlm_vm_id().as_deref(),
                Some("5e8a1c42-9d3b-412f-8a6c-0e4d2b198f33")
            );
            assert_eq!(r.is_managed_by_vm_manager, Some(false));
        }

        let pay02 = by_name(&c, "PAY02")[0];
        assert_eq!(pay02.dns_name, None);
        assert_eq!(pay02.bigfix_id, None);
        assert!(pay02.ip_addresses.is_empty());
        assert_eq!(pay02.server_serial_number, None, "hostname only: no serial");
        assert_eq!(pay02.computer_type, Some(ComputerType::Physical));
        assert_eq!(pay02.server_cores, Some(40.0));
        assert_eq!(pay02.node_total_processors, Some(2.0));

        let deleted = by_name(&c, "olddb04")[0];
        assert_eq!(deleted.is_deleted, Some(true));
        assert!(deleted.deletion_date.is_some());
        let ghost = by_name(&c, "olddb05")[0];
        assert_eq!(ghost.is_deleted, Some(false));
        assert_eq!(ghost.partition_cores, Some(4.0));
    }

    #[test]
    fn whole_counts_are_written_without_a_fraction() {
        assert_eq!(number(4.0).to_string(), "4");
        assert_eq!(number(0.5).to_string(), "0.5");
    }
}
