//! `aggregator.toml`: where to listen, the certificates, limits, retention, reconciliation rules,
//! the ILMT REST pull, metrics and logs.
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
    pub store: StoreConfig,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub reconcile: ReconcileConfig,
    /// ILMT's REST API, pulled on demand (`subcap ilmt pull`) and on a schedule; none when absent.
    pub ilmt: Option<IlmtConfig>,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default)]
    pub log: Log,
}

/// `[reconcile]`: the thresholds findings are judged by, and a site's own data files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileConfig {
    /// An ILMT computer last seen more than this many days ago is STALE.
    pub stale_days: u32,
    /// A host whose last ILMT software/capacity scan or upload is older is ILMT_AGENT_DOWN.
    pub scan_max_age_days: u32,
    /// Cores by which agent and ILMT may differ before CAPACITY_MISMATCH.
    pub capacity_tolerance_cores: f64,
    /// Days after IBM software is first seen by which ILMT must cover the host (DEADLINE).
    pub deadline_days: u32,
    /// How often the metrics' reconciliation is refreshed, in seconds (queries always see the
    /// store as it is).
    pub interval_secs: u64,
    /// A site's own eligibility policy / PVU table (same format as the built-in files in
    /// `aggregator/data/`); the built-in ones when absent.
    pub eligibility: Option<PathBuf>,
    pub pvu_table: Option<PathBuf>,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        let t = crate::domain::Thresholds::default();
        ReconcileConfig {
            stale_days: u32::try_from(t.stale_days).unwrap_or(14),
            scan_max_age_days: u32::try_from(t.scan_max_age_days).unwrap_or(14),
            capacity_tolerance_cores: t.capacity_tolerance_cores,
            deadline_days: u32::try_from(t.deadline_days).unwrap_or(90),
            interval_secs: 300,
            eligibility: None,
            pvu_table: None,
        }
    }
}

impl ReconcileConfig {
    pub fn thresholds(&self) -> crate::domain::Thresholds {
        crate::domain::Thresholds {
            stale_days: i64::from(self.stale_days),
            scan_max_age_days: i64::from(self.scan_max_age_days),
            capacity_tolerance_cores: self.capacity_tolerance_cores,
            deadline_days: i64::from(self.deadline_days),
        }
    }
}

/// `[ilmt]`: where ILMT's REST API is and how to reach it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IlmtConfig {
    /// `https://ilmt.example.com:9081` (a path prefix is kept).
    pub url: String,
    /// A file holding the API token (readable by the aggregator only).
    pub token_file: PathBuf,
    /// PEM CA certificate(s) of the ILMT server's certificate.
    pub ca_file: PathBuf,
    /// Seconds between scheduled pulls; 0: only on demand (`subcap ilmt pull`).
    #[serde(default = "default_pull_interval")]
    pub pull_interval_secs: u64,
    /// Rows per API page.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// One page: request sent to body fully read.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
}

fn default_pull_interval() -> u64 {
    86_400
}
fn default_page_size() -> usize {
    10_000
}
fn default_connect_timeout() -> u64 {
    15
}
fn default_request_timeout() -> u64 {
    300
}

impl IlmtConfig {
    /// The REST client's settings.
    pub fn pull_config(&self) -> crate::ilmt::rest::PullConfig {
        let mut c = crate::ilmt::rest::PullConfig::new(&self.url, &self.token_file, &self.ca_file);
        c.page_size = self.page_size;
        c.connect_timeout = Duration::from_secs(self.connect_timeout_secs);
        c.request_timeout = Duration::from_secs(self.request_timeout_secs);
        c
    }
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
pub struct StoreConfig {
    /// Memory the store may use to cache its pages, in MiB (the process needs about 60 MiB more).
    /// The hot part of the store is about 0.5 KiB per host: raise it for estates well beyond
    /// 100,000 hosts.
    pub cache_mb: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_mb: crate::store::sled_store::DEFAULT_CACHE_BYTES / (1024 * 1024),
        }
    }
}

