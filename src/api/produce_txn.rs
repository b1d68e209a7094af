//! Transactions v2 in the produce path (KIP-890 part 2): a transactional Produce v12+
//! from a producer with a transactional id adds its partitions to the producer's
//! transaction itself, as Kafka 4.x's broker does for the client (clients below v12 send
//! AddPartitionsToTxn first, and a transactions-v1 client never uses v12 inside a
//! transaction). Only while the finalized `transaction.version` is 2.
//!
//! Runs before any batch is appended: a partition whose addition the coordinator
//! refuses is not written (its answer carries the error), so a transactional batch never
//! lands where no marker would follow. Each partition's first batch header names the
//! producer id and epoch (the one-batch rule gives every partition a single batch); the
//! records are never decoded. Partitions of a topic that does not exist yet are created
//! here first (auto-create, as the append would), so the addition covers them.
//! Coordinator errors are mapped as Kafka's `AddPartitionsToTxnManager` maps them for
//! produce: PRODUCER_FENCED to INVALID_PRODUCER_EPOCH, and the retriable coordinator
//! errors to NOT_ENOUGH_REPLICAS, which every client retries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::ProduceRequest;

use crate::broker::Broker;
use crate::error::ResponseError;
use crate::log::batch::BatchHeader;
use crate::topics::TopicPartition;

/// Partitions refused before any append: (topic name, partition) -> the error to answer.
pub type Refusals = HashMap<TopicPartition, ResponseError>;

/// Adds the request's transactional partitions to the producer's transaction when the
/// request is a transactions-v2 one; returns the partitions refused.
pub async fn add_partitions(
    request: &ProduceRequest,
    version: i16,
    broker: &Arc<Broker>,
) -> Refusals {
    let mut refused = Refusals::new();
    // Cheapest first: most produce requests carry no transactional id.
    let Some(txn_id) = request
        .transactional_id
        .as_ref()
        .filter(|t| !t.is_empty())
        .map(|t| t.to_string())
    else {
        return refused;
    };
    if version < 12 || !broker.transactions.transactions_v2() {
        return refused;
    }
    // (producer id, epoch) -> partitions; one producer in practice.
    let mut by_producer: BTreeMap<(i64, i16), BTreeSet<TopicPartition>> = BTreeMap::new();
    for topic_data in &request.topic_data {
        let topic = if version >= 13 {
            broker.topics.get_by_id(&topic_data.topic_id)
        } else {
            broker
                .topics
                .get_or_auto_create(&topic_data.name)
                .ok()
                .flatten()
        };
        let Some(topic) = topic else { continue };
        for p in &topic_data.partition_data {
            let Some(h) = p.records.as_deref().and_then(BatchHeader::parse) else {
                continue;
            };
            if !h.is_transactional() || h.is_control() || h.producer_id < 0 {
                continue;
            }
            if topic.partition(p.index).is_none() {
                continue;
            }
            by_producer
                .entry((h.producer_id, h.producer_epoch))
                .or_default()
                .insert((topic.name.to_string(), p.index));
        }
    }
    for ((producer_id, epoch), partitions) in by_producer {
        let added = broker
            .transactions
            .add_partitions(&txn_id, producer_id, epoch, partitions.clone(), 2)
            .await;
        if let Err(e) = added {
            tracing::debug!(transactional_id = %txn_id, producer_id, epoch, error = ?e, "transactional produce refused: partitions not added");
            let e = match e {
                ResponseError::ProducerFenced => ResponseError::InvalidProducerEpoch,
                ResponseError::ConcurrentTransactions
                | ResponseError::CoordinatorLoadInProgress
                | ResponseError::CoordinatorNotAvailable
                | ResponseError::NotCoordinator => ResponseError::NotEnoughReplicas,
                e => e,
            };
            for tp in partitions {
                refused.insert(tp, e);
            }
        }
    }
    refused
}
