//! InitProducerId (key 22): gives an idempotent producer a new producer id, epoch 0.
//!
//! As in Kafka, a producer without a transactional id always gets a fresh id (retries
//! and KIP-360 epoch bumps included); the partitions then check its sequence numbers.
//! Transactional ids need the transaction coordinator, which does not exist yet: they
//! get TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the one answer that librdkafka and the
//! Java client both treat as fatal at once (UNSUPPORTED_VERSION or
//! COORDINATOR_NOT_AVAILABLE would have them retry until a timeout), with a log line
//! saying why.

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::RequestContext;
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: InitProducerIdRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<InitProducerIdResponse> {
    let mut r = InitProducerIdResponse::default();
    r.producer_id = ProducerId(-1);
    r.producer_epoch = -1;
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.is_empty())
    {
        tracing::info!(client = ?ctx.client_id, "transactional producer refused: transactions are not supported yet");
        r.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
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
