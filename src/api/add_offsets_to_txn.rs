//! AddOffsetsToTxn (key 25): adds the group's `__consumer_offsets` partition to the
//! producer's transaction, before TxnOffsetCommit sends the offsets, so the
//! transaction's marker lands where the offsets are. PRODUCER_FENCED is
//! INVALID_PRODUCER_EPOCH before v2 (KIP-588).

use std::sync::Arc;

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::coordinator::transaction::error_for_version;

pub async fn handle(
    request: AddOffsetsToTxnRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AddOffsetsToTxnResponse> {
    let mut r = AddOffsetsToTxnResponse::default();
    if let Err(e) = broker
        .transactions
        .add_offsets(
            request.transactional_id.as_str(),
            request.producer_id.0,
            request.producer_epoch,
            request.group_id.as_str(),
            0,
        )
        .await
    {
        tracing::debug!(transactional_id = %request.transactional_id.as_str(), error = ?e, "AddOffsetsToTxn refused");
        r.error_code = error_for_version(e, ctx.api_version, 2).code();
    }
    Some(r)
}
