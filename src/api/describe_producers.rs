//! DescribeProducers (key 61): the idempotent and transactional producers each
//! partition remembers (Kafka's `kafka-transactions describe-producers`), with their
//! epoch, last sequence and open transaction.

use std::sync::Arc;

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::RequestContext;
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: DescribeProducersRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeProducersResponse> {
    let mut r = DescribeProducersResponse::default();
    for t in request.topics {
        let topic = broker.topics.get(&t.name);
        let mut tr = TopicResponse::default();
        tr.name = t.name.clone();
        for index in t.partition_indexes {
            let mut pr = PartitionResponse::default();
            pr.partition_index = index;
            match topic.as_ref().and_then(|t| t.partition(index)) {
                None => pr.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(partition) => {
                    pr.active_producers = partition
                        .active_producers()
                        .into_iter()
                        .map(|a| {
                            let mut p = ProducerState::default();
                            p.producer_id = ProducerId(a.producer_id);
                            p.producer_epoch = a.producer_epoch as i32;
                            p.last_sequence = a.last_sequence;
                            p.last_timestamp = a.last_timestamp;
                            p.coordinator_epoch = a.coordinator_epoch;
                            p.current_txn_start_offset = a.current_txn_start_offset;
                            p
                        })
                        .collect();
                }
            }
            tr.partitions.push(pr);
        }
        r.topics.push(tr);
    }
    Some(r)
}
