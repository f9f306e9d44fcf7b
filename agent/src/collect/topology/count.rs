//! Counting threads, cores, sockets, dies, books and drawers the way util-linux `lscpu` does.
//!
//! lscpu (`lscpu-topology.c`) walks the CPUs that have a `topology/thread_siblings` file (offline
//! CPUs have no topology directory, so in practice the online ones) and counts *distinct sibling
//! sets*, not ids:
//!
//! - cores = distinct `thread_siblings` (a.k.a. `core_cpus`) sets; threads per core = the largest
//!   such set (at least 1);
//! - sockets = distinct `core_siblings` (a.k.a. `package_cpus`) sets; cores per socket =
//!   cores / sockets, an integer division;
//! - books and drawers (s390) = distinct `book_siblings` and `drawer_siblings` sets.
//!
//! Sets rather than ids matter on POWER, where `physical_package_id` is -1 in an LPAR: the kernel
//! then bounds `core_siblings` by the NUMA node, and lscpu reports one "socket" per node.
//!
//! Two s390 overrides, also lscpu's: `max thread id` in cpuinfo gives threads per core (+1), and
//! when `/proc/sysinfo` has a `CPU Topology SW:` line, its last magnitude is the cores per socket
//! (that line describes the machine's nesting, not this partition's CPUs). Dies are not in lscpu's
//! summary; they are counted the same way from `die_cpus`.

use std::collections::HashSet;

use super::cpuinfo::Processor;
use super::cpulist::CpuSet;

/// The sibling sets of one logical CPU, as read from its `topology/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuTopology {
    pub cpu: u32,
    pub threads: CpuSet,
    pub package: Option<CpuSet>,
    pub die: Option<CpuSet>,
    pub book: Option<CpuSet>,
    pub drawer: Option<CpuSet>,
}

/// The s390 facts that override sibling counting, as lscpu applies them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct S390Overrides {
    /// cpuinfo `max thread id`.
    pub max_thread_id: Option<u32>,
    /// Cores per socket from sysinfo `CPU Topology SW:` (its last number), when above zero.
    pub sw_cores_per_socket: Option<u32>,
}

/// What was counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub threads_per_core: Option<u32>,
    pub cores: Option<u32>,
    pub sockets: Option<u32>,
    pub cores_per_socket: Option<u32>,
    pub dies: Option<u32>,
    pub books: Option<u32>,
    pub drawers: Option<u32>,
    /// CPUs whose sibling sets were counted.
    pub cpus_counted: u32,
}

/// Counts distinct sibling sets over `cpus` (the CPUs that have topology). `None` when there is
/// none to count.
pub fn count(cpus: &[CpuTopology], s390: S390Overrides) -> Option<Counts> {
    if cpus.is_empty() {
        return None;
    }
    let distinct = |f: &dyn Fn(&CpuTopology) -> Option<&CpuSet>| -> Option<u32> {
        let sets: HashSet<&CpuSet> = cpus.iter().filter_map(f).collect();
        (!sets.is_empty()).then(|| to_u32(sets.len()))
    };
    let cores = distinct(&|c| Some(&c.threads));
    let sockets = distinct(&|c| c.package.as_ref());
    let largest = cpus.iter().map(|c| c.threads.count()).max().unwrap_or(0);
    let threads_per_core = match s390.max_thread_id {
        Some(mtid) => mtid.checked_add(1),
        None => Some(largest.max(1)),
    };
    let cores_per_socket = match s390.sw_cores_per_socket {
        Some(n) if n > 0 => Some(n),
        _ => match (cores, sockets) {
            (Some(c), Some(s)) if s > 0 => Some(c / s),
            _ => None,
        },
    };
    Some(Counts {
        threads_per_core,
        cores,
        sockets,
        cores_per_socket,
        dies: distinct(&|c| c.die.as_ref()),
        books: distinct(&|c| c.book.as_ref()),
        drawers: distinct(&|c| c.drawer.as_ref()),
        cpus_counted: to_u32(cpus.len()),
    })
}

