//! OffsetCommit (key 8): a group's committed offsets, with their metadata string.
//!
//! Served from v2 (the codec's lowest; librdkafka needs an overlap with [1,2]). Members
//! commit with their generation; simple consumers commit with generation -1 and no
//! member id, which Kafka accepts while the group has no members. Unknown topics or
//! partitions get UNKNOWN_TOPIC_OR_PARTITION and oversized metadata
//! OFFSET_METADATA_TOO_LARGE, per partition; group-level failures apply to every
//! partition. The answer is sent once the commit is fsync'd.
//! v10 (Kafka 4.2, KIP-848) names topics by id: an id no topic has answers
//! UNKNOWN_TOPIC_ID for each of its partitions, as Kafka does; the answer names topics
//! by the ids they were asked with.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::coordinator::group::records::OffsetAndMetadata;
use crate::error::ResponseError;
use crate::topics::TopicPartition;

pub async fn handle(
    request: OffsetCommitRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<OffsetCommitResponse> {
    let v = ctx.api_version;
    let now = broker.clock.now_ms();
    let expire = (v <= 4 && request.retention_time_ms != -1)
        .then(|| now.saturating_add(request.retention_time_ms));
    // v10 names topics by id; "" (no topic has that name) for an unknown id.
    let names: Vec<String> = request
        .topics
        .iter()
        .map(|t| {
            if v >= 10 {
                broker
                    .topics
                    .get_by_id(&t.topic_id)
                    .map(|topic| topic.name.to_string())
                    .unwrap_or_default()
            } else {
                t.name.to_string()
            }
        })
        .collect();
    let mut plan = CommitPlan::new(
        broker,
        request.topics.iter().zip(&names).map(|(t, name)| {
            let entries = t.partitions.iter().map(|p| CommitEntry {
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if v >= 6 { p.committed_leader_epoch } else { -1 },
                metadata: p.committed_metadata.as_deref(),
            });
            (name.as_str(), entries.collect())
        }),
        now,
        expire,
    );
    let commits = std::mem::take(&mut plan.commits);
    let instance = request.group_instance_id.as_deref().filter(|_| v >= 7);
    let result = broker
        .groups
        .commit_offsets(
            &request.group_id,
            &request.member_id,
            instance,
            request.generation_id_or_member_epoch,
            commits,
            v,
        )
        .await;
    if let Err(e) = result {
        plan.fail_valid(e);
    }
    for (row, name) in plan.errors.iter_mut().zip(&names) {
        if name.is_empty() && v >= 10 {
            row.fill(Some(ResponseError::UnknownTopicId));
        }
    }
    let mut r = OffsetCommitResponse::default();
    r.topics = request
        .topics
        .iter()
        .zip(plan.errors)
        .map(|(t, row)| {
            let mut tr = OffsetCommitResponseTopic::default();
            tr.name = t.name.clone();
            tr.topic_id = t.topic_id;
            tr.partitions = t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, e)| {
                    let mut pr = OffsetCommitResponsePartition::default();
                    pr.partition_index = p.partition_index;
                    pr.error_code = e.map(|e| e.code()).unwrap_or(0);
                    pr
                })
                .collect();
            tr
        })
        .collect();
    Some(r)
}

/// One partition of an OffsetCommit or TxnOffsetCommit, reduced to what both check.
pub(super) struct CommitEntry<'a> {
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<&'a str>,
}

/// The per-partition checks OffsetCommit and TxnOffsetCommit share, as Kafka makes
/// them: the partition must exist (UNKNOWN_TOPIC_OR_PARTITION) and the metadata must
/// fit `offset.metadata.max.bytes` (OFFSET_METADATA_TOO_LARGE). Partitions that pass
/// become `commits`; a group-level failure of the commit is then applied to them.
pub(super) struct CommitPlan {
    /// One row per request topic, one entry per partition, in request order.
    pub errors: Vec<Vec<Option<ResponseError>>>,
    pub commits: Vec<(TopicPartition, OffsetAndMetadata)>,
    /// (topic index, partition index) of every partition in `commits`.
    valid: Vec<(usize, usize)>,
}

impl CommitPlan {
    pub(super) fn new<'a>(
        broker: &Broker,
        topics: impl Iterator<Item = (&'a str, Vec<CommitEntry<'a>>)>,
        now: i64,
        expire_timestamp: Option<i64>,
    ) -> CommitPlan {
        let max_metadata = broker.groups.config().offset_metadata_max_bytes;
        let mut plan = CommitPlan {
            errors: Vec::new(),
            commits: Vec::new(),
            valid: Vec::new(),
        };
        for (ti, (name, entries)) in topics.enumerate() {
            let topic = broker.topics.get(name);
            let mut row = Vec::with_capacity(entries.len());
            for (pi, e) in entries.into_iter().enumerate() {
                let metadata = e.metadata.unwrap_or_default();
                if topic
                    .as_ref()
                    .and_then(|t| t.partition(e.partition))
                    .is_none()
                {
                    row.push(Some(ResponseError::UnknownTopicOrPartition));
                } else if metadata.len() > max_metadata {
                    row.push(Some(ResponseError::OffsetMetadataTooLarge));
                } else {
                    row.push(None);
                    plan.valid.push((ti, pi));
                    plan.commits.push((
                        (name.to_string(), e.partition),
                        OffsetAndMetadata {
                            offset: e.offset,
                            leader_epoch: e.leader_epoch,
                            metadata: metadata.to_string(),
                            commit_timestamp: now,
                            expire_timestamp,
                        },
                    ));
                }
            }
            plan.errors.push(row);
        }
        plan
    }

    /// Applies the commit's own failure to every partition that passed the checks.
    pub(super) fn fail_valid(&mut self, error: ResponseError) {
        for &(ti, pi) in &self.valid {
            self.errors[ti][pi] = Some(error);
        }
    }
}
