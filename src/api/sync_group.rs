//! SyncGroup (key 14): the leader sends the assignment it computed; every member waits
//! for its own share. v5 names the protocol type and name, which must match the group.
//!
//! The leader's answer is sent once the assignment is durable in `__consumer_offsets`.
//! Semantics live in `crate::coordinator`; this file only translates.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::membership::SyncRequest;

pub async fn handle(
    request: SyncGroupRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<SyncGroupResponse> {
    let v = ctx.api_version;
    let req = SyncRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: request
            .group_instance_id
            .as_ref()
            .map(|s| s.to_string())
            .filter(|_| v >= 3),
        generation_id: request.generation_id,
        protocol_type: request
            .protocol_type
            .as_ref()
            .map(|s| s.to_string())
            .filter(|_| v >= 5),
        protocol_name: request
            .protocol_name
            .as_ref()
            .map(|s| s.to_string())
            .filter(|_| v >= 5),
        assignments: request
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect::<HashMap<_, _>>(),
    };
    let result = broker.groups.sync_group(&request.group_id, req).await;
    let mut r = SyncGroupResponse::default();
    r.error_code = result.error.map(|e| e.code()).unwrap_or(0);
    r.assignment = result.assignment;
    if v >= 5 {
        r.protocol_type = result.protocol_type.map(sb);
        r.protocol_name = result.protocol_name.map(sb);
    }
    Some(r)
}
