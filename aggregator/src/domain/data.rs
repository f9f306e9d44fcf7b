//! What the domain's data files share: the error that names the file, line and field of a bad
//! entry, and the helpers that find a line from a TOML span.

use std::ops::Range;

/// A data file refused: which file, where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {problem}", location(.line, .field))]
pub struct DataError {
    /// The file as given (the embedded defaults say `aggregator/data/<name>.toml`).
    pub file: String,
    /// 1-based line, when the problem is at one place in the file.
    pub line: Option<usize>,
    /// The key or table concerned, e.g. `technology.vmware.eligibility`.
    pub field: Option<String>,
    pub problem: String,
}

fn location(line: &Option<usize>, field: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out.push_str(&format!(", line {line}"));
    }
    if let Some(field) = field {
        out.push_str(&format!(", field {field}"));
    }
    out
}

impl DataError {
    pub(crate) fn new(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        field: Option<String>,
        problem: impl Into<String>,
    ) -> DataError {
        DataError {
            file: file.to_string(),
            line: span.map(|s| line_of(text, s.start)),
            field,
            problem: problem.into(),
        }
    }

    /// A TOML syntax or shape error, located by its span.
    pub(crate) fn toml(file: &str, text: &str, e: &toml::de::Error) -> DataError {
        DataError::new(file, text, e.span(), None, e.message().trim().to_string())
    }
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let text = "a = 1\nb = 2\nc = 3\n";
        for (offset, line) in [(0, 1), (5, 1), (6, 2), (12, 3), (1000, 4)] {
            assert_eq!(line_of(text, offset), line, "offset {offset}");
        }
    }

    #[test]
    fn message_names_file_line_and_field() {
        let e = DataError::new("x.toml", "a\nb\n", Some(2..3), Some("k".into()), "bad");
        assert_eq!(e.to_string(), "x.toml, line 2, field k: bad");
        let e = DataError::new("x.toml", "", None, None, "missing");
        assert_eq!(e.to_string(), "x.toml: missing");
    }
}
