//! The bounded search for tag files (`*.swidtag`, `*.slmtag`) under the install roots.
//!
//! Breadth-first from every start directory at once (so shallow `swidtag/` and
//! `properties/version/` folders are reached before deep trees exhaust the budget), with three
//! bounds from [`SearchLimits`]: depth below a start directory, directory entries examined in
//! all, and wall-clock time. Hitting a bound is a warning that says which. Directory symbolic
//! links are never followed (no loops, no escape from the install roots); a directory reached
//! twice (a start inside another, a bind mount) is searched once; a tag file reached through two
//! paths is reported once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use super::SearchLimits;
use crate::collect::Warnings;
use crate::root::Root;

/// Warnings about unreadable directories given one by one before they are only counted.
const MAX_UNREADABLE_WARNINGS: usize = 5;

/// Tag files found, as paths relative to the root, sorted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    pub swidtags: Vec<String>,
    pub slmtags: Vec<String>,
}

/// Which bound stopped the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Entries,
    Time,
}

/// What kind of tag a file name is.
fn tag_kind(name: &str) -> Option<bool> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".swidtag") {
        Some(true)
    } else if lower.ends_with(".slmtag") {
        Some(false)
    } else {
        None
    }
}

/// Searches `starts` (relative to the root; missing ones are skipped) within `limits`.
pub fn search(root: &Root, starts: &[String], limits: &SearchLimits, w: &mut Warnings) -> Found {
    let started = Instant::now();
    let deadline = started.checked_add(limits.time_budget).unwrap_or(started);
    let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
    // Each tag file once: (device, inode) -> (path, is swid, reached through a link).
    let mut files: HashMap<(u64, u64), (String, bool, bool)> = HashMap::new();
    let mut queue: VecDeque<(String, usize)> = VecDeque::new();

    let mut starts: Vec<&String> = starts.iter().collect();
    starts.sort();
    starts.dedup();
    for s in starts {
        let s = s.trim_matches('/');
        let Ok(m) = root.metadata(s) else { continue };
        if m.is_dir() && seen_dirs.insert((m.dev(), m.ino())) {
            queue.push_back((s.to_string(), 0));
        }
    }

    let mut examined = 0usize;
    let mut stop = None;
    let mut too_deep = 0usize;
    let mut too_deep_example = String::new();
    let mut unreadable = 0usize;
    'walk: while let Some((dir, depth)) = queue.pop_front() {
        if Instant::now() >= deadline {
            stop = Some(Stop::Time);
            queue.push_front((dir, depth));
            break;
        }
        let listed = root.path(&dir).and_then(|p| {
            fs::read_dir(&p)
                .map(|entries| (p, entries))
                .map_err(|e| io_error(&dir, e))
        });
        let (dir_path, entries) = match listed {
            Ok(listed) => listed,
            Err(e) => {
                if !e.is_not_found() {
                    unreadable += 1;
                    if unreadable <= MAX_UNREADABLE_WARNINGS {
                        w.read_failed(&e);
                    }
                }
                continue;
            }
        };
        let mut children: Vec<(String, fs::FileType)> = Vec::new();
        for entry in entries {
            examined += 1;
            if examined > limits.max_files {
                stop = Some(Stop::Entries);
                queue.push_front((dir, depth));
                break 'walk;
            }
            let Ok(entry) = entry else { continue };
            let Ok(ft) = entry.file_type() else { continue };
            children.push((entry.file_name().to_string_lossy().into_owned(), ft));
        }
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, ft) in children {
            let rel = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            if ft.is_dir() {
                if depth + 1 > limits.max_depth {
                    too_deep += 1;
                    if too_deep_example.is_empty() {
                        too_deep_example = rel;
                    }
                    continue;
                }
                // Not followed through links: lstat of the entry itself.
                let Ok(m) = fs::symlink_metadata(dir_path.join(&name)) else {
                    continue;
                };
                if seen_dirs.insert((m.dev(), m.ino())) {
                    queue.push_back((rel, depth + 1));
                }
            } else if ft.is_file() || ft.is_symlink() {
                let Some(is_swid) = tag_kind(&name) else {
                    continue;
                };
                // A linked tag is read through the root (links resolve inside it); a link to a
                // directory named like a tag is not a tag.
                let Ok(m) = root.metadata(&rel) else { continue };
                if !m.is_file() {
                    continue;
                }
                let linked = ft.is_symlink();
                match files.get(&(m.dev(), m.ino())) {
                    // The file's own path wins over a link's.
                    Some((_, _, was_link)) if !*was_link || linked => {}
                    _ => {
                        files.insert((m.dev(), m.ino()), (rel, is_swid, linked));
                    }
                }
            }
        }
    }

    if unreadable > MAX_UNREADABLE_WARNINGS {
        w.warn(
            "ibm-search",
            format!(
                "{} more directories under the IBM install roots could not be read",
                unreadable - MAX_UNREADABLE_WARNINGS
            ),
        );
    }
    if too_deep > 0 {
        w.warn(
            too_deep_example.clone(),
            format!(
                "{too_deep} directories more than {} levels below an IBM install root were not \
                 searched for tags (--ibm-max-depth), e.g. {too_deep_example}",
                limits.max_depth
            ),
        );
    }
    if let Some(stop) = stop {
        let next = queue.front().map(|(d, _)| d.clone()).unwrap_or_default();
        let why = match stop {
            Stop::Entries => format!(
                "after examining {} directory entries (--ibm-max-files)",
                limits.max_files
            ),
            Stop::Time => format!(
                "after {} ms (--ibm-budget-ms)",
                limits.time_budget.as_millis()
            ),
        };
        w.warn(
            next.clone(),
            format!(
                "IBM tag search stopped {why}; {} directories not searched, starting with {}: \
                 tags in them are not reported",
                queue.len(),
                if next.is_empty() { "-" } else { &next }
            ),
        );
    }
    let mut found = Found::default();
    for (path, is_swid, _) in files.into_values() {
        if is_swid {
            found.swidtags.push(path);
        } else {
            found.slmtags.push(path);
        }
    }
    found.swidtags.sort();
    found.slmtags.sort();
    found
}

