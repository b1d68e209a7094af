//! Heartbeat (key 12): keeps a member's session alive and tells it when the group is
//! rebalancing (REBALANCE_IN_PROGRESS). v3+ carry group.instance.id.

use std::sync::Arc;

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::RequestContext;
use crate::broker::Broker;

pub async fn handle(
    request: HeartbeatRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<HeartbeatResponse> {
    let instance = request
        .group_instance_id
        .as_deref()
        .filter(|_| ctx.api_version >= 3);
    let error = broker.groups.heartbeat(
        &request.group_id,
        &request.member_id,
        instance,
        request.generation_id,
    );
    let mut r = HeartbeatResponse::default();
    r.error_code = error.map(|e| e.code()).unwrap_or(0);
    Some(r)
}
