//! ILMT's disconnected scanner: a folder of scripts and the CIT scanner, run from cron, whose
//! results are uploaded to ILMT or carried there by hand.
//!
//! - Where: `var/opt/ibm/LMTScanner` by default, and wherever root's crontab runs its
//!   `<dir>/bin/run_sw_and_pack_CRON.sh` (or the other `*_CRON.sh` links `setup.sh` schedules).
//! - Installed and version: `iso-swid/ibm.com_IBM_License_Metric_Tool-<version>.swidtag`.
//! - Endpoint id: `config/endpoint_id.txt`.
//! - Scan and upload times: `work/scanner_status.yml`, `key: value` lines the scripts write with
//!   `date -u +%Y-%m-%dT%H:%M:%SZ`: for each operation `<prefix>_status`, `<prefix>_time` (last
//!   attempt) and `<prefix>_success_time`; prefixes `last_sw_scan` (and its parts
//!   `last_sw_catalog_scan`, `last_sw_package_scan`, `last_sw_iso_scan`), `last_hw_scan`,
//!   `last_results_upload`, `last_results_pack_and_upload`, `last_results_sw_scan_and_upload`.
//!   Only successful operations count as scans or uploads; a failed last attempt is evidence.
//! - Running: a scanner script or CIT scan binary in the process list.

use std::collections::BTreeMap;

use subcap_proto::v1 as pb;

use super::bigfix::Output;
use super::procs::Procs;
use super::timefmt::{parse_iso8601, show};
use super::Times;
use crate::collect::ibm::swid;
use crate::collect::{evidence, probe, Warnings};
use crate::root::Root;

pub const DEFAULT_DIR: &str = "var/opt/ibm/LMTScanner";
/// Root's crontab (Red Hat / SUSE, then Debian / Ubuntu layout).
pub const CRONTABS: &[&str] = &["var/spool/cron/root", "var/spool/cron/crontabs/root"];
/// The links `setup.sh` schedules, under `<dir>/bin/`.
const CRON_LINKS: &[&str] = &[
    "run_sw_and_pack_CRON.sh",
    "run_sw_and_upload_CRON.sh",
    "run_hw_CRON.sh",
    "pack_results_CRON.sh",
    "pack_and_upload_results_CRON.sh",
];
/// Process names (15-character `comm`) of the scanner's scripts.
const SCRIPTS: &[&str] = &[
    "run_sw_and_pack",
    "run_sw_and_uplo",
    "run_hw.sh",
    "pack_results.sh",
    "pack_and_upload",
];
/// Process names of CIT's scan binaries (shared with ILMT's BigFix-deployed scanner).
const CIT: &[&str] = &["wscansw", "wscanfs", "wscanhw"];

