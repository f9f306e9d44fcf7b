//! The RPM header blob, as the package databases store it (rpm's `headerExport` image, without
//! the 8-byte magic of a package file):
//!
//! ```text
//! il: u32 BE        number of index entries
//! dl: u32 BE        length of the data store
//! il × { tag: u32, type: u32, offset: i32, count: u32 }   (big-endian)
//! dl bytes of data
//! ```
//!
//! The first entry is usually the immutable region tag (63, `HEADER_IMMUTABLE`, type BIN) whose
//! data is the region trailer; it carries no package field and is skipped. Every offset and
//! length is checked against the blob: a damaged header is an error, never a panic.

/// Largest header accepted (rpm's own limit for the data store is 256 MiB).
pub const MAX_BLOB: usize = 64 * 1024 * 1024;
/// Most index entries accepted (rpm: 0xffff).
pub const MAX_ENTRIES: u32 = 0xffff;
/// Longest string field kept.
const MAX_STRING: usize = 4096;

pub const TAG_REGION_IMMUTABLE: u32 = 63;
pub const TAG_NAME: u32 = 1000;
pub const TAG_VERSION: u32 = 1001;
pub const TAG_RELEASE: u32 = 1002;
pub const TAG_EPOCH: u32 = 1003;
pub const TAG_SUMMARY: u32 = 1004;
pub const TAG_VENDOR: u32 = 1011;
pub const TAG_PACKAGER: u32 = 1015;
pub const TAG_ARCH: u32 = 1022;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The package fields subcap needs from a header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmHeader {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: String,
    pub vendor: String,
    pub packager: String,
    pub summary: String,
}

