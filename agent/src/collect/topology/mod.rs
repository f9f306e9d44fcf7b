//! CPU topology: logical CPUs, sockets, cores, threads, NUMA, POWER LPAR, s390 and container limits.
//!
//! Sockets, cores per socket, threads per core and the CPU count agree with util-linux `lscpu`
//! on the same root (see [`count`] for how it counts and where its quirks are followed). Every
//! value read is evidence; a missing core file (`sys/devices/system/cpu`, `proc/cpuinfo`) is a
//! warning, a missing platform file (POWER, s390, cgroup) is silent.
//!
//! The parsing and counting are pure functions in the submodules; this module only reads files.

mod arm;
pub mod cgroup;
pub mod count;
pub mod cpuinfo;
pub mod cpulist;
pub mod lparcfg;
pub mod sysinfo;

use std::collections::BTreeSet;

use subcap_proto::v1 as pb;

use self::count::{Counts, CpuTopology, S390Overrides};
use self::cpulist::CpuSet;
use super::{evidence, expect, expect_attribute, probe, probe_attribute, Warnings};
use crate::root::Root;

const CPU: &str = "sys/devices/system/cpu";
const NODE: &str = "sys/devices/system/node";
const LPARCFG: [&str; 2] = ["proc/powerpc/lparcfg", "proc/ppc64/lparcfg"];
const PARTITION_NAME: &str = "proc/device-tree/ibm,partition-name";

/// Collects the topology of the host under `root`.
pub fn collect(root: &Root, w: &mut Warnings) -> pb::Topology {
    let mut t = pb::Topology::default();
    let mut ev = Vec::new();

    // Logical CPUs. Without the sysfs CPU directory nothing below it is read (one warning).
    let cpu_dirs = match root.read_dir(CPU) {
        Ok(names) => Some(cpu_numbers(&names)),
        Err(e) => {
            w.read_failed(&e);
            None
        }
    };
    let mut online = None;
    let mut possible = None;
    if cpu_dirs.is_some() {
        if let Some((raw, set)) = read_list(root, w, &mut ev, "online", true) {
            t.online_cpus = Some(set.count());
            t.online_cpu_list = raw;
            online = Some(set);
        }
        if let Some((_, set)) = read_list(root, w, &mut ev, "present", true) {
            t.present_cpus = Some(set.count());
        }
        possible = read_list(root, w, &mut ev, "possible", false).map(|(_, s)| s);
    }

    // Identity and the architecture-specific files.
    let info = expect(root, "proc/cpuinfo", w).map(|text| cpuinfo::parse(&text));
    let identity = info
        .as_ref()
        .map(cpuinfo::CpuInfo::identity)
        .unwrap_or_default();
    for (field, value) in &identity.sources {
        evidence(&mut ev, "proc/cpuinfo", format!("{field}: {value}"));
    }
    t.vendor = identity.vendor.clone();
    t.model_name = identity.model_name.clone();
    t.cpu_family = identity.family.clone();
    t.cpu_model = identity.model.clone();
    t.cpu_stepping = identity.stepping.clone();

    let sysinfo = probe(root, "proc/sysinfo", w).and_then(|text| sysinfo::parse(&text));
    if let Some(s) = &sysinfo {
        for line in &s.sources {
            evidence(&mut ev, "proc/sysinfo", line.clone());
        }
        t.s390 = Some(s.s390.clone());
    }

    // Sibling sets, counted as lscpu counts them.
    let overrides = S390Overrides {
        max_thread_id: identity.max_thread_id,
        sw_cores_per_socket: sysinfo
            .as_ref()
            .and_then(sysinfo::Sysinfo::sw_cores_per_socket),
    };
    let cpus = match &cpu_dirs {
        Some(dirs) => read_topologies(root, w, &mut ev, dirs, possible.as_ref(), online.as_ref()),
        None => Vec::new(),
    };
    match count::count(&cpus, overrides) {
        Some(c) => apply(&mut t, &c),
        None => {
            let fallback = info
                .as_ref()
                .and_then(|i| count::count_from_cpuinfo(&i.processors(), online.as_ref()));
            match fallback {
                Some(c) => {
                    w.warn(
                        CPU,
                        "no CPU has a topology directory in sysfs: sockets, cores and threads \
                         counted from the physical id and core id fields of proc/cpuinfo \
                         (lscpu shows 0 here)",
                    );
                    evidence(
                        &mut ev,
                        "proc/cpuinfo",
                        format!(
                            "physical id / core id over {} processors: {} sockets, {} cores, {} threads per core",
                            c.cpus_counted,
                            opt(c.sockets),
                            opt(c.cores),
                            opt(c.threads_per_core)
                        ),
                    );
                    apply(&mut t, &c);
                }
                None => w.warn(
                    CPU,
                    "no CPU topology in sysfs and no physical id / core id in proc/cpuinfo: \
                     sockets, cores and threads unknown",
                ),
            }
        }
    }

    t.numa_nodes = numa_nodes(root, w, &mut ev);
    t.power_lpar = power_lpar(root, w, &mut ev);
    t.cpu_limit = cgroup::collect(root, w, &mut ev);
    t.evidence = ev;
    t
}

