//! EndTxn (key 26): commits or aborts the producer's transaction. Answered once the
//! decision (PrepareCommit/PrepareAbort) is durable in `__transaction_state` and the
//! markers are written to every partition of the transaction.
//!
//! v5 is KIP-890's transactions v2: while the finalized `transaction.version` is 2, the
//! producer epoch is bumped by every commit or abort (a new producer id at epoch 0 when
//! the epochs run out) and the answer carries the producer id and epoch to go on with
//! (see `crate::coordinator::transaction`). Below v5, or with transactions v2 off, the
//! epoch stays (and a v5 answer carries it unchanged).
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
    let v2 = ctx.api_version >= 5 && broker.transactions.transactions_v2();
    match broker
        .transactions
        .end_txn(
            request.transactional_id.as_str(),
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
            v2,
        )
        .await
    {
        Ok((producer_id, epoch)) => {
            r.producer_id = ProducerId(producer_id);
            r.producer_epoch = epoch;
        }
        Err(e) => {
            tracing::debug!(transactional_id = %request.transactional_id.as_str(), commit = request.committed, error = ?e, "EndTxn refused");
            r.error_code = error_for_version(e, ctx.api_version, 2).code();
        }
    }
    Some(r)
}
