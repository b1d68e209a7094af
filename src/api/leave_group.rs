//! LeaveGroup (key 13): members leave a group, which then rebalances. v0-v2 name one
//! member; v3+ a batch of (member id, group.instance.id) with an error per member
//! (KIP-345: an empty member id with an instance id removes that static member).

use std::sync::Arc;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;

pub async fn handle(
    request: LeaveGroupRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<LeaveGroupResponse> {
    let v = ctx.api_version;
    let leaving: Vec<(String, Option<String>)> = if v >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let result = broker.groups.leave_group(&request.group_id, &leaving);
    let mut r = LeaveGroupResponse::default();
    match result {
        Err(e) => r.error_code = e.code(),
        Ok(errors) if v >= 3 => {
            r.members = leaving
                .into_iter()
                .zip(errors)
                .map(|((member_id, instance), e)| {
                    let mut m = MemberResponse::default();
                    m.member_id = sb(member_id);
                    m.group_instance_id = instance.map(sb);
                    m.error_code = e.map(|e| e.code()).unwrap_or(0);
                    m
                })
                .collect();
        }
        Ok(errors) => r.error_code = errors[0].map(|e| e.code()).unwrap_or(0),
    }
    Some(r)
}
