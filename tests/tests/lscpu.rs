//! The topology collector agrees with util-linux `lscpu` on every host fixture and on the live
//! root: CPU count, online list, sockets, cores per socket, threads per core, cores, books,
//! drawers, NUMA nodes and the processor identity. lscpu is run for real (`lscpu --sysroot DIR`);
//! it must be installed (util-linux), the test fails otherwise.
//!
//! Where lscpu's numbers mean something else on purpose, this test follows lscpu and says so:
//! - "CPU(s)" is the number of *present* CPUs (`sys/devices/system/cpu/present`).
//! - Sockets are distinct `core_siblings` sets, not package ids: on a POWER LPAR
//!   (`physical_package_id` = -1) that is one "socket" per NUMA node.
//! - With s390 books, lscpu prints no "Socket(s)" line; sockets are then compared with the
//!   distinct SOCKET numbers of `lscpu -p`. Its "Core(s) per socket" there comes from the
//!   `CPU Topology SW:` line of `/proc/sysinfo` (the machine's nesting), and so does the agent's.
//! - On aarch64 without an ACPI PPTT table lscpu says "Cluster(s)" and "Core(s) per cluster"
//!   for what it counts exactly as sockets.
//! - Without any sysfs topology lscpu prints 0 threads, cores and sockets; the agent reports
//!   unknown, or counts from the cpuinfo ids with a warning (never a made-up zero).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use subcap_agent::collect::topology::{self, cpulist};
use subcap_agent::collect::Warnings;
use subcap_agent::root::Root;
use subcap_proto::v1 as pb;
use subcap_tests::{fixtures_dir, host_fixture};

/// The platforms whose topology files this crate's fixtures provide.
const PLATFORMS: [&str; 21] = [
    "baremetal-x86-2socket",
    "vmware-vm",
    "hyperv-onprem",
    "azure-vm",
    "aws-nitro-vm",
    "aws-metal",
    "gcp-vm",
    "openstack-kvm",
    "qemu-tcg",
    "virtualbox",
    "xen-pv",
    "xen-dom0",
    "powervm-shared-lpar",
    "powervm-dedicated-lpar",
    "zvm-guest",
    "s390-lpar",
    "docker-in-vmware",
    "podman",
    "lxc",
    "wsl",
    "aws-graviton-vm",
];

/// What lscpu said about one root.
struct Lscpu {
    /// Summary fields ("Socket(s):" -> "2").
    summary: HashMap<String, String>,
    /// `lscpu -p=CPU,CORE,SOCKET,BOOK,DRAWER`: one row per online CPU, empty cells as "".
    rows: Vec<[String; 5]>,
}

impl Lscpu {
    fn field(&self, name: &str) -> Option<&str> {
        self.summary.get(name).map(String::as_str)
    }

    fn number(&self, name: &str) -> Option<u32> {
        self.field(name).map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("lscpu {name} {v:?} is not a number"))
        })
    }

    /// Distinct non-empty values of column `col` of the parsable output.
    fn distinct(&self, col: usize) -> Option<u32> {
        let set: BTreeSet<&str> = self
            .rows
            .iter()
            .filter_map(|r| r.get(col).map(String::as_str))
            .filter(|v| !v.is_empty())
            .collect();
        (!set.is_empty()).then_some(set.len() as u32)
    }
}

fn run_lscpu(args: &[&str]) -> String {
    let out = Command::new("lscpu")
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run lscpu ({e}): this test compares the topology collector with \
                 util-linux lscpu, install util-linux (apt-get install util-linux)"
            )
        });
    assert!(
        out.status.success(),
        "lscpu {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("lscpu output is UTF-8")
}

