//! Container CPU limits: the CPU bandwidth quota and cpuset of the cgroup the agent runs in.
//!
//! The agent's cgroup is named in `proc/self/cgroup`: `0::/path` for the unified (v2) hierarchy,
//! `N:cpu,cpuacct:/path` for a v1 controller. Its files are under the mount point:
//!
//! - v2 (`sys/fs/cgroup/cgroup.controllers` exists): `cpu.max` ("max 100000" or
//!   "150000 100000", quota then period in microseconds), `cpuset.cpus.effective`;
//! - v1: `sys/fs/cgroup/cpu,cpuacct/<path>/cpu.cfs_quota_us` (-1 = unlimited) and
//!   `cpu.cfs_period_us`; `sys/fs/cgroup/cpuset/<path>/cpuset.effective_cpus` or `cpuset.cpus`.
//!
//! Inside a container the path is usually `/` (a cgroup namespace) and the files are at the mount
//! root; without a namespace the host's path may not exist in the container's view. So every
//! directory from the named one up to the mount root is tried, and a quota set on any of them
//! limits the process: the tightest one is reported.

use subcap_proto::v1 as pb;

use super::cpulist;
use crate::collect::{evidence, probe, Warnings};
use crate::root::Root;

const MOUNT: &str = "sys/fs/cgroup";

/// Vocabulary of `CpuLimit.cgroup_version`.
pub const V1: &str = "v1";
pub const V2: &str = "v2";

/// One line of `proc/self/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Hierarchy id; 0 is the unified hierarchy.
    pub hierarchy: u32,
    /// v1 controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// The cgroup path, absolute within the hierarchy.
    pub path: String,
    /// The line as read, for evidence.
    pub line: String,
}

/// Parses `proc/self/cgroup` (`hierarchy:controllers:path` per line); malformed lines are skipped.
pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.trim().parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?.trim();
            Some(Membership {
                hierarchy,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path: path.to_string(),
                line: line.trim().to_string(),
            })
        })
        .collect()
}

/// A CPU bandwidth limit: `quota_us` of CPU time per `period_us`; no quota means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth {
    pub quota_us: Option<i64>,
    pub period_us: u64,
}

impl Bandwidth {
    /// The quota in CPUs (150000 / 100000 = 1.5).
    pub fn cpus(&self) -> Option<f64> {
        let q = self.quota_us?;
        (self.period_us > 0).then(|| q as f64 / self.period_us as f64)
    }

    /// The tighter of two limits (a limited one beats an unlimited one).
    pub fn tighter(self, other: Bandwidth) -> Bandwidth {
        match (self.cpus(), other.cpus()) {
            (Some(a), Some(b)) if b < a => other,
            (None, Some(_)) => other,
            _ => self,
        }
    }
}

/// Why a cgroup file could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CgroupError {
    #[error("{0:?} is not \"max PERIOD\" or \"QUOTA PERIOD\"")]
    CpuMax(String),
    #[error("{0:?} is not a number of microseconds")]
    Micros(String),
}

/// Parses v2 `cpu.max`: `max 100000` (unlimited) or `150000 100000`. A missing period is the
/// kernel's default of 100000.
pub fn parse_cpu_max(text: &str) -> Result<Bandwidth, CgroupError> {
    let bad = || CgroupError::CpuMax(text.trim().to_string());
    let mut words = text.split_whitespace();
    let quota = words.next().ok_or_else(bad)?;
    let period = match words.next() {
        Some(p) => p.parse::<u64>().map_err(|_| bad())?,
        None => 100_000,
    };
    if words.next().is_some() {
        return Err(bad());
    }
    let quota_us = match quota {
        "max" => None,
        q => Some(q.parse::<i64>().ok().filter(|q| *q > 0).ok_or_else(bad)?),
    };
    Ok(Bandwidth {
        quota_us,
        period_us: period,
    })
}

/// Parses v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`; a negative quota is unlimited.
pub fn parse_cfs(quota: &str, period: &str) -> Result<Bandwidth, CgroupError> {
    let q: i64 = quota
        .trim()
        .parse()
        .map_err(|_| CgroupError::Micros(quota.trim().to_string()))?;
    let p: u64 = period
        .trim()
        .parse()
        .map_err(|_| CgroupError::Micros(period.trim().to_string()))?;
    Ok(Bandwidth {
        quota_us: (q > 0).then_some(q),
        period_us: p,
    })
}

/// The directories to read, deepest first: `mount/path`, each parent, and `mount` itself.
/// `..` and `.` components are dropped so a path cannot climb out of the mount.
pub fn candidate_dirs(mount: &str, path: &str) -> Vec<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    (0..=parts.len())
        .rev()
        .map(|n| {
            let mut dir = mount.to_string();
            for p in parts.iter().take(n) {
                dir.push('/');
                dir.push_str(p);
            }
            dir
        })
        .collect()
}

