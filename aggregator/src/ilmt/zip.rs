//! A minimal, bounded zip reader for audit snapshots: the central directory, stored and deflated
//! entries (inflated with `miniz_oxide`), CRC-32 checked. Nothing else (no ZIP64, encryption,
//! multi-disk or other methods): such archives are refused with a message saying so.
//!
//! Bounds come first: the entry count, each entry's declared size, the sum of sizes read, and the
//! compression ratio are checked before inflating, and inflating stops at the declared size, so a
//! zip bomb is refused without being expanded.

use super::Limits;

/// A problem with the archive, optionally about one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZipProblem {
    pub member: Option<String>,
    pub problem: String,
}

fn problem(member: Option<&str>, text: impl Into<String>) -> ZipProblem {
    ZipProblem {
        member: member.map(str::to_string),
        problem: text.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The name as stored (may include folders).
    pub name: String,
    method: u16,
    crc32: u32,
    compressed: usize,
    pub uncompressed: usize,
    local_offset: usize,
}

impl Entry {
    /// The name after the last `/`.
    pub fn base_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

pub(crate) struct Archive<'a> {
    bytes: &'a [u8],
    entries: Vec<Entry>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

const EOCD: [u8; 4] = *b"PK\x05\x06";
const CENTRAL: [u8; 4] = *b"PK\x01\x02";
const LOCAL: [u8; 4] = *b"PK\x03\x04";
const ZIP64_LOCATOR: [u8; 4] = *b"PK\x06\x07";

/// Names as stored: UTF-8 when valid (and always when flag bit 11 says so), else bytes above
/// 0x7f replaced (CP437 names of non-ASCII files cannot be ILMT's snapshot files anyway).
fn decode_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => raw
            .iter()
            .map(|&b| if b < 0x80 { char::from(b) } else { '?' })
            .collect(),
    }
}

