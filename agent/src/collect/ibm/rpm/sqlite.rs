//! A minimal, read-only reader of SQLite database files: enough to list the rows of one table
//! (rpm ≥ 4.16 keeps its package headers in `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)` of
//! `rpmdb.sqlite`). It follows the file format of sqlite.org/fileformat2.html:
//!
//! - a 100-byte header (`SQLite format 3\0`, page size at 16, reserved bytes per page at 20);
//! - table b-trees of interior pages (type 5: child pointers and a right-most pointer) and leaf
//!   pages (type 13: cells of payload length, rowid, local payload, first overflow page);
//! - payloads larger than a page spill into a chain of overflow pages;
//! - records: a header of serial types, then the column values.
//!
//! The schema table (root page 1) gives the table's root page. The write-ahead log is not read:
//! the caller warns when a non-empty `-wal` file sits beside the database.
//!
//! Everything read is untrusted: every offset is checked, page numbers are bounded by the file,
//! visited pages are remembered (a cycle is an error, not a hang), and payloads are capped.

use std::collections::HashSet;

use super::{DbError, Source};

const MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Largest row payload read (a header blob; rpm caps headers far below this).
pub const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;
/// Deepest b-tree accepted (a real one of billions of rows is under 10 levels).
const MAX_DEPTH: usize = 40;

/// The per-row callback of [`Db::rows`]: `(rowid, payload)`, `Ok(false)` to stop.
pub type RowFn<'f> = dyn FnMut(i64, &[u8]) -> Result<bool, DbError> + 'f;

/// One column value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// An open database file.
pub struct Db<'a, S: Source + ?Sized> {
    src: &'a S,
    page_size: u64,
    usable: u64,
    pages: u64,
}

