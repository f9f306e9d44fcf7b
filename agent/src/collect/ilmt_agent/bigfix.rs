//! The BigFix client (`BESClient`), through which ILMT's scanner runs on a connected host.
//!
//! - Installed: `opt/BESClient/bin/BESClient`.
//! - Computer id: `var/opt/BESClient/besclient.config`, an INI file that mirrors the Windows
//!   registry: `[Software\BigFix\EnterpriseClient\GlobalOptions]` holds `ComputerId` (and
//!   `RegCount`, `StoragePath`, `LibPath`). The key name is the Windows registry value's; that
//!   the Linux client writes it the same way is (uncertain), so its absence is a warning, not an
//!   error.
//! - Version: the client log `var/opt/BESClient/__BESData/__Global/Logs/YYYYMMDD.log` says
//!   `Client version 10.0.9.21 …` in its header and `Starting client version …` at each start;
//!   else the `BESAgent` rpm / `besagent` deb package.
//! - ILMT scans: the scanner (CIT) lives in `var/opt/BESClient/LMT/CIT/` (`runcit_sw.sh`); the
//!   names of the scan output files there could not be confirmed, so the newest modification
//!   time of files whose names say software scan, capacity (hardware) scan or upload is used,
//!   and the evidence says so.
//! - VM manager: `var/opt/BESClient/LMT/VMMAN/`.

use std::collections::BTreeMap;
use std::io::Read;

use subcap_proto::v1 as pb;

use super::procs::Procs;
use super::timefmt::{file_secs, show};
use super::Times;
use crate::collect::ibm::packages::Installed;
use crate::collect::{evidence, probe, Warnings};
use crate::root::Root;

pub const CLIENT: &str = "opt/BESClient/bin/BESClient";
pub const CONFIG: &str = "var/opt/BESClient/besclient.config";
pub const LOGS: &str = "var/opt/BESClient/__BESData/__Global/Logs";
pub const MASTHEAD: &str = "etc/opt/BESClient/actionsite.afxm";
pub const LMT: &str = "var/opt/BESClient/LMT";
pub const VMMAN: &str = "var/opt/BESClient/LMT/VMMAN";

const GLOBAL_OPTIONS: &str = "Software\\BigFix\\EnterpriseClient\\GlobalOptions";
/// Bytes read from the start of a client log.
const LOG_READ_LIMIT: u64 = 1024 * 1024;
/// Newest logs looked at for the version.
const LOGS_TRIED: usize = 3;
/// Bounds of the walk of the LMT folder.
const LMT_MAX_DEPTH: usize = 4;
const LMT_MAX_ENTRIES: usize = 5_000;

/// `[section]` → key → value of an INI-style file; names as written, later values win.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

pub fn parse_config(text: &str) -> Ini {
    let mut out: Ini = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

/// A value of `[section] key`, both ASCII case-insensitive.
pub fn ini_value<'a>(ini: &'a Ini, section: &str, key: &str) -> Option<&'a str> {
    ini.iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(section))
        .and_then(|(_, kv)| kv.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
        .map(|(_, v)| v.as_str())
}

/// The BigFix computer id: the decimal `ComputerId` of the global options.
pub fn computer_id(ini: &Ini) -> Option<String> {
    let v = ini_value(ini, GLOBAL_OPTIONS, "ComputerId")?;
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.to_string())
}

/// The client version a log names last (`Client version 10.0.9.21 built for …`, `Starting
/// client version 10.0.9.21`).
pub fn log_version(text: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        let Some(i) = lower.find("client version ") else {
            continue;
        };
        let rest = &line[i + "client version ".len()..];
        let v: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit()) {
            found = Some(v.trim_end_matches('.').to_string());
        }
    }
    found
}

/// What kind of ILMT output a file name is: software scan, capacity scan, upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Output {
    Software,
    Capacity,
    Upload,
}

/// Classifies a file under the LMT folder by its name (see the module note: a pattern, since
/// the real names are unconfirmed). Scripts and configuration are not outputs.
pub fn classify(name: &str) -> Option<Output> {
    let n = name.to_ascii_lowercase();
    let not_output = [
        ".sh",
        ".bat",
        ".cmd",
        ".ini",
        ".cfg",
        ".config",
        ".properties",
        ".jar",
        ".so",
        ".exe",
    ];
    if not_output.iter().any(|e| n.ends_with(e)) {
        return None;
    }
    if n.contains("upload") {
        Some(Output::Upload)
    } else if [
        "hw_scan", "hwscan", "tlm_hw", "capacity", "cit_hw", "hardware",
    ]
    .iter()
    .any(|p| n.contains(p))
    {
        Some(Output::Capacity)
    } else if [
        "catalog_scan",
        "isotag_scan",
        "iso_scan",
        "sw_scan",
        "swscan",
        "package_scan",
        "pkg_scan",
        "filesys",
        "software",
        "slmtag_scan",
    ]
    .iter()
    .any(|p| n.contains(p))
    {
        Some(Output::Software)
    } else {
        None
    }
}

