//! Transactional offset commits of one group (Kafka's pending transactional offsets):
//! TxnOffsetCommit validation, staging the commits of a producer's transaction, and
//! applying or dropping them when the transaction coordinator reports the outcome
//! (after the COMMIT/ABORT marker in this group's `__consumer_offsets` partition is
//! durable; on replay, `store` applies the markers itself).
//!
//! Staged offsets are invisible to OffsetFetch until committed (OffsetFetch with
//! require_stable answers UNSTABLE_OFFSET_COMMIT for them). This module never talks to
//! the transaction coordinator and never writes markers.

use super::records::{self, OffsetAndMetadata};
use super::store::{self, Appended};
use super::{Env, GroupMetadata, GroupState};
use crate::error::{KafkaError, ResponseError};

impl GroupMetadata {
    /// Kafka's doTxnCommitOffsets checks (classic groups).
    pub fn validate_txn_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        if self.is(GroupState::Dead) {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.is(GroupState::Empty) {
            return Ok(());
        }
        if self.is_static_member_fenced(instance_id, member_id) {
            return Err(ResponseError::FencedInstanceId);
        }
        if !member_id.is_empty() && !self.has(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation_id >= 0 && generation_id != self.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// Writes the commits as one transactional batch of the producer and stages them.
    pub fn txn_commit_offsets(
        &mut self,
        env: &Env,
        producer_id: i64,
        producer_epoch: i16,
        commits: Vec<((String, i32), OffsetAndMetadata)>,
    ) -> Result<Appended, KafkaError> {
        let entries = commits
            .iter()
            .map(|((t, p), o)| {
                (
                    records::offset_key(&self.group_id, t, *p),
                    Some(records::offset_value(o)),
                )
            })
            .collect();
        let appended =
            store::append_transactional(env, &self.group_id, producer_id, producer_epoch, entries)?;
        self.pending_txn_offsets
            .entry(producer_id)
            .or_default()
            .extend(commits);
        Ok(appended)
    }

    /// The producer's transaction ended: its staged offsets become the committed ones
    /// (commit) or are dropped (abort). Returns how many were applied.
    pub fn complete_txn_offsets(&mut self, producer_id: i64, commit: bool) -> usize {
        let Some(staged) = self.pending_txn_offsets.remove(&producer_id) else {
            return 0;
        };
        if !commit {
            return 0;
        }
        let n = staged.len();
        self.offsets.extend(staged);
        n
    }

    /// Whether a transaction holds an uncommitted offset for the partition.
    pub fn has_pending_txn_offset(&self, tp: &(String, i32)) -> bool {
        self.pending_txn_offsets
            .values()
            .any(|o| o.contains_key(tp))
    }
}
