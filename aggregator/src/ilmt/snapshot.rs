//! ILMT audit snapshots (`audit_snapshot_<date>_<time>.zip`): the checksums are verified, the
//! period and versions read from `data_condition.txt`, and `pvu_sub_capacity.csv` turned into one
//! [`IlmtComputer`] per computer.
//!
//! What is confirmed and what is designed (we could not read the full IBM page):
//! - Confirmed (IBM docs): the file names; `checksums.txt` lets one verify the other files;
//!   `pvu_sub_capacity.csv` English column names; headers and yes/no values are localized;
//!   column order may change; `data_condition.txt` lists every file's English column names in
//!   order and the snapshot's dates and versions.
//! - Seen in one public snapshot (ILMT 9.2.24): the layout of `data_condition.txt` (each key alone
//!   on a line, its values tab-indented below; dates like `Apr 25, 2021`) and its statements about
//!   the data (import status, disconnected computers, data accuracy). [`parse_data_condition`]
//!   reads it, and the one-line `key: value` layouts as well.
//! - Designed: the exact layout of `checksums.txt`. The reader accepts the plausible layouts (see
//!   [`parse_checksums`]); the digest algorithm is taken from the digest's length or tag (MD5,
//!   SHA-1, SHA-256/384/512).
//!
//! `pvu_sub_capacity.csv` has one row per product and computer, repeating the computer's and its
//! server's values on each row: they are taken once per computer, never summed, and rows that
//! disagree about a computer's value are reported as warnings (the first row's value is kept).

use std::collections::HashMap;

use super::aliases::{normalize, Aliases};
use super::csv::{decode, map_columns, CsvReader, Record, RepeatedWarnings};
use super::fields::{apply, parse_cell, CellProblem, Field, Value};
use super::model::{hex, sha256_hex, IlmtComputer, Import, ImportSource, ImportWarning};
use super::time::{parse_date, parse_time, CivilDate, ACCEPTED_DATE_FORMS};
use super::zip::{Archive, ZipProblem};
use super::{ImportError, Limits};

pub const CHECKSUMS: &str = "checksums.txt";
pub const DATA_CONDITION: &str = "data_condition.txt";
pub const PVU_SUB_CAPACITY: &str = "pvu_sub_capacity.csv";
/// Files that cannot be covered by `checksums.txt`: itself, and the signature over it.
pub const NOT_CHECKSUMMED: [&str; 3] = [CHECKSUMS, "signature.rsa", "pub_key.pem"];

/// A digest algorithm of `checksums.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn from_hex_len(len: usize) -> Option<Algorithm> {
        match len {
            32 => Some(Algorithm::Md5),
            40 => Some(Algorithm::Sha1),
            64 => Some(Algorithm::Sha256),
            96 => Some(Algorithm::Sha384),
            128 => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn from_tag(tag: &str) -> Option<Algorithm> {
        match tag.to_ascii_uppercase().replace('-', "").as_str() {
            "MD5" => Some(Algorithm::Md5),
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA384" => Some(Algorithm::Sha384),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha1 => "SHA-1",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha384 => "SHA-384",
            Algorithm::Sha512 => "SHA-512",
        }
    }

    /// The digest of `data` in lower-case hex.
    pub fn digest_hex(self, data: &[u8]) -> String {
        use ring::digest;
        let alg = match self {
            Algorithm::Md5 => return hex(&md5(data)),
            Algorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::Sha256 => &digest::SHA256,
            Algorithm::Sha384 => &digest::SHA384,
            Algorithm::Sha512 => &digest::SHA512,
        };
        hex(digest::digest(alg, data).as_ref())
    }
}

/// One line of `checksums.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub line: usize,
    pub file: String,
    pub algorithm: Algorithm,
    /// Lower-case hex.
    pub digest: String,
}

impl Checksum {
    /// Whether `data` (the listed file's bytes) has this digest; the problem names the line.
    pub fn verify(&self, data: &[u8]) -> Result<(), String> {
        let actual = self.algorithm.digest_hex(data);
        if actual == self.digest {
            return Ok(());
        }
        Err(format!(
            "{} checksum {actual} does not match {CHECKSUMS} line {} ({}): the file was changed \
             after ILMT produced the snapshot",
            self.algorithm.name(),
            self.line,
            self.digest
        ))
    }

    /// The listed file's name without folders.
    pub fn base_name(&self) -> &str {
        self.file.rsplit(['/', '\\']).next().unwrap_or(&self.file)
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads `checksums.txt`. Accepted line forms (blank lines and `#` comments skipped):
/// `<hex>  <file>` and `<hex> *<file>` (sha256sum and friends), `SHA256 (<file>) = <hex>` (BSD
/// tag), and `<file>` then `<hex>` separated by `:`, `=`, `,`, `;`, tab or spaces. A line that is
/// none of these refuses the file: `(line, problem)`.
pub fn parse_checksums(text: &str) -> Result<Vec<Checksum>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let parsed = bsd_tag(t)
            .or_else(|| hex_first(t))
            .or_else(|| name_first(t));
        let Some((tag, file, digest)) = parsed else {
            return Err((
                line,
                format!("{t:?} is not a checksum line (expected '<hex>  <file>')"),
            ));
        };
        let algorithm = match tag {
            Some(tag) => Algorithm::from_tag(tag)
                .ok_or_else(|| (line, format!("unknown checksum algorithm {tag:?}")))?,
            None => Algorithm::from_hex_len(digest.len()).ok_or_else(|| {
                (
                    line,
                    format!(
                        "a checksum of {} hex digits matches no known algorithm",
                        digest.len()
                    ),
                )
            })?,
        };
        if Algorithm::from_hex_len(digest.len()) != Some(algorithm) {
            return Err((
                line,
                format!("the digest is not a {} digest", algorithm.name()),
            ));
        }
        let file = file.trim();
        if file.is_empty() {
            return Err((line, "no file name".to_string()));
        }
        out.push(Checksum {
            line,
            file: file.to_string(),
            algorithm,
            digest: digest.to_ascii_lowercase(),
        });
    }
    Ok(out)
}

