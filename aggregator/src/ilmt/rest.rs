//! Pulls ILMT's computer list live from its REST API: `GET {base}/api/sam/v2/computers` with
//! `limit`, `offset`, `columns[]` and `criteria`, the token in the `Token:` header, page after page
//! until the answered `total` is reached. HTTPS only, the server's certificate checked against a
//! CA file given by the operator (the system bundle, e.g. `/etc/ssl/certs/ca-certificates.crt`,
//! works for a publicly issued certificate). Connect and per-page timeouts, a page size limit, and
//! errors that name the page. The token is read from a file and never logged or echoed.
//!
//! HTTP is hyper 1 (HTTP/1.1 client connection) over tokio-rustls with the ring provider, all
//! already in the aggregator's dependency tree through tonic; each page body is decoded by the
//! pure v2 parser ([`super::json::parse_page`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_ENCODING, HOST, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use super::json::{duplicate_ids, parse_page, JsonVersion};
use super::model::{hex, Import, ImportSource, ImportWarning};
use super::{ImportError, Limits};

/// The columns asked for by default: every computer column and every `computer_hardware` column
/// the importer reads (the API returns only a default subset otherwise).
pub const DEFAULT_COLUMNS: &[&str] = &[
    "id",
    "bigfix_id",
    "computer_group_id",
    "name",
    "dns_name",
    "ip_address",
    "os",
    "os_type",
    "first_seen",
    "last_seen",
    "is_deleted",
    "deletion_date",
    "is_managed_by_vm_manager",
    "computer_hardware.computer_type",
    "computer_hardware.status",
    "computer_hardware.server_id",
    "computer_hardware.server_name",
    "computer_hardware.server_vendor",
    "computer_hardware.server_model",
    "computer_hardware.server_serial_number",
    "computer_hardware.server_type",
    "computer_hardware.processor_brand",
    "computer_hardware.processor_vendor",
    "computer_hardware.processor_type",
    "computer_hardware.processor_brand_string",
    "computer_hardware.partition_cores",
    "computer_hardware.node_total_processors",
    "computer_hardware.cluster_name",
    "computer_hardware.cluster_cores_count",
    "computer_hardware.shared_pool_id",
    "computer_hardware.custom_pvu_per_core",
    "computer_hardware.default_pvu_value",
    "computer_hardware.entitlement",
    "computer_hardware.is_capped",
    "computer_hardware.online_vp_count",
];

/// Computers not deleted in ILMT (the documented example criteria).
pub const DEFAULT_CRITERIA: &str = r#"{"and":[["is_deleted","=","0"]]}"#;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullConfig {
    /// `https://ilmt.example.com:9081` (a path prefix is kept: `https://host/ilmt`).
    pub base_url: String,
    /// A file holding the API token (from `POST api/get_token` or the UI profile page).
    pub token_file: PathBuf,
    /// PEM file with the CA certificate(s) that issued the ILMT server's certificate.
    pub ca_file: PathBuf,
    /// Rows per page (`limit`).
    pub page_size: usize,
    pub columns: Vec<String>,
    /// The `criteria` JSON, or `None` for every computer including deleted ones.
    pub criteria: Option<String>,
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// One page: request sent to body fully read.
    pub request_timeout: Duration,
    /// `max_input_bytes` bounds one page body; `max_rows` the whole pull; the rest as for files.
    pub limits: Limits,
}