impl StoreConfig {
    pub fn cache_bytes(&self) -> u64 {
        self.cache_mb.saturating_mul(1024 * 1024)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Full report bodies and their history entries older than this are deleted (each host's
    /// latest is always kept). The coverage ledger can be recomputed only this far back.
    pub report_days: u32,
    /// The coverage ledger (the per-host record of coverage states, day by day) older than this
    /// is deleted, keeping the state in force; at least five years.
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
        if c.store.cache_mb == 0 {
            return Err(invalid("store.cache_mb", "must be at least 1".into()));
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
        let r = &c.reconcile;
        for (field, v) in [
            ("reconcile.stale_days", r.stale_days),
            ("reconcile.scan_max_age_days", r.scan_max_age_days),
            ("reconcile.deadline_days", r.deadline_days),
        ] {
            if v == 0 {
                return Err(invalid(field, "must be at least 1".into()));
            }
        }
        if !(r.capacity_tolerance_cores >= 0.0 && r.capacity_tolerance_cores.is_finite()) {
            return Err(invalid(
                "reconcile.capacity_tolerance_cores",
                format!(
                    "{} is not a number of cores >= 0",
                    r.capacity_tolerance_cores
                ),
            ));
        }
        if r.interval_secs == 0 {
            return Err(invalid(
                "reconcile.interval_secs",
                "must be at least 1".into(),
            ));
        }
        if let Some(i) = &c.ilmt {
            if !i.url.starts_with("https://") {
                return Err(invalid(
                    "ilmt.url",
                    format!(
                        "{:?}: only https:// is supported (the token must not travel in clear)",
                        i.url
                    ),
                ));
            }
            if i.page_size == 0 || i.page_size > 100_000 {
                return Err(invalid("ilmt.page_size", "1 to 100000".into()));
            }
            if i.connect_timeout_secs == 0 || i.request_timeout_secs == 0 {
                return Err(invalid("ilmt.*_timeout_secs", "must be at least 1".into()));
            }
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
        if let Some(p) = c.reconcile.eligibility.as_mut() {
            abs(p);
        }
        if let Some(p) = c.reconcile.pvu_table.as_mut() {
            abs(p);
        }
        if let Some(i) = c.ilmt.as_mut() {
            abs(&mut i.token_file);
            abs(&mut i.ca_file);
        }
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
        assert_eq!(c.store.cache_mb, 64);
        assert_eq!(
            c.reconcile.thresholds(),
            crate::domain::Thresholds::default()
        );
        assert!(c.ilmt.is_none());
    }

    #[test]
    fn ilmt_and_data_file_paths_resolve_next_to_the_config() {
        let text = format!(
            "{MINIMAL}\n[reconcile]\nstale_days = 30\npvu_table = \"site-pvu.toml\"\n\n[ilmt]\nurl = \"https://ilmt.example.com:9081\"\ntoken_file = \"ilmt-token\"\nca_file = \"/etc/pki/ilmt-ca.pem\"\npull_interval_secs = 3600\n"
        );
        let c = Config::parse(&text, "a.toml", Path::new("/etc/subcap")).unwrap();
        assert_eq!(c.reconcile.thresholds().stale_days, 30);
        assert_eq!(
            c.reconcile.pvu_table.as_deref(),
            Some(Path::new("/etc/subcap/site-pvu.toml"))
        );
        let i = c.ilmt.unwrap();
        assert_eq!(i.token_file, Path::new("/etc/subcap/ilmt-token"));
        assert_eq!(i.pull_interval_secs, 3600);
        let p = i.pull_config();
        assert_eq!(p.page_size, 10_000);
        assert_eq!(p.ca_file, Path::new("/etc/pki/ilmt-ca.pem"));
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
                format!("{MINIMAL}\n[store]\ncache_mb = 0\n"),
                "a.toml: store.cache_mb: must be at least 1",
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
            (
                format!("{MINIMAL}\n[reconcile]\nstale_days = 0\n"),
                "a.toml: reconcile.stale_days: must be at least 1",
            ),
            (
                format!("{MINIMAL}\n[reconcile]\ncapacity_tolerance_cores = -1.0\n"),
                "a.toml: reconcile.capacity_tolerance_cores: -1 is not",
            ),
            (
                format!("{MINIMAL}\n[ilmt]\nurl = \"http://ilmt:9081\"\ntoken_file = \"t\"\nca_file = \"c\"\n"),
                "a.toml: ilmt.url: \"http://ilmt:9081\": only https://",
            ),
            (
                format!("{MINIMAL}\n[ilmt]\nurl = \"https://ilmt:9081\"\n"),
                "missing field `token_file`",
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
