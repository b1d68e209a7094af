//! `/api/groups*` and `/api/transactions`: groups through ListGroups (v5: with their
//! type, classic, consumer or share, and a type filter), consumer groups through
//! DescribeGroups, OffsetFetch and OffsetCommit (the offset reset), and transactions
//! through ListTransactions, DescribeTransactions and DescribeProducers.
//!
//! Lag is what kafka-consumer-groups.sh shows: the partition's high watermark minus
//! the committed offset, for partitions the group committed. An offset reset is an
//! OffsetCommit with generation -1 and no member, as Kafka's admin client sends it,
//! so the coordinator refuses it for a group that has members, with Kafka's error.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use bytes::Buf;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;
use kafka_protocol::ResponseError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::messages::offset_for_timestamp;
use super::{call, no_answer, ok, ApiError, ApiResult, S};
use crate::api::sb;
use crate::broker::Broker;

/// The most groups, transactions and held-back partitions one answer lists.
const MAX_LISTED: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only groups of this type (ListGroups v5's types filter).
    #[serde(rename = "type")]
    group_type: Option<String>,
}

/// The group types ListGroups v5 knows.
const GROUP_TYPES: &[&str] = &["classic", "consumer", "share"];

pub async fn list(State(state): State<S>, ApiQuery(query): ApiQuery<ListQuery>) -> ApiResult {
    let broker = state.broker()?;
    let mut request = ListGroupsRequest::default();
    if let Some(t) = &query.group_type {
        let t = t.to_ascii_lowercase();
        if !GROUP_TYPES.contains(&t.as_str()) {
            return Err(ApiError::bad(format!(
                "type must be one of {}, not {t}",
                GROUP_TYPES.join(", ")
            )));
        }
        request.types_filter = vec![sb(t)];
    }
    let r = call!(ListGroups, request, 5, broker).ok_or_else(|| no_answer("ListGroups"))?;
    ApiError::check(r.error_code, None)?;
    let mut groups: Vec<Value> = r
        .groups
        .iter()
        .take(MAX_LISTED)
        .map(|g| {
            json!({
                "group_id": g.group_id.as_str(),
                "protocol_type": g.protocol_type.as_str(),
                "state": g.group_state.as_str(),
                "type": g.group_type.as_str(),
            })
        })
        .collect();
    groups.sort_by(|a, b| a["group_id"].as_str().cmp(&b["group_id"].as_str()));
    ok(json!({ "groups": groups }))
}

async fn describe(
    broker: &Arc<Broker>,
    group: &str,
) -> Result<describe_groups_response::DescribedGroup, ApiError> {
    let mut request = DescribeGroupsRequest::default();
    request.groups = vec![GroupId(sb(group))];
    let r = call!(DescribeGroups, request, 5, broker).ok_or_else(|| no_answer("DescribeGroups"))?;
    let g = r
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| no_answer("DescribeGroups"))?;
    ApiError::check(g.error_code, g.error_message.as_ref())?;
    Ok(g)
}

/// The group's committed offsets: (topic, partition) -> offset.
async fn committed(
    broker: &Arc<Broker>,
    group: &str,
) -> Result<BTreeMap<(String, i32), i64>, ApiError> {
    let mut g = OffsetFetchRequestGroup::default();
    g.group_id = GroupId(sb(group));
    g.member_epoch = -1;
    g.topics = None;
    let mut request = OffsetFetchRequest::default();
    request.groups = vec![g];
    let r = call!(OffsetFetch, request, 8, broker).ok_or_else(|| no_answer("OffsetFetch"))?;
    let g = r.groups.first().ok_or_else(|| no_answer("OffsetFetch"))?;
    ApiError::check(g.error_code, None)?;
    let mut out = BTreeMap::new();
    for t in &g.topics {
        for p in &t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.insert((t.name.to_string(), p.partition_index), p.committed_offset);
            }
        }
    }
    Ok(out)
}

/// The partitions a consumer member was assigned, from its classic assignment bytes.
fn assignment(bytes: &bytes::Bytes) -> Vec<Value> {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Vec::new();
    }
    let version = buf.get_i16();
    match ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)) {
        Ok(a) => a
            .assigned_partitions
            .iter()
            .map(|tp| json!({"topic": tp.topic.as_str(), "partitions": tp.partitions}))
            .collect(),
        Err(_) => Vec::new(),
    }
}

