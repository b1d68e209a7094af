//! ShareAcknowledge (key 79, KIP-932): a share group member's acknowledgements
//! (ACCEPT, RELEASE, REJECT) outside a fetch, in its share session; epoch -1 closes
//! the session after them. Answered once the new share-partition state is durable in
//! `__share_group_state`.

use std::sync::Arc;

use kafka_protocol::messages::share_acknowledge_response::{
    LeaderIdAndEpoch, PartitionData, ShareAcknowledgeTopicResponse,
};
use kafka_protocol::messages::{ShareAcknowledgeRequest, ShareAcknowledgeResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::share::fetch::{AckBatch, FetchRequest, PartitionRequest};
use crate::error::ResponseError;

pub async fn handle(
    request: ShareAcknowledgeRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ShareAcknowledgeResponse> {
    let mut r = ShareAcknowledgeResponse::default();
    let (Some(group), Some(member)) = (&request.group_id, &request.member_id) else {
        r.error_code = ResponseError::InvalidRequest.code();
        r.error_message = Some(sb("GroupId and MemberId must be set"));
        return Some(r);
    };
    let req = FetchRequest {
        group_id: group.to_string(),
        member_id: member.to_string(),
        session_epoch: request.share_session_epoch,
        partitions: request
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| PartitionRequest {
                    topic_id: t.topic_id,
                    partition: p.partition_index,
                    acks: p
                        .acknowledgement_batches
                        .iter()
                        .map(|b| AckBatch {
                            first_offset: b.first_offset,
                            last_offset: b.last_offset,
                            types: b.acknowledge_types.clone(),
                        })
                        .collect(),
                })
            })
            .collect(),
        renew_allowed: ctx.api_version >= 2,
        ..Default::default()
    };
    match broker.share.share_acknowledge(req).await {
        Err(e) => {
            tracing::info!(group = %group.0, member = %member, error = ?e.error, message = ?e.message, "ShareAcknowledge refused");
            r.error_code = e.code();
            r.error_message = e.message.map(sb);
        }
        Ok(result) => {
            for p in result.partitions {
                let mut d = PartitionData::default();
                d.partition_index = p.partition;
                if let Some(e) = p.ack_error {
                    d.error_code = e.code();
                    d.error_message = e.message.map(sb);
                }
                let mut leader = LeaderIdAndEpoch::default();
                leader.leader_id = broker.config.node_id;
                leader.leader_epoch = crate::topics::partition::LEADER_EPOCH;
                d.current_leader = leader;
                match r.responses.iter_mut().find(|t| t.topic_id == p.topic_id) {
                    Some(t) => t.partitions.push(d),
                    None => {
                        let mut t = ShareAcknowledgeTopicResponse::default();
                        t.topic_id = p.topic_id;
                        t.partitions.push(d);
                        r.responses.push(t);
                    }
                }
            }
        }
    }
    Some(r)
}
