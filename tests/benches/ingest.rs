//! Ingest benchmark (issue 3): the release `subcap-aggregator` as its own process, N simulated
//! agents each on its own mutual-TLS connection submitting realistic reports with durable
//! acknowledgements, beside the same N connections calling the gRPC health check (same TLS, no
//! store) so the reader sees what durability costs. Prints a Markdown section for BENCHMARKS.md.
//!
//! ```text
//! cargo bench -p subcap-tests --bench ingest
//! cargo bench -p subcap-tests --bench ingest -- --agents 64 --seconds 20 --hosts 100000
//! ```
//!
//! Phase 1 measures sustained reports/s and client-side latency of `SubmitReport` (each call
//! returns only once the aggregator has flushed the report to disk). Phase 2 tops the store up to
//! `--hosts` distinct hosts and reports the aggregator's memory and on-disk size, with a
//! `ListHosts` page and `GetHost` latencies as a sanity check. Not a test: nothing is asserted
//! about timings; the targets are printed beside the figures.

#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use subcap_aggregator::certs::{self, Leaf};
use subcap_proto::v1 as pb;
use subcap_tests::pki::Pki;
use subcap_tests::process::{channel, free_port, query, Aggregator};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The targets of issue 3, printed beside the figures.
const TARGET_RATE: f64 = 5000.0;
const TARGET_P99_MS: f64 = 50.0;
const TARGET_RSS_MB: f64 = 300.0;

const USAGE: &str = "usage: cargo bench -p subcap-tests --bench ingest -- [--agents N] [--seconds S] [--warmup S] [--hosts H] [--fixture NAME] [--client-threads T] [--aggregator PATH]";

#[derive(Debug, Clone)]
struct Args {
    /// Simulated agents, each with its own TLS connection.
    agents: usize,
    /// Length of each measured window.
    seconds: u64,
    /// Unmeasured load before each window.
    warmup: u64,
    /// Distinct hosts the reports are spread over; phase 2 makes sure each has reported.
    hosts: u64,
    /// The host fixture whose scan is the report template.
    fixture: String,
    /// Worker threads of the client's runtime.
    client_threads: usize,
    /// An aggregator executable to run instead of building the release one (e.g. a build with
    /// symbols for `perf`).
    aggregator: Option<std::path::PathBuf>,
}

impl Args {
    fn parse() -> std::result::Result<Args, String> {
        let mut a = Args {
            agents: 64,
            seconds: 20,
            warmup: 3,
            hosts: 100_000,
            fixture: "vmware-vm".into(),
            client_threads: 2,
            aggregator: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            let num = |name: &str, v: String| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}: {v:?} is not a positive number"))
            };
            match flag.as_str() {
                // cargo bench passes --bench to harness = false targets.
                "--bench" => {}
                "--agents" => a.agents = num("--agents", value("--agents")?)? as usize,
                "--seconds" => a.seconds = num("--seconds", value("--seconds")?)?,
                "--warmup" => {
                    a.warmup = value("--warmup")?
                        .parse()
                        .map_err(|e| format!("--warmup: {e}"))?
                }
                "--hosts" => a.hosts = num("--hosts", value("--hosts")?)?,
                "--fixture" => a.fixture = value("--fixture")?,
                "--client-threads" => {
                    a.client_threads = num("--client-threads", value("--client-threads")?)? as usize
                }
                "--aggregator" => a.aggregator = Some(value("--aggregator")?.into()),
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(a)
    }

