//! The report folder's manifest: `manifest.json` lists the SHA-256 and size of every output file
//! and every input the report used (ILMT imports with the SHA-256 the aggregator recorded when it
//! imported them, snapshot files); `SHA256SUMS` lists every output and `manifest.json` itself in
//! `sha256sum -c` format. [`check`] verifies a folder's files against both (pure); [`verify`]
//! reads the folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::Handoff;
use super::ReportError;
use crate::ilmt::model::sha256_hex;

/// The `schema` field of `manifest.json`.
pub const MANIFEST_SCHEMA: &str = "subcap.handoff-manifest/1";
pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";
/// The data file of the report, which `report.html` embeds byte for byte.
pub const JSON: &str = "handoff.json";
pub const HTML: &str = "report.html";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    /// As `handoff.json`'s.
    pub generated_at: String,
    /// Every file of the report folder but `manifest.json` and `SHA256SUMS`.
    pub outputs: Vec<FileEntry>,
    pub inputs: Vec<Input>,
}

/// A file of the report folder: its name in the folder, SHA-256 (lower-case hex) and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub sha256: String,
    pub size: u64,
}

impl FileEntry {
    pub fn of(file: &str, bytes: &[u8]) -> FileEntry {
        FileEntry {
            file: file.to_string(),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// An input the report used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Input {
    /// An ILMT import stored by the aggregator; `sha256` is of the file's bytes as imported.
    IlmtImport {
        id: u64,
        file_name: String,
        source: String,
        imported_at: String,
        sha256: String,
    },
    /// A file of `--snapshots DIR`.
    SnapshotFile {
        file_name: String,
        sha256: String,
        size: u64,
    },
}

impl Input {
    pub fn file_name(&self) -> &str {
        match self {
            Input::IlmtImport { file_name, .. } | Input::SnapshotFile { file_name, .. } => {
                file_name
            }
        }
    }

    pub fn sha256(&self) -> &str {
        match self {
            Input::IlmtImport { sha256, .. } | Input::SnapshotFile { sha256, .. } => sha256,
        }
    }
}

/// The inputs of a report: the ILMT imports it used, oldest first, then the snapshot files.
pub fn inputs(h: &Handoff) -> Vec<Input> {
    let imports = h
        .ilmt_imports
        .iter()
        .filter(|i| i.used)
        .map(|i| Input::IlmtImport {
            id: i.id,
            file_name: i.file_name.clone(),
            source: i.source.clone(),
            imported_at: i.imported_at.clone(),
            sha256: i.sha256.clone(),
        });
    let files = h.snapshot_files.iter().map(|f| Input::SnapshotFile {
        file_name: f.file_name.clone(),
        sha256: f.sha256.clone(),
        size: f.size,
    });
    imports.chain(files).collect()
}

/// `SHA256SUMS`: `<sha256>  <file>` per line, as `sha256sum` writes and `sha256sum -c` reads.
pub fn sums(entries: &[FileEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{}  {}\n", e.sha256, e.file))
        .collect()
}

/// A name that stays inside the folder: no separators, not `.` or `..`, printable.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// The outcome of checking a report folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Files whose SHA-256 and size matched.
    pub matched: Vec<String>,
    /// What did not hold, each naming the file.
    pub problems: Vec<String>,
    /// Files in the folder the manifest does not list (not part of the report).
    pub unlisted: Vec<String>,
    /// Inputs checked against a copy (`--inputs DIR`): (file name, matched).
    pub inputs: Vec<(String, bool)>,
    /// Inputs with no copy to check against.
    pub inputs_unchecked: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// A few lines for people: each problem, then what matched.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for p in &self.problems {
            out.push_str(&format!("FAILED: {p}\n"));
        }
        for m in &self.matched {
            out.push_str(&format!("OK: {m}\n"));
        }
        for (name, ok) in &self.inputs {
            let verdict = if *ok { "OK" } else { "FAILED" };
            out.push_str(&format!("{verdict}: input {name}\n"));
        }
        for u in &self.inputs_unchecked {
            out.push_str(&format!("not checked (no copy given): input {u}\n"));
        }
        for u in &self.unlisted {
            out.push_str(&format!("not part of the report: {u}\n"));
        }
        out.push_str(if self.ok() {
            "the report is as it was written\n"
        } else {
            "the report was changed or is incomplete\n"
        });
        out
    }
}

