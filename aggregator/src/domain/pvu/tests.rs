//! Table-driven tests of the PVU table, sub-capacity, full capacity and exposure.

use subcap_proto::vocab::Technology as T;

use super::*;
use crate::domain::model::{PowerLpar, S390};
use crate::domain::testkit::{host, table, virtual_host, vm_computer};

fn cpu(
    vendor: &'static str,
    brand_string: &'static str,
    os: &'static str,
    sockets: Option<u32>,
) -> ProcessorId<'static> {
    ProcessorId {
        vendor,
        brand_string,
        os,
        sockets,
        sockets_from: "test",
        ..ProcessorId::default()
    }
}

#[test]
fn the_table_answers_per_processor() {
    let t = table();
    let gold = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz";
    let power10 = "POWER10 (architected), altivec supported";
    let server = |model: &'static str| ProcessorId {
        server_model: model,
        ..cpu("IBM", power10, "aix", None)
    };
    let s390 = ProcessorId {
        architecture: "s390x",
        ..cpu("IBM/S390", "IBM z16", "linux", None)
    };
    // (case, processor, PVU, deciding entry (part of its name), unidentified, uncertain)
    let cases: Vec<(&str, ProcessorId, u32, &str, bool, bool)> = vec![
        (
            "POWER running Linux",
            cpu("IBM", power10, "linux", Some(8)),
            70,
            "POWER cores running Linux",
            false,
            false,
        ),
        (
            "POWER E1080 (AIX)",
            server("IBM,9080-HEX E1080"),
            120,
            "more than 4 sockets (E1180",
            false,
            false,
        ),
        (
            "POWER E1050 (AIX)",
            server("Power E1050"),
            100,
            "mid-range",
            false,
            false,
        ),
        (
            "POWER 2 sockets (AIX)",
            cpu("IBM", power10, "aix", Some(2)),
            70,
            "scale-out",
            false,
            false,
        ),
        (
            "POWER 8 sockets (AIX)",
            cpu("IBM", power10, "aix", Some(8)),
            120,
            "POWER, more than 4 sockets",
            false,
            false,
        ),
        (
            "POWER 4 sockets (AIX) is inferred",
            cpu("IBM", power10, "aix", Some(4)),
            100,
            "POWER, 3 or 4 sockets",
            false,
            true,
        ),
        (
            "POWER, sockets unknown: highest candidate",
            cpu("IBM", power10, "aix", None),
            120,
            "POWER, more than 4 sockets",
            false,
            true,
        ),
        (
            "Xeon X5670 needs no sockets",
            cpu(
                "GenuineIntel",
                "Intel(R) Xeon(R) CPU X5670 @ 2.93GHz",
                "linux",
                None,
            ),
            70,
            "5500-5699",
            false,
            false,
        ),
        (
            "Xeon W5590",
            cpu(
                "GenuineIntel",
                "Intel(R) Xeon(R) CPU W5590 @ 3.33GHz",
                "linux",
                Some(2),
            ),
            70,
            "5500-5699",
            false,
            false,
        ),
        (
            "Xeon Gold 5520+ is not the 5500 class",
            cpu(
                "GenuineIntel",
                "INTEL(R) XEON(R) GOLD 5520+",
                "linux",
                Some(2),
            ),
            70,
            "x86, up to 2 sockets",
            false,
            true,
        ),
        (
            "Xeon E5-2690 v4 is not the 5500 class",
            cpu(
                "GenuineIntel",
                "Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz",
                "linux",
                Some(4),
            ),
            100,
            "x86, 3 or 4 sockets",
            false,
            true,
        ),
        (
            "Xeon 8 sockets",
            cpu("GenuineIntel", gold, "linux", Some(8)),
            120,
            "Intel Xeon, more than 4 sockets",
            false,
            false,
        ),
        (
            "Xeon 2 sockets (x86 rule)",
            cpu("GenuineIntel", gold, "linux", Some(2)),
            70,
            "x86, up to 2 sockets",
            false,
            true,
        ),
        (
            "EPYC 4 sockets (x86 rule)",
            cpu(
                "AuthenticAMD",
                "AMD EPYC 7763 64-Core Processor",
                "linux",
                Some(4),
            ),
            100,
            "x86, 3 or 4 sockets",
            false,
            true,
        ),
        (
            "EPYC 1 socket",
            cpu(
                "AuthenticAMD",
                "AMD EPYC 7763 64-Core Processor",
                "linux",
                Some(1),
            ),
            70,
            "x86, up to 2 sockets",
            false,
            true,
        ),
        (
            "Xeon in a VM, sockets unknown",
            cpu("GenuineIntel", gold, "linux", None),
            120,
            "more than 4 sockets",
            false,
            true,
        ),
        (
            "ILMT's words for a Xeon",
            cpu("Intel", "Xeon", "", Some(8)),
            120,
            "Intel Xeon, more than 4 sockets",
            false,
            false,
        ),
        ("IBM Z", s390, 120, "IBM Z engine", false, true),
        (
            "ARM is not in the table",
            cpu("ARM", "Neoverse-N1", "linux", Some(1)),
            120,
            "",
            true,
            false,
        ),
        (
            "nothing reported",
            ProcessorId::default(),
            120,
            "",
            true,
            false,
        ),
    ];
    for (name, p, pvu, entry, unidentified, uncertain) in cases {
        let got = t.lookup(&p);
        assert_eq!(got.pvu_per_core, pvu, "{name}: {}", got.how);
        assert_eq!(got.unidentified, unidentified, "{name}: {}", got.how);
        assert_eq!(got.uncertain, uncertain, "{name}: {}", got.how);
        match got.entry {
            Some(e) => assert!(e.contains(entry), "{name}: entry {e:?}"),
            None => assert!(entry.is_empty(), "{name}: no entry"),
        }
        assert!(
            got.how.starts_with(&format!("{pvu} PVU/core")),
            "{name}: {}",
            got.how
        );
        assert!(got.how.contains(&t.version), "{name}: {}", got.how);
    }
}