/// `SHA256 (file) = hex`
fn bsd_tag(t: &str) -> Option<(Option<&str>, &str, &str)> {
    let (tag, rest) = t.split_once(" (")?;
    let (file, digest) = rest.rsplit_once(") = ")?;
    let digest = digest.trim();
    (is_hex(digest) && !tag.contains(' ')).then_some((Some(tag), file, digest))
}

/// `hex  file` / `hex *file`
fn hex_first(t: &str) -> Option<(Option<&str>, &str, &str)> {
    let (digest, rest) = t.split_once([' ', '\t'])?;
    if !is_hex(digest) || Algorithm::from_hex_len(digest.len()).is_none() {
        return None;
    }
    let file = rest.trim_start();
    let file = file.strip_prefix('*').unwrap_or(file);
    Some((None, file, digest))
}

/// `file: hex`, `file = hex`, `file,hex`, `file;hex`, `file<TAB>hex`, `file hex`
fn name_first(t: &str) -> Option<(Option<&str>, &str, &str)> {
    let (file, digest) = t.rsplit_once([':', '=', ',', ';', '\t', ' '])?;
    let digest = digest.trim();
    let file = file.trim_end_matches([':', '=', ',', ';', '\t', ' ']);
    (is_hex(digest) && Algorithm::from_hex_len(digest.len()).is_some())
        .then_some((None, file, digest))
}

/// What `data_condition.txt` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataCondition {
    pub ilmt_version: Option<String>,
    pub start: Option<CivilDate>,
    pub end: Option<CivilDate>,
    pub pvu_table_version: Option<String>,
    pub catalog_version: Option<String>,
    /// English column names per file (file name lower-cased), in order.
    pub columns: HashMap<String, Vec<String>>,
    /// Lines that were neither blank, nor a date, version or column list (statements included).
    pub unrecognized: Vec<usize>,
    /// ILMT's statements about the data, in file order (see [`Statement`]).
    pub statements: Vec<Statement>,
}

/// A `key: value` of `data_condition.txt` that is not a date, version or column list: what ILMT
/// says about the data (import status, recalculation, disconnected computers, data accuracy, the
/// computer group, filters). In the block layout (`Data accuracy:` then one indented line per
/// value) each value line is one statement under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// 1-based line of the value.
    pub line: usize,
    pub key: String,
    pub value: String,
}

fn words(key: &str) -> Vec<String> {
    key.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Start,
    End,
    Period,
    PvuTable,
    Catalog,
    IlmtVersion,
    File,
    Columns,
}

fn classify_key(key: &str) -> Option<Key> {
    if key.to_lowercase().contains(".csv") {
        return None;
    }
    let w = words(key);
    let has = |s: &str| w.iter().any(|x| x == s);
    let dateish = has("date") || has("period") || has("day");
    if has("catalog") || has("catalogue") {
        return Some(Key::Catalog);
    }
    if has("pvu") {
        return Some(Key::PvuTable);
    }
    if has("start") && dateish || w == ["from"] {
        return Some(Key::Start);
    }
    if has("end") && dateish || w == ["to"] {
        return Some(Key::End);
    }
    if has("period") || has("range") {
        return Some(Key::Period);
    }
    // `Audit snapshot generated in:` names the product and version that made the snapshot.
    if has("generated") && has("in") {
        return Some(Key::IlmtVersion);
    }
    if has("version")
        && (w.len() == 1
            || [
                "ilmt",
                "lmt",
                "license",
                "metric",
                "tool",
                "bigfix",
                "inventory",
                "application",
                "server",
                "product",
            ]
            .iter()
            .any(|k| has(k)))
    {
        return Some(Key::IlmtVersion);
    }
    if has("columns") || has("column") || has("headers") {
        return Some(Key::Columns);
    }
    if has("file") || has("report") {
        return Some(Key::File);
    }
    None
}

/// Splits `key: value`, `key = value` or `key<TAB>value`.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let at = line.find([':', '=', '\t'])?;
    let (k, v) = line.split_at(at);
    Some((k.trim(), v.get(1..)?.trim()))
}

fn csv_name(text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches(':').trim();
    let lower = t.to_lowercase();
    (lower.ends_with(".csv") && !t.contains(' ')).then_some(lower)
}

/// A list of column names on one line: separated by `,`, `;`, tab or `|`, whichever occurs.
fn split_list(value: &str) -> Vec<String> {
    let sep = [';', '\t', '|']
        .into_iter()
        .find(|s| value.contains(*s))
        .unwrap_or(',');
    value
        .split(sep)
        .map(|s| s.trim().trim_matches('"').trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `3. Row No.`, `- Row No.`, `* Row No.` → `Row No.`
fn strip_bullet(line: &str) -> &str {
    let t = line.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let t = if digits > 0 {
        let rest = &t[digits..];
        rest.strip_prefix(['.', ')', ':'])
            .map(str::trim_start)
            .filter(|r| !r.is_empty())
            .unwrap_or(t)
    } else {
        t
    };
    t.strip_prefix(['-', '*', '•']).map_or(t, str::trim_start)
}

/// A date in a `data_condition.txt` value: a date, or a date and time (`2025-04-01 08:15:00`,
/// `May 5, 2025 6:28:58 AM`: the time of day is dropped).
fn date_value(v: &str) -> Option<CivilDate> {
    parse_date(v)
        .or_else(|| parse_time(v).map(|t| t.date()))
        .or_else(|| {
            let mut words: Vec<&str> = v.split_whitespace().collect();
            if words
                .last()
                .is_some_and(|w| w.eq_ignore_ascii_case("am") || w.eq_ignore_ascii_case("pm"))
            {
                words.pop();
            }
            let time = words.pop()?;
            let is_time = time.contains(':')
                && time
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b':' || b == b'.');
            is_time.then(|| parse_date(&words.join(" "))).flatten()
        })
}

/// The version in a version value: `IBM License Metric Tool 9.2.24.0-20210420-1604` gives
/// `9.2.24.0-20210420-1604` (the last word that starts with a digit and holds a dot); a value
/// without one is kept whole.
fn version_value(v: &str) -> String {
    v.split_whitespace()
        .rev()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))
        .unwrap_or(v)
        .to_string()
}