fn lscpu(root: &Path) -> Lscpu {
    let root_s = root.to_str().expect("fixture path is UTF-8");
    let live = root == Path::new("/");
    let mut json_args = vec!["-J"];
    let mut p_args = vec!["-p=CPU,CORE,SOCKET,BOOK,DRAWER"];
    if !live {
        json_args.extend(["--sysroot", root_s]);
        p_args.extend(["--sysroot", root_s]);
    }
    let json: serde_json::Value =
        serde_json::from_str(&run_lscpu(&json_args)).expect("lscpu -J prints JSON");
    let mut summary = HashMap::new();
    collect_fields(&json["lscpu"], &mut summary);
    assert!(!summary.is_empty(), "lscpu -J printed no fields: {json}");
    let rows = run_lscpu(&p_args)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut cells = l.split(',').map(str::to_string);
            std::array::from_fn(|_| cells.next().unwrap_or_default())
        })
        .collect();
    Lscpu { summary, rows }
}

/// Flattens lscpu's JSON: `[{"field": "CPU(s):", "data": "4", "children": [...]}, ...]` (newer
/// versions nest sections under "children").
fn collect_fields(v: &serde_json::Value, out: &mut HashMap<String, String>) {
    let Some(items) = v.as_array() else {
        return;
    };
    for item in items {
        if let (Some(f), Some(d)) = (item["field"].as_str(), item["data"].as_str()) {
            out.entry(f.to_string()).or_insert_with(|| d.to_string());
        }
        collect_fields(&item["children"], out);
    }
}

fn agent(root: &Path) -> (pb::Topology, Vec<pb::Warning>) {
    let mut w = Warnings::new("topology");
    let t = topology::collect(&Root::new(root), &mut w);
    (t, w.into_vec())
}

/// Checks one count: equal to lscpu's, except that lscpu's 0 ("could not tell") must be unknown
/// here, or counted from cpuinfo when the agent said so.
fn check(name: &str, what: &str, lscpu: Option<u32>, ours: Option<u32>, from_cpuinfo: bool) {
    match lscpu {
        Some(0) => assert!(
            ours.is_none() || from_cpuinfo,
            "{name}: lscpu has no {what} (0) but the agent says {ours:?} without a cpuinfo count"
        ),
        _ => assert_eq!(ours, lscpu, "{name}: {what} (agent vs lscpu)"),
    }
}

fn compare(name: &str, root: &Path) -> (pb::Topology, Vec<pb::Warning>) {
    let l = lscpu(root);
    let (t, warnings) = agent(root);
    let from_cpuinfo = warnings
        .iter()
        .any(|w| w.message.contains("counted from the physical id"));

    assert_eq!(t.present_cpus, l.number("CPU(s):"), "{name}: CPU(s)");
    let online = |s: &str| cpulist::parse_cpu_list(s).expect("a CPU list");
    assert_eq!(
        online(&t.online_cpu_list),
        online(l.field("On-line CPU(s) list:").expect("lscpu online list")),
        "{name}: online CPUs"
    );
    assert_eq!(t.online_cpus, Some(online(&t.online_cpu_list).count()));

    check(
        name,
        "threads per core",
        l.number("Thread(s) per core:"),
        t.threads_per_core,
        from_cpuinfo,
    );
    let cores_per = l
        .number("Core(s) per socket:")
        .or_else(|| l.number("Core(s) per cluster:"));
    check(
        name,
        "cores per socket",
        cores_per,
        t.cores_per_socket,
        from_cpuinfo,
    );

    // "Socket(s):" when there are no books ("-" on arm64 clusters whose socket count is
    // unknown: "Cluster(s):" is what lscpu counted); else the distinct SOCKET numbers.
    let sockets = match (l.field("Socket(s):"), l.number("Cluster(s):")) {
        (_, Some(clusters)) => Some(clusters),
        (Some(_), None) => l.number("Socket(s):"),
        (None, None) => l.distinct(2),
    };
    check(name, "sockets", sockets, t.sockets, from_cpuinfo);
    if !from_cpuinfo {
        assert_eq!(
            t.cores,
            l.distinct(1),
            "{name}: cores (distinct CORE of lscpu -p)"
        );
        assert_eq!(
            t.books,
            l.distinct(3),
            "{name}: books (distinct BOOK of lscpu -p)"
        );
        assert_eq!(
            t.drawers,
            l.distinct(4),
            "{name}: drawers (distinct DRAWER of lscpu -p)"
        );
    }
    assert_eq!(
        t.numa_nodes,
        l.number("NUMA node(s):"),
        "{name}: NUMA nodes"
    );

    // Identity, where lscpu has one. lscpu names no IBM Z model ("-"); the agent takes it from the
    // machine type. On arm64 lscpu's "Model" is the revision, the agent's the part number.
    let s390 = l.field("Vendor ID:") == Some("IBM/S390");
    if let Some(v) = l.field("Vendor ID:") {
        assert_eq!(t.vendor, v, "{name}: vendor");
    }
    match l.field("Model name:") {
        Some("-") | None => assert!(s390 || t.model_name.is_empty(), "{name}: model name"),
        Some(m) if !s390 => assert_eq!(t.model_name, m, "{name}: model name"),
        Some(_) => {}
    }
    if l.field("CPU family:").is_some() && !s390 {
        assert_eq!(
            Some(t.cpu_family.as_str()),
            l.field("CPU family:"),
            "{name}: family"
        );
        assert_eq!(
            Some(t.cpu_model.as_str()),
            l.field("Model:"),
            "{name}: model"
        );
        assert_eq!(
            Some(t.cpu_stepping.as_str()),
            l.field("Stepping:"),
            "{name}: stepping"
        );
    }
    (t, warnings)
}

