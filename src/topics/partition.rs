//! One partition as the broker serves it: its log behind its own lock, the
//! notification that wakes long-polling fetches, and group commit for acks=all.
//!
//! No lock here is shared with any other partition. The log lock is a plain
//! (non-async) mutex held only for in-memory work and page-cache writes; fsyncs run
//! outside it on the blocking pool, and so does validation: an append reads the
//! validator's config snapshot under the lock ([`Partition::validator`]), validates
//! without it, and takes it again only to write ([`Partition::append_validated`]).
//! This module never sees Kafka request types.
//!
//! A partition found on disk at start-up is registered cold: only its directory and
//! configs are known, and its log is opened (and, after a crash, recovered) on first
//! touch by any method here that needs it, once, however many threads touch it at the
//! same moment; nobody ever sees a half-opened log. Methods that can answer from the
//! directory alone (sizes, configs, whether housekeeping or the cleaner would do anything)
//! leave it cold, so an idle partition costs no descriptor, map or start-up time. A log
//! that cannot be opened answers a storage error; a failure other than running out of
//! descriptors takes the partition offline, as a failed write does.
//!
//! When a write or fsync the log's durability depends on fails, the log goes offline
//! (`crate::log::offline`) and so does the partition, for the rest of the process: every
//! later append, read and durability wait gets a storage error (KAFKA_STORAGE_ERROR at
//! the API layer), and this module logs the transition once, naming the partition.

use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::log::cleaner::{CleanOutput, CleanPlan, CrashAfter};
use crate::log::cold::{ColdOffsets, ColdSummary};
use crate::log::log_dir_shutdown::ClosedLog;
use crate::log::txn_index::AbortedTxn;
use crate::log::{
    AppendError, AppendInfo, AppendOrigin, LogConfig, LogError, LogValidator, OfflineState,
    PartitionLog, ReadInfo, SyncHandle, ValidatedRecords, ValidationError,
};
use crate::topics::checkpoint_batch::DueCheckpoint;
use crate::topics::group_commit::{GroupCommit, Step};

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

/// A producer as DescribeProducers shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveProducer {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub last_sequence: i32,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
    /// -1 without an open transaction.
    pub current_txn_start_offset: i64,
}

pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    /// The log once opened: at creation, or on first touch of a cold partition.
    log: OnceLock<Mutex<PartitionLog>>,
    /// What opening a cold partition needs; `None` once the log is open. Locked before
    /// `log` when both are (opening holds it, so concurrent first touches open once).
    cold: Mutex<Option<ColdLog>>,
    /// Log end offset after each append; fetches waiting for data watch it.
    end_offset_tx: watch::Sender<i64>,
    /// The durable offset and the fsyncs in flight (acks=all group commit).
    group_commit: GroupCommit,
    /// The log's offline flag, readable without the log lock.
    offline: Arc<OfflineState>,
    /// How many times a cold log was opened (tests check it is at most once).
    #[cfg(test)]
    opens: std::sync::atomic::AtomicUsize,
}

/// A partition registered without opening its log.
struct ColdLog {
    dir: PathBuf,
    config: LogConfig,
    clock: Clock,
    /// Its entry in the log directory's `clean-shutdown.logs`, if the last shutdown
    /// recorded one there (instead of a marker in the partition's directory).
    closed: Option<ClosedLog>,
    /// The directory as listed on first need (it does not change while cold).
    summary: Option<ColdSummary>,
    /// The offsets of a cleanly shut down log, read on first need.
    offsets: Option<Option<ColdOffsets>>,
    /// An open failed before (later failures are logged at debug).
    failed_before: bool,
    /// The broker's clean shutdown began with this partition cold: it is never opened
    /// again in this process (its entry may be in the next `clean-shutdown.logs`).
    sealed: bool,
}

/// What `Partition::seal_for_shutdown` found.
pub enum AtShutdown {
    /// The log is open: close it.
    Open,
    /// Cold, and now never opened in this process; its entry of `clean-shutdown.logs`
    /// read at start-up, if it still holds, for the next file.
    Cold(Option<ClosedLog>),
}