/// The newest output of each kind under `dir` (bounded walk): (seconds, path).
fn newest_outputs(root: &Root, dir: &str, w: &mut Warnings) -> BTreeMap<Output, (i64, String)> {
    let mut newest: BTreeMap<Output, (i64, String)> = BTreeMap::new();
    let mut stack = vec![(dir.to_string(), 0usize)];
    let mut entries = 0usize;
    while let Some((d, depth)) = stack.pop() {
        let names = match root.read_dir(&d) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                w.read_failed(&e);
                continue;
            }
        };
        for name in names {
            entries += 1;
            if entries > LMT_MAX_ENTRIES {
                w.warn(
                    dir,
                    format!("more than {LMT_MAX_ENTRIES} entries: the rest is not looked at"),
                );
                return newest;
            }
            let rel = format!("{d}/{name}");
            let Ok(m) = root.metadata(&rel) else { continue };
            if m.is_dir() {
                if depth < LMT_MAX_DEPTH && !rel.starts_with(VMMAN) {
                    stack.push((rel, depth + 1));
                }
                continue;
            }
            let (Some(kind), Some(secs)) = (classify(&name), m.modified().ok().and_then(file_secs))
            else {
                continue;
            };
            let better = newest
                .get(&kind)
                .is_none_or(|(s, p)| (secs, &rel) > (*s, p));
            if better {
                newest.insert(kind, (secs, rel));
            }
        }
    }
    newest
}

