//! IBM MQ installations from `etc/opt/mqm/mqinst.ini`, which MQ keeps for every installation on
//! the host (several can coexist):
//!
//! ```text
//! Installation:
//!    Name=Installation1
//!    Description=
//!    Identifier=1
//!    FilePath=/opt/mqm
//! ```
//!
//! The version comes from the IBM SWID tag MQ installs in `<FilePath>/swidtag/`
//! (`ibm.com_IBM_MQ-9.3.4.swidtag`), else from the `MQSeriesRuntime` / `ibmmq-runtime` package.

use subcap_proto::v1 as pb;
use subcap_proto::vocab::Signature;

use super::packages::Package;
use super::{install, rel_path, swid};
use crate::collect::{probe, Warnings};
use crate::root::Root;

pub const MQINST: &str = "etc/opt/mqm/mqinst.ini";

/// Most tag files read from one installation's `swidtag/` folder.
const MAX_TAGS: usize = 64;

/// One `Installation:` stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqInstallation {
    pub name: String,
    pub description: String,
    pub identifier: String,
    pub file_path: String,
}

/// The `Installation:` stanzas of `mqinst.ini`, in file order.
pub fn parse_mqinst(text: &str) -> Vec<MqInstallation> {
    let mut out: Vec<MqInstallation> = Vec::new();
    let mut current: Option<MqInstallation> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(stanza) = t.strip_suffix(':') {
            if let Some(c) = current.take() {
                out.push(c);
            }
            if stanza.trim().eq_ignore_ascii_case("Installation") {
                current = Some(MqInstallation::default());
            }
            continue;
        }
        let (Some(c), Some((k, v))) = (current.as_mut(), t.split_once('=')) else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim() {
            "Name" => c.name = v,
            "Description" => c.description = v,
            "Identifier" => c.identifier = v,
            "FilePath" => c.file_path = v,
            _ => {}
        }
    }
    out.extend(current);
    out
}

/// The product name, version and tag id MQ's own tags give for an installation, preferring the
/// base product tag (`IBM MQ`) over add-ons (`IBM MQ Advanced`, `IBM MQ Client`).
fn version_from_tags(root: &Root, file_path: &str, w: &mut Warnings) -> Option<swid::SwidTag> {
    let dir = format!("{}/swidtag", rel_path(file_path));
    let names = match root.read_dir(&dir) {
        Ok(n) => n,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            w.read_failed(&e);
            return None;
        }
    };
    let mut tags: Vec<swid::SwidTag> = names
        .iter()
        .filter(|n| n.ends_with(".swidtag"))
        .take(MAX_TAGS)
        .filter_map(|n| {
            let path = format!("{dir}/{n}");
            let text = probe(root, &path, w)?;
            match swid::parse(&text) {
                Ok(t) if t.is_ibm() => Some(t),
                Ok(_) => None,
                Err(e) => {
                    w.warn(path, e.to_string());
                    None
                }
            }
        })
        .collect();
    tags.sort_by_key(|t| {
        let n = t.name.to_ascii_lowercase();
        (
            if n == "ibm mq" || n == "ibm websphere mq" {
                0
            } else if n.contains("client") {
                2
            } else {
                1
            },
            n,
        )
    });
    tags.into_iter().next()
}

/// The runtime package of MQ, which carries the installation's version.
fn version_from_packages<'a>(packages: &[&'a Package]) -> Option<&'a Package> {
    packages.iter().copied().find(|p| {
        let n = p.name.to_ascii_lowercase();
        n.starts_with("mqseriesruntime") || n == "ibmmq-runtime"
    })
}

/// Reads `mqinst.ini`; returns the installation directories (absolute).
pub fn collect(
    root: &Root,
    packages: &[&Package],
    w: &mut Warnings,
    out: &mut Vec<pb::IbmInstall>,
) -> Vec<String> {
    let Some(text) = probe(root, MQINST, w) else {
        return Vec::new();
    };
    let installs = parse_mqinst(&text);
    if installs.is_empty() {
        w.warn(MQINST, "no Installation: stanza with a FilePath");
    }
    let mut paths = Vec::new();
    for i in installs {
        if i.file_path.is_empty() {
            w.warn(MQINST, format!("installation {:?} has no FilePath", i.name));
            continue;
        }
        let (name, version, id) = match version_from_tags(root, &i.file_path, w) {
            Some(t) => (t.name, t.version, t.tag_id),
            None => {
                let version = version_from_packages(packages)
                    .map(|p| p.version.clone())
                    .unwrap_or_default();
                if version.is_empty() {
                    w.warn(
                        format!("{}/swidtag", rel_path(&i.file_path)),
                        format!(
                            "MQ installation {:?}: version unknown (no IBM SWID tag and no MQ \
                             runtime package)",
                            i.name
                        ),
                    );
                }
                let name = if i.description.is_empty() {
                    "IBM MQ".to_string()
                } else {
                    i.description.clone()
                };
                (name, version, String::new())
            }
        };
        out.push(install(
            Signature::MqMqinst,
            &name,
            &version,
            &id,
            "IBM",
            &i.file_path,
            MQINST,
        ));
        paths.push(i.file_path);
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    /// name, description, identifier, file path.
    type Row<'a> = (&'a str, &'a str, &'a str, &'a str);

    #[test]
    fn table() {
        let cases: &[(&str, Vec<Row>)] = &[
            (
                "Installation:\n   Name=Installation1\n   Description=\n   Identifier=1\n   FilePath=/opt/mqm\n",
                vec![("Installation1", "", "1", "/opt/mqm")],
            ),
            (
                "# comment\nInstallation:\n   Name=Installation1\n   Description=IBM MQ V9.3 installation\n   Identifier=1\n   FilePath=/opt/mqm\n\nInstallation:\n   Name=mq94\n   Description=test\n   Identifier=2\n   FilePath=/opt/mqm94\n",
                vec![
                    ("Installation1", "IBM MQ V9.3 installation", "1", "/opt/mqm"),
                    ("mq94", "test", "2", "/opt/mqm94"),
                ],
            ),
            (
                "AllQueueManagers:\n   Foo=bar\nInstallation:\n   FilePath=/usr/mqm\n",
                vec![("", "", "", "/usr/mqm")],
            ),
            ("", vec![]),
            ("\u{0}\u{1}binary=junk\n:::\n", vec![]),
        ];
        for (text, want) in cases {
            let got: Vec<(String, String, String, String)> = parse_mqinst(text)
                .into_iter()
                .map(|i| (i.name, i.description, i.identifier, i.file_path))
                .collect();
            let want: Vec<(String, String, String, String)> = want
                .iter()
                .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
                .collect();
            assert_eq!(got, want, "{text:?}");
        }
    }
}
