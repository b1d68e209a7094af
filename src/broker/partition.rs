//! One partition as the broker serves it: its log behind its own lock, the
//! notification that wakes long-polling fetches, and group commit for acks=all.
//!
//! No lock here is shared with any other partition. The log lock is a plain
//! (non-async) mutex held only for in-memory work and page-cache writes; fsyncs run
//! outside it on the blocking pool. This module never sees Kafka request types.

use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::log::batch::ValidBatch;
use crate::log::partition_log::ValidationLimits;
use crate::log::{AppendError, AppendInfo, LogError, PartitionLog, ReadInfo};

/// Leader epoch of every partition: Sluice is a single, permanent leader, so the epoch
/// never changes. Clients see it in Metadata, Fetch and OffsetForLeaderEpoch.
pub const LEADER_EPOCH: i32 = 0;

/// The offsets a fetch or ListOffsets answer reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watermarks {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    /// The high watermark held back by the oldest open transaction; read_committed
    /// consumers read up to here.
    pub last_stable_offset: i64,
}

pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    log: Mutex<PartitionLog>,
    /// Log end offset after each append; fetches waiting for data watch it.
    end_offset_tx: watch::Sender<i64>,
    /// Serialises fsyncs of this partition; waiters queued behind an fsync in flight
    /// usually find their data covered by it when they get the lock (group commit).
    sync_lock: tokio::sync::Mutex<()>,
    /// Everything below this offset is known to be fsync'd.
    durable_offset: AtomicI64,
}

impl Partition {
    pub fn new(topic: Arc<str>, index: i32, log: PartitionLog) -> Partition {
        let end = log.log_end_offset();
        let recovery_point = log.recovery_point();
        let (end_offset_tx, _) = watch::channel(end);
        Partition {
            topic,
            index,
            log: Mutex::new(log),
            end_offset_tx,
            sync_lock: tokio::sync::Mutex::new(()),
            durable_offset: AtomicI64::new(recovery_point),
        }
    }

    /// Appends a produce payload and wakes waiting fetches. The CRC check and record
    /// walk run before the lock is taken, so producers to one partition serialise only
    /// on the write itself.
    pub fn append(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        let limits = self.log.lock().validation_limits();
        let valid = crate::log::partition_log::validate(records, limits, now_ms)?;
        self.append_validated(records, valid, limits, now_ms)
    }

    /// [`Partition::append`] for a payload the caller already checked with
    /// `partition_log::validate` and `limits` (the produce path, which also walks
    /// compressed records and may rebuild the batch, all outside the lock).
    pub fn append_validated(
        &self,
        records: &[u8],
        valid: Vec<ValidBatch>,
        limits: ValidationLimits,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let mut log = self.log.lock();
        let info = log.append_validated(records, valid, limits, now_ms)?;
        let end = log.log_end_offset();
        drop(log);
        self.end_offset_tx.send_replace(end);
        Ok(info)
    }

    /// Waits until every offset below `end_offset` is fsync'd. Concurrent callers share
    /// fsyncs: whoever holds the sync lock syncs everything appended so far.
    pub async fn wait_durable(&self, end_offset: i64) -> io::Result<()> {
        loop {
            if self.durable_offset.load(Ordering::Acquire) >= end_offset {
                return Ok(());
            }
            let _guard = self.sync_lock.lock().await;
            if self.durable_offset.load(Ordering::Acquire) >= end_offset {
                return Ok(());
            }
            let handle = self.log.lock().sync_handle();
            let Some(handle) = handle else {
                let covered = self.log.lock().recovery_point();
                self.durable_offset.fetch_max(covered, Ordering::AcqRel);
                if covered < end_offset {
                    // Nothing left to sync yet the data is not covered: the log was
                    // truncated or replaced under us. Report it rather than spin.
                    return Err(io::Error::other(format!(
                        "offset {end_offset} is not in the log of {}-{}",
                        self.topic, self.index
                    )));
                }
                return Ok(());
            };
            let covered = handle.offset();
            tokio::task::spawn_blocking(move || handle.sync())
                .await
                .map_err(io::Error::other)??;
            self.log.lock().mark_flushed(covered);
            self.durable_offset.fetch_max(covered, Ordering::AcqRel);
        }
    }

    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        max_offset: Option<i64>,
        min_one_batch: bool,
    ) -> Result<(ReadInfo, Watermarks), LogError> {
        let log = self.log.lock();
        let marks = watermarks(&log);
        let bound = max_offset.unwrap_or(marks.high_watermark);
        let info = log.read(fetch_offset, max_bytes, bound, min_one_batch)?;
        Ok((info, marks))
    }

    pub fn watermarks(&self) -> Watermarks {
        watermarks(&self.log.lock())
    }

    /// Writes a COMMIT or ABORT marker for `producer_id` (called by the transaction
    /// coordinator), completing its open transaction here, and wakes waiting fetches
    /// (the last stable offset may have moved). Returns the marker's offset; the caller
    /// awaits `wait_durable(offset + 1)` before treating it as written.
    pub fn write_txn_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, AppendError> {
        let mut log = self.log.lock();
        let offset = log.write_txn_marker(
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            now_ms,
        )?;
        let end = log.log_end_offset();
        drop(log);
        self.end_offset_tx.send_replace(end);
        Ok(offset)
    }

    /// Open transactions here: (producer id, epoch, first offset).
    pub fn ongoing_transactions(&self) -> Vec<(i64, i16, i64)> {
        self.log.lock().ongoing_transactions()
    }

    /// A receiver that changes whenever this partition's log end offset moves.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.end_offset_tx.subscribe()
    }

    /// Runs `f` with the log locked, for the rarer operations (timestamp lookups,
    /// housekeeping, config changes) that have no dedicated method here.
    pub fn with_log<R>(&self, f: impl FnOnce(&mut PartitionLog) -> R) -> R {
        f(&mut self.log.lock())
    }

    pub fn close(&self) -> io::Result<()> {
        self.log.lock().close()
    }
}

fn watermarks(log: &PartitionLog) -> Watermarks {
    Watermarks {
        log_start_offset: log.log_start_offset(),
        high_watermark: log.high_watermark(),
        last_stable_offset: log.last_stable_offset(),
    }
}

/// Kafka's check of a request's `current_leader_epoch` (KIP-320): -1 means the client
/// did not say; a newer epoch than ours is UNKNOWN_LEADER_EPOCH (we are behind), an
/// older one FENCED_LEADER_EPOCH (the client is behind).
pub fn check_current_leader_epoch(epoch: i32) -> Option<crate::error::ResponseError> {
    use crate::error::ResponseError;
    use std::cmp::Ordering;
    if epoch < 0 {
        return None;
    }
    match epoch.cmp(&LEADER_EPOCH) {
        Ordering::Greater => Some(ResponseError::UnknownLeaderEpoch),
        Ordering::Less => Some(ResponseError::FencedLeaderEpoch),
        Ordering::Equal => None,
    }
}