impl ColdLog {
    /// The cached listing, read on first need; `None` if it cannot be read.
    fn summary(&mut self) -> Option<&ColdSummary> {
        if self.summary.is_none() {
            match ColdSummary::read(&self.dir, self.closed.as_ref()) {
                Ok(s) => self.summary = Some(s),
                Err(e) => {
                    tracing::debug!(dir = %self.dir.display(), error = %e, "could not list a cold partition directory");
                    return None;
                }
            }
        }
        self.summary.as_ref()
    }

    /// The offsets the log would open with, if it was shut down cleanly (cached).
    fn offsets(&mut self) -> Option<ColdOffsets> {
        if self.offsets.is_none() {
            let dir = self.dir.clone();
            let offsets = self.summary().and_then(|s| s.offsets(&dir));
            self.offsets = Some(offsets);
        }
        self.offsets.flatten()
    }
}

/// An error opening a log, as the I/O error the infallible-looking paths pass on.
fn open_error(e: LogError) -> io::Error {
    match e {
        LogError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// Out of descriptors or memory: worth trying again later, not a reason to take the
/// partition offline for good.
fn retryable_open_error(e: &LogError) -> bool {
    matches!(e, LogError::Io(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOMEM)))
}

/// The locked log. Dropping it logs the partition's going offline, if whatever was done
/// under the lock took it offline (once per partition, see `Partition::report_offline`).
struct LogGuard<'a> {
    partition: &'a Partition,
    log: MutexGuard<'a, PartitionLog>,
}

impl Deref for LogGuard<'_> {
    type Target = PartitionLog;
    fn deref(&self) -> &PartitionLog {
        &self.log
    }
}

impl DerefMut for LogGuard<'_> {
    fn deref_mut(&mut self) -> &mut PartitionLog {
        &mut self.log
    }
}

impl Drop for LogGuard<'_> {
    fn drop(&mut self) {
        self.partition.report_offline();
    }
}

impl Partition {
    pub fn new(topic: Arc<str>, index: i32, log: PartitionLog) -> Partition {
        let end = log.log_end_offset();
        let recovery_point = log.recovery_point();
        let (end_offset_tx, _) = watch::channel(end);
        let offline = log.offline_state().clone();
        let concurrent_fsyncs = log.config().concurrent_fsyncs;
        Partition {
            topic,
            index,
            log: OnceLock::from(Mutex::new(log)),
            cold: Mutex::new(None),
            end_offset_tx,
            group_commit: GroupCommit::new(recovery_point, concurrent_fsyncs),
            offline,
            #[cfg(test)]
            opens: Default::default(),
        }
    }

    /// A partition whose log in `dir` is opened on first touch (see the module doc).
    /// Does no I/O.
    /// `closed`: its entry in its log directory's `clean-shutdown.logs`, taken at
    /// start-up (`crate::log::log_dir_shutdown`).
    pub fn cold(
        topic: Arc<str>,
        index: i32,
        dir: PathBuf,
        config: LogConfig,
        clock: Clock,
        closed: Option<ClosedLog>,
    ) -> Partition {
        let (end_offset_tx, _) = watch::channel(0);
        let concurrent_fsyncs = config.concurrent_fsyncs;
        Partition {
            topic,
            index,
            log: OnceLock::new(),
            cold: Mutex::new(Some(ColdLog {
                dir,
                config,
                clock,
                closed,
                summary: None,
                offsets: None,
                failed_before: false,
                sealed: false,
            })),
            end_offset_tx,
            group_commit: GroupCommit::new(i64::MIN, concurrent_fsyncs),
            offline: Arc::new(OfflineState::default()),
            #[cfg(test)]
            opens: Default::default(),
        }
    }

