//! Producer and transaction state of a partition log: rebuilding it at open from the
//! newest producer snapshot plus the batch headers after it, the last stable offset,
//! the aborted-transaction list served to read_committed fetches, and end-transaction
//! markers. It never reads records beyond control batches' marker types.

use super::*;

impl PartitionLog {
    /// Loads the newest producer snapshot at or below the log end and replays the
    /// batch headers after it (after a clean close that is nothing; after a crash, at
    /// most the segments written since the last roll). The aborted-transaction entries
    /// of the replayed range are derived again from the markers in the log, so a
    /// `.txnindex` entry lost in a crash comes back.
    ///
    /// `no_producer_state`: the log was closed cleanly with no producer state at its end
    /// (a log directory's `clean-shutdown.logs` says so instead of a snapshot): the state
    /// at the log end is empty and nothing is replayed.
    pub(super) fn rebuild_producer_state(
        &mut self,
        no_producer_state: bool,
    ) -> Result<(), LogError> {
        let end = self.log_end_offset();
        // The newest entries go to memory (the rest stay in the files only).
        self.aborted = AbortedTxns::new();
        let mut damaged = false;
        for i in 0..self.segments.len() {
            let base = self.segments[i].base_offset;
            match txn_index::read(&self.dir, base)? {
                Some(entries) => {
                    for e in entries {
                        self.remember_abort(e);
                    }
                }
                None => {
                    tracing::warn!(dir = %self.dir.display(), base, "damaged transaction index; replaying the whole log");
                    damaged = true;
                }
            }
        }
        let snapshot = if damaged {
            None
        } else if no_producer_state {
            Some((end, ProducerStateManager::new()))
        } else {
            producer_state::load_latest_snapshot(&self.dir, end)?
        };
        let (from, mut state) = match snapshot {
            Some((offset, state)) => (offset, state),
            None => (self.log_start_offset, ProducerStateManager::new()),
        };
        // Entries of the replayed range are derived again from the markers below.
        self.aborted.truncate_from(from);
        for seg in self
            .segments
            .iter()
            .filter(|s| s.next_offset > from || s.size() == 0)
        {
            let keep: Vec<AbortedTxn> = txn_index::read(&self.dir, seg.base_offset)?
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a.last_offset < from)
                .collect();
            txn_index::rewrite(&self.dir, seg.base_offset, &keep)?;
        }
        let mut derived = Vec::new();
        for seg in self.segments.iter().filter(|s| s.next_offset > from) {
            let base = seg.base_offset;
            let seg = seg.reader()?;
            let mut pos = if from > base {
                match seg.find_batch(from) {
                    Some((pos, _)) => pos,
                    None => continue,
                }
            } else {
                0
            };
            while let Some(h) = seg.batch_at(pos) {
                if h.last_offset() >= from {
                    let control = if h.is_control() {
                        control_record_type(&seg.slice(pos, pos + h.total_size() as u64))
                    } else {
                        None
                    };
                    if let Some(done) = state.update(&h, control) {
                        if done.aborted {
                            let entry = AbortedTxn {
                                producer_id: done.producer_id,
                                first_offset: done.first_offset,
                                last_offset: done.last_offset,
                                last_stable_offset: state
                                    .first_unstable_offset()
                                    .unwrap_or(done.last_offset + 1),
                            };
                            txn_index::append(&self.dir, base, &entry)?;
                            derived.push(entry);
                        }
                    }
                }
                pos += h.total_size() as u64;
            }
        }
        for entry in derived {
            self.remember_abort(entry);
        }
        self.producer_state = state;
        Ok(())
    }

    /// The last stable offset: the high watermark, held back by the first offset of
    /// the oldest open transaction. read_committed consumers read up to here.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.producer_state
            .first_unstable_offset()
            .map_or(hw, |first| first.min(hw))
    }

    /// Appends a COMMIT or ABORT marker for the producer (Kafka's
    /// `appendAsLeader(..., origin = Coordinator)`), completing its open transaction.
    /// Returns the marker's offset.
    pub fn write_txn_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, AppendError> {
        let marker = end_txn_marker_batch(
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            now_ms,
        );
        Ok(self.append_owned(marker.into(), now_ms)?.base_offset)
    }

    /// Open transactions here: (producer id, epoch, first offset).
    pub fn ongoing_transactions(&self) -> Vec<(i64, i16, i64)> {
        self.producer_state.ongoing_transactions()
    }

    /// How many aborted transactions are held in memory (the rest are only in the
    /// `.txnindex` files).
    pub fn aborted_in_memory(&self) -> usize {
        self.aborted.len()
    }

    /// The producer state, for DescribeProducers and tests.
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producer_state
    }

    /// Adds an aborted transaction to the active segment's `.txnindex`.
    pub(super) fn record_abort(
        &mut self,
        producer_id: i64,
        first_offset: i64,
        last_offset: i64,
    ) -> io::Result<()> {
        let entry = AbortedTxn {
            producer_id,
            first_offset,
            last_offset,
            last_stable_offset: self.last_stable_offset(),
        };
        txn_index::append(&self.dir, self.active().base_offset, &entry)?;
        self.remember_abort(entry);
        Ok(())
    }
}
