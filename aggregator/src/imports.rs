//! Choosing the ILMT parser for one file, by its first bytes and name: a zip is an audit snapshot,
//! JSON is a saved REST API response (v2 or v1), anything else a CSV report export.

use crate::ilmt::{csv, json, snapshot, Aliases, Import, ImportError, Limits};

/// The format a file will be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    AuditSnapshot,
    Json,
    Csv,
}

/// The format of `bytes` named `file_name`.
pub fn detect(file_name: &str, bytes: &[u8]) -> Format {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if bytes.starts_with(b"PK\x03\x04") || file_name.to_ascii_lowercase().ends_with(".zip") {
        Format::AuditSnapshot
    } else if matches!(first, Some(b'{') | Some(b'[')) {
        Format::Json
    } else {
        Format::Csv
    }
}

/// Parses one ILMT file whole (pure: no I/O).
pub fn parse_file(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Import, ImportError> {
    let aliases = Aliases::builtin();
    match detect(file_name, bytes) {
        Format::AuditSnapshot => snapshot::parse_snapshot(file_name, bytes, aliases, limits),
        Format::Json => match json::detect_version(bytes) {
            json::JsonVersion::V2 => json::parse_v2(file_name, bytes, limits),
            json::JsonVersion::V1 => json::parse_v1(file_name, bytes, limits),
        },
        Format::Csv => csv::parse_report(file_name, bytes, aliases, limits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_table() {
        let cases: [(&str, &[u8], Format); 6] = [
            (
                "audit_snapshot_2025-01-01_000000.zip",
                b"PK\x03\x04rest",
                Format::AuditSnapshot,
            ),
            ("whatever.bin", b"PK\x03\x04rest", Format::AuditSnapshot),
            (
                "computers.json",
                b"  {\"total\": 0, \"rows\": []}",
                Format::Json,
            ),
            ("export", b"\xEF\xBB\xBF[ ]", Format::Json),
            (
                "computers.csv",
                b"\xEF\xBB\xBFComputer Name;DNS Name\r\n",
                Format::Csv,
            ),
            ("computers.json", b"Computer Name,DNS Name\n", Format::Csv),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(detect(name, bytes), want, "{name}");
        }
    }
}
