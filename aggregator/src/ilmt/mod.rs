//! ILMT importers: ILMT's own list of computers, read from a saved REST API response (v2
//! `api/sam/v2/computers` or the deprecated v1 `api/sam/computer_systems`), a CSV export of an ILMT
//! report, an audit snapshot zip, or pulled live over the REST API.
//!
//! Every parser is pure (bytes in, [`Import`] or [`ImportError`] out) and refuses a malformed
//! input whole, naming the file, line, column and field. Sizes the input controls (rows, field
//! length, zip entries) are bounded by [`Limits`]. The REST client ([`rest`]) is the only part that
//! does I/O.
//!
//! Read [`model`] first for what an import holds; [`fields`] is the shared column vocabulary.

pub mod aliases;
pub mod csv;
pub mod fields;
pub mod json;
pub mod model;
pub mod rest;
pub mod snapshot;
#[cfg(any(test, feature = "test-server"))]
pub mod test_server;
pub mod time;
pub(crate) mod zip;

#[cfg(test)]
mod fixture_tests;

pub use aliases::Aliases;
pub use model::{ComputerType, HardwareStatus, IlmtComputer, Import, ImportSource, ImportWarning};
pub use time::{CivilDate, UtcTime};

/// An input refused whole: where (file, line, column, field) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {problem}", location(.line, .column, .field))]
pub struct ImportError {
    /// The file as given (for a zip: `archive.zip!member.csv`).
    pub file: String,
    /// 1-based line, when the input has lines.
    pub line: Option<usize>,
    /// 1-based column (characters), when known.
    pub column: Option<usize>,
    /// The column header or JSON path, e.g. `rows[3].last_seen`.
    pub field: Option<String>,
    pub problem: String,
}

fn location(line: &Option<usize>, column: &Option<usize>, field: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out.push_str(&format!(", line {line}"));
    }
    if let Some(column) = column {
        out.push_str(&format!(", column {column}"));
    }
    if let Some(field) = field {
        out.push_str(&format!(", field {field:?}"));
    }
    out
}

impl ImportError {
    /// An error about the file as a whole.
    pub fn file(file: &str, problem: impl Into<String>) -> ImportError {
        ImportError {
            file: file.to_string(),
            line: None,
            column: None,
            field: None,
            problem: problem.into(),
        }
    }
}

/// Bounds on what an input may make the importer do. Defaults fit the largest estates we expect
/// (hundreds of thousands of computers) with a wide margin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted (a JSON or CSV file, a zip, or one REST page).
    pub max_input_bytes: usize,
    /// Most rows (JSON rows, CSV records) in one input.
    pub max_rows: usize,
    /// Longest single field (a JSON string, a CSV cell), in bytes.
    pub max_field_bytes: usize,
    /// Most columns in a CSV header.
    pub max_columns: usize,
    /// Most entries in a zip.
    pub max_zip_entries: usize,
    /// Largest uncompressed zip entry.
    pub max_entry_bytes: usize,
    /// Largest sum of the uncompressed entries read from one zip.
    pub max_total_uncompressed: usize,
    /// Largest compression ratio (uncompressed / compressed) accepted for an entry of more than
    /// 1 MiB uncompressed; a zip bomb needs a far higher ratio than any CSV.
    pub max_ratio: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_input_bytes: 1 << 30,
            max_rows: 2_000_000,
            max_field_bytes: 64 * 1024,
            max_columns: 512,
            max_zip_entries: 1_000,
            max_entry_bytes: 1 << 30,
            max_total_uncompressed: 2 << 30,
            max_ratio: 200,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_names_every_known_place() {
        let e = ImportError {
            file: "export.csv".into(),
            line: Some(12),
            column: Some(5),
            field: Some("Partition Cores".into()),
            problem: "\"four\" is not a number".into(),
        };
        assert_eq!(
            e.to_string(),
            "export.csv, line 12, column 5, field \"Partition Cores\": \"four\" is not a number"
        );
        assert_eq!(
            ImportError::file("a.zip", "not a zip archive").to_string(),
            "a.zip: not a zip archive"
        );
    }
}
