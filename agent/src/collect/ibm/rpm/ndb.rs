//! A minimal, read-only reader of rpm's own "ndb" package store (`Packages.db`, SUSE since
//! SLES 15 SP3 / openSUSE), after rpm's `lib/backend/ndb/rpmpkg.c`. All integers little-endian:
//!
//! - header (32 bytes): magic `RpmP`, version 0, generation, slot pages, next package index;
//! - slot area (slot pages × 4096 bytes, after the header): 16-byte slots `Slot`, package index
//!   (0 = free), block offset, block count (blocks of 16 bytes);
//! - at block offset × 16: blob header `BlbS`, package index, generation, blob length; then the
//!   header blob itself.
//!
//! Not verified against a database written by SUSE's rpm (the rpm here was built without the
//! ndb backend); the test builds a file from the layout above. Bounds, counts and lengths are
//! all checked.

use super::{DbError, Source};

const DB_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const PAGE: u64 = 4096;
const HEADER: u64 = 32;
const SLOT: u64 = 16;
const BLOCK: u64 = 16;
/// Most slot pages accepted (a million packages need 3,907).
const MAX_SLOT_PAGES: u64 = 8192;
/// Largest blob read.
pub const MAX_BLOB: u64 = 64 * 1024 * 1024;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Calls `f(blob)` for every package header in the store, until it returns false.
pub fn blobs<S: Source + ?Sized>(
    src: &S,
    f: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), DbError> {
    let mut head = [0u8; HEADER as usize];
    if src.size() < HEADER {
        return Err(DbError::NotThisFormat("rpm ndb"));
    }
    src.read_at(0, &mut head)?;
    if le32(&head, 0) != Some(DB_MAGIC) {
        return Err(DbError::NotThisFormat("rpm ndb"));
    }
    let slot_pages = u64::from(le32(&head, 12).unwrap_or(0));
    if slot_pages == 0 || slot_pages > MAX_SLOT_PAGES || slot_pages * PAGE > src.size() {
        return Err(DbError::corrupt(0, format!("{slot_pages} slot pages")));
    }
    let mut slots = vec![0u8; (slot_pages * PAGE) as usize];
    src.read_at(0, &mut slots)?;
    for s in (HEADER / SLOT)..(slot_pages * PAGE / SLOT) {
        let at = (s * SLOT) as usize;
        let (Some(magic), Some(pkg), Some(blkoff), Some(blkcnt)) = (
            le32(&slots, at),
            le32(&slots, at + 4),
            le32(&slots, at + 8),
            le32(&slots, at + 12),
        ) else {
            break;
        };
        if magic != SLOT_MAGIC {
            return Err(DbError::corrupt(s, "slot without its magic"));
        }
        if pkg == 0 {
            continue;
        }
        let start = u64::from(blkoff) * BLOCK;
        let room = u64::from(blkcnt) * BLOCK;
        if start < slot_pages * PAGE || start.saturating_add(room) > src.size() || room < 16 {
            return Err(DbError::corrupt(s, "slot points outside the blob area"));
        }
        let mut bh = [0u8; 16];
        src.read_at(start, &mut bh)?;
        if le32(&bh, 0) != Some(BLOB_MAGIC) || le32(&bh, 4) != Some(pkg) {
            return Err(DbError::corrupt(s, "blob header does not match its slot"));
        }
        let len = u64::from(le32(&bh, 12).unwrap_or(0));
        if len > MAX_BLOB || 16 + len > room {
            return Err(DbError::corrupt(
                s,
                format!("blob of {len} bytes does not fit its {room}-byte slot"),
            ));
        }
        let mut blob = vec![0u8; len as usize];
        src.read_at(start + 16, &mut blob)?;
        if !f(blob) {
            return Ok(());
        }
    }
    Ok(())
}

/// Builds an ndb file holding `blobs` (tests only).
#[cfg(test)]
pub fn build(blobs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0u8; PAGE as usize];
    out[0..4].copy_from_slice(b"RpmP");
    out[12..16].copy_from_slice(&1u32.to_le_bytes());
    out[16..20].copy_from_slice(&(blobs.len() as u32 + 1).to_le_bytes());
    for s in (HEADER / SLOT) as usize..(PAGE / SLOT) as usize {
        out[s * 16..s * 16 + 4].copy_from_slice(b"Slot");
    }
    for (i, b) in blobs.iter().enumerate() {
        let blocks = (16 + b.len() + 12).div_ceil(16);
        let blkoff = out.len() / 16;
        let s = (HEADER / SLOT) as usize + i;
        let pkg = i as u32 + 1;
        out[s * 16 + 4..s * 16 + 8].copy_from_slice(&pkg.to_le_bytes());
        out[s * 16 + 8..s * 16 + 12].copy_from_slice(&(blkoff as u32).to_le_bytes());
        out[s * 16 + 12..s * 16 + 16].copy_from_slice(&(blocks as u32).to_le_bytes());
        let mut blob = Vec::new();
        blob.extend(b"BlbS");
        blob.extend(pkg.to_le_bytes());
        blob.extend(1u32.to_le_bytes());
        blob.extend((b.len() as u32).to_le_bytes());
        blob.extend(b);
        blob.extend(0u32.to_le_bytes());
        blob.extend((b.len() as u32).to_le_bytes());
        blob.extend(b"BlbE");
        blob.resize(blocks * 16, 0);
        out.extend(blob);
    }
    out
}
