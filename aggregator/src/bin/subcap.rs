//! `subcap`: the operators' command line. Asks the aggregator over gRPC with an operator
//! certificate; prints tables, JSON or CSV.
//!
//! Exit codes: 0 done; 1 findings exist (`--fail-on`, `snapshots check`) or the report changed
//! (`report verify`); 2 bad arguments or config; 3 the aggregator could not be reached or refused.
//! `snapshots check` and `report verify` run offline, without operator.toml.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use subcap_aggregator::domain::Code;
use subcap_aggregator::ops::output::{Format, Table};
use subcap_aggregator::ops::views::{self, Answer};
use subcap_aggregator::ops::OperatorConfig;
use subcap_aggregator::report;
use subcap_proto::time::rfc3339;
use subcap_proto::v1 as pb;
use subcap_proto::v1::ilmt_client::IlmtClient;
use subcap_proto::v1::query_client::QueryClient;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(
    name = "subcap",
    version,
    about = "subcap operators' command line: what the aggregator knows"
)]
struct Cli {
    /// operator.toml: the aggregator's URL and your operator certificate.
    #[arg(
        long,
        value_name = "FILE",
        env = "SUBCAP_CONFIG",
        default_value = "/etc/subcap/operator.toml"
    )]
    config: PathBuf,
    /// Output: an aligned table, JSON (an array of objects), or CSV.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    format: Format,
    /// Exit 1 when findings of these codes exist: among those the command shows (`findings`,
    /// `hosts` with a filter, `host`), else in the whole reconciliation. For monitoring jobs.
    #[arg(long, value_name = "CODE,...", value_delimiter = ',', global = true)]
    fail_on: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every host that has reported, with its latest report's summary. With a filter: the hosts'
    /// reconciliation (coverage, finding codes, PVU exposure); filters combine, each narrows.
    Hosts {
        /// Only hosts with IBM software that no ILMT computer covers.
        #[arg(long)]
        uncovered: bool,
        /// Only hosts on virtualization not eligible for sub-capacity (or uncertain).
        #[arg(long)]
        ineligible: bool,
        /// Only hosts in these coverage states: covered, stale, uncovered, not_required,
        /// superseded.
        #[arg(long, value_name = "STATE,...", value_delimiter = ',')]
        coverage: Vec<String>,
    },
    /// One host: its latest report (every field and its evidence), its reconciliation (ILMT
    /// matches with the key that matched, findings with evidence, exposure) and report history.
    Host {
        /// Host key, hostname or FQDN (case-insensitive).
        name: String,
        /// How many history entries, newest first.
        #[arg(long, default_value_t = 20)]
        history: u32,
    },
    /// Findings of the reconciliation of agent reports with ILMT's newest host list.
    Findings {
        /// Only these codes (repeat or separate with commas).
        #[arg(long = "code", value_name = "CODE", value_delimiter = ',')]
        codes: Vec<String>,
        /// Only findings first seen on or after this day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only this host's findings (host key, hostname or FQDN).
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
    },
    /// Coverage history: per host, the periods (days) in which its coverage state held, derived
    /// day by day from agent reports and dated ILMT imports. "Was host X covered on D":
    /// `--host X --on D`; "which hosts were uncovered in Q": `--quarter Q --uncovered`.
    History {
        /// Only this host (host key, hostname or FQDN).
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        /// One day: each host's state that day.
        #[arg(long, value_name = "DATE", conflicts_with_all = ["quarter", "from", "to"])]
        on: Option<String>,
        /// A calendar quarter, e.g. 2026-Q3.
        #[arg(long, value_name = "YYYY-QN", conflicts_with_all = ["from", "to"])]
        quarter: Option<String>,
        /// First day of the window (default: the first day recorded).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day of the window (default: today).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Only periods in which a sub-capacity condition failed.
        #[arg(long)]
        failing: bool,
        /// Only periods in which the host was uncovered.
        #[arg(long)]
        uncovered: bool,
    },
    /// ILMT's own records: import files, pull from ILMT's REST API, list imports.
    #[command(subcommand)]
    Ilmt(IlmtCommand),
    /// Reports for people: the provider-handoff folder (HTML, JSON, CSV, manifest) and its check.
    #[command(subcommand)]
    Report(report::cli::ReportCommand),
    /// ILMT audit snapshots kept in a folder (offline: no operator.toml, no aggregator).
    #[command(subcommand)]
    Snapshots(SnapshotsCommand),
}

