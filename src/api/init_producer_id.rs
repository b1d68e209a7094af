//! InitProducerId (key 22): a producer id and epoch for an idempotent or transactional
//! producer.
//!
//! As in Kafka, a producer without a transactional id always gets a fresh id, epoch 0
//! (retries and KIP-360 epoch bumps included); the partitions then check its sequence
//! numbers. A transactional id goes to the transaction coordinator
//! (`crate::coordinator::transaction`): a new id on first use, an epoch bump on every
//! re-init (fencing the previous producer and aborting its open transaction), and
//! INVALID_TRANSACTION_TIMEOUT above transaction.max.timeout.ms. PRODUCER_FENCED is
//! INVALID_PRODUCER_EPOCH before v4 (KIP-588).

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::RequestContext;
use crate::broker::Broker;
use crate::coordinator::transaction::error_for_version;
use crate::error::ResponseError;

pub async fn handle(
    request: InitProducerIdRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<InitProducerIdResponse> {
    let mut r = InitProducerIdResponse::default();
    r.producer_id = ProducerId(-1);
    r.producer_epoch = -1;
    // A null or empty transactional id is an idempotent-only producer (as before
    // transactions existed; Kafka refuses the empty one with INVALID_REQUEST).
    if let Some(txn_id) = request.transactional_id.as_ref().filter(|t| !t.is_empty()) {
        let expected =
            (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
        match broker
            .transactions
            .init_producer_id(txn_id.as_str(), request.transaction_timeout_ms, expected)
            .await
        {
            Ok((id, epoch)) => {
                r.producer_id = ProducerId(id);
                r.producer_epoch = epoch;
            }
            Err(e) => {
                tracing::debug!(client = ?ctx.client_id, transactional_id = %txn_id.as_str(), error = ?e, "InitProducerId refused");
                r.error_code = error_for_version(e, ctx.api_version, 4).code();
            }
        }
        return Some(r);
    }
    match broker.producer_ids.next_id() {
        Ok(id) => {
            r.producer_id = ProducerId(id);
            r.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot allocate a producer id");
            r.error_code = ResponseError::KafkaStorageError.code();
        }
    }
    Some(r)
}
