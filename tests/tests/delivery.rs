//! Delivery end to end: the real `subcap-aggregator` and `subcap-agent` processes over mutual TLS
//! on loopback, certificates generated here, the store in sled on disk.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use subcap_proto::v1 as pb;
use subcap_tests::binary;
use subcap_tests::pki::Pki;
use subcap_tests::process::{channel, free_port, ingest, query, Aggregator};
use tonic::Code;

const FQDN: &str = "db01.bank.example";

/// A host tree that names itself `db01` / `db01.bank.example`.
fn host_root(hostname: &str, fqdn: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("etc/hostname", &format!("{hostname}\n"));
    w(
        "etc/hosts",
        &format!("127.0.0.1 localhost\n10.1.1.1 {fqdn} {hostname}\n"),
    );
    w(
        "etc/os-release",
        "NAME=\"Red Hat Enterprise Linux\"\nVERSION_ID=\"8.10\"\n",
    );
    w(
        "proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\n",
    );
    dir
}

fn push_once(config: &Path) -> Output {
    Command::new(binary("subcap-agent"))
        .args(["push", "--once", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run subcap-agent push")
}

fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "report"))
                .count()
        })
        .unwrap_or(0)
}

fn report(id: &str, hostname: &str, fqdn: &str) -> pb::HostReport {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    pb::HostReport {
        report_id: id.to_string(),
        collected_at: Some(pbjson_types::Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
        agent_version: "test".into(),
        identity: Some(pb::HostIdentity {
            hostname: hostname.into(),
            fqdn: fqdn.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn submit(r: pb::HostReport) -> pb::SubmitReportRequest {
    pb::SubmitReportRequest { report: Some(r) }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
}

struct Setup {
    pki: Pki,
    data: tempfile::TempDir,
    port: u16,
    metrics_port: u16,
    config: std::path::PathBuf,
}

fn setup(agents: &[&str], tls_extra: &str, sections: &str) -> Setup {
    let pki = Pki::new(agents);
    let data = tempfile::tempdir().unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let config = pki.aggregator_config(
        port,
        metrics_port,
        &data.path().join("store"),
        tls_extra,
        sections,
    );
    Setup {
        pki,
        data,
        port,
        metrics_port,
        config,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_report_is_acknowledged_and_readable_by_an_operator() {
    let s = setup(&[FQDN], "", "");
    let agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    let root = host_root("db01", FQDN);
    let spool = s.data.path().join("spool");
    let cfg = s.pki.agent_config(FQDN, s.port, &spool, root.path());

    let out = push_once(&cfg);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("acknowledged"));
    assert_eq!(
        spooled(&spool),
        0,
        "an acknowledged report leaves the spool"
    );

    let mut q = query(&s.pki, s.port, "operator-ops").await;
    let host = q
        .get_host(pb::GetHostRequest {
            host: "DB01".into(),
            history_limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let summary = host.summary.unwrap();
    assert_eq!(summary.host_key, FQDN);
    let latest = host.latest.expect("latest report body");
    assert_eq!(latest.identity.unwrap().os_name, "Red Hat Enterprise Linux");
    assert_eq!(host.history.len(), 1);
    assert_eq!(host.history[0].report_id, latest.report_id);
    let list = q
        .list_hosts(pb::ListHostsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.hosts.len(), 1);
    assert!(list.next_after.is_empty());
    let missing = q
        .get_host(pb::GetHostRequest {
            host: "db99".into(),
            history_limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let mut health = tonic_health::pb::health_client::HealthClient::new(
        channel(&s.pki, s.port, Some("operator-ops")).await.unwrap(),
    );
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "subcap.v1.Ingest".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let m = agg.metrics();
    assert_eq!(
        metric(&m, "subcap_reports_accepted_total{result=\"stored\"}"),
        1.0
    );
    assert_eq!(metric(&m, "subcap_hosts_known"), 1.0);
    assert_eq!(metric(&m, "subcap_ingest_duration_seconds_count"), 1.0);
    assert!(metric(&m, "subcap_store_size_bytes") > 0.0);

    let status = agg.terminate();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_trusted_certificate_is_refused() {
    let s = setup(&[FQDN], "", "");
    let agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    // No client certificate at all: the handshake or the first call fails.
    let refused = match channel(&s.pki, s.port, None).await {
        Err(_) => true,
        Ok(ch) => pb::ingest_client::IngestClient::new(ch)
            .submit_report(submit(report("a1", "db01", FQDN)))
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate must be refused");
    // A certificate from another CA, for the right host name.
    let stranger = Pki::new(&[FQDN]);
    std::fs::copy(
        stranger.file(&format!("agent-{FQDN}.pem")),
        s.pki.file("stranger.pem"),
    )
    .unwrap();
    std::fs::copy(
        stranger.file(&format!("agent-{FQDN}.key")),
        s.pki.file("stranger.key"),
    )
    .unwrap();
    let refused = match channel(&s.pki, s.port, Some("stranger")).await {
        Err(_) => true,
        Ok(ch) => pb::ingest_client::IngestClient::new(ch)
            .submit_report(submit(report("a2", "db01", FQDN)))
            .await
            .is_err(),
    };
    assert!(refused, "a certificate from an unknown CA must be refused");
    assert!(metric(&agg.metrics(), "subcap_tls_handshake_failures_total") >= 1.0);
    let mut q = query(&s.pki, s.port, "operator-ops").await;
    let list = q
        .list_hosts(pb::ListHostsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.hosts.is_empty(), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_held_to_their_host_and_role() {
    let s = setup(&[FQDN], "", "");
    let agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    let mut as_db01 = ingest(&s.pki, s.port, &format!("agent-{FQDN}")).await;
    // The certificate for db01 reporting db02: refused, naming the host.
    let e = as_db01
        .submit_report(submit(report("b1", "db02", "db02.bank.example")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("db02"), "{}", e.message());
    // Its own host: accepted.
    as_db01
        .submit_report(submit(report("b2", "db01", FQDN)))
        .await
        .unwrap();
    // The agent binary on a host named db02 with db01's certificate: exit 1, report kept.
    let root = host_root("db02", "db02.bank.example");
    let spool = s.data.path().join("spool");
    let out = push_once(&s.pki.agent_config(FQDN, s.port, &spool, root.path()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(spooled(&spool), 1, "a refused report stays spooled");
    // Roles: an operator may not submit, an agent may not query.
    let mut as_ops = pb::ingest_client::IngestClient::new(
        channel(&s.pki, s.port, Some("operator-ops")).await.unwrap(),
    );
    assert_eq!(
        as_ops
            .submit_report(submit(report("b3", "db01", FQDN)))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut q_as_agent = query(&s.pki, s.port, &format!("agent-{FQDN}")).await;
    assert_eq!(
        q_as_agent
            .list_hosts(pb::ListHostsRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let m = agg.metrics();
    assert_eq!(
        metric(
            &m,
            "subcap_reports_refused_total{reason=\"permission_denied\"}"
        ),
        3.0
    );
    assert_eq!(
        metric(&m, "subcap_reports_accepted_total{result=\"stored\"}"),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_spooled_during_an_outage_are_delivered_once_in_order() {
    let s = setup(&[FQDN], "", "");
    let root = host_root("db01", FQDN);
    let spool = s.data.path().join("spool");
    let cfg = s.pki.agent_config(FQDN, s.port, &spool, root.path());
    // Aggregator down: each push fails with exit 1 and the report waits in the spool.
    for n in 1..=3 {
        let out = push_once(&cfg);
        assert_eq!(
            out.status.code(),
            Some(1),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(spooled(&spool), n);
    }
    let spooled_ids: Vec<String> = {
        let sp = subcap_agent::deliver::spool::Spool::open(&spool, 1 << 30, 1000).unwrap();
        sp.entries()
            .unwrap()
            .iter()
            .map(|e| sp.read(e).unwrap().report_id)
            .collect()
    };
    let agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    let out = push_once(&cfg);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 report(s) delivered"));
    assert_eq!(spooled(&spool), 0);

    let mut q = query(&s.pki, s.port, "operator-ops").await;
    let host = q
        .get_host(pb::GetHostRequest {
            host: FQDN.into(),
            history_limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let history: Vec<String> = host
        .history
        .iter()
        .rev()
        .map(|h| h.report_id.clone())
        .collect();
    assert_eq!(history.len(), 4);
    assert_eq!(history[..3], spooled_ids[..], "delivered oldest first");
    assert_eq!(host.latest.as_ref().unwrap().report_id, history[3]);

    // A resend (the agent crashed before it saw the acknowledgement) is acknowledged, not stored.
    let mut a = ingest(&s.pki, s.port, &format!("agent-{FQDN}")).await;
    let ack = a
        .submit_report(submit(host.latest.clone().unwrap()))
        .await
        .unwrap()
        .into_inner();
    assert!(ack.duplicate);
    let again = q
        .get_host(pb::GetHostRequest {
            host: FQDN.into(),
            history_limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.history.len(), 4);
    let m = agg.metrics();
    assert_eq!(
        metric(&m, "subcap_reports_accepted_total{result=\"stored\"}"),
        4.0
    );
    assert_eq!(
        metric(&m, "subcap_reports_accepted_total{result=\"duplicate\"}"),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_report_survives_sigkill() {
    let s = setup(&[FQDN], "", "");
    let agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let mut client = ingest(&s.pki, s.port, &format!("agent-{FQDN}")).await;
        let acked = Arc::clone(&acked);
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let id = format!("k{t}-{i}");
                match client
                    .submit_report(submit(report(&id, "db01", FQDN)))
                    .await
                {
                    Ok(_) => acked.lock().unwrap().push(id),
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill while submissions are in flight, once enough have been acknowledged.
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    agg.kill9();
    let acked_now: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    for t in tasks {
        let _ = t.await;
    }
    let acked_all: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(acked_all.len() >= acked_now.len());

    let agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    let mut q = query(&s.pki, s.port, "operator-ops").await;
    let host = q
        .get_host(pb::GetHostRequest {
            host: FQDN.into(),
            history_limit: 10_000,
        })
        .await
        .unwrap()
        .into_inner();
    let stored: HashSet<String> = host.history.into_iter().map(|h| h.report_id).collect();
    let lost: Vec<&String> = acked_all.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged reports lost after SIGKILL: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    drop(agg);
}

/// Bytes in a gRPC frame exactly as given: for sending malformed protobuf.
#[derive(Clone, Default)]
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_malformed_and_random_input_leave_the_server_serving() {
    let s = setup(
        &[FQDN],
        "",
        "[limits]\nmax_message_bytes = 65536\nhandshake_timeout_secs = 2\n",
    );
    let mut agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    let mut a = ingest(&s.pki, s.port, &format!("agent-{FQDN}")).await;

    // Oversized: over the configured 64 KiB message limit.
    let mut big = report("c1", "db01", FQDN);
    big.virtualization = Some(pb::Virtualization {
        evidence: (0..20)
            .map(|i| pb::Evidence {
                source: format!("s{i}"),
                value: "x".repeat(8000),
            })
            .collect(),
        ..Default::default()
    });
    let e = a.submit_report(submit(big)).await.unwrap_err();
    assert!(
        matches!(e.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{e:?}"
    );

    // Invalid field: refused naming the field.
    let mut bad = report("c2", "db01", FQDN);
    bad.virtualization = Some(pb::Virtualization {
        technology: "VMware".into(),
        ..Default::default()
    });
    let e = a.submit_report(submit(bad)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().starts_with("report.virtualization.technology"),
        "{}",
        e.message()
    );

    // Malformed protobuf inside a well-formed gRPC frame.
    let ch = channel(&s.pki, s.port, Some(&format!("agent-{FQDN}")))
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await.unwrap();
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/subcap.v1.Ingest/SubmitReport");
    let r: Result<tonic::Response<Vec<u8>>, tonic::Status> = grpc
        .unary(
            tonic::Request::new(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
            path,
            RawCodec,
        )
        .await;
    assert!(r.is_err(), "malformed protobuf must be refused");

    // Random bytes straight onto the port, many times.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..40 {
        use std::io::Write;
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let junk: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = sock.write_all(&junk);
    }
    // A connection that never speaks is dropped after the handshake timeout, not kept forever.
    let _idle = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();

    // Still serving, still correct.
    let mut a = ingest(&s.pki, s.port, &format!("agent-{FQDN}")).await;
    let ack = a
        .submit_report(submit(report("c3", "db01", FQDN)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.report_id, "c3");
    assert!(agg.is_running());
    let m = agg.metrics();
    assert_eq!(
        metric(
            &m,
            "subcap_reports_refused_total{reason=\"invalid_argument\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(&m, "subcap_reports_accepted_total{result=\"stored\"}"),
        1.0
    );
}

/// Polls `check` every 50 ms for up to 60 s: a readiness wait, failing only if it never holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not reached within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_spools_through_an_outage_delivers_and_stops_on_sigterm() {
    let s = setup(&[FQDN], "", "");
    let root = host_root("db01", FQDN);
    let spool = s.data.path().join("spool");
    let cfg = s.pki.agent_config(FQDN, s.port, &spool, root.path());
    let mut agent = Command::new(binary("subcap-agent"))
        .args(["run", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start subcap-agent run");
    // Aggregator down: the report collected at start waits in the spool while the agent retries.
    eventually("report spooled", || spooled(&spool) == 1).await;
    assert!(
        matches!(agent.try_wait(), Ok(None)),
        "the daemon keeps running through an outage"
    );

    let _agg = Aggregator::start(&s.config, s.port, s.metrics_port);
    eventually("spool delivered", || spooled(&spool) == 0).await;
    let mut q = query(&s.pki, s.port, "operator-ops").await;
    let host = q
        .get_host(pb::GetHostRequest {
            host: FQDN.into(),
            history_limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(host.history.len(), 1);

    let _ = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status();
    let status = agent.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM ends the daemon cleanly: {status:?}"
    );
}
