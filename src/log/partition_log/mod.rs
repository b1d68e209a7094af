//! `PartitionLog`: one partition's log (Kafka's `UnifiedLog`/`LocalLog`): offset
//! assignment, append, read, roll, flush/recovery point and close. Producer and
//! transaction state, retention and the compaction hooks live in the child modules.
//!
//! It owns the ordered list of segments and the three offsets that matter
//! (log start offset, log end offset, recovery point). An append takes records the
//! validator (`crate::log::validator`) already checked and brought into the form to
//! store; here they only get offsets (and LogAppendTime timestamps), the idempotence
//! check and the write. It must never block on anything but this partition's files,
//! never copy record bytes on read, never walk records on append, and never know about
//! sockets or Kafka request types. Callers serialise access (one lock per partition);
//! `SyncHandle` lets them fsync outside that lock. A failed write or sync that
//! durability depends on takes the log offline (`crate::log::offline`): from then on it
//! refuses appends, reads and syncs and writes nothing, until the process exits.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use crate::log::batch::{assign_offset_and_time, BatchHeader, TimestampType};
use crate::log::batch::{control_record_type, end_txn_marker_batch};
use crate::log::checkpoint::{self, Checkpoint, CleanShutdown};
use crate::log::cleaner::{self, CleanOutput, CleanPlan, CleanerCheckpoint, CrashAfter};
use crate::log::config::LogConfig;
use crate::log::error::{AppendError, LogError};
use crate::log::log_dir_shutdown::{self, ClosedLog};
use crate::log::offline::OfflineState;
use crate::log::producer_state::{self, ProducerStateManager, SequenceCheck};
use crate::log::recovery;
use crate::log::segment::{LogSegment, SegmentReader, MAX_SEGMENT_BYTES};
use crate::log::txn_index::{self, AbortedTxn};
use crate::log::validator::{
    AppendOrigin, LogValidator, ValidatedRecords, ValidationConfig, ValidationError,
};
use aborted::AbortedTxns;
pub use checkpoint_writer::{CheckpointCapture, CheckpointWriter};

mod aborted;
mod checkpoint_writer;
mod cleaning;
mod producers;
mod retention;
mod time_lookup;

/// Bytes at the start of a batch that the broker rewrites (base offset, batch
/// length, partition leader epoch): all outside the CRC.
const PREFIX: usize = 16;

/// Result of a successful append.
#[derive(Clone, Debug)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The time written into LogAppendTime batches, -1 for CreateTime.
    pub log_append_time: i64,
    pub max_timestamp: i64,
    pub record_count: i64,
    /// Headers as written (with assigned offsets).
    pub batches: Vec<BatchHeader>,
    /// The `flush.messages` threshold was crossed: the caller should flush.
    pub flush_needed: bool,
    /// The batch was a retry of one already in the log (same producer, epoch and
    /// sequence range): nothing was written and the offsets are the original ones.
    pub duplicate: bool,
}

/// Result of a read: whole batches, zero-copy out of the segment mapping.
#[derive(Clone, Debug)]
pub struct ReadInfo {
    pub records: Bytes,
    /// Base offset of the first batch, or -1 if `records` is empty.
    pub first_offset: i64,
}

/// Files to fdatasync for a group commit, taken under the partition lock and
/// synced outside it; then `PartitionLog::mark_flushed(offset())`.
pub struct SyncHandle {
    files: Vec<Arc<File>>,
    offset: i64,
    offline: Arc<OfflineState>,
}

impl SyncHandle {
    /// Every offset below this is durable once `sync` returned Ok.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// fdatasync of the files. Refused without syncing if the log is offline; a failure
    /// takes it offline, so no later sync can "succeed" over data the kernel dropped.
    pub fn sync(&self) -> io::Result<()> {
        let _timer = crate::metrics::global().fsync_timer();
        self.offline.guarded_sync("fdatasync of a .log", || {
            for f in &self.files {
                f.sync_data()?;
            }
            Ok(())
        })
    }
}

/// A write refused for lack of space (ENOSPC, EDQUOT), once the unpublished tail is cut
/// back, or for lack of descriptors (EMFILE, ENFILE: an idle active segment that closed
/// its files could not open them again, before anything was written): the append
/// failures that leave the log online.
fn out_of_space(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EMFILE) | Some(libc::ENFILE)
    )
}

pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    /// Ordered by base offset; the last one is the active segment. Never empty.
    segments: Vec<LogSegment>,
    log_start_offset: i64,
    recovery_point: i64,
    unflushed_messages: i64,
    /// `now_ms` of the first append after the last flush (for `flush.ms`).
    first_unflushed_ms: Option<i64>,
    last_checkpoint: Option<Instant>,
    /// The recovery-point checkpoint's writer, shared with housekeeping's periodic write
    /// made without this log's lock.
    checkpoints: Arc<CheckpointWriter>,
    /// The sequence number of the last checkpoint captured, and its values.
    checkpoint_seq: u64,
    checkpointed: Option<Checkpoint>,
    /// `close` ran: the marker exists and the active indexes are trimmed.
    closed: bool,
    /// A batched close returned this log's entry for its log directory's
    /// `clean-shutdown.logs` of this generation: a write after it must mark it taken.
    closed_into_log_dir: Option<u64>,
    /// Idempotent producers' epochs and last batches (Kafka's ProducerStateManager).
    producer_state: ProducerStateManager,
    /// The aborted transactions still in the log: the newest in memory, all of them in
    /// the segments' `.txnindex` files (see [`aborted`]).
    aborted: AbortedTxns,
    /// When a batch refused by the producer-state bounds was last logged (ms).
    limit_logged_ms: Option<i64>,
    /// Log compaction progress (`cleaner-offset.checkpoint`).
    cleaner: CleanerCheckpoint,
    /// Set when a write or sync durability depends on fails; shared with `SyncHandle`s.
    offline: Arc<OfflineState>,
}