/// Checks a report folder, given as the names of the files in it (`present`) and the bytes of
/// those the manifest and `SHA256SUMS` name (`files`, with those two): each output of the
/// manifest is present with its SHA-256 and size; `SHA256SUMS` lists exactly the outputs and the
/// manifest, with their hashes; `report.html` embeds `handoff.json` byte for byte and names its
/// SHA-256. `inputs` are copies of input files by name (ILMT files, snapshot zips), checked against
/// the manifest's hashes where given. Pure.
pub fn check(
    files: &BTreeMap<String, Vec<u8>>,
    present: &BTreeSet<String>,
    inputs: &BTreeMap<String, String>,
) -> Verification {
    let mut v = Verification::default();
    let Some(manifest_bytes) = files.get(MANIFEST) else {
        v.problems.push(format!("{MANIFEST}: missing"));
        return v;
    };
    let manifest: Manifest = match serde_json::from_slice(manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            v.problems.push(format!("{MANIFEST}: not a manifest: {e}"));
            return v;
        }
    };
    if manifest.schema != MANIFEST_SCHEMA {
        v.problems.push(format!(
            "{MANIFEST}: schema {:?}, this version reads {MANIFEST_SCHEMA:?}",
            manifest.schema
        ));
        return v;
    }
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    for e in &manifest.outputs {
        if !plain_name(&e.file) || e.file == MANIFEST || e.file == SUMS {
            v.problems.push(format!(
                "{MANIFEST}: output {:?} is not a file of the folder",
                e.file
            ));
            continue;
        }
        if !listed.insert(&e.file) {
            v.problems
                .push(format!("{MANIFEST}: {} listed twice", e.file));
            continue;
        }
        match files.get(&e.file) {
            None => v.problems.push(format!("{}: missing", e.file)),
            Some(bytes) => {
                let actual = FileEntry::of(&e.file, bytes);
                if actual.sha256 != e.sha256.to_ascii_lowercase() || actual.size != e.size {
                    v.problems.push(format!(
                        "{}: SHA-256 {} ({} bytes); the manifest says {} ({} bytes)",
                        e.file, actual.sha256, actual.size, e.sha256, e.size
                    ));
                } else {
                    v.matched.push(e.file.clone());
                }
            }
        }
    }
    check_sums(files, &manifest, &mut v);
    check_html(files, &mut v);
    for name in present {
        if !listed.contains(name.as_str()) && name != MANIFEST && name != SUMS {
            v.unlisted.push(name.clone());
        }
    }
    for input in &manifest.inputs {
        let name = input.file_name();
        match inputs.get(name) {
            Some(sha) => {
                let ok = sha.eq_ignore_ascii_case(input.sha256());
                if !ok {
                    v.problems.push(format!(
                        "input {name}: SHA-256 {sha}; the manifest says {}",
                        input.sha256()
                    ));
                }
                v.inputs.push((name.to_string(), ok));
            }
            None => v.inputs_unchecked.push(name.to_string()),
        }
    }
    v
}

/// `SHA256SUMS` lists the manifest and exactly its outputs, with the hashes the files have.
fn check_sums(files: &BTreeMap<String, Vec<u8>>, manifest: &Manifest, v: &mut Verification) {
    let Some(bytes) = files.get(SUMS) else {
        v.problems.push(format!("{SUMS}: missing"));
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        v.problems.push(format!("{SUMS}: not UTF-8 text"));
        return;
    };
    let mut named: BTreeSet<&str> = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        // `<hex>  <name>`; `sha256sum` writes `<hex> *<name>` in binary mode.
        let parsed = line
            .split_once("  ")
            .or_else(|| line.split_once(" *"))
            .filter(|(h, _)| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some((hash, name)) = parsed else {
            v.problems
                .push(format!("{SUMS}: line {line_no}: not `<sha256>  <file>`"));
            continue;
        };
        named.insert(name);
        match files.get(name) {
            None => v
                .problems
                .push(format!("{SUMS}: line {line_no}: {name}: missing")),
            Some(b) => {
                let actual = sha256_hex(b);
                if !actual.eq_ignore_ascii_case(hash) {
                    v.problems.push(format!(
                        "{SUMS}: line {line_no}: {name}: SHA-256 {actual}, listed {hash}"
                    ));
                }
            }
        }
    }
    let expected: BTreeSet<&str> = manifest
        .outputs
        .iter()
        .map(|e| e.file.as_str())
        .chain([MANIFEST])
        .collect();
    for missing in expected.difference(&named) {
        v.problems.push(format!(
            "{SUMS}: does not list {missing}, which the manifest has"
        ));
    }
    for extra in named.difference(&expected) {
        v.problems.push(format!(
            "{SUMS}: lists {extra}, which the manifest does not"
        ));
    }
}