impl<'a, S: Source + ?Sized> Db<'a, S> {
    pub fn open(src: &'a S) -> Result<Self, DbError> {
        let mut header = [0u8; 100];
        if src.size() < 100 {
            return Err(DbError::NotThisFormat("SQLite"));
        }
        src.read_at(0, &mut header)?;
        if &header[..16] != MAGIC {
            return Err(DbError::NotThisFormat("SQLite"));
        }
        let raw = u16::from_be_bytes([header[16], header[17]]);
        let page_size: u64 = if raw == 1 { 65_536 } else { u64::from(raw) };
        if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(DbError::corrupt(0, format!("page size {raw}")));
        }
        let usable = page_size - u64::from(header[20]);
        if usable < 480 {
            return Err(DbError::corrupt(0, format!("usable page size {usable}")));
        }
        let pages = src.size() / page_size;
        Ok(Db {
            src,
            page_size,
            usable,
            pages,
        })
    }

    fn page(&self, n: u64) -> Result<Vec<u8>, DbError> {
        if n == 0 || n > self.pages {
            return Err(DbError::corrupt(
                n,
                format!("page number out of the file's {} pages", self.pages),
            ));
        }
        let mut buf = vec![0u8; self.page_size as usize];
        self.src.read_at((n - 1) * self.page_size, &mut buf)?;
        Ok(buf)
    }

    /// The root page of table `name` (ASCII case-insensitive), from the schema table.
    pub fn table_root(&self, name: &str) -> Result<Option<u64>, DbError> {
        let mut found = None;
        self.rows(1, &mut |_, payload| {
            let cols = record(payload)?;
            let is_table = matches!(cols.first(), Some(Value::Text(t)) if t.eq_ignore_ascii_case(b"table"));
            let named = matches!(cols.get(1), Some(Value::Text(t)) if t.eq_ignore_ascii_case(name.as_bytes()));
            if is_table && named {
                if let Some(Value::Int(root)) = cols.get(3) {
                    found = u64::try_from(*root).ok();
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// Calls `f(rowid, payload)` for every row of the table b-tree rooted at `root`, in rowid
    /// order, until it returns `Ok(false)`.
    pub fn rows(&self, root: u64, f: &mut RowFn<'_>) -> Result<(), DbError> {
        let mut visited = HashSet::new();
        // Depth-first, children in order: a stack of (page, depth) pushed in reverse.
        let mut stack = vec![(root, 0usize)];
        while let Some((n, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(DbError::corrupt(n, "b-tree deeper than 40 levels"));
            }
            if !visited.insert(n) {
                return Err(DbError::corrupt(
                    n,
                    "page reached twice (cycle in the b-tree)",
                ));
            }
            let page = self.page(n)?;
            let hdr = if n == 1 { 100 } else { 0 };
            let kind = *page
                .get(hdr)
                .ok_or_else(|| DbError::corrupt(n, "short page"))?;
            let cells =
                usize::from(be16(&page, hdr + 3).ok_or_else(|| DbError::corrupt(n, "short page"))?);
            match kind {
                5 => {
                    let right =
                        be32(&page, hdr + 8).ok_or_else(|| DbError::corrupt(n, "short page"))?;
                    let mut children = Vec::with_capacity(cells + 1);
                    for i in 0..cells {
                        let ptr = cell_pointer(&page, hdr + 12, i, n)?;
                        let child = be32(&page, ptr)
                            .ok_or_else(|| DbError::corrupt(n, "cell past the page end"))?;
                        children.push(u64::from(child));
                    }
                    children.push(u64::from(right));
                    for c in children.into_iter().rev() {
                        stack.push((c, depth + 1));
                    }
                }
                13 => {
                    for i in 0..cells {
                        let ptr = cell_pointer(&page, hdr + 8, i, n)?;
                        let (rowid, payload) = self.leaf_cell(&page, ptr, n)?;
                        if !f(rowid, &payload)? {
                            return Ok(());
                        }
                    }
                }
                other => {
                    return Err(DbError::corrupt(
                        n,
                        format!("page type {other} in a table b-tree"),
                    ))
                }
            }
        }
        Ok(())
    }

    /// The rowid and whole payload of the table leaf cell at `ptr`.
    fn leaf_cell(&self, page: &[u8], ptr: usize, n: u64) -> Result<(i64, Vec<u8>), DbError> {
        let (len, a) =
            varint(page, ptr).ok_or_else(|| DbError::corrupt(n, "bad payload length"))?;
        let (rowid, b) = varint(page, ptr + a).ok_or_else(|| DbError::corrupt(n, "bad rowid"))?;
        let len = len as u64;
        if len > MAX_PAYLOAD {
            return Err(DbError::Limit(format!(
                "row {rowid} payload of {len} bytes is over the {MAX_PAYLOAD}-byte limit"
            )));
        }
        let start = ptr + a + b;
        let local = self.local_size(len) as usize;
        let local_bytes = page
            .get(start..start + local)
            .ok_or_else(|| DbError::corrupt(n, "cell payload past the page end"))?;
        let mut payload = Vec::with_capacity(len as usize);
        payload.extend_from_slice(local_bytes);
        if (local as u64) < len {
            let mut next = be32(page, start + local)
                .ok_or_else(|| DbError::corrupt(n, "missing overflow pointer"))?;
            let mut seen = HashSet::new();
            while (payload.len() as u64) < len {
                let o = u64::from(next);
                if !seen.insert(o) {
                    return Err(DbError::corrupt(o, "overflow chain loops"));
                }
                let opage = self.page(o)?;
                next = be32(&opage, 0).ok_or_else(|| DbError::corrupt(o, "short overflow page"))?;
                let want = (len - payload.len() as u64).min(self.usable - 4) as usize;
                let chunk = opage
                    .get(4..4 + want)
                    .ok_or_else(|| DbError::corrupt(o, "short overflow page"))?;
                payload.extend_from_slice(chunk);
            }
        }
        Ok((rowid, payload))
    }

    /// Bytes of a table leaf payload of `len` bytes stored on the b-tree page itself.
    fn local_size(&self, len: u64) -> u64 {
        let u = self.usable;
        let x = u - 35;
        if len <= x {
            return len;
        }
        let m = ((u - 12) * 32 / 255) - 23;
        let k = m + ((len - m) % (u - 4));
        if k <= x {
            k
        } else {
            m
        }
    }
}

fn cell_pointer(page: &[u8], array: usize, i: usize, n: u64) -> Result<usize, DbError> {
    let p = be16(page, array + 2 * i)
        .ok_or_else(|| DbError::corrupt(n, "cell pointer array past the page end"))?;
    let p = usize::from(p);
    if p >= page.len() {
        return Err(DbError::corrupt(n, "cell pointer past the page end"));
    }
    Ok(p)
}

/// Decodes a record: header of serial types, then values.
pub fn record(payload: &[u8]) -> Result<Vec<Value<'_>>, DbError> {
    let bad = |what: &str| DbError::corrupt(0, format!("record: {what}"));
    let (hlen, mut at) = varint(payload, 0).ok_or_else(|| bad("header length"))?;
    let hlen = usize::try_from(hlen).map_err(|_| bad("header length"))?;
    if hlen > payload.len() || hlen < at {
        return Err(bad("header longer than the record"));
    }
    let mut types = Vec::new();
    while at < hlen {
        let (t, n) = varint(payload, at).ok_or_else(|| bad("serial type"))?;
        types.push(t);
        at += n;
    }
    let mut pos = hlen;
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let (size, v): (usize, fn(&[u8]) -> Value<'_>) = match t {
            0 => (0, |_| Value::Null),
            1 => (1, |b| Value::Int(int_be(b))),
            2 => (2, |b| Value::Int(int_be(b))),
            3 => (3, |b| Value::Int(int_be(b))),
            4 => (4, |b| Value::Int(int_be(b))),
            5 => (6, |b| Value::Int(int_be(b))),
            6 => (8, |b| Value::Int(int_be(b))),
            7 => (8, |b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Float(f64::from_be_bytes(a))
            }),
            8 => (0, |_| Value::Int(0)),
            9 => (0, |_| Value::Int(1)),
            t if t >= 12 && t % 2 == 0 => (((t - 12) / 2) as usize, |b| Value::Blob(b)),
            t if t >= 13 => (((t - 13) / 2) as usize, |b| Value::Text(b)),
            _ => return Err(bad("reserved serial type")),
        };
        let end = pos.checked_add(size).ok_or_else(|| bad("value length"))?;
        let bytes = payload
            .get(pos..end)
            .ok_or_else(|| bad("value past the record end"))?;
        out.push(v(bytes));
        pos = end;
    }
    Ok(out)
}

/// Big-endian two's-complement integer of 1 to 8 bytes.
fn int_be(b: &[u8]) -> i64 {
    let mut v: i64 = if b.first().is_some_and(|x| x & 0x80 != 0) {
        -1
    } else {
        0
    };
    for x in b {
        v = (v << 8) | i64::from(*x);
    }
    v
}

/// SQLite varint at `at`: the value and its length in bytes (1 to 9).
pub fn varint(b: &[u8], at: usize) -> Option<(i64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let x = *b.get(at + i)?;
        if i == 8 {
            v = (v << 8) | u64::from(x);
            return Some((v as i64, 9));
        }
        v = (v << 7) | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            return Some((v as i64, i + 1));
        }
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for (bytes, want) in [
            (&[0x00][..], (0i64, 1usize)),
            (&[0x7f][..], (127, 1)),
            (&[0x81, 0x00][..], (128, 2)),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
                (-1, 9),
            ),
        ] {
            assert_eq!(varint(bytes, 0), Some(want), "{bytes:?}");
        }
        assert_eq!(varint(&[0x81], 0), None);
    }

    #[test]
    fn records() {
        // header: len 5, types: text(3) int8 null blob(2)
        let payload = [5u8, 19, 1, 0, 16, b'a', b'b', b'c', 0xfe, 0xca, 0xfe];
        let cols = record(&payload).unwrap();
        assert_eq!(
            cols,
            vec![
                Value::Text(b"abc"),
                Value::Int(-2),
                Value::Null,
                Value::Blob(&[0xca, 0xfe])
            ]
        );
        assert!(record(&payload[..7]).is_err());
        assert!(record(&[]).is_err());
        assert!(record(&[2, 10]).is_err());
    }
}