fn io_error(rel: &str, e: std::io::Error) -> crate::root::ReadError {
    use crate::root::ReadError;
    let path = rel.to_string();
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
            ReadError::NotFound { path }
        }
        std::io::ErrorKind::PermissionDenied => ReadError::PermissionDenied { path },
        _ => ReadError::Io { path, source: e },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn touch(base: &Path, rel: &str) {
        let p = base.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, "x").unwrap();
    }

    fn limits(depth: usize, files: usize) -> SearchLimits {
        SearchLimits {
            extra_paths: Vec::new(),
            max_depth: depth,
            max_files: files,
            time_budget: Duration::from_secs(3600),
        }
    }

    fn messages(w: Warnings) -> Vec<String> {
        w.into_vec().into_iter().map(|x| x.message).collect()
    }

    #[test]
    fn finds_tags_breadth_first_and_reports_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        touch(
            b,
            "opt/IBM/WebSphere/AppServer/properties/version/ibm.com_WAS-9.0.swidtag",
        );
        touch(b, "opt/mqm/swidtag/ibm.com_IBM_MQ-9.3.4.swidtag");
        touch(b, "opt/mqm/swidtag/readme.txt");
        touch(b, "opt/ibm/spectrum/properties/slmtags/abc.slmtag");
        std::os::unix::fs::symlink(
            "/opt/mqm/swidtag/ibm.com_IBM_MQ-9.3.4.swidtag",
            b.join("opt/IBM/link.swidtag"),
        )
        .unwrap();
        // A directory link (even a loop) is not followed.
        std::os::unix::fs::symlink("/opt", b.join("opt/IBM/loop")).unwrap();
        let root = Root::new(b);
        let mut w = Warnings::new("ibm_installs");
        let starts = vec![
            "opt/IBM".to_string(),
            "opt/mqm".into(),
            "opt/ibm".into(),
            "opt/mqm/swidtag".into(),
            "missing".into(),
        ];
        let f = search(&root, &starts, &limits(6, 10_000), &mut w);
        assert!(w.is_empty(), "{:?}", messages(w));
        assert_eq!(
            f.swidtags,
            vec![
                "opt/IBM/WebSphere/AppServer/properties/version/ibm.com_WAS-9.0.swidtag",
                "opt/mqm/swidtag/ibm.com_IBM_MQ-9.3.4.swidtag",
            ],
            "the link to the MQ tag is the same file: reported once, by its own path"
        );
        assert_eq!(
            f.slmtags,
            vec!["opt/ibm/spectrum/properties/slmtags/abc.slmtag"]
        );
    }

    #[test]
    fn depth_bound_prunes_and_warns() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        touch(b, "opt/IBM/a/b/c/d/e/f/deep.swidtag");
        touch(b, "opt/IBM/a/shallow.swidtag");
        let root = Root::new(b);
        let mut w = Warnings::new("ibm_installs");
        let f = search(&root, &["opt/IBM".into()], &limits(3, 10_000), &mut w);
        assert_eq!(f.swidtags, vec!["opt/IBM/a/shallow.swidtag"]);
        let m = messages(w);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("--ibm-max-depth") && m[0].contains("opt/IBM/a/b/c/d"),
            "{m:?}"
        );
    }

    #[test]
    fn entry_bound_stops_and_warns() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        for i in 0..50 {
            touch(b, &format!("opt/IBM/many/f{i:03}"));
        }
        touch(b, "opt/IBM/z/late.swidtag");
        let root = Root::new(b);
        let mut w = Warnings::new("ibm_installs");
        let f = search(&root, &["opt/IBM".into()], &limits(6, 20), &mut w);
        assert!(f.swidtags.is_empty());
        let m = messages(w);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("--ibm-max-files") && m[0].contains("opt/IBM/many"),
            "{m:?}"
        );
    }

    #[test]
    fn time_bound_stops_and_warns() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "opt/IBM/x/t.swidtag");
        let root = Root::new(dir.path());
        let mut w = Warnings::new("ibm_installs");
        let mut l = limits(6, 10_000);
        // A budget already spent: the bound is hit whatever the clock says.
        l.time_budget = Duration::ZERO;
        let f = search(&root, &["opt/IBM".into()], &l, &mut w);
        assert!(f.swidtags.is_empty());
        let m = messages(w);
        assert!(m.len() == 1 && m[0].contains("--ibm-budget-ms"), "{m:?}");
    }
}
