//! AlterShareGroupOffsets (key 91, KIP-932): sets the share-partition start offset of
//! topic-partitions of a share group without members (NON_EMPTY_GROUP otherwise);
//! what was in flight there is forgotten. Refused whole with UNSUPPORTED_VERSION while
//! the `share.version` feature is at 0, as Kafka's KafkaApis does.

use std::sync::Arc;

use kafka_protocol::messages::alter_share_group_offsets_response::{
    AlterShareGroupOffsetsResponsePartition, AlterShareGroupOffsetsResponseTopic,
};
use kafka_protocol::messages::{AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse};

use super::share_request::share_groups_refusal;
use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: AlterShareGroupOffsetsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AlterShareGroupOffsetsResponse> {
    let mut r = AlterShareGroupOffsetsResponse::default();
    if let Some(e) = share_groups_refusal(broker) {
        r.error_code = e.code();
        r.error_message = e.message.map(sb);
        return Some(r);
    }
    // (topic index in the answer, partition, offset) of each partition that exists.
    let mut wanted = Vec::new();
    for t in &request.topics {
        let mut rt = AlterShareGroupOffsetsResponseTopic::default();
        rt.topic_name = t.topic_name.clone();
        let topic = broker.topics.get(&t.topic_name);
        rt.topic_id = topic.as_ref().map(|t| t.id).unwrap_or_default();
        for p in &t.partitions {
            let mut rp = AlterShareGroupOffsetsResponsePartition::default();
            rp.partition_index = p.partition_index;
            if topic
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
                .is_none()
            {
                rp.error_code = ResponseError::UnknownTopicOrPartition.code();
            } else {
                wanted.push((r.responses.len(), rt.partitions.len(), rt.topic_id, p));
            }
            rt.partitions.push(rp);
        }
        r.responses.push(rt);
    }
    let offsets: Vec<_> = wanted
        .iter()
        .map(|(_, _, id, p)| (*id, p.partition_index, p.start_offset))
        .collect();
    match broker
        .share
        .alter_start_offsets(&request.group_id, &offsets)
        .await
    {
        Err(e) => r.error_code = e.code(),
        Ok(results) => {
            for ((t, p, _, _), e) in wanted.iter().zip(results) {
                r.responses[*t].partitions[*p].error_code = e.map(|e| e.code()).unwrap_or(0);
            }
        }
    }
    Some(r)
}