/// Keys whose value may stand on the indented line(s) below them.
fn takes_value(key: Key) -> bool {
    matches!(
        key,
        Key::Start | Key::End | Key::Period | Key::PvuTable | Key::Catalog | Key::IlmtVersion
    )
}

/// What the indented lines below a `key:` line (with nothing after the colon) are the value of.
enum Block {
    /// A date or version: the first value line.
    Value { key: Key, line: usize, filled: bool },
    /// A statement: every value line.
    Statement(String),
}

/// A column list given one name per line, and the indentation of its names once seen.
struct Listing {
    file: String,
    indent: Option<usize>,
}

/// Reads `data_condition.txt`.
///
/// Two layouts are read. The one ILMT 9.2 writes (seen in a public snapshot of 9.2.24) puts each
/// key alone on a line ending in `:` and its value(s) on the tab-indented lines below (`Start
/// Date:` / `\tApr 25, 2021`), and the column lists under `CSV Files Column Names:` as an indented
/// file name with its columns indented once more. The designed alternative puts `key: value` (or
/// `=`, or a tab) on one line.
///
/// Keys are recognized by their words: start/end date (or `from`/`to`, or a `period` with two
/// dates), the ILMT version (`Audit snapshot generated in`, `License Metric Tool version`), PVU
/// table version, (software) catalog version. Column lists are a file name ending in `.csv`
/// followed by its English column names, either on the same line after `:` (separated by `,`, `;`,
/// tab or `|`) or one per line (optionally numbered or bulleted) until a blank line, the next key,
/// or a line indented less than the names; a `File: x.csv` line followed by `Columns: ...` works
/// too. Any other `key: value` is kept as a [`Statement`]. A date that cannot be read, or a date key
/// without a value, refuses the file: `(line, problem)`.
pub fn parse_data_condition(text: &str) -> Result<DataCondition, (usize, String)> {
    let mut dc = DataCondition::default();
    // The file whose columns are being listed one per line, if any.
    let mut listing: Option<Listing> = None;
    // The file named by a `File:` line, waiting for its `Columns:`.
    let mut pending_file: Option<String> = None;
    // A `key:` line with its value below it, and the key's indentation.
    let mut block: Option<(Block, usize)> = None;
    let bad_date = |line: usize, v: &str| {
        (
            line,
            format!("{v:?} is not a date (accepted: {ACCEPTED_DATE_FORMS})"),
        )
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim_start_matches('\u{feff}');
        let t = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        if t.is_empty() {
            if let Some((b, _)) = block.take() {
                end_block(&b, &mut dc, bad_date)?;
            }
            listing = None;
            continue;
        }
        if let Some((b, key_indent)) = &mut block {
            if indent > *key_indent {
                match b {
                    Block::Value { key, filled, .. } if !*filled => {
                        *filled = true;
                        set_value(&mut dc, *key, t, line, bad_date)?;
                    }
                    Block::Value { .. } => dc.unrecognized.push(line),
                    Block::Statement(key) => {
                        dc.unrecognized.push(line);
                        dc.statements.push(Statement {
                            line,
                            key: key.clone(),
                            value: t.to_string(),
                        });
                    }
                }
                continue;
            }
            if let Some((b, _)) = block.take() {
                end_block(&b, &mut dc, bad_date)?;
            }
        }
        if listing
            .as_ref()
            .and_then(|l| l.indent)
            .is_some_and(|names| indent < names)
        {
            listing = None;
        }
        // `pvu_sub_capacity.csv` alone (or with a trailing ':'): a list follows.
        if let Some(file) = csv_name(t) {
            dc.columns.insert(file.clone(), Vec::new());
            listing = Some(Listing { file, indent: None });
            continue;
        }
        if let Some((k, v)) = key_value(t) {
            if let Some(file) = csv_name(k) {
                let list = split_list(v);
                dc.columns.insert(file.clone(), list.clone());
                listing = list.is_empty().then_some(Listing { file, indent: None });
                continue;
            }
            if let Some(key) = classify_key(k) {
                listing = None;
                if v.is_empty() && takes_value(key) {
                    let b = Block::Value {
                        key,
                        line,
                        filled: false,
                    };
                    block = Some((b, indent));
                    continue;
                }
                match key {
                    Key::File => match csv_name(v) {
                        Some(file) => pending_file = Some(file),
                        None => dc.unrecognized.push(line),
                    },
                    Key::Columns => match pending_file.take() {
                        Some(file) => {
                            let list = split_list(v);
                            listing = list.is_empty().then(|| Listing {
                                file: file.clone(),
                                indent: None,
                            });
                            dc.columns.insert(file, list);
                        }
                        None => dc.unrecognized.push(line),
                    },
                    _ => set_value(&mut dc, key, v, line, bad_date)?,
                }
                continue;
            }
            if listing.is_none() {
                dc.unrecognized.push(line);
                if v.is_empty() {
                    block = Some((Block::Statement(k.to_string()), indent));
                } else {
                    dc.statements.push(Statement {
                        line,
                        key: k.to_string(),
                        value: v.to_string(),
                    });
                }
                continue;
            }
        }
        match &mut listing {
            Some(l) => {
                l.indent.get_or_insert(indent);
                let name = strip_bullet(t).to_string();
                if let Some(list) = dc.columns.get_mut(&l.file) {
                    list.push(name);
                }
            }
            None => dc.unrecognized.push(line),
        }
    }
    if let Some((b, _)) = block.take() {
        end_block(&b, &mut dc, bad_date)?;
    }
    Ok(dc)
}

