//! CSV exports of ILMT reports: a small RFC 4180 reader (quoted fields with embedded separators,
//! doubled quotes and line breaks; CRLF, LF or CR line ends) that also takes a UTF-8 byte order
//! mark, UTF-16 with a byte order mark, an Excel `sep=;` first line, and a comma, semicolon or tab
//! separator detected from the header row. Headers are mapped to fields through the alias table
//! ([`Aliases`]); unknown headers are ignored, a missing required column refuses the file.
//!
//! Our own reader rather than the `csv` crate: it is ~300 lines, reports the line and column of
//! every problem (including inside multi-line quoted fields), enforces our limits while reading,
//! and borrows unquoted fields from the input without copying.

use std::borrow::Cow;
use std::collections::HashMap;

use super::aliases::Aliases;
use super::fields::{apply, parse_cell, CellProblem, Field};
use super::model::{sha256_hex, IlmtComputer, Import, ImportSource, ImportWarning};
use super::{ImportError, Limits};

/// Where a field starts: byte offset, line, and the byte offset of that line's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    offset: usize,
    line: usize,
    line_start: usize,
}

/// One record (row) of fields, reused from row to row.
#[derive(Debug, Default)]
pub struct Record<'a> {
    /// Line where the record starts (1-based).
    pub line: usize,
    fields: Vec<Cow<'a, str>>,
    starts: Vec<Pos>,
}

impl<'a> Record<'a> {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        self.fields.get(i).map(|f| f.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.as_ref())
    }

    fn clear(&mut self) {
        self.fields.clear();
        self.starts.clear();
    }
}

/// Reads records from decoded text.
pub struct CsvReader<'a> {
    file: &'a str,
    text: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
    sep: u8,
    limits: &'a Limits,
    records: usize,
}

/// The input as text: a UTF-8 BOM removed, UTF-16 (with a BOM) decoded; other bytes must be UTF-8.
pub fn decode<'b>(file: &str, bytes: &'b [u8]) -> Result<Cow<'b, str>, ImportError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(file, rest);
    }
    let utf16 = |little: bool, rest: &[u8]| -> Result<Cow<'b, str>, ImportError> {
        if !rest.len().is_multiple_of(2) {
            return Err(ImportError::file(
                file,
                "UTF-16 input with an odd number of bytes",
            ));
        }
        let units = rest.chunks_exact(2).map(|p| {
            let pair = [p[0], p[1]];
            if little {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        });
        let mut out = String::with_capacity(rest.len() / 2);
        for (i, ch) in char::decode_utf16(units).enumerate() {
            match ch {
                Ok(ch) => out.push(ch),
                Err(_) => {
                    return Err(ImportError::file(
                        file,
                        format!("invalid UTF-16 at code unit {i}"),
                    ))
                }
            }
        }
        Ok(Cow::Owned(out))
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(true, rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(false, rest);
    }
    utf8(file, bytes)
}

fn utf8<'b>(file: &str, bytes: &'b [u8]) -> Result<Cow<'b, str>, ImportError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
            Err(ImportError {
                file: file.to_string(),
                line: Some(line),
                column: Some(column),
                field: None,
                problem: "the file is not UTF-8 (save the export as UTF-8 CSV)".to_string(),
            })
        }
    }
}

