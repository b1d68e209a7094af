//! OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, which consumers use
//! to validate their position after a leader change (KIP-320).
//!
//! Sluice has one permanent leader epoch (0) starting at offset 0, so epoch 0 ends at
//! the log end offset, and any other epoch is unknown to this log (answered with
//! UNDEFINED epoch and offset -1, as Kafka does for an epoch it has no record of).

use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::topics::check_current_leader_epoch;
use crate::topics::LEADER_EPOCH;

pub async fn handle(
    request: OffsetForLeaderEpochRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<OffsetForLeaderEpochResponse> {
    let mut r = OffsetForLeaderEpochResponse::default();
    for t in request.topics {
        let topic = broker.topics.get(&t.topic);
        let mut tr = OffsetForLeaderTopicResult::default();
        tr.topic = t.topic.clone();
        for p in t.partitions {
            let mut e = EpochEndOffset::default();
            e.partition = p.partition;
            let partition = topic.as_ref().and_then(|t| t.partition(p.partition));
            match (
                partition,
                check_current_leader_epoch(p.current_leader_epoch),
            ) {
                (None, _) => e.error_code = ResponseError::UnknownTopicOrPartition.code(),
                (Some(_), Some(epoch_error)) => e.error_code = epoch_error.code(),
                (Some(partition), None) if p.leader_epoch == LEADER_EPOCH => {
                    e.leader_epoch = LEADER_EPOCH;
                    e.end_offset = partition.watermarks().high_watermark;
                }
                (Some(_), None) => {
                    e.leader_epoch = -1;
                    e.end_offset = -1;
                }
            }
            tr.partitions.push(e);
        }
        r.topics.push(tr);
    }
    Some(r)
}
