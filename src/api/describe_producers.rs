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
                    pr.active_producers = partition.with_log(|log| {
                        let mut producers: Vec<ProducerState> = log
                            .producer_state()
                            .producers()
                            .map(|(id, e)| {
                                let mut p = ProducerState::default();
                                p.producer_id = ProducerId(*id);
                                p.producer_epoch = e.producer_epoch as i32;
                                p.last_sequence = e.batches.back().map_or(-1, |b| b.last_seq);
                                p.last_timestamp = e.last_timestamp;
                                p.coordinator_epoch = e.coordinator_epoch;
                                p.current_txn_start_offset =
                                    e.current_txn_first_offset.unwrap_or(-1);
                                p
                            })
                            .collect();
                        producers.sort_by_key(|p| p.producer_id.0);
                        producers
                    });
                }
            }
            tr.partitions.push(pr);
        }
        r.topics.push(tr);
    }
    Some(r)
}
