//! Writing end-transaction markers (Kafka's `TransactionMarkerChannelManager`, minus
//! the network: every partition is local). For one decided transaction it writes a
//! COMMIT or ABORT control batch to each partition in it, waits until each is fsync'd,
//! and tells the group coordinator the outcome for `__consumer_offsets` partitions, so
//! transactional offset commits become visible (or are dropped) exactly when their
//! marker is durable.
//!
//! A storage failure is retried with backoff until it succeeds: a decided transaction
//! must reach every partition. A marker the partition refuses for good (an older epoch
//! than the producer's current one there, i.e. a later round already completed it), or
//! a partition whose topic was deleted, is logged and skipped, as Kafka drops markers
//! for partitions that no longer exist. This module never changes transaction state.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::coordinator::group::store::OFFSETS_TOPIC;
use crate::log::AppendError;
use crate::topics::{TopicPartition, TopicRegistry, LEADER_EPOCH};

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

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
}

impl TransactionMarkerChannelManager {
    pub fn new(
        topics: Arc<TopicRegistry>,
        clock: Clock,
        offsets_listener: Arc<dyn TxnOffsetsListener>,
    ) -> TransactionMarkerChannelManager {
        TransactionMarkerChannelManager {
            topics,
            clock,
            offsets_listener,
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
        for (topic, index) in partitions {
            self.write_one(transactional_id, outcome, topic, *index)
                .await;
        }
    }

    async fn write_one(
        &self,
        transactional_id: &str,
        outcome: TxnOutcome,
        topic: &str,
        index: i32,
    ) {
        let mut backoff = MIN_BACKOFF;
        loop {
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
                return;
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
                        return;
                    }
                    Err(e) => e.to_string(),
                },
                Err(e @ AppendError::Storage(_)) => e.to_string(),
                Err(e) => {
                    tracing::warn!(transactional_id, topic, partition = index, error = %e, "partition refused the transaction marker: skipped");
                    return;
                }
            };
            tracing::error!(transactional_id, topic, partition = index, error = %error, "writing a transaction marker failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