/// The page embeds `handoff.json` unchanged and names its SHA-256.
fn check_html(files: &BTreeMap<String, Vec<u8>>, v: &mut Verification) {
    let (Some(html), Some(json)) = (files.get(HTML), files.get(JSON)) else {
        return;
    };
    let Ok(html) = std::str::from_utf8(html) else {
        v.problems.push(format!("{HTML}: not UTF-8 text"));
        return;
    };
    match super::html::embedded_json(html) {
        Some(embedded) if embedded.as_bytes() == json.as_slice() => {}
        Some(_) => v
            .problems
            .push(format!("{HTML}: the data it embeds differs from {JSON}")),
        None => v
            .problems
            .push(format!("{HTML}: no embedded data block found")),
    }
    let sha = sha256_hex(json);
    if super::html::stated_json_sha256(html) != Some(sha.as_str()) {
        v.problems
            .push(format!("{HTML}: does not name {JSON}'s SHA-256 {sha}"));
    }
}

/// Reads the folder `dir` (its regular files, not below) and [`check`]s it; `inputs`, when given,
/// is a folder holding copies of the inputs (ILMT files, snapshot zips or extracted snapshot
/// folders) to check by name, as [`input_files`] names them.
pub fn verify(dir: &Path, inputs: Option<&Path>) -> Result<Verification, ReportError> {
    let listing = regular_files(dir)?;
    let present: BTreeSet<String> = listing.iter().map(|(n, _)| n.clone()).collect();
    let read = |name: &str| -> Result<Option<Vec<u8>>, ReportError> {
        match listing.iter().find(|(n, _)| n == name) {
            Some((_, path)) => std::fs::read(path).map(Some).map_err(ReportError::io(path)),
            None => Ok(None),
        }
    };
    // The manifest and SHA256SUMS first; then only the files they name (an auditor's folder may
    // hold other, large files: they are listed, not read).
    let mut files = BTreeMap::new();
    for name in [MANIFEST, SUMS] {
        if let Some(b) = read(name)? {
            files.insert(name.to_string(), b);
        }
    }
    let mut named: BTreeSet<String> = [JSON, HTML].iter().map(|s| s.to_string()).collect();
    if let Some(m) = files
        .get(MANIFEST)
        .and_then(|b| serde_json::from_slice::<Manifest>(b).ok())
    {
        named.extend(m.outputs.into_iter().map(|e| e.file));
    }
    if let Some(text) = files.get(SUMS).and_then(|b| std::str::from_utf8(b).ok()) {
        named.extend(
            text.lines()
                .filter_map(|l| l.split_once("  ").or_else(|| l.split_once(" *")))
                .map(|(_, n)| n.to_string()),
        );
    }
    for name in named.iter().filter(|n| plain_name(n)) {
        if let Some(b) = read(name)? {
            files.insert(name.clone(), b);
        }
    }
    let mut copies = BTreeMap::new();
    if let Some(d) = inputs {
        for (name, path) in input_files(d)? {
            copies.insert(name, sha256_file(&path)?.0);
        }
    }
    Ok(check(&files, &present, &copies))
}

/// The regular files directly in `dir`: (name, path), by name.
pub fn regular_files(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, ReportError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ReportError::io(dir))? {
        let entry = entry.map_err(ReportError::io(dir))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(ReportError::io(&path))?;
        if !ft.is_file() {
            continue;
        }
        // A name that is not UTF-8 cannot be a report file; it is listed as it shows.
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push((name, path));
    }
    out.sort();
    Ok(out)
}