/// Every platform of the list, and any other host fixture that has both cpuinfo and the sysfs
/// CPU lists (a fixture that leaves topology out is not compared).
fn fixture_roots() -> Vec<(String, PathBuf)> {
    let mut names: BTreeSet<String> = PLATFORMS.iter().map(|s| s.to_string()).collect();
    if let Ok(entries) = fs::read_dir(fixtures_dir().join("hosts")) {
        for e in entries.flatten() {
            let root = e.path().join("root");
            if root.join("proc/cpuinfo").is_file()
                && root.join("sys/devices/system/cpu/present").is_file()
            {
                names.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names
        .into_iter()
        .map(|n| {
            let root = host_fixture(&n).join("root");
            assert!(root.is_dir(), "fixture {n}: {} is missing", root.display());
            (n, root)
        })
        .collect()
}

#[test]
fn every_fixture_agrees_with_lscpu() {
    for (name, root) in fixture_roots() {
        let (_, warnings) = compare(&name, &root);
        if PLATFORMS.contains(&name.as_str()) {
            assert!(
                warnings.is_empty(),
                "{name}: unexpected warnings {warnings:?}"
            );
        }
    }
}

#[test]
fn the_live_root_agrees_with_lscpu() {
    let (t, warnings) = compare("live /", Path::new("/"));
    assert!(
        t.online_cpus.is_some_and(|n| n > 0),
        "live: online CPUs {warnings:?}"
    );
    assert!(!t.evidence.is_empty());
}

fn topology_of(name: &str) -> pb::Topology {
    let (t, warnings) = agent(&host_fixture(name).join("root"));
    assert!(warnings.is_empty(), "{name}: {warnings:?}");
    t
}

/// (name, present CPUs, sockets, cores per socket, threads per core, cores, NUMA nodes)
type Platform = (&'static str, u32, u32, u32, u32, u32, Option<u32>);

#[test]
fn fixture_counts_are_the_platforms() {
    let cases: [Platform; 21] = [
        ("baremetal-x86-2socket", 80, 2, 20, 2, 40, Some(2)),
        ("vmware-vm", 4, 2, 2, 1, 4, Some(1)),
        ("hyperv-onprem", 8, 1, 4, 2, 4, Some(1)),
        ("azure-vm", 4, 1, 2, 2, 2, Some(1)),
        ("aws-nitro-vm", 4, 1, 2, 2, 2, Some(1)),
        ("aws-metal", 96, 2, 24, 2, 48, Some(2)),
        ("gcp-vm", 8, 1, 4, 2, 4, Some(1)),
        ("openstack-kvm", 4, 4, 1, 1, 4, Some(1)),
        ("qemu-tcg", 2, 1, 2, 1, 2, Some(1)),
        ("virtualbox", 2, 1, 2, 1, 2, Some(1)),
        ("xen-pv", 2, 2, 1, 1, 2, Some(1)),
        ("xen-dom0", 8, 1, 8, 1, 8, Some(1)),
        ("powervm-shared-lpar", 16, 1, 2, 8, 2, Some(1)),
        ("powervm-dedicated-lpar", 16, 2, 2, 4, 4, Some(2)),
        // Every z/VM guest CPU is its own core, socket, book and drawer.
        ("zvm-guest", 2, 2, 1, 1, 2, Some(1)),
        // Cores per socket from "CPU Topology SW: 0 0 4 4 2 8", as lscpu.
        ("s390-lpar", 12, 2, 8, 2, 6, None),
        ("docker-in-vmware", 4, 2, 2, 1, 4, Some(1)),
        ("podman", 16, 1, 8, 2, 8, Some(1)),
        ("lxc", 24, 1, 12, 2, 12, Some(1)),
        ("wsl", 8, 1, 4, 2, 4, Some(1)),
        ("aws-graviton-vm", 4, 1, 4, 1, 4, Some(1)),
    ];
    for (name, cpus, sockets, per_socket, threads, cores, nodes) in cases {
        let t = topology_of(name);
        assert_eq!(
            (
                t.present_cpus,
                t.sockets,
                t.cores_per_socket,
                t.threads_per_core,
                t.cores,
                t.numa_nodes
            ),
            (
                Some(cpus),
                Some(sockets),
                Some(per_socket),
                Some(threads),
                Some(cores),
                nodes
            ),
            "{name}"
        );
        assert!(
            !t.vendor.is_empty() && !t.model_name.is_empty(),
            "{name}: identity"
        );
    }
}

#[test]
fn dies_only_where_the_kernel_has_them() {
    // x86 kernels since 5.3 write die_cpus; the arm64 and POWER 5.10 kernels write a die of one
    // CPU with die_id -1, which is no die at all.
    assert_eq!(topology_of("baremetal-x86-2socket").dies, Some(2));
    assert_eq!(topology_of("aws-graviton-vm").dies, None);
    assert_eq!(topology_of("powervm-shared-lpar").dies, None);
    assert_eq!(topology_of("xen-pv").dies, None);
}

#[test]
fn power_lpars() {
    let shared = topology_of("powervm-shared-lpar")
        .power_lpar
        .expect("lparcfg read");
    assert_eq!(shared.entitled_capacity_centi, Some(50));
    assert_eq!(shared.virtual_processors, Some(2));
    assert_eq!(shared.sharing, "shared");
    assert_eq!(shared.capped, Some(false));
    assert_eq!(shared.pool_id, Some(0));
    assert_eq!(shared.pool_capacity_centi, Some(1600));
    assert_eq!(shared.system_active_processors, Some(20));
    assert_eq!(shared.partition_id, Some(12));
    // This kernel writes no partition_name line: the name comes from the device tree.
    assert_eq!(shared.partition_name, "lnxapp01");

    let dedicated = topology_of("powervm-dedicated-lpar")
        .power_lpar
        .expect("lparcfg read");
    assert_eq!(dedicated.entitled_capacity_centi, Some(400));
    assert_eq!(dedicated.virtual_processors, Some(4));
    assert_eq!(dedicated.sharing, "dedicated");
    assert_eq!(dedicated.capped, Some(true));
    assert_eq!(
        (dedicated.pool_id, dedicated.pool_capacity_centi),
        (None, None)
    );
    assert_eq!(dedicated.partition_name, "lnxdb02");
    assert_eq!(dedicated.partition_id, Some(3));

    let t = topology_of("powervm-shared-lpar");
    assert!(
        t.evidence
            .iter()
            .any(|e| e.source == "proc/powerpc/lparcfg"
                && e.value == "partition_entitled_capacity=50")
    );
    assert!(t
        .evidence
        .iter()
        .any(|e| e.source.ends_with("physical_package_id") && e.value == "-1"));
    assert!(topology_of("vmware-vm").power_lpar.is_none());
}

#[test]
fn s390_partitions() {
    let t = topology_of("zvm-guest");
    let z = t.s390.expect("sysinfo read");
    assert_eq!(z.machine_type, "8561");
    assert_eq!(t.model_name, "IBM z15");
    assert_eq!((z.cpus_total, z.cpus_configured), (Some(34), Some(34)));
    assert_eq!((z.lpar_name.as_str(), z.lpar_number), ("ZLPAR01", Some(21)));
    assert_eq!(z.lpar_characteristics, "Shared");
    assert_eq!(
        (z.lpar_cpus_total, z.lpar_cpus_dedicated, z.lpar_cpus_shared),
        (Some(8), Some(0), Some(8))
    );
    assert_eq!(z.guest_name, "LINUX01");
    assert_eq!(z.control_program, "z/VM 7.3.0");
    assert_eq!(z.guest_cpus_total, Some(2));
    assert_eq!((t.books, t.drawers), (Some(2), Some(2)));

    let t = topology_of("s390-lpar");
    let z = t.s390.expect("sysinfo read");
    assert_eq!(
        (z.machine_type.as_str(), t.model_name.as_str()),
        ("3931", "IBM z16")
    );
    assert_eq!((z.lpar_name.as_str(), z.lpar_number), ("LNXIFL1", Some(3)));
    assert_eq!(z.lpar_characteristics, "Dedicated");
    assert_eq!(
        (z.lpar_cpus_total, z.lpar_cpus_dedicated, z.lpar_cpus_shared),
        (Some(6), Some(6), Some(0))
    );
    assert_eq!(
        (z.guest_name.as_str(), z.control_program.as_str()),
        ("", "")
    );
    assert_eq!((t.books, t.drawers, t.cores), (Some(2), Some(1), Some(6)));
    assert!(topology_of("podman").s390.is_none());
}

#[test]
fn container_cpu_limits() {
    let c = topology_of("docker-in-vmware")
        .cpu_limit
        .expect("cgroup read");
    assert_eq!(c.cgroup_version, "v2");
    assert_eq!((c.quota_us, c.period_us), (Some(150_000), Some(100_000)));
    assert_eq!(c.quota_cpus, Some(1.5));
    assert_eq!((c.cpuset.as_str(), c.cpuset_cpus), ("0-3", Some(4)));

    let c = topology_of("podman").cpu_limit.expect("cgroup read");
    assert_eq!(c.cgroup_version, "v2");
    assert_eq!(
        (c.quota_us, c.quota_cpus, c.period_us),
        (None, None, Some(100_000))
    );
    assert_eq!((c.cpuset.as_str(), c.cpuset_cpus), ("0-15", Some(16)));

    // v1 without a cgroup namespace: the host's path, limits on the container's own cgroup.
    let t = topology_of("lxc");
    let c = t.cpu_limit.clone().expect("cgroup read");
    assert_eq!(c.cgroup_version, "v1");
    assert_eq!((c.quota_us, c.period_us), (Some(200_000), Some(100_000)));
    assert_eq!(c.quota_cpus, Some(2.0));
    assert_eq!((c.cpuset.as_str(), c.cpuset_cpus), ("0-23", Some(24)));
    assert!(t.evidence.iter().any(|e| e.source
        == "sys/fs/cgroup/cpu,cpuacct/lxc/web01/cpu.cfs_quota_us"
        && e.value == "200000"));

    // A host service whose cgroup directory is not in the view: the root's files, no quota.
    let c = topology_of("azure-vm").cpu_limit.expect("cgroup read");
    assert_eq!((c.cgroup_version.as_str(), c.quota_us), ("v2", None));
    assert_eq!(c.cpuset_cpus, Some(4));
    let c = topology_of("zvm-guest").cpu_limit.expect("cgroup read");
    assert_eq!((c.cgroup_version.as_str(), c.quota_us), ("v1", None));

    // No cgroup hierarchy mounted at all.
    assert!(topology_of("xen-pv").cpu_limit.is_none());
}

// ---------------------------------------------------------------------------------------------
// Variations built from the fixtures in the target's scratch directory.

fn scratch(name: &str, from: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("lscpu")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    copy_tree(&host_fixture(from).join("root"), &dir);
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create scratch dir");
    for entry in fs::read_dir(from).expect("read fixture dir").flatten() {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ft = entry.file_type().expect("file type");
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).expect("link"), &dst).expect("link");
        } else if ft.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).expect("copy fixture file");
        }
    }
}

