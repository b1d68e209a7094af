//! Log compaction (Kafka's `LogCleaner`): keep the latest record per key in the closed
//! segments of a `cleanup.policy=compact` partition.
//!
//! A pass has three steps, and only the first and last hold the partition lock:
//! 1. `PartitionLog::cleaning_plan` (locked, cheap) picks the cleanable segments (closed,
//!    below the last stable offset, older than `min.compaction.lag.ms`) when the dirty
//!    ratio reaches `min.cleanable.dirty.ratio` (or `max.compaction.lag.ms` passed), and
//!    hands out zero-copy `Bytes` views of them, which stay valid whatever the log does
//!    meanwhile;
//! 2. [`clean`] (unlocked, the expensive part) builds the bounded offset map over the
//!    dirty range and writes fsync'd `<base>.*.cleaned` files ([`clean.rs`](clean));
//! 3. `PartitionLog::install_cleaned` (locked, a few renames per segment) swaps them in
//!    crash-safely ([`swap`]) and records progress in `cleaner-offset.checkpoint`.
//!
//! Owns the cleaning algorithm, the offset map and the swap protocol. It must never
//! touch the active segment, clean past the last stable offset, change an offset, or
//! hold the partition lock while copying records.

pub mod clean;
pub mod offset_map;
pub mod records;
pub mod swap;

use std::path::PathBuf;

use bytes::Bytes;

use crate::log::config::LogConfig;
use crate::log::txn_index::AbortedTxn;

pub use crate::log::batch::check_cleaned_batch;
pub use clean::clean;
pub use swap::{CleanerCheckpoint, CrashAfter};

/// Broker-wide cleaner settings (`log.cleaner.*`).
#[derive(Clone, Debug)]
pub struct CleanerConfig {
    /// `log.cleaner.dedupe.buffer.size`: bytes of the offset map of one pass (the one
    /// cleaner thread cleans one partition at a time, so this bounds its memory).
    pub dedupe_buffer_size: usize,
    /// `log.cleaner.io.buffer.load.factor`: how full the map may get.
    pub load_factor: f64,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            dedupe_buffer_size: 128 << 20,
            load_factor: 0.9,
        }
    }
}

/// A closed segment handed to the cleaner: its bytes as of the plan.
#[derive(Clone, Debug)]
pub struct PlanSegment {
    pub base_offset: i64,
    /// Offset after its last batch (may be below the next segment's base once cleaned).
    pub next_offset: i64,
    pub bytes: Bytes,
}

/// What one pass works on (made under the partition lock, used without it).
#[derive(Clone, Debug)]
pub struct CleanPlan {
    pub dir: PathBuf,
    pub config: LogConfig,
    /// The log's closed segments from the first one up to `upper`, in offset order.
    pub segments: Vec<PlanSegment>,
    /// Offsets below this have been through an offset map already (Kafka's first
    /// dirty offset); the map is built from here.
    pub first_dirty: i64,
    /// First offset that may not be cleaned: the base of the first segment that is
    /// active, reaches past the last stable offset, or is younger than
    /// `min.compaction.lag.ms`.
    pub upper: i64,
    /// Every aborted transaction of the log (from the `.txnindex` entries).
    pub aborted: Vec<AbortedTxn>,
    pub now_ms: i64,
    /// The dirty ratio that triggered the pass (for logs).
    pub dirty_ratio: f64,
}

/// One segment's cleaned copy, waiting as `.cleaned` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanedSegment {
    pub base_offset: i64,
    /// Size of the segment the copy was made from (the swap checks it is unchanged).
    pub old_size: u64,
    pub new_size: u64,
}

/// The result of [`clean`]: cleaned copies of a prefix of the plan's segments.
#[derive(Clone, Debug)]
pub struct CleanOutput {
    pub segments: Vec<CleanedSegment>,
    /// The new first dirty offset (the offset map's end).
    pub clean_end: i64,
    /// Offsets of ABORT markers that were removed (their `.txnindex` entries go too).
    pub dropped_abort_markers: Vec<i64>,
    /// Distinct keys in the offset map.
    pub keys: usize,
    /// The plan's clock.
    pub now_ms: i64,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
#[allow(clippy::duplicate_mod)] // the same tests, on the other storage
#[path = "tests.rs"]
mod tests_in_memory;
