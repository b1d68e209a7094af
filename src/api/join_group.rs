//! JoinGroup (key 11): a member joins (or rejoins) a classic group and waits until the
//! rebalance completes; the leader's answer lists every member's metadata.
//!
//! v4+ first joins without a member id get MEMBER_ID_REQUIRED and an id (KIP-394); v5+
//! carry group.instance.id (static membership, KIP-345). The semantics live in
//! `crate::coordinator`; this file only translates, and sets only fields the answer's
//! version has.

use std::sync::Arc;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::membership::JoinRequest;

pub async fn handle(
    request: JoinGroupRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<JoinGroupResponse> {
    let v = ctx.api_version;
    let req = JoinRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: request
            .group_instance_id
            .as_ref()
            .map(|s| s.to_string())
            .filter(|_| v >= 5),
        require_known_member_id: v >= 4,
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if v >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        },
        session_timeout_ms: request.session_timeout_ms,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
    };
    let result = broker.groups.join_group(&request.group_id, req).await;
    let mut r = JoinGroupResponse::default();
    r.error_code = result.error.map(|e| e.code()).unwrap_or(0);
    r.generation_id = result.generation_id;
    if v >= 7 {
        r.protocol_type = result.protocol_type.map(sb);
        r.protocol_name = result.protocol_name.map(sb);
    } else {
        r.protocol_name = Some(sb(result.protocol_name.unwrap_or_default()));
    }
    r.leader = sb(result.leader_id);
    r.member_id = sb(result.member_id);
    r.members = result
        .members
        .into_iter()
        .map(|m| {
            let mut jm = JoinGroupResponseMember::default();
            jm.member_id = sb(m.member_id);
            if v >= 5 {
                jm.group_instance_id = m.group_instance_id.map(sb);
            }
            jm.metadata = m.metadata;
            jm
        })
        .collect();
    Some(r)
}
