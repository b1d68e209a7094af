//! ConsumerGroupHeartbeat (key 68, KIP-848): join, heartbeat and leave of a consumer
//! group member in one API; the broker answers with the member's epoch and, when it
//! changed, its assignment. v1 (KIP-1082) has the client choose its member id.
//!
//! Checks the request as Kafka's GroupMetadataManager does (INVALID_REQUEST,
//! UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION) and hands the coordinator plain
//! values.

use std::sync::Arc;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::consumer::heartbeat::HeartbeatRequest;
use crate::coordinator::group::consumer::records;
use crate::error::ResponseError;

pub async fn handle(
    request: ConsumerGroupHeartbeatRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ConsumerGroupHeartbeatResponse> {
    let mut r = ConsumerGroupHeartbeatResponse::default();
    if let Err((error, message)) = validate(&request, ctx.api_version, broker) {
        tracing::info!(group = %request.group_id.0, member = %request.member_id, error = ?error, message,
            "invalid ConsumerGroupHeartbeat");
        r.error_code = error.code();
        r.error_message = Some(sb(message));
        return Some(r);
    }
    let owned = request.topic_partitions.as_ref().map(|tps| {
        let mut a = records::Assignment::new();
        for tp in tps {
            a.entry(tp.topic_id)
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
        a
    });
    let req = HeartbeatRequest {
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: request.instance_id.as_ref().map(|s| s.to_string()),
        rack_id: request.rack_id.as_ref().map(|s| s.to_string()),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .as_ref()
            .map(|v| v.iter().map(|t| t.0.to_string()).collect()),
        subscribed_topic_regex: request
            .subscribed_topic_regex
            .as_ref()
            .map(|s| s.to_string()),
        server_assignor: request.server_assignor.as_ref().map(|s| s.to_string()),
        owned,
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    let result = broker
        .groups
        .consumer_group_heartbeat(&request.group_id, req)
        .await;
    if let Some(e) = result.error {
        r.error_code = e.code();
        r.error_message = result.message.map(sb);
        r.member_id = Some(sb(result.member_id)).filter(|m| !m.is_empty());
        r.member_epoch = result.member_epoch;
        return Some(r);
    }
    r.member_id = Some(sb(result.member_id));
    r.member_epoch = result.member_epoch;
    r.heartbeat_interval_ms = result.heartbeat_interval_ms;
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
    Some(r)
}

/// Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
fn validate(
    req: &ConsumerGroupHeartbeatRequest,
    version: i16,
    broker: &Broker,
) -> Result<(), (ResponseError, String)> {
    let invalid = |m: &str| Err((ResponseError::InvalidRequest, m.to_string()));
    if req.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if req.instance_id.as_ref().is_some_and(|s| s.is_empty()) {
        return invalid("InstanceId can't be empty.");
    }
    if req.rack_id.as_ref().is_some_and(|s| s.is_empty()) {
        return invalid("RackId can't be empty.");
    }
    if version >= 1 && req.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    match req.member_epoch {
        e if e > 0 || e == -1 => {
            if req.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
        }
        0 => {
            if req.rebalance_timeout_ms == -1 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if !req.topic_partitions.as_ref().is_some_and(|t| t.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            let names = req
                .subscribed_topic_names
                .as_ref()
                .is_some_and(|n| !n.is_empty());
            let regex = req
                .subscribed_topic_regex
                .as_ref()
                .is_some_and(|r| !r.is_empty());
            if !names && !regex {
                return invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                );
            }
        }
        -2 => {
            if req.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
            if req.instance_id.is_none() {
                return invalid("InstanceId can't be null.");
            }
        }
        _ => return invalid("MemberEpoch is invalid."),
    }
    if let Some(a) = &req.server_assignor {
        if !broker.groups.has_assignor(a) {
            return Err((
                ResponseError::UnsupportedAssignor,
                format!(
                    "ServerAssignor {a} is not supported. Supported assignors: {}.",
                    broker.groups.config().consumer_assignors.join(", ")
                ),
            ));
        }
    }
    if let Some(re) = req
        .subscribed_topic_regex
        .as_ref()
        .filter(|r| !r.is_empty())
    {
        if let Err(e) = regex::Regex::new(re) {
            return Err((
                ResponseError::InvalidRegularExpression,
                format!("SubscribedTopicRegex `{re}` is not a valid regular expression: {e}"),
            ));
        }
    }
    Ok(())
}
