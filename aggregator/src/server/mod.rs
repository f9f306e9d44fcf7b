//! The aggregator's gRPC server: TLS accept loop with limits, the Ingest, Query and Ilmt services,
//! the health service, metrics endpoint, background tasks (retention, reconciliation for the
//! metrics, scheduled ILMT pulls) and graceful shutdown.

pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use subcap_proto::v1 as pb;
use subcap_proto::v1::ilmt_server::{Ilmt, IlmtServer};
use subcap_proto::v1::ingest_server::{Ingest, IngestServer};
use subcap_proto::v1::query_server::{Query, QueryServer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::{Request, Response, Status};

use crate::config::{Config, IdentityBinding, IlmtConfig, Limits, Retention};
use crate::ingest::commit::GroupCommit;
use crate::ingest::validate;
use crate::ingest::writer::Writer;
use crate::metrics::{self, Metrics, Refusal};
use crate::reconcile::{self, wire, Reconciler, Rules};
use crate::store::{ImportRecord, PutOutcome, SledStore, Store, StoreError};
use tls::{Role, Roles};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("start a store thread: {0}")]
    Thread(std::io::Error),
    #[error("reconciliation rules: {0}")]
    Rules(#[from] reconcile::ReconcileError),
}

/// What the services share.
struct Shared {
    store: Arc<dyn Store>,
    /// Stores reports in batches, one thread.
    writer: Writer,
    commit: Arc<GroupCommit>,
    roles: Roles,
    binding: IdentityBinding,
    metrics: Arc<Metrics>,
    /// Requests being served at once, all connections together.
    requests: Arc<Semaphore>,
    reconciler: Arc<Reconciler>,
    ledger: Arc<crate::history::Ledger>,
    /// ILMT's REST API, when configured.
    ilmt: Option<IlmtConfig>,
    /// One ILMT pull at a time (on demand and scheduled).
    pulling: tokio::sync::Mutex<()>,
}

impl Shared {
    /// The role of the request's client certificate; UNAUTHENTICATED when there is none that a
    /// configured CA vouches for (the handshake already requires one; this is the second check).
    fn role<T>(
        &self,
        req: &Request<T>,
    ) -> Result<(Role, Arc<Vec<rustls_pki_types::CertificateDer<'static>>>), Status> {
        let certs = req
            .peer_certs()
            .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        match self.roles.role_of(&certs) {
            Some(role) => Ok((role, certs)),
            None => Err(Status::unauthenticated(
                "the client certificate is not issued by a configured CA",
            )),
        }
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, Status> {
        Arc::clone(&self.requests)
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("shutting down"))
    }
}

struct IngestService(Arc<Shared>);
struct QueryService(Arc<Shared>);
struct IlmtService(Arc<Shared>);

#[tonic::async_trait]
impl Ingest for IngestService {
    async fn submit_report(
        &self,
        req: Request<pb::SubmitReportRequest>,
    ) -> Result<Response<pb::SubmitReportResponse>, Status> {
        let s = &self.0;
        let started = Instant::now();
        let result = submit(s, req).await;
        match &result {
            Ok((resp, _)) => s.metrics.accepted(resp.duplicate, started.elapsed()),
            Err((_, why)) => s.metrics.refused(*why),
        }
        result
            .map(|(r, _)| Response::new(r))
            .map_err(|(status, _)| status)
    }
}

type Refused = (Status, Refusal);

