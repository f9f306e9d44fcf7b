//! The dpkg database `var/lib/dpkg/status`: one RFC 822-style paragraph per package. Read as a
//! stream, line by line (it runs to megabytes), with every line and the package count capped.

use std::io::{BufRead, BufReader, Read};

use super::packages::Package;
use crate::collect::Warnings;
use crate::root::Root;

pub const STATUS: &str = "var/lib/dpkg/status";

/// Longest line kept (longer ones are cut; `Description` bodies can be long).
const MAX_LINE: usize = 64 * 1024;
/// Most packages read.
pub const MAX_PACKAGES: usize = 200_000;

/// Why the status file could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum DpkgError {
    #[error("read error after {lines} lines: {source}")]
    Io {
        lines: usize,
        source: std::io::Error,
    },
    #[error("more than {MAX_PACKAGES} packages: the rest is not read")]
    TooMany,
}

/// The installed packages of a status file. A package counts when its `Status` state is
/// anything but `not-installed` or `config-files` (those left only configuration behind).
/// On error the packages read so far are returned with it.
pub fn parse<R: Read>(reader: R) -> (Vec<Package>, Option<DpkgError>) {
    let mut reader = BufReader::new(reader);
    let mut out = Vec::new();
    let mut cur = Paragraph::default();
    let mut line = Vec::new();
    let mut lines = 0usize;
    loop {
        line.clear();
        match read_line(&mut reader, &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(source) => return (out, Some(DpkgError::Io { lines, source })),
        }
        lines += 1;
        // Work on bytes: most lines are description bodies, skipped without decoding.
        let raw = line.strip_suffix(b"\n").unwrap_or(&line);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            cur.finish(&mut out);
            if out.len() > MAX_PACKAGES {
                out.truncate(MAX_PACKAGES);
                return (out, Some(DpkgError::TooMany));
            }
            continue;
        }
        if raw.starts_with(b" ") || raw.starts_with(b"\t") {
            continue; // continuation line (Description body, Conffiles)
        }
        let Some(colon) = raw.iter().position(|&b| b == b':') else {
            continue;
        };
        let field = match &raw[..colon] {
            b"Package" => &mut cur.name,
            b"Status" => &mut cur.status,
            b"Version" => &mut cur.version,
            b"Architecture" => &mut cur.arch,
            b"Maintainer" => &mut cur.maintainer,
            b"Description" => &mut cur.summary,
            _ => continue,
        };
        *field = String::from_utf8_lossy(&raw[colon + 1..])
            .trim()
            .to_string();
    }
    cur.finish(&mut out);
    (out, None)
}

/// Reads one line into `buf`, keeping at most [`MAX_LINE`] bytes of it (the rest is skipped).
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let n = r.by_ref().take(MAX_LINE as u64).read_until(b'\n', buf)?;
    if n == MAX_LINE && buf.last() != Some(&b'\n') {
        // Skip the rest of an overlong line.
        let mut skipped = Vec::new();
        loop {
            skipped.clear();
            let m = r
                .by_ref()
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut skipped)?;
            if m == 0 || skipped.last() == Some(&b'\n') {
                break;
            }
        }
        buf.push(b'\n');
    }
    Ok(n)
}

#[derive(Default)]
struct Paragraph {
    name: String,
    status: String,
    version: String,
    arch: String,
    maintainer: String,
    summary: String,
}

impl Paragraph {
    fn finish(&mut self, out: &mut Vec<Package>) {
        let p = std::mem::take(self);
        if p.name.is_empty() {
            return;
        }
        let state = p.status.split_whitespace().nth(2).unwrap_or("");
        if matches!(state, "not-installed" | "config-files" | "") {
            return;
        }
        out.push(Package {
            name: p.name,
            version: p.version,
            arch: p.arch,
            vendor: p.maintainer,
            summary: p.summary,
        });
    }
}

/// Reads the dpkg database of `root`, if there is one.
pub fn read(root: &Root, w: &mut Warnings) -> Option<(String, Vec<Package>)> {
    let file = match root.open(STATUS) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            w.read_failed(&e);
            return None;
        }
    };
    let (packages, err) = parse(file);
    if let Some(e) = err {
        w.warn(STATUS, e.to_string());
    }
    Some((STATUS.to_string(), packages))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "Package: ibmmq-runtime
Status: install ok installed
Priority: optional
Section: ibm
Installed-Size: 41215
Maintainer: IBM MQ Development <mqdev@uk.ibm.com>
Architecture: amd64
Version: 9.3.4.0
Description: IBM MQ Runtime FileSet
 IBM MQ Runtime FileSet - common files.

Package: ibmmq-server
Status: install ok installed
Maintainer: IBM MQ Development <mqdev@uk.ibm.com>
Architecture: amd64
Version: 9.3.4.0
Depends: ibmmq-runtime (= 9.3.4.0)
Description: IBM MQ Server FileSet

Package: oldtool
Status: deinstall ok config-files
Maintainer: Someone <s@example.org>
Architecture: all
Version: 1.0
Description: removed, configuration left

Package: bash
Essential: yes
Status: install ok installed
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
";

    #[test]
    fn table() {
        let (p, err) = parse(STATUS_TEXT.as_bytes());
        assert!(err.is_none());
        let got: Vec<(&str, &str, &str)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.summary.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ibmmq-runtime", "9.3.4.0", "IBM MQ Runtime FileSet"),
                ("ibmmq-server", "9.3.4.0", "IBM MQ Server FileSet"),
                ("bash", "5.2.15-2+b2", "GNU Bourne Again SHell"),
            ]
        );
        assert_eq!(p[0].vendor, "IBM MQ Development <mqdev@uk.ibm.com>");
        assert_eq!(p[0].arch, "amd64");
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let text = STATUS_TEXT.replace('\n', "\r\n");
        let (p, _) = parse(text.trim_end().as_bytes());
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].summary, "GNU Bourne Again SHell");
    }

    #[test]
    fn overlong_lines_are_cut_not_buffered() {
        let mut text = String::from("Package: big\nStatus: install ok installed\nDescription: ");
        text.push_str(&"x".repeat(MAX_LINE * 3));
        text.push_str("\nVersion: 1\n\nPackage: after\nStatus: install ok installed\nVersion: 2\n");
        let (p, err) = parse(text.as_bytes());
        assert!(err.is_none());
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].version, "1");
        assert!(p[0].summary.len() <= MAX_LINE);
        assert_eq!(p[1].name, "after");
    }

    #[test]
    fn garbage_never_panics() {
        let (p, _) = parse(&[0xffu8, 0x00, b':', b'\n', b'\n', 0x80][..]);
        assert!(p.is_empty());
        for cut in 0..STATUS_TEXT.len() {
            let _ = parse(&STATUS_TEXT.as_bytes()[..cut]);
        }
    }
}
