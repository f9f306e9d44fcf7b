//! Composing one demo host's root tree: the platform fixture, its IBM overlays on top, then the
//! host's own identity (names, address, machine id, DMI UUID and serial, BigFix computer id) and
//! the overlays' file times moved to today. The pure parts (what to write, how far to move the
//! times) are plain functions; [`compose`] does the copying.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use subcap_agent::collect::ilmt_agent::timefmt::parse_iso8601;

use super::estate::HostSpec;
use super::DemoError;

/// The instant the fixtures' file times are relative to (`subcap_tests::FIXTURE_TIME`):
/// 2026-11-23T00:00:00Z.
pub const FIXTURE_TIME_SECS: i64 = 1_795_392_000;

const DMI: &str = "sys/class/dmi/id";
const BESCLIENT_CONFIG: &str = "var/opt/BESClient/besclient.config";

/// 32 bytes derived from the host's name and a purpose: the same host gets the same identity on
/// every run, different hosts different ones.
fn derive(fqdn: &str, purpose: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("subcap demo {purpose} {fqdn}").as_bytes(),
    );
    out.copy_from_slice(d.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The host's DMI product UUID as Linux shows it (a version 4 UUID, lower-case).
pub fn product_uuid(fqdn: &str) -> String {
    let d = derive(fqdn, "uuid");
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The host's `/etc/machine-id` (32 lower-case hex digits).
pub fn machine_id(fqdn: &str) -> String {
    hex(&derive(fqdn, "machine-id")[..16])
}

/// The DMI serial to write, in the form the fixture's own serial has: VMware's `VMware-` form
/// (the UUID's bytes in SMBIOS order), the UUID itself where the platform puts it there, a
/// vendor serial otherwise; `None` keeps a placeholder (`0`, `None`, empty) as it is.
pub fn dmi_serial(old_serial: &str, old_uuid: &str, new_uuid: &str, fqdn: &str) -> Option<String> {
    let old = old_serial.trim();
    if old.is_empty() || matches!(old, "0" | "None" | "Not Specified") {
        return None;
    }
    if old.starts_with("VMware-") {
        let digits: String = new_uuid.chars().filter(char::is_ascii_hexdigit).collect();
        let bytes: Vec<&str> = (0..16)
            .filter_map(|i| digits.get(i * 2..i * 2 + 2))
            .collect();
        if bytes.len() != 16 {
            return None;
        }
        // SMBIOS stores the first three fields little-endian; VMware's serial shows those bytes.
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
        let b: Vec<&str> = order
            .iter()
            .filter_map(|&i| bytes.get(i).copied())
            .collect();
        return Some(format!("VMware-{}-{}", b[..8].join(" "), b[8..].join(" ")));
    }
    if old.eq_ignore_ascii_case(old_uuid.trim()) {
        return Some(new_uuid.to_string());
    }
    Some(format!(
        "DMO{}",
        hex(&derive(fqdn, "serial")[..4]).to_ascii_uppercase()
    ))
}

/// The files that give a host its names and address: (path relative to the root, contents).
pub fn identity_files(host: &HostSpec) -> Vec<(String, String)> {
    let ip = host.ip;
    vec![
        ("etc/hostname".into(), format!("{}\n", host.short)),
        (
            "proc/sys/kernel/hostname".into(),
            format!("{}\n", host.short),
        ),
        (
            "etc/hosts".into(),
            format!(
                "127.0.0.1   localhost localhost.localdomain\n::1         localhost\n{ip}  {} {}\n",
                host.name, host.short
            ),
        ),
        (
            "etc/machine-id".into(),
            format!("{}\n", machine_id(&host.name)),
        ),
        (
            // The kernel's routing trie, as /proc/net/fib_trie prints it: the agent takes the
            // addresses of the host's LOCAL /32 routes.
            "proc/net/fib_trie".into(),
            format!(
                "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     \
                 |-- {ip}\n        /32 host LOCAL\nLocal:\n  +-- 0.0.0.0/0 3 0 5\n     \
                 |-- 127.0.0.1\n        /32 host LOCAL\n     |-- {ip}\n        /32 host LOCAL\n"
            ),
        ),
    ]
}

/// `besclient.config` with its `ComputerId` set to `id`; `None` when it has no such line.
pub fn set_computer_id(config: &str, id: u64) -> Option<String> {
    let mut found = false;
    let mut out = String::with_capacity(config.len());
    for line in config.split_inclusive('\n') {
        let key = line.split('=').next().unwrap_or_default().trim();
        if !found && key == "ComputerId" && line.contains('=') {
            let (name, _) = line.split_once('=').unwrap_or((line, ""));
            out.push_str(name);
            out.push_str(&format!("= {id}\n"));
            found = true;
        } else {
            out.push_str(line);
        }
    }
    found.then_some(out)
}

/// The lines of an `mtimes.txt`: `<path relative to root> <ISO 8601 UTC time>`; `#` comments.
pub fn parse_mtimes(text: &str) -> Result<Vec<(String, i64)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (path, time) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("line {}: not `<path> <time>`", n + 1))?;
        let path = path.trim();
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(format!(
                "line {}: {path:?} is not a path inside the root",
                n + 1
            ));
        }
        let secs = parse_iso8601(time.trim())
            .ok_or_else(|| format!("line {}: {time:?} is not an ISO 8601 time", n + 1))?;
        out.push((path.to_string(), secs));
    }
    Ok(out)
}

