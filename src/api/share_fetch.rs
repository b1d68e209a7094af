//! ShareFetch (key 78, KIP-932): a share group member's fetch in its share session,
//! with piggy-backed acknowledgements. Records come back whole-batch with the
//! AcquiredRecords ranges (and delivery counts) the member holds; the client delivers
//! only those. v1 is served; the handler turns the wire request into the share
//! coordinator's [`FetchRequest`] so v2's acquire modes and record limits only add
//! fields there.

use std::sync::Arc;

use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, PartitionData, ShareFetchableTopicResponse,
};
use kafka_protocol::messages::{ShareFetchRequest, ShareFetchResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::share::fetch::{AckBatch, FetchRequest, FetchResult, PartitionRequest};
use crate::error::ResponseError;

pub async fn handle(
    request: ShareFetchRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ShareFetchResponse> {
    let mut r = ShareFetchResponse::default();
    let (Some(group), Some(member)) = (&request.group_id, &request.member_id) else {
        r.error_code = ResponseError::InvalidRequest.code();
        r.error_message = Some(sb("GroupId and MemberId must be set"));
        return Some(r);
    };
    let req = FetchRequest {
        group_id: group.to_string(),
        member_id: member.to_string(),
        session_epoch: request.share_session_epoch,
        max_wait_ms: i64::from(request.max_wait_ms),
        max_bytes: request.max_bytes.max(0) as usize,
        max_records: request.max_records.max(0) as usize,
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
        forgotten: request
            .forgotten_topics_data
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, *p)))
            .collect(),
        renew_allowed: ctx.api_version >= 2,
    };
    match broker.share.share_fetch(req).await {
        Err(e) => {
            tracing::info!(group = %group.0, member = %member, error = ?e.error, message = ?e.message, "ShareFetch refused");
            r.error_code = e.code();
            r.error_message = e.message.map(sb);
        }
        Ok(result) => fill(&mut r, result, broker.config.node_id),
    }
    Some(r)
}

fn fill(r: &mut ShareFetchResponse, result: FetchResult, node_id: i32) {
    r.acquisition_lock_timeout_ms = result.acquisition_lock_timeout_ms as i32;
    for p in result.partitions {
        let mut d = PartitionData::default();
        d.partition_index = p.partition;
        if let Some(e) = p.error {
            d.error_code = e.code();
            d.error_message = e.message.map(sb);
        }
        if let Some(e) = p.ack_error {
            d.acknowledge_error_code = e.code();
            d.acknowledge_error_message = e.message.map(sb);
        }
        let mut leader = LeaderIdAndEpoch::default();
        leader.leader_id = node_id;
        leader.leader_epoch = crate::topics::partition::LEADER_EPOCH;
        d.current_leader = leader;
        d.records = p.records;
        d.acquired_records = p
            .acquired
            .iter()
            .map(|a| {
                let mut out = AcquiredRecords::default();
                out.first_offset = a.first_offset;
                out.last_offset = a.last_offset;
                out.delivery_count = a.delivery_count;
                out
            })
            .collect();
        match r.responses.iter_mut().find(|t| t.topic_id == p.topic_id) {
            Some(t) => t.partitions.push(d),
            None => {
                let mut t = ShareFetchableTopicResponse::default();
                t.topic_id = p.topic_id;
                t.partitions.push(d);
                r.responses.push(t);
            }
        }
    }
}
