//! DescribeGroups (key 15): state, protocol and members of groups. Member metadata and
//! assignments are only shown while the group is Stable, as Kafka does.
//!
//! An unknown group is answered as Kafka answers it: state "Dead" with no error up to
//! v5, GROUP_ID_NOT_FOUND from v6; a consumer (KIP-848) or share group is answered the
//! same way, with "is not a classic group" as its message (their describe APIs are
//! ConsumerGroupDescribe and ShareGroupDescribe). Without an authorizer every group
//! operation is allowed, which v3+ report when asked.

use std::sync::Arc;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

/// READ(3), DELETE(6), DESCRIBE(8), DESCRIBE_CONFIGS(10), ALTER_CONFIGS(11).
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

pub async fn handle(
    request: DescribeGroupsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeGroupsResponse> {
    let v = ctx.api_version;
    let mut r = DescribeGroupsResponse::default();
    r.groups = request
        .groups
        .iter()
        .map(|id| {
            let mut dg = DescribedGroup::default();
            dg.group_id = id.clone();
            if v >= 3 && request.include_authorized_operations {
                dg.authorized_operations = GROUP_OPERATIONS;
            }
            let Some(d) = broker.groups.describe_group(id) else {
                dg.group_state = sb("Dead");
                if v >= 6 {
                    dg.error_code = ResponseError::GroupIdNotFound.code();
                    let other_kind =
                        broker.groups.is_consumer_group(id) || broker.share.describe(id).is_some();
                    dg.error_message = Some(sb(if other_kind {
                        format!("Group {} is not a classic group.", id.0)
                    } else {
                        format!("Group {} not found.", id.0)
                    }));
                }
                return dg;
            };
            dg.group_state = sb(d.state.name());
            dg.protocol_type = sb(d.protocol_type);
            dg.protocol_data = sb(d.protocol);
            dg.members = d
                .members
                .into_iter()
                .map(|m| {
                    let mut dm = DescribedGroupMember::default();
                    dm.member_id = sb(m.member_id);
                    if v >= 4 {
                        dm.group_instance_id = m.group_instance_id.map(sb);
                    }
                    dm.client_id = sb(m.client_id);
                    dm.client_host = sb(m.client_host);
                    dm.member_metadata = m.metadata;
                    dm.member_assignment = m.assignment;
                    dm
                })
                .collect();
            dg
        })
        .collect();
    Some(r)
}
