//! An HTTPS server on 127.0.0.1 (tokio-rustls + hyper) that speaks ILMT's documented REST API
//! (`Token:` header, `api/sam/v2/computers` with `limit`/`offset` paging, answering
//! `{"total":N,"rows":[...]}`), for tests of the REST pull here and end to end. ILMT itself cannot
//! run in a test; this answers the way its documentation says.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::server::tls::{load_certs, load_key};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Page 2 (any offset > 0) answers with a truncated JSON body.
    MalformedPage2,
    /// Never answers.
    Stall,
}

#[derive(Default)]
pub struct Seen {
    /// Request targets (path and query), in order.
    pub targets: Mutex<Vec<String>>,
    /// Bodies answered with 200, in order.
    pub bodies: Mutex<Vec<Bytes>>,
    pub connections: AtomicUsize,
}

pub fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// What the server answers: every row, paged as asked, to requests bearing `token`.
struct Api {
    rows: Vec<serde_json::Value>,
    token: String,
    mode: Mode,
    seen: Arc<Seen>,
}

fn reply(status: u16, body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

async fn answer(
    req: Request<Incoming>,
    api: Arc<Api>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let seen = &api.seen;
    seen.targets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(target);
    if req.headers().get("Token").map(|v| v.as_bytes()) != Some(api.token.as_bytes()) {
        return reply(401, Bytes::from_static(br#"{"error":"Unauthorized"}"#));
    }
    if req.uri().path() != "/api/sam/v2/computers" {
        return reply(404, Bytes::from_static(b"{}"));
    }
    if api.mode == Mode::Stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let total = api.rows.len();
    let query = req.uri().query().unwrap_or("");
    let limit: usize = query_value(query, "limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let offset: usize = query_value(query, "offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if api.mode == Mode::MalformedPage2 && offset > 0 {
        return reply(
            200,
            Bytes::from(format!("{{\"total\":{total},\"rows\":[{{\"id\":")),
        );
    }
    let page = api
        .rows
        .get(offset.min(total)..offset.saturating_add(limit).min(total))
        .unwrap_or_default();
    let body = serde_json::to_vec(&serde_json::json!({"total": total, "rows": page}))
        .map(Bytes::from)
        .unwrap_or_default();
    seen.bodies
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(body.clone());
    reply(200, body)
}

/// A running server (it stops with the runtime).
pub struct IlmtServer {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl IlmtServer {
    /// Serves `rows` on 127.0.0.1 (a free port) with the certificate `cert`/`key` (PEM files),
    /// to requests whose `Token:` header is `token`.
    pub async fn start(
        cert: &Path,
        key: &Path,
        token: &str,
        rows: Vec<serde_json::Value>,
        mode: Mode,
    ) -> std::io::Result<IlmtServer> {
        let certs = load_certs(cert).map_err(std::io::Error::other)?;
        let key = load_key(key).map_err(std::io::Error::other)?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Seen::default());
        let api = Arc::new(Api {
            rows,
            token: token.to_string(),
            mode,
            seen: Arc::clone(&seen),
        });
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let api = Arc::clone(&api);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    api.seen.connections.fetch_add(1, Ordering::SeqCst);
                    let service = service_fn(move |req| answer(req, Arc::clone(&api)));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(IlmtServer { addr, seen })
    }
}
