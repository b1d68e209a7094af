//! ShareGroupDescribe (key 77, KIP-932): members, member epochs, subscriptions and
//! assignments of share groups. A group id that is not a share group gets
//! GROUP_ID_NOT_FOUND, as Kafka answers; every group gets UNSUPPORTED_VERSION while
//! the `share.version` feature is at 0.

use std::sync::Arc;

use kafka_protocol::messages::share_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{ShareGroupDescribeRequest, ShareGroupDescribeResponse, TopicName};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::share::group::ASSIGNOR_NAME;
use crate::error::ResponseError;

pub async fn handle(
    request: ShareGroupDescribeRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ShareGroupDescribeResponse> {
    let mut r = ShareGroupDescribeResponse::default();
    let refused = super::share_request::share_groups_refusal(broker);
    for id in request.group_ids {
        let mut d = DescribedGroup::default();
        d.group_id = id.clone();
        d.authorized_operations = i32::MIN;
        if let Some(e) = &refused {
            d.error_code = e.code();
            d.error_message = e.message.clone().map(sb);
            r.groups.push(d);
            continue;
        }
        match broker.share.describe(&id) {
            None => {
                d.error_code = ResponseError::GroupIdNotFound.code();
                d.error_message = Some(sb(format!("Group {} is not a share group.", id.0)));
            }
            Some(g) => {
                let g = g.group;
                d.group_state = sb(g.state_name());
                d.group_epoch = g.group_epoch;
                d.assignment_epoch = g.assignment_epoch;
                d.assignor_name = sb(ASSIGNOR_NAME);
                d.members = g
                    .members
                    .values()
                    .map(|m| {
                        let mut out = Member::default();
                        out.member_id = sb(m.member_id.clone());
                        out.rack_id = m.rack_id.clone().map(sb);
                        out.member_epoch = m.member_epoch;
                        out.client_id = sb(m.client_id.clone());
                        out.client_host = sb(m.client_host.clone());
                        out.subscribed_topic_names = m
                            .subscribed
                            .iter()
                            .map(|t| TopicName(sb(t.clone())))
                            .collect();
                        let mut a = Assignment::default();
                        a.topic_partitions = m
                            .assignment
                            .iter()
                            .map(|(topic_id, parts)| {
                                let mut tp = TopicPartitions::default();
                                tp.topic_id = *topic_id;
                                tp.topic_name = TopicName(sb(broker
                                    .topics
                                    .get_by_id(topic_id)
                                    .map(|t| t.name.to_string())
                                    .unwrap_or_default()));
                                tp.partitions = parts.iter().copied().collect();
                                tp
                            })
                            .collect();
                        out.assignment = a;
                        out
                    })
                    .collect();
            }
        }
        r.groups.push(d);
    }
    Some(r)
}
