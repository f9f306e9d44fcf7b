//! How long `reconcile` takes for 10k, 100k and 1M agent hosts against as many ILMT computers.
//!
//! Run: `cargo bench -p subcap-aggregator --bench reconcile` (optionally followed by `-- 10000
//! 100000` to pick the sizes). Prints, per size, the time of one reconciliation, the time per
//! host (wall clock and CPU time), and the load average (other builds skew the wall clock). The
//! target: 100k hosts in under a second, cost linear in the size. No assertion: a measurement.
//!
//! The estate is generated: 70% VMware VMs, 10% bare metal, 10% POWER LPARs, 5% Docker in VMware,
//! 5% VirtualBox VMs; half run IBM software; 90% have an ILMT computer matched by BigFix id (60%),
//! UUID in `TLM_VM_` (10%), FQDN (10%) or hostname (10%); 1% have a second (duplicate) record, 2%
//! a stale one; 10% more ILMT computers have no agent (ghosts).

use std::hint::black_box;
use std::time::Instant;

use subcap_aggregator::domain::model::{
    CivilDate, IbmInstall, IlmtAgent, PowerLpar, Sharing, Topology, UtcTime, VirtLayer,
    Virtualization,
};
use subcap_aggregator::domain::{reconcile, AgentHost, Policy, PvuTable, Thresholds};
use subcap_aggregator::ilmt::{ComputerType, HardwareStatus, IlmtComputer};
use subcap_proto::vocab::{Cloud, Signature, Technology, VirtKind};

fn uuid_of(i: usize) -> String {
    format!(
        "{:08x}-7e3a-9d41-{:04x}-{:012x}",
        0x4200_0000 + i,
        i % 0xffff,
        i * 7919
    )
}

fn raw_uuid_of(i: usize) -> String {
    // The raw (BIOS) order of uuid_of(i): the first three fields byte-swapped, no dashes.
    let k = uuid_of(i).replace('-', "");
    let b = |from: usize, to: usize| k.get(from..to).unwrap_or_default().to_string();
    let swap = |s: String| {
        let bytes: Vec<String> = (0..s.len())
            .step_by(2)
            .map(|j| s.get(j..j + 2).unwrap_or_default().to_string())
            .collect();
        bytes.into_iter().rev().collect::<String>()
    };
    format!(
        "{}{}{}{}",
        swap(b(0, 8)),
        swap(b(8, 12)),
        swap(b(12, 16)),
        b(16, 32)
    )
}