fn apply(t: &mut pb::Topology, c: &Counts) {
    t.sockets = c.sockets;
    t.cores_per_socket = c.cores_per_socket;
    t.threads_per_core = c.threads_per_core;
    t.cores = c.cores;
    t.dies = c.dies;
    t.books = c.books;
    t.drawers = c.drawers;
}

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// CPU numbers of the `cpuN` entries of the sysfs CPU directory.
fn cpu_numbers(names: &[String]) -> Vec<u32> {
    let mut out: Vec<u32> = names
        .iter()
        .filter_map(|n| n.strip_prefix("cpu"))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse().ok())
        .filter(|&n| n < cpulist::MAX_CPUS)
        .collect();
    out.sort_unstable();
    out
}

/// Reads `sys/devices/system/cpu/<name>` as a CPU list: the raw text (trimmed) and the set.
fn read_list(
    root: &Root,
    w: &mut Warnings,
    ev: &mut Vec<pb::Evidence>,
    name: &str,
    required: bool,
) -> Option<(String, CpuSet)> {
    let path = format!("{CPU}/{name}");
    let text = if required {
        expect_attribute(root, &path, w)
    } else {
        probe_attribute(root, &path, w)
    }?;
    let raw = text.trim().to_string();
    match cpulist::parse_cpu_list(&raw) {
        Ok(set) => {
            evidence(ev, path, raw.clone());
            Some((raw, set))
        }
        Err(e) => {
            w.warn(path, e.to_string());
            None
        }
    }
}

/// One topology level: the file names that may hold it, newest-kernel name last, and whether
/// the file is a list (`0-3`) or a mask (`f`).
struct Level {
    name: &'static str,
    files: &'static [(&'static str, bool)],
}

const THREADS: Level = Level {
    name: "core",
    files: &[
        ("thread_siblings_list", true),
        ("core_cpus_list", true),
        ("thread_siblings", false),
        ("core_cpus", false),
    ],
};
const PACKAGE: Level = Level {
    name: "socket",
    files: &[
        ("core_siblings_list", true),
        ("package_cpus_list", true),
        ("core_siblings", false),
        ("package_cpus", false),
    ],
};
const DIE: Level = Level {
    name: "die",
    files: &[("die_cpus_list", true), ("die_cpus", false)],
};
const BOOK: Level = Level {
    name: "book",
    files: &[("book_siblings_list", true), ("book_siblings", false)],
};
const DRAWER: Level = Level {
    name: "drawer",
    files: &[("drawer_siblings_list", true), ("drawer_siblings", false)],
};

/// What was read across CPUs for one level, for evidence.
#[derive(Default)]
struct LevelSeen {
    file: Option<&'static str>,
    sets: BTreeSet<CpuSet>,
}

#[derive(Default)]
struct Seen {
    threads: LevelSeen,
    package: LevelSeen,
    die: LevelSeen,
    book: LevelSeen,
    drawer: LevelSeen,
}

