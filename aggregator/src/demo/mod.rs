//! `subcap-aggregator demo`: the whole system on one machine in seconds. Composes the estate of
//! [`estate`] from the fixture trees ([`compose`]), scans each host and this machine with the
//! real agent code, starts a real aggregator on loopback (temporary sled store, freshly made
//! certificates, strict identity binding), submits every report over mutual TLS with that host's
//! own agent certificate, imports an ILMT REST API export written for the estate
//! ([`ilmt_export`]) through the `Ilmt.ImportFile` RPC with an operator certificate, asks
//! `Query.Reconcile`, and prints what `subcap` would ([`print`]).
//!
//! Read [`run`] first. Everything lives in one temporary folder, deleted at the end unless kept.

pub mod compose;
pub mod estate;
pub mod ilmt_export;
pub mod print;

use std::collections::HashMap;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use subcap_agent::collect::virt::CpuidSource;
use subcap_agent::scan::{self, ScanOptions};
use subcap_proto::client::{self, ClientTls};
use subcap_proto::v1 as pb;
use subcap_proto::v1::ilmt_client::IlmtClient;
use subcap_proto::v1::ingest_client::IngestClient;
use subcap_proto::v1::query_client::QueryClient;

use crate::certs::{self, Ca, Leaf};
use crate::config::Config;
use crate::domain::{Code, DataError, Policy};
use crate::ops::output::Format;
use crate::ops::views;
use crate::ops::OperatorConfig;
use crate::server::Aggregator;
use estate::{Estate, HostSpec};
use ilmt_export::AgentFacts;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Estate(#[from] DataError),
    #[error("{path}: {problem}")]
    Fixture { path: String, problem: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("host {host}: {problem}")]
    Host { host: String, problem: String },
    #[error(transparent)]
    Certs(#[from] certs::CertsError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error("{what}: {code:?}: {message}")]
    Rpc {
        what: String,
        code: tonic::Code,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

fn rpc(what: impl Into<String>) -> impl FnOnce(tonic::Status) -> DemoError {
    let what = what.into();
    move |s| DemoError::Rpc {
        what,
        code: s.code(),
        message: s.message().to_string(),
    }
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What `demo` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// `tests/fixtures` of a subcap checkout.
    pub fixtures: PathBuf,
    /// Keep serving (and keep the folder) until the stop signal.
    pub keep: bool,
    pub format: Format,
}

/// The fixtures of the source tree this binary was built from.
pub fn default_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The demo's folder: removed when dropped unless kept.
struct Folder {
    path: PathBuf,
    keep: bool,
}

impl Folder {
    fn create() -> Result<Folder, DemoError> {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 6];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| DemoError::Other("no randomness for the folder's name".into()))?;
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("subcap-demo-{name}"));
        std::fs::create_dir(&path).map_err(io_at(&path))?;
        Ok(Folder { path, keep: false })
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                tracing::warn!(folder = %self.path.display(), error = %e, "could not remove the demo folder");
            }
        }
    }
}

/// One agent: the reports it sends (oldest first) and its certificate.
struct Agent {
    host_key: String,
    reports: Vec<pb::HostReport>,
    cert: PathBuf,
    key: PathBuf,
}

/// The reports and facts of every host, and this machine's agent (or why there is none).
struct Scanned {
    agents: Vec<Agent>,
    facts: HashMap<String, AgentFacts>,
    this_machine: Result<Agent, String>,
}