    fn command(&self) -> String {
        format!(
            "cargo bench -p subcap-tests --bench ingest -- --agents {} --seconds {} --warmup {} --hosts {} --fixture {} --client-threads {}",
            self.agents, self.seconds, self.warmup, self.hosts, self.fixture, self.client_threads
        )
    }
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ingest bench: start the client runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What one timed window measured.
#[derive(Debug, Default)]
struct Window {
    /// Calls that completed inside the window.
    completed: u64,
    /// Latency (microseconds) of each call that started inside the window.
    latencies: Vec<u64>,
    /// Completions per whole second of the window.
    per_second: Vec<u64>,
    /// Failed calls (whole run, warm-up included), with the first message.
    errors: u64,
    first_error: Option<String>,
    /// Acknowledgements that said `duplicate` (none expected: every report id is new).
    duplicates: u64,
    seconds: f64,
    /// Aggregator CPU time during the window, seconds.
    server_cpu: f64,
    /// Aggregator CPU time during the first half of the window, seconds.
    server_cpu_first_half: f64,
    /// Calls completed in the first half of the window.
    completed_first_half: u64,
    /// This process's CPU time during the window, seconds.
    client_cpu: f64,
    /// CPU time of the whole machine during the window, seconds (everything not idle).
    machine_cpu: f64,
}

impl Window {
    fn rate(&self) -> f64 {
        self.completed as f64 / self.seconds
    }
    fn pct(&self, p: f64) -> f64 {
        percentile(&self.latencies, p)
    }
    fn max(&self) -> f64 {
        self.latencies.last().copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// The `p`-th percentile (nearest rank) of sorted microsecond samples, in milliseconds.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    Submit,
    Health,
}

/// Per agent: what it saw, merged into a [`Window`] afterwards.
#[derive(Default)]
struct AgentLog {
    /// (started, finished) offsets from the run's start, microseconds.
    calls: Vec<(u64, u64)>,
    errors: u64,
    first_error: Option<String>,
    duplicates: u64,
}

/// SplitMix64: a fixed pseudo-random mapping, so report ids look like the agent's random ones.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Host number of report `i`: every host once per `hosts` reports, in a scattered order (a
/// multiplicative permutation), as agents of a real estate arrive in no particular key order.
fn host_of(i: u64, hosts: u64) -> u64 {
    let stride = [7919u64, 104_729, 1_299_709, 15_485_863]
        .into_iter()
        .find(|p| gcd(*p, hosts) == 1)
        .unwrap_or(1);
    ((i % hosts) * (stride % hosts)) % hosts
}

/// Builds report number `i`: the template with a new report id (32 hex digits, as the agent's
/// 128 random bits) and host `hNNNNNN`, `hNNNNNN.bench.example` ([`host_of`]).
fn nth_report(template: &pb::HostReport, i: u64, hosts: u64) -> pb::HostReport {
    let mut r = template.clone();
    let h = host_of(i, hosts);
    r.report_id = format!("{:016x}{:016x}", mix(i), mix(i ^ 0x5bd1_e995));
    let id = r.identity.get_or_insert_with(Default::default);
    id.hostname = format!("h{h:06}");
    id.fqdn = format!("h{h:06}.bench.example");
    r
}

/// The `SubmitReportRequest` of report number `i`, encoded cheaply: the template's encoding
/// (without report id and host names) followed by a small encoded `HostReport` holding just those.
/// Protobuf merges the two (a later scalar wins, sub-messages merge), so the aggregator decodes
/// exactly [`nth_report`]; the load generator then spends its CPU on the connection, not on
/// copying the report (it shares the machine with the aggregator). Checked at start-up.
struct Requests {
    template: pb::HostReport,
    head: Vec<u8>,
    hosts: u64,
}

impl Requests {
    fn new(template: pb::HostReport, hosts: u64) -> Requests {
        let mut stripped = template.clone();
        stripped.report_id.clear();
        if let Some(id) = stripped.identity.as_mut() {
            id.hostname.clear();
            id.fqdn.clear();
        }
        Requests {
            head: prost::Message::encode_to_vec(&stripped),
            template,
            hosts,
        }
    }

    fn bytes(&self, i: u64) -> Vec<u8> {
        let h = host_of(i, self.hosts);
        let patch = prost::Message::encode_to_vec(&pb::HostReport {
            report_id: format!("{:016x}{:016x}", mix(i), mix(i ^ 0x5bd1_e995)),
            identity: Some(pb::HostIdentity {
                hostname: format!("h{h:06}"),
                fqdn: format!("h{h:06}.bench.example"),
                ..Default::default()
            }),
            ..Default::default()
        });
        let len = self.head.len() + patch.len();
        let mut out = Vec::with_capacity(len + 8);
        // SubmitReportRequest.report: field 1, length-delimited.
        out.push(0x0a);
        prost::encoding::encode_varint(len as u64, &mut out);
        out.extend_from_slice(&self.head);
        out.extend_from_slice(&patch);
        out
    }

