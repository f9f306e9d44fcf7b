//! The running processes' names, from `proc/<pid>/comm` (the kernel's 15-character command name:
//! a script run directly shows its own file name, cut to 15 characters).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::collect::Warnings;
use crate::root::Root;

/// Most process directories looked at.
pub const MAX_PIDS: usize = 65_536;

/// Longest `comm` file read (the kernel's are at most 16 bytes); a longer one is skipped.
const MAX_COMM: usize = 64;

/// Command name → pids running it (lowest first).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Procs {
    pub by_name: BTreeMap<String, Vec<u32>>,
}

impl Procs {
    /// The pids running any of `names`, with the name.
    pub fn find(&self, names: &[&str]) -> Vec<(String, u32)> {
        names
            .iter()
            .filter_map(|n| self.by_name.get(*n).map(|p| (n.to_string(), p[0])))
            .collect()
    }
}

/// The process list under the root, or `None` when there is none to read (an image, a fixture
/// without `proc`): then whether anything runs is unknown, not "no".
pub fn read(root: &Root, w: &mut Warnings) -> Option<Procs> {
    let names = match root.read_dir("proc") {
        Ok(n) => n,
        Err(e) => {
            if root.is_live() {
                w.read_failed(&e);
            }
            return None;
        }
    };
    let pids: Vec<u32> = names.iter().filter_map(|n| n.parse().ok()).collect();
    if pids.is_empty() {
        if root.is_live() {
            w.warn("proc", "no process directories: running state unknown");
        }
        return None;
    }
    if pids.len() > MAX_PIDS {
        w.warn(
            "proc",
            format!(
                "{} processes: only {MAX_PIDS} are looked at for the BigFix client and the scanner",
                pids.len()
            ),
        );
    }
    let mut procs = Procs::default();
    let mut path = String::new();
    // One byte more than the longest name kept, to tell a longer file.
    let mut buf = [0u8; MAX_COMM + 1];
    for pid in pids.into_iter().take(MAX_PIDS) {
        path.clear();
        // Writing to a String cannot fail.
        let _ = write!(path, "proc/{pid}/comm");
        // A process may end between listing and reading: not an error. The kernel gives the
        // whole name to the first read, so one is made.
        let Ok(comm) = root.read_once(&path, &mut buf) else {
            continue;
        };
        if comm.len() > MAX_COMM {
            continue;
        }
        let name = String::from_utf8_lossy(comm);
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        match procs.by_name.get_mut(name) {
            Some(list) => list.push(pid),
            None => {
                procs.by_name.insert(name.to_string(), vec![pid]);
            }
        }
    }
    for pids in procs.by_name.values_mut() {
        pids.sort_unstable();
    }
    Some(procs)
}
