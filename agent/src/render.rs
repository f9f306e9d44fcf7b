//! Renders a `HostReport` for people (`--format text`) or scripts (`--format json`, the proto's
//! canonical JSON mapping: lowerCamelCase names, default values omitted, RFC 3339 timestamps).

use std::fmt::Write as _;

use subcap_proto::time::rfc3339;

use subcap_proto::v1 as pb;

/// The canonical JSON of `report`, pretty-printed.
pub fn json(report: &pb::HostReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

/// A readable summary of `report`, every section with its evidence.
pub fn text(r: &pb::HostReport) -> String {
    let mut out = String::new();
    let o = &mut out;
    let ts = r
        .collected_at
        .as_ref()
        .map(|t| rfc3339(t.seconds))
        .unwrap_or_default();
    line(
        o,
        "report",
        &format!(
            "{} at {} by subcap-agent {}",
            r.report_id, ts, r.agent_version
        ),
    );
    line(o, "scan root", &r.scan_root);

    if let Some(id) = &r.identity {
        section(o, "identity");
        line(o, "hostname", &id.hostname);
        line(o, "fqdn", &id.fqdn);
        line(o, "machine id", &id.machine_id);
        line(o, "product uuid", &id.product_uuid);
        line(o, "product serial", &id.product_serial);
        line(o, "ip addresses", &id.ip_addresses.join(", "));
        line(o, "os", format!("{} {}", id.os_name, id.os_version).trim());
        line(o, "kernel", &id.kernel);
        line(o, "architecture", &id.architecture);
        line(o, "bigfix computer id", &id.bigfix_computer_id);
    }

    if let Some(t) = &r.topology {
        section(o, "topology");
        line(
            o,
            "online cpus",
            &format!("{} ({})", num(t.online_cpus), t.online_cpu_list),
        );
        line(o, "present cpus", &num(t.present_cpus));
        line(o, "sockets", &num(t.sockets));
        line(o, "cores per socket", &num(t.cores_per_socket));
        line(o, "threads per core", &num(t.threads_per_core));
        line(o, "cores", &num(t.cores));
        line(o, "dies", &num(t.dies));
        line(o, "books", &num(t.books));
        line(o, "drawers", &num(t.drawers));
        line(o, "numa nodes", &num(t.numa_nodes));
        line(o, "vendor", &t.vendor);
        line(o, "model name", &t.model_name);
        line(
            o,
            "family/model/stepping",
            &format!("{}/{}/{}", t.cpu_family, t.cpu_model, t.cpu_stepping),
        );
        if let Some(p) = &t.power_lpar {
            line(
                o,
                "power lpar",
                &format!(
                    "{} entitled {} virtual processors {} capped {} pool {}",
                    p.sharing,
                    p.entitled_capacity_centi
                        .map(|c| format!("{:.2}", f64::from(c) / 100.0))
                        .unwrap_or_else(|| "?".into()),
                    num(p.virtual_processors),
                    p.capped
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "?".into()),
                    num(p.pool_id),
                ),
            );
        }
        if let Some(z) = &t.s390 {
            line(
                o,
                "s390 lpar",
                &format!(
                    "{} #{} cpus {} (dedicated {}, shared {})",
                    z.lpar_name,
                    num(z.lpar_number),
                    num(z.lpar_cpus_total),
                    num(z.lpar_cpus_dedicated),
                    num(z.lpar_cpus_shared)
                ),
            );
            if !z.control_program.is_empty() {
                line(
                    o,
                    "s390 guest",
                    &format!(
                        "{} under {} cpus {}",
                        z.guest_name,
                        z.control_program,
                        num(z.guest_cpus_total)
                    ),
                );
            }
        }
        if let Some(c) = &t.cpu_limit {
            line(
                o,
                "cpu limit",
                &format!(
                    "cgroup {} quota {} cpuset {}",
                    c.cgroup_version,
                    c.quota_cpus
                        .map(|q| format!("{q:.2} cpus"))
                        .unwrap_or_else(|| "none".into()),
                    if c.cpuset.is_empty() { "-" } else { &c.cpuset },
                ),
            );
        }
        evidence(o, &t.evidence);
    }

    if let Some(v) = &r.virtualization {
        section(o, "virtualization");
        line(o, "kind", &v.kind);
        line(o, "technology", &v.technology);
        line(o, "cloud", &v.cloud);
        for (i, l) in v.layers.iter().enumerate() {
            line(
                o,
                &format!("layer {}", i + 1),
                &format!(
                    "{} {} (decided by {})",
                    l.kind,
                    l.technology,
                    l.decided_by.join(", ")
                ),
            );
        }
        evidence(o, &v.evidence);
    }

    section(o, "ibm installs");
    if r.ibm_installs.is_empty() {
        line(o, "found", "none");
    }
    for i in &r.ibm_installs {
        let _ = writeln!(
            o,
            "  {} {} [{}] {} {}\n      from {}",
            i.product_name, i.version, i.signature, i.product_id, i.install_path, i.source
        );
    }

    if let Some(a) = &r.ilmt_agent {
        section(o, "ilmt agent");
        line(
            o,
            "bigfix client",
            &format!(
                "installed {} version {} running {}",
                a.bigfix_installed,
                dash(&a.bigfix_version),
                a.bigfix_running
            ),
        );
        line(
            o,
            "disconnected scanner",
            &format!(
                "installed {} version {} running {}",
                a.scanner_installed,
                dash(&a.scanner_version),
                a.scanner_running
            ),
        );
        line(o, "last software scan", &time(&a.last_software_scan));
        line(o, "last capacity scan", &time(&a.last_capacity_scan));
        line(o, "last upload", &time(&a.last_upload));
        line(o, "vm manager data", &a.vm_manager_present.to_string());
        evidence(o, &a.evidence);
    }

    if !r.warnings.is_empty() {
        section(o, "warnings");
        for w in &r.warnings {
            let _ = writeln!(o, "  {}: {}: {}", w.collector, w.source, w.message);
        }
    }
    out
}

fn section(o: &mut String, name: &str) {
    let _ = writeln!(o, "\n[{name}]");
}

fn line(o: &mut String, key: &str, value: &str) {
    let value = if value.is_empty() { "unknown" } else { value };
    let _ = writeln!(o, "  {key:<22} {value}");
}

fn evidence(o: &mut String, list: &[pb::Evidence]) {
    for e in list {
        let _ = writeln!(
            o,
            "    evidence {} = {}",
            e.source,
            e.value.replace('\n', "\\n")
        );
    }
}

fn num(v: Option<u32>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
}

fn dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

fn time(t: &Option<pbjson_types::Timestamp>) -> String {
    t.as_ref()
        .map(|t| rfc3339(t.seconds))
        .unwrap_or_else(|| "never seen".into())
}
