//! Writing the report folder: `handoff.json`, `report.html`, the CSV files, then `manifest.json`
//! and `SHA256SUMS` over what was written. The contents are made in memory from one [`Handoff`]
//! ([`render`], pure); [`write`] puts them on disk.

use std::path::Path;

use super::manifest::{self, FileEntry, Manifest, HTML, JSON, MANIFEST, MANIFEST_SCHEMA, SUMS};
use super::model::{to_json, Handoff};
use super::{html, tables, ReportError};

/// Every file of a report folder, in the order `manifest.json` lists the outputs (then the
/// manifest and `SHA256SUMS`).
pub const OUTPUTS: &[&str] = &[
    JSON,
    HTML,
    "hosts.csv",
    "products.csv",
    "findings.csv",
    "findings_by_code.csv",
    "periods.csv",
    "coverage_over_time.csv",
    "snapshot_quarters.csv",
    "snapshots.csv",
    MANIFEST,
    SUMS,
];

/// A file of the folder: its name and bytes.
pub type File = (&'static str, Vec<u8>);

/// The folder's files in [`OUTPUTS`] order, and the manifest.
pub fn render(h: &Handoff) -> Result<(Vec<File>, Manifest), String> {
    let json = to_json(h).map_err(|e| format!("{JSON}: {e}"))?;
    let json_sha = crate::ilmt::model::sha256_hex(json.as_bytes());
    let page = html::render(&json, &json_sha)
        .ok_or_else(|| format!("{HTML}: the data could not be embedded"))?;
    let mut files: Vec<File> = vec![(JSON, json.into_bytes()), (HTML, page.into_bytes())];
    files.extend(
        tables::csv_files(h)
            .into_iter()
            .map(|(n, c)| (n, c.into_bytes())),
    );
    let outputs: Vec<FileEntry> = files.iter().map(|(n, b)| FileEntry::of(n, b)).collect();
    let m = Manifest {
        schema: MANIFEST_SCHEMA.into(),
        generated_at: h.generated_at.clone(),
        outputs,
        inputs: manifest::inputs(h),
    };
    let mut mbytes = serde_json::to_vec_pretty(&m).map_err(|e| format!("{MANIFEST}: {e}"))?;
    mbytes.push(b'\n');
    let mut sums: Vec<FileEntry> = m.outputs.clone();
    sums.push(FileEntry::of(MANIFEST, &mbytes));
    files.push((MANIFEST, mbytes));
    files.push((SUMS, manifest::sums(&sums).into_bytes()));
    Ok((files, m))
}

/// Writes the report of `h` into `dir` (created when missing). A folder that holds anything is
/// refused unless `force`, which overwrites the report's own files and leaves others (`verify`
/// lists those as not part of the report).
pub fn write(dir: &Path, h: &Handoff, force: bool) -> Result<Manifest, ReportError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let n = entries.count();
            if n > 0 && !force {
                return Err(ReportError::NotEmpty(dir.to_path_buf(), n));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
        }
        Err(e) => return Err(ReportError::io(dir)(e)),
    }
    let (files, m) = render(h).map_err(|message| ReportError::Invalid {
        path: dir.to_path_buf(),
        message,
    })?;
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(ReportError::io(&path))?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testkit;

    #[test]
    fn a_written_folder_verifies_and_a_tampered_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("handoff");
        let h = testkit::handoff();
        let m = write(&out, &h, false).unwrap();
        let names: Vec<String> = manifest::regular_files(&out)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let mut expected: Vec<&str> = OUTPUTS.to_vec();
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(m.outputs.len(), OUTPUTS.len() - 2);

        let v = manifest::verify(&out, None).unwrap();
        assert!(v.ok(), "{}", v.text());
        assert_eq!(v.matched.len(), OUTPUTS.len() - 2);

        // One changed figure in one CSV file.
        let hosts = out.join("hosts.csv");
        let text = std::fs::read_to_string(&hosts).unwrap();
        std::fs::write(&hosts, text.replacen("3360", "336", 1)).unwrap();
        let v = manifest::verify(&out, None).unwrap();
        assert!(!v.ok());
        assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
        assert!(
            v.problems[0].starts_with("hosts.csv: SHA-256"),
            "{:?}",
            v.problems
        );
        assert!(
            v.problems[1].contains("SHA256SUMS: line 3: hosts.csv"),
            "{:?}",
            v.problems
        );
    }

    #[test]
    fn the_page_and_the_json_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let h = testkit::handoff();
        write(dir.path(), &h, false).unwrap();
        // An edited JSON with a recomputed manifest entry still differs from the page's data.
        let json = dir.path().join(JSON);
        let text = std::fs::read_to_string(&json)
            .unwrap()
            .replace("db01", "db09");
        std::fs::write(&json, &text).unwrap();
        let v = manifest::verify(dir.path(), None).unwrap();
        assert!(
            v.problems
                .iter()
                .any(|p| p == "report.html: the data it embeds differs from handoff.json"),
            "{:?}",
            v.problems
        );
    }

    #[test]
    fn a_folder_with_files_is_refused_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let h = testkit::handoff();
        let e = write(dir.path(), &h, false).unwrap_err().to_string();
        assert!(
            e.contains("not empty (1 entries)") && e.contains("--force"),
            "{e}"
        );
        write(dir.path(), &h, true).unwrap();
        let v = manifest::verify(dir.path(), None).unwrap();
        assert!(v.ok(), "{}", v.text());
        assert_eq!(v.unlisted, ["notes.txt"]);
        // Written twice from the same model: the same bytes.
        let first = std::fs::read(dir.path().join(HTML)).unwrap();
        write(dir.path(), &h, true).unwrap();
        assert_eq!(std::fs::read(dir.path().join(HTML)).unwrap(), first);
    }
}