/// Counts from `/proc/cpuinfo` ids when sysfs has no topology at all (old or stripped-down
/// kernels). lscpu prints zeros there; the ids, when the kernel wrote them, are better than
/// nothing and are reported as coming from cpuinfo. Processors not in `online` (when given) are
/// left out; `None` when any processor lacks a `physical id` or `core id`.
pub fn count_from_cpuinfo(processors: &[Processor], online: Option<&CpuSet>) -> Option<Counts> {
    let procs: Vec<&Processor> = processors
        .iter()
        .filter(|p| match (online, p.cpu) {
            (Some(set), Some(cpu)) => set.contains(cpu),
            _ => true,
        })
        .collect();
    if procs.is_empty() {
        return None;
    }
    let mut per_core: std::collections::HashMap<(i64, i64, i64, i64), u32> =
        std::collections::HashMap::new();
    let mut sockets = HashSet::new();
    let mut books = HashSet::new();
    let mut drawers = HashSet::new();
    for p in &procs {
        let (pkg, core) = (p.physical_id?, p.core_id?);
        let (book, drawer) = (p.book_id.unwrap_or(0), p.drawer_id.unwrap_or(0));
        *per_core.entry((drawer, book, pkg, core)).or_default() += 1;
        sockets.insert((drawer, book, pkg));
        if p.book_id.is_some() {
            books.insert((drawer, book));
        }
        if p.drawer_id.is_some() {
            drawers.insert(drawer);
        }
    }
    let cores = to_u32(per_core.len());
    let n_sockets = to_u32(sockets.len());
    Some(Counts {
        threads_per_core: per_core.values().max().copied(),
        cores: Some(cores),
        sockets: Some(n_sockets),
        cores_per_socket: (n_sockets > 0).then(|| cores / n_sockets),
        dies: None,
        books: (!books.is_empty()).then(|| to_u32(books.len())),
        drawers: (!drawers.is_empty()).then(|| to_u32(drawers.len())),
        cpus_counted: to_u32(procs.len()),
    })
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u32]) -> CpuSet {
        CpuSet::from_cpus(v.iter().copied())
    }

    /// A regular machine: `sockets` x `cores` x `threads`, CPUs numbered thread-major as Linux
    /// numbers bare-metal x86 (all first threads, then all second threads).
    fn machine(sockets: u32, cores: u32, threads: u32) -> Vec<CpuTopology> {
        let n = sockets * cores;
        let cpu = |s: u32, c: u32, t: u32| t * n + s * cores + c;
        let mut out = Vec::new();
        for t in 0..threads {
            for s in 0..sockets {
                for c in 0..cores {
                    out.push(CpuTopology {
                        cpu: cpu(s, c, t),
                        threads: CpuSet::from_cpus((0..threads).map(|t| cpu(s, c, t))),
                        package: Some(CpuSet::from_cpus(
                            (0..threads)
                                .flat_map(|t| (0..cores).map(move |c| (c, t)))
                                .map(|(c, t)| cpu(s, c, t)),
                        )),
                        die: None,
                        book: None,
                        drawer: None,
                    });
                }
            }
        }
        out
    }

    #[test]
    fn regular_machines() {
        // (sockets, cores, threads)
        for (s, c, t) in [
            (1, 1, 1),
            (2, 20, 2),
            (1, 4, 2),
            (4, 1, 1),
            (2, 24, 2),
            (1, 2, 1),
        ] {
            let got = count(&machine(s, c, t), S390Overrides::default()).unwrap();
            assert_eq!(got.sockets, Some(s), "{s}x{c}x{t}");
            assert_eq!(got.cores_per_socket, Some(c), "{s}x{c}x{t}");
            assert_eq!(got.threads_per_core, Some(t), "{s}x{c}x{t}");
            assert_eq!(got.cores, Some(s * c), "{s}x{c}x{t}");
            assert_eq!(got.cpus_counted, s * c * t);
            assert_eq!((got.books, got.drawers, got.dies), (None, None, None));
        }
    }

    #[test]
    fn nothing_to_count() {
        assert_eq!(count(&[], S390Overrides::default()), None);
    }

    #[test]
    fn uneven_sockets_divide_like_lscpu() {
        // Socket 0 has 3 cores, socket 1 has 2 (a guest given an odd vCPU split): 5 / 2 = 2.
        let mk = |cpu, pkg: &[u32]| CpuTopology {
            cpu,
            threads: set(&[cpu]),
            package: Some(set(pkg)),
            ..CpuTopology::default()
        };
        let cpus = [
            mk(0, &[0, 1, 2]),
            mk(1, &[0, 1, 2]),
            mk(2, &[0, 1, 2]),
            mk(3, &[3, 4]),
            mk(4, &[3, 4]),
        ];
        let got = count(&cpus, S390Overrides::default()).unwrap();
        assert_eq!(
            (got.cores, got.sockets, got.cores_per_socket),
            (Some(5), Some(2), Some(2))
        );
    }

    #[test]
    fn power_lpar_counts_sets_not_package_ids() {
        // SMT8, two cores, core_siblings bounded by the single NUMA node: one "socket".
        let all = CpuSet::from_cpus(0..16);
        let cpus: Vec<CpuTopology> = (0..16)
            .map(|cpu| CpuTopology {
                cpu,
                threads: CpuSet::from_cpus((cpu / 8 * 8)..(cpu / 8 * 8 + 8)),
                package: Some(all.clone()),
                ..CpuTopology::default()
            })
            .collect();
        let got = count(&cpus, S390Overrides::default()).unwrap();
        assert_eq!(
            (
                got.threads_per_core,
                got.cores_per_socket,
                got.sockets,
                got.cores
            ),
            (Some(8), Some(2), Some(1), Some(2))
        );
    }

    #[test]
    fn missing_package_sets_leave_sockets_unknown() {
        let cpus = [CpuTopology {
            cpu: 0,
            threads: set(&[0]),
            ..CpuTopology::default()
        }];
        let got = count(&cpus, S390Overrides::default()).unwrap();
        assert_eq!(
            (got.cores, got.sockets, got.cores_per_socket),
            (Some(1), None, None)
        );
        assert_eq!(got.threads_per_core, Some(1));
    }

    #[test]
    fn empty_thread_set_counts_as_one_thread() {
        let cpus = [CpuTopology {
            cpu: 0,
            threads: CpuSet::default(),
            package: Some(set(&[0])),
            ..CpuTopology::default()
        }];
        assert_eq!(
            count(&cpus, S390Overrides::default())
                .unwrap()
                .threads_per_core,
            Some(1)
        );
    }

    #[test]
    fn s390_books_drawers_and_overrides() {
        // Six SMT-2 cores: four on socket A (book 0), two on socket B (book 1), one drawer.
        let sock_a = CpuSet::from_cpus(0..8);
        let sock_b = CpuSet::from_cpus(8..12);
        let drawer = CpuSet::from_cpus(0..12);
        let cpus: Vec<CpuTopology> = (0..12)
            .map(|cpu| CpuTopology {
                cpu,
                threads: set(&[cpu & !1, cpu | 1]),
                package: Some(if cpu < 8 {
                    sock_a.clone()
                } else {
                    sock_b.clone()
                }),
                die: None,
                book: Some(if cpu < 8 {
                    sock_a.clone()
                } else {
                    sock_b.clone()
                }),
                drawer: Some(drawer.clone()),
            })
            .collect();
        let plain = count(&cpus, S390Overrides::default()).unwrap();
        assert_eq!(
            (
                plain.threads_per_core,
                plain.cores,
                plain.sockets,
                plain.cores_per_socket
            ),
            (Some(2), Some(6), Some(2), Some(3))
        );
        assert_eq!((plain.books, plain.drawers), (Some(2), Some(1)));

        let overridden = count(
            &cpus,
            S390Overrides {
                max_thread_id: Some(1),
                sw_cores_per_socket: Some(8),
            },
        )
        .unwrap();
        assert_eq!(overridden.threads_per_core, Some(2));
        assert_eq!(overridden.cores_per_socket, Some(8));
        assert_eq!(overridden.cores, Some(6));

        // SMT installed but Linux booted with one thread per core: lscpu says 2, so do we.
        let single: Vec<CpuTopology> = (0..6)
            .map(|cpu| CpuTopology {
                cpu,
                threads: set(&[cpu]),
                package: Some(CpuSet::from_cpus(0..6)),
                ..CpuTopology::default()
            })
            .collect();
        let got = count(
            &single,
            S390Overrides {
                max_thread_id: Some(1),
                sw_cores_per_socket: Some(0),
            },
        )
        .unwrap();
        assert_eq!(got.threads_per_core, Some(2));
        // A zero magnitude is no information: counted instead.
        assert_eq!(got.cores_per_socket, Some(6));
    }

    #[test]
    fn dies_are_distinct_die_sets() {
        let cpus: Vec<CpuTopology> = (0..4)
            .map(|cpu| CpuTopology {
                cpu,
                threads: set(&[cpu]),
                package: Some(CpuSet::from_cpus(0..4)),
                die: Some(if cpu < 2 { set(&[0, 1]) } else { set(&[2, 3]) }),
                ..CpuTopology::default()
            })
            .collect();
        let got = count(&cpus, S390Overrides::default()).unwrap();
        assert_eq!(
            (got.dies, got.sockets, got.cores_per_socket),
            (Some(2), Some(1), Some(4))
        );
    }

    fn proc(cpu: u32, pkg: i64, core: i64) -> Processor {
        Processor {
            cpu: Some(cpu),
            physical_id: Some(pkg),
            core_id: Some(core),
            book_id: None,
            drawer_id: None,
        }
    }

    #[test]
    fn cpuinfo_fallback() {
        // 2 sockets x 2 cores x 2 threads, numbered thread-major.
        let procs = [
            proc(0, 0, 0),
            proc(1, 0, 1),
            proc(2, 1, 0),
            proc(3, 1, 1),
            proc(4, 0, 0),
            proc(5, 0, 1),
            proc(6, 1, 0),
            proc(7, 1, 1),
        ];
        let got = count_from_cpuinfo(&procs, None).unwrap();
        assert_eq!(
            (
                got.sockets,
                got.cores_per_socket,
                got.threads_per_core,
                got.cores
            ),
            (Some(2), Some(2), Some(2), Some(4))
        );
        // Only online processors count (cpuinfo lists online ones anyway; a stale copy may not).
        let online = CpuSet::from_cpus(0..4);
        let got = count_from_cpuinfo(&procs, Some(&online)).unwrap();
        assert_eq!((got.threads_per_core, got.cores), (Some(1), Some(4)));
        // Without ids (POWER, arm64) there is nothing to count.
        let bare = [Processor {
            cpu: Some(0),
            ..Processor::default()
        }];
        assert_eq!(count_from_cpuinfo(&bare, None), None);
        assert_eq!(count_from_cpuinfo(&[], None), None);
    }

    #[test]
    fn cpuinfo_fallback_s390_books() {
        let mut a = proc(0, 0, 0);
        a.book_id = Some(1);
        a.drawer_id = Some(0);
        let mut b = proc(1, 0, 0);
        b.book_id = Some(2);
        b.drawer_id = Some(0);
        let got = count_from_cpuinfo(&[a, b], None).unwrap();
        // Same socket and core ids in different books are different sockets and cores.
        assert_eq!(
            (got.sockets, got.cores, got.books, got.drawers),
            (Some(2), Some(2), Some(2), Some(1))
        );
    }
}
