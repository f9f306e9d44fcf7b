//! IBM install signatures: SWID tags, slmtags, Installation Manager, Db2, MQ, packages, install roots.
//!
//! Each source is read by its own module; this one runs them in order, feeds the install
//! directories the registries name (Installation Manager locations, Db2 copies, MQ file paths)
//! to the bounded tag search as extra start directories, reports the product directories nothing
//! explains as `install_root`, and sorts the result. A product seen through several signatures
//! is reported once per signature (the aggregator decides what is one product); a tag file is
//! reported once, however many search paths reach it.

pub mod db2;
pub mod dpkg;
pub mod installation_manager;
pub mod mq;
pub mod packages;
pub mod roots;
pub mod rpm;
pub mod search;
pub mod slmtag;
pub mod swid;
mod xml;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use subcap_proto::v1 as pb;
use subcap_proto::vocab::Signature;

use super::Warnings;
use crate::root::Root;

/// Largest `.swidtag` read (IBM's are a few kilobytes).
const SWIDTAG_READ_LIMIT: u64 = 1024 * 1024;

/// Bounds on the search for IBM installs: never a walk of the whole filesystem.
#[derive(Debug, Clone)]
pub struct SearchLimits {
    /// Extra directories (relative to the root) searched like the known install roots: tags
    /// anywhere in them are found, and each subdirectory is a product directory (reported as
    /// `install_root` when nothing explains it). `/` and the system's top-level directories are
    /// refused.
    pub extra_paths: Vec<PathBuf>,
    /// Deepest directory level below an install root that is visited.
    pub max_depth: usize,
    /// Most directory entries examined in all.
    pub max_files: usize,
    /// Wall-clock budget for the whole search.
    pub time_budget: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            extra_paths: Vec::new(),
            max_depth: 6,
            max_files: 20_000,
            time_budget: Duration::from_secs(2),
        }
    }
}

/// Collects the IBM installations found under `root`.
pub fn collect(root: &Root, limits: &SearchLimits, w: &mut Warnings) -> Vec<pb::IbmInstall> {
    let mut out = Vec::new();

    let installed = packages::Installed::read(root, w);
    installed.ibm_installs(&mut out);

    let mut starts: Vec<String> = Vec::new();
    starts.extend(installation_manager::collect(root, w, &mut out));
    starts.extend(db2::collect(root, w, &mut out));
    let packages: Vec<&packages::Package> = installed.all().collect();
    starts.extend(mq::collect(root, &packages, w, &mut out));
    let extra: Vec<String> = limits
        .extra_paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut starts: Vec<String> = starts
        .iter()
        .map(|s| rel_path(s))
        .filter(|s| searchable(s))
        .collect();
    for e in roots::search_roots(&extra) {
        if searchable(&e) {
            starts.push(e);
        } else {
            w.warn(
                abs_path(&e),
                "not searched for IBM tags: a system directory, not an install root \
                 (the search never walks the whole filesystem)",
            );
        }
    }

    let found = search::search(root, &starts, limits, w);
    for rel in &found.swidtags {
        if let Some(i) = read_swidtag(root, rel, w) {
            out.push(i);
        }
    }
    for rel in &found.slmtags {
        if let Some(i) = read_slmtag(root, rel, w) {
            out.push(i);
        }
    }

    let dirs = roots::product_dirs(root, &extra, w);
    let unexplained = roots::unexplained(&dirs, &out);
    out.extend(unexplained);
    finish(out)
}

/// Top-level directories that hold the system, not one product: never a search start.
const SYSTEM_DIRS: &[&str] = &[
    "", "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "media", "mnt", "opt",
    "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var",
];

/// Whether a directory (relative) may start the tag search: anything but the root and the
/// system's top-level directories (a damaged registry could name `/`).
pub(crate) fn searchable(rel: &str) -> bool {
    !SYSTEM_DIRS.contains(&rel)
}