/// The files of an inputs folder: those directly in it, then those directly in its sub-folders
/// (an extracted audit snapshot), named `folder/file`; by name.
pub fn input_files(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, ReportError> {
    let mut out = regular_files(dir)?;
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ReportError::io(dir))? {
        let entry = entry.map_err(ReportError::io(dir))?;
        let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        if is_dir {
            subdirs.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    for (sub, path) in subdirs {
        for (name, file) in regular_files(&path)? {
            out.push((format!("{sub}/{name}"), file));
        }
    }
    out.sort();
    Ok(out)
}

/// SHA-256 and size of a file, read in 1 MiB blocks (snapshot zips can be large).
pub fn sha256_file(path: &Path) -> Result<(String, u64), ReportError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(ReportError::io(path))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(ReportError::io(path))?;
        if n == 0 {
            break;
        }
        let block = buf.get(..n).unwrap_or_default();
        ctx.update(block);
        size += n as u64;
    }
    Ok((crate::ilmt::model::hex(ctx.finish().as_ref()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder as `folder::write` lays it out: outputs, manifest, sums.
    fn folder(outputs: &[(&str, &str)], inputs: Vec<Input>) -> BTreeMap<String, Vec<u8>> {
        let mut files: BTreeMap<String, Vec<u8>> = outputs
            .iter()
            .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
            .collect();
        let entries: Vec<FileEntry> = outputs
            .iter()
            .map(|(n, c)| FileEntry::of(n, c.as_bytes()))
            .collect();
        let m = Manifest {
            schema: MANIFEST_SCHEMA.into(),
            generated_at: "2025-11-23T07:00:00Z".into(),
            outputs: entries.clone(),
            inputs,
        };
        let mbytes = serde_json::to_vec_pretty(&m).unwrap();
        let mut all = entries;
        all.push(FileEntry::of(MANIFEST, &mbytes));
        files.insert(MANIFEST.into(), mbytes);
        files.insert(SUMS.into(), sums(&all).into_bytes());
        files
    }

    fn names(files: &BTreeMap<String, Vec<u8>>) -> BTreeSet<String> {
        files.keys().cloned().collect()
    }

    fn sample() -> BTreeMap<String, Vec<u8>> {
        folder(
            &[
                ("hosts.csv", "host_key\r\ndb01\r\n"),
                ("periods.csv", "host_key\r\n"),
            ],
            vec![Input::SnapshotFile {
                file_name: "audit_snapshot_20250401_0815.zip".into(),
                sha256: sha256_hex(b"zip bytes"),
                size: 9,
            }],
        )
    }

    #[test]
    fn an_untouched_folder_verifies() {
        let v = check(&sample(), &names(&sample()), &BTreeMap::new());
        assert!(v.ok(), "{v:?}");
        assert_eq!(v.matched, ["hosts.csv", "periods.csv"]);
        assert_eq!(v.inputs_unchecked, ["audit_snapshot_20250401_0815.zip"]);
        assert!(v.text().ends_with("the report is as it was written\n"));
    }

    #[test]
    fn sums_are_in_sha256sum_format() {
        let s = sums(&[FileEntry::of("a.csv", b"abc")]);
        assert_eq!(
            s,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.csv\n"
        );
    }

    #[test]
    fn every_kind_of_change_is_named() {
        type Change = fn(&mut BTreeMap<String, Vec<u8>>);
        let cases: &[(&str, Change, &str)] = &[
            (
                "a changed output",
                |f| {
                    f.insert("hosts.csv".into(), b"host_key\r\ndb02\r\n".to_vec());
                },
                "hosts.csv: SHA-256",
            ),
            (
                "a removed output",
                |f| {
                    f.remove("periods.csv");
                },
                "periods.csv: missing",
            ),
            (
                "a changed manifest",
                |f| {
                    let m = f.get_mut(MANIFEST).unwrap();
                    m.push(b'\n');
                },
                "SHA256SUMS: line 3: manifest.json: SHA-256",
            ),
            (
                "a removed SHA256SUMS",
                |f| {
                    f.remove(SUMS);
                },
                "SHA256SUMS: missing",
            ),
            (
                "a SHA256SUMS line dropped",
                |f| {
                    let s = String::from_utf8(f[SUMS].clone()).unwrap();
                    let kept: String = s.lines().skip(1).map(|l| format!("{l}\n")).collect();
                    f.insert(SUMS.into(), kept.into_bytes());
                },
                "SHA256SUMS: does not list hosts.csv",
            ),
            (
                "a garbled SHA256SUMS line",
                |f| {
                    f.insert(SUMS.into(), b"nonsense\n".to_vec());
                },
                "SHA256SUMS: line 1: not `<sha256>  <file>`",
            ),
            (
                "no manifest",
                |f| {
                    f.remove(MANIFEST);
                },
                "manifest.json: missing",
            ),
            (
                "a manifest that is not one",
                |f| {
                    f.insert(MANIFEST.into(), b"{}".to_vec());
                },
                "manifest.json: not a manifest",
            ),
        ];
        for (what, change, expect) in cases {
            let mut f = sample();
            change(&mut f);
            let v = check(&f, &names(&f), &BTreeMap::new());
            assert!(!v.ok(), "{what}: {v:?}");
            assert!(
                v.problems.iter().any(|p| p.starts_with(expect)),
                "{what}: {:?}",
                v.problems
            );
        }
    }

    #[test]
    fn a_manifest_naming_a_path_outside_the_folder_is_refused() {
        let mut f = folder(&[("../etc/passwd", "x")], Vec::new());
        f.remove("../etc/passwd");
        let v = check(&f, &names(&f), &BTreeMap::new());
        assert!(
            v.problems
                .iter()
                .any(|p| p.contains("\"../etc/passwd\" is not a file of the folder")),
            "{v:?}"
        );
    }

    #[test]
    fn extra_files_are_listed_not_failed_and_inputs_checked_by_name() {
        let mut f = sample();
        f.insert("auditor-notes.txt".into(), b"seen".to_vec());
        let mut copies = BTreeMap::new();
        copies.insert(
            "audit_snapshot_20250401_0815.zip".to_string(),
            sha256_hex(b"zip bytes"),
        );
        let v = check(&f, &names(&f), &copies);
        assert!(v.ok(), "{v:?}");
        assert_eq!(v.unlisted, ["auditor-notes.txt"]);
        assert_eq!(
            v.inputs,
            [("audit_snapshot_20250401_0815.zip".to_string(), true)]
        );
        copies.insert(
            "audit_snapshot_20250401_0815.zip".to_string(),
            sha256_hex(b"other bytes"),
        );
        let v = check(&f, &names(&f), &copies);
        assert!(!v.ok());
        assert!(v.problems[0].starts_with("input audit_snapshot_20250401_0815.zip: SHA-256"));
    }

    #[test]
    fn inputs_are_the_used_imports_then_the_snapshot_files() {
        use super::super::model::ImportRow;
        let import = |id: u64, used: bool| ImportRow {
            id,
            imported_at: "2025-01-02T00:00:00Z".into(),
            source: "api_json_v2".into(),
            file_name: format!("computers-{id}.json"),
            sha256: "ab".repeat(32),
            computers: 3,
            warnings: 0,
            period_start: String::new(),
            period_end: String::new(),
            format_version: String::new(),
            used,
        };
        let mut h = super::super::testkit::handoff();
        h.ilmt_imports = vec![import(1, false), import(2, true)];
        h.snapshot_files = vec![super::super::model::InputFile {
            file_name: "s.zip".into(),
            sha256: "cd".repeat(32),
            size: 4,
        }];
        let all = inputs(&h);
        let names: Vec<&str> = all.iter().map(|i| i.file_name()).collect();
        assert_eq!(names, ["computers-2.json", "s.zip"]);
        let v = serde_json::to_value(inputs(&h)).unwrap();
        assert_eq!(v[0]["kind"], "ilmt_import");
        assert_eq!(v[0]["id"], 2);
        assert_eq!(v[1]["kind"], "snapshot_file");
        assert_eq!(v[1]["size"], 4);
    }
}
