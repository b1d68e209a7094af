//! ShareFetch (key 78, KIP-932): a share group member's fetch in its share session,
//! with piggy-backed acknowledgements. Records come back whole-batch with the
//! AcquiredRecords ranges (and delivery counts) the member holds; the client delivers
//! only those.
//!
//! v1 and v2 are served (v2 through `codec_4_2`'s wrapper): v2's `ShareAcquireMode`
//! (KIP-1206) picks batch-optimized acquisition (MaxRecords rounded up to the end of
//! the producer batch it falls in) or a strict record limit, and `IsRenewAck`
//! (KIP-1222) marks a request that only renews acquisition locks (type RENEW, 4):
//! it acquires nothing and must carry zero fetch bounds, as Kafka checks.

use std::sync::Arc;

use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, PartitionData, ShareFetchableTopicResponse,
};

use super::codec_4_2::{ShareFetchRequest, ShareFetchResponse};
use super::{sb, share_request, RequestContext};
use crate::broker::Broker;
use crate::coordinator::share::fetch::{AcquireMode, FetchRequest, FetchResult};
use crate::error::{KafkaError, ResponseError};

pub async fn handle(
    request: ShareFetchRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ShareFetchResponse> {
    let mut r = ShareFetchResponse::default();
    let req = match fetch_request(&request, ctx.api_version, broker) {
        Ok(req) => req,
        Err(e) => {
            tracing::info!(error = ?e.error, message = ?e.message, "ShareFetch refused");
            r.response.error_code = e.code();
            r.response.error_message = e.message.map(sb);
            return Some(r);
        }
    };
    let (group, member) = (req.group_id.clone(), req.member_id.clone());
    match broker.share.share_fetch(req).await {
        Err(e) => {
            tracing::info!(group = %group, member = %member, error = ?e.error, message = ?e.message, "ShareFetch refused");
            r.response.error_code = e.code();
            r.response.error_message = e.message.map(sb);
        }
        Ok(result) => fill(&mut r, result, broker.config.node_id),
    }
    Some(r)
}

/// The share coordinator's view of the request, after the checks Kafka makes first.
fn fetch_request(
    request: &ShareFetchRequest,
    version: i16,
    broker: &Arc<Broker>,
) -> Result<FetchRequest, KafkaError> {
    if let Some(e) = share_request::share_groups_refusal(broker) {
        return Err(e);
    }
    let w = &request.request;
    let (group_id, member_id) = share_request::member(w.group_id.as_ref(), w.member_id.as_ref())?;
    let acquire_mode = match request.share_acquire_mode {
        0 => AcquireMode::BatchOptimized,
        1 => AcquireMode::RecordLimit,
        m => {
            return Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!("Unknown share acquire mode {m}"),
            ))
        }
    };
    if request.is_renew_ack
        && (w.max_wait_ms != 0 || w.min_bytes != 0 || w.max_bytes != 0 || w.max_records != 0)
    {
        return Err(KafkaError::new(
            ResponseError::InvalidRequest,
            "A ShareFetch with IsRenewAck must have MaxWaitMs, MinBytes, MaxBytes and MaxRecords 0",
        ));
    }
    Ok(FetchRequest {
        group_id,
        member_id,
        session_epoch: w.share_session_epoch,
        max_wait_ms: i64::from(w.max_wait_ms),
        max_bytes: w.max_bytes.max(0) as usize,
        max_records: w.max_records.max(0) as usize,
        acquire_mode,
        renew_only: request.is_renew_ack,
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
        forgotten: w
            .forgotten_topics_data
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, *p)))
            .collect(),
        renew_allowed: version >= 2,
    })
}

fn fill(r: &mut ShareFetchResponse, result: FetchResult, node_id: i32) {
    let r = &mut r.response;
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