#[test]
fn an_offline_cpu_is_not_counted() {
    // hyperv-onprem is 1 x 4 x 2 with siblings (0,1) (2,3) (4,5) (6,7); take CPU 7 offline the
    // way the kernel does: no topology directory, its sibling left alone in its core.
    let root = scratch("offline-cpu", "hyperv-onprem");
    let cpu = root.join("sys/devices/system/cpu");
    fs::write(cpu.join("online"), "0-6\n").unwrap();
    fs::write(cpu.join("offline"), "7\n").unwrap();
    fs::write(cpu.join("cpu7/online"), "0\n").unwrap();
    fs::remove_dir_all(cpu.join("cpu7/topology")).unwrap();
    for (file, value) in [
        ("thread_siblings_list", "6"),
        ("core_cpus_list", "6"),
        ("thread_siblings", "40"),
        ("core_cpus", "40"),
    ] {
        fs::write(cpu.join("cpu6/topology").join(file), format!("{value}\n")).unwrap();
    }
    for c in 0..7 {
        for (file, value) in [
            ("core_siblings_list", "0-6"),
            ("package_cpus_list", "0-6"),
            ("die_cpus_list", "0-6"),
            ("core_siblings", "7f"),
            ("package_cpus", "7f"),
            ("die_cpus", "7f"),
        ] {
            fs::write(
                cpu.join(format!("cpu{c}/topology")).join(file),
                format!("{value}\n"),
            )
            .unwrap();
        }
    }
    let (t, warnings) = compare("offline-cpu", &root);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((t.present_cpus, t.online_cpus), (Some(8), Some(7)));
    assert_eq!(
        (t.threads_per_core, t.cores, t.sockets),
        (Some(2), Some(4), Some(1))
    );
}

