//! A development PKI for demos and tests: three CAs (server, agents, operators), the server's
//! certificate, agent certificates for given host names and operator certificates.
//!
//! Production estates issue these from their own PKI (see README "Certificates"); this module only
//! writes PEM files. A CA is reloaded from its key and its fixed distinguished name, so issuing
//! more certificates later needs no certificate parser.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Key { path: String, problem: String },
    #[error("certificate for {name:?}: {source}")]
    Generate { name: String, source: rcgen::Error },
    #[error("{path} exists; refusing to overwrite a CA (remove it to start over)")]
    Exists { path: String },
}

/// The three CAs of the development PKI; each file is `<dir>/<name>-ca.pem` and `-ca.key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ca {
    Server,
    Agents,
    Operators,
}

impl Ca {
    fn name(self) -> &'static str {
        match self {
            Ca::Server => "server",
            Ca::Agents => "agents",
            Ca::Operators => "operators",
        }
    }

    fn params(self) -> CertificateParams {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "subcap development PKI");
        dn.push(DnType::CommonName, format!("subcap {} CA", self.name()));
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2045, 1, 1);
        p
    }

    pub fn cert_path(self, dir: &Path) -> PathBuf {
        dir.join(format!("{}-ca.pem", self.name()))
    }

    pub fn key_path(self, dir: &Path) -> PathBuf {
        dir.join(format!("{}-ca.key", self.name()))
    }
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), CertsError> {
    let io = |source| CertsError::Io {
        path: path.display().to_string(),
        source,
    };
    fs::write(path, text).map_err(io)?;
    if secret {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn gen_err(name: &str) -> impl Fn(rcgen::Error) -> CertsError + '_ {
    move |source| CertsError::Generate {
        name: name.to_string(),
        source,
    }
}

/// Creates the three CAs in `dir` (refusing to overwrite any).
pub fn init(dir: &Path) -> Result<(), CertsError> {
    fs::create_dir_all(dir).map_err(|source| CertsError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for ca in [Ca::Server, Ca::Agents, Ca::Operators] {
        if ca.key_path(dir).exists() {
            return Err(CertsError::Exists {
                path: ca.key_path(dir).display().to_string(),
            });
        }
    }
    for ca in [Ca::Server, Ca::Agents, Ca::Operators] {
        let key = KeyPair::generate().map_err(gen_err(ca.name()))?;
        let cert = ca.params().self_signed(&key).map_err(gen_err(ca.name()))?;
        write(&ca.cert_path(dir), &cert.pem(), false)?;
        write(&ca.key_path(dir), &key.serialize_pem(), true)?;
    }
    Ok(())
}

fn issuer(dir: &Path, ca: Ca) -> Result<Issuer<'static, KeyPair>, CertsError> {
    let path = ca.key_path(dir);
    let pem = fs::read_to_string(&path).map_err(|source| CertsError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let key = KeyPair::from_pem(&pem).map_err(|e| CertsError::Key {
        path: path.display().to_string(),
        problem: e.to_string(),
    })?;
    Ok(Issuer::new(ca.params(), key))
}

/// Which end-entity certificate to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// The aggregator's TLS server certificate.
    Server,
    /// An agent's client certificate: may report only the hosts it names.
    Agent,
    /// An operator's client certificate.
    Operator,
}

/// Issues a certificate for `names` (the first is the common name; all are DNS or IP
/// subjectAltNames) into `<dir>/<file>.pem` and `<dir>/<file>.key`, returning the paths.
pub fn issue(
    dir: &Path,
    leaf: Leaf,
    names: &[String],
    file: &str,
) -> Result<(PathBuf, PathBuf), CertsError> {
    let first = names.first().cloned().unwrap_or_default();
    let (ca, usage) = match leaf {
        Leaf::Server => (Ca::Server, ExtendedKeyUsagePurpose::ServerAuth),
        Leaf::Agent => (Ca::Agents, ExtendedKeyUsagePurpose::ClientAuth),
        Leaf::Operator => (Ca::Operators, ExtendedKeyUsagePurpose::ClientAuth),
    };
    let issuer = issuer(dir, ca)?;
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, first.clone());
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(gen_err(n)),
        })
        .collect::<Result<_, _>>()?;
    p.extended_key_usages = vec![usage];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let key = KeyPair::generate().map_err(gen_err(&first))?;
    let cert = p.signed_by(&key, &issuer).map_err(gen_err(&first))?;
    let cert_path = dir.join(format!("{file}.pem"));
    let key_path = dir.join(format!("{file}.key"));
    write(&cert_path, &cert.pem(), false)?;
    write(&key_path, &key.serialize_pem(), true)?;
    Ok((cert_path, key_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tls;

    #[test]
    fn issued_certificates_chain_to_their_ca_and_name_their_hosts() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        assert!(matches!(init(dir.path()), Err(CertsError::Exists { .. })));
        let (agent, _) = issue(
            dir.path(),
            Leaf::Agent,
            &["db01.bank.example".into(), "db01".into()],
            "agent-db01",
        )
        .unwrap();
        let (op, _) = issue(
            dir.path(),
            Leaf::Operator,
            &["ops-alice".into()],
            "operator-alice",
        )
        .unwrap();
        issue(
            dir.path(),
            Leaf::Server,
            &["localhost".into(), "127.0.0.1".into()],
            "server",
        )
        .unwrap();
        let (_, roles) = tls::server_config(
            &dir.path().join("server.pem"),
            &dir.path().join("server.key"),
            &Ca::Agents.cert_path(dir.path()),
            &Ca::Operators.cert_path(dir.path()),
        )
        .unwrap();
        let agent = tls::load_certs(&agent).unwrap();
        let op = tls::load_certs(&op).unwrap();
        assert_eq!(roles.role_of(&agent), Some(tls::Role::Agent));
        assert_eq!(roles.role_of(&op), Some(tls::Role::Operator));
        assert!(tls::names_host(&agent[0], "db01.bank.example"));
        assert!(tls::names_host(&agent[0], "DB01"));
        assert!(!tls::names_host(&agent[0], "db02.bank.example"));
        assert!(!tls::names_host(&op[0], "db01"));
        // One CA for both roles is refused: agents would be operators.
        let shared = tls::server_config(
            &dir.path().join("server.pem"),
            &dir.path().join("server.key"),
            &Ca::Agents.cert_path(dir.path()),
            &Ca::Agents.cert_path(dir.path()),
        );
        assert!(
            matches!(shared, Err(tls::TlsError::SharedCa { .. })),
            "{shared:?}"
        );
        // A certificate from an unrelated CA has no role.
        let other = tempfile::tempdir().unwrap();
        init(other.path()).unwrap();
        let (stranger, _) = issue(other.path(), Leaf::Agent, &["db01".into()], "agent").unwrap();
        assert_eq!(roles.role_of(&tls::load_certs(&stranger).unwrap()), None);
    }
}
