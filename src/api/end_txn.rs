//! EndTxn (key 26): commits or aborts the producer's transaction. Answered once the
//! decision (PrepareCommit/PrepareAbort) is durable in `__transaction_state` and the
//! markers are written to every partition of the transaction.
//!
//! Served up to v4: v5 is KIP-890's transaction version 2 (an epoch bump on every
//! commit), which clients use only when the broker advertises that feature.
//! PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2 (KIP-588).

use std::sync::Arc;

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::RequestContext;
use crate::broker::Broker;
use crate::coordinator::transaction::error_for_version;

pub async fn handle(
    request: EndTxnRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<EndTxnResponse> {
    let mut r = EndTxnResponse::default();
    r.producer_id = ProducerId(-1);
    r.producer_epoch = -1;
    if let Err(e) = broker
        .transactions
        .end_txn(
            request.transactional_id.as_str(),
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
        )
        .await
    {
        tracing::debug!(transactional_id = %request.transactional_id.as_str(), commit = request.committed, error = ?e, "EndTxn refused");
        r.error_code = error_for_version(e, ctx.api_version, 2).code();
    }
    Some(r)
}