impl<'a> Archive<'a> {
    pub fn open(bytes: &'a [u8], limits: &Limits) -> Result<Archive<'a>, ZipProblem> {
        let not_zip = || {
            problem(
                None,
                "not a zip archive (no end of central directory record)",
            )
        };
        if bytes.len() < 22 {
            return Err(not_zip());
        }
        // The end record is in the last 22 + 65535 bytes (it may be followed by a comment).
        let lowest = bytes.len().saturating_sub(22 + 0xFFFF);
        let eocd = (lowest..=bytes.len() - 22)
            .rev()
            .find(|&i| {
                bytes.get(i..i + 4) == Some(&EOCD[..])
                    && u16_at(bytes, i + 20).is_some_and(|c| i + 22 + usize::from(c) <= bytes.len())
            })
            .ok_or_else(not_zip)?;
        let field16 = |at: usize| {
            u16_at(bytes, eocd + at)
                .map(usize::from)
                .ok_or_else(not_zip)
        };
        let field32 = |at: usize| {
            u32_at(bytes, eocd + at)
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(not_zip)
        };
        let (disk, cd_disk) = (field16(4)?, field16(6)?);
        let (on_disk, total) = (field16(8)?, field16(10)?);
        let (cd_size, cd_offset) = (field32(12)?, field32(16)?);
        if disk != 0 || cd_disk != 0 || on_disk != total {
            return Err(problem(
                None,
                "multi-disk (split) zip archives are not supported",
            ));
        }
        let zip64 = eocd >= 20 && bytes.get(eocd - 20..eocd - 16) == Some(&ZIP64_LOCATOR[..]);
        if zip64 || total == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
            return Err(problem(None, "ZIP64 archives are not supported"));
        }
        if total > limits.max_zip_entries {
            return Err(problem(
                None,
                format!(
                    "{total} entries, more than the {} accepted",
                    limits.max_zip_entries
                ),
            ));
        }
        if cd_offset.checked_add(cd_size).is_none_or(|end| end > eocd) {
            return Err(problem(
                None,
                "the central directory lies outside the archive",
            ));
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(total);
        let mut at = cd_offset;
        for _ in 0..total {
            let truncated = || problem(None, "the central directory is truncated or damaged");
            if bytes.get(at..at + 4) != Some(&CENTRAL[..]) || at + 46 > cd_offset + cd_size {
                return Err(truncated());
            }
            let g16 = |o: usize| u16_at(bytes, at + o).ok_or_else(truncated);
            let g32 = |o: usize| u32_at(bytes, at + o).ok_or_else(truncated);
            let flags = g16(8)?;
            let method = g16(10)?;
            let crc32 = g32(16)?;
            let compressed = g32(20)?;
            let uncompressed = g32(24)?;
            let name_len = usize::from(g16(28)?);
            let extra_len = usize::from(g16(30)?);
            let comment_len = usize::from(g16(32)?);
            let local = g32(42)?;
            let name_raw = bytes
                .get(at + 46..at + 46 + name_len)
                .ok_or_else(truncated)?;
            let name = decode_name(name_raw);
            at += 46 + name_len + extra_len + comment_len;
            if at > cd_offset + cd_size {
                return Err(truncated());
            }
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
                return Err(problem(Some(&name), "ZIP64 entries are not supported"));
            }
            if flags & 1 != 0 {
                return Err(problem(Some(&name), "encrypted entries are not supported"));
            }
            if name.ends_with('/') {
                continue; // a folder
            }
            if method != 0 && method != 8 {
                return Err(problem(
                    Some(&name),
                    format!(
                        "compression method {method} is not supported (only stored and deflate)"
                    ),
                ));
            }
            let entry = Entry {
                name,
                method,
                crc32,
                compressed: usize::try_from(compressed).map_err(|_| truncated())?,
                uncompressed: usize::try_from(uncompressed).map_err(|_| truncated())?,
                local_offset: usize::try_from(local).map_err(|_| truncated())?,
            };
            if entries.iter().any(|e| e.base_name() == entry.base_name()) {
                return Err(problem(
                    Some(&entry.name),
                    "the archive holds two files of this name",
                ));
            }
            entries.push(entry);
        }
        Ok(Archive { bytes, entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry whose base name is `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.base_name().eq_ignore_ascii_case(name))
    }

    /// The uncompressed bytes of `entry`. `budget` is what may still be read from this archive
    /// in total; it is reduced by the entry's size.
    pub fn read(
        &self,
        entry: &Entry,
        limits: &Limits,
        budget: &mut usize,
    ) -> Result<Vec<u8>, ZipProblem> {
        let name = Some(entry.name.as_str());
        if entry.uncompressed > limits.max_entry_bytes {
            return Err(problem(
                name,
                format!(
                    "{} bytes uncompressed, more than the {} accepted for one file",
                    entry.uncompressed, limits.max_entry_bytes
                ),
            ));
        }
        if entry.uncompressed > *budget {
            return Err(problem(
                name,
                format!(
                    "the archive expands to more than the {} bytes accepted in total",
                    limits.max_total_uncompressed
                ),
            ));
        }
        if entry.uncompressed > 1 << 20
            && entry.uncompressed / entry.compressed.max(1) > limits.max_ratio
        {
            return Err(problem(
                name,
                format!(
                    "compressed {}:1 (more than {}:1): refused as a possible zip bomb",
                    entry.uncompressed / entry.compressed.max(1),
                    limits.max_ratio
                ),
            ));
        }
        let b = self.bytes;
        let at = entry.local_offset;
        let damaged = || problem(name, "the entry's local header is missing or damaged");
        if b.get(at..at + 4) != Some(&LOCAL[..]) {
            return Err(damaged());
        }
        let name_len = usize::from(u16_at(b, at + 26).ok_or_else(damaged)?);
        let extra_len = usize::from(u16_at(b, at + 28).ok_or_else(damaged)?);
        let start = at + 30 + name_len + extra_len;
        let data = b
            .get(start..start.saturating_add(entry.compressed))
            .ok_or_else(|| problem(name, "the entry's data runs past the end of the archive"))?;
        let out = match entry.method {
            0 => {
                if entry.compressed != entry.uncompressed {
                    return Err(problem(name, "a stored entry whose sizes differ"));
                }
                data.to_vec()
            }
            _ => miniz_oxide::inflate::decompress_to_vec_with_limit(data, entry.uncompressed)
                .map_err(|e| {
                    if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput {
                        problem(name, "the entry inflates beyond its declared size")
                    } else {
                        problem(
                            name,
                            format!("the compressed data is damaged ({:?})", e.status),
                        )
                    }
                })?,
        };
        if out.len() != entry.uncompressed {
            return Err(problem(
                name,
                format!(
                    "inflates to {} bytes, not the {} declared",
                    out.len(),
                    entry.uncompressed
                ),
            ));
        }
        if crc32fast::hash(&out) != entry.crc32 {
            return Err(problem(name, "CRC-32 mismatch: the entry is damaged"));
        }
        *budget -= entry.uncompressed;
        Ok(out)
    }
}

/// Test helper: writes a zip from (name, bytes, deflate?) members, with optional lies about the
/// uncompressed size, for tests that need damaged or hostile archives.
#[cfg(test)]
pub(crate) mod write {
    pub struct Member<'a> {
        pub name: &'a str,
        pub data: &'a [u8],
        pub deflate: bool,
        /// Uncompressed size to declare instead of the real one.
        pub declared_size: Option<u32>,
    }

    pub fn zip(members: &[Member<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for m in members {
            let body = if m.deflate {
                miniz_oxide::deflate::compress_to_vec(m.data, 6)
            } else {
                m.data.to_vec()
            };
            let crc = crc32fast::hash(m.data);
            let size = m.declared_size.unwrap_or(m.data.len() as u32);
            let offset = out.len() as u32;
            let method: u16 = if m.deflate { 8 } else { 0 };
            let name = m.name.as_bytes();
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name);
            out.extend_from_slice(&body);
            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&20u16.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&method.to_le_bytes());
            central.extend_from_slice(&[0; 4]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(body.len() as u32).to_le_bytes());
            central.extend_from_slice(&size.to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name);
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::write::{zip, Member};
    use super::*;

    fn member<'a>(name: &'a str, data: &'a [u8], deflate: bool) -> Member<'a> {
        Member {
            name,
            data,
            deflate,
            declared_size: None,
        }
    }

    fn read_all(bytes: &[u8], limits: &Limits) -> Result<Vec<(String, Vec<u8>)>, ZipProblem> {
        let archive = Archive::open(bytes, limits)?;
        let mut budget = limits.max_total_uncompressed;
        archive
            .entries()
            .iter()
            .map(|e| Ok((e.name.clone(), archive.read(e, limits, &mut budget)?)))
            .collect()
    }

    #[test]
    fn reads_stored_and_deflated_members() {
        let text = "Row No.,Computer\n".repeat(100);
        let bytes = zip(&[
            member("a.txt", b"hello", false),
            member("dir/b.csv", text.as_bytes(), true),
        ]);
        let got = read_all(&bytes, &Limits::default());
        let Ok(got) = got else {
            panic!("{:?}", got.err());
        };
        assert_eq!(got[0], ("a.txt".to_string(), b"hello".to_vec()));
        assert_eq!(got[1].1, text.as_bytes());
        let archive = Archive::open(&bytes, &Limits::default()).ok();
        assert!(archive.is_some_and(|a| a.find("B.CSV").is_some()));
    }

    #[test]
    fn refuses_hostile_or_damaged_archives() {
        let limits = Limits {
            max_entry_bytes: 4 << 20,
            max_total_uncompressed: 6 << 20,
            max_zip_entries: 3,
            ..Limits::default()
        };
        let zeros = vec![0u8; 3 << 20];
        // A bomb that tells the truth about its size: refused by ratio before inflating.
        let honest_bomb = zip(&[member("bomb.csv", &zeros, true)]);
        // A bomb that lies (declares 1 KiB): inflating stops at the declared size.
        let lying_bomb = zip(&[Member {
            name: "bomb.csv",
            data: &zeros,
            deflate: true,
            declared_size: Some(1024),
        }]);
        let big = vec![b'x'; 5 << 20];
        let too_big = zip(&[member("big.csv", &big, false)]);
        let mid = vec![b'y'; (3 << 20) + 1];
        let over_budget = zip(&[member("a", &mid, false), member("b", &mid, false)]);
        let many = zip(&[
            member("1", b"", false),
            member("2", b"", false),
            member("3", b"", false),
            member("4", b"", false),
        ]);
        let dup = zip(&[member("x/a.csv", b"1", false), member("a.csv", b"2", false)]);
        let mut flipped = zip(&[member("a.csv", b"some text here", false)]);
        if let Some(b) = flipped.get_mut(36) {
            *b ^= 0x20;
        }
        let cases: [(&str, Vec<u8>, &str); 8] = [
            ("honest bomb", honest_bomb, "zip bomb"),
            ("lying bomb", lying_bomb, "beyond its declared size"),
            ("too big", too_big, "more than the 4194304 accepted"),
            ("over budget", over_budget, "in total"),
            ("many", many, "4 entries"),
            ("duplicate", dup, "two files of this name"),
            ("bit flip", flipped, "CRC-32 mismatch"),
            ("not a zip", b"name,os\nx,y\n".to_vec(), "not a zip archive"),
        ];
        for (what, bytes, want) in cases {
            let err = read_all(&bytes, &limits).err();
            assert!(
                err.as_ref().is_some_and(|e| e.problem.contains(want)),
                "{what}: {err:?}"
            );
        }
        let truncated = zip(&[member("a.csv", b"hello", false)]);
        let cut = &truncated[..truncated.len() - 30];
        assert!(read_all(cut, &limits).is_err());
    }
}