/// Seconds to add to an overlay's file times. With `newest_days_ago`, the newest time lands that
/// many days before `now` (the spacing between files is kept); without it every time keeps its
/// distance from [`FIXTURE_TIME_SECS`], moved to `now`.
pub fn mtime_shift(times: &[(String, i64)], now: i64, newest_days_ago: Option<u32>) -> i64 {
    match (newest_days_ago, times.iter().map(|(_, t)| *t).max()) {
        (Some(days), Some(newest)) => now - i64::from(days) * 86_400 - newest,
        _ => now - FIXTURE_TIME_SECS,
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Puts the tree `from` onto `to`, replacing what is there: files as hard links to the fixture's
/// (a copy where the file system refuses a link), symbolic links as links. Files are never
/// written through a link: [`replace`] and [`own_copy`] give a file its own inode first, so the
/// fixtures stay untouched.
fn copy_tree(from: &Path, to: &Path) -> Result<(), DemoError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ft = entry.file_type().map_err(io(&src))?;
        if let Ok(existing) = std::fs::symlink_metadata(&dst) {
            // A file or link gives way to what the overlay has; a folder onto a folder merges.
            if !(ft.is_dir() && existing.is_dir()) {
                if existing.is_dir() {
                    std::fs::remove_dir_all(&dst).map_err(io(&dst))?;
                } else {
                    std::fs::remove_file(&dst).map_err(io(&dst))?;
                }
            }
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(&src).map_err(io(&src))?;
            std::os::unix::fs::symlink(target, &dst).map_err(io(&dst))?;
        } else if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(io(&dst))?;
        }
    }
    Ok(())
}

/// Writes `contents` to a new file at `path` (what was there, perhaps a link to a fixture, is
/// removed first, never written through).
fn replace(path: &Path, contents: &[u8]) -> Result<(), DemoError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    std::fs::write(path, contents).map_err(io(path))
}

/// Gives the file at `path` its own inode (same contents), so its metadata can change.
fn own_copy(path: &Path) -> Result<(), DemoError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    replace(path, &bytes)
}

fn write(path: &Path, contents: &str) -> Result<(), DemoError> {
    replace(path, contents.as_bytes())
}

fn read_first_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|t| t.lines().next().unwrap_or_default().trim().to_string())
        .unwrap_or_default()
}