impl PartitionLog {
    /// Opens (creating if needed) the partition directory and recovers it.
    pub fn open(
        dir: impl Into<PathBuf>,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<PartitionLog, LogError> {
        PartitionLog::open_closed(dir, config, now_ms, None)
    }

    /// [`PartitionLog::open`] of a log a batched clean shutdown closed into its log
    /// directory's `clean-shutdown.logs` (`closed`: its entry there, taken at start-up).
    pub fn open_closed(
        dir: impl Into<PathBuf>,
        config: LogConfig,
        now_ms: i64,
        closed: Option<ClosedLog>,
    ) -> Result<PartitionLog, LogError> {
        let dir = dir.into();
        let loaded = recovery::load(&dir, &config, now_ms, closed)?;
        let cleaner = loaded.cleaner.unwrap_or(CleanerCheckpoint {
            first_dirty_offset: loaded.log_start_offset,
            gaps_below: i64::MIN,
        });
        let mut log = PartitionLog {
            checkpoints: Arc::new(CheckpointWriter::new(dir.clone())),
            checkpoint_seq: 0,
            // Nothing to write until it moves, unless a log directory's record moved it
            // past the file (the first checkpoint then brings the file up to date).
            checkpointed: loaded.checkpoint_written,
            dir,
            config,
            segments: loaded.segments,
            log_start_offset: loaded.log_start_offset,
            recovery_point: loaded.recovery_point,
            unflushed_messages: 0,
            first_unflushed_ms: None,
            last_checkpoint: None,
            closed: false,
            closed_into_log_dir: None,
            producer_state: ProducerStateManager::new(),
            aborted: AbortedTxns::new(),
            limit_logged_ms: None,
            cleaner,
            offline: Arc::new(OfflineState::default()),
        };
        let no_producer_state =
            loaded.clean_shutdown && closed.is_some_and(|c| c.no_producer_state);
        log.rebuild_producer_state(no_producer_state)?;
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The offline flag, shared so the owner can check it without the partition lock.
    pub fn offline_state(&self) -> &Arc<OfflineState> {
        &self.offline
    }

    pub fn is_offline(&self) -> bool {
        self.offline.is_offline()
    }

    /// Shares `state` as this log's offline flag, for a log just opened to replace
    /// another (a partition moved to another log directory) whose owner keeps reading
    /// the flag it has. Before any write: nothing has cloned the log's own flag yet.
    pub fn adopt_offline_state(&mut self, state: Arc<OfflineState>) {
        self.offline = state;
    }

    /// Takes the log offline because `what` failed with `e`; returns the error to pass on.
    fn fail(&self, what: &str, e: io::Error) -> io::Error {
        self.offline.fail(what, e)
    }

    /// Test seam: the next fdatasync through a `SyncHandle` (group commit, flush) fails
    /// with EIO, without syncing.
    #[cfg(test)]
    pub fn fail_next_sync(&self) {
        self.offline.fail_next_sync()
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// New settings apply from the next append/housekeeping (index sizes from the
    /// next segment).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
        self.trim_aborted();
    }

    fn active(&self) -> &LogSegment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    fn active_mut(&mut self) -> &mut LogSegment {
        self.segments
            .last_mut()
            .expect("a log always has an active segment")
    }

    /// Undoes `close` if the log is used again: the marker would otherwise claim
    /// a clean state that no longer holds.
    fn reopen_after_close(&mut self) -> io::Result<()> {
        if self.closed {
            checkpoint::take_clean_shutdown(&self.dir)
                .map_err(|e| self.fail("removing the clean-shutdown marker", e))?;
            if let Some(generation) = self.closed_into_log_dir.take() {
                // The log directory's file (written already or about to be) vouches for
                // this log as closed under that generation: no longer.
                log_dir_shutdown::mark_taken(&self.dir, generation)
                    .map_err(|e| self.fail("marking the clean-shutdown entry taken", e))?;
            }
            let cfg = self.config.clone();
            let reopened = self.active_mut().become_active(&cfg);
            reopened.map_err(|e| self.fail("reopening the active segment", e))?;
            self.closed = false;
        }
        Ok(())
    }

    /// Validates (as the broker's own writes: any number of batches, stored as built),
    /// assigns offsets and appends `records`. All-or-nothing: nothing is written unless
    /// every batch is valid. For tests, tools and the broker's small internal batches:
    /// it copies `records` and validates with `&mut self` held; the produce path
    /// validates outside the partition lock and calls
    /// [`PartitionLog::append_validated`].
    pub fn append(&mut self, records: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        self.append_owned(Bytes::copy_from_slice(records), now_ms)
    }

    /// [`PartitionLog::append`] without the copy.
    fn append_owned(&mut self, records: Bytes, now_ms: i64) -> Result<AppendInfo, AppendError> {
        let validator =
            LogValidator::new(self.validation_config(), now_ms, AppendOrigin::Coordinator);
        let validated = validator.validate(records)?;
        Ok(self.append_validated(validated, now_ms)?)
    }

    /// The topic configs the validator needs (`max.message.bytes`, compaction, the
    /// timestamp type and window, `compression.type`). Callers take this snapshot under
    /// the partition lock, validate without the lock, and hand the result to
    /// [`PartitionLog::append_validated`].
    pub fn validation_config(&self) -> ValidationConfig {
        ValidationConfig::new(&self.config)
    }

    /// Assigns offsets to and appends records the validator accepted. They are not
    /// checked again, unless the topic's configs changed since they were validated
    /// (then they are validated again, from the bytes as sent, with the current ones).
    pub fn append_validated(
        &mut self,
        validated: ValidatedRecords,
        now_ms: i64,
    ) -> Result<AppendInfo, ValidationError> {
        let current = self.validation_config();
        let validated = if *validated.config() == current {
            validated
        } else {
            validated.revalidate(current)?
        };
        Ok(self.assign_offsets_and_write(&validated, now_ms)?)
    }

    /// The append proper: the idempotence check, offsets (and LogAppendTime
    /// timestamps), the write, producer and transaction state.
    fn assign_offsets_and_write(
        &mut self,
        validated: &ValidatedRecords,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        // Offline: nothing is written, not even a duplicate's answer is given.
        self.offline.check()?;
        let records: &[u8] = validated.records();
        let valid = validated.batches();
        for vb in valid {
            if let SequenceCheck::Duplicate(original) = self.producer_state.check(&vb.header)? {
                if valid.len() > 1 {
                    // Clients send one batch per request; a retried batch inside a
                    // larger payload cannot be answered with one set of offsets.
                    return Err(AppendError::OutOfOrderSequence(
                        "duplicate batch inside a multi-batch append".into(),
                    ));
                }
                let log_append_time = match self.config.message_timestamp_type {
                    TimestampType::LogAppendTime => original.timestamp,
                    TimestampType::CreateTime => -1,
                };
                return Ok(AppendInfo {
                    base_offset: original.first_offset,
                    last_offset: original.last_offset,
                    log_append_time,
                    max_timestamp: original.timestamp,
                    record_count: 0,
                    batches: Vec::new(),
                    flush_needed: false,
                    duplicate: true,
                });
            }
        }
        if let Err(e) = self.producer_state.check_limits(
            valid.iter().map(|vb| &vb.header),
            self.config.max_producers,
            self.config.max_ongoing_transactions,
        ) {
            // At most one line a minute per partition: a refused producer may retry.
            if self
                .limit_logged_ms
                .is_none_or(|t| now_ms.saturating_sub(t) >= 60_000)
            {
                self.limit_logged_ms = Some(now_ms);
                tracing::warn!(dir = %self.dir.display(), error = %e, "refusing a produce with POLICY_VIOLATION");
            }
            return Err(e);
        }
        self.reopen_after_close()?;
        let log_append_time = match self.config.message_timestamp_type {
            TimestampType::LogAppendTime => Some(now_ms),
            TimestampType::CreateTime => None,
        };
        // The broker owns two header fields outside the CRC (base offset, partition
        // leader epoch: the first 16 bytes of each batch), so for CreateTime topics
        // only a patched 16-byte prefix per batch is built and the rest is written
        // straight from the request. LogAppendTime rewrites timestamps inside the CRC,
        // which needs a private copy.
        let end_before = self.log_end_offset();
        let mut next = end_before;
        let mut headers = Vec::with_capacity(valid.len());
        let mut max_timestamp = -1i64;
        let mut record_count = 0i64;
        let owned: Option<Vec<u8>> = log_append_time.map(|_| records.to_vec());
        let mut owned = owned;
        let mut prefixes: Vec<[u8; PREFIX]> = Vec::with_capacity(valid.len());
        for vb in valid {
            let range = vb.start..vb.start + vb.header.total_size();
            let h = match owned.as_mut() {
                Some(buf) => {
                    assign_offset_and_time(&mut buf[range.clone()], next, log_append_time);
                    BatchHeader::parse(&buf[range]).expect("validated header")
                }
                None => {
                    let mut prefix = [0u8; PREFIX];
                    prefix.copy_from_slice(&records[vb.start..vb.start + PREFIX]);
                    assign_offset_and_time(&mut prefix, next, None);
                    prefixes.push(prefix);
                    let mut h = vb.header;
                    h.base_offset = next;
                    h.partition_leader_epoch = 0;
                    h
                }
            };
            debug_assert_eq!(h.base_offset, next, "offsets are assigned contiguously");
            next = h.last_offset() + 1;
            max_timestamp = max_timestamp.max(h.max_timestamp);
            record_count += h.record_count as i64;
            headers.push(h);
        }
        let base_offset = headers[0].base_offset;
        let last_offset = next - 1;
        let total_len: usize = headers.iter().map(|h| h.total_size()).sum();
        if self.should_roll(total_len as u64, last_offset, max_timestamp, now_ms) {
            self.roll()?;
        }
        debug_assert_eq!(
            self.active().next_offset,
            base_offset,
            "an append starts where the active segment ends"
        );
        let cfg = self.config.clone();
        let written = match &owned {
            Some(buf) => self.active_mut().append(buf, &headers, &cfg, now_ms),
            None => {
                let mut parts: Vec<&[u8]> = Vec::with_capacity(valid.len() * 2);
                for (vb, prefix) in valid.iter().zip(&prefixes) {
                    parts.push(prefix);
                    parts.push(&records[vb.start + PREFIX..vb.start + vb.header.total_size()]);
                }
                self.active_mut()
                    .append_vectored(&parts, &headers, &cfg, now_ms)
            }
        };
        if let Err(e) = written {
            // The segment cut the unpublished tail back (or says it could not, which is
            // never "out of space"). Only a full disk leaves the log as it was.
            if out_of_space(&e) {
                return Err(e.into());
            }
            return Err(self.fail("append write", e).into());
        }
        for (vb, h) in valid.iter().zip(&headers) {
            let control = if h.is_control() {
                control_record_type(&records[vb.start..vb.start + h.total_size()])
            } else {
                None
            };
            if let Some(done) = self.producer_state.update(h, control) {
                if done.aborted {
                    self.record_abort(done.producer_id, done.first_offset, done.last_offset)
                        .map_err(|e| self.fail("appending to a .txnindex", e))?;
                }
            }
        }
        self.unflushed_messages += record_count;
        self.first_unflushed_ms.get_or_insert(now_ms);
        debug_assert_eq!(
            self.log_end_offset(),
            end_before
                + valid
                    .iter()
                    .map(|vb| vb.header.last_offset_delta as i64 + 1)
                    .sum::<i64>(),
            "the log end offset advances by exactly the appended offset spans"
        );
        self.debug_assert_offsets();
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time: log_append_time.unwrap_or(-1),
            max_timestamp,
            record_count,
            batches: headers,
            flush_needed: self.unflushed_messages >= self.config.flush_messages,
            duplicate: false,
        })
    }