/// Sets a date or version key from its value.
fn set_value(
    dc: &mut DataCondition,
    key: Key,
    v: &str,
    line: usize,
    bad_date: impl Fn(usize, &str) -> (usize, String),
) -> Result<(), (usize, String)> {
    match key {
        Key::Start => dc.start = Some(date_value(v).ok_or_else(|| bad_date(line, v))?),
        Key::End => dc.end = Some(date_value(v).ok_or_else(|| bad_date(line, v))?),
        Key::Period => {
            let parts: Vec<&str> = [" - ", " – ", " to ", " .. ", "..", " / "]
                .iter()
                .find_map(|sep| v.split_once(sep))
                .map(|(a, b)| vec![a, b])
                .unwrap_or_default();
            let [a, b] = parts.as_slice() else {
                return Err(bad_date(line, v));
            };
            dc.start = Some(date_value(a).ok_or_else(|| bad_date(line, a))?);
            dc.end = Some(date_value(b).ok_or_else(|| bad_date(line, b))?);
        }
        Key::PvuTable => dc.pvu_table_version = Some(v.to_string()),
        Key::Catalog => dc.catalog_version = Some(v.to_string()),
        Key::IlmtVersion => dc.ilmt_version = Some(version_value(v)),
        Key::File | Key::Columns => dc.unrecognized.push(line),
    }
    Ok(())
}

