//! Known IBM install roots and the product directories in them: what is reported as
//! `install_root` when no tag, registry or installer record explains a directory.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

use subcap_proto::v1 as pb;
use subcap_proto::vocab::Signature;

use super::{abs_path, install, rel_path};
use crate::collect::Warnings;
use crate::root::Root;

/// How a root holds products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Each subdirectory is a product (`opt/IBM/WebSphere`, `opt/ibm/db2`).
    Children,
    /// The directory is one product (`opt/mqm` is IBM MQ's default installation).
    Itself,
}

/// The install roots IBM products use by default.
pub const KNOWN_ROOTS: &[(&str, Layout)] = &[
    ("opt/IBM", Layout::Children),
    ("opt/ibm", Layout::Children),
    ("usr/IBM", Layout::Children),
    ("opt/mqm", Layout::Itself),
];

/// Subdirectories of the roots that are not products: Installation Manager's shared resources.
const NOT_PRODUCTS: &[&str] = &["IMShared", "IBMIMShared"];

/// Most product directories listed per root.
const MAX_PRODUCTS: usize = 1_000;

/// The start directories of the tag search: the known roots and the extra paths (relative).
pub fn search_roots(extra: &[String]) -> Vec<String> {
    KNOWN_ROOTS
        .iter()
        .map(|(r, _)| r.to_string())
        .chain(extra.iter().map(|e| rel_path(e)))
        .collect()
}

/// Product directories (relative) of the known roots and the extra paths (whose
/// subdirectories are products), each directory once.
pub fn product_dirs(root: &Root, extra: &[String], w: &mut Warnings) -> Vec<String> {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut out = Vec::new();
    let roots = KNOWN_ROOTS.iter().map(|(r, l)| (r.to_string(), *l)).chain(
        extra
            .iter()
            .map(|e| (rel_path(e), Layout::Children))
            .filter(|(e, _)| super::searchable(e)),
    );
    for (r, layout) in roots {
        let candidates = match layout {
            Layout::Itself => vec![r.clone()],
            Layout::Children => match root.read_dir(&r) {
                Ok(names) => {
                    if names.len() > MAX_PRODUCTS {
                        w.warn(
                            r.clone(),
                            format!(
                                "{} entries: only the first {MAX_PRODUCTS} are considered as \
                                 product directories",
                                names.len()
                            ),
                        );
                    }
                    names
                        .into_iter()
                        .filter(|n| !NOT_PRODUCTS.contains(&n.as_str()))
                        .take(MAX_PRODUCTS)
                        .map(|n| format!("{r}/{n}"))
                        .collect()
                }
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => {
                    w.read_failed(&e);
                    Vec::new()
                }
            },
        };
        for c in candidates {
            let Ok(m) = root.metadata(&c) else { continue };
            if m.is_dir() && seen.insert((m.dev(), m.ino())) {
                out.push(c);
            }
        }
    }
    out
}

/// Whether `dir` (relative) is explained by what was found: an install path at, above or below
/// it, or a tag file inside it.
pub fn explained(dir: &str, found: &[pb::IbmInstall]) -> bool {
    let inside = |p: &str, d: &str| p == d || p.starts_with(&format!("{d}/"));
    found.iter().any(|i| {
        let path = rel_path(&i.install_path);
        (!path.is_empty() && (inside(&path, dir) || inside(dir, &path)))
            || (i.signature != Signature::Dpkg.as_str()
                && i.signature != Signature::Rpm.as_str()
                && inside(&i.source, dir))
    })
}

/// `install_root` entries for the product directories nothing else explains.
pub fn unexplained(dirs: &[String], found: &[pb::IbmInstall]) -> Vec<pb::IbmInstall> {
    dirs.iter()
        .filter(|d| !explained(d, found))
        .map(|d| {
            let name = d.rsplit('/').next().unwrap_or(d);
            install(Signature::InstallRoot, name, "", "", "", &abs_path(d), d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(sig: Signature, path: &str, source: &str) -> pb::IbmInstall {
        install(sig, "x", "1", "", "IBM", path, source)
    }

    #[test]
    fn explained_by_paths_and_tags() {
        let found = vec![
            i(
                Signature::InstallationManager,
                "/opt/IBM/WebSphere/AppServer",
                "var/ibm/InstallationManager/installed.xml",
            ),
            i(
                Signature::SwidTag,
                "/opt/ibm/db2/V11.5",
                "opt/ibm/db2/V11.5/property/iso-swid/t.swidtag",
            ),
            i(Signature::MqMqinst, "/opt/mqm", "etc/opt/mqm/mqinst.ini"),
            i(Signature::Slmtag, "", "opt/IBM/Spectrum/slmtags/a.slmtag"),
            i(Signature::Rpm, "", "var/lib/rpm/rpmdb.sqlite"),
        ];
        for (dir, want) in [
            ("opt/IBM/WebSphere", true),
            ("opt/ibm/db2", true),
            ("opt/mqm", true),
            ("opt/IBM/Spectrum", true),
            ("opt/IBM/HTTPServer", false),
            ("opt/IBM/Web", false),
            ("var/lib", false),
        ] {
            assert_eq!(explained(dir, &found), want, "{dir}");
        }
        let u = unexplained(&["opt/IBM/HTTPServer".into(), "opt/mqm".into()], &found);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].signature, "install_root");
        assert_eq!(u[0].product_name, "HTTPServer");
        assert_eq!(u[0].install_path, "/opt/IBM/HTTPServer");
        assert_eq!(u[0].source, "opt/IBM/HTTPServer");
    }
}
