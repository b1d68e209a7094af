//! DescribeShareGroupOffsets (key 90, KIP-932): the share-partition start offset of
//! each topic-partition of a share group (all it has state for when no topics are
//! named; -1 for a named partition it never initialized).

use std::sync::Arc;

use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup, DescribeShareGroupOffsetsResponsePartition,
    DescribeShareGroupOffsetsResponseTopic,
};
use kafka_protocol::messages::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, TopicName,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: DescribeShareGroupOffsetsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeShareGroupOffsetsResponse> {
    let mut r = DescribeShareGroupOffsetsResponse::default();
    for g in request.groups {
        let mut out = DescribeShareGroupOffsetsResponseGroup::default();
        out.group_id = g.group_id.clone();
        let Some(offsets) = broker.share.start_offsets(&g.group_id) else {
            out.error_code = ResponseError::GroupIdNotFound.code();
            out.error_message = Some(sb(format!("Group {} not found.", g.group_id.0)));
            r.groups.push(out);
            continue;
        };
        let partition = |index: i32, start: i64| {
            let mut p = DescribeShareGroupOffsetsResponsePartition::default();
            p.partition_index = index;
            p.start_offset = start;
            p.leader_epoch = crate::topics::partition::LEADER_EPOCH;
            p
        };
        match g.topics {
            None => {
                for ((topic_id, index), start) in offsets {
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
                            offsets.get(&(rt.topic_id, index)).copied().unwrap_or(-1),
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
        r.groups.push(out);
    }
    Some(r)
}
