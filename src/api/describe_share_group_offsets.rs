//! DescribeShareGroupOffsets (key 90, KIP-932): the share-partition start offset of
//! each topic-partition of a share group (all it has state for when no topics are
//! named; -1 for a named partition it never initialized), and from v1 (KIP-1226) its
//! lag: the partition's high watermark minus the start offset minus the records past
//! the start that delivery is complete for (acknowledged, archived, or gaps no member
//! will be given), as Kafka computes it; -1 where the start offset is not initialized.
//! While the `share.version` feature is at 0 every group gets UNSUPPORTED_VERSION, as
//! Kafka's KafkaApis answers.

use std::sync::Arc;

use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup, DescribeShareGroupOffsetsResponsePartition,
    DescribeShareGroupOffsetsResponseTopic,
};
use kafka_protocol::messages::{DescribeShareGroupOffsetsRequest, TopicName};

use super::codec_4_2::DescribeShareGroupOffsetsResponse;
use super::share_request::share_groups_refusal;
use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: DescribeShareGroupOffsetsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeShareGroupOffsetsResponse> {
    let mut r = DescribeShareGroupOffsetsResponse::default();
    let high_watermark = |topic_id: &uuid::Uuid, index: i32| {
        let topic = broker.topics.get_by_id(topic_id)?;
        Some(topic.partition(index)?.watermarks().high_watermark)
    };
    for g in request.groups {
        let mut out = DescribeShareGroupOffsetsResponseGroup::default();
        out.group_id = g.group_id.clone();
        if let Some(e) = share_groups_refusal(broker) {
            out.error_code = e.code();
            out.error_message = e.message.map(sb);
            r.response.groups.push(out);
            continue;
        }
        let Some(offsets) = broker.share.start_offsets(&g.group_id) else {
            out.error_code = ResponseError::GroupIdNotFound.code();
            out.error_message = Some(sb(format!("Group {} not found.", g.group_id.0)));
            r.response.groups.push(out);
            continue;
        };
        for (&(topic_id, index), &(start, complete)) in &offsets {
            if let Some(hw) = high_watermark(&topic_id, index).filter(|_| start >= 0) {
                let key = (g.group_id.to_string(), topic_id, index);
                r.lags.insert(key, hw - start - complete);
            }
        }
        let partition = |index: i32, start: i64| {
            let mut p = DescribeShareGroupOffsetsResponsePartition::default();
            p.partition_index = index;
            p.start_offset = start;
            p.leader_epoch = crate::topics::partition::LEADER_EPOCH;
            p
        };
        match g.topics {
            None => {
                for ((topic_id, index), (start, _)) in offsets {
                    let Some(topic) = broker.topics.get_by_id(&topic_id) else {
                        continue;
                    };
                    match out.topics.iter_mut().find(|t| t.topic_id == topic_id) {
                        Some(t) => t.partitions.push(partition(index, start)),
                        None => {
                            let mut t = DescribeShareGroupOffsetsResponseTopic::default();
                            t.topic_id = topic_id;
                            t.topic_name = TopicName(sb(topic.name.to_string()));
                            t.partitions.push(partition(index, start));
                            out.topics.push(t);
                        }
                    }
                }
            }
            Some(topics) => {
                for t in topics {
                    let mut rt = DescribeShareGroupOffsetsResponseTopic::default();
                    rt.topic_name = t.topic_name.clone();
                    let topic = broker.topics.get(&t.topic_name);
                    rt.topic_id = topic.as_ref().map(|t| t.id).unwrap_or_default();
                    for index in t.partitions {
                        let mut p = partition(
                            index,
                            offsets.get(&(rt.topic_id, index)).map_or(-1, |o| o.0),
                        );
                        if topic.as_ref().and_then(|t| t.partition(index)).is_none() {
                            p.error_code = ResponseError::UnknownTopicOrPartition.code();
                            p.start_offset = -1;
                        }
                        rt.partitions.push(p);
                    }
                    out.topics.push(rt);
                }
            }
        }
        r.response.groups.push(out);
    }
    Some(r)
}
