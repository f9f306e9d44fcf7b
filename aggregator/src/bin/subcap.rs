//! `subcap`: the operators' command line. Asks the aggregator over gRPC with an operator
//! certificate; prints tables, JSON or CSV.
//!
//! Exit codes: 0 done; 1 findings (`snapshots check`); 2 bad arguments or config; 3 the aggregator
//! could not be reached or refused. `snapshots check` runs offline, without operator.toml.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use subcap_aggregator::ops::output::{Format, Table};
use subcap_aggregator::ops::OperatorConfig;
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every host that has reported, with its latest report's summary.
    Hosts,
    /// One host: its latest report (every field and its evidence) and its report history.
    Host {
        /// Host key, hostname or FQDN (case-insensitive).
        name: String,
        /// How many history entries, newest first.
        #[arg(long, default_value_t = 20)]
        history: u32,
    },
    /// ILMT's own records: import files, list imports.
    #[command(subcommand)]
    Ilmt(IlmtCommand),
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
    /// Every stored import, oldest first.
    Imports,
}

/// Why a command failed, and its exit code.
enum Failure {
    Usage(String),
    Aggregator(String),
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
    match rt.block_on(run(cli)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
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

async fn run(cli: Cli) -> Result<String, Failure> {
    let config = OperatorConfig::load(&cli.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let channel = subcap_proto::client::channel(&config.client_tls())
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let mut q = QueryClient::new(channel.clone());
    let mut ilmt = IlmtClient::new(channel);
    match cli.command {
        Command::Hosts => hosts(&mut q, cli.format).await,
        Command::Host { name, history } => host(&mut q, &name, history, cli.format).await,
        Command::Ilmt(IlmtCommand::Import { files }) => import(&mut ilmt, &files, cli.format).await,
        Command::Ilmt(IlmtCommand::Imports) => imports(&mut ilmt, cli.format).await,
        Command::Snapshots(_) => Err(Failure::Usage(
            "snapshots commands run offline, without the aggregator".into(),
        )),
    }
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
            print!("{}", outcome.output);
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
) -> Result<String, Failure> {
    let r = q
        .get_host(pb::GetHostRequest {
            host: name.to_string(),
            history_limit: history,
        })
        .await
        .map_err(|s| refused(&format!("host {name:?}"), s))?
        .into_inner();
    match format {
        // The whole answer in the proto's canonical JSON: every field and every evidence entry.
        Format::Json => serde_json::to_string_pretty(&r)
            .map(|s| s + "\n")
            .map_err(|e| Failure::Aggregator(e.to_string())),
        Format::Csv => {
            let mut t = Table::new(&["report_id", "collected_at", "received_at"]);
            for h in r.history {
                t.push(vec![
                    h.report_id,
                    time(&h.collected_at),
                    time(&h.received_at),
                ]);
            }
            Ok(t.render(Format::Csv))
        }
        Format::Table => {
            let mut out = String::new();
            if let Some(latest) = &r.latest {
                // The same text `subcap-agent scan` prints.
                out.push_str(&subcap_agent::render::text(latest));
            }
            let mut t = Table::new(&["report_id", "collected_at", "received_at"]);
            for h in r.history {
                t.push(vec![
                    h.report_id,
                    time(&h.collected_at),
                    time(&h.received_at),
                ]);
            }
            out.push_str("\n[history]\n");
            out.push_str(&t.render(Format::Table));
            Ok(out)
        }
    }
}