    /// That [`Requests::bytes`] decodes to [`nth_report`] for a few `i`.
    fn check(&self) -> Result<()> {
        for i in [0, 1, 7, self.hosts + 3] {
            let got: pb::SubmitReportRequest = prost::Message::decode(self.bytes(i).as_slice())?;
            if got.report.as_ref() != Some(&nth_report(&self.template, i, self.hosts)) {
                return Err(
                    format!("pre-encoded request {i} does not decode to its report").into(),
                );
            }
        }
        Ok(())
    }
}

/// Sends pre-encoded request bytes, decodes the response with prost.
#[derive(Clone, Default)]
struct PreEncoded;
struct RawEncoder;
struct ResponseDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> std::result::Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for ResponseDecoder {
    type Item = pb::SubmitReportResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> std::result::Result<Option<pb::SubmitReportResponse>, tonic::Status> {
        prost::Message::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Codec for PreEncoded {
    type Encode = Vec<u8>;
    type Decode = pb::SubmitReportResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

/// One simulated agent: calls back to back until `stop` (or, when `upto` is set, until the shared
/// counter reaches it).
async fn agent(
    call: Call,
    ch: Channel,
    requests: Arc<Requests>,
    next: Arc<AtomicU64>,
    t0: Instant,
    stop: Instant,
    upto: Option<u64>,
) -> AgentLog {
    let mut ingest = tonic::client::Grpc::new(ch.clone());
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/subcap.v1.Ingest/SubmitReport");
    let mut health = HealthClient::new(ch);
    let mut log = AgentLog::default();
    loop {
        if Instant::now() >= stop {
            break;
        }
        let result = match call {
            Call::Submit => {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if upto.is_some_and(|u| i >= u) {
                    break;
                }
                let started = t0.elapsed();
                let req = tonic::Request::new(requests.bytes(i));
                let r = match ingest.ready().await {
                    Ok(()) => ingest.unary(req, path.clone(), PreEncoded).await,
                    Err(e) => Err(tonic::Status::unavailable(e.to_string())),
                };
                r.map(|resp| {
                    if resp.into_inner().duplicate {
                        log.duplicates += 1;
                    }
                })
                .map(|()| started)
            }
            Call::Health => {
                let started = t0.elapsed();
                health
                    .check(HealthCheckRequest {
                        service: "subcap.v1.Ingest".into(),
                    })
                    .await
                    .map(|_| started)
            }
        };
        match result {
            Ok(started) => log
                .calls
                .push((started.as_micros() as u64, t0.elapsed().as_micros() as u64)),
            Err(status) => {
                log.errors += 1;
                if log.first_error.is_none() {
                    log.first_error = Some(format!("{:?}: {}", status.code(), status.message()));
                }
            }
        }
    }
    log
}

/// Runs `call` on every channel for `warmup + seconds` and measures the last `seconds`.
async fn window(
    call: Call,
    channels: &[Channel],
    requests: &Arc<Requests>,
    next: &Arc<AtomicU64>,
    args: &Args,
    pid: u32,
) -> Result<Window> {
    let t0 = Instant::now();
    let from = Duration::from_secs(args.warmup);
    let to = from + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = channels
        .iter()
        .map(|ch| {
            tokio::spawn(agent(
                call,
                ch.clone(),
                Arc::clone(requests),
                Arc::clone(next),
                t0,
                t0 + to,
                None,
            ))
        })
        .collect();
    tokio::time::sleep_until((t0 + from).into()).await;
    let (server0, client0, machine0) = (
        cpu_seconds(pid),
        cpu_seconds(std::process::id()),
        machine_busy_seconds(),
    );
    tokio::time::sleep_until((t0 + from + Duration::from_secs(args.seconds) / 2).into()).await;
    let server_half = cpu_seconds(pid);
    tokio::time::sleep_until((t0 + to).into()).await;
    let (server1, client1, machine1) = (
        cpu_seconds(pid),
        cpu_seconds(std::process::id()),
        machine_busy_seconds(),
    );
    let mut w = Window {
        seconds: args.seconds as f64,
        per_second: vec![0; args.seconds as usize],
        server_cpu: server1 - server0,
        server_cpu_first_half: server_half - server0,
        client_cpu: client1 - client0,
        machine_cpu: machine1 - machine0,
        ..Window::default()
    };
    let (lo, hi) = (from.as_micros() as u64, to.as_micros() as u64);
    for t in tasks {
        let log = t.await?;
        w.errors += log.errors;
        w.duplicates += log.duplicates;
        if w.first_error.is_none() {
            w.first_error = log.first_error;
        }
        for (start, end) in log.calls {
            if (lo..hi).contains(&end) {
                w.completed += 1;
                if end < (lo + hi) / 2 {
                    w.completed_first_half += 1;
                }
                if let Some(s) = w.per_second.get_mut(((end - lo) / 1_000_000) as usize) {
                    *s += 1;
                }
            }
            if (lo..hi).contains(&start) {
                w.latencies.push(end - start);
            }
        }
    }
    w.latencies.sort_unstable();
    Ok(w)
}

/// Submits reports until the shared counter reaches `upto` (every host has reported once);
/// returns how many calls were made and how long it took.
async fn fill(
    channels: &[Channel],
    requests: &Arc<Requests>,
    next: &Arc<AtomicU64>,
    upto: u64,
) -> Result<(AgentLog, Duration)> {
    let t0 = Instant::now();
    let far = t0 + Duration::from_secs(24 * 3600);
    let tasks: Vec<_> = channels
        .iter()
        .map(|ch| {
            tokio::spawn(agent(
                Call::Submit,
                ch.clone(),
                Arc::clone(requests),
                Arc::clone(next),
                t0,
                far,
                Some(upto),
            ))
        })
        .collect();
    let mut all = AgentLog::default();
    for t in tasks {
        let log = t.await?;
        all.calls.extend(log.calls);
        all.errors += log.errors;
        all.duplicates += log.duplicates;
        if all.first_error.is_none() {
            all.first_error = log.first_error;
        }
    }
    Ok((all, t0.elapsed()))
}

/// A `kB` field (`VmRSS`, `VmHWM`) of `/proc/PID/status`, in MiB.
fn proc_status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)
                    .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
                    .and_then(|n| n.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// User + system CPU seconds of process `pid` (all threads), from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    // USER_HZ is 100 on every Linux architecture the bench runs on.
    const TICKS: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) start at field 3, "state".
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime is field 14, stime field 15: indices 11 and 12 after "state" (field 3).
    (num(11) + num(12)) / TICKS
}

/// CPU seconds the whole machine spent not idle (user, system, interrupts, steal: every field of
/// the `cpu` line of `/proc/stat` but idle and iowait).
fn machine_busy_seconds() -> f64 {
    const TICKS: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return f64::NAN;
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return f64::NAN;
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // counted in user.
    let busy: f64 = v
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, x)| x)
        .sum();
    busy / TICKS
}

/// (apparent bytes, allocated bytes) of every file under `dir`.
fn dir_size(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return total;
    };
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            let (a, b) = dir_size(&e.path());
            total.0 += a;
            total.1 += b;
        } else {
            total.0 += m.len();
            total.1 += m.blocks() * 512;
        }
    }
    total
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{n} CPUs ({cpu}), {mem}, Linux {kernel}")
}