async fn submit(
    s: &Shared,
    req: Request<pb::SubmitReportRequest>,
) -> Result<(pb::SubmitReportResponse, ()), Refused> {
    let (role, certs) = s.role(&req).map_err(|st| (st, Refusal::Unauthenticated))?;
    if role != Role::Agent {
        return Err((
            Status::permission_denied("only agent certificates may submit reports"),
            Refusal::PermissionDenied,
        ));
    }
    let _permit = s.permit().await.map_err(|st| (st, Refusal::Unavailable))?;
    let report = req.into_inner().report.ok_or_else(|| {
        (
            Status::invalid_argument("report: missing"),
            Refusal::InvalidArgument,
        )
    })?;
    validate::validate(&report, SystemTime::now()).map_err(|e| {
        (
            Status::invalid_argument(e.to_string()),
            Refusal::InvalidArgument,
        )
    })?;
    let no_identity = pb::HostIdentity::default();
    let identity = report.identity.as_ref().unwrap_or(&no_identity);
    if s.binding == IdentityBinding::Strict {
        let leaf = certs.first().ok_or_else(|| {
            (
                Status::unauthenticated("no client certificate"),
                Refusal::Unauthenticated,
            )
        })?;
        let named = [&identity.fqdn, &identity.hostname]
            .into_iter()
            .any(|n| !n.is_empty() && tls::names_host(leaf, n));
        if !named {
            tracing::warn!(hostname = %identity.hostname, fqdn = %identity.fqdn, report_id = %report.report_id, "report refused: certificate names another host");
            return Err((
                Status::permission_denied(format!(
                    "this agent certificate does not name host {:?} (fqdn {:?}); identity_binding is strict",
                    identity.hostname, identity.fqdn
                )),
                Refusal::PermissionDenied,
            ));
        }
    }
    let host_key = validate::host_key(identity);
    let report_id = report.report_id.clone();
    let outcome = s.writer.put(host_key, report).await.map_err(|e| {
        tracing::error!(error = %e, %report_id, "store write failed");
        (Status::unavailable(e.to_string()), Refusal::Unavailable)
    })?;
    s.commit
        .durable()
        .await
        .map_err(|e| (Status::unavailable(e.to_string()), Refusal::Unavailable))?;
    let (duplicate, at) = match outcome {
        PutOutcome::Stored { received_at } => (false, received_at),
        PutOutcome::Duplicate { received_at } => (true, received_at),
    };
    tracing::debug!(%report_id, duplicate, "report acknowledged");
    Ok((
        pb::SubmitReportResponse {
            report_id,
            duplicate,
            stored_at: Some(crate::store::sled_store::timestamp(at)),
        },
        (),
    ))
}

const PAGE_DEFAULT: usize = 1000;
const PAGE_MAX: usize = 10_000;

fn clamp(limit: u32, default: usize) -> usize {
    match limit as usize {
        0 => default,
        n => n.min(PAGE_MAX),
    }
}

fn store_status(e: StoreError) -> Status {
    Status::internal(e.to_string())
}

impl Shared {
    /// OK for an operator certificate; PERMISSION_DENIED for an agent's (`what`: "query").
    fn operator<T>(&self, req: &Request<T>, what: &str) -> Result<(), Status> {
        match self.role(req)?.0 {
            Role::Operator => Ok(()),
            Role::Agent => Err(Status::permission_denied(format!(
                "agent certificates may not {what}; use an operator certificate"
            ))),
        }
    }

