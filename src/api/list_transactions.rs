//! ListTransactions (key 66, KIP-664): every transactional id the coordinator knows,
//! filtered by state names, producer ids and (v1+, KIP-994) how long the transaction
//! has been running, and (v2+, KIP-1152) a regular expression on the transactional id.
//! Unknown state names are echoed in `unknown_state_filters`.
//!
//! The pattern: null or empty lists every id; otherwise an id is listed when the
//! expression matches somewhere in it (unanchored, as Java's `Matcher.find`; write
//! `^...$` for a whole-id match), and a pattern that does not compile answers
//! INVALID_REGULAR_EXPRESSION with an empty list. The expression is compiled by the
//! `regex` crate, whose syntax is that of Java's `Pattern` for everything but
//! look-around and back-references (which it refuses, so they answer the error
//! rather than a wrong list); its matching time is linear in the id's length and its
//! compiled size is bounded by the crate's default limit, so no pattern can stall the
//! broker.

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState as Listed;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::transaction::metadata::TransactionState;
use crate::error::ResponseError;

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
    let pattern = match request.transactional_id_pattern.as_deref() {
        Some(p) if ctx.api_version >= 2 && !p.is_empty() => match regex::Regex::new(p) {
            Ok(re) => Some(re),
            Err(e) => {
                tracing::info!(
                    connection = ctx.connection_id,
                    pattern = p,
                    "ListTransactions refused: invalid regular expression: {e}"
                );
                r.error_code = ResponseError::InvalidRegularExpression.code();
                return Some(r);
            }
        },
        _ => None,
    };
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
        .filter(|t| {
            pattern
                .as_ref()
                .is_none_or(|re| re.is_match(&t.transactional_id))
        })
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
