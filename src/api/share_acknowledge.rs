//! ShareAcknowledge (key 79, KIP-932): a share group member's acknowledgements
//! (ACCEPT, RELEASE, REJECT, and from v2 RENEW, which keeps the record acquired and
//! restarts its lock) outside a fetch, in its share session; epoch -1 closes the
//! session after them. Answered once the new share-partition state is durable in
//! `__share_group_state`; v2's answer carries the lock duration a renewal gives.

use std::sync::Arc;

use kafka_protocol::messages::share_acknowledge_response::{
    LeaderIdAndEpoch, PartitionData, ShareAcknowledgeTopicResponse,
};

use super::codec_4_2::{ShareAcknowledgeRequest, ShareAcknowledgeResponse};
use super::{sb, share_request, RequestContext};
use crate::broker::Broker;
use crate::coordinator::share::fetch::{FetchRequest, FetchResult};
use crate::error::KafkaError;

pub async fn handle(
    request: ShareAcknowledgeRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ShareAcknowledgeResponse> {
    let mut r = ShareAcknowledgeResponse::default();
    let req = match acknowledge_request(&request, ctx.api_version, broker) {
        Ok(req) => req,
        Err(e) => {
            tracing::info!(error = ?e.error, message = ?e.message, "ShareAcknowledge refused");
            r.response.error_code = e.code();
            r.response.error_message = e.message.map(sb);
            return Some(r);
        }
    };
    let (group, member) = (req.group_id.clone(), req.member_id.clone());
    match broker.share.share_acknowledge(req).await {
        Err(e) => {
            tracing::info!(group = %group, member = %member, error = ?e.error, message = ?e.message, "ShareAcknowledge refused");
            r.response.error_code = e.code();
            r.response.error_message = e.message.map(sb);
        }
        Ok(result) => fill(&mut r, result, broker.config.node_id),
    }
    Some(r)
}

fn acknowledge_request(
    request: &ShareAcknowledgeRequest,
    version: i16,
    broker: &Arc<Broker>,
) -> Result<FetchRequest, KafkaError> {
    if let Some(e) = share_request::share_groups_refusal(broker) {
        return Err(e);
    }
    let w = &request.request;
    let (group_id, member_id) = share_request::member(w.group_id.as_ref(), w.member_id.as_ref())?;
    Ok(FetchRequest {
        group_id,
        member_id,
        session_epoch: w.share_session_epoch,
        partitions: w
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    share_request::partition(
                        t.topic_id,
                        p.partition_index,
                        p.acknowledgement_batches
                            .iter()
                            .map(|b| (b.first_offset, b.last_offset, &b.acknowledge_types[..])),
                    )
                })
            })
            .collect(),
        renew_allowed: version >= 2,
        ..Default::default()
    })
}

fn fill(r: &mut ShareAcknowledgeResponse, result: FetchResult, node_id: i32) {
    r.acquisition_lock_timeout_ms = result.acquisition_lock_timeout_ms as i32;
    let r = &mut r.response;
    for p in result.partitions {
        let mut d = PartitionData::default();
        d.partition_index = p.partition;
        if let Some(e) = p.ack_error {
            d.error_code = e.code();
            d.error_message = e.message.map(sb);
        }
        let mut leader = LeaderIdAndEpoch::default();
        leader.leader_id = node_id;
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