fn check_fixtures(dir: &Path) -> Result<(), DemoError> {
    for group in ["hosts", "ibm-hosts"] {
        if !dir.join(group).is_dir() {
            return Err(DemoError::Fixture {
                path: dir.display().to_string(),
                problem: format!(
                    "no {group}/ folder here: --fixtures must name the tests/fixtures folder of \
                     a subcap source checkout"
                ),
            });
        }
    }
    Ok(())
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn report_id() -> Result<String, DemoError> {
    scan::new_report_id().map_err(|e| DemoError::Other(format!("report id: {e}")))
}

/// The CPUID a fixture stands for: its `cpuid-vendor` file (`none`: no hypervisor bit), or, for
/// a fixture without one (not x86), none at all.
fn fixture_cpuid(fixture: &Path) -> CpuidSource {
    match std::fs::read_to_string(fixture.join("cpuid-vendor")) {
        Ok(s) => {
            let sig = s.trim_end_matches(['\n', '\r']);
            CpuidSource::Override(if sig == "none" {
                String::new()
            } else {
                sig.to_string()
            })
        }
        Err(_) => CpuidSource::Override(String::new()),
    }
}

/// Composes and scans one estate host: its reports (an earlier one when IBM software was first
/// seen before today) and its certificate.
fn scan_host(
    fixtures: &Path,
    folder: &Path,
    pki: &Path,
    host: &HostSpec,
    now: SystemTime,
) -> Result<Agent, DemoError> {
    let root = folder.join("hosts").join(&host.name);
    compose::compose(fixtures, host, &root, unix(now))?;
    let opts = ScanOptions {
        root: root.clone(),
        cpuid: fixture_cpuid(&fixtures.join("hosts").join(&host.platform)),
        ..ScanOptions::default()
    };
    let mut reports = Vec::new();
    if let Some(days) = host.ibm_first_seen_days_ago {
        let then = now - Duration::from_secs(u64::from(days) * 86_400);
        reports.push(scan::scan(&opts, then, report_id()?));
    }
    reports.push(scan::scan(&opts, now, report_id()?));
    let (cert, key) = certs::issue(
        pki,
        Leaf::Agent,
        &[host.name.clone(), host.short.clone()],
        &format!("agent-{}", host.name),
    )?;
    Ok(Agent {
        host_key: host.name.clone(),
        reports,
        cert,
        key,
    })
}

/// This machine, scanned live through `/`, with a certificate for the names it reports.
fn scan_this_machine(pki: &Path, now: SystemTime) -> Result<Agent, String> {
    let report = scan::scan(
        &ScanOptions::default(),
        now,
        report_id().map_err(|e| e.to_string())?,
    );
    let id = report.identity.clone().unwrap_or_default();
    let mut names: Vec<String> = [&id.fqdn, &id.hostname]
        .into_iter()
        .filter(|n| !n.is_empty())
        .cloned()
        .collect();
    names.dedup();
    if names.is_empty() {
        return Err("it reports neither a hostname nor an FQDN".into());
    }
    let (cert, key) = certs::issue(pki, Leaf::Agent, &names, "agent-this-machine")
        .map_err(|e| format!("no agent certificate for {names:?}: {e}"))?;
    Ok(Agent {
        host_key: crate::ingest::validate::host_key(&id),
        reports: vec![report],
        cert,
        key,
    })
}

/// Composes and scans every host (blocking: file copies and scans).
fn scan_all(
    estate: &Estate,
    fixtures: &Path,
    folder: &Path,
    pki: &Path,
    now: SystemTime,
) -> Result<Scanned, DemoError> {
    let policy = Policy::builtin()?;
    let mut agents = Vec::with_capacity(estate.hosts.len());
    let mut facts = HashMap::new();
    for host in &estate.hosts {
        let agent = scan_host(fixtures, folder, pki, host, now)?;
        if let Some(latest) = agent.reports.last() {
            let f = AgentFacts::of(latest, &policy).map_err(|e| DemoError::Host {
                host: host.name.clone(),
                problem: e.to_string(),
            })?;
            facts.insert(host.name.clone(), f);
        }
        agents.push(agent);
    }
    Ok(Scanned {
        agents,
        facts,
        this_machine: scan_this_machine(pki, now),
    })
}

fn write_file(path: &Path, text: &[u8]) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(io_at(path))
}

/// Submits an agent's reports in order over its own mTLS connection.
async fn submit(agent: &Agent, url: &str, server_ca: &Path) -> Result<(), DemoError> {
    let channel = client::channel(&ClientTls {
        url: url.to_string(),
        server_name: "localhost".into(),
        ca: server_ca.to_path_buf(),
        cert: agent.cert.clone(),
        key: agent.key.clone(),
        timeout: Duration::from_secs(30),
    })?;
    let mut c = IngestClient::new(channel);
    for r in &agent.reports {
        c.submit_report(pb::SubmitReportRequest {
            report: Some(r.clone()),
        })
        .await
        .map_err(rpc(format!("submit the report of {}", agent.host_key)))?;
    }
    Ok(())
}

