//! ShareGroupHeartbeat (key 76, KIP-932): join, heartbeat and leave of a share group
//! member; the answer carries the member epoch and, when it changed, the member's
//! assignment (partitions it may fetch from, which other members may share).
//!
//! Checks the request as Kafka's GroupMetadataManager does (INVALID_REQUEST for a
//! missing member id or subscription) and hands the share coordinator plain values.
//! With the `share.version` feature at 0 it answers UNSUPPORTED_VERSION, as Kafka.

use std::sync::Arc;

use kafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::share::group::Heartbeat;
use crate::error::ResponseError;

pub async fn handle(
    request: ShareGroupHeartbeatRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ShareGroupHeartbeatResponse> {
    let mut r = ShareGroupHeartbeatResponse::default();
    let fail = |r: &mut ShareGroupHeartbeatResponse, e: ResponseError, m: String| {
        tracing::info!(group = %request.group_id.0, member = %request.member_id, error = ?e, message = %m, "ShareGroupHeartbeat refused");
        r.error_code = e.code();
        r.error_message = Some(sb(m));
    };
    if let Some(e) = super::share_request::share_groups_refusal(broker) {
        fail(&mut r, e.error, e.message.unwrap_or_default());
        return Some(r);
    }
    if let Some(m) = invalid(&request) {
        fail(&mut r, ResponseError::InvalidRequest, m.to_string());
        return Some(r);
    }
    let other_kind = broker
        .groups
        .list_groups()
        .iter()
        .any(|g| g.group_id == request.group_id.as_str());
    if other_kind {
        fail(
            &mut r,
            ResponseError::GroupIdNotFound,
            format!("Group {} is not a share group.", request.group_id.0),
        );
        return Some(r);
    }
    let hb = Heartbeat {
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        rack_id: request.rack_id.as_ref().map(|s| s.to_string()),
        subscribed_topic_names: request
            .subscribed_topic_names
            .as_ref()
            .map(|v| v.iter().map(|t| t.0.to_string()).collect()),
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    match broker.share.heartbeat(&request.group_id, hb) {
        Err((e, m)) => fail(&mut r, e, m),
        Ok((result, interval)) => {
            r.member_id = Some(request.member_id.clone());
            r.member_epoch = result.member_epoch;
            r.heartbeat_interval_ms = interval;
            r.assignment = result.assignment.map(|a| {
                let mut out = Assignment::default();
                out.topic_partitions = a
                    .into_iter()
                    .map(|(topic, parts)| {
                        let mut tp = TopicPartitions::default();
                        tp.topic_id = topic;
                        tp.partitions = parts.into_iter().collect();
                        tp
                    })
                    .collect();
                out
            });
        }
    }
    Some(r)
}

/// Kafka's throwIfShareGroupHeartbeatRequestIsInvalid.
fn invalid(req: &ShareGroupHeartbeatRequest) -> Option<&'static str> {
    if req.group_id.is_empty() {
        return Some("GroupId can't be empty.");
    }
    if req.member_id.is_empty() {
        return Some("MemberId can't be empty.");
    }
    if req.rack_id.as_ref().is_some_and(|s| s.is_empty()) {
        return Some("RackId can't be empty.");
    }
    match req.member_epoch {
        0 => {
            if req
                .subscribed_topic_names
                .as_ref()
                .is_none_or(|n| n.is_empty())
            {
                return Some("SubscribedTopicNames must be set in first request.");
            }
        }
        e if e > 0 || e == -1 => {}
        _ => return Some("MemberEpoch is invalid."),
    }
    None
}
