//! The boundary between the wire and the domain: a `subcap.v1.HostReport` (plus the first day
//! IBM software was seen, which the caller computes from the host's history) becomes a
//! [`domain::model::AgentHost`](crate::domain::model::AgentHost). The domain never sees proto
//! types.
//!
//! Words outside a vocabulary are refused with the field's path, like ingest validation does; a
//! report that passed validation always converts.

use std::str::FromStr;

use subcap_proto::v1 as pb;
use subcap_proto::vocab::{Cloud, Signature, Technology, UnknownWord, VirtKind};
use subcap_proto::Timestamp;

use crate::domain::model::{
    AgentHost, CivilDate, IbmInstall, IlmtAgent, PowerLpar, Sharing, Topology, UtcTime, VirtLayer,
    Virtualization, S390,
};
use crate::ingest::validate::host_key;

/// A report that cannot become an [`AgentHost`]: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConvertError {
    pub field: String,
    pub problem: String,
}

fn missing(field: &str) -> ConvertError {
    ConvertError {
        field: field.to_string(),
        problem: "missing".into(),
    }
}

fn word<W: FromStr<Err = UnknownWord>>(field: &str, v: &str) -> Result<Option<W>, ConvertError> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|e: UnknownWord| ConvertError {
        field: field.to_string(),
        problem: format!("{:?} is not one of: {}", e.value, e.allowed),
    })
}

fn time(t: &Option<Timestamp>) -> Option<UtcTime> {
    t.as_ref().map(|t| UtcTime::from_unix(t.seconds))
}

/// Converts `report` (the host's latest) into the domain's view of the host.
pub fn agent_host(
    report: &pb::HostReport,
    first_ibm_seen: Option<CivilDate>,
) -> Result<AgentHost, ConvertError> {
    let id = report
        .identity
        .as_ref()
        .ok_or_else(|| missing("report.identity"))?;
    let last_report = time(&report.collected_at).ok_or_else(|| missing("report.collected_at"))?;
    let topology = report.topology.as_ref().map(topology).unwrap_or_default();
    let virtualization = match &report.virtualization {
        Some(v) => virtualization(v)?,
        None => Virtualization::default(),
    };
    let mut ibm_installs = Vec::with_capacity(report.ibm_installs.len());
    for (i, install) in report.ibm_installs.iter().enumerate() {
        let field = format!("report.ibm_installs[{i}].signature");
        let signature: Signature =
            word(&field, &install.signature)?.ok_or_else(|| missing(&field))?;
        ibm_installs.push(IbmInstall {
            product: install.product_name.clone(),
            version: install.version.clone(),
            signature,
            publisher: install.publisher.clone(),
        });
    }
    let ilmt_agent = report
        .ilmt_agent
        .as_ref()
        .map(|a| IlmtAgent {
            bigfix_installed: a.bigfix_installed,
            bigfix_running: a.bigfix_running,
            scanner_installed: a.scanner_installed,
            scanner_running: a.scanner_running,
            last_software_scan: time(&a.last_software_scan),
            last_capacity_scan: time(&a.last_capacity_scan),
            last_upload: time(&a.last_upload),
            vm_manager_present: a.vm_manager_present,
        })
        .unwrap_or_default();
    Ok(AgentHost {
        host_key: host_key(id),
        hostname: id.hostname.clone(),
        fqdn: id.fqdn.clone(),
        machine_id: id.machine_id.clone(),
        product_uuid: id.product_uuid.clone(),
        product_serial: id.product_serial.clone(),
        ip_addresses: id.ip_addresses.clone(),
        bigfix_computer_id: id.bigfix_computer_id.clone(),
        architecture: id.architecture.clone(),
        os_name: id.os_name.clone(),
        // The agent collects on Linux only (DESIGN.md: topology is read from Linux's /sys and /proc).
        os_family: "linux".into(),
        topology,
        virtualization,
        ibm_installs,
        ilmt_agent,
        last_report,
        first_ibm_seen,
    })
}

fn topology(t: &pb::Topology) -> Topology {
    Topology {
        logical_cpus: t.online_cpus,
        sockets: t.sockets,
        cores: t.cores,
        threads_per_core: t.threads_per_core,
        vendor: t.vendor.clone(),
        model_name: t.model_name.clone(),
        power: t.power_lpar.as_ref().map(|p| PowerLpar {
            entitled_capacity_centi: p.entitled_capacity_centi,
            virtual_processors: p.virtual_processors,
            sharing: match p.sharing.as_str() {
                "shared" => Some(Sharing::Shared),
                "dedicated" => Some(Sharing::Dedicated),
                _ => None,
            },
            capped: p.capped,
            pool_capacity_centi: p.pool_capacity_centi,
            system_active_processors: p.system_active_processors,
            partition_name: p.partition_name.clone(),
        }),
        s390: t.s390.as_ref().map(|z| S390 {
            machine_type: z.machine_type.clone(),
            cpus_total: z.cpus_total,
            lpar_name: z.lpar_name.clone(),
            lpar_cpus_total: z.lpar_cpus_total,
            lpar_cpus_dedicated: z.lpar_cpus_dedicated,
            lpar_cpus_shared: z.lpar_cpus_shared,
            guest_cpus_total: z.guest_cpus_total,
            control_program: z.control_program.clone(),
        }),
        container_quota_cpus: t.cpu_limit.as_ref().and_then(|c| c.quota_cpus),
        cpuset_cpus: t.cpu_limit.as_ref().and_then(|c| c.cpuset_cpus),
    }
}

