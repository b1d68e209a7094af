//! The partition log's side of log compaction (see `crate::log::cleaner`): what may
//! be cleaned, and installing cleaned segments under the partition lock. The copying
//! itself happens in the cleaner, without the lock.

use super::*;

impl PartitionLog {
    // ---- Log compaction (see `crate::log::cleaner`) ----

    /// The cleaner's progress: offsets below `first_dirty_offset` were cleaned.
    pub fn cleaner_checkpoint(&self) -> CleanerCheckpoint {
        self.cleaner
    }

    /// Step 1 of a cleaning pass, under the partition lock and cheap: decides whether
    /// the log needs cleaning (cleanup.policy has compact; dirty ratio >=
    /// min.cleanable.dirty.ratio, or the oldest dirty segment is past
    /// max.compaction.lag.ms) and returns zero-copy views of the cleanable segments:
    /// closed, wholly below the last stable offset, and (min.compaction.lag.ms) whose
    /// newest record is old enough. `None`: nothing to do (always, for an offline log).
    pub fn cleaning_plan(&self, now_ms: i64) -> Option<CleanPlan> {
        if !self.config.cleanup_compact
            || self.closed
            || self.segments.len() < 2
            || self.offline.is_offline()
        {
            return None;
        }
        let lso = self.last_stable_offset();
        let closed = &self.segments[..self.segments.len() - 1];
        let min_lag = self.config.min_compaction_lag_ms;
        let cleanable = closed
            .iter()
            .enumerate()
            .take_while(|(i, s)| {
                self.segments[i + 1].base_offset <= lso
                    && (min_lag <= 0 || now_ms.saturating_sub(s.largest_timestamp()) >= min_lag)
            })
            .count();
        if cleanable == 0 {
            return None;
        }
        let upper = self.segments[cleanable].base_offset;
        let first_dirty = self
            .cleaner
            .first_dirty_offset
            .max(self.segments[0].base_offset);
        if first_dirty >= upper {
            return None;
        }
        let segs = &self.segments[..cleanable];
        let (mut clean_bytes, mut dirty_bytes) = (0u64, 0u64);
        for s in segs {
            if s.next_offset <= first_dirty {
                clean_bytes += s.size();
            } else {
                dirty_bytes += s.size();
            }
        }
        let total = clean_bytes + dirty_bytes;
        let ratio = if total == 0 {
            0.0
        } else {
            dirty_bytes as f64 / total as f64
        };
        let overdue = segs
            .iter()
            .find(|s| s.next_offset > first_dirty)
            .is_some_and(|s| {
                now_ms.saturating_sub(s.largest_timestamp()) > self.config.max_compaction_lag_ms
            });
        if dirty_bytes == 0 || (ratio < self.config.min_cleanable_dirty_ratio && !overdue) {
            return None;
        }
        // Transactions aborted before the in-memory part of the list come from the
        // `.txnindex` files; the pass needs those that started below `upper`.
        let aborted = match self.aborted_below(upper) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read aborted transactions; not cleaning");
                return None;
            }
        };
        // The plan holds each segment's bytes (and so its map) until the pass is done,
        // whatever the budget of maps says.
        let segments: io::Result<Vec<cleaner::PlanSegment>> = segs
            .iter()
            .map(|s| {
                Ok(cleaner::PlanSegment {
                    base_offset: s.base_offset,
                    next_offset: s.next_offset,
                    bytes: s.reader()?.slice(0, s.size()),
                })
            })
            .collect();
        let segments = match segments {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot open segments to clean; not cleaning");
                return None;
            }
        };
        Some(CleanPlan {
            dir: self.dir.clone(),
            config: self.config.clone(),
            segments,
            first_dirty,
            upper,
            aborted,
            now_ms,
            dirty_ratio: ratio,
        })
    }

    /// Step 3 of a cleaning pass, under the partition lock: swaps the cleaned copies in,
    /// one segment at a time in offset order (renames only, see `cleaner::swap`), and
    /// records the progress. A planned segment that retention or DeleteRecords removed
    /// meanwhile is skipped; one that changed stops the swap there (the copies not used
    /// are deleted). Returns how many segments were replaced. `crash` is a test hook.
    /// An offline log installs nothing (the `.cleaned` copies are deleted by the next
    /// open); a failed rename, fsync or checkpoint write takes the log offline.
    pub fn install_cleaned(
        &mut self,
        out: &CleanOutput,
        crash: CrashAfter,
    ) -> Result<usize, LogError> {
        if self.offline.is_offline() {
            return Ok(0);
        }
        self.install_cleaned_files(out, crash).map_err(|e| match e {
            LogError::Io(e) => LogError::Io(self.fail("installing cleaned segments", e)),
            other => other,
        })
    }

    fn install_cleaned_files(
        &mut self,
        out: &CleanOutput,
        mut crash: CrashAfter,
    ) -> Result<usize, LogError> {
        let dir = self.dir.clone();
        let mut discard_from = out.segments.len();
        let mut todo = Vec::new();
        for (n, c) in out.segments.iter().enumerate() {
            let last = self.segments.len() - 1;
            match self.segments[..last]
                .iter()
                .position(|s| s.base_offset == c.base_offset)
            {
                _ if self.closed => {
                    discard_from = n;
                    break;
                }
                Some(i) if self.segments[i].size() == c.old_size => todo.push((n, i)),
                Some(_) => {
                    discard_from = n;
                    break;
                }
                None if c.base_offset < self.segments[0].base_offset => {
                    cleaner::swap::discard(&dir, c.base_offset)?;
                }
                None => {
                    discard_from = n;
                    break;
                }
            }
        }
        for c in &out.segments[discard_from..] {
            cleaner::swap::discard(&dir, c.base_offset)?;
        }
        if todo.is_empty() {
            return Ok(0);
        }
        // Before the first commit: recovery must accept the gaps of cleaned segments.
        let gaps_below = self.cleaner.gaps_below.max(out.clean_end);
        if gaps_below != self.cleaner.gaps_below {
            self.cleaner.gaps_below = gaps_below;
            cleaner::swap::write_checkpoint(&dir, &self.cleaner)?;
        }
        let mut swapped = 0;
        for (k, &(n, i)) in todo.iter().enumerate() {
            let base = out.segments[n].base_offset;
            if let Err(e) = cleaner::swap::install(&dir, base, &mut crash) {
                for &(m, _) in &todo[k..] {
                    let _ = cleaner::swap::discard(&dir, out.segments[m].base_offset);
                }
                return Err(e.into());
            }
            let next_base = self.segments[i + 1].base_offset;
            let mut seg = LogSegment::open_existing(&dir, base, false, &self.config.file_cache)?;
            seg.allow_gaps = true;
            if let Err(why) = seg.load_trusted(
                Some(next_base),
                self.config.index_interval_bytes,
                out.now_ms,
            ) {
                tracing::warn!(dir = %dir.display(), base, "rebuilding cleaned segment: {why}");
                seg = LogSegment::open_existing(&dir, base, true, &self.config.file_cache)?;
                seg.allow_gaps = true;
                seg.recover(&self.config, out.now_ms)?;
                seg.become_inactive()?;
                seg.sync_all()?;
            }
            seg.mark_synced(i64::MAX);
            let end = seg.next_offset;
            self.segments[i] = seg;
            self.aborted.retain(|a| {
                let here = a.last_offset >= base && a.last_offset < end.max(next_base);
                !(here && out.dropped_abort_markers.contains(&a.last_offset))
            });
            swapped += 1;
        }
        if discard_from == out.segments.len() {
            self.cleaner.first_dirty_offset = self.cleaner.first_dirty_offset.max(out.clean_end);
            cleaner::swap::write_checkpoint(&dir, &self.cleaner)?;
        }
        Ok(swapped)
    }

    /// A whole cleaning pass with the lock held throughout (tests and tools; the broker
    /// runs the three steps itself so that the copy runs unlocked).
    pub fn clean_now(
        &mut self,
        config: &cleaner::CleanerConfig,
        now_ms: i64,
    ) -> Result<Option<CleanOutput>, LogError> {
        let Some(plan) = self.cleaning_plan(now_ms) else {
            return Ok(None);
        };
        let out = cleaner::clean(&plan, config, &std::sync::atomic::AtomicBool::new(false))?;
        self.install_cleaned(&out, CrashAfter::default())?;
        Ok(Some(out))
    }

    // ---- end of log compaction ----
}
