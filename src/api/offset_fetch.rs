//! OffsetFetch (key 9): committed offsets of one group (v1-v7) or several (v8+).
//!
//! A group or partition without a commit answers offset -1 with empty metadata, not an
//! error. Null topics (v2+) mean every partition the group has a commit for.
//! With require_stable (v7+), a partition whose offset is held by an undecided
//! transaction answers UNSTABLE_OFFSET_COMMIT (the client retries), as in Kafka.
//! v9+ carry the member id and epoch of a KIP-848 consumer group member, checked as
//! Kafka checks them (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH as the group's error).
//! v10 (Kafka 4.2, KIP-848) names topics by id: an id no topic has answers
//! UNKNOWN_TOPIC_ID for each asked partition; with null topics, the commits of topics
//! that no longer exist (no id to name them by) are left out, as Kafka leaves them out.

use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::records::OffsetAndMetadata;
use crate::error::ResponseError;
use crate::topics::TopicPartition;

type Fetched = Vec<(TopicPartition, Option<OffsetAndMetadata>)>;
/// Partitions of one topic with their commits.
type ByTopic = Vec<(String, Vec<(i32, Option<OffsetAndMetadata>)>)>;

pub async fn handle(
    request: OffsetFetchRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<OffsetFetchResponse> {
    let v = ctx.api_version;
    let mut r = OffsetFetchResponse::default();
    if v >= 8 {
        r.groups = request
            .groups
            .iter()
            .map(|g| {
                // v10: (topic id, partitions) of every id no topic has.
                let mut unknown_ids = Vec::new();
                let wanted: Option<Vec<TopicPartition>> = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .filter_map(|t| {
                            if v < 10 {
                                return Some((t.name.to_string(), &t.partition_indexes));
                            }
                            match broker.topics.get_by_id(&t.topic_id) {
                                Some(topic) => Some((topic.name.to_string(), &t.partition_indexes)),
                                None => {
                                    unknown_ids.push((t.topic_id, t.partition_indexes.clone()));
                                    None
                                }
                            }
                        })
                        .flat_map(|(name, ps)| ps.iter().map(move |p| (name.clone(), *p)))
                        .collect()
                });
                let mut gr = OffsetFetchResponseGroup::default();
                gr.group_id = g.group_id.clone();
                if v >= 9 {
                    let member = g.member_id.as_deref();
                    if let Err(e) =
                        broker
                            .groups
                            .validate_offset_fetch(&g.group_id, member, g.member_epoch)
                    {
                        gr.error_code = e.code();
                        return gr;
                    }
                }
                let fetched = broker.groups.fetch_offsets(&g.group_id, wanted.as_deref());
                gr.topics = by_topic(fetched)
                    .into_iter()
                    .filter_map(|(name, parts)| {
                        let mut tr = OffsetFetchResponseTopics::default();
                        if v >= 10 {
                            tr.topic_id = broker.topics.get(&name)?.id;
                        }
                        tr.name = TopicName(sb(name.clone()));
                        tr.partitions = parts
                            .into_iter()
                            .map(|(p, o)| {
                                let mut pr = OffsetFetchResponsePartitions::default();
                                pr.partition_index = p;
                                let (offset, epoch, metadata) = values(o);
                                pr.committed_offset = offset;
                                pr.committed_leader_epoch = epoch;
                                pr.metadata = Some(sb(metadata));
                                if unstable(broker, request.require_stable, &g.group_id, &name, p) {
                                    pr.error_code = ResponseError::UnstableOffsetCommit.code();
                                    pr.committed_offset = -1;
                                }
                                pr
                            })
                            .collect();
                        Some(tr)
                    })
                    .collect();
                for (topic_id, partitions) in unknown_ids {
                    let mut tr = OffsetFetchResponseTopics::default();
                    tr.topic_id = topic_id;
                    tr.partitions = partitions
                        .into_iter()
                        .map(|p| {
                            let mut pr = OffsetFetchResponsePartitions::default();
                            pr.partition_index = p;
                            pr.committed_offset = -1;
                            pr.committed_leader_epoch = -1;
                            pr.metadata = Some(sb(""));
                            pr.error_code = ResponseError::UnknownTopicId.code();
                            pr
                        })
                        .collect();
                    gr.topics.push(tr);
                }
                gr
            })
            .collect();
        return Some(r);
    }
    let wanted: Option<Vec<TopicPartition>> = request.topics.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|t| t.partition_indexes.iter().map(|p| (t.name.to_string(), *p)))
            .collect()
    });
    let fetched = broker
        .groups
        .fetch_offsets(&request.group_id, wanted.as_deref());
    r.topics = by_topic(fetched)
        .into_iter()
        .map(|(name, parts)| {
            let mut tr = OffsetFetchResponseTopic::default();
            tr.name = TopicName(sb(name.clone()));
            tr.partitions = parts
                .into_iter()
                .map(|(p, o)| {
                    let mut pr = OffsetFetchResponsePartition::default();
                    pr.partition_index = p;
                    let (offset, epoch, metadata) = values(o);
                    pr.committed_offset = offset;
                    if v >= 5 {
                        pr.committed_leader_epoch = epoch;
                    }
                    pr.metadata = Some(sb(metadata));
                    let stable = v >= 7 && request.require_stable;
                    if unstable(broker, stable, &request.group_id, &name, p) {
                        pr.error_code = ResponseError::UnstableOffsetCommit.code();
                        pr.committed_offset = -1;
                    }
                    pr
                })
                .collect();
            tr
        })
        .collect();
    Some(r)
}

/// require_stable (v7+): a partition with a transactional commit waiting for its
/// marker answers UNSTABLE_OFFSET_COMMIT, and the client retries (KIP-447).
fn unstable(broker: &Broker, require_stable: bool, group: &str, topic: &str, p: i32) -> bool {
    require_stable
        && broker
            .groups
            .has_unstable_offset(group, &(topic.to_string(), p))
}

/// Groups partitions by topic, keeping the order topics first appear in.
fn by_topic(fetched: Fetched) -> ByTopic {
    let mut out: ByTopic = Vec::new();
    for ((topic, partition), o) in fetched {
        match out.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, parts)) => parts.push((partition, o)),
            None => out.push((topic, vec![(partition, o)])),
        }
    }
    out
}

/// (offset, leader epoch, metadata); -1, -1, "" without a commit, as Kafka answers.
fn values(o: Option<OffsetAndMetadata>) -> (i64, i32, String) {
    match o {
        Some(o) => (o.offset, o.leader_epoch, o.metadata),
        None => (-1, -1, String::new()),
    }
}
