//! ListTransactions (key 66, KIP-664): every transactional id the coordinator knows,
//! filtered by state names, producer ids and (v1+, KIP-994) how long the transaction
//! has been running. Unknown state names are echoed in `unknown_state_filters`.
//! Served up to v1: v2's regular-expression filter is not supported.

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState as Listed;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::transaction::metadata::TransactionState;

pub async fn handle(
    request: ListTransactionsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ListTransactionsResponse> {
    let mut r = ListTransactionsResponse::default();
    let mut states = Vec::new();
    for name in &request.state_filters {
        match TransactionState::from_name(name.as_str()) {
            Some(s) => states.push(s),
            None => r.unknown_state_filters.push(name.clone()),
        }
    }
    // Only unknown names asked for: nothing can match.
    if !request.state_filters.is_empty() && states.is_empty() {
        return Some(r);
    }
    let producer_ids: Vec<i64> = request.producer_id_filters.iter().map(|p| p.0).collect();
    let min_duration = if ctx.api_version >= 1 {
        request.duration_filter
    } else {
        -1
    };
    r.transaction_states = broker
        .transactions
        .list(&states, &producer_ids, min_duration)
        .into_iter()
        .map(|t| {
            let mut l = Listed::default();
            l.transactional_id = TransactionalId(sb(t.transactional_id));
            l.producer_id = ProducerId(t.producer_id);
            l.transaction_state = sb(t.state.name());
            l
        })
        .collect();
    Some(r)
}