/// The separator of the header line: the most frequent of `,`, `;` and tab outside quotes
/// (a comma when none occurs: a single column).
fn detect_separator(header_line: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in header_line.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let seps = [b',', b';', b'\t'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    seps[best]
}

impl<'a> CsvReader<'a> {
    /// A reader over `text` (already decoded). The separator is an Excel `sep=X` first line if
    /// there is one (the line is skipped), else detected from the first non-empty line.
    pub fn new(file: &'a str, text: &'a str, limits: &'a Limits) -> CsvReader<'a> {
        let mut lines = text.split(['\n', '\r']);
        let first_line = lines.next().unwrap_or("");
        let mut reader = CsvReader {
            file,
            text,
            pos: 0,
            line: 1,
            line_start: 0,
            sep: b',',
            limits,
            records: 0,
        };
        let sep_line = first_line
            .strip_prefix("sep=")
            .and_then(|rest| (rest.chars().count() == 1).then_some(rest));
        match sep_line.and_then(|s| s.bytes().next()) {
            Some(sep) => {
                reader.sep = sep;
                reader.pos = first_line.len();
                reader.skip_line_end();
            }
            None => {
                let header_line = std::iter::once(first_line)
                    .chain(lines)
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                reader.sep = detect_separator(header_line);
            }
        }
        reader
    }

    pub fn separator(&self) -> char {
        char::from(self.sep)
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Consumes one line end (`\r\n`, `\n` or `\r`) at the current position, if any.
    fn skip_line_end(&mut self) -> bool {
        let b = self.bytes();
        match b.get(self.pos) {
            Some(b'\r') => {
                self.pos += 1;
                if b.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                }
            }
            Some(b'\n') => self.pos += 1,
            _ => return false,
        }
        self.line += 1;
        self.line_start = self.pos;
        true
    }

    fn column_at(&self, line_start: usize, offset: usize) -> usize {
        self.text
            .get(line_start..offset)
            .map_or(1, |s| s.chars().count() + 1)
    }

    fn error_at(
        &self,
        line: usize,
        line_start: usize,
        offset: usize,
        problem: String,
    ) -> ImportError {
        ImportError {
            file: self.file.to_string(),
            line: Some(line),
            column: Some(self.column_at(line_start, offset)),
            field: None,
            problem,
        }
    }

    /// The line and column where field `i` of `record` starts.
    pub fn place(&self, record: &Record<'_>, i: usize) -> (usize, usize) {
        match record.starts.get(i) {
            Some(p) => (p.line, self.column_at(p.line_start, p.offset)),
            None => (record.line, 1),
        }
    }

    /// Reads the next record into `out`; `false` at the end of the input. Empty lines are skipped.
    pub fn next_record(&mut self, out: &mut Record<'a>) -> Result<bool, ImportError> {
        out.clear();
        // Skip empty lines.
        while self.pos < self.text.len() && self.skip_line_end() {}
        if self.pos >= self.text.len() {
            return Ok(false);
        }
        if self.records >= self.limits.max_rows.saturating_add(1) {
            return Err(self.error_at(
                self.line,
                self.line_start,
                self.pos,
                format!(
                    "more than {} rows (the limit of one import)",
                    self.limits.max_rows
                ),
            ));
        }
        self.records += 1;
        out.line = self.line;
        loop {
            if out.fields.len() >= self.limits.max_columns {
                return Err(self.error_at(
                    self.line,
                    self.line_start,
                    self.pos,
                    format!("more than {} columns", self.limits.max_columns),
                ));
            }
            let start = Pos {
                offset: self.pos,
                line: self.line,
                line_start: self.line_start,
            };
            let field = if self.bytes().get(self.pos) == Some(&b'"') {
                self.quoted(start)?
            } else {
                self.unquoted(start)?
            };
            if field.len() > self.limits.max_field_bytes {
                return Err(self.error_at(
                    start.line,
                    start.line_start,
                    start.offset,
                    format!(
                        "a field of {} bytes is longer than the {} bytes accepted",
                        field.len(),
                        self.limits.max_field_bytes
                    ),
                ));
            }
            out.fields.push(field);
            out.starts.push(start);
            match self.bytes().get(self.pos) {
                Some(&b) if b == self.sep => self.pos += 1,
                Some(b'\r' | b'\n') => {
                    self.skip_line_end();
                    return Ok(true);
                }
                None => return Ok(true),
                Some(_) => {
                    return Err(self.error_at(
                        self.line,
                        self.line_start,
                        self.pos,
                        "unexpected character after a closing quote (a quote inside a field \
                         must be doubled)"
                            .to_string(),
                    ))
                }
            }
        }
    }

    fn unquoted(&mut self, start: Pos) -> Result<Cow<'a, str>, ImportError> {
        let b = self.bytes();
        let mut i = self.pos;
        while let Some(&c) = b.get(i) {
            if c == self.sep || c == b'\n' || c == b'\r' {
                break;
            }
            if c == b'"' {
                return Err(self.error_at(
                    start.line,
                    start.line_start,
                    i,
                    "a quote inside an unquoted field (quote the field and double the quote)"
                        .to_string(),
                ));
            }
            i += 1;
        }
        let s = self.text.get(self.pos..i).unwrap_or("");
        self.pos = i;
        Ok(Cow::Borrowed(s))
    }

    fn quoted(&mut self, start: Pos) -> Result<Cow<'a, str>, ImportError> {
        let b = self.bytes();
        let content_start = self.pos + 1;
        let mut i = content_start;
        let mut owned: Option<String> = None;
        let mut chunk_start = content_start;
        loop {
            let Some(&c) = b.get(i) else {
                return Err(self.error_at(
                    start.line,
                    start.line_start,
                    start.offset,
                    "a quoted field is not closed before the end of the file".to_string(),
                ));
            };
            match c {
                b'"' if b.get(i + 1) == Some(&b'"') => {
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(self.text.get(chunk_start..=i).unwrap_or(""));
                    i += 2;
                    chunk_start = i;
                }
                b'"' => break,
                b'\n' => {
                    i += 1;
                    self.line += 1;
                    self.line_start = i;
                }
                b'\r' => {
                    i += 1;
                    if b.get(i) != Some(&b'\n') {
                        self.line += 1;
                        self.line_start = i;
                    }
                }
                _ => i += 1,
            }
            if i - content_start > self.limits.max_field_bytes {
                return Err(self.error_at(
                    start.line,
                    start.line_start,
                    start.offset,
                    format!(
                        "a field longer than the {} bytes accepted (an unclosed quote?)",
                        self.limits.max_field_bytes
                    ),
                ));
            }
        }
        let tail = self.text.get(chunk_start..i).unwrap_or("");
        self.pos = i + 1;
        Ok(match owned {
            Some(mut o) => {
                o.push_str(tail);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(tail),
        })
    }
}

/// Warnings that may repeat on many rows, kept once each with a count and the first line.
#[derive(Default)]
pub(crate) struct RepeatedWarnings {
    order: Vec<(String, String)>,
    seen: HashMap<(String, String), (usize, usize)>,
}

impl RepeatedWarnings {
    const MAX_DISTINCT: usize = 200;

    pub(crate) fn add(&mut self, field: &str, message: String, line: usize) {
        let key = (field.to_string(), message);
        if let Some((_, count)) = self.seen.get_mut(&key) {
            *count += 1;
            return;
        }
        if self.order.len() < Self::MAX_DISTINCT {
            self.order.push(key.clone());
        }
        self.seen.insert(key, (line, 1));
    }

    pub(crate) fn into_warnings(self) -> Vec<ImportWarning> {
        let mut seen = self.seen;
        self.order
            .into_iter()
            .filter_map(|key| {
                let (line, count) = seen.remove(&key)?;
                let message = if count > 1 {
                    format!("{} ({count} rows, first on this line)", key.1)
                } else {
                    key.1
                };
                Some(ImportWarning::new(Some(line), Some(&key.0), message))
            })
            .collect()
    }
}

/// How the columns of a header row map to fields.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMap {
    /// (column index, field, header text) for each mapped column.
    pub(crate) columns: Vec<(usize, Field, String)>,
    pub(crate) warnings: Vec<ImportWarning>,
}

