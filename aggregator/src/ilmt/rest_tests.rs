//! Tests of the REST pull against a real HTTPS server on 127.0.0.1 (tokio-rustls + hyper) that
//! speaks the documented API: `Token:` header, `limit`/`offset` paging, `{"total":N,"rows":[...]}`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;
use crate::certs::{self, Ca, Leaf};
use crate::ilmt::model::sha256_hex;
use crate::ilmt::test_server::{query_value, IlmtServer, Mode, Seen};
use std::sync::Arc;

const TOKEN: &str = "7adc3efb175e2bc0f4484bdd2efca54a8fa04623";

struct Pki {
    _dir: tempfile::TempDir,
    server_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    token: PathBuf,
    root: PathBuf,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    let (cert, key) = certs::issue(
        dir.path(),
        Leaf::Server,
        &["localhost".into(), "127.0.0.1".into()],
        "ilmt",
    )
    .unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    Pki {
        server_ca: Ca::Server.cert_path(dir.path()),
        root: dir.path().to_path_buf(),
        _dir: dir,
        cert,
        key,
        token,
    }
}

fn row(i: usize) -> serde_json::Value {
    serde_json::json!({
        "id": i,
        "bigfix_id": 100_000 + i,
        "name": format!("host{i:05}"),
        "dns_name": format!("host{i:05}.bank.example"),
        "ip_address": format!("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256),
        "os": "Linux Red Hat Enterprise Linux 9",
        "last_seen": "2025-03-04T10:11:12Z",
        "is_deleted": false,
        "computer_hardware": {"computer_type": 1, "status": 1, "server_id": i / 10, "partition_cores": 2}
    })
}

async fn start(pki: &Pki, total: usize, mode: Mode) -> (SocketAddr, Arc<Seen>) {
    let rows = (0..total).map(row).collect();
    let s = IlmtServer::start(&pki.cert, &pki.key, TOKEN, rows, mode)
        .await
        .unwrap();
    (s.addr, s.seen)
}

fn config(addr: SocketAddr, token: &Path, ca: &Path) -> PullConfig {
    let mut c = PullConfig::new(&format!("https://{addr}"), token, ca);
    c.page_size = 1000;
    c.connect_timeout = Duration::from_secs(10);
    c.request_timeout = Duration::from_secs(30);
    c
}

#[tokio::test]
async fn pulls_every_page_over_one_connection() {
    let pki = pki();
    let (addr, seen) = start(&pki, 2500, Mode::Normal).await;
    let import = pull(&config(addr, &pki.token, &pki.server_ca))
        .await
        .unwrap();
    assert_eq!(import.computers.len(), 2500);
    let ids: Vec<i64> = import.computers.iter().filter_map(|c| c.id).collect();
    assert_eq!(ids, (0..2500).collect::<Vec<i64>>());
    let rows: Vec<usize> = import.computers.iter().map(|c| c.source_row).collect();
    assert_eq!(rows, (0..2500).collect::<Vec<usize>>());
    assert_eq!(import.computers[2499].name.as_deref(), Some("host02499"));
    assert_eq!(import.computers[1234].partition_cores, Some(2.0));
    assert_eq!(import.declared_total, Some(2500));
    assert_eq!(import.source, ImportSource::RestApi);
    assert!(import.warnings.is_empty(), "{:?}", import.warnings);
    assert_eq!(
        import.file_name,
        format!("https://{addr}/api/sam/v2/computers")
    );

    let targets = seen.targets.lock().unwrap().clone();
    assert_eq!(targets.len(), 3, "{targets:?}");
    for (t, offset) in targets.iter().zip([0, 1000, 2000]) {
        let query = t.split_once('?').map(|(_, q)| q).unwrap_or("");
        assert_eq!(query_value(query, "limit"), Some("1000"));
        assert_eq!(
            query_value(query, "offset"),
            Some(offset.to_string().as_str())
        );
        assert!(
            query.contains("columns%5B%5D=computer_hardware.status"),
            "{t}"
        );
        assert!(
            query.contains("criteria=%7B%22and%22%3A%5B%5B%22is_deleted%22"),
            "{t}"
        );
        assert!(
            !t.contains(TOKEN),
            "the token goes in a header, never the URL"
        );
    }
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "pages reuse the connection"
    );
    let all: Vec<u8> = seen
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .copied()
        .collect();
    assert_eq!(import.sha256, sha256_hex(&all));
}