#[derive(Subcommand)]
enum SnapshotsCommand {
    /// For each quarter of the window, which snapshot covers it, whether its checksums hold and
    /// its data-condition warnings; SNAPSHOT_GAP for a quarter with an uncovered day. Exit codes:
    /// 0 every quarter covered and every checksum good, 1 findings, 2 bad arguments or folder.
    Check {
        /// The folder of snapshot zips (and extracted snapshot folders).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// How many years of quarters to check (4 quarters each), ending with the last quarter
        /// that ended before --as-of.
        #[arg(long, default_value_t = subcap_aggregator::snapshots::DEFAULT_YEARS,
              value_parser = clap::value_parser!(u32).range(1..=10))]
        years: u32,
        /// The day to check as of (YYYY-MM-DD, UTC); default today.
        #[arg(long, value_name = "DATE", value_parser = subcap_aggregator::snapshots::parse_date_arg)]
        as_of: Option<subcap_aggregator::ilmt::CivilDate>,
    },
}

#[derive(Subcommand)]
enum IlmtCommand {
    /// Import ILMT files: REST API JSON (v2 computers, v1 computer_systems), CSV report exports,
    /// audit snapshot zips. Each is stored as a dated import; a malformed one is refused whole.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Have the aggregator pull ILMT's host list from its REST API now (its [ilmt] settings).
    Pull,
    /// Every stored import, oldest first.
    Imports,
}

/// Why a command failed, and its exit code.
enum Failure {
    Usage(String),
    Aggregator(String),
}

/// What a command printed, and the findings `--fail-on` is judged by (when it fetched any).
struct Done {
    out: String,
    answer: Option<Answer>,
}

impl From<String> for Done {
    fn from(out: String) -> Done {
        Done { out, answer: None }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Snapshots(SnapshotsCommand::Check { dir, years, as_of }) = &cli.command {
        return snapshots_check(dir, *years, *as_of, cli.format);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("subcap: start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    if let Command::Report(cmd) = cli.command {
        return report_command(&rt, cmd, &cli.config);
    }
    match rt.block_on(run(cli)) {
        Ok((out, failing)) => {
            emit(&out);
            if failing.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("subcap: --fail-on: {}", failing.join(", "));
                ExitCode::from(1)
            }
        }
        Err(Failure::Usage(m)) => {
            eprintln!("subcap: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Aggregator(m)) => {
            eprintln!("subcap: {m}");
            ExitCode::from(3)
        }
    }
}

/// Writes `text` to standard output; a reader that stops early (`| head`) is not an error.
fn emit(text: &str) {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("subcap: standard output: {e}");
        }
        _ => {}
    }
}

