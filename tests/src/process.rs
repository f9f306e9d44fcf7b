//! Real processes on loopback for end-to-end tests: a free port, the aggregator process, gRPC
//! clients with real certificates.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use subcap_proto::v1::ingest_client::IngestClient;
use subcap_proto::v1::query_client::QueryClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::binary;
use crate::pki::Pki;

/// A port free on 127.0.0.1 now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits (up to 30 s, polling) until something accepts TCP on `port`. A readiness wait, not a
/// timing assertion: it fails only if the server never comes up.
pub fn wait_for_port(port: u16) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on port {port} after 30 s");
}

/// `subcap-aggregator serve` as a child process; killed when dropped.
pub struct Aggregator {
    pub child: Child,
    pub port: u16,
    pub metrics_port: u16,
}

impl Aggregator {
    pub fn start(config: &Path, port: u16, metrics_port: u16) -> Aggregator {
        Self::start_binary(&binary("subcap-aggregator"), config, port, metrics_port)
    }

    /// As [`Aggregator::start`], with the executable `bin` (another build, e.g. with symbols).
    pub fn start_binary(bin: &Path, config: &Path, port: u16, metrics_port: u16) -> Aggregator {
        let child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start subcap-aggregator");
        wait_for_port(port);
        Aggregator {
            child,
            port,
            metrics_port,
        }
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait for the aggregator")
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The Prometheus text from `GET /metrics`.
    pub fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let mut s =
            TcpStream::connect(("127.0.0.1", self.metrics_port)).expect("connect to metrics");
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read metrics");
        out
    }
}

impl Drop for Aggregator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TLS channel to the aggregator presenting certificate `<pki>/<cert>.pem` (none when `None`).
pub async fn channel(
    pki: &Pki,
    port: u16,
    cert: Option<&str>,
) -> Result<Channel, tonic::transport::Error> {
    let ca = std::fs::read(pki.server_ca()).expect("server CA");
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some(c) = cert {
        let pem = std::fs::read(pki.file(&format!("{c}.pem"))).expect("cert");
        let key = std::fs::read(pki.file(&format!("{c}.key"))).expect("key");
        tls = tls.identity(Identity::from_pem(pem, key));
    }
    Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?
        .tls_config(tls)?
        .timeout(Duration::from_secs(20))
        .connect()
        .await
}

/// Runs the `subcap` command with `--config config` and `args`.
pub fn subcap(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(binary("subcap"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run subcap")
}

pub async fn ingest(pki: &Pki, port: u16, cert: &str) -> IngestClient<Channel> {
    IngestClient::new(
        channel(pki, port, Some(cert))
            .await
            .expect("connect as agent"),
    )
}

pub async fn query(pki: &Pki, port: u16, cert: &str) -> QueryClient<Channel> {
    QueryClient::new(channel(pki, port, Some(cert)).await.expect("connect"))
}