#[test]
fn lookups_say_which_source_decided() {
    let t = table();
    let got = t.lookup(&cpu(
        "GenuineIntel",
        "Intel(R) Xeon(R) Gold 6248",
        "linux",
        Some(2),
    ));
    assert!(got.how.contains("(uncertain)"), "{}", got.how);
    assert!(got.how.contains("2 sockets (test)"), "{}", got.how);
    let got = t.lookup(&cpu("ARM", "Neoverse-N1", "linux", None));
    assert!(
        got.how.contains("unidentified processor 120"),
        "{}",
        got.how
    );
    assert!(got.how.contains("\"Neoverse-N1\""), "{}", got.how);
}

#[test]
fn bad_tables_are_refused_with_file_line_and_field() {
    let base = BUILTIN_TOML;
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    let cases: Vec<(&str, String, &str, Option<&str>, &str)> = vec![
        (
            "zero PVU",
            base.replacen(
                "pvu_per_core = 70\nsource = \"design\"\ntext = \"scale-out",
                "pvu_per_core = 0\nsource = \"design\"\ntext = \"scale-out",
                1,
            ),
            "pvu_per_core = 0",
            Some("entry[4].pvu_per_core"),
            "outside 1..=10000",
        ),
        (
            "unknown source",
            base.replacen("source = \"ibm-z10-2008\"", "source = \"forum\"", 1),
            "source = \"forum\"",
            Some("entry[6].source"),
            "unknown source \"forum\"",
        ),
        (
            "misspelt key",
            base.replacen("sockets_max = 2\n", "socket_max = 2\n", 1),
            "socket_max = 2",
            None,
            "unknown field `socket_max`",
        ),
        (
            "not a number",
            base.replacen(
                "[unidentified]\npvu_per_core = 120",
                "[unidentified]\npvu_per_core = \"120\"",
                1,
            ),
            "pvu_per_core = \"120\"",
            None,
            "invalid type",
        ),
    ];
    for (name, text, needle, field, problem) in cases {
        assert_ne!(text, base, "{name}: the case did not change the file");
        let e = match PvuTable::parse("site-pvu.toml", &text) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        assert_eq!(e.file, "site-pvu.toml");
        assert!(e.problem.contains(problem), "{name}: {e}");
        assert_eq!(e.field.as_deref(), field, "{name}: {e}");
        assert_eq!(e.line, line_of(&text, needle), "{name}: {e}");
    }
}

#[test]
fn an_entry_without_conditions_is_refused() {
    let text = format!(
        "{BUILTIN_TOML}\n[[entry]]\nname = \"everything\"\npvu_per_core = 10\nsource = \"subcap\"\ntext = \"x\"\n"
    );
    let e = PvuTable::parse("t.toml", &text).err();
    let e = e.unwrap_or_else(|| panic!("accepted"));
    assert!(e.problem.contains("has no condition"), "{e}");
    assert_eq!(e.field.as_deref(), Some("entry[12]"));
    let header = text.lines().count() - 4;
    assert_eq!(e.line, Some(header), "{e}");
}

