//! AddPartitionsToTxn (key 24): adds partitions to a producer's transaction before it
//! writes to them, so EndTxn knows where to write markers.
//!
//! v0-v3 carry one transaction (from a producer); v4+ batch several (KIP-890, sent by
//! brokers), each either added (as a transactions-v2 producer's write adds them) or,
//! with `verify_only`, only checked: a partition not in the producer's transaction gets
//! TRANSACTION_ABORTABLE (INVALID_TXN_STATE below v5, which lacks that code), and a
//! transaction being decided CONCURRENT_TRANSACTIONS. If any partition does not exist, it
//! gets UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, and nothing
//! is added, as in Kafka. A coordinator error applies to every partition.
//! PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2 (KIP-588).

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::coordinator::transaction::error_for_version;
use crate::error::ResponseError;
use crate::topics::TopicPartition;

pub async fn handle(
    request: AddPartitionsToTxnRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AddPartitionsToTxnResponse> {
    let v = ctx.api_version;
    let mut r = AddPartitionsToTxnResponse::default();
    if v <= 3 {
        r.results_by_topic_v3_and_below = add_one(
            broker,
            v,
            request.v3_and_below_transactional_id.as_str(),
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
            false,
            &request.v3_and_below_topics,
        )
        .await;
        return Some(r);
    }
    for t in &request.transactions {
        let mut result = AddPartitionsToTxnResult::default();
        result.transactional_id = t.transactional_id.clone();
        result.topic_results = add_one(
            broker,
            v,
            t.transactional_id.as_str(),
            t.producer_id.0,
            t.producer_epoch,
            t.verify_only,
            &t.topics,
        )
        .await;
        r.results_by_transaction.push(result);
    }
    Some(r)
}

async fn add_one(
    broker: &Arc<Broker>,
    version: i16,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let requested: Vec<TopicPartition> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), *p)))
        .collect();
    let missing: Vec<bool> = requested
        .iter()
        .map(|(topic, p)| {
            broker
                .topics
                .get(topic)
                .and_then(|t| t.partition(*p).cloned())
                .is_none()
        })
        .collect();
    let errors: Vec<Option<ResponseError>> = if missing.iter().any(|m| *m) {
        missing
            .iter()
            .map(|m| {
                Some(if *m {
                    ResponseError::UnknownTopicOrPartition
                } else {
                    ResponseError::OperationNotAttempted
                })
            })
            .collect()
    } else if verify_only {
        broker.transactions.verify_partitions(
            transactional_id,
            producer_id,
            producer_epoch,
            &requested,
        )
    } else {
        let set: BTreeSet<TopicPartition> = requested.iter().cloned().collect();
        // v4+ come from brokers adding partitions for a transactions-v2 producer.
        let client_transaction_version = if version >= 4 { 2 } else { 0 };
        let e = broker
            .transactions
            .add_partitions(
                transactional_id,
                producer_id,
                producer_epoch,
                set,
                client_transaction_version,
            )
            .await
            .err();
        if let Some(e) = e {
            tracing::debug!(transactional_id, error = ?e, "AddPartitionsToTxn refused");
        }
        vec![e; requested.len()]
    };
    let mut errors = errors.into_iter();
    topics
        .iter()
        .map(|t| {
            let mut tr = AddPartitionsToTxnTopicResult::default();
            tr.name = t.name.clone();
            tr.results_by_partition = t
                .partitions
                .iter()
                .map(|p| {
                    let mut pr = AddPartitionsToTxnPartitionResult::default();
                    pr.partition_index = *p;
                    pr.partition_error_code = errors
                        .next()
                        .flatten()
                        .map(|e| match e {
                            ResponseError::TransactionAbortable if version < 5 => {
                                ResponseError::InvalidTxnState
                            }
                            e => error_for_version(e, version, 2),
                        })
                        .map_or(0, |e| e.code());
                    pr
                })
                .collect();
            tr
        })
        .collect()
}