pub async fn detail(State(state): State<S>, ApiPath(group): ApiPath<String>) -> ApiResult {
    let broker = state.broker()?;
    let g = describe(broker, &group).await?;
    let offsets = committed(broker, &group).await?;
    if g.group_state.as_str() == "Dead" && offsets.is_empty() {
        return Err(ApiError::kafka(
            ResponseError::GroupIdNotFound.code(),
            Some(format!("no group {group}")),
        ));
    }
    let consumer = g.protocol_type.as_str() == "consumer";
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id.as_str(),
                "group_instance_id": m.group_instance_id.as_ref().map(|s| s.as_str()),
                "client_id": m.client_id.as_str(),
                "client_host": m.client_host.as_str(),
                "assignments": if consumer { assignment(&m.member_assignment) } else { Vec::new() },
            })
        })
        .collect();
    let mut lag_sum = 0i64;
    let partitions: Vec<Value> = offsets
        .iter()
        .map(|((topic, partition), committed)| {
            let hw = broker.topics.get(topic).and_then(|t| {
                t.partition(*partition)
                    .map(|p| p.watermarks().high_watermark)
            });
            let lag = hw.map(|hw| (hw - committed).max(0));
            lag_sum += lag.unwrap_or(0);
            json!({
                "topic": topic,
                "partition": partition,
                "committed_offset": committed,
                "high_watermark": hw,
                "lag": lag,
            })
        })
        .collect();
    ok(json!({
        "group_id": group,
        "state": g.group_state.as_str(),
        "protocol_type": g.protocol_type.as_str(),
        "protocol": g.protocol_data.as_str(),
        "members": members,
        "offsets": partitions,
        "lag_sum": lag_sum,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// `earliest`, `latest` or `timestamp`.
    to: String,
    timestamp: Option<i64>,
    /// Only this topic's partitions (all of them); by default every committed one.
    topic: Option<String>,
}

pub async fn reset_offsets(
    State(state): State<S>,
    ApiPath(group): ApiPath<String>,
    ApiJson(body): ApiJson<ResetBody>,
) -> ApiResult {
    let broker = state.broker()?;
    match (body.to.as_str(), body.timestamp) {
        ("earliest" | "latest", None) => {}
        ("timestamp", Some(ts)) if ts >= 0 => {}
        ("timestamp", _) => return Err(ApiError::bad("to=timestamp needs a timestamp >= 0")),
        ("earliest" | "latest", Some(_)) => {
            return Err(ApiError::bad("a timestamp goes only with to=timestamp"))
        }
        (other, _) => {
            return Err(ApiError::bad(format!(
                "to must be earliest, latest or timestamp, not {other}"
            )))
        }
    }
    let mut targets: Vec<(String, i32)> = match &body.topic {
        Some(topic) => {
            let t = broker.topics.get(topic).ok_or_else(|| {
                ApiError::kafka(
                    ResponseError::UnknownTopicOrPartition.code(),
                    Some(format!("no topic {topic}")),
                )
            })?;
            t.partitions
                .iter()
                .map(|p| (topic.clone(), p.index))
                .collect()
        }
        None => committed(broker, &group).await?.into_keys().collect(),
    };
    targets.retain(|(t, p)| {
        broker
            .topics
            .get(t)
            .is_some_and(|t| t.partition(*p).is_some())
    });
    if targets.is_empty() {
        return Err(ApiError::bad(
            "nothing to reset: the group committed no offsets (give a topic)",
        ));
    }
    let mut by_topic: BTreeMap<String, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    let mut planned = Vec::new();
    for (topic, partition) in &targets {
        let t = broker.topics.get(topic).expect("retained");
        let marks = t.partition(*partition).expect("retained").watermarks();
        let offset = match (body.to.as_str(), body.timestamp) {
            ("earliest", _) => marks.log_start_offset,
            ("latest", _) => marks.high_watermark,
            (_, Some(ts)) => {
                let o = offset_for_timestamp(broker, topic, *partition, ts).await?;
                if o < 0 {
                    marks.high_watermark
                } else {
                    o
                }
            }
            _ => unreachable!("checked above"),
        };
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = *partition;
        p.committed_offset = offset;
        p.committed_leader_epoch = -1;
        by_topic.entry(topic.clone()).or_default().push(p);
        planned.push(json!({"topic": topic, "partition": partition, "offset": offset}));
    }
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(sb(group.clone()));
    request.generation_id_or_member_epoch = -1;
    request.member_id = sb("");
    request.retention_time_ms = -1;
    request.topics = by_topic
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = OffsetCommitRequestTopic::default();
            t.name = TopicName(sb(name));
            t.partitions = partitions;
            t
        })
        .collect();
    let r = call!(OffsetCommit, request, 8, broker).ok_or_else(|| no_answer("OffsetCommit"))?;
    for t in &r.topics {
        for p in &t.partitions {
            ApiError::check(p.error_code, None)?;
        }
    }
    ok(json!({"group_id": group, "offsets": planned}))
}