    /// How many times this partition's cold log was opened.
    #[cfg(test)]
    pub fn open_count(&self) -> usize {
        self.opens.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the log is open (it was created or touched since start-up).
    pub fn is_loaded(&self) -> bool {
        self.log.get().is_some()
    }

    /// The open log, opening it first if the partition is cold. Concurrent callers wait
    /// for one open; none sees the log before it is whole.
    fn loaded(&self) -> Result<&Mutex<PartitionLog>, LogError> {
        if let Some(log) = self.log.get() {
            return Ok(log);
        }
        let mut cold = self.cold.lock();
        if let Some(log) = self.log.get() {
            return Ok(log);
        }
        // Retired (topic deleted) or failed: never opened again in this process.
        self.offline.check()?;
        let spec = cold.as_mut().expect("a partition without a log is cold");
        if spec.sealed {
            // An open now could change a log whose entry the shutdown is recording.
            return Err(LogError::Io(io::Error::other(
                "the broker is shutting down: a partition not opened before stays closed",
            )));
        }
        let started = std::time::Instant::now();
        #[cfg(test)]
        self.opens
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let opened = PartitionLog::open_closed(
            &spec.dir,
            spec.config.clone(),
            spec.clock.now_ms(),
            spec.closed,
        );
        let mut log = match opened {
            Ok(log) => log,
            Err(e) => {
                let retry = retryable_open_error(&e);
                if !spec.failed_before || !retry {
                    tracing::error!(topic = %self.topic, partition = self.index, error = %e, retry, "opening the partition log failed");
                } else {
                    tracing::debug!(topic = %self.topic, partition = self.index, error = %e, "opening the partition log failed again");
                }
                spec.failed_before = true;
                if retry {
                    return Err(e);
                }
                let e = self.offline.fail("opening the log", open_error(e));
                self.report_offline();
                return Err(LogError::Io(e));
            }
        };
        log.adopt_offline_state(self.offline.clone());
        self.group_commit.advance(log.recovery_point());
        self.end_offset_tx.send_replace(log.log_end_offset());
        tracing::debug!(topic = %self.topic, partition = self.index, elapsed_us = started.elapsed().as_micros() as u64, "opened partition log on first use");
        let _ = self.log.set(Mutex::new(log));
        *cold = None;
        Ok(self.log.get().expect("just set"))
    }

    fn log(&self) -> Result<LogGuard<'_>, LogError> {
        Ok(LogGuard {
            partition: self,
            log: self.loaded()?.lock(),
        })
    }

    /// `cold(..)` on the cold spec if the partition is still cold, else `hot(..)` on the
    /// open log; never opens it.
    fn cold_or_loaded<R>(
        &self,
        cold: impl FnOnce(&mut ColdLog) -> R,
        hot: impl FnOnce(&mut PartitionLog) -> R,
    ) -> R {
        if self.log.get().is_none() {
            let mut guard = self.cold.lock();
            if let Some(spec) = guard.as_mut() {
                return cold(spec);
            }
        }
        let mut log = self.log.get().expect("loaded when not cold").lock();
        hot(&mut log)
    }

    /// Logs the transition to offline the first time it is seen (one error line per
    /// partition, whichever path failed); later refusals are the callers' to log, at
    /// debug.
    fn report_offline(&self) {
        if let Some(reason) = self.offline.take_report() {
            tracing::error!(
                topic = %self.topic,
                partition = self.index,
                error = %reason,
                "partition is offline: a write or fsync its durability depends on failed, and a failed fsync is never retried; \
                 it answers KAFKA_STORAGE_ERROR until the broker restarts and recovery checks what is on disk"
            );
        }
    }

    /// Whether the log went offline (a write or sync durability depends on failed).
    /// Never changes back while the process runs.
    pub fn is_offline(&self) -> bool {
        self.offline.is_offline()
    }

    /// `Err` (a storage error, KAFKA_STORAGE_ERROR at the API layer) once offline.
    pub fn check_online(&self) -> Result<(), LogError> {
        Ok(self.offline.check()?)
    }

    /// Test seam: the next group-commit or flush fdatasync of this partition fails with
    /// EIO (without syncing), as a disk that lost the write-back would.
    #[cfg(test)]
    pub fn fail_next_sync(&self) {
        self.offline.fail_next_sync()
    }

    /// A validator for appends here at `now_ms`, with the topic's configs as they are
    /// now (read under one lock). Validating takes no lock.
    pub fn validator(&self, now_ms: i64, origin: AppendOrigin) -> LogValidator {
        let config = self.cold_or_loaded(
            |cold| crate::log::ValidationConfig::new(&cold.config),
            |log| log.validation_config(),
        );
        LogValidator::new(config, now_ms, origin)
    }

    /// Validates and appends a batch the broker built itself (the coordinators' own
    /// records), and wakes waiting fetches. Validation runs before the lock is taken.
    pub fn append(
        &self,
        records: impl Into<Bytes>,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        self.offline.check()?;
        let validated = self
            .validator(now_ms, AppendOrigin::Coordinator)
            .validate(records.into())?;
        Ok(self.append_validated(validated, now_ms)?)
    }

