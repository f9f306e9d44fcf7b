//! The operator side: `operator.toml` (where the aggregator is, the operator certificate) and the
//! tables the `subcap` command prints.

pub mod output;
pub mod views;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;

/// `operator.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// The aggregator's URL, `https://HOST:PORT`.
    pub aggregator: String,
    /// The name on the aggregator's certificate; default: the URL's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// CA that issued the aggregator's certificate; this operator's certificate (operators' CA) and key.
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    60
}

impl OperatorConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        let mut c: OperatorConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: name.clone(),
            message: e.to_string(),
        })?;
        if subcap_proto::client::url_host(&c.aggregator).is_none() {
            return Err(ConfigError::Invalid {
                path: name,
                field: "aggregator",
                problem: "must be an https://HOST:PORT URL".into(),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut c.ca, &mut c.cert, &mut c.key] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }

    /// How to reach the aggregator with the operator certificate.
    pub fn client_tls(&self) -> subcap_proto::client::ClientTls {
        subcap_proto::client::ClientTls {
            url: self.aggregator.clone(),
            server_name: self
                .server_name
                .clone()
                .or_else(|| subcap_proto::client::url_host(&self.aggregator))
                .unwrap_or_default(),
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            timeout: Duration::from_secs(self.timeout_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_in_deploy_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/operator.toml");
        let c = OperatorConfig::load(&path).unwrap();
        let tls = c.client_tls();
        assert_eq!(tls.server_name, "subcap.bank.example");
        assert_eq!(tls.timeout, Duration::from_secs(60));
    }

    #[test]
    fn a_url_without_host_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("op.toml");
        std::fs::write(
            &p,
            "aggregator = \"subcap:7443\"\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n",
        )
        .unwrap();
        let e = OperatorConfig::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("op.toml: aggregator: must be an https://HOST:PORT URL"),
            "{e}"
        );
    }
}