#[tokio::test]
async fn wrong_token_is_a_clear_401() {
    let pki = pki();
    let (addr, _) = start(&pki, 10, Mode::Normal).await;
    let wrong = pki.root.join("wrong-token");
    std::fs::write(&wrong, "0000000000000000000000000000000000000000").unwrap();
    let err = pull(&config(addr, &wrong, &pki.server_ca))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            RestError::Status {
                page: 1,
                offset: 0,
                status: 401,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("HTTP 401: the token was refused"), "{text}");
    assert!(!text.contains("0000000000"), "{text}");
}

#[tokio::test]
async fn malformed_page_two_names_the_page_and_returns_nothing() {
    let pki = pki();
    let (addr, _) = start(&pki, 2500, Mode::MalformedPage2).await;
    let err = pull(&config(addr, &pki.token, &pki.server_ca))
        .await
        .err()
        .unwrap();
    let RestError::Parse {
        page,
        offset,
        source,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((*page, *offset), (2, 1000));
    assert!(source.problem.contains("ends early"), "{source}");
    assert!(
        err.to_string().starts_with("page 2 (offset 1000): "),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_ca_is_a_tls_error() {
    let pki = pki();
    let (addr, seen) = start(&pki, 10, Mode::Normal).await;
    let other = tempfile::tempdir().unwrap();
    certs::init(other.path()).unwrap();
    let stranger = Ca::Server.cert_path(other.path());
    let err = pull(&config(addr, &pki.token, &stranger))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, RestError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(
        seen.targets.lock().unwrap().is_empty(),
        "no request was sent"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_with_the_page_named() {
    let pki = pki();
    let (addr, _) = start(&pki, 10, Mode::Stall).await;
    let mut c = config(addr, &pki.token, &pki.server_ca);
    c.request_timeout = Duration::from_millis(300);
    let err = pull(&c).await.err().unwrap();
    assert!(
        matches!(&err, RestError::Page { page: 1, problem, .. } if problem.contains("no complete answer")),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversized_page_is_refused() {
    let pki = pki();
    let (addr, _) = start(&pki, 2500, Mode::Normal).await;
    let mut c = config(addr, &pki.token, &pki.server_ca);
    c.limits.max_input_bytes = 10_000;
    let err = pull(&c).await.err().unwrap();
    assert!(
        matches!(&err, RestError::Page { page: 1, problem, .. } if problem.contains("larger than the 10000 bytes")),
        "{err}"
    );
}

#[test]
fn base_urls() {
    let ok = parse_base("https://ilmt.bank.example:9081/").unwrap();
    assert_eq!(
        (ok.host.as_str(), ok.port, ok.prefix.as_str()),
        ("ilmt.bank.example", 9081, "")
    );
    let ok = parse_base("https://[::1]/lmt").unwrap();
    assert_eq!(
        (ok.host.as_str(), ok.port, ok.prefix.as_str()),
        ("::1", 443, "/lmt")
    );
    for bad in [
        "http://ilmt:9081",
        "ilmt.bank.example",
        "https://user:pw@ilmt:9081",
        "https://ilmt:9081/?token=x",
    ] {
        assert!(
            matches!(parse_base(bad), Err(RestError::Url { .. })),
            "{bad}"
        );
    }
}

#[test]
fn query_encoding() {
    assert_eq!(encode("columns[]"), "columns%5B%5D");
    assert_eq!(
        encode(DEFAULT_CRITERIA),
        "%7B%22and%22%3A%5B%5B%22is_deleted%22%2C%22%3D%22%2C%220%22%5D%5D%7D"
    );
    assert_eq!(
        encode("computer_hardware.status"),
        "computer_hardware.status"
    );
}

#[test]
fn token_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    std::fs::write(&path, "  abc123\r\n").unwrap();
    let token = read_token(&path).unwrap();
    assert_eq!(token.0.as_bytes(), b"abc123");
    assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    for (content, problem) in [
        ("", "empty"),
        ("ab c", "characters"),
        ("tökén", "characters"),
    ] {
        std::fs::write(&path, content).unwrap();
        let err = read_token(&path).err().unwrap();
        assert!(err.to_string().contains(problem), "{content:?}: {err}");
        assert!(content.is_empty() || !err.to_string().contains(content));
    }
    let err = read_token(&dir.path().join("missing")).err().unwrap();
    assert!(matches!(err, RestError::Token { .. }));
}
