//! Committed offsets of one group: OffsetCommit validation (Kafka's rules for classic
//! groups, including simple commits without a generation), storing commits and
//! tombstones in `__consumer_offsets`, OffsetDelete, group deletion and expiry after
//! `offsets.retention.minutes`.
//!
//! A commit is staged (`pending_offset_commits`) once its record is appended and applied
//! to the offsets OffsetFetch reads only once that record is durable
//! ([`GroupMetadata::complete_offset_commits`]); the caller awaits the returned
//! [`Appended`] (fsync) before answering, and a commit whose fsync failed is dropped. This module never
//! decides membership: it only reads the group's state to validate.

use bytes::Bytes;

use super::records::{self, OffsetAndMetadata};
use super::store::{self, Appended};
use super::{ms, Env, GroupMetadata, GroupState};
use crate::error::{KafkaError, ResponseError};

impl GroupMetadata {
    /// Kafka's validateOffsetCommit for classic groups.
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        if self.is(GroupState::Dead) {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.is(GroupState::Empty) {
            // A simple group: Kafka only stores its offsets.
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || instance_id.is_some() {
            if self.is_static_member_fenced(instance_id, member_id) {
                return Err(ResponseError::FencedInstanceId);
            }
            if !self.has(member_id) {
                return Err(ResponseError::UnknownMemberId);
            }
            if generation_id != self.generation_id {
                return Err(ResponseError::IllegalGeneration);
            }
        } else if !self.is(GroupState::Empty) {
            // No member id and no generation: only accepted while the group is empty.
            return Err(ResponseError::UnknownMemberId);
        }
        if self.is(GroupState::CompletingRebalance) {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Appends the commits as one batch and stages them until the batch is durable; also
    /// counts as a heartbeat.
    pub fn commit_offsets(
        &mut self,
        env: &Env,
        member_id: &str,
        commits: Vec<((String, i32), OffsetAndMetadata)>,
    ) -> Result<Appended, KafkaError> {
        if let Some(m) = self.members.get_mut(member_id) {
            m.heartbeat_deadline = env.now + ms(m.session_timeout_ms);
        }
        let entries = commits
            .iter()
            .map(|((t, p), o)| {
                (
                    records::offset_key(&self.group_id, t, *p),
                    Some(records::offset_value(o)),
                )
            })
            .collect();
        let appended = store::append(env, &self.group_id, entries)?;
        self.pending_offset_commits
            .insert(appended.end_offset(), commits);
        Ok(appended)
    }

    /// The batch of `__consumer_offsets` ending at `end_offset` is durable (`Ok`) or its
    /// fsync failed (`Err`): applies every staged commit up to it, in log order (an
    /// fsync covers everything before it, whichever waiter learns of it first), or
    /// drops the failed one.
    pub fn complete_offset_commits(&mut self, end_offset: i64, durable: bool) {
        if !durable {
            self.pending_offset_commits.remove(&end_offset);
            return;
        }
        let later = self.pending_offset_commits.split_off(&(end_offset + 1));
        let done = std::mem::replace(&mut self.pending_offset_commits, later);
        for (_, commits) in done {
            self.offsets.extend(commits);
        }
    }

    /// Whether a plain commit of the partition is appended but not yet durable.
    pub fn has_pending_offset_commit(&self, tp: &(String, i32)) -> bool {
        self.pending_offset_commits
            .values()
            .any(|c| c.iter().any(|(k, _)| k == tp))
    }

    /// Forgets staged commits of `tps` (their tombstones follow them in the log).
    fn drop_pending_offset_commits(&mut self, tps: &[(String, i32)]) {
        for commits in self.pending_offset_commits.values_mut() {
            commits.retain(|(tp, _)| !tps.contains(tp));
        }
    }

    /// Writes tombstones for the given partitions' offsets (those that exist).
    pub fn delete_offsets(
        &mut self,
        env: &Env,
        partitions: &[(String, i32)],
    ) -> Result<(), KafkaError> {
        let present: Vec<(String, i32)> = partitions
            .iter()
            .filter(|tp| self.offsets.contains_key(*tp) || self.has_pending_offset_commit(tp))
            .cloned()
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        let entries = present
            .iter()
            .map(|(t, p)| (records::offset_key(&self.group_id, t, *p), None::<Bytes>))
            .collect();
        store::append(env, &self.group_id, entries)?;
        for tp in &present {
            self.offsets.remove(tp);
        }
        self.drop_pending_offset_commits(&present);
        Ok(())
    }

    /// Deletes the group (DeleteGroups, or expiry of an empty group): tombstones for
    /// every offset and for the group metadata, then the group is Dead.
    pub fn delete_group(&mut self, env: &Env) -> Result<(), KafkaError> {
        // Staged commits are in the log already: they need their tombstones too.
        let staged = self
            .pending_offset_commits
            .values()
            .flatten()
            .map(|(tp, _)| tp);
        let doomed: std::collections::BTreeSet<&(String, i32)> =
            self.offsets.keys().chain(staged).collect();
        let mut entries: Vec<(Bytes, Option<Bytes>)> = doomed
            .into_iter()
            .map(|(t, p)| (records::offset_key(&self.group_id, t, *p), None))
            .collect();
        entries.push((records::group_key(&self.group_id), None));
        entries.extend(self.consumer_tombstones());
        store::append(env, &self.group_id, entries)?;
        self.consumer = None;
        self.offsets.clear();
        self.pending_offset_commits.clear();
        self.transition_to(GroupState::Dead, env.now_ms);
        crate::metrics::global().group_deleted(&self.group_id);
        Ok(())
    }

    /// Kafka's removeExpiredOffsets: offsets of an empty group expire `retention_ms`
    /// after it became empty; a simple group's (no protocol type) after their commit;
    /// a stable consumer group's only for topics it no longer subscribes to. Returns
    /// true if the group is now empty with no offsets left and should be removed.
    pub fn expire_offsets(&mut self, env: &Env) -> bool {
        let retention = env.config.offsets_retention_ms;
        let now = env.now_ms;
        let expired = |o: &OffsetAndMetadata, base: i64| match o.expire_timestamp {
            Some(t) => now >= t,
            None => now - base >= retention,
        };
        let expired: Vec<(String, i32)> = match (&self.protocol_type, self.state) {
            (Some(_), GroupState::Empty) => self
                .offsets
                .iter()
                .filter(|(_, o)| expired(o, self.state_timestamp_ms.unwrap_or(o.commit_timestamp)))
                .map(|(k, _)| k.clone())
                .collect(),
            (Some(p), GroupState::Stable)
                if p == super::CONSUMER_PROTOCOL_TYPE && self.subscribed_topics.is_some() =>
            {
                self.offsets
                    .iter()
                    .filter(|((t, _), o)| {
                        !self.is_subscribed_to(t) && expired(o, o.commit_timestamp)
                    })
                    .map(|(k, _)| k.clone())
                    .collect()
            }
            (None, _) => self
                .offsets
                .iter()
                .filter(|(_, o)| expired(o, o.commit_timestamp))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        };
        if !expired.is_empty() {
            tracing::info!(group = %self.group_id, count = expired.len(), "expiring committed offsets");
            if let Err(e) = self.delete_offsets(env, &expired) {
                tracing::error!(group = %self.group_id, error = %e, "writing offset tombstones failed");
                return false;
            }
        }
        if self.is(GroupState::Empty)
            && self.offsets.is_empty()
            && self.pending_offset_commits.is_empty()
            && self.pending_txn_offsets.is_empty()
            && self.members.is_empty()
            && self.pending_members.is_empty()
        {
            if let Err(e) = self.delete_group(env) {
                tracing::error!(group = %self.group_id, error = %e, "writing group tombstone failed");
                return false;
            }
            tracing::info!(group = %self.group_id, "removed empty group with no offsets");
            return true;
        }
        false
    }
}