/// The `key: value` lines of `scanner_status.yml` (comments and empty values left out).
pub fn parse_status(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            (!k.trim().is_empty() && !v.is_empty()).then(|| (k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// The newest successful time among `prefixes`: (seconds, key).
fn newest_success(status: &BTreeMap<String, String>, prefixes: &[&str]) -> Option<(i64, String)> {
    prefixes
        .iter()
        .filter_map(|p| {
            let key = format!("{p}_success_time");
            let secs = parse_iso8601(status.get(&key)?)?;
            Some((secs, key))
        })
        .max()
}

/// Software scan, capacity scan and upload times of a status file.
pub fn status_times(status: &BTreeMap<String, String>) -> BTreeMap<Output, (i64, String)> {
    let mut out = BTreeMap::new();
    let software = newest_success(status, &["last_sw_scan", "last_results_sw_scan_and_upload"])
        .or_else(|| {
            newest_success(
                status,
                &[
                    "last_sw_catalog_scan",
                    "last_sw_package_scan",
                    "last_sw_iso_scan",
                ],
            )
        });
    let capacity = newest_success(status, &["last_hw_scan"]);
    let upload = newest_success(
        status,
        &[
            "last_results_upload",
            "last_results_pack_and_upload",
            "last_results_sw_scan_and_upload",
        ],
    );
    for (kind, t) in [
        (Output::Software, software),
        (Output::Capacity, capacity),
        (Output::Upload, upload),
    ] {
        if let Some(t) = t {
            out.insert(kind, t);
        }
    }
    out
}

/// Operations whose last attempt failed: (prefix, status, attempt time).
pub fn failures(status: &BTreeMap<String, String>) -> Vec<(String, String, String)> {
    status
        .iter()
        .filter_map(|(k, v)| {
            let prefix = k.strip_suffix("_status")?;
            if v == "0" {
                return None;
            }
            let when = status
                .get(&format!("{prefix}_time"))
                .cloned()
                .unwrap_or_default();
            Some((prefix.to_string(), v.clone(), when))
        })
        .collect()
}

/// Scanner runs root's crontab schedules: (folder relative to the root, schedule line), one per
/// line.
pub fn cron_dirs(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        for link in CRON_LINKS {
            let needle = format!("/bin/{link}");
            let Some(i) = t.find(&needle) else { continue };
            // The folder is the path before /bin/, after the schedule fields (and a quote).
            let before = &t[..i];
            let start = before
                .char_indices()
                .rev()
                .find(|(_, c)| c.is_whitespace() || *c == '"' || *c == '\'')
                .map(|(p, c)| p + c.len_utf8())
                .unwrap_or(0);
            let dir = before[start..].trim_matches('/');
            if !dir.is_empty() {
                out.push((dir.to_string(), t.to_string()));
            }
        }
    }
    out
}

/// The disconnected scanner's part of the health.
pub fn collect(
    root: &Root,
    procs: Option<&Procs>,
    h: &mut pb::IlmtAgentHealth,
    times: &mut Times,
    w: &mut Warnings,
) {
    let ev = &mut h.evidence;
    let mut dirs = vec![DEFAULT_DIR.to_string()];
    for crontab in CRONTABS {
        if let Some(text) = probe(root, crontab, w) {
            for (dir, line) in cron_dirs(&text) {
                evidence(ev, *crontab, format!("scanner scheduled: {line}"));
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
    }
    let mut any = false;
    for dir in &dirs {
        any |= one(root, dir, h, times, w);
    }
    let ev = &mut h.evidence;
    if !any {
        evidence(
            ev,
            DEFAULT_DIR,
            "not found: disconnected scanner not installed",
        );
        return;
    }
    match procs {
        Some(p) => {
            let mut running = p.find(SCRIPTS);
            if !h.bigfix_installed {
                running.extend(p.find(CIT));
            }
            h.scanner_running = !running.is_empty();
            evidence(
                ev,
                "proc/*/comm",
                match running.first() {
                    Some((n, pid)) => format!("scanner running: {n} pid {pid}"),
                    None => "no scanner process (it runs from cron; not running between scans \
                             is normal)"
                        .to_string(),
                },
            );
        }
        None => evidence(
            ev,
            "proc",
            "no process list: whether the scanner runs is unknown",
        ),
    }
}

/// One scanner folder; whether a scanner is there.
fn one(
    root: &Root,
    dir: &str,
    h: &mut pb::IlmtAgentHealth,
    times: &mut Times,
    w: &mut Warnings,
) -> bool {
    if !root.is_dir(dir) {
        return false;
    }
    let ev = &mut h.evidence;
    let tag_dir = format!("{dir}/iso-swid");
    let tag = root
        .read_dir(&tag_dir)
        .unwrap_or_default()
        .into_iter()
        .rfind(|n| n.starts_with("ibm.com_IBM_License_Metric_Tool") && n.ends_with(".swidtag"));
    let status_path = format!("{dir}/work/scanner_status.yml");
    let config = format!("{dir}/config/setup_config.ini");
    if tag.is_none() && !root.exists(&status_path) && !root.exists(&config) {
        return false;
    }
    h.scanner_installed = true;
    if let Some(name) = tag {
        let rel = format!("{tag_dir}/{name}");
        let version = probe(root, &rel, w)
            .and_then(|t| match swid::parse(&t) {
                Ok(t) if !t.version.is_empty() => Some(t.version),
                Ok(_) => None,
                Err(e) => {
                    w.warn(rel.clone(), e.to_string());
                    None
                }
            })
            .or_else(|| swid::version_from_file_name(&name));
        if let Some(v) = version {
            evidence(ev, rel, format!("disconnected scanner version {v}"));
            if h.scanner_version.is_empty() {
                h.scanner_version = v;
            }
        }
    } else {
        w.warn(
            tag_dir,
            "disconnected scanner without its ISO tag: version unknown (scanner not properly \
             extracted?)",
        );
    }
    let endpoint = format!("{dir}/config/endpoint_id.txt");
    if let Some(id) = probe(root, &endpoint, w) {
        let id = id.lines().next().unwrap_or("").trim().to_string();
        evidence(ev, endpoint, format!("endpoint id {id}"));
    }
    match probe(root, &status_path, w) {
        Some(text) => {
            let status = parse_status(&text);
            for (kind, (secs, key)) in status_times(&status) {
                evidence(ev, status_path.clone(), format!("{key}: {}", show(secs)));
                times.note(kind, secs);
            }
            for (prefix, code, when) in failures(&status) {
                evidence(
                    ev,
                    status_path.clone(),
                    format!("{prefix}: last attempt {when} failed with status {code}"),
                );
            }
        }
        None => w.warn(
            status_path,
            "disconnected scanner installed but scanner_status.yml not found: no scan has run \
             (or setup.sh was not run)",
        ),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "# Scan statistics
last_sw_scan_status: 0
last_sw_scan_time: 2024-03-10T01:00:04Z
last_sw_scan_success_time: 2024-03-10T01:00:04Z

last_sw_package_scan_status: 0
last_sw_package_scan_time: 2024-03-10T00:58:01Z
last_sw_package_scan_success_time: 2024-03-10T00:58:01Z

last_hw_scan_status: 3
last_hw_scan_time: 2024-03-11T00:30:00Z
last_hw_scan_success_time: 2024-03-04T00:30:00Z
last_hw_scan_change_time: 2024-01-02T00:30:00Z

last_results_packaging_status: 0
last_results_packaging_time: 2024-03-10T01:02:00Z
last_results_packaging_success_time: 2024-03-10T01:02:00Z

last_results_upload_status:
last_results_upload_time:
last_results_upload_success_time:

# Helper settings
vmman_package_num: 0
sw_scan_for_upload: false
hw_scan_for_upload: false
";

    #[test]
    fn status_file() {
        let s = parse_status(STATUS);
        assert_eq!(
            s.get("sw_scan_for_upload").map(String::as_str),
            Some("false")
        );
        assert!(!s.contains_key("last_results_upload_time"));
        let t = status_times(&s);
        let got: Vec<(Output, String)> = t
            .into_iter()
            .map(|(k, (secs, _))| (k, show(secs)))
            .collect();
        assert_eq!(
            got,
            vec![
                (Output::Software, "2024-03-10T01:00:04Z".to_string()),
                (Output::Capacity, "2024-03-04T00:30:00Z".to_string()),
            ],
            "no upload yet; the failed capacity scan does not count"
        );
        assert_eq!(
            failures(&s),
            vec![(
                "last_hw_scan".to_string(),
                "3".to_string(),
                "2024-03-11T00:30:00Z".to_string()
            )]
        );
    }

    #[test]
    fn uploads_from_any_upload_operation() {
        let s = parse_status(
            "last_results_upload_success_time: 2024-03-01T00:00:00Z\nlast_results_sw_scan_and_upload_success_time: 2024-03-12T05:00:00Z\n",
        );
        let t = status_times(&s);
        assert_eq!(
            t.get(&Output::Upload).map(|(s, _)| show(*s)).as_deref(),
            Some("2024-03-12T05:00:00Z")
        );
        assert_eq!(
            t.get(&Output::Software).map(|(s, _)| show(*s)).as_deref(),
            Some("2024-03-12T05:00:00Z")
        );
    }

    #[test]
    fn garbage_status_is_empty() {
        let s = parse_status("\u{0}\u{1}::\n: no key\nlast_sw_scan_success_time: not a date\n");
        assert!(status_times(&s).is_empty());
    }

    #[test]
    fn crontab_lines() {
        let text = "# DO NOT EDIT THIS FILE\n0 1 * * * \"/opt/LMTScanner/bin/run_sw_and_pack_CRON.sh\"\n30 0 * * * \"/opt/LMTScanner/bin/run_hw_CRON.sh\"\n15 2 * * 0 /data/scan2/bin/pack_results_CRON.sh\n0 3 * * * /usr/bin/other.sh\n";
        // A multi-byte space before the path is a separator like any other.
        let text = format!("{text}0 4 * * *\u{3000}/srv/s3/bin/run_hw_CRON.sh\n");
        let got: Vec<String> = cron_dirs(&text).into_iter().map(|(d, _)| d).collect();
        assert_eq!(
            got,
            vec!["opt/LMTScanner", "opt/LMTScanner", "data/scan2", "srv/s3"]
        );
    }
}
