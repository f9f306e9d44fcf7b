//! The dpkg database `var/lib/dpkg/status`: one RFC 822-style paragraph per package. Read as a
//! stream, line by line (it runs to megabytes), with every line and the package count capped.

use std::io::Read;

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

/// Bytes read from the file at a time: the database runs to megabytes. Larger than a line, so a
/// line being cut always fits; under the allocator's threshold for a mapping of its own (128 KiB),
/// so the memory is reused after the parse instead of being mapped and unmapped.
const READ_BUFFER: usize = MAX_LINE + 32 * 1024;
const _: () = assert!(READ_BUFFER > MAX_LINE);

/// The installed packages of a status file that `keep` accepts (given the package name and its
/// `Maintainer`). A package counts when its `Status` state is anything but `not-installed` or
/// `config-files` (those left only configuration behind). On error the packages read so far are
/// returned with it.
///
/// Lines are looked at where they lie in the read buffer (not copied), fields are kept as bytes
/// while a paragraph is read, and text is made only for the packages kept.
pub fn parse<R: Read>(
    mut reader: R,
    keep: impl FnMut(&str, &str) -> bool,
) -> (Vec<Package>, Option<DpkgError>) {
    let mut p = Parser {
        keep,
        out: Vec::new(),
        cur: Paragraph::default(),
        lines: 0,
        installed: 0,
    };
    let mut buf = vec![0u8; READ_BUFFER];
    // Bytes of `buf` read and not yet looked at; how many of them are known to hold no newline
    // (a line not whole at the last read); whether they continue a line being cut.
    let mut filled = 0usize;
    let mut searched = 0usize;
    let mut skipping = false;
    loop {
        let n = loop {
            match reader.read(buf.get_mut(filled..).unwrap_or_default()) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    let lines = p.lines;
                    return (p.out, Some(DpkgError::Io { lines, source }));
                }
            }
        };
        let end = filled + n;
        let data = buf.get(..end).unwrap_or_default();
        // Every whole line in the buffer, and at the end of the file the last one. The newlines
        // are found in one pass (the first `searched` bytes are known to hold none).
        let mut newline = find_newline(data, std::mem::take(&mut searched));
        let mut start = 0usize;
        while start < end {
            if skipping {
                // The rest of an overlong line, up to and with its newline, is dropped.
                match newline {
                    Some(i) => {
                        start = i + 1;
                        skipping = false;
                        newline = find_newline(data, start);
                        continue;
                    }
                    None => {
                        start = end;
                        break;
                    }
                }
            }
            let line = match newline {
                Some(i) if i < start + MAX_LINE => {
                    let line = data.get(start..i);
                    start = i + 1;
                    newline = find_newline(data, start);
                    line
                }
                _ if end - start >= MAX_LINE => {
                    // Cut: the first MAX_LINE bytes are the line, the rest is skipped.
                    let line = data.get(start..start + MAX_LINE);
                    start += MAX_LINE;
                    skipping = true;
                    line
                }
                _ if n == 0 => {
                    let line = data.get(start..end);
                    start = end;
                    line
                }
                _ => {
                    // A line not whole yet: read more, not searching again what was searched.
                    searched = end - start;
                    break;
                }
            };
            if let Err(e) = p.line(line.unwrap_or_default()) {
                return (p.out, Some(e));
            }
        }
        if n == 0 {
            break;
        }
        buf.copy_within(start..end, 0);
        filled = end - start;
    }
    p.end();
    (p.out, None)
}

/// The first `\n` in `data` at or after `from`, looked for eight bytes at a time (a word whose
/// bytes are XORed with `\n` has a zero byte where a newline was; the lowest byte the borrow
/// trick flags is always a real one). As fast as a vectorised search on lines this short, with
/// no run-time check of the processor's features (a `CPUID` costs microseconds in a VM).
fn find_newline(data: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut at = from;
    while let Some(word) = data
        .get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = data.get(at..)?;
    tail.iter().position(|&b| b == b'\n').map(|i| at + i)
}

