//! How decided transactions finish, and the coordinator's timers: the markers and the
//! Complete record written in a task of their own once EndTxn has decided, the
//! completion at start-up of transactions found decided but not complete, the abort of
//! transactions past their timeout and the expiry of idle transactional ids. It never
//! decides a transaction's outcome itself (EndTxn and the timeout do) and never touches
//! a request.

use std::sync::Arc;
use std::time::Duration;

use super::*;

impl TransactionCoordinator {
    /// Writes the markers of a transaction in PrepareCommit/PrepareAbort and then its
    /// Complete state, in a task of its own (a client that disconnects cannot cut it
    /// short); waits for it up to [`MARKER_WAIT`].
    pub(super) async fn complete_in_background(
        self: &Arc<Self>,
        transactional_id: &str,
        entry: TxnRef,
    ) {
        let coordinator = self.clone();
        let id = transactional_id.to_string();
        let task = tokio::spawn(async move { coordinator.complete_transaction(&id, &entry).await });
        if tokio::time::timeout(MARKER_WAIT, task).await.is_err() {
            tracing::warn!(
                transactional_id,
                "transaction markers are taking long; they keep being retried"
            );
        }
    }

    // ---- timers -----------------------------------------------------------------

    /// Aborts (and fences) every transaction that has been ongoing longer than its
    /// timeout. Returns how many were aborted.
    pub async fn abort_timed_out(self: &Arc<Self>) -> usize {
        let now = self.clock.now_ms();
        let mut aborted = 0;
        for (id, entry) in self.state.all() {
            let t = {
                let mut m = entry.lock();
                if m.state != TransactionState::Ongoing
                    || m.pending_state.is_some()
                    || m.txn_start_timestamp + m.txn_timeout_ms as i64 > now
                {
                    continue;
                }
                match m.prepare_abort_or_commit(false, true, now) {
                    Ok(t) => t,
                    Err(_) => continue,
                }
            };
            tracing::info!(
                transactional_id = %id,
                producer_id = t.producer_id,
                epoch = t.producer_epoch,
                "aborting a transaction that timed out"
            );
            if self.write_transition(&id, &entry, t).await.is_ok() {
                self.complete_in_background(&id, entry).await;
                aborted += 1;
            }
        }
        aborted
    }

    /// Forgets transactional ids idle (no transaction) for transactional.id.expiration.ms.
    pub async fn expire_transactional_ids(self: &Arc<Self>) -> usize {
        let now = self.clock.now_ms();
        let mut expired = 0;
        for (id, entry) in self.state.all() {
            let t = {
                let mut m = entry.lock();
                let idle = matches!(
                    m.state,
                    TransactionState::Empty
                        | TransactionState::CompleteCommit
                        | TransactionState::CompleteAbort
                );
                if !idle
                    || m.pending_state.is_some()
                    || m.txn_last_update_timestamp + self.config.id_expiration_ms > now
                {
                    continue;
                }
                match m.prepare_dead(now) {
                    Ok(t) => t,
                    Err(_) => continue,
                }
            };
            if self.write_transition(&id, &entry, t).await.is_ok() {
                self.state.remove(&id, &entry);
                tracing::info!(transactional_id = %id, "expired transactional id");
                expired += 1;
            }
        }
        expired
    }

    /// Completes transactions found in PrepareCommit/PrepareAbort (after a restart).
    pub async fn complete_prepared(self: &Arc<Self>) -> usize {
        let mut n = 0;
        for (id, entry) in self.state.all() {
            let prepared = {
                let m = entry.lock();
                m.pending_state.is_none()
                    && matches!(
                        m.state,
                        TransactionState::PrepareCommit | TransactionState::PrepareAbort
                    )
            };
            if prepared {
                tracing::info!(transactional_id = %id, "completing a transaction decided before the restart");
                self.complete_transaction(&id, &entry).await;
                n += 1;
            }
        }
        n
    }

    /// Writes the markers of a decided transaction, then its Complete state (retrying the
    /// state write until it succeeds: the markers are already out).
    pub(super) async fn complete_transaction(&self, transactional_id: &str, entry: &TxnRef) {
        let (outcome, partitions) = {
            let m = entry.lock();
            let commit = match m.state {
                TransactionState::PrepareCommit => true,
                TransactionState::PrepareAbort => false,
                _ => return,
            };
            (
                TxnOutcome {
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                    commit,
                },
                m.partitions.clone(),
            )
        };
        self.markers
            .write_markers(transactional_id, outcome, &partitions)
            .await;
        let mut backoff = Duration::from_millis(50);
        let mut warned_offline = false;
        loop {
            let t = entry.lock().prepare_complete(self.clock.now_ms());
            let t = match t {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(transactional_id, error = ?e, "cannot complete transaction");
                    return;
                }
            };
            match self.write_transition(transactional_id, entry, t).await {
                Ok(()) => {
                    tracing::debug!(
                        transactional_id,
                        commit = outcome.commit,
                        partitions = partitions.len(),
                        "transaction complete"
                    );
                    return;
                }
                Err(e) => {
                    // An offline __transaction_state partition refuses every write until
                    // a restart (which completes the transaction): retry slowly, quietly.
                    let cap = if self.state.partition_offline(&self.topics, transactional_id) {
                        if !warned_offline {
                            warned_offline = true;
                            tracing::warn!(transactional_id, "the Complete state cannot be written: its __transaction_state partition is offline; retrying until the broker restarts");
                        } else {
                            tracing::debug!(transactional_id, error = ?e, "writing the Complete state refused: partition offline");
                        }
                        Duration::from_secs(30)
                    } else {
                        tracing::error!(transactional_id, error = ?e, "writing the Complete state failed; retrying");
                        Duration::from_secs(2)
                    };
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(cap);
                }
            }
        }
    }
}

/// Completes transactions decided before a restart, then aborts timed-out transactions
/// and expires idle transactional ids every
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms`, until aborted.
pub fn spawn_timers(coordinator: Arc<TransactionCoordinator>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        coordinator.complete_prepared().await;
        let period = Duration::from_millis(coordinator.config.abort_check_interval_ms.max(1));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            coordinator.abort_timed_out().await;
            coordinator.expire_transactional_ids().await;
        }
    })
}