/// `subcap report ...`: its own exit codes (`verify`: 1 when the folder changed); the config is
/// read only by the commands that ask the aggregator.
fn report_command(
    rt: &tokio::runtime::Runtime,
    cmd: report::cli::ReportCommand,
    config: &std::path::Path,
) -> ExitCode {
    match rt.block_on(report::cli::run(cmd, config)) {
        Ok(o) => {
            emit(&o.out);
            ExitCode::from(if o.ok { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("subcap: {e}");
            ExitCode::from(match e {
                report::cli::CommandError::Usage(_) => 2,
                report::cli::CommandError::Aggregator(_) => 3,
            })
        }
    }
}

/// Runs the command; returns its output and the `--fail-on` findings found ("CODE: n").
async fn run(cli: Cli) -> Result<(String, Vec<String>), Failure> {
    let fail_on = cli
        .fail_on
        .iter()
        .map(|c| {
            c.parse::<Code>()
                .map_err(|e| Failure::Usage(format!("--fail-on: {e}")))
        })
        .collect::<Result<Vec<Code>, Failure>>()?;
    let config = OperatorConfig::load(&cli.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let channel = subcap_proto::client::channel(&config.client_tls())
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let mut q = QueryClient::new(channel.clone());
    let mut ilmt = IlmtClient::new(channel);
    let format = cli.format;
    let done: Done = match cli.command {
        Command::Hosts {
            uncovered,
            ineligible,
            mut coverage,
        } => {
            let mut codes = Vec::new();
            if uncovered {
                coverage.push("uncovered".into());
            }
            if ineligible {
                codes.push(Code::IneligibleVirtualization.as_str().to_string());
            }
            if coverage.is_empty() && codes.is_empty() {
                hosts(&mut q, format).await?.into()
            } else {
                let request = pb::ReconcileRequest {
                    codes,
                    coverage,
                    with_hosts: true,
                    with_findings: true,
                    ..Default::default()
                };
                let a = ask(&mut q, request).await?;
                let out = answer_output(views::hosts_table(&a.hosts), &a, format);
                Done {
                    out,
                    answer: Some(a),
                }
            }
        }
        Command::Host { name, history } => host(&mut q, &name, history, format).await?,
        Command::Findings { codes, since, host } => {
            let request = pb::ReconcileRequest {
                codes,
                since: since.unwrap_or_default(),
                host: host.unwrap_or_default(),
                with_findings: true,
                ..Default::default()
            };
            let a = ask(&mut q, request).await?;
            let out = answer_output(views::findings_table(&a.findings), &a, format);
            Done {
                out,
                answer: Some(a),
            }
        }
        Command::History {
            host,
            on,
            quarter,
            from,
            to,
            failing,
            uncovered,
        } => {
            let (from, to) = match (on, quarter) {
                (Some(d), _) => (Some(d.clone()), Some(d)),
                (None, Some(q)) => {
                    let q: subcap_aggregator::domain::quarter::Quarter = q
                        .parse()
                        .map_err(|e| Failure::Usage(format!("--quarter: {e}")))?;
                    let day = subcap_aggregator::domain::quarter::day_text;
                    (Some(day(q.first_day())), Some(day(q.last_day())))
                }
                (None, None) => (from, to),
            };
            let request = pb::HistoryRequest {
                host: host.unwrap_or_default(),
                from: from.unwrap_or_default(),
                to: to.unwrap_or_default(),
                failing_only: failing || uncovered,
            };
            history(&mut q, request, failing, uncovered, format)
                .await?
                .into()
        }
        Command::Ilmt(IlmtCommand::Import { files }) => {
            import(&mut ilmt, &files, format).await?.into()
        }
        Command::Ilmt(IlmtCommand::Pull) => pull(&mut ilmt, format).await?.into(),
        Command::Ilmt(IlmtCommand::Imports) => imports(&mut ilmt, format).await?.into(),
        // Handled in `main`, before a config is needed.
        Command::Report(_) => String::new().into(),
        Command::Snapshots(_) => {
            return Err(Failure::Usage(
                "snapshots commands run offline, without the aggregator".into(),
            ))
        }
    };
    if fail_on.is_empty() {
        return Ok((done.out, Vec::new()));
    }
    let failing = match &done.answer {
        Some(a) => failing_shown(a, &fail_on),
        None => {
            let a = ask(&mut q, pb::ReconcileRequest::default()).await?;
            failing_totals(&a, &fail_on)
        }
    };
    Ok((done.out, failing))
}

async fn ask(
    q: &mut QueryClient<Channel>,
    request: pb::ReconcileRequest,
) -> Result<Answer, Failure> {
    views::reconcile(q, request)
        .await
        .map_err(|s| match s.code() {
            tonic::Code::InvalidArgument => Failure::Usage(s.message().to_string()),
            _ => refused("reconcile", s),
        })
}

/// A table of an answer; in table format followed by what it was computed from.
fn answer_output(t: Table, a: &Answer, format: Format) -> String {
    let mut out = t.render(format);
    if format == Format::Table {
        out.push('\n');
        out.push_str(&views::basis_lines(a));
    }
    out
}

/// `--fail-on` codes among the findings an answer shows ("CODE: n").
fn failing_shown(a: &Answer, fail_on: &[Code]) -> Vec<String> {
    fail_on
        .iter()
        .filter_map(|code| {
            let n = a
                .findings
                .iter()
                .filter(|f| f.code == code.as_str())
                .filter(|f| a.hosts.is_empty() || a.hosts.iter().any(|h| h.host_key == f.host_key))
                .count();
            (n > 0).then(|| format!("{code}: {n}"))
        })
        .collect()
}

/// `--fail-on` codes among a reconciliation's totals ("CODE: n").
fn failing_totals(a: &Answer, fail_on: &[Code]) -> Vec<String> {
    let Some(t) = &a.totals else {
        return Vec::new();
    };
    fail_on
        .iter()
        .filter_map(|code| {
            let n = t.findings_by_code.get(code.as_str()).copied().unwrap_or(0);
            (n > 0).then(|| format!("{code}: {n}"))
        })
        .collect()
}

const IMPORT_COLUMNS: &[&str] = &[
    "id",
    "imported_at",
    "source",
    "file_name",
    "computers",
    "warnings",
    "period_start",
    "period_end",
    "sha256",
];

fn import_row(i: &pb::ImportInfo) -> Vec<String> {
    vec![
        i.id.to_string(),
        time(&i.imported_at),
        i.source.clone(),
        i.file_name.clone(),
        i.computers.to_string(),
        i.warnings.to_string(),
        i.period_start.clone(),
        i.period_end.clone(),
        i.sha256.clone(),
    ]
}

/// Chunks of an upload: the gRPC message limit applies per chunk, not per file.
const CHUNK: usize = 1024 * 1024;

async fn import(
    c: &mut IlmtClient<Channel>,
    files: &[PathBuf],
    format: Format,
) -> Result<String, Failure> {
    let mut t = Table::new(IMPORT_COLUMNS);
    let mut notes = String::new();
    for path in files {
        let data =
            std::fs::read(path).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut chunks: Vec<pb::ImportChunk> = data
            .chunks(CHUNK)
            .map(|d| pb::ImportChunk {
                file_name: String::new(),
                data: d.to_vec(),
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(pb::ImportChunk::default());
        }
        chunks[0].file_name = name.clone();
        let r = c
            .import_file(tokio_stream::iter(chunks))
            .await
            .map_err(|s| refused(&format!("import {}", path.display()), s))?
            .into_inner();
        if let Some(i) = &r.import {
            t.push(import_row(i));
        }
        if r.duplicate {
            notes.push_str(&format!(
                "{name}: already imported (same SHA-256); nothing stored again\n"
            ));
        }
        for w in &r.warnings {
            notes.push_str(&format!("{name}: warning: {w}\n"));
        }
    }
    eprint!("{notes}");
    Ok(t.render(format))
}

async fn history(
    q: &mut QueryClient<Channel>,
    request: pb::HistoryRequest,
    failing: bool,
    uncovered: bool,
    format: Format,
) -> Result<String, Failure> {
    let mut stream = q
        .history(request)
        .await
        .map_err(|s| match s.code() {
            tonic::Code::InvalidArgument => Failure::Usage(s.message().to_string()),
            _ => refused("history", s),
        })?
        .into_inner();
    let mut basis = None;
    let mut t = Table::new(&[
        "host_key",
        "from",
        "to",
        "days",
        "coverage",
        "codes",
        "fails",
        "exposed_pvu",
        "ilmt_import",
        "agent_silent",
    ]);
    while let Some(chunk) = stream.message().await.map_err(|s| refused("history", s))? {
        if chunk.basis.is_some() {
            basis = chunk.basis;
        }
        for h in chunk.hosts {
            for p in h.periods {
                if (failing && !p.fails) || (uncovered && p.coverage != "uncovered") {
                    continue;
                }
                let days = match (
                    subcap_aggregator::ilmt::time::parse_date(&p.from),
                    subcap_aggregator::ilmt::time::parse_date(&p.to),
                ) {
                    (Some(a), Some(b)) => {
                        (b.days_since_epoch() - a.days_since_epoch() + 1).to_string()
                    }
                    _ => String::new(),
                };
                t.push(vec![
                    h.host_key.clone(),
                    p.from,
                    p.to,
                    days,
                    p.coverage,
                    p.codes.join(","),
                    if p.fails { "yes" } else { "no" }.into(),
                    p.exposed_pvu
                        .map(subcap_aggregator::domain::model::num)
                        .unwrap_or_else(|| "unknown".into()),
                    p.ilmt_import.to_string(),
                    if p.agent_silent { "yes" } else { "no" }.into(),
                ]);
            }
        }
    }
    let mut out = t.render(format);
    if let (Format::Table, Some(b)) = (format, basis) {
        out.push_str(&format!(
            "\nwindow {} .. {}; history recorded from {} through {}\n",
            b.from,
            b.to,
            if b.first_day.is_empty() {
                "(nothing yet)"
            } else {
                &b.first_day
            },
            b.through
        ));
    }
    Ok(out)
}

async fn pull(c: &mut IlmtClient<Channel>, format: Format) -> Result<String, Failure> {
    let r = c
        .pull(pb::PullRequest {})
        .await
        .map_err(|s| refused("ILMT pull", s))?
        .into_inner();
    let mut t = Table::new(IMPORT_COLUMNS);
    if let Some(i) = &r.import {
        t.push(import_row(i));
    }
    if r.duplicate {
        eprintln!("ILMT answered exactly as at the import listed: nothing stored again");
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    Ok(t.render(format))
}

async fn imports(c: &mut IlmtClient<Channel>, format: Format) -> Result<String, Failure> {
    let r = c
        .list_imports(pb::ListImportsRequest {})
        .await
        .map_err(|s| refused("list imports", s))?
        .into_inner();
    let mut t = Table::new(IMPORT_COLUMNS);
    for i in &r.imports {
        t.push(import_row(i));
    }
    Ok(t.render(format))
}

fn refused(what: &str, s: tonic::Status) -> Failure {
    Failure::Aggregator(format!("{what}: {:?}: {}", s.code(), s.message()))
}

fn time(t: &Option<pbjson_types::Timestamp>) -> String {
    t.as_ref().map(|t| rfc3339(t.seconds)).unwrap_or_default()
}

async fn hosts(q: &mut QueryClient<Channel>, format: Format) -> Result<String, Failure> {
    let mut t = Table::new(&[
        "host_key",
        "hostname",
        "fqdn",
        "kind",
        "technology",
        "cloud",
        "ibm_installs",
        "last_collected_at",
        "last_received_at",
    ]);
    let mut after = String::new();
    loop {
        let page = q
            .list_hosts(pb::ListHostsRequest {
                limit: 10_000,
                after: after.clone(),
            })
            .await
            .map_err(|s| refused("list hosts", s))?
            .into_inner();
        for h in page.hosts {
            t.push(vec![
                h.host_key,
                h.hostname,
                h.fqdn,
                h.kind,
                h.technology,
                h.cloud,
                h.ibm_installs.to_string(),
                time(&h.last_collected_at),
                time(&h.last_received_at),
            ]);
        }
        if page.next_after.is_empty() {
            break;
        }
        after = page.next_after;
    }
    Ok(t.render(format))
}

async fn host(
    q: &mut QueryClient<Channel>,
    name: &str,
    history: u32,
    format: Format,
) -> Result<Done, Failure> {
    let r = q
        .get_host(pb::GetHostRequest {
            host: name.to_string(),
            history_limit: history,
        })
        .await
        .map_err(|s| refused(&format!("host {name:?}"), s))?
        .into_inner();
    let a = ask(
        q,
        pb::ReconcileRequest {
            host: name.to_string(),
            with_hosts: true,
            with_findings: true,
            ..Default::default()
        },
    )
    .await?;
    let history_table = |r: &pb::GetHostResponse| {
        let mut t = Table::new(&["report_id", "collected_at", "received_at"]);
        for h in &r.history {
            t.push(vec![
                h.report_id.clone(),
                time(&h.collected_at),
                time(&h.received_at),
            ]);
        }
        t
    };
    let out = match format {
        // The whole answer in the proto's canonical JSON: every field and every evidence entry,
        // and the host's reconciliation.
        Format::Json => {
            let mut v = serde_json::to_value(&r).map_err(|e| Failure::Aggregator(e.to_string()))?;
            if let serde_json::Value::Object(m) = &mut v {
                let rec = serde_json::json!({
                    "basis": a.basis,
                    "host": a.hosts.first(),
                    "findings": a.findings,
                });
                m.insert("reconciliation".into(), rec);
            }
            serde_json::to_string_pretty(&v)
                .map(|s| s + "\n")
                .map_err(|e| Failure::Aggregator(e.to_string()))?
        }
        Format::Csv => history_table(&r).render(Format::Csv),
        Format::Table => {
            let mut out = String::new();
            if let Some(latest) = &r.latest {
                // The same text `subcap-agent scan` prints.
                out.push_str(&subcap_agent::render::text(latest));
            }
            out.push_str("\n[reconciliation]\n");
            out.push_str(&host_reconciliation(&a));
            out.push_str("\n[history]\n");
            out.push_str(&history_table(&r).render(Format::Table));
            out
        }
    };
    Ok(Done {
        out,
        answer: Some(a),
    })
}

/// The reconciliation of one host as indented text.
fn host_reconciliation(a: &Answer) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let Some(h) = a.hosts.first() else {
        let _ = writeln!(o, "not reconciled (see `skipped` below)");
        o.push_str(&views::basis_lines(a));
        return o;
    };
    let _ = writeln!(o, "coverage: {}", h.coverage);
    for m in &h.matches {
        let r = m.ilmt.as_ref();
        let _ = writeln!(
            o,
            "matched by {}: ILMT computer {} {} ({})",
            m.key,
            r.and_then(|r| r.id)
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            r.map(|r| r.name.as_str()).unwrap_or_default(),
            m.evidence
        );
    }
    if let Some(e) = &h.exposure {
        let _ = writeln!(o, "exposure: {}", e.summary);
        let _ = writeln!(o, "  rate: {}", e.pvu_per_core_how);
        if let Some(c) = &e.sub_capacity {
            let _ = writeln!(o, "  sub-capacity: {}", c.how);
        }
        match (&e.full_capacity, &e.full_capacity_lower_bound) {
            (Some(c), _) => {
                let _ = writeln!(o, "  full capacity: {}", c.how);
            }
            (None, lb) => {
                let _ = writeln!(o, "  full capacity unknown: {}", e.full_capacity_unknown);
                if let Some(lb) = lb {
                    let _ = writeln!(o, "  at least: {}", lb.how);
                }
            }
        }
    }
    for f in &a.findings {
        let _ = writeln!(o, "{}: {}", f.code, f.summary);
        for e in &f.evidence {
            let _ = writeln!(o, "  - {e}");
        }
    }
    for n in &h.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o.push_str(&views::basis_lines(a));
    o
}

/// `subcap snapshots check`: offline, before operator.toml is read. Exit 0 clean, 1 findings, 2
/// the folder cannot be read.
fn snapshots_check(
    dir: &std::path::Path,
    years: u32,
    as_of: Option<subcap_aggregator::ilmt::CivilDate>,
    format: Format,
) -> ExitCode {
    let as_of = as_of.unwrap_or_else(subcap_aggregator::snapshots::today);
    match subcap_aggregator::snapshots::check(dir, years, as_of, format) {
        Ok(outcome) => {
            emit(&outcome.output);
            for note in &outcome.notes {
                eprintln!("{note}");
            }
            if outcome.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("subcap: {e}");
            ExitCode::from(2)
        }
    }
}