    /// The current reconciliation (recomputed if the store changed), recorded in the metrics.
    async fn reconciliation(&self) -> Result<Arc<reconcile::Outcome>, Status> {
        let reconciler = Arc::clone(&self.reconciler);
        let outcome = tokio::task::spawn_blocking(move || reconciler.current(SystemTime::now()))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(e.to_string()))?;
        self.metrics
            .reconciled(&outcome.totals, outcome.computed_at);
        Ok(outcome)
    }

    /// The host key of a host named by key, hostname or FQDN; NOT_FOUND when none reported.
    async fn resolve_host(&self, name: String) -> Result<String, Status> {
        let store = Arc::clone(&self.store);
        let key = tokio::task::spawn_blocking(move || -> Result<Option<String>, StoreError> {
            let want = name.to_ascii_lowercase();
            Ok(match store.host(&want)? {
                Some(h) => Some(h.host_key),
                None => find_by_name(store.as_ref(), &want)?.map(|h| h.host_key),
            })
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(store_status)?;
        key.ok_or_else(|| Status::not_found("no host with that key, hostname or FQDN has reported"))
    }

    /// Brings the coverage ledger up to today.
    async fn build_ledger(&self) -> Result<(), Status> {
        let ledger = Arc::clone(&self.ledger);
        let reconciler = Arc::clone(&self.reconciler);
        tokio::task::spawn_blocking(move || ledger.build(reconciler.rules(), SystemTime::now()))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(())
    }

    /// Pulls ILMT's host list from its REST API and stores it as an import (durable on return).
    async fn pull_ilmt(&self) -> Result<pb::ImportResult, Status> {
        let Some(config) = &self.ilmt else {
            return Err(Status::failed_precondition(
                "no [ilmt] section in the aggregator's configuration: nothing to pull from",
            ));
        };
        let _one = self.pulling.lock().await;
        let pulled = crate::ilmt::rest::pull(&config.pull_config()).await;
        let import = match pulled {
            Ok(i) => i,
            Err(e) => {
                self.metrics.ilmt_pulled(false);
                tracing::error!(url = %config.url, error = %e, "ILMT pull failed");
                return Err(Status::unavailable(format!(
                    "ILMT pull from {}: {e}",
                    config.url
                )));
            }
        };
        let warnings: Vec<String> = import.warnings.iter().map(|w| w.to_string()).collect();
        let store = Arc::clone(&self.store);
        let (record, duplicate) =
            tokio::task::spawn_blocking(move || store.put_import(&import, SystemTime::now()))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(store_status)?;
        self.commit
            .durable()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        self.metrics.ilmt_pulled(true);
        tracing::info!(url = %config.url, id = record.id, duplicate, computers = record.computers, "ILMT pull stored");
        Ok(pb::ImportResult {
            import: Some(import_info(&record)),
            duplicate,
            warnings,
        })
    }
}

/// Hosts and findings per streamed chunk.
const CHUNK: usize = 500;

/// The chunks answering `r` from `o` (pure over the outcome).
fn reconcile_chunks(
    o: &reconcile::Outcome,
    rules: &Rules,
    filter: &wire::Filter,
    r: &pb::ReconcileRequest,
) -> Vec<pb::ReconcileChunk> {
    let mut codes_of: std::collections::HashMap<&str, Vec<crate::domain::Code>> =
        std::collections::HashMap::new();
    for f in &o.result.findings {
        if let Some(h) = &f.host_key {
            let codes = codes_of.entry(h.as_str()).or_default();
            if !codes.contains(&f.code) {
                codes.push(f.code);
            }
        }
    }
    // The first chunk carries the basis and totals; each fills up to CHUNK items.
    let mut current = pb::ReconcileChunk {
        basis: Some(wire::basis(o, rules, import_info)),
        totals: Some(wire::totals(&o.totals)),
        ..Default::default()
    };
    let mut chunks = Vec::new();
    let push = |chunk: &mut pb::ReconcileChunk, chunks: &mut Vec<pb::ReconcileChunk>| {
        if chunk.hosts.len() + chunk.findings.len() >= CHUNK {
            chunks.push(std::mem::take(chunk));
        }
    };
    if r.with_hosts {
        for h in &o.result.hosts {
            let codes = codes_of
                .get(h.host_key.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            if filter.host(h, codes) {
                let names = codes.iter().map(|c| c.as_str().to_string()).collect();
                current.hosts.push(wire::host(h, names));
                push(&mut current, &mut chunks);
            }
        }
    }
    if r.with_findings {
        for f in o.result.findings.iter().filter(|f| filter.finding(f)) {
            current.findings.push(wire::finding(f));
            push(&mut current, &mut chunks);
        }
    }
    if chunks.is_empty() || !current.hosts.is_empty() || !current.findings.is_empty() {
        chunks.push(current);
    }
    chunks
}

type ReconcileStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ReconcileChunk, Status>> + Send>>;
type HistoryStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::HistoryChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Query for QueryService {
    async fn list_hosts(
        &self,
        req: Request<pb::ListHostsRequest>,
    ) -> Result<Response<pb::ListHostsResponse>, Status> {
        self.0.operator(&req, "query")?;
        let _permit = self.0.permit().await?;
        let r = req.into_inner();
        let limit = clamp(r.limit, PAGE_DEFAULT);
        let store = Arc::clone(&self.0.store);
        let hosts = tokio::task::spawn_blocking(move || store.hosts(&r.after, limit))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(store_status)?;
        let next_after = if hosts.len() == limit {
            hosts.last().map(|h| h.host_key.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListHostsResponse { hosts, next_after }))
    }

    async fn get_host(
        &self,
        req: Request<pb::GetHostRequest>,
    ) -> Result<Response<pb::GetHostResponse>, Status> {
        self.0.operator(&req, "query")?;
        let _permit = self.0.permit().await?;
        let r = req.into_inner();
        if r.host.is_empty() || r.host.len() > 253 {
            return Err(Status::invalid_argument("host: 1 to 253 characters"));
        }
        let limit = clamp(r.history_limit, 100);
        let store = Arc::clone(&self.0.store);
        let found = tokio::task::spawn_blocking(
            move || -> Result<Option<pb::GetHostResponse>, StoreError> {
                let want = r.host.to_ascii_lowercase();
                let summary = match store.host(&want)? {
                    Some(s) => Some(s),
                    None => find_by_name(store.as_ref(), &want)?,
                };
                let Some(summary) = summary else {
                    return Ok(None);
                };
                let latest = store.report(&summary.last_report_id)?.map(|(r, _)| r);
                let history = store
                    .history(&summary.host_key, limit)?
                    .into_iter()
                    .map(|h| pb::HistoryEntry {
                        report_id: h.report_id,
                        collected_at: Some(crate::store::sled_store::timestamp(h.collected_at)),
                        received_at: Some(crate::store::sled_store::timestamp(h.received_at)),
                    })
                    .collect();
                Ok(Some(pb::GetHostResponse {
                    summary: Some(summary),
                    latest,
                    history,
                }))
            },
        )
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(store_status)?;
        found.map(Response::new).ok_or_else(|| {
            Status::not_found("no host with that key, hostname or FQDN has reported")
        })
    }

    type ReconcileStream = ReconcileStream;

    async fn reconcile(
        &self,
        req: Request<pb::ReconcileRequest>,
    ) -> Result<Response<ReconcileStream>, Status> {
        let s = &self.0;
        s.operator(&req, "query")?;
        let _permit = s.permit().await?;
        let r = req.into_inner();
        let mut filter = wire::filter(&r).map_err(Status::invalid_argument)?;
        if let Some(want) = filter.host.clone() {
            filter.host = Some(s.resolve_host(want).await?);
        }
        let outcome = s.reconciliation().await?;
        let reconciler = Arc::clone(&s.reconciler);
        let chunks = tokio::task::spawn_blocking(move || {
            reconcile_chunks(&outcome, reconciler.rules(), &filter, &r)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        let stream = tokio_stream::iter(chunks.into_iter().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }

    type HistoryStream = HistoryStream;

    async fn history(
        &self,
        req: Request<pb::HistoryRequest>,
    ) -> Result<Response<HistoryStream>, Status> {
        let s = &self.0;
        s.operator(&req, "query")?;
        let _permit = s.permit().await?;
        let r = req.into_inner();
        let day = |field: &str, v: &str| wire::day(field, v).map_err(Status::invalid_argument);
        let (from, to) = (day("from", &r.from)?, day("to", &r.to)?);
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(Status::invalid_argument("from: after to"));
            }
        }
        let host = match r.host.trim() {
            "" => None,
            h if h.len() > 253 => {
                return Err(Status::invalid_argument("host: at most 253 characters"))
            }
            h => Some(s.resolve_host(h.to_string()).await?),
        };
        s.build_ledger().await?;
        let ledger = Arc::clone(&s.ledger);
        let store = Arc::clone(&s.store);
        let failing_only = r.failing_only;
        let chunks =
            tokio::task::spawn_blocking(move || -> Result<Vec<pb::HistoryChunk>, StoreError> {
                let all = ledger.changes(host.as_deref())?;
                let today = reconcile::day_of(SystemTime::now());
                let first_day = all
                    .iter()
                    .filter_map(|(_, c)| c.first().map(|(d, _)| *d))
                    .min();
                let from = from.or(first_day).unwrap_or(today);
                let to = to.unwrap_or(today);
                let records = store.imports()?;
                let mut hosts = Vec::new();
                for (key, changes) in &all {
                    let products = store
                        .host(key)?
                        .map(|h| h.products_seen)
                        .unwrap_or_default();
                    let h =
                        crate::history::host_history(key, changes, from, to, &products, &records);
                    if failing_only && h.failing_days == 0 {
                        continue;
                    }
                    hosts.push(h);
                }
                let imports = crate::history::imports_in_effect(&records, from, to)
                    .into_iter()
                    .map(import_info)
                    .collect();
                let basis = pb::HistoryBasis {
                    first_day: first_day.map(|d| d.to_string()).unwrap_or_default(),
                    through: today.to_string(),
                    from: from.to_string(),
                    to: to.to_string(),
                    ilmt_imports: imports,
                };
                let mut chunks = vec![pb::HistoryChunk {
                    basis: Some(basis),
                    hosts: Vec::new(),
                }];
                for part in hosts.chunks(CHUNK) {
                    chunks.push(pb::HistoryChunk {
                        basis: None,
                        hosts: part.to_vec(),
                    });
                }
                Ok(chunks)
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(store_status)?;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            chunks.into_iter().map(Ok),
        ))))
    }
}

/// The wire form of a stored import's record.
fn import_info(r: &ImportRecord) -> pb::ImportInfo {
    pb::ImportInfo {
        id: r.id,
        imported_at: Some(crate::store::sled_store::timestamp(
            crate::store::sled_store::from_nanos(r.imported_at_nanos),
        )),
        source: r.source.clone(),
        file_name: r.file_name.clone(),
        sha256: r.sha256.clone(),
        computers: r.computers,
        warnings: r.warnings,
        period_start: r.period_start.clone().unwrap_or_default(),
        period_end: r.period_end.clone().unwrap_or_default(),
        format_version: r.format_version.clone().unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl Ilmt for IlmtService {
    async fn import_file(
        &self,
        req: Request<tonic::Streaming<pb::ImportChunk>>,
    ) -> Result<Response<pb::ImportResult>, Status> {
        let s = &self.0;
        s.operator(&req, "import")?;
        let _permit = s.permit().await?;
        let limits = crate::ilmt::Limits::default();
        let mut stream = req.into_inner();
        let mut file_name = String::new();
        let mut data = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if file_name.is_empty() {
                file_name = chunk.file_name;
            }
            if data.len() + chunk.data.len() > limits.max_input_bytes {
                return Err(Status::invalid_argument(format!(
                    "{file_name}: larger than the {} bytes accepted",
                    limits.max_input_bytes
                )));
            }
            data.extend_from_slice(&chunk.data);
        }
        if file_name.is_empty() || file_name.len() > 1024 || file_name.chars().any(char::is_control)
        {
            return Err(Status::invalid_argument(
                "file_name: 1 to 1024 printable characters, in the first chunk",
            ));
        }
        let store = Arc::clone(&s.store);
        let name = file_name.clone();
        let (record, duplicate, warnings) =
            tokio::task::spawn_blocking(move || -> Result<_, Status> {
                let import = crate::imports::parse_file(&name, &data, &limits)
                    .map_err(|e| Status::invalid_argument(e.to_string()))?;
                let warnings: Vec<String> = import.warnings.iter().map(|w| w.to_string()).collect();
                let (record, duplicate) = store
                    .put_import(&import, SystemTime::now())
                    .map_err(store_status)?;
                Ok((record, duplicate, warnings))
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        s.commit
            .durable()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        tracing::info!(file = %file_name, id = record.id, duplicate, computers = record.computers, "ILMT import stored");
        Ok(Response::new(pb::ImportResult {
            import: Some(import_info(&record)),
            duplicate,
            warnings,
        }))
    }

    async fn list_imports(
        &self,
        req: Request<pb::ListImportsRequest>,
    ) -> Result<Response<pb::ListImportsResponse>, Status> {
        self.0.operator(&req, "query")?;
        let store = Arc::clone(&self.0.store);
        let records = tokio::task::spawn_blocking(move || store.imports())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(store_status)?;
        Ok(Response::new(pb::ListImportsResponse {
            imports: records.iter().map(import_info).collect(),
        }))
    }

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<pb::ImportResult>, Status> {
        self.0.operator(&req, "import")?;
        let _permit = self.0.permit().await?;
        self.0.pull_ilmt().await.map(Response::new)
    }
}

/// A host by its short hostname (when the key is an FQDN): a scan, for operators only.
fn find_by_name(store: &dyn Store, name: &str) -> Result<Option<pb::HostSummary>, StoreError> {
    let mut after = String::new();
    loop {
        let page = store.hosts(&after, PAGE_MAX)?;
        if let Some(s) = page
            .iter()
            .find(|s| s.hostname.eq_ignore_ascii_case(name) || s.fqdn.eq_ignore_ascii_case(name))
        {
            return Ok(Some(s.clone()));
        }
        match page.last() {
            Some(last) if page.len() == PAGE_MAX => after = last.host_key.clone(),
            _ => return Ok(None),
        }
    }
}

/// One accepted TLS connection, holding its connection-limit permit until it closes.
struct Conn {
    tls: TlsStream<TcpStream>,
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.metrics.connection_closed();
    }
}

impl Connected for Conn {
    type ConnectInfo = <TlsStream<TcpStream> as Connected>::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.tls.connect_info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }
}

// TcpConnectInfo is what the TLS stream wraps; named here so a tonic upgrade that changes it fails
// to compile instead of silently losing peer certificates.
const _: fn(&TlsStream<TcpStream>) -> tonic::transport::server::TlsConnectInfo<TcpConnectInfo> =
    |s| s.connect_info();

/// A bound, ready aggregator. [`Aggregator::run`] serves until the shutdown future completes.
pub struct Aggregator {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    limits: Limits,
    retention: Retention,
    reconcile_interval: Duration,
}

impl Aggregator {
    /// Opens the store, loads the certificates and binds the listeners (port 0 picks a free one).
    pub async fn bind(config: &Config) -> Result<Self, ServeError> {
        let (tls_config, roles) = tls::server_config(
            &config.tls.cert,
            &config.tls.key,
            &config.tls.agent_ca,
            &config.tls.operator_ca,
        )?;
        let store: Arc<dyn Store> = Arc::new(SledStore::open_with_cache(
            &config.data_dir,
            config.store.cache_bytes(),
        )?);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let metrics_listener = match config.metrics.listen {
            Some(addr) => Some(
                metrics::bind(addr)
                    .await
                    .map_err(|source| ServeError::Bind { addr, source })?,
            ),
            None => None,
        };
        let metrics = Metrics::new();
        let rules = Rules::from_config(&config.reconcile)?;
        let shared = Arc::new(Shared {
            reconciler: Arc::new(Reconciler::new(Arc::clone(&store), rules)),
            ledger: Arc::new(crate::history::Ledger::new(
                Arc::clone(&store),
                config.retention.report_days,
            )),
            ilmt: config.ilmt.clone(),
            pulling: tokio::sync::Mutex::new(()),
            writer: Writer::start(Arc::clone(&store), Arc::clone(&metrics))
                .map_err(ServeError::Thread)?,
            commit: GroupCommit::new(Arc::clone(&store), Arc::clone(&metrics)),
            store,
            roles,
            binding: config.tls.identity_binding,
            metrics,
            requests: Arc::new(Semaphore::new(config.limits.max_concurrent_requests)),
        });
        Ok(Aggregator {
            listener,
            metrics_listener,
            acceptor: TlsAcceptor::from(Arc::new(tls_config)),
            shared,
            limits: config.limits.clone(),
            retention: config.retention.clone(),
            reconcile_interval: Duration::from_secs(config.reconcile.interval_secs),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight finish
    /// (their acknowledgements still wait for durability) and flushes the store.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Aggregator {
            listener,
            metrics_listener,
            acceptor,
            shared,
            limits,
            retention,
            reconcile_interval,
        } = self;
        let flusher = shared.commit.start().map_err(ServeError::Thread)?;
        tokio::spawn(retention_task(Arc::clone(&shared.store), retention));
        let reconcile = tokio::spawn(reconcile_task(Arc::clone(&shared), reconcile_interval));
        let pull = shared
            .ilmt
            .as_ref()
            .filter(|i| i.pull_interval_secs > 0)
            .map(|i| Duration::from_secs(i.pull_interval_secs))
            .map(|every| tokio::spawn(pull_task(Arc::clone(&shared), every)));
        if let Some(l) = metrics_listener {
            tokio::spawn(metrics::serve(
                l,
                Arc::clone(&shared.metrics),
                Arc::clone(&shared.store),
            ));
        }
        let (tx, rx) = mpsc::channel::<Result<Conn, std::io::Error>>(256);
        let accept = tokio::spawn(accept_loop(
            listener,
            acceptor,
            tx,
            Arc::clone(&shared.metrics),
            limits.clone(),
        ));

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<IngestServer<IngestService>>().await;
        health.set_serving::<QueryServer<QueryService>>().await;
        health.set_serving::<IlmtServer<IlmtService>>().await;

        let ingest = IngestServer::new(IngestService(Arc::clone(&shared)))
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes);
        let query = QueryServer::new(QueryService(Arc::clone(&shared)))
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(64 * 1024 * 1024);
        // Imports stream in chunks of at most one message each; the whole file is bounded by the
        // importers' own limit.
        let ilmt = IlmtServer::new(IlmtService(Arc::clone(&shared)))
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes);
        let incoming = tokio_stream::wrappers::ReceiverStream::new(rx);
        let result = tonic::transport::Server::builder()
            .timeout(limits.request_timeout())
            .max_concurrent_streams(Some(limits.max_streams_per_connection))
            .http2_keepalive_interval(Some(Duration::from_secs(60)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            .add_service(health_service)
            .add_service(ingest)
            .add_service(query)
            .add_service(ilmt)
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await;
        accept.abort();
        reconcile.abort();
        if let Some(p) = pull {
            p.abort();
        }
        shared.writer.stop().await;
        drop(flusher);
        shared.store.sync()?;
        tracing::info!("aggregator stopped; store flushed");
        result.map_err(ServeError::from)
    }
}

/// Reconciles and brings the coverage ledger up to date at start and every `every`, so the
/// metrics' coverage gauges stay current and each day gets recorded (queries do both on their own
/// when needed).
async fn reconcile_task(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = shared.reconciliation().await {
            tracing::error!(error = %e.message(), "reconciliation failed");
        }
        if let Err(e) = shared.build_ledger().await {
            tracing::error!(error = %e.message(), "coverage ledger build failed");
        }
    }
}

/// Pulls ILMT's host list a minute after start and then every `every`; a failure is logged and
/// counted, and the next pull comes on schedule.
async fn pull_task(shared: Arc<Shared>, every: Duration) {
    let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep_until(next).await;
        next += every;
        // Errors are logged and counted inside.
        let _ = shared.pull_ilmt().await;
    }
}

/// Applies retention a minute after start and then daily: report bodies older than
/// `report_days` with their history entries (each host's latest kept), coverage ledger changes
/// older than `history_days` (each host's state in force kept).
async fn retention_task(store: Arc<dyn Store>, retention: Retention) {
    const DAY: Duration = Duration::from_secs(86_400);
    let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep_until(next).await;
        next += DAY;
        let store = Arc::clone(&store);
        let r = retention.clone();
        let result =
            tokio::task::spawn_blocking(move || -> Result<(usize, usize, usize), StoreError> {
                let now = SystemTime::now();
                let bodies = store.prune_reports(now - DAY * r.report_days)?;
                // Report history goes with the bodies; the coverage ledger is the record kept.
                let history = store.prune_history(now - DAY * r.report_days)?;
                let horizon = crate::reconcile::day_of(now - DAY * r.history_days);
                let ledger =
                    store.prune_ledger(u32::try_from(horizon.days_since_epoch()).unwrap_or(0))?;
                Ok((bodies, history, ledger))
            })
            .await;
        match result {
            Ok(Ok((bodies, history, ledger))) => tracing::info!(
                report_bodies = bodies,
                history_entries = history,
                ledger_changes = ledger,
                "retention applied"
            ),
            Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<Result<Conn, std::io::Error>>,
    metrics: Arc<Metrics>,
    limits: Limits,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let Ok(permit) = Arc::clone(&connections).acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        let metrics = Arc::clone(&metrics);
        let timeout = limits.handshake_timeout();
        tokio::spawn(async move {
            match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    metrics.connection_opened();
                    let conn = Conn {
                        tls,
                        _permit: permit,
                        metrics,
                    };
                    let _ = tx.send(Ok(conn)).await;
                }
                Ok(Err(e)) => {
                    metrics.handshake_failed();
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                }
                Err(_) => {
                    metrics.handshake_failed();
                    tracing::debug!(%peer, "TLS handshake timed out");
                }
            }
        });
    }
}