fn virtualization(v: &pb::Virtualization) -> Result<Virtualization, ConvertError> {
    let mut layers = Vec::with_capacity(v.layers.len());
    for (i, l) in v.layers.iter().enumerate() {
        let kf = format!("report.virtualization.layers[{i}].kind");
        let tf = format!("report.virtualization.layers[{i}].technology");
        let kind: VirtKind = word(&kf, &l.kind)?.ok_or_else(|| missing(&kf))?;
        let technology: Technology = word(&tf, &l.technology)?.ok_or_else(|| missing(&tf))?;
        layers.push(VirtLayer { kind, technology });
    }
    Ok(Virtualization {
        kind: word("report.virtualization.kind", &v.kind)?,
        technology: word("report.virtualization.technology", &v.technology)?,
        cloud: word::<Cloud>("report.virtualization.cloud", &v.cloud)?
            .filter(|c| *c != Cloud::None),
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> pb::HostReport {
        pb::HostReport {
            report_id: "r1".into(),
            collected_at: Some(Timestamp {
                seconds: 1_795_392_000, // 2026-11-23T00:00:00Z
                nanos: 0,
            }),
            identity: Some(pb::HostIdentity {
                hostname: "db01".into(),
                fqdn: "DB01.bank.example".into(),
                bigfix_computer_id: "1612345678".into(),
                ..pb::HostIdentity::default()
            }),
            virtualization: Some(pb::Virtualization {
                kind: "container".into(),
                technology: "docker".into(),
                cloud: "none".into(),
                layers: vec![
                    pb::VirtLayer {
                        kind: "virtual_machine".into(),
                        technology: "vmware".into(),
                        decided_by: vec![],
                    },
                    pb::VirtLayer {
                        kind: "container".into(),
                        technology: "docker".into(),
                        decided_by: vec![],
                    },
                ],
                evidence: vec![],
            }),
            ibm_installs: vec![pb::IbmInstall {
                signature: "swid_tag".into(),
                product_name: "IBM MQ".into(),
                version: "9.3.0.0".into(),
                ..pb::IbmInstall::default()
            }],
            ..pb::HostReport::default()
        }
    }

    #[test]
    fn a_report_becomes_an_agent_host() {
        let first = CivilDate::new(2026, 9, 1);
        let h = agent_host(&report(), first).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.host_key, "db01.bank.example");
        assert_eq!(h.bigfix_computer_id, "1612345678");
        assert_eq!(h.last_report.to_string(), "2026-11-23T00:00:00Z");
        assert_eq!(h.first_ibm_seen, first);
        assert_eq!(h.virtualization.kind, Some(VirtKind::Container));
        assert_eq!(h.virtualization.cloud, None);
        assert_eq!(
            h.virtualization.machine_layer().map(|l| l.technology),
            Some(Technology::Vmware)
        );
        assert_eq!(
            h.ibm_installs.first().map(|i| i.signature),
            Some(Signature::SwidTag)
        );
        assert_eq!(h.os_family, "linux");
        assert_eq!(h.topology, Topology::default());
    }

    #[test]
    fn bad_reports_name_the_field() {
        type Break = fn(&mut pb::HostReport);
        let cases: &[(&str, Break)] = &[
            ("report.identity", |r| r.identity = None),
            ("report.collected_at", |r| r.collected_at = None),
            ("report.virtualization.layers[1].technology", |r| {
                if let Some(l) = r.virtualization.as_mut().and_then(|v| v.layers.get_mut(1)) {
                    l.technology = "Docker".into();
                }
            }),
            ("report.virtualization.cloud", |r| {
                if let Some(v) = r.virtualization.as_mut() {
                    v.cloud = "aws-gov".into();
                }
            }),
            ("report.ibm_installs[0].signature", |r| {
                if let Some(i) = r.ibm_installs.get_mut(0) {
                    i.signature = String::new();
                }
            }),
        ];
        for (field, break_it) in cases {
            let mut r = report();
            break_it(&mut r);
            let e = agent_host(&r, None).err();
            assert_eq!(e.map(|e| e.field), Some(field.to_string()), "{field}");
        }
    }
}