/// Reads the sibling sets of every CPU that has a `cpuN` directory (and is possible, when the
/// kernel says which are). CPUs without a topology directory are skipped, as lscpu skips them;
/// an online one without is a warning when others have one.
fn read_topologies(
    root: &Root,
    w: &mut Warnings,
    ev: &mut Vec<pb::Evidence>,
    dirs: &[u32],
    possible: Option<&CpuSet>,
    online: Option<&CpuSet>,
) -> Vec<CpuTopology> {
    let mut seen = Seen::default();
    let mut package_ids = BTreeSet::new();
    let mut without = Vec::new();
    let mut out = Vec::new();
    for &cpu in dirs
        .iter()
        .filter(|&&c| possible.is_none_or(|p| p.contains(c)))
    {
        let dir = format!("{CPU}/cpu{cpu}/topology");
        let threads = if root.is_dir(&dir) {
            read_level(root, w, &dir, &THREADS, &mut seen.threads)
        } else {
            None
        };
        let Some(threads) = threads else {
            if online.is_none_or(|o| o.contains(cpu)) {
                without.push(cpu);
            }
            continue;
        };
        if let Some(id) = probe_attribute(root, &format!("{dir}/physical_package_id"), w) {
            package_ids.insert(id.trim().to_string());
        }
        // Kernels 5.3 to 5.17 wrote die files on every architecture; where the architecture has
        // no dies, die_id is -1 and each CPU is its own "die". Only a real die id counts.
        let has_die = probe_attribute(root, &format!("{dir}/die_id"), w)
            .is_some_and(|id| id.trim().parse::<i64>().is_ok_and(|id| id >= 0));
        out.push(CpuTopology {
            cpu,
            threads,
            package: read_level(root, w, &dir, &PACKAGE, &mut seen.package),
            die: if has_die {
                read_level(root, w, &dir, &DIE, &mut seen.die)
            } else {
                None
            },
            book: read_level(root, w, &dir, &BOOK, &mut seen.book),
            drawer: read_level(root, w, &dir, &DRAWER, &mut seen.drawer),
        });
    }
    if !out.is_empty() && !without.is_empty() {
        let list = CpuSet::from_cpus(without.iter().copied());
        w.warn(
            format!(
                "{CPU}/cpu{}/topology",
                without.first().copied().unwrap_or(0)
            ),
            format!(
                "CPUs {list} have no topology in sysfs and are not counted (lscpu skips them too)"
            ),
        );
    }
    let levels = [
        (&THREADS, &seen.threads),
        (&PACKAGE, &seen.package),
        (&DIE, &seen.die),
        (&BOOK, &seen.book),
        (&DRAWER, &seen.drawer),
    ];
    for (level, s) in levels {
        if let Some(file) = s.file {
            let largest = s.sets.iter().map(CpuSet::len).max().unwrap_or(0);
            evidence(
                ev,
                format!("{CPU}/cpu*/topology/{file}"),
                format!(
                    "{} distinct {} sets over {} CPUs (largest set: {largest})",
                    s.sets.len(),
                    level.name,
                    out.len()
                ),
            );
        }
    }
    if !package_ids.is_empty() {
        evidence(
            ev,
            format!("{CPU}/cpu*/topology/physical_package_id"),
            package_ids.into_iter().collect::<Vec<_>>().join(" "),
        );
    }
    out
}

/// The first file of `level` that exists in `dir`, parsed. A file that does not parse is a
/// warning and the next one is tried.
fn read_level(
    root: &Root,
    w: &mut Warnings,
    dir: &str,
    level: &Level,
    seen: &mut LevelSeen,
) -> Option<CpuSet> {
    for &(file, is_list) in level.files {
        let path = format!("{dir}/{file}");
        let Some(text) = probe_attribute(root, &path, w) else {
            continue;
        };
        let parsed = if is_list {
            cpulist::parse_cpu_list(&text)
        } else {
            cpulist::parse_cpu_mask(&text)
        };
        match parsed {
            Ok(set) => {
                seen.file.get_or_insert(file);
                seen.sets.insert(set.clone());
                return Some(set);
            }
            Err(e) => w.warn(path, e.to_string()),
        }
    }
    None
}

/// NUMA nodes: the `nodeN` directories, as lscpu counts them. No node directory (a kernel built
/// without NUMA) leaves the count unknown, silently.
fn numa_nodes(root: &Root, w: &mut Warnings, ev: &mut Vec<pb::Evidence>) -> Option<u32> {
    let names = match root.read_dir(NODE) {
        Ok(n) => n,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            w.read_failed(&e);
            return None;
        }
    };
    let nodes: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.strip_prefix("node")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    if nodes.is_empty() {
        return None;
    }
    let list: Vec<&str> = nodes.iter().map(|n| n.as_str()).collect();
    evidence(ev, NODE, list.join(" "));
    u32::try_from(nodes.len()).ok()
}

/// The POWER LPAR from lparcfg, named from lparcfg or the device tree. Absent off POWER.
fn power_lpar(root: &Root, w: &mut Warnings, ev: &mut Vec<pb::Evidence>) -> Option<pb::PowerLpar> {
    let (path, text) = LPARCFG
        .iter()
        .find_map(|p| probe(root, p, w).map(|t| (*p, t)))?;
    let Some(parsed) = lparcfg::parse(&text) else {
        w.warn(path, "no known key=value line: not an lparcfg file");
        return None;
    };
    for line in &parsed.sources {
        evidence(ev, path, line.clone());
    }
    let mut lpar = parsed.lpar;
    if lpar.partition_name.is_empty() {
        match root.read_bytes(PARTITION_NAME, 4096) {
            Ok(bytes) => {
                if let Some(name) = lparcfg::partition_name(&bytes) {
                    evidence(ev, PARTITION_NAME, name.clone());
                    lpar.partition_name = name;
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => w.read_failed(&e),
        }
    }
    Some(lpar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_numbers_from_directory_names() {
        let names: Vec<String> = [
            "cpu10", "cpu2", "cpufreq", "cpuidle", "cpu", "online", "cpu0", "cpu1x", "cpu99999",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(cpu_numbers(&names), vec![0, 2, 10]);
    }
}