pub async fn transactions(State(state): State<S>) -> ApiResult {
    let broker = state.broker()?;
    let listed = call!(
        ListTransactions,
        ListTransactionsRequest::default(),
        1,
        broker
    )
    .ok_or_else(|| no_answer("ListTransactions"))?;
    ApiError::check(listed.error_code, None)?;
    let mut request = DescribeTransactionsRequest::default();
    request.transactional_ids = listed
        .transaction_states
        .iter()
        .take(MAX_LISTED)
        .map(|t| t.transactional_id.clone())
        .collect();
    let described = if request.transactional_ids.is_empty() {
        Vec::new()
    } else {
        call!(DescribeTransactions, request, 0, broker)
            .ok_or_else(|| no_answer("DescribeTransactions"))?
            .transaction_states
    };
    let transactions: Vec<Value> = described
        .iter()
        .filter(|t| t.error_code == 0)
        .map(|t| {
            json!({
                "transactional_id": t.transactional_id.as_str(),
                "state": t.transaction_state.as_str(),
                "producer_id": t.producer_id.0,
                "producer_epoch": t.producer_epoch,
                "timeout_ms": t.transaction_timeout_ms,
                "start_time_ms": t.transaction_start_time_ms,
                "partitions": t.topics.iter().map(|tp| json!({"topic": tp.topic.as_str(), "partitions": tp.partitions})).collect::<Vec<_>>(),
            })
        })
        .collect();
    // Partitions whose last stable offset trails the high watermark: an open
    // transaction holds read_committed consumers back there.
    let mut held = Vec::new();
    let mut ask: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for t in broker.topics.list() {
        for p in &t.partitions {
            let m = p.watermarks();
            if m.last_stable_offset < m.high_watermark && held.len() < MAX_LISTED {
                held.push((
                    t.name.to_string(),
                    p.index,
                    m.high_watermark,
                    m.last_stable_offset,
                ));
                ask.entry(t.name.to_string()).or_default().push(p.index);
            }
        }
    }
    let mut producers: BTreeMap<(String, i32), Vec<Value>> = BTreeMap::new();
    if !ask.is_empty() {
        let mut request = DescribeProducersRequest::default();
        request.topics = ask
            .into_iter()
            .map(|(name, partitions)| {
                let mut t = TopicRequest::default();
                t.name = TopicName(sb(name));
                t.partition_indexes = partitions;
                t
            })
            .collect();
        let r = call!(DescribeProducers, request, 0, broker)
            .ok_or_else(|| no_answer("DescribeProducers"))?;
        for t in &r.topics {
            for p in &t.partitions {
                let list = p
                    .active_producers
                    .iter()
                    .filter(|s| s.current_txn_start_offset >= 0)
                    .map(|s| {
                        json!({
                            "producer_id": s.producer_id.0,
                            "producer_epoch": s.producer_epoch,
                            "current_txn_start_offset": s.current_txn_start_offset,
                            "last_timestamp": s.last_timestamp,
                        })
                    })
                    .collect();
                producers.insert((t.name.to_string(), p.partition_index), list);
            }
        }
    }
    let held: Vec<Value> = held
        .into_iter()
        .map(|(topic, partition, hw, lso)| {
            let open = producers
                .remove(&(topic.clone(), partition))
                .unwrap_or_default();
            json!({
                "topic": topic,
                "partition": partition,
                "high_watermark": hw,
                "last_stable_offset": lso,
                "held_back": hw - lso,
                "open_transactions": open,
            })
        })
        .collect();
    ok(json!({"transactions": transactions, "held_back_partitions": held}))
}