impl RpmHeader {
    /// `[EPOCH:]VERSION-RELEASE`.
    pub fn evr(&self) -> String {
        let mut s = String::new();
        if let Some(e) = self.epoch.filter(|e| *e != 0) {
            s.push_str(&format!("{e}:"));
        }
        s.push_str(&self.version);
        if !self.release.is_empty() {
            s.push('-');
            s.push_str(&self.release);
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header blob of {0} bytes is shorter than its 8-byte preamble")]
    Short(usize),
    #[error("header claims {il} entries and {dl} data bytes, more than its {len}-byte blob holds")]
    Sizes { il: u32, dl: u32, len: usize },
    #[error("header of {0} bytes is over the {MAX_BLOB}-byte limit")]
    TooLarge(usize),
    #[error("header has no NAME")]
    NoName,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses a header blob.
pub fn parse(blob: &[u8]) -> Result<RpmHeader, HeaderError> {
    if blob.len() > MAX_BLOB {
        return Err(HeaderError::TooLarge(blob.len()));
    }
    let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
        return Err(HeaderError::Short(blob.len()));
    };
    let index_len = (il as usize).checked_mul(16);
    let needed = index_len
        .and_then(|i| i.checked_add(8))
        .and_then(|i| i.checked_add(dl as usize));
    match needed {
        Some(n) if (1..=MAX_ENTRIES).contains(&il) && n <= blob.len() => {}
        _ => {
            return Err(HeaderError::Sizes {
                il,
                dl,
                len: blob.len(),
            })
        }
    }
    let data_start = 8 + il as usize * 16;
    let data = &blob[data_start..data_start + dl as usize];
    let mut h = RpmHeader::default();
    for i in 0..il as usize {
        let e = 8 + i * 16;
        let (Some(tag), Some(ty), Some(offset), Some(count)) = (
            be32(blob, e),
            be32(blob, e + 4),
            be32(blob, e + 8),
            be32(blob, e + 12),
        ) else {
            continue;
        };
        let offset = offset as i32;
        if tag == TAG_REGION_IMMUTABLE || offset < 0 || count == 0 {
            continue;
        }
        let offset = offset as usize;
        let field = match tag {
            TAG_NAME => &mut h.name,
            TAG_VERSION => &mut h.version,
            TAG_RELEASE => &mut h.release,
            TAG_ARCH => &mut h.arch,
            TAG_VENDOR => &mut h.vendor,
            TAG_PACKAGER => &mut h.packager,
            TAG_SUMMARY => &mut h.summary,
            TAG_EPOCH => {
                if ty == TYPE_INT32 {
                    h.epoch = be32(data, offset);
                }
                continue;
            }
            _ => continue,
        };
        if matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            if let Some(s) = c_string(data, offset) {
                *field = s;
            }
        }
    }
    if h.name.is_empty() {
        return Err(HeaderError::NoName);
    }
    Ok(h)
}

/// The NUL-terminated string at `offset` of `data` (the first one, for arrays), lossy UTF-8.
fn c_string(data: &[u8], offset: usize) -> Option<String> {
    let rest = data.get(offset..)?;
    let end = rest.iter().position(|b| *b == 0)?;
    let s = String::from_utf8_lossy(&rest[..end.min(MAX_STRING)]);
    Some(s.trim().to_string())
}

/// Builds a header blob (for tests of the readers above this one).
#[cfg(test)]
pub fn build(fields: &[(u32, &str)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data = Vec::new();
    for (tag, value) in fields {
        index.extend(tag.to_be_bytes());
        index.extend(TYPE_STRING.to_be_bytes());
        index.extend((data.len() as u32).to_be_bytes());
        index.extend(1u32.to_be_bytes());
        data.extend(value.as_bytes());
        data.push(0);
    }
    let mut blob = Vec::new();
    blob.extend((fields.len() as u32).to_be_bytes());
    blob.extend((data.len() as u32).to_be_bytes());
    blob.extend(index);
    blob.extend(data);
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_evr() {
        let blob = build(&[
            (TAG_NAME, "MQSeriesRuntime"),
            (TAG_VERSION, "9.3.4"),
            (TAG_RELEASE, "0"),
            (TAG_VENDOR, "IBM"),
            (TAG_ARCH, "x86_64"),
            (TAG_SUMMARY, "IBM MQ Runtime FileSet"),
        ]);
        let h = parse(&blob).unwrap();
        assert_eq!(h.name, "MQSeriesRuntime");
        assert_eq!(h.evr(), "9.3.4-0");
        assert_eq!(h.vendor, "IBM");
        assert_eq!(h.arch, "x86_64");
        assert_eq!(h.summary, "IBM MQ Runtime FileSet");
        assert_eq!(
            RpmHeader {
                epoch: Some(2),
                version: "1.0".into(),
                release: "3".into(),
                ..Default::default()
            }
            .evr(),
            "2:1.0-3"
        );
    }

    #[test]
    fn damaged_blobs_are_errors() {
        let blob = build(&[(TAG_NAME, "bash"), (TAG_VERSION, "5.1")]);
        assert!(matches!(parse(&blob[..4]), Err(HeaderError::Short(4))));
        assert!(matches!(
            parse(&blob[..blob.len() - 1]),
            Err(HeaderError::Sizes { .. })
        ));
        assert_eq!(
            parse(&build(&[(TAG_VERSION, "1")])),
            Err(HeaderError::NoName)
        );
        let mut huge = blob.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(parse(&huge), Err(HeaderError::Sizes { .. })));
        // An offset past the data store, a string without its NUL: field left empty, no panic.
        let mut bad = blob.clone();
        bad[8 + 8..8 + 12].copy_from_slice(&1_000_000u32.to_be_bytes());
        assert_eq!(parse(&bad), Err(HeaderError::NoName));
        for cut in 0..blob.len() {
            let _ = parse(&blob[..cut]);
        }
        let mut flipped = blob.clone();
        for i in 0..flipped.len() {
            for bit in 0..8 {
                flipped[i] ^= 1 << bit;
                let _ = parse(&flipped);
                flipped[i] ^= 1 << bit;
            }
        }
    }
}