fn power_lpar(
    sharing: Sharing,
    capped: Option<bool>,
    ent: u32,
    vp: u32,
    pool_centi: Option<u32>,
    system: u32,
) -> AgentHost {
    let t = if sharing == Sharing::Shared {
        T::PowervmLparShared
    } else {
        T::PowervmLparDedicated
    };
    let mut h = virtual_host("lnxapp01.bank.example", &[t], vp * 8);
    h.architecture = "ppc64le".into();
    h.topology.vendor = "IBM".into();
    h.topology.model_name = "POWER9 (architected), altivec supported".into();
    h.topology.threads_per_core = Some(8);
    h.topology.cores = Some(vp);
    h.topology.power = Some(PowerLpar {
        entitled_capacity_centi: Some(ent),
        virtual_processors: Some(vp),
        sharing: Some(sharing),
        capped,
        pool_capacity_centi: pool_centi,
        system_active_processors: Some(system),
        partition_name: "lnxapp01".into(),
    });
    h
}

fn z_host(layers: &[T], guest: Option<u32>, lpar: u32) -> AgentHost {
    let mut h = virtual_host("zlinux01.zbank.example", layers, guest.unwrap_or(lpar));
    h.architecture = "s390x".into();
    h.topology.vendor = "IBM/S390".into();
    h.topology.model_name = "IBM z15".into();
    h.topology.s390 = Some(S390 {
        machine_type: "8561".into(),
        cpus_total: Some(34),
        lpar_name: "ZLPAR01".into(),
        lpar_cpus_total: Some(lpar),
        lpar_cpus_dedicated: Some(0),
        lpar_cpus_shared: Some(lpar),
        guest_cpus_total: guest,
        control_program: "z/VM 7.3.0".into(),
    });
    h
}

#[test]
fn sub_capacity_is_what_the_host_is_allocated() {
    let mut vm_ht = virtual_host("app01.bank.example", &[T::Vmware], 8);
    vm_ht.topology.cores = None;
    vm_ht.topology.threads_per_core = Some(2);
    let mut docker = virtual_host("c1", &[T::Vmware, T::Docker], 4);
    docker.topology.container_quota_cpus = Some(1.5);
    let mut no_topology = host("x.bank.example");
    no_topology.topology = Topology::default();
    let mut odd_lpar = power_lpar(Sharing::Shared, Some(false), 100, 24, None, 20);
    odd_lpar.topology.cores = Some(24);
    // (case, host, cores, part of the explanation)
    let cases: Vec<(&str, AgentHost, Option<f64>, &str)> = vec![
        ("bare metal: every active core", host("db01.bank.example"), Some(32.0), "bare metal: every active core, 32 cores (64 logical CPUs, 2 threads per core)"),
        ("VM: vCPUs over threads per core", vm_ht, Some(4.0), "vmware VM: 8 logical CPUs / 2 threads per core = 4 cores"),
        ("POWER shared uncapped: VPs within the pool", power_lpar(Sharing::Shared, Some(false), 50, 2, Some(1600), 20), Some(2.0), "2 virtual processors (within the shared pool of 16 cores)"),
        ("POWER shared uncapped: the pool limits", power_lpar(Sharing::Shared, Some(false), 50, 8, Some(400), 20), Some(4.0), "8 virtual processors, limited to the shared pool of 4 cores"),
        ("POWER shared uncapped, pool unknown: the system limits", odd_lpar, Some(20.0), "limited to the pool size unknown, the system's 20 active cores"),
        ("POWER shared capped: entitlement rounded up", power_lpar(Sharing::Shared, Some(true), 50, 2, Some(1600), 20), Some(1.0), "entitled capacity 0.5 rounded up to 1 cores"),
        ("POWER shared capped 3.5", power_lpar(Sharing::Shared, Some(true), 350, 6, Some(1600), 20), Some(4.0), "entitled capacity 3.5 rounded up to 4 cores"),
        ("POWER shared, capped unknown: the larger rule", power_lpar(Sharing::Shared, None, 50, 2, Some(1600), 20), Some(2.0), "counted as uncapped"),
        ("POWER dedicated", power_lpar(Sharing::Dedicated, Some(true), 400, 4, None, 40), Some(4.0), "4 dedicated cores (partition_active_processors)"),
        ("IBM Z LPAR: its IFLs", z_host(&[T::ZLpar], None, 6), Some(6.0), "LPAR ZLPAR01: 6 IFLs defined (0 dedicated, 6 shared)"),
        ("z/VM guest: its virtual CPUs", z_host(&[T::ZLpar, T::Zvm], Some(2), 8), Some(2.0), "z/VM guest: 2 virtual CPUs (LPAR ZLPAR01 has 8) = 2 IFLs"),
        ("z/VM guest: at most the LPAR's", z_host(&[T::ZLpar, T::Zvm], Some(12), 8), Some(8.0), "limited to the 8 of LPAR ZLPAR01"),
        ("container: the machine, not the quota", docker, Some(4.0), "container: counted as the machine it runs on (its CPU quota of 1.5 CPUs does not count); vmware VM: 4 cores"),
        ("nothing reported", no_topology, None, ""),
    ];
    for (name, h, cores, how) in cases {
        let got = sub_capacity(&h);
        assert_eq!(got.as_ref().map(|c| c.cores), cores, "{name}: {got:?}");
        if let Some(c) = got {
            assert!(c.how.contains(how), "{name}: {}", c.how);
        }
    }
}

