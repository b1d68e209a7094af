//! `.index`: Kafka's `OffsetIndex`, a sparse map from offset to file position in
//! the segment's `.log`.
//!
//! Entry (8 bytes, big endian): relative offset u32 (offset - segment base offset),
//! position u32. Like Kafka, the offset stored is the *last* offset of the batch that
//! starts at `position`, so `lookup(o)` returns a batch position at or before the
//! batch holding `o`. This module never reads the `.log` itself.

use std::io;
use std::path::Path;

use std::sync::Arc;

use crate::log::file_cache::FileCache;
use crate::log::index_file::IndexFile;

pub const OFFSET_INDEX_ENTRY_SIZE: usize = 8;

pub struct OffsetIndex {
    base_offset: i64,
    file: IndexFile,
}

impl OffsetIndex {
    pub fn open(
        path: &Path,
        base_offset: i64,
        fresh: bool,
        cache: &Arc<FileCache>,
    ) -> io::Result<OffsetIndex> {
        Ok(OffsetIndex {
            base_offset,
            file: IndexFile::open(path, OFFSET_INDEX_ENTRY_SIZE, fresh, cache)?,
        })
    }

    pub fn entry(&self, i: usize) -> (i64, u32) {
        let e = self.file.entry(i);
        let rel = u32::from_be_bytes(e[0..4].try_into().expect("4"));
        let pos = u32::from_be_bytes(e[4..8].try_into().expect("4"));
        (self.base_offset + rel as i64, pos)
    }

    pub fn entries(&self) -> usize {
        self.file.entries()
    }

    pub fn last_entry(&self) -> Option<(i64, u32)> {
        self.entries().checked_sub(1).map(|i| self.entry(i))
    }

    pub fn is_full(&self) -> bool {
        self.file.entries() >= self.file.capacity()
    }

    /// Appends `(offset, position)` if there is room; the index is sparse, so a skipped
    /// entry only costs scanning. Both must grow strictly (debug builds assert it;
    /// release builds skip such an entry).
    pub fn append(&mut self, offset: i64, position: u32) -> bool {
        let rel = offset - self.base_offset;
        if self.is_full() || !(0..=u32::MAX as i64).contains(&rel) {
            return false;
        }
        if let Some((last_off, last_pos)) = self.last_entry() {
            // Kafka's `OffsetIndex.append` throws here: callers index batches in log
            // order, so a non-ascending entry is a bug (skipped in release builds).
            debug_assert!(
                offset > last_off && position > last_pos,
                "offset index entry ({offset}, {position}) does not ascend past ({last_off}, {last_pos})"
            );
            if offset <= last_off || position <= last_pos {
                return false;
            }
        }
        let mut e = [0u8; OFFSET_INDEX_ENTRY_SIZE];
        e[0..4].copy_from_slice(&(rel as u32).to_be_bytes());
        e[4..8].copy_from_slice(&position.to_be_bytes());
        self.file.push(&e);
        true
    }

    /// The entry with the largest offset <= `target`, or `(base_offset, 0)`.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let lo = self.file.partition_point(|i| self.entry(i).0 <= target);
        if lo == 0 {
            (self.base_offset, 0)
        } else {
            self.entry(lo - 1)
        }
    }

    /// Kafka's O(1) `sanityCheck`: whole entries, and the last entry lies inside the
    /// segment (a preallocated, never-trimmed index ends in zero entries and fails).
    pub fn sanity_check(&self, log_size: u64) -> Result<(), String> {
        if let Some((last_off, last_pos)) = self.last_entry() {
            let (first_off, first_pos) = self.entry(0);
            if last_off < first_off || last_pos < first_pos {
                return Err("offset index entries are not ascending".into());
            }
            if self.entries() > 1 && (last_off == first_off || last_pos == first_pos) {
                return Err("offset index has repeated entries".into());
            }
            if last_pos as u64 >= log_size {
                return Err(format!(
                    "offset index position {last_pos} beyond log size {log_size}"
                ));
            }
        }
        Ok(())
    }

    pub fn reset(&mut self) {
        self.file.truncate_entries(0);
    }

    pub fn file(&self) -> &IndexFile {
        &self.file
    }

    pub fn file_mut(&mut self) -> &mut IndexFile {
        &mut self.file
    }
}
