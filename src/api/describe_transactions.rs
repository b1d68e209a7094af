//! DescribeTransactions (key 65, KIP-664): the coordinator's view of each requested
//! transactional id (state, producer id and epoch, timeout, start time, partitions);
//! TRANSACTIONAL_ID_NOT_FOUND for ids it does not know.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};

use super::{sb, RequestContext};
use crate::broker::Broker;

pub async fn handle(
    request: DescribeTransactionsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeTransactionsResponse> {
    let mut r = DescribeTransactionsResponse::default();
    for id in request.transactional_ids {
        let mut s = TransactionState::default();
        s.producer_id = ProducerId(-1);
        s.producer_epoch = -1;
        s.transaction_start_time_ms = -1;
        match broker.transactions.describe(id.as_str()) {
            Ok(d) => {
                s.transaction_state = sb(d.state.name());
                s.transaction_timeout_ms = d.timeout_ms;
                s.transaction_start_time_ms = d.start_timestamp_ms;
                s.producer_id = ProducerId(d.producer_id);
                s.producer_epoch = d.producer_epoch;
                let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for (topic, p) in d.partitions {
                    by_topic.entry(topic).or_default().push(p);
                }
                s.topics = by_topic
                    .into_iter()
                    .map(|(topic, partitions)| {
                        let mut t = TopicData::default();
                        t.topic = TopicName(sb(topic));
                        t.partitions = partitions;
                        t
                    })
                    .collect();
            }
            Err(e) => s.error_code = e.code(),
        }
        s.transactional_id = id;
        r.transaction_states.push(s);
    }
    Some(r)
}