/// Sorted by every field, exact duplicates removed: the same output for the same host.
fn finish(mut out: Vec<pb::IbmInstall>) -> Vec<pb::IbmInstall> {
    let key = |i: &pb::IbmInstall| {
        (
            i.signature.clone(),
            i.source.clone(),
            i.install_path.clone(),
            i.product_id.clone(),
            i.product_name.clone(),
            i.version.clone(),
            i.publisher.clone(),
        )
    };
    out.sort_by_key(key);
    out.dedup();
    out
}

fn read_swidtag(root: &Root, rel: &str, w: &mut Warnings) -> Option<pb::IbmInstall> {
    let bytes = match root.read_bytes(rel, SWIDTAG_READ_LIMIT) {
        Ok(b) => b,
        Err(e) => {
            w.read_failed(&e);
            return None;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let tag = match swid::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            w.warn(rel, e.to_string());
            return None;
        }
    };
    if !tag.is_ibm() || tag.corpus {
        return None;
    }
    let file_name = rel.rsplit('/').next().unwrap_or(rel);
    let version = if tag.version.is_empty() {
        swid::version_from_file_name(file_name).unwrap_or_default()
    } else {
        tag.version.clone()
    };
    Some(install(
        Signature::SwidTag,
        &tag.name,
        &version,
        &tag.tag_id,
        &tag.publisher,
        &product_dir_of_tag(rel),
        rel,
    ))
}

fn read_slmtag(root: &Root, rel: &str, w: &mut Warnings) -> Option<pb::IbmInstall> {
    let mut bytes = Vec::new();
    let read = root.open(rel).and_then(|f| {
        f.take(slmtag::HEADER_READ_LIMIT)
            .read_to_end(&mut bytes)
            .map_err(|e| crate::root::ReadError::Io {
                path: rel.to_string(),
                source: e,
            })
    });
    if let Err(e) = read {
        w.read_failed(&e);
        return None;
    }
    let text = String::from_utf8_lossy(&bytes);
    let tag = match slmtag::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            w.warn(rel, e.to_string());
            return None;
        }
    };
    let install_path = if tag.instance_id.starts_with('/') {
        tag.instance_id.clone()
    } else {
        product_dir_of_tag(rel)
    };
    Some(install(
        Signature::Slmtag,
        &tag.name,
        "",
        &tag.persistent_id,
        "IBM",
        &install_path,
        rel,
    ))
}

/// The product directory a tag file belongs to (absolute): its folder without the tag
/// folders IBM uses (`swidtag/`, `iso-swid/`, `slmtags/`, `properties/version/`, `property/`).
pub fn product_dir_of_tag(rel: &str) -> String {
    let mut parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop();
    if parts
        .last()
        .is_some_and(|p| ["swidtag", "swidtags", "iso-swid", "iso_swid", "slmtags"].contains(p))
    {
        parts.pop();
    }
    if parts.len() >= 2 && parts[parts.len() - 2..] == ["properties", "version"] {
        parts.truncate(parts.len() - 2);
    } else if parts
        .last()
        .is_some_and(|p| *p == "properties" || *p == "property")
    {
        parts.pop();
    }
    abs_path(&parts.join("/"))
}