#[test]
fn full_capacity_is_every_core_of_the_host_or_pool() {
    let vm = virtual_host("app01.bank.example", &[T::Vmware], 4);
    let on_server = vm_computer(1, "app01.bank.example", 4.0, 32.0);
    let mut in_cluster = on_server.clone();
    in_cluster.cluster_name = Some("PROD-A".into());
    in_cluster.cluster_cores_count = Some(96.0);
    let mut by_default = on_server.clone();
    by_default.server_name = Some("TLM_VM_421c5f2b".into());
    let mut silent = on_server.clone();
    silent.server_cores = None;
    // (case, host, ILMT record, Some(cores) when known / None, part of the explanation, lower bound)
    let four = Some(4.0);
    type Row = (
        &'static str,
        Option<AgentHost>,
        Option<IlmtComputer>,
        Option<f64>,
        &'static str,
        Option<f64>,
    );
    let cases: Vec<Row> = vec![
        ("bare metal: the agent counts", Some(host("db01.bank.example")), None, Some(32.0), "bare metal: every active core", None),
        ("VM: ILMT's physical server", Some(vm.clone()), Some(on_server.clone()), Some(32.0), "ILMT: physical server esx1.bank.example has 32 cores (server_cores)", None),
        ("VM in a cluster: the pool", Some(vm.clone()), Some(in_cluster), Some(96.0), "ILMT: cluster PROD-A pool of 96 cores", None),
        ("VM counted by default: ILMT's server is not the host", Some(vm.clone()), Some(by_default), None, "default capacity (no VM manager data)", four),
        ("VM, ILMT without server cores", Some(vm.clone()), Some(silent), None, "neither cluster_cores_count nor server_cores", four),
        ("VM without ILMT record", Some(vm.clone()), None, None, "host capacity unknown: the agent cannot see the physical host, and no ILMT record gives it", four),
        ("POWER LPAR: the managed system", Some(power_lpar(Sharing::Shared, Some(false), 50, 2, Some(1600), 20)), None, Some(20.0), "20 active cores (lparcfg system_active_processors)", None),
        ("z/VM guest: at least its LPAR", Some(z_host(&[T::ZLpar, T::Zvm], Some(2), 8)), None, None, "host capacity unknown", Some(8.0)),
        ("ILMT record alone", None, Some(on_server), Some(32.0), "server_cores", None),
    ];
    for (name, h, r, cores, how, lower) in cases {
        let sub = h.as_ref().and_then(sub_capacity);
        match full_capacity(h.as_ref(), r.as_ref(), sub.as_ref()) {
            Full::Known(c) => {
                assert_eq!(Some(c.cores), cores, "{name}: {}", c.how);
                assert!(c.how.contains(how), "{name}: {}", c.how);
            }
            Full::Unknown { lower_bound, why } => {
                assert_eq!(cores, None, "{name}: unknown: {why}");
                assert!(why.contains(how), "{name}: {why}");
                assert_eq!(lower_bound.map(|l| l.cores), lower, "{name}");
            }
        }
    }
}

