//! Delivery: collect, spool, and push reports to the aggregator over gRPC with mutual TLS.
//!
//! Every report goes to the spool before it is sent and leaves it only when acknowledged, so a
//! crash or an outage loses nothing; the spool is delivered oldest first. One thread is enough:
//! the daemon runs on a current-thread runtime.

pub mod backoff;
pub mod config;
pub mod spool;

use std::time::{Duration, SystemTime};

use subcap_proto::v1 as pb;
use subcap_proto::v1::ingest_client::IngestClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

use crate::collect::virt::CpuidSource;
use crate::scan::{self, ScanOptions};
use config::AgentConfig;
use spool::{Entry, Spool, SpoolError};

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
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
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("report id: {0}")]
    Random(std::io::Error),
}

/// A connection to the aggregator (made lazily: creating it never fails for an outage).
pub fn connect(cfg: &AgentConfig) -> Result<IngestClient<Channel>, DeliverError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|source| DeliverError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&cfg.ca)?))
        .identity(Identity::from_pem(read(&cfg.cert)?, read(&cfg.key)?))
        .domain_name(cfg.server_name());
    let endpoint_err = |source| DeliverError::Endpoint {
        url: cfg.aggregator.clone(),
        source,
    };
    let channel = Endpoint::from_shared(cfg.aggregator.clone())
        .map_err(endpoint_err)?
        .tls_config(tls)
        .map_err(endpoint_err)?
        .connect_timeout(cfg.schedule.request_timeout())
        .timeout(cfg.schedule.request_timeout())
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(IngestClient::new(channel))
}

/// Collects a report as the config says, with a fresh report id, at `now`.
pub fn collect(cfg: &AgentConfig, now: SystemTime) -> Result<pb::HostReport, DeliverError> {
    let opts = ScanOptions {
        root: cfg.scan.root.clone(),
        cpuid: CpuidSource::Native,
        ibm: cfg.scan.limits(),
    };
    Ok(scan::scan(
        &opts,
        now,
        scan::new_report_id().map_err(DeliverError::Random)?,
    ))
}

/// Collects and spools one report, logging any oldest reports the bound pushed out.
pub fn collect_into_spool(
    cfg: &AgentConfig,
    spool: &Spool,
) -> Result<(String, Entry), DeliverError> {
    let report = collect(cfg, SystemTime::now())?;
    let (entry, dropped) = spool.push(&report)?;
    for d in dropped {
        tracing::warn!(file = %d.path.display(), "spool full: dropped the oldest unsent report");
    }
    tracing::info!(report_id = %report.report_id, warnings = report.warnings.len(), file = %entry.path.display(), "report collected and spooled");
    Ok((report.report_id, entry))
}

/// How one pass over the spool ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Report ids acknowledged in this pass, in order.
    pub acknowledged: Vec<String>,
    /// Set aside: refused by the aggregator as invalid, or unreadable.
    pub set_aside: usize,
    /// Why the pass stopped early (the rest stays spooled for a retry), if it did.
    pub stopped: Option<String>,
}

/// Sends spooled reports oldest first, removing each once acknowledged. Stops at the first
/// failure that a retry may cure (aggregator unreachable, overloaded, certificate refused);
/// sets aside a report the aggregator refuses as invalid, and a record that fails its checksum.
pub async fn deliver_spool(
    client: &mut IngestClient<Channel>,
    spool: &Spool,
) -> Result<Delivery, DeliverError> {
    let mut d = Delivery::default();
    for entry in spool.entries()? {
        let report = match spool.read(&entry) {
            Ok(r) => r,
            Err(e) => {
                let to = spool.set_aside(&entry, "corrupt")?;
                tracing::error!(error = %e, moved_to = %to.display(), "spooled record is damaged; set aside");
                d.set_aside += 1;
                continue;
            }
        };
        let id = report.report_id.clone();
        match client
            .submit_report(pb::SubmitReportRequest {
                report: Some(report),
            })
            .await
        {
            Ok(ack) => {
                spool.remove(&entry)?;
                tracing::info!(report_id = %id, duplicate = ack.get_ref().duplicate, "report acknowledged");
                d.acknowledged.push(id);
            }
            Err(status) if status.code() == Code::InvalidArgument => {
                let to = spool.set_aside(&entry, "rejected")?;
                tracing::error!(report_id = %id, error = %status.message(), moved_to = %to.display(), "aggregator refused the report as invalid; set aside");
                d.set_aside += 1;
            }
            Err(status) => {
                tracing::warn!(report_id = %id, code = ?status.code(), error = %status.message(), "delivery failed; will retry");
                d.stopped = Some(format!("{:?}: {}", status.code(), status.message()));
                return Ok(d);
            }
        }
    }
    Ok(d)
}

/// `push --once`: collect, spool and deliver everything spooled. Ok(true) when the report
/// collected now was acknowledged.
pub async fn push_once(cfg: &AgentConfig) -> Result<(bool, Delivery), DeliverError> {
    let spool = Spool::open(&cfg.spool.dir, cfg.spool.max_bytes, cfg.spool.max_reports)?;
    let (id, _) = collect_into_spool(cfg, &spool)?;
    let mut client = connect(cfg)?;
    let d = deliver_spool(&mut client, &spool).await?;
    Ok((d.acknowledged.contains(&id), d))
}

/// The daemon: collect at start and every interval (with jitter), deliver the spool, retry with
/// exponential backoff and jitter, until `shutdown` completes.
pub async fn run(
    cfg: &AgentConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DeliverError> {
    let spool = Spool::open(&cfg.spool.dir, cfg.spool.max_bytes, cfg.spool.max_reports)?;
    let mut client = connect(cfg)?;
    let s = &cfg.schedule;
    tokio::pin!(shutdown);
    let mut next_collection = tokio::time::Instant::now();
    let mut attempt: u32 = 0;
    loop {
        if tokio::time::Instant::now() >= next_collection {
            if let Err(e) = collect_into_spool(cfg, &spool) {
                tracing::error!(error = %e, "collection failed");
            }
            next_collection = tokio::time::Instant::now()
                + backoff::next_collection(s.interval(), s.jitter(), backoff::random_unit());
        }
        let delivered = match deliver_spool(&mut client, &spool).await {
            Ok(d) => d.stopped.is_none(),
            Err(e) => {
                tracing::error!(error = %e, "spool error");
                false
            }
        };
        let wait = if delivered {
            attempt = 0;
            next_collection.saturating_duration_since(tokio::time::Instant::now())
        } else {
            attempt = attempt.saturating_add(1);
            backoff::retry_delay(
                attempt,
                s.retry_first(),
                s.retry_max(),
                backoff::random_unit(),
            )
        };
        let wait = wait
            .min(next_collection.saturating_duration_since(tokio::time::Instant::now()))
            .max(Duration::from_millis(10));
        tokio::select! {
            _ = &mut shutdown => {
                tracing::info!("shutting down; unsent reports stay spooled");
                return Ok(());
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
