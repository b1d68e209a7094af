//! The aborted-transaction index (`<base>.txnindex`, Kafka's `TransactionIndex`): one
//! entry per transaction aborted by a marker in that segment, so a read_committed fetch
//! can tell the consumer which producers' records in the range to drop.
//!
//! The entries are derived data: the abort markers in the `.log` are the truth, and
//! `open` rebuilds the entries of every segment it replays. Entries are only appended;
//! a file is rewritten only during `open`, before any reader exists. This module never
//! reads records.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::log::file_names::{segment_file_name, TXN_INDEX_EXT};
use crate::log::storage::{self, OpenOptions};

/// version (2) + producer id (8) + first offset (8) + last offset (8) + last stable offset (8)
pub const ENTRY_SIZE: usize = 34;
const VERSION: i16 = 0;

/// A transaction aborted in this partition: the consumer drops `producer_id`'s records
/// from `first_offset` up to the abort marker at `last_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The last stable offset when the marker was written (Kafka keeps it to stop
    /// searches early; Sluice keeps it for format compatibility).
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    pub fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..2].copy_from_slice(&VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let be64 = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        if b.len() != ENTRY_SIZE || i16::from_be_bytes([b[0], b[1]]) != VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: be64(2),
            first_offset: be64(10),
            last_offset: be64(18),
            last_stable_offset: be64(26),
        })
    }
}

pub fn path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(segment_file_name(base_offset, TXN_INDEX_EXT))
}

/// Entries of one segment's index, or `None` if the file is damaged (a torn last
/// entry, an unknown version, offsets going backwards): the caller rebuilds it.
pub fn read(dir: &Path, base_offset: i64) -> io::Result<Option<Vec<AbortedTxn>>> {
    let bytes = match storage::read(path(dir, base_offset)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
        Err(e) => return Err(e),
    };
    if bytes.len() % ENTRY_SIZE != 0 {
        return Ok(None);
    }
    let mut out: Vec<AbortedTxn> = Vec::with_capacity(bytes.len() / ENTRY_SIZE);
    for chunk in bytes.chunks(ENTRY_SIZE) {
        let Some(e) = AbortedTxn::decode(chunk) else {
            return Ok(None);
        };
        if e.first_offset > e.last_offset
            || out.last().is_some_and(|p| p.last_offset > e.last_offset)
        {
            return Ok(None);
        }
        out.push(e);
    }
    Ok(Some(out))
}

/// Appends one entry (written through the page cache; `sync` makes it durable with
/// the segment's `.log`).
pub fn append(dir: &Path, base_offset: i64, entry: &AbortedTxn) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(dir, base_offset))?;
    f.write_all(&entry.encode())
}

/// Replaces a segment's index with `entries` (only during `open`).
pub fn rewrite(dir: &Path, base_offset: i64, entries: &[AbortedTxn]) -> io::Result<()> {
    let p = path(dir, base_offset);
    if entries.is_empty() {
        return match storage::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut f = storage::create(&p)?;
    for e in entries {
        f.write_all(&e.encode())?;
    }
    f.sync_all()
}

/// fdatasync of a segment's index if it exists.
pub fn sync(dir: &Path, base_offset: i64) -> io::Result<()> {
    match storage::open(path(dir, base_offset)) {
        Ok(f) => f.sync_data(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let a = AbortedTxn {
            producer_id: 7,
            first_offset: 3,
            last_offset: 9,
            last_stable_offset: 3,
        };
        let b = AbortedTxn {
            producer_id: 8,
            first_offset: 4,
            last_offset: 12,
            last_stable_offset: 4,
        };
        append(dir.path(), 0, &a).unwrap();
        append(dir.path(), 0, &b).unwrap();
        assert_eq!(read(dir.path(), 0).unwrap(), Some(vec![a, b]));
        let mut bytes = fs::read(path(dir.path(), 0)).unwrap();
        bytes.pop();
        fs::write(path(dir.path(), 0), &bytes).unwrap();
        assert_eq!(read(dir.path(), 0).unwrap(), None, "torn entry");
        rewrite(dir.path(), 0, &[a]).unwrap();
        assert_eq!(read(dir.path(), 0).unwrap(), Some(vec![a]));
        assert_eq!(
            read(dir.path(), 5).unwrap(),
            Some(vec![]),
            "missing file = no aborts"
        );
    }
}
