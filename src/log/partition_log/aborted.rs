//! The aborted transactions of a partition log that read_committed fetches are told
//! about, bounded in memory (`sluice.log.aborted.txn.memory.entries`).
//!
//! Every aborted transaction still in the log has its entry in the `.txnindex` file of
//! the segment holding its marker (see `txn_index`); those files are the complete
//! list. Memory keeps only the newest entries, so the common read_committed fetch (of
//! recent data) is answered without touching a file; a fetch whose range reaches older
//! entries reads the `.txnindex` files of the segments it covers. Per segment whose
//! entries were dropped from memory, the smallest first offset among them is kept, so
//! such a fetch only opens the files that can hold an entry for its range.

use std::collections::{BTreeMap, VecDeque};

use super::*;

/// The in-memory part of the aborted-transaction list.
#[derive(Debug, Default)]
pub(super) struct AbortedTxns {
    /// The newest entries, by marker offset: every one whose marker is at or after
    /// `in_memory_from`.
    recent: VecDeque<AbortedTxn>,
    /// Entries with a marker below this are only in the `.txnindex` files
    /// (`i64::MIN`: none are).
    in_memory_from: i64,
    /// Segment base offset -> the smallest first offset of the entries of that
    /// segment's `.txnindex` that are no longer in memory. A segment that is not here
    /// has none. Only ever smaller than the truth (the cleaner may drop entries), so it
    /// can only make a fetch read a file for nothing.
    on_disk_only: BTreeMap<i64, i64>,
    /// The bound was reached and logged once for this partition.
    logged: bool,
}

impl AbortedTxns {
    pub(super) fn new() -> AbortedTxns {
        AbortedTxns {
            in_memory_from: i64::MIN,
            ..Default::default()
        }
    }

    pub(super) fn len(&self) -> usize {
        self.recent.len()
    }

    /// Drops every in-memory entry with a marker at or after `offset` (they are
    /// derived again and pushed by the caller). Entries below it that were only on
    /// disk stay so; those at or after it will be in memory again.
    pub(super) fn truncate_from(&mut self, offset: i64) {
        self.recent.retain(|a| a.last_offset < offset);
        self.in_memory_from = self.in_memory_from.min(offset);
    }

    pub(super) fn retain(&mut self, keep: impl FnMut(&AbortedTxn) -> bool) {
        self.recent.retain(keep);
    }

    /// Forgets the disk-only bookkeeping of segments below `base` (deleted).
    pub(super) fn forget_segments_below(&mut self, base: i64) {
        self.on_disk_only = self.on_disk_only.split_off(&base);
    }

    /// The in-memory entries whose marker is at or after `fetch_offset` and whose
    /// first offset is below `upper_bound`.
    pub(super) fn recent_in(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
    ) -> impl Iterator<Item = &AbortedTxn> {
        let start = self
            .recent
            .partition_point(|a| a.last_offset < fetch_offset);
        self.recent
            .range(start..)
            .filter(move |a| a.first_offset < upper_bound)
    }

    /// Segments (base offsets, ascending) whose `.txnindex` holds entries no longer in
    /// memory, from the one that may hold `from_base`'s entries on, each with the
    /// smallest first offset among them.
    pub(super) fn disk_segments_from(
        &self,
        from_base: i64,
    ) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.on_disk_only.range(from_base..).map(|(b, f)| (*b, *f))
    }
}

impl PartitionLog {
    /// Adds an entry (the newest) to the in-memory list, moving the oldest to disk-only
    /// when the list is over `sluice.log.aborted.txn.memory.entries`.
    pub(super) fn remember_abort(&mut self, entry: AbortedTxn) {
        self.aborted.recent.push_back(entry);
        self.trim_aborted();
    }

    /// Moves the oldest in-memory entries to disk-only while there are more than
    /// the bound (after an append, or a config change).
    pub(super) fn trim_aborted(&mut self) {
        let cap = self.config.aborted_txns_in_memory;
        while self.aborted.recent.len() > cap {
            let Some(old) = self.aborted.recent.pop_front() else {
                break;
            };
            let base = self.segments[self.segment_index_for(old.last_offset)].base_offset;
            self.aborted.in_memory_from = old.last_offset + 1;
            let min_first = self.aborted.on_disk_only.entry(base).or_insert(i64::MAX);
            *min_first = (*min_first).min(old.first_offset);
            if !self.aborted.logged {
                self.aborted.logged = true;
                tracing::info!(
                    dir = %self.dir.display(),
                    in_memory = cap,
                    "aborted-transaction list reached sluice.log.aborted.txn.memory.entries; older entries are read from the .txnindex files when a read_committed fetch reaches them"
                );
            }
        }
    }

    /// Aborted transactions a read_committed fetch of `[fetch_offset, upper_bound)`
    /// must report: those whose marker is at or after `fetch_offset` and whose first
    /// offset is below `upper_bound`, in marker order. Entries no longer in memory are
    /// read from the `.txnindex` files of the segments that can hold one.
    pub fn aborted_transactions(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
    ) -> Result<Vec<AbortedTxn>, LogError> {
        let mut out = Vec::new();
        let from = self.aborted.in_memory_from;
        if fetch_offset < from {
            let first_base = self.segments[self.segment_index_for(fetch_offset)].base_offset;
            for (base, min_first) in self.aborted.disk_segments_from(first_base) {
                if base >= from {
                    break;
                }
                if min_first >= upper_bound {
                    continue;
                }
                let entries = txn_index::read(&self.dir, base)?
                    .ok_or_else(|| damaged_index(&self.dir, base))?;
                out.extend(entries.into_iter().filter(|a| {
                    a.last_offset >= fetch_offset
                        && a.last_offset < from
                        && a.first_offset < upper_bound
                }));
            }
        }
        out.extend(self.aborted.recent_in(fetch_offset, upper_bound).copied());
        Ok(out)
    }

    /// Every aborted transaction of the log whose first offset is below `upper` (what
    /// a cleaning pass below `upper` needs), from memory and, for older entries, from
    /// the `.txnindex` files.
    pub(super) fn aborted_below(&self, upper: i64) -> Result<Vec<AbortedTxn>, LogError> {
        let mut out = Vec::new();
        let from = self.aborted.in_memory_from;
        for (base, min_first) in self.aborted.disk_segments_from(i64::MIN) {
            if min_first >= upper {
                continue;
            }
            let entries =
                txn_index::read(&self.dir, base)?.ok_or_else(|| damaged_index(&self.dir, base))?;
            out.extend(
                entries
                    .into_iter()
                    .filter(|a| a.last_offset < from && a.first_offset < upper),
            );
        }
        out.extend(
            self.aborted
                .recent
                .iter()
                .filter(|a| a.first_offset < upper)
                .copied(),
        );
        Ok(out)
    }
}

/// A `.txnindex` that `open` rewrote (or the log appended to) no longer reads back.
fn damaged_index(dir: &Path, base: i64) -> LogError {
    LogError::Corrupt(format!(
        "transaction index of segment {base} in {} is damaged",
        dir.display()
    ))
}
