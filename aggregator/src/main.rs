//! `subcap-aggregator`: `serve` runs the aggregator; `certs` makes a development PKI; `demo` runs
//! the whole system on loopback (`subcap_aggregator::demo`).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use subcap_aggregator::certs::{self, Leaf};
use subcap_aggregator::config::{Config, LogFormat};
use subcap_aggregator::demo;
use subcap_aggregator::ops::output::Format;
use subcap_aggregator::server::Aggregator;

#[derive(Parser)]
#[command(
    name = "subcap-aggregator",
    version,
    about = "subcap aggregator: stores agents' host reports and reconciles them with ILMT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve agents and operators over gRPC with mutual TLS until SIGTERM or SIGINT.
    Serve {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Development PKI: CAs and certificates as PEM files (use your own PKI in production).
    #[command(subcommand)]
    Certs(CertsCommand),
    /// The whole system on this machine: agents scan a bundled estate of fixture hosts and this
    /// machine, report over mutual TLS to an aggregator on loopback (temporary store and
    /// certificates), an ILMT export is imported, and the uncovered hosts, ineligible
    /// virtualization and findings are printed with their PVU exposure.
    Demo {
        /// The tests/fixtures folder of a subcap source checkout (default: the one this binary
        /// was built from).
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// Keep the aggregator serving (and its folder) until Ctrl-C, to try `subcap` against it.
        #[arg(long)]
        keep: bool,
        /// table for people; json (one document) or csv (each table after a `# name` line) for
        /// scripts, with the narrative on standard error.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Create the server, agents' and operators' CAs in DIR.
    Init {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Issue the aggregator's server certificate for the given DNS names or IP addresses.
    Server {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Issue one agent certificate per host (`agent-HOST.pem`); an FQDN also names its short host.
    Agent {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Issue an operator certificate (`operator-NAME.pem`).
    Operator {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(config),
        Command::Certs(c) => certs_command(c),
        Command::Demo {
            fixtures,
            keep,
            format,
        } => run_demo(demo::Options {
            fixtures: fixtures.unwrap_or_else(demo::default_fixtures),
            keep,
            format,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("subcap-aggregator: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn certs_command(c: CertsCommand) -> anyhow::Result<()> {
    match c {
        CertsCommand::Init { dir } => {
            certs::init(&dir)?;
            println!("created CAs in {}", dir.display());
        }
        CertsCommand::Server { dir, names } => {
            let (cert, key) = certs::issue(&dir, Leaf::Server, &names, "server")?;
            println!("{} {}", cert.display(), key.display());
        }
        CertsCommand::Agent { dir, hosts } => {
            for host in hosts {
                let mut names = vec![host.clone()];
                if let Some((short, _)) = host.split_once('.') {
                    if short.parse::<std::net::IpAddr>().is_err() {
                        names.push(short.to_string());
                    }
                }
                let (cert, key) =
                    certs::issue(&dir, Leaf::Agent, &names, &format!("agent-{host}"))?;
                println!("{} {}", cert.display(), key.display());
            }
        }
        CertsCommand::Operator { dir, name } => {
            let (cert, key) = certs::issue(
                &dir,
                Leaf::Operator,
                std::slice::from_ref(&name),
                &format!("operator-{name}"),
            )?;
            println!("{} {}", cert.display(), key.display());
        }
    }
    Ok(())
}

fn serve(path: PathBuf) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    init_logs(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async {
        let aggregator = Aggregator::bind(&config).await?;
        tracing::info!(
            listen = %aggregator.local_addr()?,
            metrics = ?aggregator.metrics_addr(),
            data_dir = %config.data_dir.display(),
            identity_binding = ?config.tls.identity_binding,
            "aggregator serving"
        );
        aggregator.run(shutdown_signal()).await?;
        Ok(())
    })
}

fn run_demo(options: demo::Options) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(demo::run(options, shutdown_signal()))?;
    Ok(())
}

fn init_logs(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.log.level.as_deref().unwrap_or("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}
