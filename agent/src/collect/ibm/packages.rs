//! Installed OS packages (dpkg, rpm) and which of them are IBM's.

use subcap_proto::v1 as pb;
use subcap_proto::vocab::Signature;

use super::{dpkg, install, rpm};
use crate::collect::Warnings;
use crate::root::Root;

/// One installed package, from either package manager.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// dpkg `Version`; rpm `[EPOCH:]VERSION-RELEASE`.
    pub version: String,
    pub arch: String,
    /// rpm `Vendor` (else `Packager`); dpkg `Maintainer`.
    pub vendor: String,
    /// rpm `Summary`; dpkg first line of `Description`.
    pub summary: String,
}

/// Name prefixes of IBM packages (lower-case): MQ (`MQSeries*` rpm, `ibmmq-*` deb), IBM Java,
/// GSKit (`gsk8*`), Spectrum Protect (`TIVsm-*`), `ibm-*` in general.
const IBM_PREFIXES: &[&str] = &[
    "ibm-", "ibm_", "ibmmq", "ibmjava", "mqseries", "gsk8", "tivsm-",
];
/// Names of IBM packages (lower-case): the BigFix agent, IBM's until 2017.
const IBM_NAMES: &[&str] = &["besagent"];

/// Whether a package is IBM's: by its vendor or maintainer (the name part, not an e-mail
/// address: Debian maintainers at ibm.com are not IBM's products), or by a known IBM name.
/// Called for every package of the host, so it allocates nothing.
pub fn is_ibm(name: &str, vendor: &str) -> bool {
    // The name part: before any `<` (an ASCII byte, so a character boundary).
    let display = vendor
        .as_bytes()
        .iter()
        .position(|&b| b == b'<')
        .and_then(|i| vendor.get(..i))
        .unwrap_or(vendor);
    IBM_PREFIXES
        .iter()
        .any(|p| starts_with_ignore_case(name, p))
        || IBM_NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
        || is_db2_name(name)
        || super::swid::is_ibm_name(display)
}

/// Whether `s` starts with `prefix` (lower-case ASCII), ignoring ASCII case.
fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// `db2`, `db2-client`, `db2_11.5`: the name `db2` alone or followed by a separator or digit
/// (any case).
fn is_db2_name(n: &str) -> bool {
    if !starts_with_ignore_case(n, "db2") {
        return false;
    }
    n.get(3..).is_some_and(|rest| {
        rest.is_empty()
            || rest.starts_with(['-', '_', '.'])
            || rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Every installed IBM package ([`is_ibm`]) both package managers know of, with the database
/// each came from. Only IBM's are kept: every reader of packages (IBM installs, the MQ runtime,
/// the BigFix agent) looks for IBM's, and a host has thousands of others.
pub struct Installed {
    pub dpkg: Option<(String, Vec<Package>)>,
    pub rpm: Option<(String, Vec<Package>)>,
}

impl Installed {
    pub fn read(root: &Root, w: &mut Warnings) -> Installed {
        let dpkg = dpkg::read(root, is_ibm, w);
        let mut rpm = rpm::read(root, w);
        if let Some((_, packages)) = rpm.as_mut() {
            packages.retain(|p| is_ibm(&p.name, &p.vendor));
        }
        Installed { dpkg, rpm }
    }

    /// All packages, dpkg's then rpm's.
    pub fn all(&self) -> impl Iterator<Item = &Package> {
        self.dpkg
            .iter()
            .chain(self.rpm.iter())
            .flat_map(|(_, p)| p.iter())
    }

    /// The IBM packages as installs.
    pub fn ibm_installs(&self, out: &mut Vec<pb::IbmInstall>) {
        for (sig, db) in [(Signature::Dpkg, &self.dpkg), (Signature::Rpm, &self.rpm)] {
            let Some((source, packages)) = db else {
                continue;
            };
            for p in packages.iter().filter(|p| is_ibm(&p.name, &p.vendor)) {
                let name = if p.summary.is_empty() {
                    &p.name
                } else {
                    &p.summary
                };
                let publisher = p.vendor.split('<').next().unwrap_or("").trim();
                out.push(install(
                    sig, name, &p.version, &p.name, publisher, "", source,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_packages() {
        for (name, vendor, want) in [
            ("MQSeriesRuntime", "IBM", true),
            ("ibmmq-server", "", true),
            ("ibm-java-x86_64-sdk", "IBM Corporation", true),
            ("gsk8cry64", "", true),
            ("TIVsm-BA", "", true),
            ("BESAgent", "HCL Technologies Ltd.", true),
            ("db2", "", true),
            ("db2-client", "", true),
            ("db2twitter", "", false),
            ("DB2-Client", "", true),
            ("IBMMQ-Runtime", "", true),
            ("besAgent", "", true),
            ("Ibm", "", false),
            ("tool", "INTERNATIONAL Business MACHINES", true),
            ("some-tool", "International Business Machines Corp.", true),
            ("some-tool", "IBM MQ Development <mq@uk.ibm.com>", true),
            (
                "s390-tools",
                "Debian S/390 Team <debian-s390@lists.debian.org>",
                false,
            ),
            ("libfoo", "Jane Doe <jane@linux.ibm.com>", false),
            ("bash", "Red Hat, Inc.", false),
            ("ibmtss", "Debian Security Tools", false),
        ] {
            assert_eq!(is_ibm(name, vendor), want, "{name} / {vendor}");
        }
    }
}