/// A block ends: a date key that got no value refuses the file.
fn end_block(
    b: &Block,
    dc: &mut DataCondition,
    bad_date: impl Fn(usize, &str) -> (usize, String),
) -> Result<(), (usize, String)> {
    match b {
        Block::Value {
            key: Key::Start | Key::End | Key::Period,
            line,
            filled: false,
        } => Err(bad_date(*line, "")),
        Block::Value {
            line,
            filled: false,
            ..
        } => {
            dc.unrecognized.push(*line);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An audit snapshot zip. `aliases` maps the English column names (and, when `data_condition.txt`
/// has no list for `pvu_sub_capacity.csv`, the headers themselves) to fields.
pub fn parse_snapshot(
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
    let zip_error = |p: ZipProblem| ImportError {
        file: match &p.member {
            Some(m) => format!("{file_name}!{m}"),
            None => file_name.to_string(),
        },
        line: None,
        column: None,
        field: None,
        problem: p.problem,
    };
    let member_error = |member: &str, line: Option<usize>, problem: String| ImportError {
        file: format!("{file_name}!{member}"),
        line,
        column: None,
        field: None,
        problem,
    };
    let archive = Archive::open(bytes, limits).map_err(zip_error)?;
    for required in [CHECKSUMS, DATA_CONDITION, PVU_SUB_CAPACITY] {
        if archive.find(required).is_none() {
            return Err(ImportError::file(
                file_name,
                format!("no {required} in the archive: not an ILMT audit snapshot, or incomplete"),
            ));
        }
    }
    let mut budget = limits.max_total_uncompressed;
    let read = |name: &str, budget: &mut usize| -> Result<Vec<u8>, ImportError> {
        let entry = archive
            .find(name)
            .ok_or_else(|| ImportError::file(file_name, format!("no {name} in the archive")))?;
        archive.read(entry, limits, budget).map_err(zip_error)
    };

    // 1. Verify every file checksums.txt lists; keep the two we read further.
    let checksums_bytes = read(CHECKSUMS, &mut budget)?;
    let checksums_text = decode(&format!("{file_name}!{CHECKSUMS}"), &checksums_bytes)?;
    let checksums = parse_checksums(&checksums_text)
        .map_err(|(line, problem)| member_error(CHECKSUMS, Some(line), problem))?;
    let mut kept: HashMap<&str, Vec<u8>> = HashMap::new();
    let mut warnings = Vec::new();
    for sum in &checksums {
        let base = sum.base_name();
        if archive.find(base).is_none() {
            return Err(member_error(
                CHECKSUMS,
                Some(sum.line),
                format!("lists {:?}, which is not in the archive", sum.file),
            ));
        }
        let data = read(base, &mut budget)?;
        sum.verify(&data)
            .map_err(|problem| member_error(base, None, problem))?;
        for wanted in [DATA_CONDITION, PVU_SUB_CAPACITY] {
            if base.eq_ignore_ascii_case(wanted) {
                kept.insert(wanted, data.clone());
            }
        }
    }
    for wanted in [DATA_CONDITION, PVU_SUB_CAPACITY] {
        if !kept.contains_key(wanted) {
            return Err(member_error(
                CHECKSUMS,
                None,
                format!("does not list {wanted}: its integrity cannot be verified"),
            ));
        }
    }
    for entry in archive.entries() {
        let base = entry.base_name();
        let listed = checksums
            .iter()
            .any(|s| s.file.rsplit(['/', '\\']).next() == Some(base));
        if !listed && !NOT_CHECKSUMMED.iter().any(|n| n.eq_ignore_ascii_case(base)) {
            warnings.push(ImportWarning::new(
                None,
                Some(&entry.name),
                format!("not listed in {CHECKSUMS}: not verified and not used"),
            ));
        }
    }

    // 2. data_condition.txt
    let dc_name = format!("{file_name}!{DATA_CONDITION}");
    let dc_bytes = kept.remove(DATA_CONDITION).unwrap_or_default();
    let dc_text = decode(&dc_name, &dc_bytes)?;
    let dc = parse_data_condition(&dc_text)
        .map_err(|(line, problem)| member_error(DATA_CONDITION, Some(line), problem))?;
    if dc.start.is_none() || dc.end.is_none() {
        warnings.push(ImportWarning::new(
            None,
            Some(DATA_CONDITION),
            "no start or end date found: the snapshot's period is unknown",
        ));
    }
    if let (Some(s), Some(e)) = (dc.start, dc.end) {
        if e < s {
            return Err(member_error(
                DATA_CONDITION,
                None,
                format!("the period ends ({e}) before it starts ({s})"),
            ));
        }
    }
    if !dc.unrecognized.is_empty() {
        let shown: Vec<String> = dc
            .unrecognized
            .iter()
            .take(10)
            .map(usize::to_string)
            .collect();
        warnings.push(ImportWarning::new(
            None,
            Some(DATA_CONDITION),
            format!("lines not understood (ignored): {}", shown.join(", ")),
        ));
    }

    // 3. pvu_sub_capacity.csv
    let pvu_name = format!("{file_name}!{PVU_SUB_CAPACITY}");
    let pvu_bytes = kept.remove(PVU_SUB_CAPACITY).unwrap_or_default();
    let pvu_text = decode(&pvu_name, &pvu_bytes)?;
    let (computers, pvu_warnings) = computers_from_pvu(
        &pvu_name,
        &pvu_text,
        dc.columns.get(PVU_SUB_CAPACITY).map(Vec::as_slice),
        aliases,
        limits,
    )?;
    warnings.extend(pvu_warnings);

    let mut import = Import::new(ImportSource::AuditSnapshot, file_name, sha256_hex(bytes));
    import.format_version = dc.ilmt_version;
    import.period_start = dc.start;
    import.period_end = dc.end;
    import.pvu_table_version = dc.pvu_table_version;
    import.catalog_version = dc.catalog_version;
    import.computers = computers;
    import.warnings = warnings;
    Ok(import)
}

/// One computer per (computer name, server name) of `pvu_sub_capacity.csv`.
fn computers_from_pvu(
    file: &str,
    text: &str,
    english: Option<&[String]>,
    aliases: &Aliases,
    limits: &Limits,
) -> Result<(Vec<IlmtComputer>, Vec<ImportWarning>), ImportError> {
    let mut reader = CsvReader::new(file, text, limits);
    let mut header = Record::default();
    if !reader.next_record(&mut header)? {
        return Err(ImportError::file(file, "the file is empty (no header row)"));
    }
    let mut warnings = Vec::new();
    let names: Vec<String> = match english {
        Some(list) if list.len() == header.len() => list.to_vec(),
        Some(list) => {
            return Err(ImportError {
                file: file.to_string(),
                line: Some(header.line),
                column: None,
                field: None,
                problem: format!(
                    "{} columns, but data_condition.txt lists {} English column names for it",
                    header.len(),
                    list.len()
                ),
            })
        }
        None => {
            warnings.push(ImportWarning::new(
                Some(header.line),
                None,
                "data_condition.txt has no English column list for pvu_sub_capacity.csv; \
                 headers matched through the alias table instead",
            ));
            header.iter().map(str::to_string).collect()
        }
    };
    let map = map_columns(
        file,
        header.line,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (i, n.as_str(), aliases.field(n))),
        &[Field::Name, Field::ServerName],
    )?;
    // The product-level columns (metric quantity, product name, ...) are expected and unused.
    warnings.extend(
        map.warnings
            .into_iter()
            .filter(|w| !w.message.starts_with("columns not used")),
    );
    let name_col = map
        .columns
        .iter()
        .find(|(_, f, _)| *f == Field::Name)
        .map(|(i, _, _)| *i)
        .unwrap_or(0);
    let server_col = map
        .columns
        .iter()
        .find(|(_, f, _)| *f == Field::ServerName)
        .map(|(i, _, _)| *i)
        .unwrap_or(0);

    struct Seen {
        index: usize,
        values: HashMap<Field, (Value, usize)>,
    }
    let mut computers: Vec<IlmtComputer> = Vec::new();
    let mut seen: HashMap<(String, String), Seen> = HashMap::new();
    let mut repeated = RepeatedWarnings::default();
    let mut nameless = 0usize;
    let mut record = Record::default();
    let vocab = aliases.vocabulary();
    while reader.next_record(&mut record)? {
        if record.len() != header.len() {
            return Err(ImportError {
                file: file.to_string(),
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
        let name = record.get(name_col).unwrap_or("").trim();
        if name.is_empty() || name == "-" {
            nameless += 1;
            continue;
        }
        let key = (
            normalize(name),
            normalize(record.get(server_col).unwrap_or("")),
        );
        let entry = seen.entry(key).or_insert_with(|| {
            computers.push(IlmtComputer {
                source_row: record.line,
                ..IlmtComputer::default()
            });
            Seen {
                index: computers.len() - 1,
                values: HashMap::new(),
            }
        });
        for (i, field, header_name) in &map.columns {
            let cell = record.get(*i).unwrap_or("");
            let value = match parse_cell(field.kind(), cell, vocab) {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(CellProblem::Malformed(problem)) => {
                    let (line, column) = reader.place(&record, *i);
                    return Err(ImportError {
                        file: file.to_string(),
                        line: Some(line),
                        column: Some(column),
                        field: Some(header.get(*i).unwrap_or(header_name).trim().to_string()),
                        problem,
                    });
                }
                Err(CellProblem::Unknown(problem)) => {
                    repeated.add(header_name, format!("{problem}; left unknown"), record.line);
                    continue;
                }
            };
            match entry.values.get(field) {
                None => {
                    entry.values.insert(*field, (value.clone(), record.line));
                    if let Some(c) = computers.get_mut(entry.index) {
                        apply(c, *field, value);
                    }
                }
                Some((first, first_line)) if *first != value => {
                    repeated.add(
                        header_name,
                        format!(
                            "computer {name:?}: rows disagree ({} on line {first_line}, {} on \
                             line {}); the first is kept, nothing is summed",
                            show(first),
                            show(&value),
                            record.line
                        ),
                        record.line,
                    );
                }
                Some(_) => {}
            }
        }
    }
    if nameless > 0 {
        warnings.push(ImportWarning::new(
            None,
            None,
            format!("{nameless} row(s) without a computer name skipped (server-level rows)"),
        ));
    }
    warnings.extend(repeated.into_warnings());
    Ok((computers, warnings))
}

fn show(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Text(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.to_string(),
        Value::Ips(ips) => ips.join(" "),
        Value::ComputerType(t) => format!("{t:?}"),
        Value::Status(s) => format!("{s:?}"),
        Value::PvuChange { changed, value } => match value {
            Some(v) => v.to_string(),
            None => changed.to_string(),
        },
    }
}

/// MD5 (RFC 1321), for `checksums.txt` files that use it. Not for anything security-relevant:
/// it only recognizes a changed file, as the snapshot's checksums intend.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(|sin(i + 1)| * 2^32), computed once (exact in IEEE double, checked by tests).
    let k: Vec<u32> = (0u32..64)
        .map(|i: u32| (f64::from(i + 1).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in message.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (w, bytes) in m.iter_mut().zip(chunk.chunks_exact(4)) {
            *w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (o, s) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::zip::write::{zip, Member};
    use super::*;
    use crate::ilmt::model::ComputerType;

    #[test]
    fn md5_rfc1321_vectors() {
        let cases = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&md5(input.as_bytes())), want, "{input:?}");
        }
    }

    #[test]
    fn checksum_line_forms() {
        let sha = Algorithm::Sha256.digest_hex(b"x");
        let md5x = Algorithm::Md5.digest_hex(b"x");
        let sha1 = Algorithm::Sha1.digest_hex(b"x");
        let text = format!(
            "# made by ILMT\n{sha}  pvu_sub_capacity.csv\n{sha} *data_condition.txt\n\
             SHA256 (audit_trails.csv) = {sha}\nparts.csv: {}\nsummary.csv,{md5x}\n\
             cloud paks.csv;{sha1}\n\n",
            sha.to_uppercase()
        );
        let got = parse_checksums(&text);
        let Ok(got) = got else {
            panic!("{got:?}");
        };
        let files: Vec<(&str, Algorithm, usize)> = got
            .iter()
            .map(|c| (c.file.as_str(), c.algorithm, c.line))
            .collect();
        assert_eq!(
            files,
            vec![
                ("pvu_sub_capacity.csv", Algorithm::Sha256, 2),
                ("data_condition.txt", Algorithm::Sha256, 3),
                ("audit_trails.csv", Algorithm::Sha256, 4),
                ("parts.csv", Algorithm::Sha256, 5),
                ("summary.csv", Algorithm::Md5, 6),
                ("cloud paks.csv", Algorithm::Sha1, 7),
            ]
        );
        assert!(got.iter().all(|c| c.digest == c.digest.to_lowercase()));
        let bad = [
            ("just some words\n", 1, "not a checksum line"),
            ("abc123  file.csv\n", 1, "not a checksum line"),
            (&format!("\nMD5 (x.csv) = {sha}\n"), 2, "not a MD5 digest"),
            (
                &format!("WHIRLPOOL (x.csv) = {sha}\n"),
                1,
                "unknown checksum algorithm",
            ),
        ];
        for (text, line, problem) in bad {
            let err = parse_checksums(text).err();
            assert!(
                err.as_ref()
                    .is_some_and(|(l, p)| *l == line && p.contains(problem)),
                "{text:?}: {err:?}"
            );
        }
    }

    #[test]
    fn data_condition_layouts() {
        let same_line = "License Metric Tool version: 9.2.38.0\nStart date: 2025-01-01\n\
                         End date: 2025-03-31\nPVU table version: 2025-02-12\n\
                         Software catalog version: 10.0.2.0\n\n\
                         pvu_sub_capacity.csv: Row No., Publisher, Computer\n";
        let one_per_line = "Data condition of the audit snapshot\r\n\
                            Reporting period: 2025-01-01 - 2025-03-31\r\n\
                            ILMT version = 9.2.38.0\r\n\r\n\
                            Columns of pvu_sub_capacity.csv (English):\r\n\
                            pvu_sub_capacity.csv\r\n1. Row No.\r\n2. Publisher\r\n3. Computer\r\n\r\n\
                            audit_trails.csv:\r\n- Date\r\n- User\r\n";
        let file_then_columns = "From: 1 January 2025\nTo: March 31, 2025\n\
                                 File: PVU_SUB_CAPACITY.CSV\nColumns: Row No.;Publisher;Computer\n";
        for text in [same_line, one_per_line, file_then_columns] {
            let dc = parse_data_condition(text);
            let Ok(dc) = dc else {
                panic!("{text:?}: {dc:?}");
            };
            assert_eq!(
                dc.start.map(|d| d.to_string()).as_deref(),
                Some("2025-01-01")
            );
            assert_eq!(dc.end.map(|d| d.to_string()).as_deref(), Some("2025-03-31"));
            assert_eq!(
                dc.columns.get("pvu_sub_capacity.csv").map(Vec::as_slice),
                Some(&["Row No.".to_string(), "Publisher".into(), "Computer".into()][..]),
                "{text:?}"
            );
        }
        let dc = parse_data_condition(one_per_line).unwrap_or_default();
        assert_eq!(dc.ilmt_version.as_deref(), Some("9.2.38.0"));
        assert_eq!(dc.columns.get("audit_trails.csv").map(Vec::len), Some(2));
        assert_eq!(dc.unrecognized, vec![1, 5]);
        let dc = parse_data_condition(same_line).unwrap_or_default();
        assert_eq!(dc.pvu_table_version.as_deref(), Some("2025-02-12"));
        assert_eq!(dc.catalog_version.as_deref(), Some("10.0.2.0"));
        let err = parse_data_condition("ILMT version: 9.2\nStart date: 31/03/2025\n").err();
        assert!(err.is_some_and(|(line, p)| line == 2 && p.contains("not a date")));
    }

    /// The layout ILMT 9.2 writes: each key alone on its line, its value(s) indented below, the
    /// column lists under one heading with the names indented twice. Values made up.
    const BLOCK_LAYOUT: &str = "Audit snapshot generated in:\n\
        \tIBM License Metric Tool 9.2.36.0-20240612-1402\n\
        Audit snapshot generated by:\n\tlicensing@bank.example\n\
        Audit snapshot generated at:\n\tJul 2, 2025 7:05:11 AM\n\
        Original name of the attached file:\n\tNo file attached\n\
        Start Date:\n\tApr 1, 2025\n\
        End Date:\n\tJun 30, 2025\n\
        Time Zone:\n\tGMT\n\
        Computer Group Name:\n\tAll Computers\n\
        PVU Table Version:\n\tMay 20, 2025\n\
        Catalog Version:\n\t1402233 (Jun 3, 2025 9:12 AM)\n\
        CSV Files Column Names:\n\
        \taudit_trails.csv\n\t\tRow No.\n\t\tModification Type\n\
        \tpvu_sub_capacity.csv\n\t\tRow No.\n\t\tPublisher\n\t\tComputer\n\
        Import Status:\n\tThe last data import started at Jul 2, 2025 5:00:00 AM finished successfully.\n\
        Number of disconnected computers:\n\t3 (2%).\n\
        Data accuracy:\n\
        \tComputers with delayed data upload status: 4%.\n\
        \tComputers with outdated capacity scans: 0%.\n\
        The above data accuracy statistic is an average throughout the period.\n";

    #[test]
    fn data_condition_block_layout() {
        let dc = parse_data_condition(BLOCK_LAYOUT);
        let Ok(dc) = dc else {
            panic!("{dc:?}");
        };
        assert_eq!(
            dc.start.map(|d| d.to_string()).as_deref(),
            Some("2025-04-01")
        );
        assert_eq!(dc.end.map(|d| d.to_string()).as_deref(), Some("2025-06-30"));
        assert_eq!(dc.ilmt_version.as_deref(), Some("9.2.36.0-20240612-1402"));
        assert_eq!(dc.pvu_table_version.as_deref(), Some("May 20, 2025"));
        assert_eq!(
            dc.catalog_version.as_deref(),
            Some("1402233 (Jun 3, 2025 9:12 AM)")
        );
        assert_eq!(
            dc.columns.get("pvu_sub_capacity.csv").map(Vec::as_slice),
            Some(&["Row No.".to_string(), "Publisher".into(), "Computer".into()][..]),
            "the list ends where the indentation does"
        );
        assert_eq!(dc.columns.get("audit_trails.csv").map(Vec::len), Some(2));
        let statements: Vec<(usize, &str, &str)> = dc
            .statements
            .iter()
            .map(|s| (s.line, s.key.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            statements,
            vec![
                (4, "Audit snapshot generated by", "licensing@bank.example"),
                (6, "Audit snapshot generated at", "Jul 2, 2025 7:05:11 AM"),
                (14, "Time Zone", "GMT"),
                (16, "Computer Group Name", "All Computers"),
                (
                    30,
                    "Import Status",
                    "The last data import started at Jul 2, 2025 5:00:00 AM finished successfully."
                ),
                (32, "Number of disconnected computers", "3 (2%)."),
                (
                    34,
                    "Data accuracy",
                    "Computers with delayed data upload status: 4%."
                ),
                (
                    35,
                    "Data accuracy",
                    "Computers with outdated capacity scans: 0%."
                ),
            ]
        );
        // A date key whose value line is missing, or holds no date, names the key's line.
        let err = parse_data_condition("Start Date:\nEnd Date:\n\tJun 30, 2025\n").err();
        assert!(err.is_some_and(|(line, p)| line == 1 && p.contains("\"\" is not a date")));
        let err = parse_data_condition("End Date:\n\tsoon\n").err();
        assert!(err.is_some_and(|(line, p)| line == 2 && p.contains("\"soon\" is not a date")));
        // A date with a time of day, as ILMT writes the generation time.
        let dc = parse_data_condition("Start Date: May 5, 2025 6:28:58 AM\n").unwrap_or_default();
        assert_eq!(
            dc.start.map(|d| d.to_string()).as_deref(),
            Some("2025-05-05")
        );
    }

    fn snapshot_zip(pvu: &str, tamper: bool, extra: &[(&str, &str)]) -> Vec<u8> {
        let dc = "License Metric Tool version: 9.2.38.0\nStart date: 2025-01-01\n\
                  End date: 2025-03-31\n\n\
                  pvu_sub_capacity.csv: Product Name, Server Name, Partition Cores, \
                  Computer, Computer Deleted, Computer Last Seen\n";
        let mut sums = format!(
            "{}  data_condition.txt\n{}  pvu_sub_capacity.csv\n",
            Algorithm::Sha256.digest_hex(dc.as_bytes()),
            Algorithm::Sha256.digest_hex(pvu.as_bytes())
        );
        for (name, body) in extra {
            sums.push_str(&format!(
                "{}  {name}\n",
                Algorithm::Sha256.digest_hex(body.as_bytes())
            ));
        }
        let pvu_stored = if tamper {
            pvu.replacen("2", "3", 1)
        } else {
            pvu.to_string()
        };
        let mut members = vec![
            Member {
                name: "checksums.txt",
                data: sums.as_bytes(),
                deflate: false,
                declared_size: None,
            },
            Member {
                name: "data_condition.txt",
                data: dc.as_bytes(),
                deflate: true,
                declared_size: None,
            },
            Member {
                name: "pvu_sub_capacity.csv",
                data: pvu_stored.as_bytes(),
                deflate: true,
                declared_size: None,
            },
        ];
        for (name, body) in extra {
            members.push(Member {
                name,
                data: body.as_bytes(),
                deflate: true,
                declared_size: None,
            });
        }
        zip(&members)
    }

    #[test]
    fn snapshot_takes_per_computer_values_once() {
        // Localized (German) headers, mapped through data_condition's English names by position.
        let pvu =
            "Produktname,Servername,Partitionskerne,Computer,Computer gelöscht,Zuletzt gesehen\n\
                   Db2,IBM 9080-HEX 78ABCDE,2,lpar1,Nein,2025-03-30 10:00:00\n\
                   MQ,IBM 9080-HEX 78ABCDE,2,lpar1,Nein,2025-03-30 10:00:00\n\
                   WAS,IBM 9080-HEX 78ABCDE,4,lpar1,Nein,2025-03-30 10:00:00\n\
                   Db2,TLM_VM_4236ac43,1,vm7,Ja,2025-02-01 08:00:00\n\
                   Db2,,,,,\n";
        let bytes = snapshot_zip(pvu, false, &[("audit_trails.csv", "Date,User\n")]);
        let import = parse_snapshot(
            "audit_snapshot_20250401_0815.zip",
            &bytes,
            Aliases::builtin(),
            &Limits::default(),
        );
        let Ok(import) = import else {
            panic!("{:?}", import.err());
        };
        assert_eq!(import.source, ImportSource::AuditSnapshot);
        assert_eq!(import.format_version.as_deref(), Some("9.2.38.0"));
        assert_eq!(
            import.period_start.map(|d| d.to_string()).as_deref(),
            Some("2025-01-01")
        );
        assert_eq!(import.computers.len(), 2);
        let lpar = &import.computers[0];
        assert_eq!(lpar.name.as_deref(), Some("lpar1"));
        assert_eq!(
            lpar.partition_cores,
            Some(2.0),
            "first row kept, never summed"
        );
        assert_eq!(lpar.is_deleted, Some(false));
        assert_eq!(lpar.source_row, 2);
        let vm = &import.computers[1];
        assert_eq!(vm.is_deleted, Some(true));
        assert!(vm.default_counting());
        assert_eq!(vm.computer_type, None::<ComputerType>);
        let messages: Vec<&str> = import.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("rows disagree (2 on line 2, 4 on line 4)")),
            "{messages:?}"
        );
        assert!(messages
            .iter()
            .any(|m| m.contains("1 row(s) without a computer name")));
    }

    #[test]
    fn snapshot_refusals() {
        let pvu = "Product Name,Server Name,Partition Cores,Computer,Computer Deleted,Computer Last Seen\n\
                   Db2,srv,2,c1,No,2025-03-30 10:00:00\n";
        let run = |bytes: Vec<u8>| {
            parse_snapshot("s.zip", &bytes, Aliases::builtin(), &Limits::default()).err()
        };
        let e = run(snapshot_zip(pvu, true, &[]));
        assert!(
            e.as_ref()
                .is_some_and(|e| e.file == "s.zip!pvu_sub_capacity.csv"
                    && e.problem.contains("does not match checksums.txt line 2")),
            "{e:?}"
        );
        let short = "Product Name,Server Name,Computer\nDb2,srv,c1\n";
        let e = run(snapshot_zip(short, false, &[]));
        assert!(
            e.as_ref().is_some_and(|e| e
                .problem
                .contains("3 columns, but data_condition.txt lists 6")),
            "{e:?}"
        );
        let bad_cell = pvu.replace(",2,c1", ",two,c1");
        let e = run(snapshot_zip(&bad_cell, false, &[]));
        assert!(
            e.as_ref().is_some_and(|e| e.line == Some(2)
                && e.column == Some(9)
                && e.field.as_deref() == Some("Partition Cores")),
            "{e:?}"
        );
        let bomb = "a".repeat(3 << 20);
        let e = run(snapshot_zip(&bomb, false, &[]));
        assert!(
            e.as_ref()
                .is_some_and(|e| e.file == "s.zip!pvu_sub_capacity.csv"
                    && e.problem.contains("possible zip bomb")),
            "{e:?}"
        );
        let no_pvu = zip(&[Member {
            name: "checksums.txt",
            data: b"",
            deflate: false,
            declared_size: None,
        }]);
        let e = run(no_pvu);
        assert!(e.is_some_and(|e| e.problem.contains("no data_condition.txt")));
    }
}
