//! A minimal, read-only reader of the Berkeley DB hash file rpm used up to RHEL 8 and SLES 15 SP2
//! (`var/lib/rpm/Packages`): key = 4-byte header number, value = the header blob.
//!
//! Layout (Berkeley DB 4.x-5.x, host byte order, told by the magic of the metadata page 0):
//! - metadata page: magic `0x061561` at 12, page size at 20, encryption algorithm at 24,
//!   meta flags at 26 (bit 0: page checksums), last page number at 32;
//! - every page starts with a 26-byte header: page number at 8, next page at 16, entry count at
//!   20, "high free offset" at 22 (on overflow pages: the bytes of data the page holds), type at
//!   25 (13 hash, 2 unsorted hash, 7 overflow);
//! - a hash page's index (u16 offsets after the header, 20 more bytes with checksums) points to
//!   items, alternating key and data: `H_KEYDATA` (1: bytes inline, up to the previous item) or
//!   `H_OFFPAGE` (3: first overflow page at +4, total length at +8); overflow pages chain by
//!   their next-page field and hold data after the header.
//!
//! The reader walks every page of the file, takes each data item of each hash page, and follows
//! overflow chains; no hashing is needed. Encrypted databases are refused. Everything is bounds
//! checked, chains are cycle-checked, and values are capped.

use std::collections::HashSet;

use super::{DbError, Source};

const HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;
/// Largest value read (a header blob).
pub const MAX_VALUE: u64 = 64 * 1024 * 1024;

#[derive(Clone, Copy)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at + 2)?;
        let a = [s[0], s[1]];
        Some(match self {
            Order::Little => u16::from_le_bytes(a),
            Order::Big => u16::from_be_bytes(a),
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(match self {
            Order::Little => u32::from_le_bytes(a),
            Order::Big => u32::from_be_bytes(a),
        })
    }
}

/// Calls `f(value)` for every value stored in the hash database, until it returns false.
pub fn values<S: Source + ?Sized>(
    src: &S,
    f: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), DbError> {
    let mut meta = [0u8; 512];
    if src.size() < 512 {
        return Err(DbError::NotThisFormat("Berkeley DB"));
    }
    src.read_at(0, &mut meta)?;
    let order = if Order::Little.u32(&meta, 12) == Some(HASH_MAGIC) {
        Order::Little
    } else if Order::Big.u32(&meta, 12) == Some(HASH_MAGIC) {
        Order::Big
    } else {
        return Err(DbError::NotThisFormat("Berkeley DB hash"));
    };
    let page_size = u64::from(order.u32(&meta, 20).unwrap_or(0));
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(DbError::corrupt(0, format!("page size {page_size}")));
    }
    if meta[24] != 0 {
        return Err(DbError::Unsupported("encrypted Berkeley DB".into()));
    }
    let index_at = PAGE_HEADER + if meta[26] & 1 != 0 { 20 } else { 0 };
    let pages = src.size() / page_size;
    let last = u64::from(order.u32(&meta, 32).unwrap_or(0)).min(pages.saturating_sub(1));

    let read_page = |n: u64| -> Result<Vec<u8>, DbError> {
        if n == 0 || n >= pages {
            return Err(DbError::corrupt(n, "page number out of the file"));
        }
        let mut p = vec![0u8; page_size as usize];
        src.read_at(n * page_size, &mut p)?;
        Ok(p)
    };

    for n in 1..=last {
        let page = read_page(n)?;
        let kind = page[25];
        if kind != P_HASH && kind != P_HASH_UNSORTED {
            continue;
        }
        let entries = usize::from(order.u16(&page, 20).unwrap_or(0));
        // Items alternate key, data: the data items are the odd ones.
        for i in (1..entries).step_by(2) {
            let Some(off) = order.u16(&page, index_at + 2 * i).map(usize::from) else {
                return Err(DbError::corrupt(n, "index past the page end"));
            };
            let Some(prev) = order.u16(&page, index_at + 2 * (i - 1)).map(usize::from) else {
                return Err(DbError::corrupt(n, "index past the page end"));
            };
            let Some(&item) = page.get(off) else {
                return Err(DbError::corrupt(n, "item offset past the page end"));
            };
            let value = match item {
                H_KEYDATA => {
                    // The item runs up to the start of the previous one.
                    if prev <= off {
                        return Err(DbError::corrupt(n, "items out of order"));
                    }
                    page.get(off + 1..prev)
                        .ok_or_else(|| DbError::corrupt(n, "item past the page end"))?
                        .to_vec()
                }
                H_OFFPAGE => {
                    let first = order
                        .u32(&page, off + 4)
                        .ok_or_else(|| DbError::corrupt(n, "short off-page item"))?;
                    let total = order
                        .u32(&page, off + 8)
                        .ok_or_else(|| DbError::corrupt(n, "short off-page item"))?;
                    overflow(&read_page, order, u64::from(first), u64::from(total))?
                }
                _ => continue,
            };
            if !f(value) {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn overflow(
    read_page: &dyn Fn(u64) -> Result<Vec<u8>, DbError>,
    order: Order,
    first: u64,
    total: u64,
) -> Result<Vec<u8>, DbError> {
    if total > MAX_VALUE {
        return Err(DbError::Limit(format!(
            "value of {total} bytes is over the {MAX_VALUE}-byte limit"
        )));
    }
    let mut out = Vec::with_capacity(total as usize);
    let mut seen = HashSet::new();
    let mut n = first;
    while (out.len() as u64) < total {
        if !seen.insert(n) {
            return Err(DbError::corrupt(n, "overflow chain loops"));
        }
        let page = read_page(n)?;
        if page[25] != P_OVERFLOW {
            return Err(DbError::corrupt(
                n,
                "overflow chain reaches a non-overflow page",
            ));
        }
        let len = usize::from(order.u16(&page, 22).unwrap_or(0));
        let want = len.min((total - out.len() as u64) as usize);
        let chunk = page
            .get(PAGE_HEADER..PAGE_HEADER + want)
            .ok_or_else(|| DbError::corrupt(n, "overflow length past the page end"))?;
        if chunk.is_empty() {
            return Err(DbError::corrupt(n, "empty overflow page"));
        }
        out.extend_from_slice(chunk);
        n = u64::from(order.u32(&page, 16).unwrap_or(0));
        if n == 0 && (out.len() as u64) < total {
            return Err(DbError::corrupt(n, "overflow chain ends early"));
        }
    }
    Ok(out)
}