    /// Appends records [`Partition::validator`]'s validator accepted and wakes waiting
    /// fetches; the lock is held only for the offset assignment and the write (and, in
    /// the rare case that the topic's configs changed since the validation, for the
    /// log's validation of them again with the new ones).
    pub fn append_validated(
        &self,
        validated: ValidatedRecords,
        now_ms: i64,
    ) -> Result<AppendInfo, ValidationError> {
        let mut log = self
            .log()
            .map_err(|e| AppendError::Storage(open_error(e)))?;
        let info = log.append_validated(validated, now_ms)?;
        let end = log.log_end_offset();
        drop(log);
        if !info.duplicate {
            let bytes = info.batches.iter().map(|b| b.total_size() as u64).sum();
            crate::metrics::global().appended(&self.topic, bytes, info.record_count as u64);
        }
        self.end_offset_tx.send_replace(end);
        Ok(info)
    }

    /// Waits until every offset below `end_offset` is fsync'd (acks=all group commit,
    /// `crate::topics::group_commit`): a waiter whose data an fsync in flight covers waits
    /// for it; otherwise it starts one that syncs everything appended so far, as soon as
    /// fewer than `sluice.acks.all.concurrent.fsyncs` are in flight.
    ///
    /// Ok only for data an fsync that succeeded covered. Once an fsync failed the
    /// partition is offline and every waiter for data not yet proven durable gets an
    /// error: the fsync is never retried, because a retry may "succeed" after the kernel
    /// dropped the pages it could not write.
    pub async fn wait_durable(self: &Arc<Self>, end_offset: i64) -> io::Result<()> {
        loop {
            let check = || self.offline.check();
            let slot = match self.group_commit.next_step(end_offset, check).await? {
                Step::Durable => return Ok(()),
                Step::Sync(slot) => slot,
            };
            let handle = self.log().map_err(open_error)?.sync_handle();
            let Some(handle) = handle else {
                let covered = self.log().map_err(open_error)?.recovery_point();
                self.group_commit.advance(covered);
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
            self.group_commit.started(covered);
            // Runs to its end even if this waiter is dropped (see the module doc of
            // group_commit); this waiter learns the outcome like every other, below.
            let partition = self.clone();
            tokio::task::spawn_blocking(move || {
                let durable = partition.finish_sync(&handle);
                partition.group_commit.finished(durable);
                drop(slot);
            });
        }
    }

    /// The fdatasync of a group commit and its bookkeeping under the log's lock, on the
    /// blocking pool. Returns the offset it made durable, `None` when it failed (the log
    /// is then offline, and reported so).
    fn finish_sync(&self, handle: &SyncHandle) -> Option<i64> {
        let covered = handle.offset();
        if handle.sync().is_err() {
            // The handle took the log offline (or found it so).
            self.report_offline();
            return None;
        }
        let before = self.group_commit.durable_offset();
        match self.log() {
            Ok(mut log) => log.mark_flushed(covered),
            Err(_) => return None,
        }
        // The checkpoint mark_flushed may write (with its directory fsync) failed:
        // declare nothing durable.
        if self.offline.is_offline() {
            return None;
        }
        crate::metrics::global()
            .group_commit_offsets
            .observe((covered - before).max(0) as f64);
        Some(covered)
    }

    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        max_offset: Option<i64>,
        min_one_batch: bool,
    ) -> Result<(ReadInfo, Watermarks), LogError> {
        let log = self.log()?;
        let marks = watermarks(&log);
        let bound = max_offset.unwrap_or(marks.high_watermark);
        let info = log.read(fetch_offset, max_bytes, bound, min_one_batch)?;
        drop(log);
        crate::metrics::global().read(&self.topic, &info.records);
        Ok((info, marks))
    }