fn git_head() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn now_timestamp() -> pbjson_types::Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    pbjson_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

async fn run(args: Args) -> Result<()> {
    let pki = Pki::new(&[]);
    certs::issue(
        pki.path(),
        Leaf::Agent,
        &["*.bench.example".into()],
        "agent-bench",
    )?;
    let data = tempfile::tempdir()?;
    let store_dir = data.path().join("store");
    let (port, metrics_port) = (free_port(), free_port());
    let config = pki.aggregator_config(
        port,
        metrics_port,
        &store_dir,
        "identity_binding = \"strict\"",
        "",
    );
    eprintln!("building and starting the release aggregator...");
    // Dropped (killed) before `data` and `pki` are removed, on every path out of this function.
    let aggregator = match &args.aggregator {
        Some(bin) => Aggregator::start_binary(bin, &config, port, metrics_port),
        None => Aggregator::start(&config, port, metrics_port),
    };
    let pid = aggregator.child.id();

    let mut template = subcap_tests::scan_fixture(&args.fixture);
    template.collected_at = Some(now_timestamp());
    template.agent_version = "bench".into();
    let requests = Arc::new(Requests::new(template, args.hosts));
    requests.check()?;
    let report_bytes = requests.bytes(0).len();

    eprintln!("opening {} TLS connections...", args.agents);
    let mut channels = Vec::with_capacity(args.agents);
    for _ in 0..args.agents {
        channels.push(channel(&pki, port, Some("agent-bench")).await?);
    }
    let next = Arc::new(AtomicU64::new(0));
    let rss_start = proc_status_mib(pid, "VmRSS");

    eprintln!(
        "health check: {} s warm-up + {} s...",
        args.warmup, args.seconds
    );
    let health = window(Call::Health, &channels, &requests, &next, &args, pid).await?;
    let hwm_health = proc_status_mib(pid, "VmHWM");

    eprintln!(
        "SubmitReport: {} s warm-up + {} s...",
        args.warmup, args.seconds
    );
    let submit = window(Call::Submit, &channels, &requests, &next, &args, pid).await?;
    let hwm_submit = proc_status_mib(pid, "VmHWM");
    let rss_submit = proc_status_mib(pid, "VmRSS");
    let submitted = next.load(Ordering::Relaxed);
    let m1 = aggregator.metrics();
    let disk1 = dir_size(&store_dir);

    // Phase 2: every host of the range has reported at least once.
    let fill_result = if submitted < args.hosts {
        eprintln!(
            "filling the store up to {} hosts ({} more reports)...",
            args.hosts,
            args.hosts - submitted
        );
        Some(fill(&channels, &requests, &next, args.hosts).await?)
    } else {
        None
    };
    let m2 = aggregator.metrics();
    let hosts_known = metric(&m2, "subcap_hosts_known").unwrap_or(f64::NAN);
    let stored_total =
        metric(&m2, "subcap_reports_accepted_total{result=\"stored\"}").unwrap_or(f64::NAN);
    let store_metric = metric(&m2, "subcap_store_size_bytes").unwrap_or(f64::NAN);
    let disk2 = dir_size(&store_dir);
    let rss2 = proc_status_mib(pid, "VmRSS");
    let hwm2 = proc_status_mib(pid, "VmHWM");

    eprintln!("queries...");
    let mut q = query(&pki, port, "operator-ops").await;
    let t = Instant::now();
    let page = q
        .list_hosts(pb::ListHostsRequest {
            limit: 1000,
            after: String::new(),
        })
        .await?
        .into_inner();
    let list_first = t.elapsed();
    // Walk every page (10,000 a page) to count the hosts through the API.
    let t = Instant::now();
    let (mut listed, mut after, mut pages) = (0usize, String::new(), 0);
    loop {
        let p = q
            .list_hosts(pb::ListHostsRequest {
                limit: 10_000,
                after: after.clone(),
            })
            .await?
            .into_inner();
        listed += p.hosts.len();
        pages += 1;
        if p.next_after.is_empty() {
            break;
        }
        after = p.next_after;
    }
    let list_all = t.elapsed();
    let mut get_by_key = Vec::new();
    for k in 0..100u64 {
        let h = (k * 7919) % args.hosts;
        let t = Instant::now();
        let r = q
            .get_host(pb::GetHostRequest {
                host: format!("h{h:06}.bench.example"),
                history_limit: 0,
            })
            .await?
            .into_inner();
        get_by_key.push(t.elapsed().as_micros() as u64);
        if r.latest.is_none() {
            return Err(format!("GetHost h{h:06}: no latest report").into());
        }
    }
    get_by_key.sort_unstable();
    let last = args.hosts - 1;
    let t = Instant::now();
    q.get_host(pb::GetHostRequest {
        host: format!("h{last:06}"),
        history_limit: 0,
    })
    .await?;
    let get_by_short = t.elapsed();
    let rss_end = proc_status_mib(pid, "VmRSS");
    let hwm_end = proc_status_mib(pid, "VmHWM");
    let status = aggregator.terminate();

    // The report.
    let date = {
        let now = now_timestamp().seconds;
        let days = now / 86_400;
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02}")
    };
    println!("## Ingest benchmark ({date}, commit {})", git_head());
    println!();
    println!("- command: `{}`", args.command());
    println!("- machine: {}", machine());
    println!(
        "- setup: release `subcap-aggregator` as its own process on 127.0.0.1, sled store on local disk, mutual TLS (rustls, ring), `identity_binding = \"strict\"`, one wildcard agent certificate `*.bench.example`; the load generator (this bench, {} client threads) runs on the same machine and shares its CPUs",
        args.client_threads
    );
    println!(
        "- load: {} agents, each its own TLS connection, one call at a time back to back; report = scan of fixture `{}` ({} bytes of protobuf per request, pre-encoded by the bench and patched per call), each with a new random-looking report id (32 hex digits, as the agent makes them), host `hNNNNNN.bench.example` cycling over {} hosts in scattered order; every acknowledgement waits for the store's flush (group commit: the body log's fdatasync and sled's flush)",
        args.agents, args.fixture, report_bytes, args.hosts
    );
    println!(
        "- windows: {} s warm-up (not counted), then {} s measured; latency is client-side per call, from before the request is encoded to the decoded response; CPU columns are cores busy during the window (from `/proc`), \"rest of the machine\" being kernel threads (writeback, network) and any other load",
        args.warmup, args.seconds
    );
    println!();
    println!("| RPC ({} connections) | calls/s sustained | slowest second | p50 ms | p95 ms | p99 ms | max ms | errors | aggregator CPU | bench CPU | rest of the machine |", args.agents);
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, w) in [
        ("SubmitReport (durable)", &submit),
        ("Health Check (same TLS, no store)", &health),
    ] {
        println!(
            "| {name} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.2} cores | {:.2} cores | {:.2} cores |",
            w.rate(),
            w.per_second.iter().min().copied().unwrap_or(0),
            w.pct(50.0),
            w.pct(95.0),
            w.pct(99.0),
            w.max(),
            w.errors,
            w.server_cpu / w.seconds,
            w.client_cpu / w.seconds,
            (w.machine_cpu - w.server_cpu - w.client_cpu) / w.seconds,
        );
    }
    println!();
    println!(
        "- durability cost: SubmitReport sustains {:.1} % of the health-check rate; p99 {:.2} ms vs {:.2} ms; aggregator CPU per report {:.0} µs vs {:.0} µs per health check",
        100.0 * submit.rate() / health.rate().max(1e-9),
        submit.pct(99.0),
        health.pct(99.0),
        1e6 * submit.server_cpu / (submit.completed.max(1) as f64),
        1e6 * health.server_cpu / (health.completed.max(1) as f64),
    );
    let second_half = submit.completed - submit.completed_first_half;
    println!(
        "- as the store grows: aggregator CPU per report {:.0} µs in the first half of the window ({} reports), {:.0} µs in the second ({} reports)",
        1e6 * submit.server_cpu_first_half / (submit.completed_first_half.max(1) as f64),
        submit.completed_first_half,
        1e6 * (submit.server_cpu - submit.server_cpu_first_half) / (second_half.max(1) as f64),
        second_half,
    );
    if let (Some(sum), Some(count)) = (
        metric(&m1, "subcap_ingest_duration_seconds_sum"),
        metric(&m1, "subcap_ingest_duration_seconds_count"),
    ) {
        println!(
            "- server-side mean time from arrival to durable acknowledgement (metric `subcap_ingest_duration_seconds`, whole phase 1): {:.2} ms",
            1000.0 * sum / count.max(1.0)
        );
    }
    if let (Some(flushes), Some(secs), Some(reqs)) = (
        metric(&m1, "subcap_store_flush_seconds_count"),
        metric(&m1, "subcap_store_flush_seconds_sum"),
        metric(&m1, "subcap_store_flushed_requests_total"),
    ) {
        println!(
            "- group commit in phase 1 (health window included): {flushes:.0} store flushes, mean {:.2} ms each, {:.1} reports made durable per flush",
            1000.0 * secs / flushes.max(1.0),
            reqs / flushes.max(1.0)
        );
    }
    if let (Some(batches), Some(written)) = (
        metric(&m1, "subcap_store_write_batches_total"),
        metric(&m1, "subcap_store_batched_reports_total"),
    ) {
        println!(
            "- store writes in phase 1: {batches:.0} write batches, {:.1} reports each on average",
            written / batches.max(1.0)
        );
    }
    println!(
        "- per-second completions of SubmitReport: {}",
        submit
            .per_second
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "- aggregator memory: VmRSS {rss_start:.1} MiB idle with connections open; VmHWM {hwm_health:.1} MiB after the health window, {hwm_submit:.1} MiB after phase 1 (VmRSS {rss_submit:.1} MiB)"
    );
    println!(
        "- after phase 1: {} reports submitted, {:.0} hosts known, store {:.1} MiB on disk ({:.1} MiB allocated)",
        submitted,
        metric(&m1, "subcap_hosts_known").unwrap_or(f64::NAN),
        mib(disk1.0 as f64),
        mib(disk1.1 as f64),
    );
    if submit.duplicates > 0 || health.duplicates > 0 {
        println!(
            "- unexpected duplicate acknowledgements: {}",
            submit.duplicates
        );
    }
    for (name, w) in [("SubmitReport", &submit), ("Health", &health)] {
        if let Some(e) = &w.first_error {
            println!("- {name}: {} errors, first: {e}", w.errors);
        }
    }
    println!();
    println!("### {} distinct hosts stored", args.hosts);
    println!();
    match &fill_result {
        Some((log, took)) => println!(
            "- top-up: {} more reports in {:.1} s ({:.0}/s, {} errors{}), so that every host reported at least once",
            log.calls.len(),
            took.as_secs_f64(),
            log.calls.len() as f64 / took.as_secs_f64().max(1e-9),
            log.errors,
            log.first_error
                .as_ref()
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default()
        ),
        None => println!(
            "- phase 1 alone already covered every host ({submitted} reports over {} hosts)",
            args.hosts
        ),
    }
    println!(
        "- stored: {stored_total:.0} reports, {hosts_known:.0} hosts known (metric), {listed} hosts listed through ListHosts ({pages} pages of up to 10,000 in {:.0} ms)",
        ms(list_all)
    );
    println!(
        "- aggregator memory with the full store: VmRSS {rss2:.1} MiB, VmHWM {hwm2:.1} MiB (after the queries: VmRSS {rss_end:.1} MiB, VmHWM {hwm_end:.1} MiB)"
    );
    println!(
        "- store on disk: {:.1} MiB apparent, {:.1} MiB allocated (metric `subcap_store_size_bytes`: {:.1} MiB), {:.0} bytes per stored report",
        mib(disk2.0 as f64),
        mib(disk2.1 as f64),
        mib(store_metric),
        disk2.0 as f64 / stored_total.max(1.0)
    );
    println!(
        "- ListHosts first page of 1,000: {:.2} ms ({} hosts, next_after {:?}); GetHost by host key (latest report + history), 100 calls: p50 {:.2} ms, max {:.2} ms; GetHost by short hostname (a scan of the host list): {:.1} ms",
        ms(list_first),
        page.hosts.len(),
        page.next_after,
        percentile(&get_by_key, 50.0),
        percentile(&get_by_key, 100.0),
        ms(get_by_short),
    );
    println!(
        "- aggregator exit after SIGTERM: {}",
        if status.success() {
            "clean".to_string()
        } else {
            format!("{status}")
        }
    );
    println!();
    println!("| target (issue 3) | measured | |");
    println!("|---|---:|---|");
    println!(
        "| ≥ {TARGET_RATE:.0} reports/s sustained | {:.0}/s | {} |",
        submit.rate(),
        mark(submit.rate() >= TARGET_RATE)
    );
    println!(
        "| p99 < {TARGET_P99_MS:.0} ms | {:.2} ms | {} |",
        submit.pct(99.0),
        mark(submit.pct(99.0) < TARGET_P99_MS)
    );
    println!(
        "| {} hosts, aggregator RSS < {TARGET_RSS_MB:.0} MB | VmHWM {:.1} MiB ({:.1} MB) | {} |",
        args.hosts,
        hwm_end,
        hwm_end * 1.048_576,
        mark(hwm_end * 1.048_576 < TARGET_RSS_MB && hosts_known >= args.hosts as f64)
    );
    if submit.errors + health.errors > 0 {
        return Err(format!("{} calls failed (see above)", submit.errors + health.errors).into());
    }
    drop(data);
    Ok(())
}
