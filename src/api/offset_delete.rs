//! OffsetDelete (key 47): deletes a group's committed offsets for some partitions.
//!
//! Kafka's rules: an unknown group is GROUP_ID_NOT_FOUND; a consumer group may not drop
//! offsets of a topic its members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC); any other
//! non-empty group is NON_EMPTY_GROUP. Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION.

use std::sync::Arc;

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: OffsetDeleteRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<OffsetDeleteResponse> {
    let mut errors: Vec<Vec<Option<ResponseError>>> = Vec::new();
    let mut known = Vec::new();
    let mut slots = Vec::new();
    for (ti, t) in request.topics.iter().enumerate() {
        let topic = broker.topics.get(&t.name);
        let mut row = Vec::new();
        for (pi, p) in t.partitions.iter().enumerate() {
            if topic
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
                .is_none()
            {
                row.push(Some(ResponseError::UnknownTopicOrPartition));
            } else {
                row.push(None);
                known.push((t.name.to_string(), p.partition_index));
                slots.push((ti, pi));
            }
        }
        errors.push(row);
    }
    let mut r = OffsetDeleteResponse::default();
    match broker.groups.delete_offsets(&request.group_id, &known) {
        Err(e) => {
            r.error_code = e.code();
            return Some(r);
        }
        Ok(per_partition) => {
            for ((ti, pi), e) in slots.into_iter().zip(per_partition) {
                errors[ti][pi] = e;
            }
        }
    }
    r.topics = request
        .topics
        .iter()
        .zip(errors)
        .map(|(t, row)| {
            let mut tr = OffsetDeleteResponseTopic::default();
            tr.name = t.name.clone();
            tr.partitions = t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, e)| {
                    let mut pr = OffsetDeleteResponsePartition::default();
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