/// Maps `headers` (as they appear) through `field_of`, refusing when a required field has no
/// column. Unknown headers are ignored (listed in one warning); a second column for the same
/// field is ignored with a warning.
pub(crate) fn map_columns<'h>(
    file: &str,
    header_line: usize,
    headers: impl Iterator<Item = (usize, &'h str, Option<Field>)>,
    required: &[Field],
) -> Result<ColumnMap, ImportError> {
    let mut columns: Vec<(usize, Field, String)> = Vec::new();
    let mut unknown = Vec::new();
    let mut all = Vec::new();
    let mut warnings = Vec::new();
    for (i, header, field) in headers {
        all.push(header.trim().to_string());
        match field {
            Some(f) => {
                if let Some((_, _, first)) = columns.iter().find(|(_, g, _)| *g == f) {
                    warnings.push(ImportWarning::new(
                        Some(header_line),
                        Some(header.trim()),
                        format!(
                            "a second column for {} (the first is {first:?}); ignored",
                            f.name()
                        ),
                    ));
                } else {
                    columns.push((i, f, header.trim().to_string()));
                }
            }
            None if header.trim().is_empty() => {}
            None => unknown.push(header.trim().to_string()),
        }
    }
    let missing: Vec<&str> = required
        .iter()
        .filter(|f| !columns.iter().any(|(_, g, _)| g == *f))
        .map(|f| f.name())
        .collect();
    if !missing.is_empty() {
        return Err(ImportError {
            file: file.to_string(),
            line: Some(header_line),
            column: None,
            field: None,
            problem: format!(
                "the header row has no column for the required field(s) {} (headers found: {}); \
                 add the header's name to the alias table if it is a language or wording we do \
                 not know",
                missing.join(", "),
                all.join(" | ")
            ),
        });
    }
    if !unknown.is_empty() {
        warnings.push(ImportWarning::new(
            Some(header_line),
            None,
            format!("columns not used: {}", unknown.join(" | ")),
        ));
    }
    Ok(ColumnMap { columns, warnings })
}

