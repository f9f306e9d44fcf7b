//! The provider-handoff report (`subcap report handoff`): one folder an auditor can take away and
//! check. [`model::build`] turns the aggregator's answers into a [`Handoff`] (pure);
//! [`timeline`] computes coverage over time from the history periods; [`tables`] and [`html`]
//! render the same `Handoff` as CSV and as one self-contained HTML page; [`manifest`] hashes every
//! output and input and [`verify`]s a folder; [`fetch`] asks the aggregator and [`folder`] writes
//! the files (the I/O edges); [`cli`] is the `subcap report` command.
//!
//! The JSON (`handoff.json`) is the one source: the CSV files are written from the same model, and
//! the HTML page embeds the JSON byte for byte and computes every figure it shows from it.
//! Schema: `docs/handoff-schema.md`.

pub mod cli;
pub mod fetch;
pub mod folder;
pub mod html;
pub mod manifest;
pub mod model;
pub mod tables;
pub mod timeline;

#[cfg(test)]
pub(crate) mod testkit;

pub use folder::{write, OUTPUTS};
pub use manifest::{verify, Manifest, Verification};
pub use model::{build, Handoff, Params, Sources, Window, SCHEMA};

use std::path::PathBuf;

/// Why a report could not be written or checked.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0}: not empty ({1} entries); choose an empty or new folder, or pass --force to overwrite \
         the report's files in it"
    )]
    NotEmpty(PathBuf, usize),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ReportError {
        let path = path.into();
        move |source| ReportError::Io { path, source }
    }
}