fn agent(i: usize, at: UtcTime) -> AgentHost {
    let (layers, kind): (Vec<Technology>, Option<VirtKind>) = match i % 20 {
        0 | 1 => (vec![], Some(VirtKind::BareMetal)),
        2 | 3 => (
            vec![Technology::PowervmLparShared],
            Some(VirtKind::Partition),
        ),
        4 => (
            vec![Technology::Vmware, Technology::Docker],
            Some(VirtKind::Container),
        ),
        5 => (vec![Technology::Virtualbox], Some(VirtKind::VirtualMachine)),
        _ => (vec![Technology::Vmware], Some(VirtKind::VirtualMachine)),
    };
    let power = layers.first() == Some(&Technology::PowervmLparShared);
    AgentHost {
        host_key: format!("h{i}.dc{}.bank.example", i % 50),
        hostname: format!("h{i}"),
        fqdn: format!("h{i}.dc{}.bank.example", i % 50),
        machine_id: format!("{i:032x}"),
        product_uuid: if power { String::new() } else { uuid_of(i) },
        product_serial: String::new(),
        ip_addresses: vec![format!(
            "10.{}.{}.{}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        )],
        bigfix_computer_id: if i % 10 < 7 {
            (1_000_000 + i).to_string()
        } else {
            String::new()
        },
        architecture: if power { "ppc64le" } else { "x86_64" }.into(),
        os_name: "Red Hat Enterprise Linux".into(),
        os_family: "linux".into(),
        topology: Topology {
            logical_cpus: Some(if power { 16 } else { 8 }),
            sockets: Some(2),
            cores: Some(if power { 2 } else { 4 }),
            threads_per_core: Some(if power { 8 } else { 2 }),
            vendor: if power { "IBM" } else { "GenuineIntel" }.into(),
            model_name: if power {
                "POWER9 (architected), altivec supported"
            } else {
                "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
            }
            .into(),
            power: power.then(|| PowerLpar {
                entitled_capacity_centi: Some(50),
                virtual_processors: Some(2),
                sharing: Some(Sharing::Shared),
                capped: Some(false),
                pool_capacity_centi: Some(1600),
                system_active_processors: Some(20),
                partition_name: format!("lpar{i}"),
            }),
            ..Topology::default()
        },
        virtualization: Virtualization {
            kind,
            technology: layers.last().copied(),
            cloud: Some(Cloud::None),
            layers: layers
                .iter()
                .map(|t| VirtLayer {
                    kind: t.kind(),
                    technology: *t,
                })
                .collect(),
        },
        ibm_installs: if i.is_multiple_of(2) {
            vec![IbmInstall {
                product: "IBM MQ".into(),
                version: "9.3.0.0".into(),
                signature: Signature::SwidTag,
                publisher: "IBM".into(),
            }]
        } else {
            Vec::new()
        },
        ilmt_agent: IlmtAgent {
            bigfix_installed: true,
            bigfix_running: !i.is_multiple_of(33),
            last_software_scan: Some(at),
            last_capacity_scan: Some(at),
            last_upload: Some(at),
            ..IlmtAgent::default()
        },
        last_report: at,
        first_ibm_seen: CivilDate::new(2026, 9, 1),
    }
}

fn records(n: usize, fresh: UtcTime, old: UtcTime) -> Vec<IlmtComputer> {
    let mut out = Vec::with_capacity(n + n / 10 + n / 50);
    for i in 0..n {
        if i % 10 == 9 {
            continue; // No ILMT record: UNCOVERED when it runs IBM software.
        }
        let mut r = IlmtComputer {
            source_row: out.len(),
            id: Some(i64::try_from(i).unwrap_or(i64::MAX)),
            computer_type: Some(ComputerType::Virtual),
            status: Some(HardwareStatus::Ok),
            partition_cores: Some(4.0),
            server_cores: Some(64.0),
            node_total_processors: Some(2.0),
            server_id: Some(i64::try_from(i / 20).unwrap_or(0)),
            server_name: Some(format!("esx{}.bank.example", i / 20)),
            last_seen: Some(if i % 50 == 7 { old } else { fresh }),
            is_deleted: Some(false),
            ..IlmtComputer::default()
        };
        match i % 10 {
            0..=5 => r.bigfix_id = Some(i64::try_from(1_000_000 + i).unwrap_or(0)),
            6 => r.server_name = Some(format!("TLM_VM_{}", raw_uuid_of(i))),
            7 => r.dns_name = Some(format!("h{i}.dc{}.bank.example", i % 50)),
            _ => r.name = Some(format!("H{i}")),
        }
        if r.name.is_none() {
            r.name = Some(format!("h{i}"));
        }
        out.push(r);
        if i % 100 == 3 {
            // A second record for the same host (re-registered): DUPLICATE.
            out.push(IlmtComputer {
                source_row: out.len(),
                id: Some(i64::try_from(10 * n + i).unwrap_or(i64::MAX)),
                bigfix_id: None,
                name: Some(format!("h{i}")),
                dns_name: Some(format!("h{i}.dc{}.bank.example", i % 50)),
                last_seen: Some(old),
                ..IlmtComputer::default()
            });
        }
    }
    for g in 0..n / 10 {
        out.push(IlmtComputer {
            source_row: out.len(),
            id: Some(i64::try_from(20 * n + g).unwrap_or(i64::MAX)),
            name: Some(format!("ghost{g}")),
            dns_name: Some(format!("ghost{g}.bank.example")),
            ip_addresses: vec![format!("172.16.{}.{}", (g >> 8) & 255, g & 255)],
            last_seen: Some(old),
            partition_cores: Some(2.0),
            ..IlmtComputer::default()
        });
    }
    out
}

/// CPU time (user + system) this process has used, in seconds, from `/proc/self/stat` (clock
/// ticks, 100 per second on Linux): unlike the wall clock it does not grow when other processes
/// share the cores. 10 ms resolution.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    let (Ok(policy), Ok(table)) = (Policy::builtin(), PvuTable::builtin()) else {
        eprintln!("the embedded policy or PVU table does not parse");
        std::process::exit(1);
    };
    let Some(now) = CivilDate::new(2026, 11, 30) else {
        return;
    };
    let fresh = CivilDate::new(2026, 11, 29).and_then(|d| UtcTime::from_parts(d, 6, 0, 0));
    let old = CivilDate::new(2026, 8, 1).and_then(|d| UtcTime::from_parts(d, 6, 0, 0));
    let (Some(fresh), Some(old)) = (fresh, old) else {
        return;
    };
    let thresholds = Thresholds::default();
    println!(
        "reconcile benchmark (load average before: {})",
        load_average()
    );
    println!(
        "{:>10} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "agents", "ilmt", "findings", "wall", "per host", "cpu", "per host"
    );
    for n in sizes {
        let agents: Vec<AgentHost> = (0..n).map(|i| agent(i, fresh)).collect();
        let ilmt = records(n, fresh, old);
        let load = load_average();
        let cpu_start = cpu_seconds();
        let start = Instant::now();
        let r = reconcile(
            black_box(&agents),
            black_box(&ilmt),
            &policy,
            &table,
            &thresholds,
            now,
        );
        let took = start.elapsed();
        let cpu = cpu_start.zip(cpu_seconds()).map(|(a, b)| b - a);
        let findings = r.findings.len();
        // Dropping the answer is not part of the reconciliation.
        drop(black_box(r));
        let (cpu, cpu_per_host) = match cpu {
            Some(c) => (format!("{c:.2} s"), format!("{:.2} µs", c * 1e6 / n as f64)),
            None => ("?".to_string(), "?".to_string()),
        };
        println!(
            "{:>10} {:>10} {:>10} {:>10.3} s {:>9.2} µs {:>12} {:>12}   (load {load})",
            n,
            ilmt.len(),
            findings,
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / n as f64,
            cpu,
            cpu_per_host
        );
    }
}
