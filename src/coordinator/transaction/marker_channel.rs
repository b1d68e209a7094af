//! Writing end-transaction markers (Kafka's `TransactionMarkerChannelManager`, minus
//! the network: every partition is local). For one decided transaction it writes a
//! COMMIT or ABORT control batch to each partition in it, waits until each is fsync'd,
//! and tells the group coordinator the outcome for `__consumer_offsets` partitions, so
//! transactional offset commits become visible (or are dropped) exactly when their
//! marker is durable.
//!
//! Every partition is tried in each round, so one failing partition does not hold back
//! the markers of the others. A storage failure is retried with backoff until it
//! succeeds: a decided transaction must reach every partition, and a marker counts as
//! written only once its fsync succeeded. A partition whose log went offline (a failed
//! fsync or write) refuses every write until the broker restarts, so its marker is
//! retried slowly (every `MAX_OFFLINE_BACKOFF`) and quietly (one warning per
//! transaction and partition): the transaction stays in PrepareCommit/PrepareAbort until
//! the partition's topic is deleted or the broker restarts, recovers the partition and
//! completes the transaction at start-up. A marker the partition refuses for good (an
//! older epoch than the producer's current one there, i.e. a later round already
//! completed it), or a partition whose topic was deleted, is logged and skipped, as Kafka
//! drops markers for partitions that no longer exist. This module never changes
//! transaction state.
//!
//! Fault injection for crash tests: with the environment variable
//! `SLUICE_TEST_HOLD_TRANSACTION_MARKERS=1` at start-up, no marker is ever written
//! (logged loudly), so a decided transaction stays in PrepareCommit/PrepareAbort until
//! the process is killed; the integration tests use it to kill -9 exactly between a
//! transaction's decision and its markers. Nothing sets it outside those tests.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::coordinator::group::store::OFFSETS_TOPIC;
use crate::log::AppendError;
use crate::topics::{TopicPartition, TopicRegistry, LEADER_EPOCH};

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Retry period once every failing partition is offline: it cannot succeed before a
/// restart, short of its topic being deleted.
const MAX_OFFLINE_BACKOFF: Duration = Duration::from_secs(30);

/// How one attempt at one partition's marker went.
enum Attempt {
    /// Durable, or skipped for good.
    Done,
    /// A storage error; `offline` when the partition's log is offline.
    Failed { error: String, offline: bool },
}

/// What the markers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOutcome {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
}

/// Who learns that a transaction's marker on a `__consumer_offsets` partition is
/// durable: the group coordinator, which then materialises (commit) or drops (abort)
/// the producer's staged offsets there. A trait, so the transaction coordinator does
/// not depend on any one group coordinator (the KIP-848 one will listen too).
pub trait TxnOffsetsListener: Send + Sync {
    fn complete_txn_offsets(&self, offsets_partition: i32, producer_id: i64, commit: bool);
}

pub struct TransactionMarkerChannelManager {
    topics: Arc<TopicRegistry>,
    clock: Clock,
    offsets_listener: Arc<dyn TxnOffsetsListener>,
    /// `SLUICE_TEST_HOLD_TRANSACTION_MARKERS` (see the module doc).
    hold_markers: bool,
}

/// The fault-injection switch of the crash tests (see the module doc).
pub const HOLD_MARKERS_ENV: &str = "SLUICE_TEST_HOLD_TRANSACTION_MARKERS";

impl TransactionMarkerChannelManager {
    pub fn new(
        topics: Arc<TopicRegistry>,
        clock: Clock,
        offsets_listener: Arc<dyn TxnOffsetsListener>,
    ) -> TransactionMarkerChannelManager {
        let hold_markers = std::env::var(HOLD_MARKERS_ENV).is_ok_and(|v| v == "1");
        if hold_markers {
            tracing::warn!(
                "{HOLD_MARKERS_ENV}=1: transaction markers are never written (crash-test fault injection)"
            );
        }
        TransactionMarkerChannelManager {
            topics,
            clock,
            offsets_listener,
            hold_markers,
        }
    }

    /// Writes the markers of one transaction to every partition in it; returns once
    /// each is durable (or skipped for good).
    pub async fn write_markers(
        &self,
        transactional_id: &str,
        outcome: TxnOutcome,
        partitions: &BTreeSet<TopicPartition>,
    ) {
        if self.hold_markers {
            tracing::warn!(
                transactional_id,
                "holding the transaction's markers ({HOLD_MARKERS_ENV})"
            );
            std::future::pending::<()>().await;
        }
        let mut pending: Vec<&TopicPartition> = partitions.iter().collect();
        let mut warned_offline: BTreeSet<&TopicPartition> = BTreeSet::new();
        let mut backoff = MIN_BACKOFF;
        loop {
            let mut failed = Vec::new();
            let mut all_offline = true;
            for tp in pending {
                let (topic, index) = (tp.0.as_str(), tp.1);
                match self
                    .write_one(transactional_id, outcome, topic, index)
                    .await
                {
                    Attempt::Done => {}
                    Attempt::Failed { error, offline } => {
                        if !offline {
                            all_offline = false;
                            tracing::error!(transactional_id, topic, partition = index, error = %error, "writing a transaction marker failed; retrying");
                        } else if warned_offline.insert(tp) {
                            tracing::warn!(
                                transactional_id,
                                topic,
                                partition = index,
                                "transaction marker cannot be written: the partition is offline; \
                                 the transaction stays undecided there until the broker restarts (retrying every {}s)",
                                MAX_OFFLINE_BACKOFF.as_secs()
                            );
                        } else {
                            tracing::debug!(transactional_id, topic, partition = index, error = %error, "transaction marker still refused: partition offline");
                        }
                        failed.push(tp);
                    }
                }
            }
            if failed.is_empty() {
                return;
            }
            pending = failed;
            tokio::time::sleep(backoff).await;
            let cap = if all_offline {
                MAX_OFFLINE_BACKOFF
            } else {
                MAX_BACKOFF
            };
            backoff = (backoff * 2).min(cap);
        }
    }

    /// One attempt: append the marker and wait for its fsync.
    async fn write_one(
        &self,
        transactional_id: &str,
        outcome: TxnOutcome,
        topic: &str,
        index: i32,
    ) -> Attempt {
        let Some(partition) = self
            .topics
            .get(topic)
            .and_then(|t| t.partition(index).cloned())
        else {
            tracing::warn!(
                transactional_id,
                topic,
                partition = index,
                "partition of a transaction no longer exists: marker skipped"
            );
            return Attempt::Done;
        };
        let written = partition.write_txn_marker(
            outcome.producer_id,
            outcome.producer_epoch,
            outcome.commit,
            LEADER_EPOCH,
            self.clock.now_ms(),
        );
        let error = match written {
            Ok(offset) => match partition.wait_durable(offset + 1).await {
                Ok(()) => {
                    if topic == OFFSETS_TOPIC {
                        self.offsets_listener.complete_txn_offsets(
                            index,
                            outcome.producer_id,
                            outcome.commit,
                        );
                    }
                    return Attempt::Done;
                }
                Err(e) => e.to_string(),
            },
            Err(e @ AppendError::Storage(_)) => e.to_string(),
            Err(e) => {
                tracing::warn!(transactional_id, topic, partition = index, error = %e, "partition refused the transaction marker: skipped");
                return Attempt::Done;
            }
        };
        Attempt::Failed {
            error,
            offline: partition.is_offline(),
        }
    }
}
