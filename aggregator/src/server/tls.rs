//! Mutual TLS for the aggregator: the server configuration (client certificates required, from
//! the agents' CA or the operators' CA), and the role and host names a peer's certificate grants.
//!
//! rustls with the `ring` provider; TLS 1.2 and 1.3 with rustls's safe defaults; ALPN `h2` only.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {problem}")]
    Pem { path: String, problem: String },
    #[error("{path}: no certificate in the file")]
    NoCertificate { path: String },
    #[error("{what}: {source}")]
    Rustls {
        what: &'static str,
        source: rustls::Error,
    },
    #[error("client verifier for {what}: {problem}")]
    Verifier { what: &'static str, problem: String },
    #[error("{agent_ca} and {operator_ca} share a CA certificate: every agent would be an operator; give operators their own CA")]
    SharedCa {
        agent_ca: String,
        operator_ca: String,
    },
}

/// What a client certificate allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Issued by the agents' CA: may submit reports (for the hosts it names).
    Agent,
    /// Issued by the operators' CA: may query and import.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Operator => "operator",
        }
    }
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in the PEM file `path`.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let name = path.display().to_string();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Pem {
            path: name.clone(),
            problem: e.to_string(),
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: name.clone(),
            problem: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: name });
    }
    Ok(certs)
}

/// The private key in the PEM file `path` (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        path: path.display().to_string(),
        problem: e.to_string(),
    })
}

fn roots(certs: &[CertificateDer<'static>], what: &'static str) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for c in certs {
        store
            .add(c.clone())
            .map_err(|source| TlsError::Rustls { what, source })?;
    }
    Ok(store)
}

fn verifier(
    store: RootCertStore,
    what: &'static str,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .map_err(|e| TlsError::Verifier {
            what,
            problem: e.to_string(),
        })
}

/// The two CA roles, checked against a peer's certificate chain after the handshake.
pub struct Roles {
    agent: Arc<dyn ClientCertVerifier>,
    operator: Arc<dyn ClientCertVerifier>,
}

impl std::fmt::Debug for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Roles")
    }
}

impl Roles {
    /// The role `chain` (leaf first) grants, verified against each CA in turn. Operators first: a
    /// certificate chaining to both (a misconfiguration) is an operator, never silently an agent.
    pub fn role_of(&self, chain: &[CertificateDer<'_>]) -> Option<Role> {
        let (leaf, intermediates) = chain.split_first()?;
        let now = UnixTime::now();
        if self
            .operator
            .verify_client_cert(leaf, intermediates, now)
            .is_ok()
        {
            Some(Role::Operator)
        } else if self
            .agent
            .verify_client_cert(leaf, intermediates, now)
            .is_ok()
        {
            Some(Role::Agent)
        } else {
            None
        }
    }
}

/// Whether the leaf certificate is valid for host name `name` (subjectAltName DNS entries, as a
/// TLS client checks a server: wildcards included, the common name ignored).
pub fn names_host(leaf: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(server_name) = ServerName::try_from(name.to_ascii_lowercase()) else {
        return false;
    };
    let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    cert.verify_is_valid_for_subject_name(&server_name).is_ok()
}

/// The server's TLS configuration and the CA roles, from the config's files.
pub fn server_config(
    cert: &Path,
    key: &Path,
    agent_ca: &Path,
    operator_ca: &Path,
) -> Result<(rustls::ServerConfig, Roles), TlsError> {
    let chain = load_certs(cert)?;
    let key = load_key(key)?;
    let agent_certs = load_certs(agent_ca)?;
    let operator_certs = load_certs(operator_ca)?;
    if operator_certs.iter().any(|c| agent_certs.contains(c)) {
        return Err(TlsError::SharedCa {
            agent_ca: agent_ca.display().to_string(),
            operator_ca: operator_ca.display().to_string(),
        });
    }
    let mut both = roots(&agent_certs, "agent_ca")?;
    for c in &operator_certs {
        both.add(c.clone()).map_err(|source| TlsError::Rustls {
            what: "operator_ca",
            source,
        })?;
    }
    let roles = Roles {
        agent: verifier(roots(&agent_certs, "agent_ca")?, "agent_ca")?,
        operator: verifier(roots(&operator_certs, "operator_ca")?, "operator_ca")?,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            what: "protocol versions",
            source,
        })?
        .with_client_cert_verifier(verifier(both, "agent_ca + operator_ca")?)
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::Rustls {
            what: "server certificate and key",
            source,
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((config, roles))
}