    /// The offsets as the log has them. A cold partition that was shut down cleanly
    /// answers from its marker, checkpoint and producer snapshot without opening (the
    /// offsets open would find); any other opens. A log that cannot be opened has none to
    /// give: zeros, beside the storage error every read and append of it answers.
    pub fn watermarks(&self) -> Watermarks {
        let cold = self.cold_or_loaded(|cold| cold.offsets(), |_| None);
        if let Some(o) = cold {
            return Watermarks {
                log_start_offset: o.log_start_offset,
                high_watermark: o.log_end_offset,
                last_stable_offset: o.last_stable_offset,
            };
        }
        match self.log() {
            Ok(log) => watermarks(&log),
            Err(_) => Watermarks {
                log_start_offset: 0,
                high_watermark: 0,
                last_stable_offset: 0,
            },
        }
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
        let mut log = self
            .log()
            .map_err(|e| AppendError::Storage(open_error(e)))?;
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
        self.log()
            .map(|log| log.ongoing_transactions())
            .unwrap_or_default()
    }

    /// A receiver that changes whenever this partition's log end offset moves.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.end_offset_tx.subscribe()
    }

    /// The aborted transactions a read_committed fetch of `[fetch_offset, upper_bound)`
    /// must be told about.
    pub fn aborted_transactions(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
    ) -> Result<Vec<AbortedTxn>, LogError> {
        self.log()?.aborted_transactions(fetch_offset, upper_bound)
    }

    /// How many producer ids this partition remembers in memory (their sequence and epoch
    /// state); a cold partition has not read its producer-state snapshot yet: 0.
    pub fn producer_count(&self) -> usize {
        self.cold_or_loaded(|_| 0, |log| log.producer_state().producers().count())
    }

    /// The producers this partition remembers, by producer id (DescribeProducers).
    pub fn active_producers(&self) -> Vec<ActiveProducer> {
        let Ok(log) = self.log() else {
            return Vec::new();
        };
        let mut producers: Vec<ActiveProducer> = log
            .producer_state()
            .producers()
            .map(|(id, e)| ActiveProducer {
                producer_id: *id,
                producer_epoch: e.producer_epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.current_txn_first_offset.unwrap_or(-1),
            })
            .collect();
        producers.sort_by_key(|p| p.producer_id);
        producers
    }

    /// The sequence number `producer_id` at `producer_epoch` must use next here, if
    /// this partition remembers a batch of it at that epoch.
    pub fn next_sequence(&self, producer_id: i64, producer_epoch: i16) -> Option<i32> {
        let log = self.log().ok()?;
        let entry = log.producer_state().entry(producer_id)?;
        (entry.producer_epoch == producer_epoch)
            .then(|| entry.batches.back().map(|b| b.last_seq.wrapping_add(1)))
            .flatten()
    }

    /// The first offset whose batch has a timestamp at or after `timestamp_ms`, with
    /// that timestamp (ListOffsets by time).
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.log()?.offset_for_timestamp(timestamp_ms)
    }

    /// The offset and timestamp of the record with the largest timestamp (ListOffsets
    /// MAX_TIMESTAMP).
    pub fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        self.log()?.max_timestamp_and_offset()
    }

    /// DeleteRecords: moves the log start offset to `offset`, or to the high watermark
    /// when `None` (read under the same lock). Returns the new log start offset.
    pub fn delete_records_before(&self, offset: Option<i64>) -> Result<i64, LogError> {
        let mut log = self.log()?;
        let target = offset.unwrap_or_else(|| log.high_watermark());
        log.delete_records_before(target)
    }

    /// This partition's directory (`<log dir>/<topic>-<partition>`).
    pub fn dir(&self) -> PathBuf {
        self.cold_or_loaded(|cold| cold.dir.clone(), |log| log.dir().to_path_buf())
    }

    /// The log directory (one of `log.dirs`) holding this partition.
    pub fn log_dir(&self) -> PathBuf {
        let dir = self.dir();
        dir.parent().map_or(dir.clone(), Path::to_path_buf)
    }

    /// Runs `f` with the log end offset while no append can run (a copy pass for
    /// AlterReplicaLogDirs lists the files under this, so what it copies covers at least
    /// that offset).
    pub fn with_appends_held<R>(&self, f: impl FnOnce(&Path, i64) -> R) -> Result<R, LogError> {
        let log = self.log()?;
        Ok(f(log.dir(), log.log_end_offset()))
    }

    /// AlterReplicaLogDirs' switch, all under the log lock (produce and fetch wait for
    /// it): closes the log cleanly, lets `replace` finish the copy and rename the
    /// directories, and serves from the log it returns. If `replace` fails the closed
    /// log stays in service (its next write removes its clean-shutdown marker).
    pub fn replace_log<E: From<io::Error>>(
        &self,
        replace: impl FnOnce(&Path, &LogConfig) -> Result<PartitionLog, E>,
    ) -> Result<(), E> {
        let mut log = self.log().map_err(open_error)?;
        log.close()?;
        let mut new = replace(log.dir(), log.config())?;
        new.adopt_offline_state(log.offline_state().clone());
        *log = new;
        Ok(())
    }

    /// Bytes on disk in this partition's segments (DescribeLogDirs).
    pub fn size_bytes(&self) -> u64 {
        self.log_size_and_segments().0
    }

    /// Bytes and segment count of the log, under one lock (for /metrics). A cold
    /// partition answers from its directory listing, without opening.
    pub fn log_size_and_segments(&self) -> (u64, usize) {
        self.cold_or_loaded(
            |cold| {
                cold.summary()
                    .map_or((0, 0), |s| (s.size_bytes, s.segments))
            },
            |log| (log.size_bytes(), log.segment_count()),
        )
    }

    /// Applies changed topic configs at once (AlterConfigs); a cold partition opens with
    /// them.
    pub fn set_config(&self, config: LogConfig) {
        self.cold_or_loaded(
            |cold| cold.config = config.clone(),
            |log| log.set_config(config.clone()),
        )
    }

    /// Time-based rolls, the flush.ms fsync, retention and the periodic recovery-point
    /// checkpoint. Returns how many segments retention deleted. Skips an offline partition. A cold partition is opened only if
    /// its directory says a roll or retention is due (or it needs crash recovery).
    pub fn housekeeping(&self, now_ms: i64) -> io::Result<usize> {
        let (deleted, checkpoint) = self.housekeeping_deferring_checkpoint(now_ms)?;
        if let Some(checkpoint) = checkpoint {
            checkpoint.write()?;
        }
        Ok(deleted)
    }

    /// [`Partition::housekeeping`] that hands the periodic checkpoint back instead of
    /// writing it, for a caller that writes many with one file-system sync
    /// (`crate::topics::checkpoint_batch`).
    pub fn housekeeping_deferring_checkpoint(
        &self,
        now_ms: i64,
    ) -> io::Result<(usize, Option<DueCheckpoint>)> {
        let due = self.cold_or_loaded(
            |cold| {
                let config = cold.config.clone();
                cold.summary()
                    .is_none_or(|s| s.needs_housekeeping(&config, now_ms))
            },
            |_| true,
        );
        if !due || self.is_offline() {
            return Ok((0, None));
        }
        let mut log = self.log().map_err(open_error)?;
        let deleted = log.housekeeping(now_ms)?;
        let offline = log.offline_state().clone();
        // The periodic recovery-point checkpoint is written after the log's lock is
        // released: appends and acks=all fsyncs go on while its fsyncs run.
        let checkpoint = log.checkpoint_due().map(|(writer, capture)| DueCheckpoint {
            writer,
            capture,
            offline,
        });
        Ok((deleted, checkpoint))
    }

    /// What the log cleaner should compact now, if anything (zero-copy views of the
    /// closed segments; the copy runs without the lock). A cold partition is opened only
    /// if it is compacted and has a segment besides the active one.
    pub fn cleaning_plan(&self, now_ms: i64) -> Option<CleanPlan> {
        let due = self.cold_or_loaded(
            |cold| {
                let config = cold.config.clone();
                cold.summary().is_none_or(|s| s.needs_cleaning(&config))
            },
            |_| true,
        );
        if !due || self.is_offline() {
            return None;
        }
        self.log().ok()?.cleaning_plan(now_ms)
    }

    /// Swaps cleaned segments in. Returns how many were replaced (none once offline).
    /// Nothing is installed when the log moved to another log directory since `plan`
    /// was made: its cleaned files are in the old directory, removed with it.
    pub fn install_cleaned(&self, plan: &CleanPlan, out: &CleanOutput) -> Result<usize, LogError> {
        let mut log = self.log()?;
        if log.dir() != plan.dir {
            return Ok(0);
        }
        log.install_cleaned(out, CrashAfter::default())
    }

    /// Flushes and closes the log cleanly. An offline partition is left as it is, without
    /// a clean-shutdown marker, and answers `Err`: the next start runs crash recovery.
    /// A cold partition has nothing to close: its files are as the last run left them.
    pub fn close(&self) -> io::Result<()> {
        self.cold_or_loaded(|_| Ok(()), |log| log.close())
    }

    /// Step 1 of a batched clean shutdown (`PartitionLog::begin_batched_close`); false
    /// when there is nothing to finish (cold, closed already, or offline).
    pub fn begin_batched_close(&self) -> io::Result<bool> {
        match self.log.get() {
            Some(log) => {
                let began = log.lock().begin_batched_close();
                self.report_offline();
                began
            }
            None => Ok(false),
        }
    }

    /// Step 2, after a file-system sync that followed step 1 succeeded
    /// (`PartitionLog::finish_batched_close`).
    /// `Some`: what to record for this log in its log directory's `clean-shutdown.logs`.
    pub fn finish_batched_close(&self, generation: u64) -> io::Result<Option<ClosedLog>> {
        match self.log.get() {
            Some(log) => {
                let finished = log.lock().finish_batched_close(generation);
                self.report_offline();
                finished
            }
            None => Ok(None),
        }
    }

    /// At the start of a clean shutdown: an open partition is left to be closed; a cold
    /// one is sealed (never opened in this process any more, so the entry the shutdown
    /// records for it cannot go stale) and its entry of `clean-shutdown.logs` returned,
    /// if it still holds: true while the partition stayed cold, unless a run that crashed
    /// opened it (and marked it taken).
    pub fn seal_for_shutdown(&self) -> AtShutdown {
        let mut cold = self.cold.lock();
        match cold.as_mut() {
            Some(spec) if self.log.get().is_none() => {
                spec.sealed = true;
                let entry = spec
                    .closed
                    .filter(|c| !crate::log::log_dir_shutdown::is_taken(&spec.dir, c.generation));
                AtShutdown::Cold(entry)
            }
            _ => AtShutdown::Open,
        }
    }

    /// DeleteTopics: fences this partition before its directory is renamed away. A
    /// request still holding it (an acks=all wait, a fetch) then gets a storage error
    /// instead of writing a checkpoint, snapshot or marker by path into a directory that
    /// a topic created again under the same name may own by then.
    pub fn retire(&self) {
        self.retire_because("its topic was deleted");
    }

    /// Fences this partition for good, as [`Partition::retire`], for `reason`.
    pub fn retire_because(&self, reason: &str) {
        // Under the lock that serialises with a move's switch or, while cold, with
        // opening: neither runs on a retired partition.
        self.cold_or_loaded(
            |_| self.offline.retire(reason),
            |log| log.offline_state().retire(reason),
        )
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::log::test_util::batch;

    fn partition(dir: &std::path::Path) -> Partition {
        let log = PartitionLog::open(dir, LogConfig::default(), 1_000).unwrap();
        Partition::new("t".into(), 0, log)
    }

    #[test]
    fn appends_validated_under_older_configs_are_validated_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path());
        let payload = Bytes::from(batch(2, 1_000, 10));
        let validated = p
            .validator(1_000, AppendOrigin::Client)
            .validate(payload.clone())
            .unwrap();
        // max.message.bytes shrinks between the validation and the append.
        p.set_config(LogConfig {
            max_message_bytes: 10,
            ..LogConfig::default()
        });
        let e = p.append_validated(validated, 1_000).unwrap_err();
        assert!(matches!(e.error, AppendError::MessageTooLarge { .. }));
        assert_eq!(p.watermarks().high_watermark, 0);
        p.set_config(LogConfig::default());
        let validated = p
            .validator(1_000, AppendOrigin::Client)
            .validate(payload)
            .unwrap();
        let info = p.append_validated(validated, 1_000).unwrap();
        assert_eq!((info.base_offset, info.last_offset), (0, 1));
        assert_eq!(*p.subscribe().borrow(), 2, "fetches are woken");
    }

    #[test]
    fn the_coordinators_append_takes_several_batches() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path());
        let mut two = batch(1, 1_000, 10);
        two.extend_from_slice(&batch(2, 1_001, 10));
        let info = p.append(two, 1_000).unwrap();
        assert_eq!((info.base_offset, info.last_offset), (0, 2));
    }
}
