//! TxnOffsetCommit (key 28): a transactional producer's offset commits for a consumer
//! group (`send_offsets_to_transaction`). They become the group's committed offsets only
//! when the transaction commits (the COMMIT marker in the group's `__consumer_offsets`
//! partition), and are dropped if it aborts.
//!
//! The transaction coordinator first checks that the producer owns an ongoing
//! transaction that includes that partition (AddOffsetsToTxn); the group coordinator
//! then validates the member and generation (v3+, KIP-447) and stages the commits,
//! answering once they are durable. From v5, while transactions v2 is on (KIP-890 part
//! 2), the commit itself adds the group's offsets partition to the transaction, as
//! AddOffsetsToTxn would. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v3.

use std::sync::Arc;

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::offset_commit::{CommitEntry, CommitPlan};
use super::RequestContext;
use crate::broker::Broker;
use crate::coordinator::transaction::error_for_version;
use crate::error::ResponseError;

pub async fn handle(
    request: TxnOffsetCommitRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<TxnOffsetCommitResponse> {
    let v = ctx.api_version;
    let now = broker.clock.now_ms();
    let mut plan = CommitPlan::new(
        broker,
        request.topics.iter().map(|t| {
            let entries = t.partitions.iter().map(|p| CommitEntry {
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if v >= 2 { p.committed_leader_epoch } else { -1 },
                metadata: p.committed_metadata.as_deref(),
            });
            (t.name.as_str(), entries.collect())
        }),
        now,
        None,
    );
    let commits = std::mem::take(&mut plan.commits);
    let txn_id = request.transactional_id.as_str();
    let group_id = request.group_id.as_str();
    let pid = request.producer_id.0;
    let epoch = request.producer_epoch;
    let mut result = Ok(());
    if v >= 5 && broker.transactions.transactions_v2() {
        result = broker
            .transactions
            .add_offsets(txn_id, pid, epoch, group_id, 2)
            .await;
    }
    if result.is_ok() {
        result = broker
            .transactions
            .check_txn_offset_commit(txn_id, pid, epoch, group_id);
    }
    if result.is_ok() {
        let (member, generation, instance) = if v >= 3 {
            (
                request.member_id.as_str(),
                request.generation_id,
                request.group_instance_id.as_deref(),
            )
        } else {
            ("", -1, None)
        };
        result = broker
            .groups
            .txn_commit_offsets(group_id, member, instance, generation, pid, epoch, commits)
            .await;
    }
    if let Err(e) = result {
        let e = match e {
            ResponseError::InvalidProducerEpoch => ResponseError::ProducerFenced,
            e => e,
        };
        tracing::debug!(transactional_id = txn_id, group = group_id, error = ?e, "TxnOffsetCommit refused");
        plan.fail_valid(error_for_version(e, v, 3));
    }
    let mut r = TxnOffsetCommitResponse::default();
    r.topics = request
        .topics
        .iter()
        .zip(plan.errors)
        .map(|(t, row)| {
            let mut tr = TxnOffsetCommitResponseTopic::default();
            tr.name = t.name.clone();
            tr.partitions = t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, e)| {
                    let mut pr = TxnOffsetCommitResponsePartition::default();
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
