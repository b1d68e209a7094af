//! `/api/share-groups/{group}`: a KIP-932 share group through ShareGroupDescribe (state,
//! epochs, members and their assignments) and DescribeShareGroupOffsets v1 (each
//! share-partition's start offset and lag).
//!
//! The lag is the one DescribeShareGroupOffsets v1 answers (KIP-1226): the partition's
//! end offset minus the start offset minus the records past the start whose delivery is
//! complete; null where the share-partition is not initialized. The end offset shown
//! beside it is the partition's high watermark. Everything goes through the Kafka API
//! handlers as the request's principal, except what is in flight in each
//! share-partition (records acquired, with their holder and lock, and the delivery
//! counts of the rest), which no Kafka API carries: it is read from the share
//! coordinator in process, and only after ShareGroupDescribe answered the principal,
//! so only a caller allowed to describe the group sees it.

use axum::extract::State;
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::*;
use serde_json::{json, Value};

use super::extract::ApiPath;
use super::limits::MAX_IN_FLIGHT_RUNS;
use super::{call, no_answer, ok, ApiError, ApiResult, S};
use crate::api::sb;

pub async fn detail(State(state): State<S>, ApiPath(group): ApiPath<String>) -> ApiResult {
    let broker = state.broker()?;
    let mut request = ShareGroupDescribeRequest::default();
    request.group_ids = vec![GroupId(sb(group.clone()))];
    let r = call!(ShareGroupDescribe, request, 1, broker)
        .ok_or_else(|| no_answer("ShareGroupDescribe"))?;
    let g = r
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| no_answer("ShareGroupDescribe"))?;
    ApiError::check(g.error_code, g.error_message.as_ref())?;
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id.as_str(),
                "member_epoch": m.member_epoch,
                "client_id": m.client_id.as_str(),
                "client_host": m.client_host.as_str(),
                "rack_id": m.rack_id.as_ref().map(|s| s.as_str()),
                "subscribed_topics": m.subscribed_topic_names.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "assignments": m.assignment.topic_partitions.iter()
                    .map(|tp| json!({"topic": tp.topic_name.as_str(), "partitions": tp.partitions}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();

    let mut offsets_group = DescribeShareGroupOffsetsRequestGroup::default();
    offsets_group.group_id = GroupId(sb(group.clone()));
    offsets_group.topics = None;
    let mut request = DescribeShareGroupOffsetsRequest::default();
    request.groups = vec![offsets_group];
    let r = call!(DescribeShareGroupOffsets, request, 1, broker)
        .ok_or_else(|| no_answer("DescribeShareGroupOffsets"))?;
    let og = r
        .response
        .groups
        .first()
        .ok_or_else(|| no_answer("DescribeShareGroupOffsets"))?;
    ApiError::check(og.error_code, og.error_message.as_ref())?;
    let mut lag_sum = 0i64;
    let mut partitions = Vec::new();
    for t in &og.topics {
        for p in &t.partitions {
            if p.error_code != 0 {
                continue;
            }
            let end = broker.topics.get(&t.topic_name).and_then(|topic| {
                topic
                    .partition(p.partition_index)
                    .map(|p| p.watermarks().high_watermark)
            });
            let lag = r
                .lags
                .get(&(group.clone(), t.topic_id, p.partition_index))
                .copied()
                .filter(|l| *l >= 0);
            lag_sum += lag.unwrap_or(0);
            partitions.push(json!({
                "topic": t.topic_name.as_str(),
                "partition": p.partition_index,
                "start_offset": (p.start_offset >= 0).then_some(p.start_offset),
                "end_offset": end,
                "lag": lag,
            }));
        }
    }
    let in_flight = broker
        .share
        .in_flight(&group, MAX_IN_FLIGHT_RUNS)
        .unwrap_or_default();
    for p in &mut partitions {
        let topic = broker.topics.get(p["topic"].as_str().unwrap_or_default());
        let found = topic.and_then(|t| {
            let index = p["partition"].as_i64()?;
            in_flight
                .iter()
                .find(|f| f.topic_id == t.id && i64::from(f.partition) == index)
        });
        p["in_flight"] = found.map(in_flight_json).unwrap_or(Value::Null);
    }
    partitions.sort_by(|a, b| {
        (a["topic"].as_str(), a["partition"].as_i64())
            .cmp(&(b["topic"].as_str(), b["partition"].as_i64()))
    });
    ok(json!({
        "group_id": group,
        "type": "share",
        "state": g.group_state.as_str(),
        "group_epoch": g.group_epoch,
        "assignment_epoch": g.assignment_epoch,
        "assignor": g.assignor_name.as_str(),
        "members": members,
        "offsets": partitions,
        "lag_sum": lag_sum,
    }))
}

/// One share-partition's in-flight records: counts by state, then the runs.
fn in_flight_json(p: &crate::coordinator::share::admin::InFlightPartition) -> Value {
    let runs: Vec<Value> = p
        .runs
        .iter()
        .map(|r| {
            json!({
                "first_offset": r.first_offset,
                "last_offset": r.last_offset,
                "state": r.state.name(),
                "delivery_count": r.delivery_count,
                "member_id": r.member,
                "lock_remaining_ms": r.member.as_ref().map(|_| (r.lock_deadline_ms - p.now_ms).max(0)),
            })
        })
        .collect();
    json!({
        "end_offset": p.end_offset,
        "records": p.records_by_state,
        "runs": runs,
        "truncated": p.truncated,
    })
}
