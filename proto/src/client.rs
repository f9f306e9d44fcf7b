//! The client side of the contract: a gRPC channel to the aggregator over mutual TLS, as both the
//! agent (agent certificate) and the operator CLI (operator certificate) open it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Where the aggregator is and which certificate to present.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// `https://HOST:PORT`.
    pub url: String,
    /// The name the aggregator's certificate must carry.
    pub server_name: String,
    /// CA certificate(s) (PEM) that issued the aggregator's certificate.
    pub ca: PathBuf,
    /// This client's certificate and key (PEM).
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Time allowed to connect and for each call.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("aggregator {url}: {source}")]
    Endpoint {
        url: String,
        source: tonic::transport::Error,
    },
}

fn read(p: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(p).map_err(|source| ClientError::Read {
        path: p.display().to_string(),
        source,
    })
}

/// A channel that connects on first use (creating it never fails for an outage; calls do).
pub fn channel(c: &ClientTls) -> Result<Channel, ClientError> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&c.ca)?))
        .identity(Identity::from_pem(read(&c.cert)?, read(&c.key)?))
        .domain_name(c.server_name.clone());
    let endpoint_err = |source| ClientError::Endpoint {
        url: c.url.clone(),
        source,
    };
    Ok(Endpoint::from_shared(c.url.clone())
        .map_err(endpoint_err)?
        .tls_config(tls)
        .map_err(endpoint_err)?
        .connect_timeout(c.timeout)
        .timeout(c.timeout)
        .tcp_nodelay(true)
        .connect_lazy())
}

/// The host part of an `https://HOST[:PORT][/...]` URL (brackets of an IPv6 literal removed).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(authority)
    };
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        for (url, host) in [
            ("https://10.0.0.1:7443", Some("10.0.0.1")),
            ("https://[::1]:7443", Some("::1")),
            ("https://agg", Some("agg")),
            ("https://agg.bank.example:7443/x", Some("agg.bank.example")),
            ("http://agg", None),
            ("https://", None),
        ] {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }
}