/// A fixture folder's `root/`, or an error naming what is missing.
fn fixture_root(fixtures: &Path, group: &str, name: &str) -> Result<PathBuf, DemoError> {
    let root = fixtures.join(group).join(name).join("root");
    if root.is_dir() {
        Ok(root)
    } else {
        Err(DemoError::Fixture {
            path: root.display().to_string(),
            problem: format!("no such fixture tree (the estate names {group}/{name})"),
        })
    }
}

/// Applies a fixture's `mtimes.txt` (when it has one) to the composed tree in `dest`.
fn apply_mtimes(
    fixture: &Path,
    dest: &Path,
    now: i64,
    newest_days_ago: Option<u32>,
) -> Result<bool, DemoError> {
    let file = fixture.join("mtimes.txt");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(&file)(e)),
    };
    let times = parse_mtimes(&text).map_err(|problem| DemoError::Fixture {
        path: file.display().to_string(),
        problem,
    })?;
    let shift = mtime_shift(&times, now, newest_days_ago);
    for (rel, secs) in times {
        let path = dest.join(&rel);
        let at = u64::try_from(secs + shift).unwrap_or(0);
        own_copy(&path)?;
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(at)))
            .map_err(io(&path))?;
    }
    Ok(true)
}

/// Builds `host`'s root tree in `dest` from the fixtures in `fixtures` (`tests/fixtures`), as of
/// `now` (seconds since the epoch).
pub fn compose(fixtures: &Path, host: &HostSpec, dest: &Path, now: i64) -> Result<(), DemoError> {
    let platform = fixture_root(fixtures, "hosts", &host.platform)?;
    copy_tree(&platform, dest)?;
    let overlays = host
        .ibm
        .iter()
        .map(|o| fixture_root(fixtures, "ibm-hosts", o))
        .collect::<Result<Vec<_>, _>>()?;
    for o in &overlays {
        copy_tree(o, dest)?;
    }

    for (rel, contents) in identity_files(host) {
        write(&dest.join(rel), &contents)?;
    }
    let dmi = dest.join(DMI);
    if dmi.is_dir() {
        let old_uuid = read_first_line(&dmi.join("product_uuid"));
        let old_serial = read_first_line(&dmi.join("product_serial"));
        let uuid = product_uuid(&host.name);
        write(&dmi.join("product_uuid"), &format!("{uuid}\n"))?;
        if let Some(serial) = dmi_serial(&old_serial, &old_uuid, &uuid, &host.name) {
            write(&dmi.join("product_serial"), &format!("{serial}\n"))?;
        }
    }
    let config = dest.join(BESCLIENT_CONFIG);
    if config.is_file() {
        let fixture_problem = |problem: String| DemoError::Host {
            host: host.name.clone(),
            problem,
        };
        let id = host.bigfix_id.ok_or_else(|| {
            fixture_problem(format!(
                "an overlay brings a BigFix client ({BESCLIENT_CONFIG}) but the estate gives no bigfix_id"
            ))
        })?;
        let text = std::fs::read_to_string(&config).map_err(io(&config))?;
        let updated = set_computer_id(&text, id)
            .ok_or_else(|| fixture_problem(format!("{BESCLIENT_CONFIG} has no ComputerId line")))?;
        write(&config, &updated)?;
    }

    // File times last: the writes above must not be what the agent sees as scan times.
    let fixture_dir = |root: &Path| root.parent().map(Path::to_path_buf).unwrap_or_default();
    apply_mtimes(&fixture_dir(&platform), dest, now, None)?;
    let mut shifted = false;
    for o in &overlays {
        shifted |= apply_mtimes(&fixture_dir(o), dest, now, host.scans_days_ago)?;
    }
    if host.scans_days_ago.is_some() && !shifted {
        return Err(DemoError::Host {
            host: host.name.clone(),
            problem: "scans_days_ago is given but no ibm overlay has an mtimes.txt to move".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::estate::Estate;

    #[test]
    fn identities_are_stable_distinct_and_well_formed() {
        let a = product_uuid("db01.demo.example");
        assert_eq!(a, product_uuid("db01.demo.example"));
        assert_ne!(a, product_uuid("db02.demo.example"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4', "{a}: version 4");
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
        let m = machine_id("db01.demo.example");
        assert_eq!(m.len(), 32);
        assert!(m.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn serials_keep_the_fixture_form() {
        let uuid = "5e8a1c42-9d3b-412f-8a6c-0e4d2b198f33";
        // VMware: the UUID's bytes in SMBIOS order (the fixture's own pair shows the rule).
        assert_eq!(
            dmi_serial(
                "VMware-42 1c 8a 5e 3b 9d 2f 11-7a 6c 0e 4d 2b 19 8f 33",
                "5e8a1c42-9d3b-112f-7a6c-0e4d2b198f33",
                uuid,
                "h"
            )
            .as_deref(),
            Some("VMware-42 1c 8a 5e 3b 9d 2f 41-8a 6c 0e 4d 2b 19 8f 33")
        );
        assert_eq!(
            dmi_serial(
                "C3D4E5F6-A7B8-4C9D-8E0F-1A2B3C4D5E6F",
                "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
                uuid,
                "h"
            )
            .as_deref(),
            Some(uuid)
        );
        for placeholder in ["", "0", "None", "Not Specified"] {
            assert_eq!(dmi_serial(placeholder, "x", uuid, "h"), None);
        }
        let s = dmi_serial("7XK2QJ3", "4c4c4544-0058", uuid, "pay02.demo.example").unwrap();
        assert!(s.starts_with("DMO") && s.len() == 11, "{s}");
        assert_ne!(
            s,
            dmi_serial("7XK2QJ3", "x", uuid, "pay03.demo.example").unwrap()
        );
    }

    #[test]
    fn identity_files_name_the_host_and_its_address() {
        let e = Estate::builtin().unwrap();
        let h = &e.hosts[0];
        let files = identity_files(h);
        let get = |p: &str| {
            files
                .iter()
                .find(|(path, _)| path == p)
                .map(|(_, c)| c.as_str())
                .unwrap()
        };
        assert_eq!(get("etc/hostname"), format!("{}\n", h.short));
        assert!(get("etc/hosts").contains(&format!("{}  {} {}", h.ip, h.name, h.short)));
        let trie = get("proc/net/fib_trie");
        assert!(trie.contains(&format!("|-- {}\n        /32 host LOCAL", h.ip)));
    }

    #[test]
    fn computer_id_is_replaced_in_place() {
        let text = "[Software\\BigFix\\EnterpriseClient\\GlobalOptions]\nStoragePath = /var\nComputerId                     = 1612345678\nRegCount = 3\n";
        let out = set_computer_id(text, 42).unwrap();
        assert!(
            out.contains("ComputerId                     = 42\n"),
            "{out}"
        );
        assert!(out.contains("RegCount = 3\n") && out.contains("StoragePath = /var\n"));
        assert_eq!(set_computer_id("[x]\nRegCount = 3\n", 42), None);
    }

    #[test]
    fn mtimes_parse_and_shift() {
        let text = "# comment\nvar/a.xml 2024-03-10T01:00:04Z\n\nvar/b.txt 2024-03-11T02:00:00Z\n";
        let times = parse_mtimes(text).unwrap();
        assert_eq!(times.len(), 2);
        let newest = times[1].1;
        let now = FIXTURE_TIME_SECS + 1000;
        // Newest output one day before now, the other keeps its distance.
        let s = mtime_shift(&times, now, Some(1));
        assert_eq!(newest + s, now - 86_400);
        assert_eq!(times[0].1 + s, now - 86_400 - (newest - times[0].1));
        // Without a day: moved by now - FIXTURE_TIME.
        assert_eq!(mtime_shift(&times, now, None), 1000);
        for bad in [
            "justone",
            "/etc/x 2024-03-10T00:00:00Z",
            "../x 2024-03-10T00:00:00Z",
            "x yesterday",
        ] {
            assert!(parse_mtimes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlays_replace_files_and_merge_folders() {
        let fixtures = tempfile::tempdir().unwrap();
        let f = fixtures.path();
        let plat = f.join("hosts/p/root");
        std::fs::create_dir_all(plat.join("etc")).unwrap();
        std::fs::write(plat.join("etc/os-release"), "NAME=base\n").unwrap();
        std::fs::write(plat.join("etc/keep"), "base\n").unwrap();
        std::os::unix::fs::symlink("/etc/os-release", plat.join("os-link")).unwrap();
        let over = f.join("ibm-hosts/o/root");
        std::fs::create_dir_all(over.join("etc")).unwrap();
        std::fs::create_dir_all(over.join("var/opt/BESClient/LMT/CIT")).unwrap();
        std::fs::write(over.join("etc/os-release"), "NAME=overlay\n").unwrap();
        std::fs::write(
            over.join("var/opt/BESClient/besclient.config"),
            "ComputerId = 1\n",
        )
        .unwrap();
        std::fs::write(over.join("var/opt/BESClient/LMT/CIT/scan.xml"), "<x/>").unwrap();
        std::fs::write(
            f.join("ibm-hosts/o/mtimes.txt"),
            "var/opt/BESClient/LMT/CIT/scan.xml 2024-03-10T00:00:00Z\n",
        )
        .unwrap();
        let text = "[[host]]\nname = \"h1.demo.example\"\nplatform = \"p\"\nibm = [\"o\"]\nip = \"10.1.2.3\"\nbigfix_id = 77\nscans_days_ago = 2\nexpect = { coverage = \"uncovered\", codes = [] }\n";
        let estate = Estate::parse("e.toml", text).unwrap();
        let host = &estate.hosts[0];
        let dest = tempfile::tempdir().unwrap();
        let now = FIXTURE_TIME_SECS + 5_000;
        let fixture_mtime = || {
            std::fs::metadata(over.join("var/opt/BESClient/LMT/CIT/scan.xml"))
                .unwrap()
                .modified()
                .unwrap()
        };
        let before = fixture_mtime();
        compose(f, host, dest.path(), now).unwrap();
        let d = dest.path();
        let read = |p: &str| std::fs::read_to_string(d.join(p)).unwrap();
        assert_eq!(read("etc/os-release"), "NAME=overlay\n");
        assert_eq!(read("etc/keep"), "base\n");
        assert_eq!(read("etc/hostname"), "h1\n");
        assert_eq!(
            read("var/opt/BESClient/besclient.config"),
            "ComputerId = 77\n"
        );
        assert_eq!(
            std::fs::read_link(d.join("os-link")).unwrap(),
            Path::new("/etc/os-release")
        );
        let mtime = std::fs::metadata(d.join("var/opt/BESClient/LMT/CIT/scan.xml"))
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert_eq!(mtime, now - 2 * 86_400);
        // The fixtures themselves are untouched (the tree links to them).
        assert_eq!(
            std::fs::read_to_string(over.join("var/opt/BESClient/besclient.config")).unwrap(),
            "ComputerId = 1\n"
        );
        assert_eq!(fixture_mtime(), before);
        assert_eq!(
            std::fs::read_to_string(plat.join("etc/keep")).unwrap(),
            "base\n"
        );

        // Without a bigfix_id the BigFix client's config cannot be given an identity.
        let no_id = text.replace("bigfix_id = 77\n", "");
        let estate = Estate::parse("e.toml", &no_id).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let e = compose(f, &estate.hosts[0], dest.path(), now).unwrap_err();
        assert!(e.to_string().contains("gives no bigfix_id"), "{e}");

        // A missing fixture is named.
        let missing = text.replace("platform = \"p\"", "platform = \"nope\"");
        let estate = Estate::parse("e.toml", &missing).unwrap();
        let e = compose(f, &estate.hosts[0], dest.path(), now).unwrap_err();
        assert!(e.to_string().contains("hosts/nope/root"), "{e}");
    }
}