    /// Kafka's `shouldRoll`: size, age (`segment.ms`), full index, or offsets that
    /// would not fit the relative offsets of the indexes. Never rolls an empty segment.
    fn should_roll(
        &self,
        incoming: u64,
        last_offset: i64,
        incoming_max_ts: i64,
        now_ms: i64,
    ) -> bool {
        let seg = self.active();
        if seg.size() == 0 {
            return false;
        }
        let max_bytes = self.config.segment_bytes.min(MAX_SEGMENT_BYTES);
        seg.size() + incoming > max_bytes
            || seg.indexes_full()
            || last_offset - seg.base_offset > i32::MAX as i64
            || seg.time_waited_for_roll(Some(incoming_max_ts), now_ms) > self.config.segment_ms
    }

    /// Closes the active segment and starts a new one at the log end offset. Any
    /// failure takes the log offline: the old segment's indexes may not be durable, the
    /// new segment's directory entry may not be, and a half-done roll leaves segments in
    /// a state appends do not expect.
    fn roll(&mut self) -> io::Result<()> {
        let new_base = self.log_end_offset();
        let closed = self.active_mut().become_inactive();
        closed.map_err(|e| {
            self.fail(
                "closing the active segment (index trim, msync, fdatasync)",
                e,
            )
        })?;
        // The snapshot written below makes the next recovery start here, so the
        // closed segment's aborted-transaction entries must be on disk first.
        txn_index::sync(&self.dir, self.active().base_offset)
            .map_err(|e| self.fail("fdatasync of a .txnindex", e))?;
        let seg = LogSegment::create(&self.dir, new_base, &self.config)
            .map_err(|e| self.fail("creating a segment", e))?;
        tracing::debug!(dir = %self.dir.display(), base = new_base, "rolled new segment");
        self.segments.push(seg);
        // Kafka snapshots producer state at every roll, so recovery after a crash
        // replays at most the active segment's batches.
        producer_state::write_snapshot(&self.dir, new_base, &self.producer_state)
            .map_err(|e| self.fail("writing a producer state snapshot", e))?;
        // Persist the recovery point and, through its directory fsync, the new
        // segment's directory entry, before anything is appended to it.
        self.write_checkpoint()
            .map_err(|e| self.fail("writing the recovery point checkpoint", e))
    }

