//! `subcap report`: `handoff` writes the provider-handoff report folder from the aggregator's
//! answers; `verify` checks a folder against its manifest (no aggregator needed).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::model::{self, date_of, Params, Window};
use super::{fetch, folder, manifest};
use crate::domain::model::num;
use crate::ops::OperatorConfig;

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// The provider-handoff report: one folder with a self-contained HTML page (opens offline),
    /// the same data as JSON and CSV, and a manifest with the SHA-256 of every output and input.
    Handoff {
        /// The folder to write (created when missing; must be empty unless --force).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// First day of the window, YYYY-MM-DD (default: the same day two years before --to).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day of the window, YYYY-MM-DD (default: today, UTC).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// The provider handing over (or taking over), shown on the report.
        #[arg(long, value_name = "NAME")]
        provider: Option<String>,
        /// The folder of audit snapshots the customer keeps (zips, or extracted folders): each
        /// quarter of the window is checked as `subcap snapshots check` does (SNAPSHOT_GAP,
        /// checksums), and each file's SHA-256 goes into the manifest's inputs.
        #[arg(long, value_name = "DIR")]
        snapshots: Option<PathBuf>,
        /// Write into a folder that is not empty, overwriting the report's files.
        #[arg(long)]
        force: bool,
    },
    /// Checks a report folder: every file against manifest.json and SHA256SUMS, and the page's
    /// data against handoff.json. Exit 0 unchanged, 1 changed or incomplete.
    Verify {
        /// The report folder.
        dir: PathBuf,
        /// A folder with copies of the inputs (ILMT files, snapshot zips), checked by file name
        /// against the SHA-256 the manifest records.
        #[arg(long, value_name = "DIR")]
        inputs: Option<PathBuf>,
    },
}

/// Why `subcap report` failed: bad arguments or config (exit 2), or the aggregator (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Aggregator(String),
}

/// What the command prints, and whether it holds (`verify`: the report is unchanged).
#[derive(Debug)]
pub struct Outcome {
    pub out: String,
    pub ok: bool,
}

/// Longest `--provider` name.
const PROVIDER_MAX: usize = 200;

pub async fn run(cmd: ReportCommand, config: &Path) -> Result<Outcome, CommandError> {
    match cmd {
        ReportCommand::Verify { dir, inputs } => {
            let v = manifest::verify(&dir, inputs.as_deref()).map_err(usage)?;
            Ok(Outcome {
                out: v.text(),
                ok: v.ok(),
            })
        }
        ReportCommand::Handoff {
            out,
            from,
            to,
            provider,
            snapshots,
            force,
        } => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let today = date_of(now)
                .ok_or_else(|| CommandError::Usage("the system clock is not a date".into()))?;
            let window = Window::parse(from.as_deref(), to.as_deref(), today)
                .map_err(CommandError::Usage)?;
            let provider = provider_name(provider)?;
            let snapshots = match &snapshots {
                Some(d) => Some(fetch::snapshot_inputs(d).map_err(usage)?),
                None => None,
            };
            let config = OperatorConfig::load(config).map_err(usage)?;
            let channel = subcap_proto::client::channel(&config.client_tls()).map_err(usage)?;
            let sources = fetch::sources(channel, window, snapshots)
                .await
                .map_err(|r| match r.status.code() {
                    tonic::Code::InvalidArgument => {
                        CommandError::Usage(format!("{}: {}", r.call, r.status.message()))
                    }
                    _ => CommandError::Aggregator(format!(
                        "{}: {:?}: {}",
                        r.call,
                        r.status.code(),
                        r.status.message()
                    )),
                })?;
            let h = model::build(
                &Params {
                    window,
                    provider,
                    generated_at: now,
                },
                &sources,
            );
            let m = folder::write(&out, &h, force).map_err(usage)?;
            Ok(Outcome {
                out: written(&out, &h, &m),
                ok: true,
            })
        }
    }
}

fn usage(e: impl std::fmt::Display) -> CommandError {
    CommandError::Usage(e.to_string())
}

fn provider_name(p: Option<String>) -> Result<Option<String>, CommandError> {
    let Some(p) = p.map(|p| p.trim().to_string()).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if p.chars().count() > PROVIDER_MAX || p.chars().any(char::is_control) {
        return Err(CommandError::Usage(format!(
            "--provider: at most {PROVIDER_MAX} characters, no control characters"
        )));
    }
    Ok(Some(p))
}

/// What `handoff` prints: the headline figures and the files written.
fn written(dir: &Path, h: &model::Handoff, m: &manifest::Manifest) -> String {
    let s = &h.summary;
    let mut out = format!(
        "{} to {}: {} hosts, {} uncovered now, {} failing now, {} failed in the window; exposed PVU now {}, peak in the window {}\n",
        h.window.from,
        h.window.to,
        s.hosts,
        s.uncovered_now,
        s.failing_now,
        s.failing_hosts_in_window,
        num(s.exposed_pvu_now),
        num(s.peak_exposed_pvu_in_window)
    );
    for n in &h.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&format!("wrote {}:\n", dir.display()));
    for e in &m.outputs {
        out.push_str(&format!("  {}  {}\n", e.sha256, e.file));
    }
    out.push_str(&format!(
        "  (+ {} and {}; check with `sha256sum -c {}` in the folder or `subcap report verify`)\n",
        manifest::MANIFEST,
        manifest::SUMS,
        manifest::SUMS
    ));
    out
}
