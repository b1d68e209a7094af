//! OffsetCommit (key 8): a group's committed offsets, with their metadata string.
//!
//! Served from v2 (the codec's lowest; librdkafka needs an overlap with [1,2]). Members
//! commit with their generation; simple consumers commit with generation -1 and no
//! member id, which Kafka accepts while the group has no members. Unknown topics or
//! partitions get UNKNOWN_TOPIC_OR_PARTITION and oversized metadata
//! OFFSET_METADATA_TOO_LARGE, per partition; group-level failures apply to every
//! partition. The answer is sent once the commit is fsync'd.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::RequestContext;
use crate::broker::{now_ms, Broker};
use crate::coordinator::group::records::OffsetAndMetadata;
use crate::error::ResponseError;

pub async fn handle(
    request: OffsetCommitRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<OffsetCommitResponse> {
    let v = ctx.api_version;
    let now = now_ms();
    let max_metadata = broker.groups.config().offset_metadata_max_bytes;
    let expire = (v <= 4 && request.retention_time_ms != -1)
        .then(|| now.saturating_add(request.retention_time_ms));
    // (topic index, partition index) -> error, filled in below.
    let mut errors: Vec<Vec<Option<ResponseError>>> = Vec::new();
    let mut commits = Vec::new();
    let mut valid = Vec::new();
    for (ti, t) in request.topics.iter().enumerate() {
        let topic = broker.topics.get(&t.name);
        let mut row = Vec::new();
        for (pi, p) in t.partitions.iter().enumerate() {
            let metadata = p
                .committed_metadata
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default();
            if topic
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
                .is_none()
            {
                row.push(Some(ResponseError::UnknownTopicOrPartition));
            } else if metadata.len() > max_metadata {
                row.push(Some(ResponseError::OffsetMetadataTooLarge));
            } else {
                row.push(None);
                valid.push((ti, pi));
                commits.push((
                    (t.name.to_string(), p.partition_index),
                    OffsetAndMetadata {
                        offset: p.committed_offset,
                        leader_epoch: if v >= 6 { p.committed_leader_epoch } else { -1 },
                        metadata,
                        commit_timestamp: now,
                        expire_timestamp: expire,
                    },
                ));
            }
        }
        errors.push(row);
    }
    let instance = request.group_instance_id.as_deref().filter(|_| v >= 7);
    let result = broker
        .groups
        .commit_offsets(
            &broker.topics,
            &request.group_id,
            &request.member_id,
            instance,
            request.generation_id_or_member_epoch,
            commits,
            v,
        )
        .await;
    if let Err(e) = result {
        for (ti, pi) in valid {
            errors[ti][pi] = Some(e);
        }
    }
    let mut r = OffsetCommitResponse::default();
    r.topics = request
        .topics
        .iter()
        .zip(errors)
        .map(|(t, row)| {
            let mut tr = OffsetCommitResponseTopic::default();
            tr.name = t.name.clone();
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
