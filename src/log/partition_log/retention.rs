//! Deleting old data from a partition log: time and size retention (for
//! cleanup.policy containing delete), DeleteRecords, and the periodic housekeeping
//! that also rolls aged segments, runs the flush.ms fsync and lets an idle partition's
//! active segment close its files when the log is over its budget of descriptors and
//! maps. The new log start offset
//! is always checkpointed before any file is unlinked. An offline log is skipped by
//! housekeeping and refuses DeleteRecords; a failed checkpoint or unlink takes it offline.

use super::*;
use crate::log::segment::{IDLE_ACTIVE_MS, IDLE_ACTIVE_UNDER_PRESSURE_MS};

impl PartitionLog {
    /// Periodic work: time-based roll, retention, `flush.ms`. Returns the number of
    /// segments deleted. Does nothing on an offline log.
    pub fn housekeeping(&mut self, now_ms: i64) -> io::Result<usize> {
        if self.offline.is_offline() {
            return Ok(0);
        }
        self.housekeeping_files(now_ms)
            .map_err(|e| self.fail("housekeeping", e))
    }

    fn housekeeping_files(&mut self, now_ms: i64) -> io::Result<usize> {
        let aged = self.active().time_waited_for_roll(None, now_ms) > self.config.segment_ms;
        if self.active().size() > 0 && aged {
            self.reopen_after_close()?;
            self.roll()?;
        }
        // cleanup.policy=compact alone keeps every segment (the cleaner shrinks them).
        let deleted = if self.config.cleanup_delete {
            self.delete_retained_segments(now_ms)?
        } else {
            0
        };
        if deleted > 0 {
            producer_state::delete_snapshots_before(&self.dir, self.log_start_offset)?;
            let start = self.log_start_offset;
            self.aborted.retain(|a| a.last_offset >= start);
            self.aborted
                .forget_segments_below(self.segments[0].base_offset);
        }
        self.producer_state
            .expire(now_ms, self.config.producer_id_expiration_ms);
        if self
            .first_unflushed_ms
            .is_some_and(|t| now_ms - t >= self.config.flush_ms)
        {
            self.flush()?;
        }
        // An idle partition gives its descriptor and maps back when the log is over its
        // budget (the next append takes them again). Far over it, sooner, and data
        // still waiting for `flush.ms` is flushed first so the descriptor can go (an
        // early fsync of idle data costs one fsync; running out of descriptors costs
        // failed appends and refused connections).
        if !self.closed {
            let pressure = self.config.file_cache.files_under_pressure();
            let idle_ms = if pressure {
                IDLE_ACTIVE_UNDER_PRESSURE_MS
            } else {
                IDLE_ACTIVE_MS
            };
            if self.active().is_idle(now_ms, idle_ms) && self.config.file_cache.over_budget() {
                if pressure && self.first_unflushed_ms.is_some() {
                    self.flush()?;
                }
                self.active_mut().release_files()?;
            }
        }
        Ok(deleted)
    }

    /// Gives the active segment's descriptor back now if nothing waits for an
    /// fdatasync (the next append takes it again). Used for partitions just created:
    /// a new topic of 50,000 partitions must not hold 50,000 descriptors until
    /// housekeeping finds them idle. Returns whether it did.
    pub fn release_files(&mut self) -> io::Result<bool> {
        if self.closed || self.offline.is_offline() {
            return Ok(false);
        }
        self.active_mut()
            .release_files()
            .map_err(|e| self.fail("releasing the active segment's files", e))
    }

    /// DeleteRecords: moves the log start offset up to `new_start` (at most the high
    /// watermark), persists it, and deletes the segments wholly below it. Fetches below
    /// the new start get OFFSET_OUT_OF_RANGE; ListOffsets earliest returns it. Returns
    /// the log start offset after the call (Kafka's low watermark).
    pub fn delete_records_before(&mut self, new_start: i64) -> Result<i64, LogError> {
        self.offline.check()?;
        let hw = self.high_watermark();
        if new_start < 0 || new_start > hw {
            return Err(LogError::OffsetOutOfRange {
                requested: new_start,
                log_start_offset: self.log_start_offset,
                log_end_offset: hw,
            });
        }
        if new_start <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.delete_files_before(new_start)
            .map_err(|e| self.fail("DeleteRecords", e).into())
    }

    fn delete_files_before(&mut self, new_start: i64) -> io::Result<i64> {
        self.reopen_after_close()?;
        self.log_start_offset = new_start;
        self.recovery_point = self.recovery_point.max(new_start);
        // Persist first: a crash during the unlinks must not bring the records back.
        self.write_checkpoint()?;
        let below = self.segments[..self.segments.len() - 1]
            .iter()
            .take_while(|s| s.next_offset <= new_start)
            .count();
        for seg in self.segments.drain(..below) {
            tracing::info!(dir = %self.dir.display(), base = seg.base_offset, "deleting segment below the log start offset (DeleteRecords)");
            seg.delete()?;
        }
        producer_state::delete_snapshots_before(&self.dir, new_start)?;
        self.aborted.retain(|a| a.last_offset >= new_start);
        self.aborted
            .forget_segments_below(self.segments[0].base_offset);
        Ok(new_start)
    }

    /// Kafka's `deleteRetentionMsBreachedSegments` + `deleteRetentionSizeBreachedSegments`,
    /// never touching the active segment.
    pub(super) fn delete_retained_segments(&mut self, now_ms: i64) -> io::Result<usize> {
        let inactive = self.segments.len() - 1;
        let mut n = 0;
        if self.config.retention_ms >= 0 {
            while n < inactive
                && now_ms - self.segments[n].largest_timestamp() > self.config.retention_ms
            {
                n += 1;
            }
        }
        if self.config.retention_bytes >= 0 {
            let mut excess = self.size_bytes() as i64 - self.config.retention_bytes;
            for seg in &self.segments[..n] {
                excess -= seg.size() as i64;
            }
            while n < inactive && excess - self.segments[n].size() as i64 >= 0 {
                excess -= self.segments[n].size() as i64;
                n += 1;
            }
        }
        if n == 0 {
            return Ok(0);
        }
        // Advance and persist the log start offset first, so a crash halfway
        // through the unlinks cannot resurrect data (open drops segments below it).
        let new_start = self.segments[n].base_offset;
        self.log_start_offset = self.log_start_offset.max(new_start);
        self.recovery_point = self.recovery_point.max(self.log_start_offset);
        self.write_checkpoint()?;
        for seg in self.segments.drain(..n) {
            tracing::info!(dir = %self.dir.display(), base = seg.base_offset, "deleting segment by retention");
            seg.delete()?;
        }
        Ok(n)
    }
}