/// Streams a file to `Ilmt.ImportFile` in 1 MiB chunks, as `subcap ilmt import` does.
async fn import(
    c: &mut IlmtClient<tonic::transport::Channel>,
    name: &str,
    data: &[u8],
) -> Result<pb::ImportResult, DemoError> {
    let chunks: Vec<pb::ImportChunk> = data
        .chunks(1024 * 1024)
        .enumerate()
        .map(|(i, d)| pb::ImportChunk {
            file_name: if i == 0 {
                name.to_string()
            } else {
                String::new()
            },
            data: d.to_vec(),
        })
        .collect();
    Ok(c.import_file(tokio_stream::iter(chunks))
        .await
        .map_err(rpc(format!("import {name}")))?
        .into_inner())
}

/// The `subcap` executable beside this one, or how to run it from the source tree.
fn subcap_command() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("subcap")))
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "cargo run -p subcap-aggregator --bin subcap --".into())
}

/// Runs the demo and prints its outcome; with `keep`, serves until `stop` completes (`stop`
/// completing earlier, while reports are sent and questions asked, interrupts the demo).
pub async fn run(
    opts: Options,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    let estate = Estate::builtin()?;
    check_fixtures(&opts.fixtures)?;
    let mut folder = Folder::create()?;
    folder.keep = opts.keep;
    let dir = folder.path.clone();
    let now = SystemTime::now();

    // A development PKI: the aggregator's certificate for loopback, one agent certificate per
    // host (issued while scanning, for the names each host reports), an operator certificate.
    let pki = dir.join("pki");
    certs::init(&pki)?;
    certs::issue(
        &pki,
        Leaf::Server,
        &["localhost".into(), "127.0.0.1".into()],
        "server",
    )?;
    certs::issue(&pki, Leaf::Operator, &["demo".into()], "operator-demo")?;

    let started = std::time::Instant::now();
    let scanned = {
        let (estate, fixtures, dir, pki) = (
            estate.clone(),
            opts.fixtures.clone(),
            dir.clone(),
            pki.clone(),
        );
        tokio::task::spawn_blocking(move || scan_all(&estate, &fixtures, &dir, &pki, now))
            .await
            .map_err(|e| DemoError::Other(format!("scanning: {e}")))??
    };
    tracing::info!(
        hosts = scanned.agents.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "hosts composed and scanned"
    );

    // The aggregator, configured by a real aggregator.toml (paths relative to it).
    let config_path = dir.join("aggregator.toml");
    write_file(
        &config_path,
        b"# Written by `subcap-aggregator demo`.\n\
          listen = \"127.0.0.1:0\"\n\
          data_dir = \"store\"\n\n\
          [tls]\n\
          cert = \"pki/server.pem\"\n\
          key = \"pki/server.key\"\n\
          agent_ca = \"pki/agents-ca.pem\"\n\
          operator_ca = \"pki/operators-ca.pem\"\n\
          identity_binding = \"strict\"\n",
    )?;
    let config = Config::load(&config_path)?;
    let aggregator = Aggregator::bind(&config).await?;
    let addr = aggregator.local_addr().map_err(io_at(&config_path))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(aggregator.run(async {
        let _ = stop_rx.await;
    }));
    let url = format!("https://127.0.0.1:{}", addr.port());
    // Ctrl-C while the demo talks to the aggregator stops it as gracefully as at the end.
    tokio::pin!(stop);
    let result = tokio::select! {
        r = demo_against(&opts, &estate, &scanned, &dir, &url, now) => r,
        () = &mut stop => Err(DemoError::Other("interrupted".into())),
    };
    if result.is_ok() && opts.keep {
        stop.await;
    }
    let _ = stop_tx.send(());
    let served = server
        .await
        .map_err(|e| DemoError::Other(format!("aggregator task: {e}")))?;
    result?;
    served?;
    if opts.keep {
        eprintln!(
            "aggregator stopped; the demo folder stays: {} (rm -r it when done)",
            dir.display()
        );
    }
    Ok(())
}

