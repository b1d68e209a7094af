//! The partition log: Sluice's storage engine.
//!
//! Owns everything that lives inside one partition directory (`<topic>-<partition>`):
//! the segment files (`.log`, `.index`, `.timeindex`), the recovery-point checkpoint
//! and the clean-shutdown marker. It serves zero-copy reads, rolls segments, enforces
//! retention, compacts, and recovers after a crash. Every file is named by a path and
//! reached through [`storage`], which keeps it on disk or, for a broker without a data
//! directory (`--in-memory`), in memory: the same code and bytes either way.
//!
//! An append has two halves. [`validator`] (Kafka's `LogValidator`) decides whether a
//! payload may be appended and in what form: size, header and CRC checks, the
//! one-batch rule for producers, the record walk, the `compression.type` rebuild. It
//! needs only a snapshot of the topic's configs, so callers run it outside the
//! partition lock. [`PartitionLog::append_validated`] then takes its result and only
//! assigns offsets and writes, under the lock.
//!
//! It must never know about sockets, Kafka request/response types or other
//! partitions: callers hand it raw record-batch bytes and get offsets and bytes
//! back. Locking is the caller's business (one lock per partition); nothing here
//! blocks on anything but the partition's own files. A failed write or fsync that
//! durability depends on takes the partition's log offline for the rest of the process
//! (`offline`): it is never retried.

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod cold;
pub mod config;
pub mod dir_copy;
pub mod error;
pub mod file_cache;
pub mod file_names;
pub mod fs_sync;
pub mod index_file;
pub mod log_dir_shutdown;
pub mod offline;
pub mod offset_index;
pub mod partition_log;
pub mod preallocate;
pub mod producer_state;
pub mod records;
pub mod recovery;
pub mod segment;
pub mod segment_files;
pub mod storage;
pub mod time_index;
pub mod txn_index;
pub mod validator;

pub use batch::{BatchHeader, TimestampType, RECORD_BATCH_OVERHEAD};
pub use config::LogConfig;
pub use error::{AppendError, LogError};
pub use offline::{is_offline_error, OfflineState};
pub use partition_log::{AppendInfo, PartitionLog, ReadInfo, SyncHandle};
pub use validator::{
    AppendOrigin, LogValidator, ValidatedRecords, ValidationConfig, ValidationError,
};

// The log's own tests run once on disk and once in memory (`test_util::test_dir!`).
#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
#[allow(clippy::duplicate_mod)] // the same tests, on the other storage
#[path = "bounds_tests.rs"]
mod bounds_tests_in_memory;
#[cfg(test)]
mod file_cache_tests;
#[cfg(test)]
pub(crate) mod format_doc_test;
#[cfg(test)]
mod proptests;
#[cfg(test)]
#[allow(clippy::duplicate_mod)] // the same tests, on the other storage
#[path = "proptests.rs"]
mod proptests_in_memory;
#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;
#[cfg(test)]
#[allow(clippy::duplicate_mod)] // the same tests, on the other storage
#[path = "tests.rs"]
mod tests_in_memory;