/// The BigFix client's part of the health, filling `h`; returns the computer id.
pub fn collect(
    root: &Root,
    procs: Option<&Procs>,
    h: &mut pb::IlmtAgentHealth,
    times: &mut Times,
    w: &mut Warnings,
) -> String {
    let ev = &mut h.evidence;
    let installed = root.metadata(CLIENT).is_ok_and(|m| m.is_file());
    let has_data = root.is_dir("var/opt/BESClient");
    if !installed && !has_data {
        evidence(ev, CLIENT, "not found: BigFix client not installed");
        return String::new();
    }
    h.bigfix_installed = installed;
    if installed {
        evidence(ev, CLIENT, "present");
    } else {
        evidence(
            ev,
            CLIENT,
            "not found, but var/opt/BESClient exists: client removed or damaged",
        );
    }
    if root.exists(MASTHEAD) {
        evidence(
            ev,
            MASTHEAD,
            "masthead present (client bound to a BigFix server)",
        );
    }

    // Computer id.
    let mut id = String::new();
    match probe(root, CONFIG, w) {
        Some(text) => {
            let ini = parse_config(&text);
            match computer_id(&ini) {
                Some(c) => {
                    evidence(ev, CONFIG, format!("[{GLOBAL_OPTIONS}] ComputerId = {c}"));
                    id = c;
                }
                None => w.warn(
                    CONFIG,
                    format!(
                        "no numeric ComputerId in [{GLOBAL_OPTIONS}]: BigFix computer id unknown \
                         (client not registered yet?)"
                    ),
                ),
            }
            if let Some(r) = ini_value(&ini, GLOBAL_OPTIONS, "RegCount") {
                evidence(ev, CONFIG, format!("[{GLOBAL_OPTIONS}] RegCount = {r}"));
            }
        }
        None if installed => w.warn(
            CONFIG,
            "BigFix client installed but besclient.config not found: computer id unknown",
        ),
        None => {}
    }

    // Version: client log, else package.
    let logs = match root.read_dir(LOGS) {
        Ok(n) => n.into_iter().filter(|n| n.ends_with(".log")).collect(),
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => {
            w.read_failed(&e);
            Vec::new()
        }
    };
    if let Some(newest) = logs.last() {
        let rel = format!("{LOGS}/{newest}");
        if let Some(secs) = root
            .metadata(&rel)
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(file_secs)
        {
            evidence(
                ev,
                rel,
                format!("newest client log, last written {}", show(secs)),
            );
        }
    }
    for name in logs.iter().rev().take(LOGS_TRIED) {
        let rel = format!("{LOGS}/{name}");
        let mut bytes = Vec::new();
        if root
            .open(&rel)
            .map(|f| f.take(LOG_READ_LIMIT).read_to_end(&mut bytes))
            .is_err()
        {
            continue;
        }
        if let Some(v) = log_version(&String::from_utf8_lossy(&bytes)) {
            evidence(ev, rel, format!("client version {v}"));
            h.bigfix_version = v;
            break;
        }
    }
    if h.bigfix_version.is_empty() {
        // Read again for this collector; its problems are the IBM install collector's to report.
        let mut quiet = Warnings::new("ilmt_agent");
        let installed_packages = Installed::read(root, &mut quiet);
        for (source, packages) in installed_packages
            .dpkg
            .iter()
            .chain(installed_packages.rpm.iter())
        {
            if let Some(p) = packages
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case("besagent"))
            {
                evidence(
                    ev,
                    source.clone(),
                    format!("package {} {}", p.name, p.version),
                );
                h.bigfix_version = p.version.clone();
                break;
            }
        }
    }
    if h.bigfix_version.is_empty() && installed {
        w.warn(
            LOGS,
            "BigFix client version unknown: no client log names it and no BESAgent package",
        );
    }

    // Running.
    match procs {
        Some(p) => {
            let running = p.find(&["BESClient"]);
            h.bigfix_running = !running.is_empty();
            evidence(
                ev,
                "proc/*/comm",
                match running.first() {
                    Some((n, pid)) => format!("{n} running as pid {pid}"),
                    None => "no BESClient process".to_string(),
                },
            );
            if let Some((n, pid)) = p
                .find(&["runcit_sw.sh", "wscansw", "wscanfs", "wscanhw"])
                .first()
            {
                evidence(
                    ev,
                    "proc/*/comm",
                    format!("ILMT scan in progress: {n} pid {pid}"),
                );
            }
        }
        None => evidence(
            ev,
            "proc",
            "no process list: whether BESClient runs is unknown",
        ),
    }

    // ILMT scanner under BigFix.
    if root.is_dir(LMT) {
        evidence(ev, LMT, "ILMT scanner folder present");
        for (kind, (secs, rel)) in newest_outputs(root, LMT, w) {
            let what = match kind {
                Output::Software => "software scan",
                Output::Capacity => "capacity scan",
                Output::Upload => "upload",
            };
            evidence(
                ev,
                rel,
                format!(
                    "newest {what} output, modified {} (file time; ILMT's file names on BigFix \
                     clients are matched by pattern, not confirmed)",
                    show(secs)
                ),
            );
            times.note(kind, secs);
        }
    } else if installed {
        evidence(ev, LMT, "not found: ILMT scanner not deployed by BigFix");
    }
    if let Ok(m) = root.metadata(VMMAN) {
        if m.is_dir() {
            h.vm_manager_present = true;
            evidence(ev, VMMAN, "VM manager tool folder present");
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG_TEXT: &str = "[Software\\BigFix\\EnterpriseClient]
EnterpriseClientFolder         = /opt/BESClient

[Software\\BigFix\\EnterpriseClient\\GlobalOptions]
StoragePath                    = /var/opt/BESClient
LibPath                        = /opt/BESClient/BESLib
ComputerId                     = 1612345678
RegCount                       = 4

[Software\\BigFix\\EnterpriseClient\\Settings\\Client\\_BESClient_EMsg_Detail]
effective date                 = Mon,%2015%20Jan%202024%2010:00:00%20+0000
value                          = 0
";

    #[test]
    fn config() {
        let ini = parse_config(CONFIG_TEXT);
        assert_eq!(computer_id(&ini).as_deref(), Some("1612345678"));
        assert_eq!(
            ini_value(
                &ini,
                "software\\bigfix\\enterpriseclient\\globaloptions",
                "regcount"
            ),
            Some("4")
        );
        assert_eq!(
            ini_value(
                &ini,
                "Software\\BigFix\\EnterpriseClient",
                "EnterpriseClientFolder"
            ),
            Some("/opt/BESClient")
        );
        for bad in [
            "",
            "[Software\\BigFix\\EnterpriseClient\\GlobalOptions]\nComputerId = \n",
            "[Software\\BigFix\\EnterpriseClient\\GlobalOptions]\nComputerId = abc\n",
            "ComputerId = 12\n",
        ] {
            assert_eq!(computer_id(&parse_config(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn versions_in_logs() {
        for (log, want) in [
            (
                "Current Date: January 15, 2024\n   Client version 10.0.9.21 built for Linux 3.10 x86_64 running on Linux 5.14.0 x86_64\n   Current Relay: relay1.example.com\n",
                Some("10.0.9.21"),
            ),
            (
                "At 09:00:01 +0000 -\n   Starting client version 9.5.22.71\n   FIPS mode disabled by default.\nAt 10:00:00 +0000 -\n   Starting client version 10.0.9.21\n",
                Some("10.0.9.21"),
            ),
            ("At 09:00:01 +0000 -\n   ActionLogMessage: (action:1) ending\n", None),
            ("client version unknown\n", None),
        ] {
            assert_eq!(log_version(log).as_deref(), want, "{log}");
        }
    }

    #[test]
    fn output_names() {
        for (n, want) in [
            ("catalog_scan.xml", Some(Output::Software)),
            ("isotag_scan.xml", Some(Output::Software)),
            ("tlm_hw_last.xml", Some(Output::Capacity)),
            ("capacity_scan_results.xml", Some(Output::Capacity)),
            ("upload_status.txt", Some(Output::Upload)),
            ("runcit_sw.sh", None),
            ("sw_config.xml", None),
            ("README", None),
        ] {
            assert_eq!(classify(n), want, "{n}");
        }
    }
}