    fn write_checkpoint(&mut self) -> io::Result<()> {
        let capture = self.capture_checkpoint();
        self.checkpoints.write(&capture)?;
        Ok(())
    }

    /// The checkpoint as the log has it now, numbered after every earlier capture.
    fn capture_checkpoint(&mut self) -> CheckpointCapture {
        let checkpoint = Checkpoint {
            log_start_offset: self.log_start_offset,
            recovery_point: self.recovery_point,
        };
        self.checkpoint_seq += 1;
        self.checkpointed = Some(checkpoint);
        self.last_checkpoint = Some(Instant::now());
        CheckpointCapture {
            checkpoint,
            seq: self.checkpoint_seq,
        }
    }

    /// The periodic checkpoint, when one is due (the recovery point or the log start
    /// moved, and the last checkpoint is `log.flush.offset.checkpoint.interval.ms` old):
    /// the capture and the writer to write it with after this log's lock is released,
    /// so the fsyncs of the checkpoint never hold up appends (housekeeping does this).
    /// A failed write must take the log offline (`offline_state().fail`), as one under
    /// the lock does.
    pub fn checkpoint_due(&mut self) -> Option<(Arc<CheckpointWriter>, CheckpointCapture)> {
        if self.offline.is_offline() || self.closed {
            return None;
        }
        let now = Checkpoint {
            log_start_offset: self.log_start_offset,
            recovery_point: self.recovery_point,
        };
        let interval = Duration::from_millis(
            self.config
                .recovery_point_checkpoint_interval_ms
                .clamp(0, i64::MAX) as u64,
        );
        let recent = self.last_checkpoint.is_some_and(|t| t.elapsed() < interval);
        if recent || self.checkpointed == Some(now) {
            return None;
        }
        let capture = self.capture_checkpoint();
        Some((self.checkpoints.clone(), capture))
    }

