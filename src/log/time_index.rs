//! `.timeindex`: Kafka's `TimeIndex`, a sparse map from timestamp to offset.
//!
//! Entry (12 bytes, big endian): timestamp i64 (the largest batch max timestamp
//! seen so far in the segment), relative offset u32 of the last offset of the batch
//! that first reached that timestamp. Timestamps strictly increase. One slot is
//! kept free for the entry written when the segment becomes inactive, so the last
//! entry of a rolled segment always holds its largest timestamp (used by
//! time-based retention after a restart). It never reads the `.log`.

use std::io;
use std::path::Path;

use std::sync::Arc;

use crate::log::file_cache::FileCache;
use crate::log::index_file::IndexFile;

pub const TIME_INDEX_ENTRY_SIZE: usize = 12;

pub struct TimeIndex {
    base_offset: i64,
    file: IndexFile,
}

impl TimeIndex {
    pub fn open(
        path: &Path,
        base_offset: i64,
        fresh: bool,
        cache: &Arc<FileCache>,
    ) -> io::Result<TimeIndex> {
        Ok(TimeIndex {
            base_offset,
            file: IndexFile::open(path, TIME_INDEX_ENTRY_SIZE, fresh, cache)?,
        })
    }

    pub fn entry(&self, i: usize) -> (i64, i64) {
        let e = self.file.entry(i);
        let ts = i64::from_be_bytes(e[0..8].try_into().expect("8"));
        let rel = u32::from_be_bytes(e[8..12].try_into().expect("4"));
        (ts, self.base_offset + rel as i64)
    }

    pub fn entries(&self) -> usize {
        self.file.entries()
    }

    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.entries().checked_sub(1).map(|i| self.entry(i))
    }

    /// Full for regular appends (the last slot is reserved for the final entry).
    pub fn is_full(&self) -> bool {
        self.file.entries() + 1 >= self.file.capacity()
    }

    /// Kafka's `maybeAppend`: only when `timestamp` beats the last entry. `final_entry`
    /// may use the reserved last slot. Timestamps and offsets never go back.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64, final_entry: bool) -> bool {
        let rel = offset - self.base_offset;
        let room = if final_entry {
            self.file.entries() < self.file.capacity()
        } else {
            !self.is_full()
        };
        if !room || timestamp < 0 || !(0..=u32::MAX as i64).contains(&rel) {
            return false;
        }
        if let Some((last_ts, last_off)) = self.last_entry() {
            // Kafka's `TimeIndex.maybeAppend` throws for a smaller timestamp or offset:
            // callers pass the segment's running maximum, which never goes back (debug
            // builds assert it; release builds skip). An equal timestamp is no news.
            debug_assert!(
                timestamp >= last_ts && offset >= last_off,
                "time index entry ({timestamp}, {offset}) goes back from ({last_ts}, {last_off})"
            );
            if timestamp <= last_ts || offset < last_off {
                return false;
            }
        }
        let mut e = [0u8; TIME_INDEX_ENTRY_SIZE];
        e[0..8].copy_from_slice(&timestamp.to_be_bytes());
        e[8..12].copy_from_slice(&(rel as u32).to_be_bytes());
        self.file.push(&e);
        true
    }

    /// The entry with the largest timestamp <= `target`, if any.
    pub fn lookup(&self, target: i64) -> Option<(i64, i64)> {
        let lo = self.file.partition_point(|i| self.entry(i).0 <= target);
        lo.checked_sub(1).map(|i| self.entry(i))
    }

    /// O(1) check like Kafka's: ascending first/last entry, offsets not before the base.
    pub fn sanity_check(&self) -> Result<(), String> {
        if let Some((last_ts, last_off)) = self.last_entry() {
            let (first_ts, first_off) = self.entry(0);
            if last_ts < first_ts || last_off < first_off || first_ts < 0 {
                return Err("time index entries are not ascending".into());
            }
            if self.entries() > 1 && last_ts == first_ts {
                return Err("time index has repeated entries".into());
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