/// Reads the CPU limit of the agent's own cgroup. `None` when the host shows no cgroup at all.
pub fn collect(root: &Root, w: &mut Warnings, ev: &mut Vec<pb::Evidence>) -> Option<pb::CpuLimit> {
    let members = probe(root, "proc/self/cgroup", w)
        .map(|t| parse_proc_cgroup(&t))
        .unwrap_or_default();
    let has = |m: &Membership, c: &str| m.controllers.iter().any(|x| x == c);
    let v1_cpu = members.iter().find(|m| has(m, "cpu"));
    let controllers = format!("{MOUNT}/cgroup.controllers");
    let unified = root.exists(&controllers);

    let mut limit = pb::CpuLimit::default();
    if let Some(m) = v1_cpu {
        // A v1 cpu controller wins even on hybrid hosts (v2 mounted at sys/fs/cgroup/unified).
        evidence(ev, "proc/self/cgroup", m.line.clone());
        limit.cgroup_version = V1.to_string();
        let dirs = v1_dirs(root, &m.controllers, "cpu", &m.path);
        let bw = tightest(root, w, ev, &dirs, |root, w, dir| {
            let (qp, pp) = (
                format!("{dir}/cpu.cfs_quota_us"),
                format!("{dir}/cpu.cfs_period_us"),
            );
            let quota = probe(root, &qp, w)?;
            let period = probe(root, &pp, w)?;
            let parsed = parse_cfs(&quota, &period);
            Some((
                vec![
                    (qp, quota.trim().to_string()),
                    (pp, period.trim().to_string()),
                ],
                parsed,
            ))
        });
        set_bandwidth(&mut limit, bw);
        if let Some(m) = members.iter().find(|m| has(m, "cpuset")) {
            evidence(ev, "proc/self/cgroup", m.line.clone());
            let dirs = v1_dirs(root, &m.controllers, "cpuset", &m.path);
            cpuset(
                root,
                w,
                ev,
                &mut limit,
                &dirs,
                &["cpuset.effective_cpus", "cpuset.cpus"],
            );
        }
    } else if unified {
        let path = members
            .iter()
            .find(|m| m.hierarchy == 0 && m.controllers.is_empty())
            .map(|m| {
                evidence(ev, "proc/self/cgroup", m.line.clone());
                m.path.clone()
            })
            .unwrap_or_else(|| "/".to_string());
        limit.cgroup_version = V2.to_string();
        if let Some(text) = probe(root, &controllers, w) {
            evidence(ev, controllers, text.trim());
        }
        let dirs = candidate_dirs(MOUNT, &path);
        let bw = tightest(root, w, ev, &dirs, |root, w, dir| {
            let path = format!("{dir}/cpu.max");
            let text = probe(root, &path, w)?;
            Some((vec![(path, text.trim().to_string())], parse_cpu_max(&text)))
        });
        set_bandwidth(&mut limit, bw);
        cpuset(root, w, ev, &mut limit, &dirs, &["cpuset.cpus.effective"]);
    } else {
        return None;
    }
    Some(limit)
}

/// v1 directories for `controller`: under the mount named as the hierarchy's controllers are
/// (`cpu,cpuacct`), else the controller alone (`cpu`, often a link), deepest first.
fn v1_dirs(root: &Root, controllers: &[String], controller: &str, path: &str) -> Vec<String> {
    let joined = controllers.join(",");
    let mount = [joined.as_str(), controller, "cpu,cpuacct", "cpuacct,cpu"]
        .into_iter()
        .map(|name| format!("{MOUNT}/{name}"))
        .find(|dir| root.is_dir(dir))
        .unwrap_or_else(|| format!("{MOUNT}/{controller}"));
    candidate_dirs(&mount, path)
}

/// The `(path, value)` pairs read in one directory and what they say.
type Reading = (Vec<(String, String)>, Result<Bandwidth, CgroupError>);

/// The tightest bandwidth over `dirs`, each read by `read`; every value read is evidence.
fn tightest(
    root: &Root,
    w: &mut Warnings,
    ev: &mut Vec<pb::Evidence>,
    dirs: &[String],
    read: impl Fn(&Root, &mut Warnings, &str) -> Option<Reading>,
) -> Option<Bandwidth> {
    let mut best: Option<Bandwidth> = None;
    for dir in dirs {
        if !root.is_dir(dir) {
            continue;
        }
        let Some((read_values, parsed)) = read(root, w, dir) else {
            continue;
        };
        match parsed {
            Ok(bw) => {
                for (source, value) in read_values {
                    evidence(ev, source, value);
                }
                best = Some(best.map_or(bw, |b| b.tighter(bw)));
            }
            Err(e) => {
                let source = read_values.into_iter().next().map(|(s, _)| s);
                w.warn(source.unwrap_or_else(|| dir.clone()), e.to_string());
            }
        }
    }
    best
}

fn set_bandwidth(limit: &mut pb::CpuLimit, bw: Option<Bandwidth>) {
    if let Some(bw) = bw {
        limit.period_us = Some(bw.period_us);
        limit.quota_us = bw.quota_us;
        limit.quota_cpus = bw.cpus();
    }
}