/// A CSV export of an ILMT report (one row per computer), its headers mapped through `aliases`.
pub fn parse_report(
    file_name: &str,
    bytes: &[u8],
    aliases: &Aliases,
    limits: &Limits,
) -> Result<Import, ImportError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(ImportError::file(
            file_name,
            format!(
                "{} bytes is more than the {} bytes accepted",
                bytes.len(),
                limits.max_input_bytes
            ),
        ));
    }
    let text = decode(file_name, bytes)?;
    let mut reader = CsvReader::new(file_name, &text, limits);
    let mut header = Record::default();
    if !reader.next_record(&mut header)? {
        return Err(ImportError::file(
            file_name,
            "the file is empty (no header row)",
        ));
    }
    let map = map_columns(
        file_name,
        header.line,
        header
            .iter()
            .enumerate()
            .map(|(i, h)| (i, h, aliases.field(h))),
        aliases.required(),
    )?;
    let mut import = Import::new(ImportSource::Csv, file_name, sha256_hex(bytes));
    import.warnings = map.warnings.clone();
    let mut repeated = RepeatedWarnings::default();
    let mut record = Record::default();
    let vocab = aliases.vocabulary();
    while reader.next_record(&mut record)? {
        if record.len() != header.len() {
            return Err(ImportError {
                file: file_name.to_string(),
                line: Some(record.line),
                column: None,
                field: None,
                problem: format!(
                    "{} fields where the header row (line {}) has {}",
                    record.len(),
                    header.line,
                    header.len()
                ),
            });
        }
        let mut c = IlmtComputer {
            source_row: record.line,
            ..IlmtComputer::default()
        };
        for (i, field, name) in &map.columns {
            let cell = record.get(*i).unwrap_or("");
            match parse_cell(field.kind(), cell, vocab) {
                Ok(Some(value)) => apply(&mut c, *field, value),
                Ok(None) => {}
                Err(CellProblem::Malformed(problem)) => {
                    let (line, column) = reader.place(&record, *i);
                    return Err(ImportError {
                        file: file_name.to_string(),
                        line: Some(line),
                        column: Some(column),
                        field: Some(name.clone()),
                        problem,
                    });
                }
                Err(CellProblem::Unknown(problem)) => {
                    repeated.add(name, format!("{problem}; left unknown"), record.line)
                }
            }
        }
        if c.name.is_none() {
            repeated.add(
                "name",
                "a row without a computer name".to_string(),
                record.line,
            );
        }
        import.computers.push(c);
    }
    import.warnings.extend(repeated.into_warnings());
    Ok(import)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ilmt::model::{ComputerType, HardwareStatus};

    fn records(text: &str) -> Result<Vec<Vec<String>>, ImportError> {
        let limits = Limits::default();
        let mut r = CsvReader::new("t.csv", text, &limits);
        let mut rec = Record::default();
        let mut out = Vec::new();
        while r.next_record(&mut rec)? {
            out.push(rec.iter().map(str::to_string).collect());
        }
        Ok(out)
    }

    #[test]
    fn reader_table() {
        let cases: [(&str, &[&[&str]]); 10] = [
            ("a,b\n1,2\n", &[&["a", "b"], &["1", "2"]]),
            ("a;b\r\n1;2\r\n", &[&["a", "b"], &["1", "2"]]),
            ("a\tb\r1\t2", &[&["a", "b"], &["1", "2"]]),
            (
                "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n",
                &[&["a", "b"], &["x, y", "say \"hi\""]],
            ),
            (
                "a,b\n\"two\r\nlines\",z\n",
                &[&["a", "b"], &["two\r\nlines", "z"]],
            ),
            ("a,b\n,\n", &[&["a", "b"], &["", ""]]),
            ("a,b\n\n\n1,2\n\n", &[&["a", "b"], &["1", "2"]]),
            ("sep=;\na;b\n1,5;2\n", &[&["a", "b"], &["1,5", "2"]]),
            ("\"a;b\",c\n1,2\n", &[&["a;b", "c"], &["1", "2"]]),
            ("a,\"\"\n1,\"\"\n", &[&["a", ""], &["1", ""]]),
        ];
        for (text, want) in cases {
            let got = records(text);
            let want: Vec<Vec<String>> = want
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect();
            assert_eq!(got.as_ref().ok(), Some(&want), "{text:?}: {got:?}");
        }
    }

    #[test]
    fn reader_errors_name_line_and_column() {
        let cases: [(&str, usize, usize, &str); 4] = [
            ("a,b\n1,\"open\n2,3\n", 2, 3, "not closed"),
            ("a,b\n1,\"x\"y\n", 2, 6, "after a closing quote"),
            (
                "a,b\n\"multi\nline\",ok\n4,5\"6\n",
                4,
                4,
                "quote inside an unquoted field",
            ),
            ("a,b\n\"ok\",\"x\"\"y\"z\n", 2, 12, "after a closing quote"),
        ];
        for (text, line, column, problem) in cases {
            let err = records(text).err();
            let Some(err) = err else {
                panic!("{text:?} accepted");
            };
            assert_eq!(
                (err.line, err.column),
                (Some(line), Some(column)),
                "{text:?}: {err}"
            );
            assert!(err.problem.contains(problem), "{err}");
        }
    }

    #[test]
    fn decoding() {
        let bom = b"\xEF\xBB\xBFname\nx\n";
        assert_eq!(decode("f", bom).ok().as_deref(), Some("name\nx\n"));
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("näme\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode("f", &utf16le).ok().as_deref(), Some("näme\n"));
        let latin1 = b"name\nM\xFCnchen\n";
        let err = decode("f", latin1).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.line == Some(2) && e.column == Some(2)),
            "{err:?}"
        );
    }

    #[test]
    fn report_maps_headers_and_converts_cells() {
        let text = "Computer Name;DNS Name;Computer Type;Status;Partition Cores;Last Seen;Gelöscht;Favourite Colour\r\n\
                    db01;db01.bank.example;Virtual;4;1,5;2025-03-04 10:11:12;Nein;blue\r\n\
                    db02;;0;OK;;04.03.2025 10:11;Ja;red\r\n";
        let import = parse_report(
            "r.csv",
            text.as_bytes(),
            Aliases::builtin(),
            &Limits::default(),
        );
        let Ok(import) = import else {
            panic!("{:?}", import.err());
        };
        assert_eq!(import.computers.len(), 2);
        let a = &import.computers[0];
        assert_eq!(a.source_row, 2);
        assert_eq!(a.name.as_deref(), Some("db01"));
        assert_eq!(a.computer_type, Some(ComputerType::Virtual));
        assert_eq!(a.status, Some(HardwareStatus::MissingVmManagerData));
        assert_eq!(a.partition_cores, Some(1.5));
        assert_eq!(a.is_deleted, Some(false));
        let b = &import.computers[1];
        assert_eq!(b.dns_name, None);
        assert_eq!(b.computer_type, Some(ComputerType::Physical));
        assert_eq!(b.status, Some(HardwareStatus::Ok));
        assert_eq!(b.partition_cores, None);
        assert_eq!(b.is_deleted, Some(true));
        assert_eq!(
            b.last_seen.map(|t| t.to_string()).as_deref(),
            Some("2025-03-04T10:11:00Z")
        );
        assert!(import.warnings[0].message.contains("Favourite Colour"));
        assert_eq!(import.source, ImportSource::Csv);
    }

    #[test]
    fn report_refusals() {
        let limits = Limits::default();
        let refuse = |text: &str| {
            parse_report("r.csv", text.as_bytes(), Aliases::builtin(), &limits)
                .err()
                .unwrap_or_else(|| panic!("{text:?} accepted"))
        };
        let e = refuse("DNS Name,OS\nx,y\n");
        assert_eq!(e.line, Some(1));
        assert!(e.problem.contains("required field(s) name"), "{e}");
        assert!(e.problem.contains("DNS Name | OS"), "{e}");
        let e = refuse("\n\nname,Partition Cores\nx,1\ny,lots\n");
        assert_eq!((e.line, e.column), (Some(5), Some(3)), "{e}");
        assert_eq!(e.field.as_deref(), Some("Partition Cores"));
        assert!(e.problem.contains("\"lots\" is not a number"), "{e}");
        let e = refuse("name,os\nx,y,z\n");
        assert_eq!(e.line, Some(2));
        assert!(
            e.problem
                .contains("3 fields where the header row (line 1) has 2"),
            "{e}"
        );
        let e = refuse("");
        assert!(e.problem.contains("empty"), "{e}");
        let e = refuse("name,Last Seen\nx,03/04/2025\n");
        assert_eq!(e.field.as_deref(), Some("Last Seen"));
    }

    #[test]
    fn unknown_words_are_counted_once() {
        let text = "name,Deleted\na,Kyllä\nb,Kyllä\nc,Yes\n";
        let import = parse_report(
            "r.csv",
            text.as_bytes(),
            Aliases::builtin(),
            &Limits::default(),
        );
        let Ok(import) = import else {
            panic!("{:?}", import.err());
        };
        assert_eq!(import.computers[0].is_deleted, None);
        assert_eq!(import.computers[2].is_deleted, Some(true));
        assert_eq!(import.warnings.len(), 1, "{:?}", import.warnings);
        assert_eq!(import.warnings[0].line, Some(2));
        assert!(import.warnings[0].message.contains("(2 rows"));
    }

    #[test]
    fn limits_are_enforced_while_reading() {
        let limits = Limits {
            max_rows: 2,
            max_field_bytes: 5,
            max_columns: 3,
            ..Limits::default()
        };
        let run =
            |text: &str| parse_report("r.csv", text.as_bytes(), Aliases::builtin(), &limits).err();
        assert!(run("name\na\nb\n").is_none());
        assert!(run("name\na\nb\nc\n").is_some_and(|e| e.problem.contains("more than 2 rows")));
        assert!(run("name\nabcdef\n").is_some_and(|e| e.problem.contains("longer than the 5")));
        assert!(run("name\n\"abc\ndef\n").is_some_and(|e| e.line == Some(2)));
        assert!(run("name,a,b,c\n").is_some_and(|e| e.problem.contains("more than 3 columns")));
    }
}