/// A path relative to the root: `/opt/mqm/` → `opt/mqm`.
pub fn rel_path(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// The host's absolute form of a path: `opt/mqm` → `/opt/mqm`.
pub fn abs_path(p: &str) -> String {
    format!("/{}", rel_path(p))
}

/// One install record. `install_path` is written absolute (a host path), `source` relative.
pub fn install(
    signature: Signature,
    product_name: &str,
    version: &str,
    product_id: &str,
    publisher: &str,
    install_path: &str,
    source: &str,
) -> pb::IbmInstall {
    pb::IbmInstall {
        signature: signature.as_str().to_string(),
        product_name: product_name.trim().to_string(),
        version: version.trim().to_string(),
        product_id: product_id.trim().to_string(),
        publisher: publisher.trim().to_string(),
        install_path: if install_path.trim().is_empty() {
            String::new()
        } else {
            abs_path(install_path.trim())
        },
        source: rel_path(source),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn product_dirs_of_tags() {
        for (tag, dir) in [
            ("opt/mqm/swidtag/ibm.com_IBM_MQ-9.3.4.swidtag", "/opt/mqm"),
            (
                "opt/IBM/WebSphere/AppServer/properties/version/ibm.com_WAS-9.0.swidtag",
                "/opt/IBM/WebSphere/AppServer",
            ),
            (
                "opt/ibm/db2/V11.5/property/iso-swid/x.swidtag",
                "/opt/ibm/db2/V11.5",
            ),
            (
                "var/opt/ibm/LMTScanner/iso-swid/t.swidtag",
                "/var/opt/ibm/LMTScanner",
            ),
            ("opt/ibm/x/properties/slmtags/a.slmtag", "/opt/ibm/x"),
            ("t.swidtag", "/"),
        ] {
            assert_eq!(product_dir_of_tag(tag), dir, "{tag}");
        }
    }

    #[test]
    fn system_directories_never_start_a_search() {
        for (d, ok) in [
            ("", false),
            ("usr", false),
            ("opt", false),
            ("opt/IBM", true),
            ("apps", true),
            ("db2/software/11.5", true),
        ] {
            assert_eq!(searchable(d), ok, "{d:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        put(
            dir.path(),
            "etc/.ibm/registry/InstallationManager.dat",
            b"location=/\n",
        );
        put(
            dir.path(),
            "var/ibm/InstallationManager/installed.xml",
            b"<installInfo><location path='/'><package id='com.ibm.x' name='X' version='1'/></location></installInfo>",
        );
        put(dir.path(), "srv/stray.swidtag", b"<SoftwareIdentity name='IBM Y' version='2'><Entity name='IBM' role='softwareCreator'/></SoftwareIdentity>");
        let mut w = Warnings::new("ibm_installs");
        let limits = SearchLimits {
            extra_paths: vec![PathBuf::from("/")],
            ..SearchLimits::default()
        };
        let out = collect(&Root::new(dir.path()), &limits, &mut w);
        assert!(
            !out.iter()
                .any(|i| i.signature == "swid_tag" || i.signature == "install_root"),
            "{out:?}"
        );
        let w = w.into_vec();
        assert!(
            w.iter()
                .any(|x| x.source == "/" && x.message.contains("not searched")),
            "{w:?}"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(rel_path("/opt//mqm/./"), "opt/mqm");
        assert_eq!(abs_path("opt/mqm"), "/opt/mqm");
        assert_eq!(abs_path(""), "/");
    }

    fn put(base: &std::path::Path, rel: &str, bytes: &[u8]) {
        let p = base.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    /// Damaged, huge, foreign and garbage files: a warning each (foreign tags: nothing), never a
    /// panic, and the good tag beside them is still reported.
    #[test]
    fn bad_files_are_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let good = r#"<SoftwareIdentity name="IBM MQ" version="9.3.4" tagId="t"><Entity name="IBM" regid="ibm.com" role="softwareCreator"/></SoftwareIdentity>"#;
        put(b, "opt/mqm/swidtag/good.swidtag", good.as_bytes());
        put(
            b,
            "opt/mqm/swidtag/garbage.swidtag",
            &[0xff, 0x00, b'<', 0x80],
        );
        put(
            b,
            "opt/mqm/swidtag/huge.swidtag",
            &vec![b' '; 2 * 1024 * 1024],
        );
        put(
            b,
            "opt/mqm/swidtag/acme.swidtag",
            br#"<SoftwareIdentity name="Widget" version="1"><Entity name="ACME" regid="acme.example" role="softwareCreator"/></SoftwareIdentity>"#,
        );
        put(
            b,
            "opt/IBM/x/slmtags/broken.slmtag",
            b"<Metric><Type>X</Type></Metric>",
        );
        put(b, "var/db2/global.reg", &[0u8; 4096]);
        put(b, "etc/opt/mqm/mqinst.ini", b"garbage without stanzas\n");
        put(
            b,
            "var/ibm/InstallationManager/installed.xml",
            b"<installInfo><location path='/x'><package id='p' version='1'",
        );
        put(
            b,
            "var/lib/rpm/rpmdb.sqlite",
            b"SQLite format 3\0 but then nothing",
        );
        put(b, "var/lib/dpkg/status", &[0x80, 0xff, b'\n']);
        let mut w = Warnings::new("ibm_installs");
        let out = collect(&Root::new(b), &SearchLimits::default(), &mut w);
        let swid: Vec<&str> = out
            .iter()
            .filter(|i| i.signature == "swid_tag")
            .map(|i| i.source.as_str())
            .collect();
        assert_eq!(swid, vec!["opt/mqm/swidtag/good.swidtag"]);
        let warned: Vec<String> = w.into_vec().into_iter().map(|x| x.source).collect();
        for path in [
            "opt/mqm/swidtag/garbage.swidtag",
            "opt/mqm/swidtag/huge.swidtag",
            "opt/IBM/x/slmtags/broken.slmtag",
            "var/db2/global.reg",
            "etc/opt/mqm/mqinst.ini",
            "var/ibm/InstallationManager/installed.xml",
            "var/lib/rpm/rpmdb.sqlite",
        ] {
            assert!(
                warned.iter().any(|s| s == path),
                "no warning for {path}: {warned:?}"
            );
        }
        assert!(!warned.iter().any(|s| s.contains("acme")), "{warned:?}");
    }

    /// Deterministic noise made of the characters the parsers split on, multi-byte characters
    /// and markup, for "never panics" tests.
    pub(crate) fn noise(seed: u64, n: usize) -> Vec<String> {
        const PIECES: &[&str] = &[
            "<",
            ">",
            "/",
            "=",
            ":",
            "\n",
            " ",
            "\u{3000}",
            "é",
            "\u{1F600}",
            "'",
            "\"",
            "&amp;",
            "&#",
            ";",
            "[",
            "]",
            "-",
            ".",
            "T",
            "Z",
            "+",
            "0",
            "9",
            "Installation:",
            "FilePath=",
            "Package: ",
            "Status: install ok installed",
            "<SoftwareIdentity",
            " name=",
            "<Entity",
            "regid=",
            "<swid:product_title>",
            "</",
            "<installInfo>",
            "<package id=",
            "location=",
            "\0",
        ];
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                let mut s = String::new();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                for _ in 0..(x % 60) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    s.push_str(PIECES[(x % PIECES.len() as u64) as usize]);
                }
                s
            })
            .collect()
    }

    #[test]
    fn text_parsers_never_panic() {
        for text in noise(0x5eed, 3000) {
            let _ = swid::parse(&text);
            let _ = slmtag::parse(&text);
            let _ = installation_manager::parse_installed(&text);
            let _ = installation_manager::parse_install_registry(&text);
            let _ = installation_manager::parse_registry(&text);
            let _ = installation_manager::config_app_data_location(&text);
            let _ = mq::parse_mqinst(&text);
            let _ = dpkg::parse(text.as_bytes(), |_, _| true);
            let _ = db2::scan(text.as_bytes());
            let _ = swid::version_from_file_name(&text);
            let _ = product_dir_of_tag(&text);
            let _ = packages::is_ibm(&text, &text);
        }
    }

    #[test]
    fn output_is_sorted_and_deduplicated() {
        let a = install(
            Signature::Rpm,
            "b",
            "1",
            "b",
            "IBM",
            "",
            "var/lib/rpm/rpmdb.sqlite",
        );
        let b = install(
            Signature::Dpkg,
            "a",
            "1",
            "a",
            "IBM",
            "",
            "var/lib/dpkg/status",
        );
        let out = finish(vec![a.clone(), b.clone(), a.clone()]);
        assert_eq!(out, vec![b, a]);
    }
}