    /// Index of the segment that may hold `offset` (last base <= offset).
    fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }

    /// Whole batches starting with the one containing `fetch_offset`, at most
    /// `max_bytes` in total, none whose base offset is >= `max_offset` (high
    /// watermark, later last stable offset). With `min_one_batch` a first batch
    /// larger than `max_bytes` is returned whole anyway (KIP-74). Like Kafka, a
    /// read never spans two segments. `fetch_offset == log_end_offset` gives an
    /// empty result; outside `[log_start_offset, log_end_offset]` is
    /// `OffsetOutOfRange`.
    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<ReadInfo, LogError> {
        // After a failed fsync the page cache may hold data the disk does not: serve
        // nothing rather than bytes that may read differently after a restart.
        self.offline.check()?;
        let leo = self.log_end_offset();
        if fetch_offset < self.log_start_offset || fetch_offset > leo {
            return Err(LogError::OffsetOutOfRange {
                requested: fetch_offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: leo,
            });
        }
        let empty = ReadInfo {
            records: Bytes::new(),
            first_offset: -1,
        };
        let mut idx = self.segment_index_for(fetch_offset);
        let (seg, start, first) = loop {
            let Some(seg) = self.segments.get(idx) else {
                return Ok(empty);
            };
            let seg = seg.reader()?;
            if let Some((pos, h)) = seg.find_batch(fetch_offset) {
                break (seg, pos, h);
            }
            idx += 1;
        };
        let mut end = start;
        let mut h = first;
        loop {
            if h.base_offset >= max_offset {
                break;
            }
            let size = h.total_size() as u64;
            if (end - start + size) as usize > max_bytes {
                if end == start && min_one_batch {
                    end += size;
                }
                break;
            }
            end += size;
            match seg.batch_at(end) {
                Some(next) => h = next,
                None => break,
            }
        }
        if end == start {
            return Ok(empty);
        }
        Ok(ReadInfo {
            records: seg.slice(start, end),
            first_offset: first.base_offset,
        })
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    /// Single replica: everything appended is "replicated".
    pub fn high_watermark(&self) -> i64 {
        self.log_end_offset()
    }

    /// The order of the offsets a fetch is bounded by: last stable offset <= high
    /// watermark <= log end offset. Checked where they move (appends and markers).
    fn debug_assert_offsets(&self) {
        let (hw, leo) = (self.high_watermark(), self.log_end_offset());
        debug_assert!(hw <= leo, "high watermark {hw} past log end offset {leo}");
        let lso = self.last_stable_offset();
        debug_assert!(
            lso <= hw,
            "last stable offset {lso} past high watermark {hw}"
        );
    }

    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size()).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// fdatasync every segment with unflushed data, then advance the recovery point.
    /// Refused once the log is offline (a failed sync is never retried).
    pub fn flush(&mut self) -> io::Result<()> {
        self.offline.check()?;
        if let Some(h) = self.sync_handle() {
            h.sync()?;
            self.mark_flushed(h.offset());
        }
        // The checkpoint `mark_flushed` may write can fail too.
        self.offline.check()
    }

    /// The group-commit half of `flush`: what to sync, without syncing it.
    pub fn sync_handle(&self) -> Option<SyncHandle> {
        let files: Vec<Arc<File>> = self
            .segments
            .iter()
            .filter(|s| s.synced_next_offset < s.next_offset)
            .filter_map(|s| s.log_file())
            .collect();
        if files.is_empty() && self.recovery_point >= self.log_end_offset() {
            return None;
        }
        Some(SyncHandle {
            files,
            offset: self.log_end_offset(),
            offline: self.offline.clone(),
        })
    }

    /// Records that everything below `offset` is durable (after `SyncHandle::sync`
    /// returned Ok). An offline log records nothing and writes no checkpoint. The first
    /// sync after the log was opened also writes the checkpoint, whose directory fsync is
    /// what makes a new partition's first segment names durable; it can fail and take
    /// the log offline, so callers check `is_offline` before declaring anything durable.
    /// Later checkpoints are housekeeping's ([`Self::checkpoint_due`]): written here,
    /// under the log's lock, their three fsyncs held up every append once a second (what
    /// that cost was within this machine's noise: docs/benchmarks.md, tail latency).
    pub fn mark_flushed(&mut self, offset: i64) {
        if self.offline.is_offline() {
            return;
        }
        let offset = offset.min(self.log_end_offset());
        for seg in &mut self.segments {
            if seg.base_offset < offset {
                seg.mark_synced(offset);
            }
        }
        if offset > self.recovery_point {
            self.recovery_point = offset;
        }
        if self
            .segments
            .iter()
            .all(|s| s.synced_next_offset >= s.next_offset)
        {
            self.unflushed_messages = 0;
            self.first_unflushed_ms = None;
        }
        // A failed write is a failed fsync or rename like any other.
        if self.last_checkpoint.is_none() {
            if let Err(e) = self.write_checkpoint() {
                self.fail("writing the recovery point checkpoint", e);
            }
        }
    }

    /// Flush, trim the active indexes, write the checkpoint and the clean-shutdown
    /// marker. The log stays usable (a later write removes the marker again). An offline
    /// log is left as it is, without a marker, so the next open runs crash recovery; a
    /// failure here takes the log offline.
    pub fn close(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.offline.check()?;
        self.close_files().map_err(|e| self.fail("close", e))
    }

    fn close_files(&mut self) -> io::Result<()> {
        self.flush()?;
        self.active_mut().become_inactive()?;
        txn_index::sync(&self.dir, self.active().base_offset)?;
        producer_state::write_snapshot(&self.dir, self.log_end_offset(), &self.producer_state)?;
        self.write_checkpoint()?;
        let active = self.active();
        let marker = CleanShutdown {
            log_end_offset: active.next_offset,
            active_base_offset: active.base_offset,
            active_log_size: active.size(),
        };
        checkpoint::write_clean_shutdown(&self.dir, &marker)?;
        self.closed = true;
        Ok(())
    }

    /// Step 1 of `close` for many logs at once, with one sync of each file system for all
    /// of them (`crate::log::fs_sync`) instead of several fsyncs per log: the final time
    /// index entry and the index trim, left for that sync to make durable. Nothing claims
    /// durability yet. The caller then syncs the file system and calls
    /// [`PartitionLog::finish_batched_close`]. `Ok(false)`: closed already, nothing to do.
    pub fn begin_batched_close(&mut self) -> io::Result<bool> {
        if self.closed {
            return Ok(false);
        }
        self.offline.check()?;
        // The indexes are trimmed here and made durable by the caller's file-system sync,
        // not by two fsyncs per log: those were most of the time of closing thousands.
        let trimmed = self.active_mut().become_inactive_for_syncfs();
        trimmed.map_err(|e| self.fail("close", e))?;
        // A write from here on reopens the active segment (and writes no marker).
        self.closed = true;
        Ok(true)
    }

    /// Step 2, only after a sync of the file system that began after step 1 succeeded:
    /// everything appended is durable, so the recovery point moves to the log end. The
    /// producer snapshot is written (without an fsync: the caller syncs the file system
    /// once more) only if there is producer state; the rest of what a marker and a
    /// checkpoint would say is returned, for the caller to write in the log directory's
    /// `clean-shutdown.logs` (`crate::log::log_dir_shutdown`) with every other log's,
    /// instead of two more files here, under `generation` (the file's). A log written
    /// again since step 1 (or gone offline) returns nothing: its next open recovers it.
    pub fn finish_batched_close(&mut self, generation: u64) -> io::Result<Option<ClosedLog>> {
        if !self.closed || self.offline.is_offline() {
            return Ok(None);
        }
        let end = self.log_end_offset();
        for seg in &mut self.segments {
            seg.synced_next_offset = seg.next_offset;
        }
        self.active_mut().mark_indexes_synced();
        self.recovery_point = self.recovery_point.max(end);
        self.unflushed_messages = 0;
        self.first_unflushed_ms = None;
        let no_producer_state = self.producer_state.is_empty();
        if !no_producer_state {
            let written =
                producer_state::write_snapshot_with(&self.dir, end, &self.producer_state, false);
            written.map_err(|e| self.fail("close", e))?;
        }
        // From here a write must mark the entry taken (see reopen_after_close).
        self.closed_into_log_dir = Some(generation);
        let active = self.active();
        Ok(Some(ClosedLog {
            generation,
            log_start_offset: self.log_start_offset,
            shutdown: CleanShutdown {
                log_end_offset: active.next_offset,
                active_base_offset: active.base_offset,
                active_log_size: active.size(),
            },
            no_producer_state,
        }))
    }
}
