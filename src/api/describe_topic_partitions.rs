//! DescribeTopicPartitions (key 75, KIP-966): topics and their partitions, a page at a
//! time, as the Java admin client's describeTopics asks for them when the broker
//! offers the key.
//!
//! Semantics follow Kafka's DescribeTopicPartitionsRequestHandler and its metadata
//! cache: the requested topics (every topic when the list is empty) at or after the
//! cursor's topic, deduplicated and sorted by name; at most
//! `max(min(max.request.partition.size.limit, response_partition_limit), 1)`
//! partitions per answer; the cursor's partition index is where its topic starts. When
//! the limit cuts a topic short, `next_cursor` names that topic and the first partition
//! left out; when the limit is used up exactly before a further topic, it names that
//! topic at partition 0. A cursor whose topic is not in a non-empty request list, or
//! whose partition index is negative, is INVALID_REQUEST for every requested topic.
//! Unknown topics get UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an
//! illegal name) when named, and are skipped when every topic was asked for. Nothing
//! is created: unlike Metadata, this API never auto-creates topics.
//!
//! This broker leads every partition; eligible-leader-replica lists are empty, as a
//! Kafka cluster without ELR (or with a single replica) reports them.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use uuid::Uuid;

use super::metadata::ALL_TOPIC_OPERATIONS;
use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::topics::{name as topic_name, Topic, LEADER_EPOCH};

/// Kafka's default for `max.request.partition.size.limit`, used if the setting cannot
/// be read (it is validated at start-up, so this is only a fallback).
const DEFAULT_PARTITION_LIMIT: i32 = 2000;

pub async fn handle(
    request: DescribeTopicPartitionsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeTopicPartitionsResponse> {
    let fetch_all = request.topics.is_empty();
    let cursor_topic: String = request
        .cursor
        .as_ref()
        .map(|c| c.topic_name.to_string())
        .unwrap_or_default();
    // A BTreeSet both deduplicates and gives Kafka's name order (names are ASCII).
    let topics: BTreeSet<String> = if fetch_all {
        broker
            .topics
            .list()
            .iter()
            .map(|t| t.name.to_string())
            .filter(|n| *n >= cursor_topic)
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.to_string())
            .filter(|n| *n >= cursor_topic)
            .collect()
    };
    if let Some(cursor) = &request.cursor {
        let reason = if !fetch_all && !topics.contains(cursor_topic.as_str()) {
            Some(format!(
                "the topic list should contain the cursor topic {cursor_topic}"
            ))
        } else if cursor.partition_index < 0 {
            Some(format!(
                "the cursor partition must be valid: {}",
                cursor.partition_index
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            tracing::info!(
                connection = ctx.connection_id,
                peer = %ctx.peer,
                "DescribeTopicPartitions refused (INVALID_REQUEST): {reason}"
            );
            return Some(invalid_request(&request));
        }
    }
    let configured = broker
        .config
        .broker_value("max.request.partition.size.limit")
        .and_then(|(v, _)| v.parse::<i32>().ok())
        .unwrap_or(DEFAULT_PARTITION_LIMIT);
    let limit = configured.min(request.response_partition_limit).max(1);
    let start_of = |name: &str| match &request.cursor {
        Some(c) if name == cursor_topic => c.partition_index,
        _ => 0,
    };

    let node = broker.config.node_id;
    let mut r = DescribeTopicPartitionsResponse::default();
    let mut remaining = limit;
    for name in topics {
        if remaining == 0 {
            r.next_cursor = Some(cursor(&name, 0));
            break;
        }
        match broker.topics.get(&name) {
            Some(topic) => {
                let (entry, next) = describe(&topic, start_of(&name), remaining, node);
                remaining -= entry.partitions.len() as i32;
                r.topics.push(entry);
                if let Some(next) = next {
                    r.next_cursor = Some(cursor(&name, next));
                    break;
                }
            }
            None if fetch_all => {}
            None => {
                let error = match topic_name::validate(&name) {
                    Ok(()) => ResponseError::UnknownTopicOrPartition,
                    Err(_) => ResponseError::InvalidTopicException,
                };
                let mut t = DescribeTopicPartitionsResponseTopic::default();
                t.error_code = error.code();
                t.is_internal = topic_name::is_internal(&name);
                t.name = Some(TopicName(sb(name)));
                t.topic_id = Uuid::nil();
                t.topic_authorized_operations = ALL_TOPIC_OPERATIONS;
                r.topics.push(t);
            }
        }
    }
    Some(r)
}

/// One topic's partitions from `start`, at most `max` of them, and the index of the
/// first one left out (if any).
fn describe(
    topic: &Topic,
    start: i32,
    max: i32,
    node_id: i32,
) -> (DescribeTopicPartitionsResponseTopic, Option<i32>) {
    let count = topic.partitions.len() as i32;
    let upper = count.min(start.saturating_add(max));
    let next = (upper < count).then_some(upper);
    let node = BrokerId(node_id);
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.name = Some(TopicName(sb(topic.name.to_string())));
    t.topic_id = topic.id;
    t.is_internal = topic.is_internal();
    t.topic_authorized_operations = ALL_TOPIC_OPERATIONS;
    t.partitions = (start..upper)
        .filter_map(|i| topic.partition(i))
        .map(|p| {
            let mut dp = DescribeTopicPartitionsResponsePartition::default();
            dp.partition_index = p.index;
            dp.leader_id = node;
            dp.leader_epoch = LEADER_EPOCH;
            dp.replica_nodes = vec![node];
            dp.isr_nodes = vec![node];
            dp.eligible_leader_replicas = Some(Vec::new());
            dp.last_known_elr = Some(Vec::new());
            if p.is_offline() {
                // As Kafka describes a partition whose only replica's log directory
                // failed: no leader, the replica listed as offline.
                dp.leader_id = BrokerId(-1);
                dp.offline_replicas = vec![node];
            }
            dp
        })
        .collect();
    (t, next)
}

fn cursor(topic: &str, partition_index: i32) -> Cursor {
    let mut c = Cursor::default();
    c.topic_name = TopicName(sb(topic));
    c.partition_index = partition_index;
    c
}

/// Kafka's error answer for the whole request: every requested topic with the error and
/// no partitions.
fn invalid_request(request: &DescribeTopicPartitionsRequest) -> DescribeTopicPartitionsResponse {
    let mut r = DescribeTopicPartitionsResponse::default();
    r.topics = request
        .topics
        .iter()
        .map(|t| {
            let mut e = DescribeTopicPartitionsResponseTopic::default();
            e.error_code = ResponseError::InvalidRequest.code();
            e.name = Some(t.name.clone());
            e
        })
        .collect();
    r
}