/// The state of one pass over a status file.
struct Parser<K> {
    keep: K,
    out: Vec<Package>,
    cur: Paragraph,
    /// Lines looked at (for the error message).
    lines: usize,
    /// Installed packages seen, kept or not (bounded by [`MAX_PACKAGES`]).
    installed: usize,
}

impl<K: FnMut(&str, &str) -> bool> Parser<K> {
    /// One line, without its newline. Told apart by its first byte: a field line starts with
    /// the field's name (`Package:` is the first colon at 7 exactly when the line starts so), a
    /// continuation line with white space, a blank line (white space only) ends the paragraph.
    fn line(&mut self, line: &[u8]) -> Result<(), DpkgError> {
        self.lines += 1;
        // Work on bytes: most lines are description bodies, skipped without decoding.
        let raw = line.strip_suffix(b"\r").unwrap_or(line);
        let cur = &mut self.cur;
        let (field, name): (&mut Vec<u8>, &[u8]) = match raw.first() {
            Some(b'P') => (&mut cur.name, b"Package:"),
            Some(b'S') => (&mut cur.status, b"Status:"),
            Some(b'V') => (&mut cur.version, b"Version:"),
            Some(b'A') => (&mut cur.arch, b"Architecture:"),
            Some(b'M') => (&mut cur.maintainer, b"Maintainer:"),
            Some(b'D') => (&mut cur.summary, b"Description:"),
            // Another field, or no field at all.
            Some(b) if !b.is_ascii_whitespace() => return Ok(()),
            _ => {
                if raw.iter().all(u8::is_ascii_whitespace) {
                    return self.end_paragraph();
                }
                return Ok(()); // continuation line (Description body, Conffiles)
            }
        };
        if let Some(value) = raw.strip_prefix(name) {
            field.clear();
            field.extend_from_slice(value);
        }
        Ok(())
    }

    /// A blank line: the paragraph's package, when installed and kept, is added.
    fn end_paragraph(&mut self) -> Result<(), DpkgError> {
        if let Some(package) = self.cur.finish(&mut self.keep) {
            self.installed += 1;
            if self.installed > MAX_PACKAGES {
                return Err(DpkgError::TooMany);
            }
            self.out.extend(package);
        }
        Ok(())
    }

    /// The end of the file ends the last paragraph.
    fn end(&mut self) {
        self.out.extend(self.cur.finish(&mut self.keep).flatten());
    }
}

/// The fields of the paragraph being read, as the bytes after `Field:` (buffers reused from one
/// package to the next).
#[derive(Default)]
struct Paragraph {
    name: Vec<u8>,
    status: Vec<u8>,
    version: Vec<u8>,
    arch: Vec<u8>,
    maintainer: Vec<u8>,
    summary: Vec<u8>,
}

/// A field's text, trimmed (invalid UTF-8 replaced; borrowed when valid).
fn text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(s) => std::borrow::Cow::Borrowed(s.trim()),
        Err(_) => std::borrow::Cow::Owned(String::from_utf8_lossy(raw).trim().to_string()),
    }
}

impl Paragraph {
    /// Ends the paragraph and clears it. `None` when it is no installed package; else the
    /// package, when `keep` wants it.
    fn finish(&mut self, keep: &mut impl FnMut(&str, &str) -> bool) -> Option<Option<Package>> {
        let package = self.package(keep);
        for field in [
            &mut self.name,
            &mut self.status,
            &mut self.version,
            &mut self.arch,
            &mut self.maintainer,
            &mut self.summary,
        ] {
            field.clear();
        }
        package
    }