impl PullConfig {
    pub fn new(base_url: &str, token_file: &Path, ca_file: &Path) -> PullConfig {
        PullConfig {
            base_url: base_url.to_string(),
            token_file: token_file.to_path_buf(),
            ca_file: ca_file.to_path_buf(),
            page_size: 10_000,
            columns: DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
            criteria: Some(DEFAULT_CRITERIA.to_string()),
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(300),
            limits: Limits {
                max_input_bytes: 256 << 20,
                ..Limits::default()
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("ILMT URL {url:?}: {problem}")]
    Url { url: String, problem: String },
    #[error("token file {path}: {problem}")]
    Token { path: String, problem: String },
    #[error("CA file {path}: {problem}")]
    Ca { path: String, problem: String },
    #[error("connecting to {addr}: {problem}")]
    Connect { addr: String, problem: String },
    #[error("TLS with {addr}: {problem} (is {ca} the CA that issued the ILMT server's certificate, and does the certificate name this host?)")]
    Tls {
        addr: String,
        ca: String,
        problem: String,
    },
    #[error("page {page} (offset {offset}): ILMT answered HTTP {status}{}", hint(*.status, .body))]
    Status {
        page: usize,
        offset: usize,
        status: u16,
        /// The start of the answer, for a person to read.
        body: String,
    },
    #[error("page {page} (offset {offset}): {problem}")]
    Page {
        page: usize,
        offset: usize,
        problem: String,
    },
    #[error("page {page} (offset {offset}): {source}")]
    Parse {
        page: usize,
        offset: usize,
        source: ImportError,
    },
}

fn hint(status: u16, body: &str) -> String {
    let why = match status {
        401 => {
            ": the token was refused (check the token file; tokens expire or are revoked when \
                the user's password changes)"
        }
        403 => ": the token's user lacks the View Endpoints / View Hardware Inventory permission",
        500 => ": ILMT reports a bad request (a column or criteria it does not accept?)",
        _ => "",
    };
    if body.is_empty() {
        why.to_string()
    } else {
        format!("{why}; the answer begins: {body:?}")
    }
}

/// The token, which never appears in `Debug` output or errors.
struct Token(HeaderValue);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

fn read_token(path: &Path) -> Result<Token, RestError> {
    let err = |problem: &str| RestError::Token {
        path: path.display().to_string(),
        problem: problem.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(|e| err(&e.to_string()))?;
    if meta.len() > 4096 {
        return Err(err("larger than 4096 bytes: not a token file"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(&e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err("empty"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(err(
            "holds characters a token cannot have (white space or non-ASCII inside it)",
        ));
    }
    let mut value = HeaderValue::from_str(token).map_err(|_| err("not a valid header value"))?;
    value.set_sensitive(true);
    Ok(Token(value))
}

fn tls_config(ca_file: &Path) -> Result<Arc<ClientConfig>, RestError> {
    let err = |problem: String| RestError::Ca {
        path: ca_file.display().to_string(),
        problem,
    };
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in the file".to_string()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Where to connect and what to ask.
#[derive(Debug, Clone)]
struct Target {
    host: String,
    port: u16,
    authority: String,
    /// Path prefix without a trailing `/`.
    prefix: String,
}

fn parse_base(url: &str) -> Result<Target, RestError> {
    let err = |problem: &str| RestError::Url {
        url: url.to_string(),
        problem: problem.to_string(),
    };
    let uri: Uri = url.trim().parse().map_err(|_| err("not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(err(
            "must start with https:// (the token is never sent in clear)",
        ));
    }
    let authority = uri.authority().ok_or_else(|| err("no host"))?;
    if authority.as_str().contains('@') {
        return Err(err("must not hold user information"));
    }
    if uri.query().is_some() {
        return Err(err(
            "must not hold a query (the token goes in the token file)",
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if host.is_empty() {
        return Err(err("no host"));
    }
    Ok(Target {
        port: authority.port_u16().unwrap_or(443),
        authority: authority.as_str().to_string(),
        host,
        prefix: uri.path().trim_end_matches('/').to_string(),
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn page_path(target: &Target, config: &PullConfig, offset: usize) -> String {
    let mut q = format!(
        "{}/api/sam/v2/computers?limit={}&offset={offset}",
        target.prefix, config.page_size
    );
    for c in &config.columns {
        q.push_str("&columns%5B%5D=");
        q.push_str(&encode(c));
    }
    if let Some(criteria) = &config.criteria {
        q.push_str("&criteria=");
        q.push_str(&encode(criteria));
    }
    q
}

/// A printable start of an answer, with the token (should the server echo it) removed.
fn snippet(body: &[u8], token: &Token) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    let text = match token.0.to_str() {
        Ok(t) => text.replace(t, "<token>"),
        Err(_) => text,
    };
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

struct Connection {
    sender: SendRequest<Empty<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

struct Client<'c> {
    config: &'c PullConfig,
    target: Target,
    token: Token,
    tls: TlsConnector,
    addr: String,
}

impl Client<'_> {
    async fn connect(&self) -> Result<Connection, RestError> {
        let connect_err = |problem: String| RestError::Connect {
            addr: self.addr.clone(),
            problem,
        };
        let work = async {
            let tcp = TcpStream::connect((self.target.host.as_str(), self.target.port))
                .await
                .map_err(|e| connect_err(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from(self.target.host.clone())
                .map_err(|e| connect_err(format!("host name: {e}")))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| RestError::Tls {
                    addr: self.addr.clone(),
                    ca: self.config.ca_file.display().to_string(),
                    problem: e.to_string(),
                })?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| connect_err(format!("HTTP handshake: {e}")))?;
            let driver = tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Connection { sender, driver })
        };
        tokio::time::timeout(self.config.connect_timeout, work)
            .await
            .map_err(|_| {
                connect_err(format!(
                    "no connection within {} s",
                    self.config.connect_timeout.as_secs_f32()
                ))
            })?
    }

    /// One page: `(status, body)`.
    async fn fetch(
        &self,
        conn: &mut Connection,
        page: usize,
        offset: usize,
    ) -> Result<(StatusCode, Bytes), RestError> {
        let page_err = |problem: String| RestError::Page {
            page,
            offset,
            problem,
        };
        let request = Request::get(page_path(&self.target, self.config, offset))
            .header(HOST, self.target.authority.as_str())
            .header("Token", self.token.0.clone())
            .header(ACCEPT, "application/json")
            .header(
                USER_AGENT,
                concat!("subcap-aggregator/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| page_err(format!("building the request: {e}")))?;
        let limit = self.config.limits.max_input_bytes;
        let work = async {
            conn.sender
                .ready()
                .await
                .map_err(|e| page_err(format!("connection lost: {e}")))?;
            let response = conn
                .sender
                .send_request(request)
                .await
                .map_err(|e| page_err(format!("request failed: {e}")))?;
            let status = response.status();
            if let Some(enc) = response.headers().get(CONTENT_ENCODING) {
                if enc.as_bytes() != b"identity" {
                    return Err(page_err(format!(
                        "the answer is encoded ({enc:?}), which this client did not ask for"
                    )));
                }
            }
            let body = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        page_err(format!(
                            "the answer is larger than the {limit} bytes accepted"
                        ))
                    } else {
                        page_err(format!("reading the answer: {e}"))
                    }
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.config.request_timeout, work)
            .await
            .map_err(|_| {
                page_err(format!(
                    "no complete answer within {} s",
                    self.config.request_timeout.as_secs_f32()
                ))
            })?
    }
}

/// Pulls every page. Nothing is returned unless every page was read and decoded.
pub async fn pull(config: &PullConfig) -> Result<Import, RestError> {
    if config.page_size == 0 {
        return Err(RestError::Url {
            url: config.base_url.clone(),
            problem: "page size 0".to_string(),
        });
    }
    let target = parse_base(&config.base_url)?;
    let token = read_token(&config.token_file)?;
    let tls = TlsConnector::from(tls_config(&config.ca_file)?);
    let client = Client {
        addr: format!("{}:{}", target.host, target.port),
        config,
        target,
        token,
        tls,
    };
    let label = format!(
        "https://{}{}/api/sam/v2/computers",
        client.target.authority, client.target.prefix
    );
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut computers = Vec::new();
    let mut warnings: Vec<ImportWarning> = Vec::new();
    let mut total: Option<u64> = None;
    let mut conn: Option<Connection> = None;
    let mut page = 1usize;
    loop {
        let offset = computers.len();
        // Reuse the connection; reconnect (once per page) if the server closed it.
        let (status, body) = match conn.as_mut() {
            Some(c) if !c.sender.is_closed() => match client.fetch(c, page, offset).await {
                Ok(answer) => answer,
                Err(RestError::Page { .. }) if c.sender.is_closed() => {
                    let mut fresh = client.connect().await?;
                    let answer = client.fetch(&mut fresh, page, offset).await?;
                    conn = Some(fresh);
                    answer
                }
                Err(e) => return Err(e),
            },
            _ => {
                let mut fresh = client.connect().await?;
                let answer = client.fetch(&mut fresh, page, offset).await?;
                conn = Some(fresh);
                answer
            }
        };
        if status != StatusCode::OK {
            return Err(RestError::Status {
                page,
                offset,
                status: status.as_u16(),
                body: snippet(&body, &client.token),
            });
        }
        hasher.update(&body);
        let decoded = parse_page(
            &format!("{label} page {page}"),
            &body,
            &config.limits,
            JsonVersion::V2,
            offset,
        )
        .map_err(|source| RestError::Parse {
            page,
            offset,
            source,
        })?;
        let Some(declared) = decoded.total else {
            return Err(RestError::Page {
                page,
                offset,
                problem: "the answer has no \"total\", so the pages cannot be followed".to_string(),
            });
        };
        if let Some(previous) = total {
            if previous != declared {
                warnings.push(ImportWarning::new(
                    None,
                    Some("total"),
                    format!(
                        "the total changed from {previous} to {declared} at page {page} \
                         (computers added or removed during the pull)"
                    ),
                ));
            }
        }
        total = Some(declared);
        let rows = decoded.computers.len();
        warnings.extend(decoded.warnings);
        computers.extend(decoded.computers);
        if computers.len() > config.limits.max_rows {
            return Err(RestError::Page {
                page,
                offset,
                problem: format!(
                    "more than {} computers (the limit of one import)",
                    config.limits.max_rows
                ),
            });
        }
        if computers.len() as u64 >= declared {
            break;
        }
        if rows == 0 {
            return Err(RestError::Page {
                page,
                offset,
                problem: format!(
                    "an empty page before the total of {declared} was reached ({} read)",
                    computers.len()
                ),
            });
        }
        page += 1;
    }
    drop(conn);
    let mut import = Import::new(ImportSource::RestApi, &label, hex(hasher.finish().as_ref()));
    import.declared_total = total;
    warnings.extend(duplicate_ids(&computers));
    import.warnings = warnings;
    import.computers = computers;
    Ok(import)
}

#[cfg(test)]
#[path = "rest_tests.rs"]
mod tests;
