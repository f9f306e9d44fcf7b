//! `aggregator.toml`: where to listen, the certificates, limits, retention, metrics and logs.
//!
//! API boundary: unknown keys are refused (a typo must not silently fall back to a default), and
//! relative paths are taken relative to the config file's folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Five years and a day: coverage state must be kept at least this long (IBM's lookback).
pub const MIN_HISTORY_DAYS: u32 = 5 * 365 + 2;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {field}: {problem}")]
    Invalid {
        path: String,
        field: &'static str,
        problem: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the gRPC listener (agents and operators).
    pub listen: SocketAddr,
    /// Folder of the sled store.
    pub data_dir: PathBuf,
    pub tls: TlsConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default)]
    pub log: Log,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM) and private key (PEM).
    pub cert: PathBuf,
    pub key: PathBuf,
    /// CA certificates (PEM) whose certificates may submit reports.
    pub agent_ca: PathBuf,
    /// CA certificates (PEM) whose certificates may query and import.
    pub operator_ca: PathBuf,
    #[serde(default)]
    pub identity_binding: IdentityBinding,
}

/// Whether a report's host must be named by the agent certificate that sends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityBinding {
    /// The certificate must be valid (subjectAltName DNS) for the report's FQDN or hostname.
    #[default]
    Strict,
    /// Any agent certificate may report any host (a shared certificate per estate): weaker.
    Off,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest gRPC message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most open connections; further connections wait in the kernel's backlog.
    pub max_connections: usize,
    /// Most requests being served at once, all connections together.
    pub max_concurrent_requests: usize,
    /// Most concurrent streams on one HTTP/2 connection.
    pub max_streams_per_connection: u32,
    pub handshake_timeout_secs: u64,
    pub request_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 4 * 1024 * 1024,
            max_connections: 25_000,
            max_concurrent_requests: 2048,
            max_streams_per_connection: 64,
            handshake_timeout_secs: 10,
            request_timeout_secs: 30,
        }
    }
}

impl Limits {
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Full report bodies older than this are deleted (each host's latest is always kept).
    pub report_days: u32,
    /// History entries (the coverage record) older than this are deleted; at least five years.
    pub history_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            report_days: 400,
            history_days: 7 * 365 + 2,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Address of the Prometheus endpoint (`GET /metrics`, plain HTTP); none when absent.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    /// A tracing filter (`info`, `subcap_aggregator=debug`); `RUST_LOG` overrides it.
    pub level: Option<String>,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// Parses config text; `name` is used in errors, `base` resolves relative paths.
    pub fn parse(text: &str, name: &str, base: &Path) -> Result<Self, ConfigError> {
        let mut c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |field, problem: String| ConfigError::Invalid {
            path: name.to_string(),
            field,
            problem,
        };
        if c.retention.history_days < MIN_HISTORY_DAYS {
            return Err(invalid(
                "retention.history_days",
                format!("{} is less than five years ({MIN_HISTORY_DAYS} days): the coverage record must cover IBM's lookback", c.retention.history_days),
            ));
        }
        if c.retention.report_days == 0 {
            return Err(invalid(
                "retention.report_days",
                "must be at least 1".into(),
            ));
        }
        for (field, v) in [
            ("limits.max_message_bytes", c.limits.max_message_bytes),
            ("limits.max_connections", c.limits.max_connections),
            (
                "limits.max_concurrent_requests",
                c.limits.max_concurrent_requests,
            ),
        ] {
            if v == 0 {
                return Err(invalid(field, "must be at least 1".into()));
            }
        }
        if c.limits.max_message_bytes > 64 * 1024 * 1024 {
            return Err(invalid(
                "limits.max_message_bytes",
                "more than 64 MiB is refused".into(),
            ));
        }
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut c.data_dir);
        abs(&mut c.tls.cert);
        abs(&mut c.tls.key);
        abs(&mut c.tls.agent_ca);
        abs(&mut c.tls.operator_ca);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
listen = "127.0.0.1:7443"
data_dir = "data"
[tls]
cert = "server.pem"
key = "server.key"
agent_ca = "agents-ca.pem"
operator_ca = "/etc/pki/operators-ca.pem"
"#;

    #[test]
    fn minimal_config_takes_defaults_and_resolves_paths() {
        let c = Config::parse(MINIMAL, "a.toml", Path::new("/etc/subcap")).unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/subcap/data"));
        assert_eq!(c.tls.operator_ca, Path::new("/etc/pki/operators-ca.pem"));
        assert_eq!(c.tls.identity_binding, IdentityBinding::Strict);
        assert_eq!(c.limits.max_message_bytes, 4 * 1024 * 1024);
        assert!(c.retention.history_days >= MIN_HISTORY_DAYS);
        assert!(c.metrics.listen.is_none());
    }

    #[test]
    fn errors_name_file_and_field() {
        let cases = [
            (
                format!("{MINIMAL}\n[retention]\nhistory_days = 365\n"),
                "a.toml: retention.history_days: 365 is less than five years",
            ),
            (
                format!("{MINIMAL}\n[limits]\nmax_connections = 0\n"),
                "a.toml: limits.max_connections: must be at least 1",
            ),
            (
                MINIMAL.replace("listen", "listne"),
                "unknown field `listne`",
            ),
            (
                MINIMAL.replace("127.0.0.1:7443", "nowhere"),
                "invalid socket address",
            ),
            (
                format!("{MINIMAL}identity_binding = \"loose\"\n"),
                "unknown variant `loose`",
            ),
        ];
        for (text, want) in cases {
            let e = Config::parse(&text, "a.toml", Path::new("/"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
            assert!(e.starts_with("a.toml"), "{e}");
        }
    }
}

#[cfg(test)]
mod shipped_example {
    use super::*;

    #[test]
    fn the_example_in_deploy_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/aggregator.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.tls.identity_binding, IdentityBinding::Strict);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.metrics.listen.map(|a| a.port()), Some(9464));
    }
}
