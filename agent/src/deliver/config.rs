//! `agent.toml`: where the aggregator is, the agent's certificate, the spool, the schedule.
//!
//! API boundary: unknown keys are refused, relative paths are relative to the config file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::collect::ibm::SearchLimits;

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
pub struct AgentConfig {
    /// The aggregator's URL, `https://HOST:PORT`.
    pub aggregator: String,
    /// The name to check the aggregator's certificate against; default: the URL's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// CA certificate(s) (PEM) that issued the aggregator's certificate.
    pub ca: PathBuf,
    /// This agent's certificate (PEM, issued by the agents' CA, naming this host) and key.
    pub cert: PathBuf,
    pub key: PathBuf,
    #[serde(default)]
    pub spool: SpoolConfig,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub scan: ScanConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Folder of reports not yet acknowledged.
    pub dir: PathBuf,
    /// Bounds of the spool; when either is reached the OLDEST reports are dropped (and logged):
    /// the newest report describes the host as it is now.
    pub max_bytes: u64,
    pub max_reports: usize,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: PathBuf::from("/var/lib/subcap-agent/spool"),
            max_bytes: 64 * 1024 * 1024,
            max_reports: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// Time between collections, and the most each is moved earlier or later at random.
    pub interval_secs: u64,
    pub jitter_secs: u64,
    /// Retry delays after a failed delivery grow from the first to the most, with jitter.
    pub retry_first_secs: u64,
    pub retry_max_secs: u64,
    /// Time allowed for connecting and for one report's acknowledgement.
    pub request_timeout_secs: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            interval_secs: 6 * 3600,
            jitter_secs: 30 * 60,
            retry_first_secs: 5,
            retry_max_secs: 15 * 60,
            request_timeout_secs: 30,
        }
    }
}

impl Schedule {
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }
    pub fn jitter(&self) -> Duration {
        Duration::from_secs(self.jitter_secs)
    }
    pub fn retry_first(&self) -> Duration {
        Duration::from_secs(self.retry_first_secs)
    }
    pub fn retry_max(&self) -> Duration {
        Duration::from_secs(self.retry_max_secs)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// The scan root (as `scan --root`).
    pub root: PathBuf,
    pub ibm_paths: Vec<PathBuf>,
    pub ibm_max_depth: usize,
    pub ibm_max_files: usize,
    pub ibm_budget_ms: u64,
}

impl Default for ScanConfig {
    fn default() -> Self {
        let d = SearchLimits::default();
        ScanConfig {
            root: PathBuf::from("/"),
            ibm_paths: Vec::new(),
            ibm_max_depth: d.max_depth,
            ibm_max_files: d.max_files,
            ibm_budget_ms: u64::try_from(d.time_budget.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl ScanConfig {
    pub fn limits(&self) -> SearchLimits {
        SearchLimits {
            extra_paths: self.ibm_paths.clone(),
            max_depth: self.ibm_max_depth,
            max_files: self.ibm_max_files,
            time_budget: Duration::from_millis(self.ibm_budget_ms),
        }
    }
}

impl AgentConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(
            &text,
            &path.display().to_string(),
            path.parent().unwrap_or(Path::new(".")),
        )
    }

    pub fn parse(text: &str, name: &str, base: &Path) -> Result<Self, ConfigError> {
        let mut c: AgentConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |field, problem: &str| ConfigError::Invalid {
            path: name.to_string(),
            field,
            problem: problem.to_string(),
        };
        if !c.aggregator.starts_with("https://") {
            return Err(invalid(
                "aggregator",
                "must be an https:// URL: reports travel only over mutual TLS",
            ));
        }
        if c.server_name.is_none() && c.host().is_none() {
            return Err(invalid("aggregator", "has no host name"));
        }
        let s = &c.schedule;
        if s.interval_secs < 60 {
            return Err(invalid("schedule.interval_secs", "must be at least 60"));
        }
        if s.jitter_secs >= s.interval_secs {
            return Err(invalid(
                "schedule.jitter_secs",
                "must be less than schedule.interval_secs",
            ));
        }
        if s.retry_first_secs == 0 || s.retry_max_secs < s.retry_first_secs {
            return Err(invalid(
                "schedule.retry_max_secs",
                "retry_first_secs must be at least 1 and retry_max_secs at least retry_first_secs",
            ));
        }
        if s.request_timeout_secs == 0 {
            return Err(invalid(
                "schedule.request_timeout_secs",
                "must be at least 1",
            ));
        }
        if c.spool.max_reports == 0 || c.spool.max_bytes < 64 * 1024 {
            return Err(invalid(
                "spool",
                "max_reports must be at least 1 and max_bytes at least 65536",
            ));
        }
        for p in [&mut c.ca, &mut c.cert, &mut c.key, &mut c.spool.dir] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }

    /// The host part of the aggregator URL.
    pub fn host(&self) -> Option<String> {
        let rest = self.aggregator.strip_prefix("https://")?;
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

    /// The name the aggregator's certificate must carry.
    pub fn server_name(&self) -> String {
        self.server_name
            .clone()
            .or_else(|| self.host())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "aggregator = \"https://agg.bank.example:7443\"\nca = \"ca.pem\"\ncert = \"agent.pem\"\nkey = \"/etc/subcap/agent.key\"\n";

    #[test]
    fn defaults_and_paths() {
        let c = AgentConfig::parse(MIN, "agent.toml", Path::new("/etc/subcap")).unwrap();
        assert_eq!(c.ca, Path::new("/etc/subcap/ca.pem"));
        assert_eq!(c.key, Path::new("/etc/subcap/agent.key"));
        assert_eq!(c.server_name(), "agg.bank.example");
        assert_eq!(c.schedule.interval(), Duration::from_secs(6 * 3600));
        assert_eq!(c.scan.root, Path::new("/"));
    }

    #[test]
    fn url_hosts() {
        for (url, host) in [
            ("https://10.0.0.1:7443", "10.0.0.1"),
            ("https://[::1]:7443", "::1"),
            ("https://agg", "agg"),
        ] {
            let c = AgentConfig::parse(
                &MIN.replace("https://agg.bank.example:7443", url),
                "a",
                Path::new("/"),
            )
            .unwrap();
            assert_eq!(c.host().as_deref(), Some(host), "{url}");
        }
    }

    #[test]
    fn errors_name_file_and_field() {
        let cases = [
            (
                MIN.replace("https://", "http://"),
                "agent.toml: aggregator: must be an https:// URL",
            ),
            (
                format!("{MIN}[schedule]\ninterval_secs = 10\n"),
                "agent.toml: schedule.interval_secs",
            ),
            (
                format!("{MIN}[schedule]\ninterval_secs = 600\njitter_secs = 600\n"),
                "agent.toml: schedule.jitter_secs",
            ),
            (
                format!("{MIN}[spool]\nmax_reports = 0\n"),
                "agent.toml: spool:",
            ),
            (format!("{MIN}colour = 1\n"), "unknown field `colour`"),
        ];
        for (text, want) in cases {
            let e = AgentConfig::parse(&text, "agent.toml", Path::new("/"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        }
    }
}

#[cfg(test)]
mod shipped_example {
    use super::*;

    #[test]
    fn the_example_in_deploy_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/agent.toml");
        let c = AgentConfig::load(&path).unwrap();
        assert_eq!(c.server_name(), "subcap.bank.example");
        assert_eq!(c.spool.max_reports, 1000);
    }
}
