//! Prometheus metrics: counters kept in atomics, rendered in the text exposition format, served
//! by a minimal HTTP/1.1 endpoint (`GET /metrics`). No metrics library: the set is small and fixed.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::reconcile::Totals;
use crate::store::Store;

/// Why a report was refused: the label of `subcap_reports_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
}

impl Refusal {
    const ALL: [Refusal; 4] = [
        Refusal::InvalidArgument,
        Refusal::PermissionDenied,
        Refusal::Unauthenticated,
        Refusal::Unavailable,
    ];
    fn label(self) -> &'static str {
        match self {
            Refusal::InvalidArgument => "invalid_argument",
            Refusal::PermissionDenied => "permission_denied",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Unavailable => "unavailable",
        }
    }
}

/// Upper bounds (seconds) of the ingest latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
pub struct Metrics {
    stored: AtomicU64,
    duplicates: AtomicU64,
    refused: [AtomicU64; 4],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    connections_open: AtomicU64,
    handshake_failures: AtomicU64,
    flushes: AtomicU64,
    flush_micros: AtomicU64,
    flushed_requests: AtomicU64,
    write_batches: AtomicU64,
    batched_writes: AtomicU64,
    /// The latest reconciliation's counts and when it was computed.
    reconciliation: Mutex<Option<(Totals, SystemTime)>>,
    ilmt_pulls_ok: AtomicU64,
    ilmt_pulls_failed: AtomicU64,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Metrics::default())
    }

    pub fn accepted(&self, duplicate: bool, took: Duration) {
        if duplicate {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stored.fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        for (b, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn refused(&self, why: Refusal) {
        let i = Refusal::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn handshake_failed(&self) {
        self.handshake_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// One batch of `reports` written to the store in one transaction.
    pub fn written(&self, reports: usize) {
        self.write_batches.fetch_add(1, Ordering::Relaxed);
        self.batched_writes.fetch_add(
            u64::try_from(reports).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// One group-commit flush of the store that took `took` and made `requests` writes durable.
    pub fn flushed(&self, took: Duration, requests: u64) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.flush_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.flushed_requests.fetch_add(requests, Ordering::Relaxed);
    }

    /// Records the counts of a reconciliation computed at `at`.
    pub fn reconciled(&self, totals: &Totals, at: SystemTime) {
        let mut r = self
            .reconciliation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *r = Some((totals.clone(), at));
    }

    pub fn ilmt_pulled(&self, ok: bool) {
        let counter = if ok {
            &self.ilmt_pulls_ok
        } else {
            &self.ilmt_pulls_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn render_reconciliation(&self, o: &mut String) {
        let r = self
            .reconciliation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = writeln!(
            o,
            "# HELP subcap_ilmt_pulls_total Pulls of ILMT's REST API, by result."
        );
        let _ = writeln!(o, "# TYPE subcap_ilmt_pulls_total counter");
        let _ = writeln!(
            o,
            "subcap_ilmt_pulls_total{{result=\"ok\"}} {}",
            self.ilmt_pulls_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            o,
            "subcap_ilmt_pulls_total{{result=\"failed\"}} {}",
            self.ilmt_pulls_failed.load(Ordering::Relaxed)
        );
        // Absent until the first reconciliation: a zero would claim "nothing uncovered".
        let Some((t, at)) = r.as_ref() else {
            return;
        };
        let _ = writeln!(o, "# HELP subcap_hosts_by_coverage Hosts per coverage state, as of the last reconciliation.");
        let _ = writeln!(o, "# TYPE subcap_hosts_by_coverage gauge");
        for (c, n) in &t.hosts_by_coverage {
            let _ = writeln!(o, "subcap_hosts_by_coverage{{coverage=\"{c}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "# HELP subcap_findings Findings per code, as of the last reconciliation."
        );
        let _ = writeln!(o, "# TYPE subcap_findings gauge");
        for (c, n) in &t.findings_by_code {
            let _ = writeln!(o, "subcap_findings{{code=\"{c}\"}} {n}");
        }
        let _ = writeln!(o, "# HELP subcap_exposed_pvu PVU at risk: full minus sub-capacity of the hosts failing a sub-capacity condition (each host once), where known.");
        let _ = writeln!(o, "# TYPE subcap_exposed_pvu gauge");
        let _ = writeln!(o, "subcap_exposed_pvu {}", t.exposed_pvu);
        let _ = writeln!(o, "# HELP subcap_exposure_unknown_hosts Hosts failing a sub-capacity condition whose full capacity is unknown.");
        let _ = writeln!(o, "# TYPE subcap_exposure_unknown_hosts gauge");
        let _ = writeln!(
            o,
            "subcap_exposure_unknown_hosts {}",
            t.exposure_unknown_hosts
        );
        let secs = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let _ = writeln!(o, "# HELP subcap_reconciled_timestamp_seconds When the reconciliation behind these gauges was computed.");
        let _ = writeln!(o, "# TYPE subcap_reconciled_timestamp_seconds gauge");
        let _ = writeln!(o, "subcap_reconciled_timestamp_seconds {secs}");
    }

    /// The text exposition of every metric, with the store's gauges read now.
    pub fn render(&self, store: &dyn Store) -> String {
        let mut o = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            o,
            "# HELP subcap_reports_accepted_total Reports acknowledged to agents, by result."
        );
        let _ = writeln!(o, "# TYPE subcap_reports_accepted_total counter");
        let _ = writeln!(
            o,
            "subcap_reports_accepted_total{{result=\"stored\"}} {}",
            get(&self.stored)
        );
        let _ = writeln!(
            o,
            "subcap_reports_accepted_total{{result=\"duplicate\"}} {}",
            get(&self.duplicates)
        );
        let _ = writeln!(
            o,
            "# HELP subcap_reports_refused_total Reports refused, by reason."
        );
        let _ = writeln!(o, "# TYPE subcap_reports_refused_total counter");
        for (r, c) in Refusal::ALL.iter().zip(&self.refused) {
            let _ = writeln!(
                o,
                "subcap_reports_refused_total{{reason=\"{}\"}} {}",
                r.label(),
                get(c)
            );
        }
        let _ = writeln!(o, "# HELP subcap_ingest_duration_seconds Time from a report's arrival to its durable acknowledgement.");
        let _ = writeln!(o, "# TYPE subcap_ingest_duration_seconds histogram");
        for (b, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                o,
                "subcap_ingest_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(b)
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            o,
            "subcap_ingest_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            o,
            "subcap_ingest_duration_seconds_sum {}",
            get(&self.latency_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(o, "subcap_ingest_duration_seconds_count {count}");
        let _ = writeln!(
            o,
            "# HELP subcap_store_flush_seconds Group-commit flushes of the store (each makes every write before it durable)."
        );
        let _ = writeln!(o, "# TYPE subcap_store_flush_seconds summary");
        let _ = writeln!(
            o,
            "subcap_store_flush_seconds_sum {}",
            get(&self.flush_micros) as f64 / 1e6
        );
        let _ = writeln!(o, "subcap_store_flush_seconds_count {}", get(&self.flushes));
        let _ = writeln!(
            o,
            "# HELP subcap_store_flushed_requests_total Requests made durable by group-commit flushes (divide by the flush count for the mean group size)."
        );
        let _ = writeln!(o, "# TYPE subcap_store_flushed_requests_total counter");
        let _ = writeln!(
            o,
            "subcap_store_flushed_requests_total {}",
            get(&self.flushed_requests)
        );
        let _ = writeln!(
            o,
            "# HELP subcap_store_write_batches_total Store transactions of the report writer (each stores a batch of reports)."
        );
        let _ = writeln!(o, "# TYPE subcap_store_write_batches_total counter");
        let _ = writeln!(
            o,
            "subcap_store_write_batches_total {}",
            get(&self.write_batches)
        );
        let _ = writeln!(
            o,
            "# HELP subcap_store_batched_reports_total Reports written by the report writer's transactions."
        );
        let _ = writeln!(o, "# TYPE subcap_store_batched_reports_total counter");
        let _ = writeln!(
            o,
            "subcap_store_batched_reports_total {}",
            get(&self.batched_writes)
        );
        let _ = writeln!(
            o,
            "# HELP subcap_hosts_known Hosts with at least one stored report."
        );
        let _ = writeln!(o, "# TYPE subcap_hosts_known gauge");
        let _ = writeln!(o, "subcap_hosts_known {}", store.host_count());
        let _ = writeln!(
            o,
            "# HELP subcap_store_size_bytes Bytes the store takes on disk."
        );
        let _ = writeln!(o, "# TYPE subcap_store_size_bytes gauge");
        let _ = writeln!(o, "subcap_store_size_bytes {}", store.size_on_disk());
        let _ = writeln!(
            o,
            "# HELP subcap_connections_open Client connections open now."
        );
        let _ = writeln!(o, "# TYPE subcap_connections_open gauge");
        let _ = writeln!(o, "subcap_connections_open {}", get(&self.connections_open));
        let _ = writeln!(o, "# HELP subcap_tls_handshake_failures_total Connections dropped before or during the TLS handshake.");
        let _ = writeln!(o, "# TYPE subcap_tls_handshake_failures_total counter");
        let _ = writeln!(
            o,
            "subcap_tls_handshake_failures_total {}",
            get(&self.handshake_failures)
        );
        self.render_reconciliation(&mut o);
        o
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped. Requests are read up to 8 KiB
/// with a 5 s timeout; anything else gets 404.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, store: Arc<dyn Store>) {
    loop {
        let Ok((mut sock, peer)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut n = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while n < buf.len() {
                    let m = sock.read(&mut buf[n..]).await?;
                    if m == 0 {
                        break;
                    }
                    n += m;
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let (status, body) =
                if head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?") {
                    ("200 OK", metrics.render(store.as_ref()))
                } else {
                    ("404 Not Found", "not found: try GET /metrics\n".to_string())
                };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if let Err(e) = sock.write_all(resp.as_bytes()).await {
                tracing::debug!(%peer, error = %e, "metrics response not sent");
            }
        });
    }
}

/// Binds the metrics endpoint.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
