//! `subcap-agent`: the host agent's command line. `scan` collects once and prints (no network);
//! `push --once` and `run` deliver reports to the aggregator.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand, ValueEnum};
use subcap_agent::collect::{ibm, virt};
use subcap_agent::deliver::{self, config::AgentConfig};
use subcap_agent::{render, scan};

#[derive(Parser)]
#[command(
    name = "subcap-agent",
    version,
    about = "subcap host agent: what this host can prove about its IBM sub-capacity position"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect once and print the host report; reads only, sends nothing.
    Scan(ScanArgs),
    /// Collect, spool and deliver once; exit 0 only if this report was acknowledged (1 if it
    /// stays spooled for the daemon). For config management to verify a rollout.
    Push {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Deliver once and exit (the only mode of `push`; the daemon is `run`).
        #[arg(long)]
        once: bool,
    },
    /// The daemon: collect at start and every interval, deliver, retry until SIGTERM.
    Run {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Directory that stands for `/` of the host: a fixture tree or a mounted image.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Output format: `json` is the proto's canonical JSON mapping (stable for scripts).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Assume this CPUID leaf 0x40000000 signature (e.g. `VMwareVMware`, `KVMKVMKVM`) instead of
    /// reading the processor; `none` for a processor that reports no hypervisor.
    #[arg(long, value_name = "SIG")]
    cpuid_vendor: Option<String>,
    /// Extra directory (relative to the root) to search for IBM installs; repeatable.
    #[arg(long = "ibm-path", value_name = "DIR")]
    ibm_paths: Vec<PathBuf>,
    /// Deepest directory level searched below an install root.
    #[arg(long, value_name = "N", default_value_t = ibm::SearchLimits::default().max_depth)]
    ibm_max_depth: usize,
    /// Most directory entries examined by the IBM install search.
    #[arg(long, value_name = "N", default_value_t = ibm::SearchLimits::default().max_files)]
    ibm_max_files: usize,
    /// Time budget of the IBM install search, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = ibm::SearchLimits::default().time_budget.as_millis() as u64)]
    ibm_budget_ms: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Text,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => match run_scan(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("subcap-agent: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Push { config, once } => {
            if !once {
                eprintln!("subcap-agent: push needs --once (the daemon is `subcap-agent run`)");
                return ExitCode::from(2);
            }
            with_config(&config, |cfg, rt| {
                let (acknowledged, d) = rt.block_on(deliver::push_once(&cfg))?;
                if acknowledged {
                    println!("acknowledged: {} report(s) delivered", d.acknowledged.len());
                    Ok(ExitCode::SUCCESS)
                } else {
                    eprintln!(
                        "subcap-agent: not acknowledged ({}); the report stays spooled",
                        d.stopped.as_deref().unwrap_or("set aside")
                    );
                    Ok(ExitCode::from(1))
                }
            })
        }
        Command::Run { config } => with_config(&config, |cfg, rt| {
            rt.block_on(deliver::run(&cfg, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// Loads the agent config (exit 2 when it is bad), starts logging and a one-thread runtime.
fn with_config(
    path: &std::path::Path,
    f: impl FnOnce(AgentConfig, tokio::runtime::Runtime) -> anyhow::Result<ExitCode>,
) -> ExitCode {
    let cfg = match AgentConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("subcap-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("subcap-agent: start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match f(cfg, rt) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("subcap-agent: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn run_scan(args: ScanArgs) -> anyhow::Result<()> {
    if !args.root.is_dir() {
        anyhow::bail!("--root {}: not a directory", args.root.display());
    }
    let cpuid = match args.cpuid_vendor {
        None => virt::CpuidSource::Native,
        Some(sig) => {
            if sig.len() > 12 || !sig.is_ascii() {
                anyhow::bail!(
                    "--cpuid-vendor {sig:?}: a CPUID signature is at most 12 ASCII characters"
                );
            }
            virt::CpuidSource::Override(if sig == "none" { String::new() } else { sig })
        }
    };
    let opts = scan::ScanOptions {
        root: args.root,
        cpuid,
        ibm: ibm::SearchLimits {
            extra_paths: args.ibm_paths,
            max_depth: args.ibm_max_depth,
            max_files: args.ibm_max_files,
            time_budget: Duration::from_millis(args.ibm_budget_ms),
        },
    };
    let report_id = scan::new_report_id()?;
    let report = scan::scan(&opts, SystemTime::now(), report_id);
    let mut out = match args.format {
        Format::Json => render::json(&report)?,
        Format::Text => render::text(&report),
    };
    // One write of the whole report (stdout writes line by line up to the last newline); a
    // reader that stops early (`| head`) is not an error.
    out.push('\n');
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