    fn package(&self, keep: &mut impl FnMut(&str, &str) -> bool) -> Option<Option<Package>> {
        let name = text(&self.name);
        if name.is_empty() {
            return None;
        }
        let status = text(&self.status);
        let state = status.split_whitespace().nth(2).unwrap_or("");
        if matches!(state, "not-installed" | "config-files" | "") {
            return None;
        }
        let maintainer = text(&self.maintainer);
        if !keep(&name, &maintainer) {
            return Some(None);
        }
        Some(Some(Package {
            name: name.into_owned(),
            version: text(&self.version).into_owned(),
            arch: text(&self.arch).into_owned(),
            vendor: maintainer.into_owned(),
            summary: text(&self.summary).into_owned(),
        }))
    }
}

/// Reads the dpkg database of `root`, if there is one, keeping the packages `keep` accepts.
pub fn read(
    root: &Root,
    keep: impl FnMut(&str, &str) -> bool,
    w: &mut Warnings,
) -> Option<(String, Vec<Package>)> {
    let file = match root.open(STATUS) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            w.read_failed(&e);
            return None;
        }
    };
    let (packages, err) = parse(file, keep);
    if let Some(e) = err {
        w.warn(STATUS, e.to_string());
    }
    Some((STATUS.to_string(), packages))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: &str, _: &str) -> bool {
        true
    }

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
        let (p, err) = parse(STATUS_TEXT.as_bytes(), all);
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
    fn only_the_packages_kept_are_made() {
        let mut asked = Vec::new();
        let (p, err) = parse(STATUS_TEXT.as_bytes(), |name, maintainer| {
            asked.push((name.to_string(), maintainer.to_string()));
            maintainer.contains("IBM")
        });
        assert!(err.is_none());
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["ibmmq-runtime", "ibmmq-server"]);
        // Asked once per installed package, with the trimmed name and maintainer.
        let asked: Vec<&str> = asked.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(asked, vec!["ibmmq-runtime", "ibmmq-server", "bash"]);
    }

    #[test]
    fn newlines_are_found_where_they_are() {
        // Every length up to three words, a newline (or none) at every place, searched from
        // every offset; bytes around it that differ from `\n` by one bit, and 0x80 bytes.
        for len in 0..26usize {
            for at in (0..len).map(Some).chain([None]) {
                for fill in [b'x', b'\x0b', b'\x0e', b'\x8a', 0u8, 0xff] {
                    let mut data = vec![fill; len];
                    if let Some(i) = at {
                        data[i] = b'\n';
                        if i + 3 < len {
                            data[i + 3] = b'\n';
                        }
                    }
                    for from in 0..=len + 1 {
                        let want = data
                            .get(from..)
                            .and_then(|d| d.iter().position(|&b| b == b'\n'))
                            .map(|i| i + from);
                        assert_eq!(find_newline(&data, from), want, "{data:?} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn field_names_are_matched_exactly() {
        // (the Package line, the name read); Status follows on its own line.
        for (line, want) in [
            ("Package: a", Some("a")),
            ("Package:b", Some("b")),
            ("Package:   c  ", Some("c")),
            ("Package: d: e", Some("d: e")),
            ("Packages: f", None),
            ("Package : g", None),
            ("package: h", None),
            (" Package: i", None),
            ("\x0cPackage: j", None),
            ("Package", None),
            ("Pre-Depends: k", None),
        ] {
            let text = format!("{line}\nStatus: install ok installed\n\n");
            let (p, _) = parse(text.as_bytes(), all);
            let got = p.first().map(|p| p.name.as_str());
            assert_eq!(got, want, "{line:?}");
        }
        // The last of a repeated field wins; a blank line of spaces and tabs ends a paragraph.
        let (p, _) = parse(
            &b"Package: x\nPackage: y\nStatus: install ok installed\n \t \nPackage: z\nStatus: install ok installed\n"[..],
            all,
        );
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["y", "z"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_trimmed() {
        let text = b"Package:  ibm-\xfftool \nStatus: install ok installed\nMaintainer: IBM \xfe\nVersion: 1\n";
        let (p, err) = parse(&text[..], all);
        assert!(err.is_none());
        assert_eq!(p[0].name, "ibm-\u{fffd}tool");
        assert_eq!(p[0].vendor, "IBM \u{fffd}");
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let text = STATUS_TEXT.replace('\n', "\r\n");
        let (p, _) = parse(text.trim_end().as_bytes(), all);
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].summary, "GNU Bourne Again SHell");
    }

    #[test]
    fn overlong_lines_are_cut_not_buffered() {
        let mut text = String::from("Package: big\nStatus: install ok installed\nDescription: ");
        text.push_str(&"x".repeat(MAX_LINE * 3));
        text.push_str("\nVersion: 1\n\nPackage: after\nStatus: install ok installed\nVersion: 2\n");
        let (p, err) = parse(text.as_bytes(), all);
        assert!(err.is_none());
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].version, "1");
        assert!(p[0].summary.len() <= MAX_LINE);
        assert_eq!(p[1].name, "after");
    }

    /// A reader that gives at most `piece` bytes per call, as a pipe or a slow disk may.
    struct Trickle<'a> {
        data: &'a [u8],
        piece: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.piece.min(buf.len()).min(self.data.len());
            let (head, tail) = self.data.split_at(n);
            buf[..n].copy_from_slice(head);
            self.data = tail;
            Ok(n)
        }
    }

    #[test]
    fn lines_split_across_reads_parse_the_same() {
        let mut long = String::from("Package: big\nStatus: install ok installed\nDescription: ");
        long.push_str(&"y".repeat(MAX_LINE + 10));
        long.push_str("\nVersion: 1\n\n");
        let exact = format!(
            "Package: exact\nStatus: install ok installed\nDescription: {}\n\n",
            "z".repeat(MAX_LINE - "Description: ".len() - 1)
        );
        let texts = [
            STATUS_TEXT.to_string(),
            STATUS_TEXT.replace('\n', "\r\n"),
            STATUS_TEXT.trim_end().to_string(),
            format!("{long}{STATUS_TEXT}"),
            format!("{exact}{long}"),
            long.trim_end().to_string(),
        ];
        let show = |p: &[Package]| -> Vec<(String, String, usize)> {
            p.iter()
                .map(|p| (p.name.clone(), p.version.clone(), p.summary.len()))
                .collect()
        };
        for text in &texts {
            let (whole, err) = parse(text.as_bytes(), all);
            assert!(err.is_none());
            assert!(!whole.is_empty());
            for piece in [
                1,
                2,
                7,
                4096,
                MAX_LINE - 1,
                MAX_LINE,
                MAX_LINE + 1,
                READ_BUFFER,
            ] {
                let (got, err) = parse(
                    Trickle {
                        data: text.as_bytes(),
                        piece,
                    },
                    all,
                );
                assert!(err.is_none());
                assert_eq!(show(&got), show(&whole), "piece {piece}");
            }
        }
        // The line of exactly MAX_LINE bytes with its newline is whole; the longer one is cut.
        let (p, _) = parse(format!("{exact}{long}").as_bytes(), all);
        assert_eq!(p[0].summary.len(), MAX_LINE - "Description: ".len() - 1);
        assert_eq!(p[1].summary.len(), MAX_LINE - "Description:".len() - 1);
        assert_eq!(p[1].version, "1");
    }

    #[test]
    fn a_read_error_names_the_lines_read() {
        struct Broken<'a>(&'a [u8]);
        impl Read for Broken<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let (p, err) = parse(
            Broken(b"Package: a\nStatus: install ok installed\n\nPackage: b\n"),
            all,
        );
        assert_eq!(p.len(), 1);
        let err = err.unwrap();
        assert_eq!(err.to_string(), "read error after 4 lines: disk on fire");
    }

    #[test]
    fn garbage_never_panics() {
        let (p, _) = parse(&[0xffu8, 0x00, b':', b'\n', b'\n', 0x80][..], all);
        assert!(p.is_empty());
        for cut in 0..STATUS_TEXT.len() {
            let _ = parse(&STATUS_TEXT.as_bytes()[..cut], all);
        }
    }
}
