//! What the ShareFetch and ShareAcknowledge handlers share: the `share.version` gate,
//! the group and member ids both must carry, and their acknowledgement batches turned
//! into the share coordinator's [`PartitionRequest`]s. The two requests (and their v2
//! wrappers in `codec_4_2`) have distinct generated types with the same fields, so
//! the handlers pass plain values here. Never answers a request itself.

use std::sync::Arc;

use kafka_protocol::messages::GroupId;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::broker::Broker;
use crate::coordinator::share::fetch::{AckBatch, PartitionRequest};
use crate::error::{KafkaError, ResponseError};

/// Why a share group request is refused before it reaches the share coordinator.
pub(super) fn share_groups_refusal(broker: &Arc<Broker>) -> Option<KafkaError> {
    (!broker.features.share_groups_enabled()).then(|| {
        KafkaError::new(
            ResponseError::UnsupportedVersion,
            "Share groups are not enabled (the share.version feature is not finalized at 1 or above).",
        )
    })
}

/// The (group id, member id) of a ShareFetch or ShareAcknowledge: both must be set.
pub(super) fn member(
    group_id: Option<&GroupId>,
    member_id: Option<&StrBytes>,
) -> Result<(String, String), KafkaError> {
    match (group_id, member_id) {
        (Some(g), Some(m)) => Ok((g.to_string(), m.to_string())),
        _ => Err(KafkaError::new(
            ResponseError::InvalidRequest,
            "GroupId and MemberId must be set",
        )),
    }
}

/// One partition of a request with its acknowledgement batches
/// (first offset, last offset, acknowledge types).
pub(super) fn partition<'a>(
    topic_id: Uuid,
    partition: i32,
    batches: impl Iterator<Item = (i64, i64, &'a [i8])>,
) -> PartitionRequest {
    PartitionRequest {
        topic_id,
        partition,
        acks: batches
            .map(|(first_offset, last_offset, types)| AckBatch {
                first_offset,
                last_offset,
                types: types.to_vec(),
            })
            .collect(),
    }
}