#[test]
fn no_sysfs_topology_falls_back_to_cpuinfo_ids() {
    // Every topology directory gone: lscpu says 0; the agent counts the cpuinfo ids and warns.
    let root = scratch("no-topology", "xen-dom0");
    let cpu = root.join("sys/devices/system/cpu");
    for c in 0..8 {
        fs::remove_dir_all(cpu.join(format!("cpu{c}/topology"))).unwrap();
    }
    let (t, warnings) = compare("no-topology", &root);
    assert_eq!(
        (t.sockets, t.cores_per_socket, t.threads_per_core, t.cores),
        (Some(1), Some(8), Some(1), Some(8))
    );
    assert!(
        warnings.iter().any(|w| w.message.contains("proc/cpuinfo")),
        "{warnings:?}"
    );
    assert!(t
        .evidence
        .iter()
        .any(|e| e.source == "proc/cpuinfo" && e.value.contains("physical id / core id")));
}

#[test]
fn missing_sysfs_is_a_warning_not_a_failure() {
    let root = scratch("no-sysfs", "aws-graviton-vm");
    fs::remove_dir_all(root.join("sys/devices/system/cpu")).unwrap();
    let (t, warnings) = agent(&root);
    assert!(warnings
        .iter()
        .any(|w| w.source == "sys/devices/system/cpu" && w.message.contains("not found")));
    // arm64 cpuinfo carries no ids: topology unknown, identity still read.
    assert_eq!((t.sockets, t.cores, t.online_cpus), (None, None, None));
    assert_eq!(t.model_name, "Neoverse-N1");
}