#[test]
fn worked_example_4_of_32_cores_at_120_pvu() {
    // DESIGN.md: "4 of 32 cores at 120 PVU = 480 vs 3,840 PVU".
    let vm = virtual_host("app01.bank.example", &[T::Vmware], 4);
    let mut r = vm_computer(1, "app01.bank.example", 4.0, 32.0);
    r.node_total_processors = Some(8.0);
    let e = exposure(Some(&vm), Some(&r), &table());
    assert_eq!(e.rate.pvu_per_core, 120.0, "{}", e.rate.how);
    assert!(!e.rate.uncertain, "{}", e.rate.how);
    assert!(
        e.rate.how.contains(
            "8 sockets (active sockets of the physical server, ILMT node_total_processors)"
        ),
        "{}",
        e.rate.how
    );
    let sub = e
        .sub_capacity
        .clone()
        .unwrap_or_else(|| panic!("no sub-capacity"));
    assert_eq!((sub.cores, sub.pvu), (4.0, 480.0));
    assert!(
        sub.how.ends_with("4 cores x 120 PVU = 480 PVU"),
        "{}",
        sub.how
    );
    match &e.full_capacity {
        FullCapacity::Known(f) => {
            assert_eq!((f.cores, f.pvu), (32.0, 3840.0));
            assert!(
                f.how.ends_with("32 cores x 120 PVU = 3840 PVU"),
                "{}",
                f.how
            );
        }
        other => panic!("full capacity: {other:?}"),
    }
    assert_eq!(e.exposed_pvu, Some(3360.0));
    assert_eq!(
        e.summary,
        "4 of 32 cores at 120 PVU/core: 480 vs 3840 PVU, 3360 PVU exposed"
    );
}

#[test]
fn power_shared_uncapped_lpar_exposure() {
    // The powervm-shared-lpar fixture's numbers: 0.5 entitlement, 2 VPs, 16-core pool, 20-core E980.
    let h = power_lpar(Sharing::Shared, Some(false), 50, 2, Some(1600), 20);
    let e = exposure(Some(&h), None, &table());
    assert_eq!(e.rate.pvu_per_core, 70.0, "{}", e.rate.how);
    assert!(
        e.rate.how.contains("POWER cores running Linux"),
        "{}",
        e.rate.how
    );
    assert_eq!(e.sub_capacity.as_ref().map(|s| s.pvu), Some(140.0));
    assert_eq!(e.exposed_pvu, Some(1260.0), "{}", e.summary);
}

#[test]
fn capacity_unknown_says_so_with_a_lower_bound() {
    let vm = virtual_host("devbox.lab.bank.example", &[T::Virtualbox], 2);
    let e = exposure(Some(&vm), None, &table());
    assert_eq!(e.exposed_pvu, None);
    match &e.full_capacity {
        FullCapacity::Unknown {
            lower_bound: Some(lb),
            why,
        } => {
            assert!(why.starts_with("host capacity unknown"), "{why}");
            assert_eq!((lb.cores, lb.pvu), (2.0, 240.0));
            assert!(
                lb.how.starts_with("at least the 2 sub-capacity cores"),
                "{}",
                lb.how
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.summary.starts_with("host capacity unknown: the agent cannot see the physical host, and no ILMT record gives it: full capacity at least 2 cores = 240 PVU"),
        "{}",
        e.summary
    );
}

#[test]
fn a_value_set_by_hand_in_ilmt_wins() {
    let vm = virtual_host("app01.bank.example", &[T::Vmware], 4);
    let mut r = vm_computer(1, "app01.bank.example", 4.0, 32.0);
    r.custom_pvu_per_core = Some(true);
    r.pvu_per_core = Some(50.0);
    let e = exposure(Some(&vm), Some(&r), &table());
    assert_eq!(e.rate.pvu_per_core, 50.0);
    assert!(e.rate.how.contains("set by hand in ILMT"), "{}", e.rate.how);
    assert_eq!(e.exposed_pvu, Some(28.0 * 50.0));
    // Without the flag ILMT's value is only reported beside the table's.
    r.custom_pvu_per_core = Some(false);
    let e = exposure(Some(&vm), Some(&r), &table());
    assert_eq!(e.rate.pvu_per_core, 120.0);
    assert!(
        e.rate
            .how
            .ends_with("ILMT uses 50 PVU/core for this server"),
        "{}",
        e.rate.how
    );
}

#[test]
fn sub_capacity_never_exceeds_full_capacity() {
    let vm = virtual_host("big.bank.example", &[T::Vmware], 48);
    let r = vm_computer(1, "big.bank.example", 48.0, 32.0);
    let e = exposure(Some(&vm), Some(&r), &table());
    let sub = e.sub_capacity.unwrap_or_else(|| panic!("no sub"));
    assert_eq!(sub.cores, 32.0);
    assert!(
        sub.how.contains("capped at the full capacity of 32 cores"),
        "{}",
        sub.how
    );
    assert_eq!(e.exposed_pvu, Some(0.0));
}

#[test]
fn an_ilmt_record_alone_has_an_exposure_too() {
    let r = vm_computer(7, "gone.bank.example", 4.0, 16.0);
    let e = exposure(None, Some(&r), &table());
    assert_eq!(e.sub_capacity.map(|s| s.cores), Some(4.0));
    assert_eq!(e.exposed_pvu, Some(12.0 * 120.0));
}