/// The cpuset of the deepest directory that has one of `files` with a non-empty list.
fn cpuset(
    root: &Root,
    w: &mut Warnings,
    ev: &mut Vec<pb::Evidence>,
    limit: &mut pb::CpuLimit,
    dirs: &[String],
    files: &[&str],
) {
    for dir in dirs.iter().filter(|d| root.is_dir(d)) {
        for file in files {
            let path = format!("{dir}/{file}");
            let Some(text) = probe(root, &path, w) else {
                continue;
            };
            let list = text.trim();
            if list.is_empty() {
                continue;
            }
            match cpulist::parse_cpu_list(list) {
                Ok(set) => {
                    evidence(ev, path, list);
                    limit.cpuset = list.to_string();
                    limit.cpuset_cpus = Some(set.count());
                }
                Err(e) => w.warn(path, e.to_string()),
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_self_cgroup() {
        let v1 = "12:cpuset:/lxc/web01\n11:cpu,cpuacct:/lxc/web01\n1:name=systemd:/lxc/web01/init.scope\n0::/lxc/web01\n";
        let m = parse_proc_cgroup(v1);
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].hierarchy, 11);
        assert_eq!(m[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m[1].path, "/lxc/web01");
        assert_eq!(m[3].hierarchy, 0);
        assert!(m[3].controllers.is_empty());
        let v2 = parse_proc_cgroup("0::/\n");
        assert_eq!(v2.len(), 1);
        assert_eq!(v2[0].path, "/");
        // A path may itself contain colons; junk lines are skipped.
        let odd = parse_proc_cgroup("0::/a:b\ngarbage\nx:cpu:/\n");
        assert_eq!(odd.len(), 1);
        assert_eq!(odd[0].path, "/a:b");
    }

    #[test]
    fn cpu_max() {
        let ok = |q: Option<i64>, p: u64| {
            Ok(Bandwidth {
                quota_us: q,
                period_us: p,
            })
        };
        let cases = [
            ("max 100000\n", ok(None, 100_000)),
            ("150000 100000\n", ok(Some(150_000), 100_000)),
            ("50000 50000", ok(Some(50_000), 50_000)),
            ("max", ok(None, 100_000)),
            ("", Err(CgroupError::CpuMax(String::new()))),
            ("150000 x", Err(CgroupError::CpuMax("150000 x".into()))),
            ("-1 100000", Err(CgroupError::CpuMax("-1 100000".into()))),
            ("1 2 3", Err(CgroupError::CpuMax("1 2 3".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(parse_cpu_max(text), want, "{text:?}");
        }
        assert_eq!(parse_cpu_max("150000 100000").unwrap().cpus(), Some(1.5));
        assert_eq!(parse_cpu_max("max 100000").unwrap().cpus(), None);
    }

    #[test]
    fn cfs() {
        assert_eq!(
            parse_cfs("200000\n", "100000\n").unwrap(),
            Bandwidth {
                quota_us: Some(200_000),
                period_us: 100_000
            }
        );
        assert_eq!(parse_cfs("-1", "100000").unwrap().quota_us, None);
        assert_eq!(parse_cfs("200000", "100000").unwrap().cpus(), Some(2.0));
        assert_eq!(
            parse_cfs("lots", "100000"),
            Err(CgroupError::Micros("lots".into()))
        );
        assert_eq!(parse_cfs("1", ""), Err(CgroupError::Micros(String::new())));
    }

    #[test]
    fn tighter_limit_wins() {
        let bw = |q: Option<i64>, p: u64| Bandwidth {
            quota_us: q,
            period_us: p,
        };
        let unlimited = bw(None, 100_000);
        let two = bw(Some(200_000), 100_000);
        let half = bw(Some(25_000), 50_000);
        assert_eq!(unlimited.tighter(two), two);
        assert_eq!(two.tighter(unlimited), two);
        assert_eq!(two.tighter(half), half);
        assert_eq!(half.tighter(two), half);
        assert_eq!(unlimited.tighter(unlimited), unlimited);
    }

    #[test]
    fn dirs_deepest_first_and_never_above_the_mount() {
        assert_eq!(candidate_dirs("sys/fs/cgroup", "/"), vec!["sys/fs/cgroup"]);
        assert_eq!(candidate_dirs("sys/fs/cgroup", ""), vec!["sys/fs/cgroup"]);
        assert_eq!(
            candidate_dirs("sys/fs/cgroup/cpu,cpuacct", "/lxc/web01"),
            vec![
                "sys/fs/cgroup/cpu,cpuacct/lxc/web01",
                "sys/fs/cgroup/cpu,cpuacct/lxc",
                "sys/fs/cgroup/cpu,cpuacct",
            ]
        );
        assert_eq!(
            candidate_dirs("sys/fs/cgroup", "/../../etc"),
            vec!["sys/fs/cgroup/etc", "sys/fs/cgroup"]
        );
    }
}
