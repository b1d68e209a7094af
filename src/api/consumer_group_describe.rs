//! ConsumerGroupDescribe (key 69, KIP-848): a consumer group's state, epochs, assignor
//! and members with their current and target assignments. A classic or unknown group
//! answers GROUP_ID_NOT_FOUND, as Kafka does (admin clients then use DescribeGroups).
//! v1 adds the member type (1: a consumer-protocol member).

use std::sync::Arc;

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, TopicName,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

/// READ(3), DELETE(6), DESCRIBE(8), DESCRIBE_CONFIGS(10), ALTER_CONFIGS(11): every group
/// operation is allowed without an authorizer.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

/// ConsumerGroupDescribe v1's member type of a member using the consumer protocol.
const CONSUMER_MEMBER_TYPE: i8 = 1;
/// ... and of a classic member of a consumer group (after an online upgrade).
const CLASSIC_MEMBER_TYPE: i8 = 0;

fn assignment(parts: Vec<(uuid::Uuid, String, Vec<i32>)>) -> Assignment {
    let mut a = Assignment::default();
    a.topic_partitions = parts
        .into_iter()
        .map(|(id, name, ps)| {
            let mut tp = TopicPartitions::default();
            tp.topic_id = id;
            tp.topic_name = TopicName(sb(name));
            tp.partitions = ps;
            tp
        })
        .collect();
    a
}

pub async fn handle(
    request: ConsumerGroupDescribeRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ConsumerGroupDescribeResponse> {
    let mut r = ConsumerGroupDescribeResponse::default();
    r.groups = request
        .group_ids
        .iter()
        .map(|id| {
            let mut dg = DescribedGroup::default();
            dg.group_id = id.clone();
            if request.include_authorized_operations {
                dg.authorized_operations = GROUP_OPERATIONS;
            }
            let d = match broker.groups.consumer_group_describe(id) {
                Ok(d) => d,
                Err(e) => {
                    dg.error_code = e.code();
                    dg.error_message = Some(sb(if e == ResponseError::GroupIdNotFound {
                        format!("Group {} not found or not a consumer group.", id.0)
                    } else {
                        format!("{e:?}")
                    }));
                    dg.group_state = sb("Dead");
                    return dg;
                }
            };
            dg.group_state = sb(d.state.name());
            dg.group_epoch = d.group_epoch;
            dg.assignment_epoch = d.assignment_epoch;
            dg.assignor_name = sb(d.assignor_name);
            dg.members = d
                .members
                .into_iter()
                .map(|m| {
                    let mut dm = Member::default();
                    dm.member_id = sb(m.member_id);
                    dm.instance_id = m.instance_id.map(sb);
                    dm.rack_id = m.rack_id.map(sb);
                    dm.member_epoch = m.member_epoch;
                    dm.client_id = sb(m.client_id);
                    dm.client_host = sb(m.client_host);
                    dm.subscribed_topic_names = m
                        .subscribed_topic_names
                        .into_iter()
                        .map(|t| TopicName(sb(t)))
                        .collect();
                    dm.subscribed_topic_regex = m.subscribed_topic_regex.map(sb);
                    dm.assignment = assignment(m.assignment);
                    dm.target_assignment = assignment(m.target_assignment);
                    if ctx.api_version >= 1 {
                        dm.member_type = if m.classic {
                            CLASSIC_MEMBER_TYPE
                        } else {
                            CONSUMER_MEMBER_TYPE
                        };
                    }
                    dm
                })
                .collect();
            dg
        })
        .collect();
    Some(r)
}