/// Everything after the aggregator is up: submit, import, ask, print.
async fn demo_against(
    opts: &Options,
    estate: &Estate,
    scanned: &Scanned,
    dir: &Path,
    url: &str,
    now: SystemTime,
) -> Result<(), DemoError> {
    let started = std::time::Instant::now();
    let server_ca = Ca::Server.cert_path(&dir.join("pki"));
    for agent in &scanned.agents {
        submit(agent, url, &server_ca).await?;
    }
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "reports submitted"
    );
    let this_machine = match &scanned.this_machine {
        Ok(agent) => submit(agent, url, &server_ca)
            .await
            .map(|()| agent.host_key.clone())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };

    // The operator's side, through a real operator.toml.
    let operator_path = dir.join("operator.toml");
    write_file(
        &operator_path,
        format!(
            "# Written by `subcap-aggregator demo`: subcap --config {}\n\
             aggregator = \"{url}\"\n\
             server_name = \"localhost\"\n\
             ca = \"pki/server-ca.pem\"\n\
             cert = \"pki/operator-demo.pem\"\n\
             key = \"pki/operator-demo.key\"\n",
            operator_path.display()
        )
        .as_bytes(),
    )?;
    let operator = OperatorConfig::load(&operator_path)?;
    let channel = client::channel(&operator.client_tls())?;

    let export = ilmt_export::computers_json(estate, &scanned.facts, unix(now))
        .map_err(|e| DemoError::Other(format!("computers.json: {e}")))?;
    write_file(&dir.join("computers.json"), &export)?;
    let imported = import(
        &mut IlmtClient::new(channel.clone()),
        "computers.json",
        &export,
    )
    .await?;

    let q = QueryClient::new(channel);
    let ask = |request: pb::ReconcileRequest| {
        let mut q = q.clone();
        async move {
            views::reconcile(&mut q, request)
                .await
                .map_err(rpc("Query.Reconcile"))
        }
    };
    let all = ask(pb::ReconcileRequest {
        with_hosts: true,
        with_findings: true,
        ..Default::default()
    })
    .await?;
    // As `subcap hosts --uncovered` and `subcap hosts --ineligible` ask.
    let uncovered = ask(pb::ReconcileRequest {
        coverage: vec!["uncovered".into()],
        with_hosts: true,
        with_findings: true,
        ..Default::default()
    })
    .await?;
    let ineligible = ask(pb::ReconcileRequest {
        codes: vec![Code::IneligibleVirtualization.as_str().into()],
        with_hosts: true,
        with_findings: true,
        ..Default::default()
    })
    .await?;

    let subcap = format!("{} --config {}", subcap_command(), operator_path.display());
    let mut estate_rows = print::estate_table(estate);
    if let Ok(key) = &this_machine {
        let ibm = scanned
            .this_machine
            .as_ref()
            .map(|a| {
                a.reports
                    .iter()
                    .map(|r| r.ibm_installs.len())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        estate_rows.push(vec![
            key.clone(),
            "this machine (/)".into(),
            format!("{ibm} IBM installs found"),
            "unknown to ILMT".into(),
            "The machine running the demo, scanned live".into(),
        ]);
    }
    let outcome = print::Outcome {
        folder: dir.display().to_string(),
        aggregator: url.trim_start_matches("https://").to_string(),
        estate: estate_rows,
        import: imported.import,
        all,
        uncovered,
        ineligible,
        this_machine: this_machine.as_ref().ok().cloned(),
        this_machine_problem: this_machine.err(),
        commands: [
            "hosts --uncovered",
            "hosts --ineligible",
            "findings --code GHOST,DUPLICATE,STALE",
            "host web03.demo.example",
            "ilmt imports",
        ]
        .iter()
        .map(|c| format!("{subcap} {c}"))
        .collect(),
        keep: opts.keep,
    };
    let printed = print::render(&outcome, opts.format);
    let mut out = std::io::stdout().lock();
    out.write_all(printed.out.as_bytes())
        .and_then(|()| out.flush())
        .map_err(io_at(Path::new("standard output")))?;
    if !printed.notes.is_empty() {
        eprint!("{}", printed.notes);
    }
    Ok(())
}
