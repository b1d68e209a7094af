//! ConsumerGroupHeartbeat on one group (Kafka's GroupMetadataManager.consumerGroupHeartbeat):
//! join (member epoch 0), heartbeat, leave (-1) and a static member's temporary leave
//! (-2); then the group epoch, the target assignment and the member's reconciliation,
//! and the records that persist every change, appended as one batch. Also the session
//! and rebalance timeouts, and the member-epoch checks of OffsetCommit/OffsetFetch.
//!
//! The group's state is changed on a copy and put in place only once its records are
//! appended, so a failed append leaves the group as it was.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use uuid::Uuid;

use super::assignor::{self, AssignorMember};
use super::reconcile::reconcile;
use super::records::{self, Assignment};
use super::{
    member_topics, ConsumerGroup, ConsumerMember, MemberState, LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use crate::coordinator::group::store::{self, Appended};
use crate::coordinator::group::{ms, Env, GroupMetadata, GroupState, CONSUMER_PROTOCOL_TYPE};
use crate::error::ResponseError;

/// A ConsumerGroupHeartbeat as the coordinator sees it (validated by the handler).
#[derive(Clone, Debug, Default)]
pub struct HeartbeatRequest {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns (`None`: unchanged since its last heartbeat).
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Clone, Debug, Default)]
pub struct HeartbeatResult {
    pub error: Option<ResponseError>,
    pub message: Option<String>,
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent on a full request or when the member's assignment changed.
    pub assignment: Option<Assignment>,
}

impl HeartbeatResult {
    pub fn error(error: ResponseError, message: impl Into<String>) -> HeartbeatResult {
        HeartbeatResult {
            error: Some(error),
            message: Some(message.into()),
            ..Default::default()
        }
    }
}

pub(super) type Records = Vec<(Bytes, Option<Bytes>)>;

fn fail(
    error: ResponseError,
    message: impl Into<String>,
) -> Result<HeartbeatResult, HeartbeatResult> {
    Err(HeartbeatResult::error(error, message))
}

impl GroupMetadata {
    pub fn consumer_heartbeat(
        &mut self,
        env: &Env,
        req: HeartbeatRequest,
    ) -> (HeartbeatResult, Option<Appended>) {
        if self.is(GroupState::Dead) {
            return (
                HeartbeatResult::error(ResponseError::CoordinatorNotAvailable, "group is gone"),
                None,
            );
        }
        let mut recs = Records::new();
        let mut upgraded = false;
        let mut cg = match self.consumer.as_deref() {
            Some(cg) => cg.clone(),
            None if self.members.is_empty() && self.pending_members.is_empty() => {
                ConsumerGroup::default()
            }
            None => {
                // A classic group with members: converted online by the first
                // consumer-protocol member joining, if the policy allows it.
                let refused = |why: String| {
                    tracing::info!(group = %self.group_id, reason = %why,
                        "cannot upgrade the classic group to a consumer group");
                    let msg = format!(
                        "Cannot upgrade classic group {} to consumer group because {why}.",
                        self.group_id
                    );
                    (
                        HeartbeatResult::error(ResponseError::GroupIdNotFound, msg),
                        None,
                    )
                };
                if req.member_epoch != 0 {
                    return refused("the member is not joining (member epoch 0)".into());
                }
                if let Err(why) = super::migration::upgrade_allowed(env.config, self) {
                    return refused(why.into());
                }
                match self.classic_to_consumer(env, &mut recs) {
                    Ok(cg) => {
                        upgraded = true;
                        cg
                    }
                    Err(why) => return refused(why),
                }
            }
        };
        let leaving = req.member_epoch == LEAVE_GROUP_MEMBER_EPOCH
            || req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH;
        let before = leaving.then(|| cg.clone());
        let outcome = if leaving {
            self.consumer_leave(env, &mut cg, &req, &mut recs)
        } else {
            self.consumer_member_heartbeat(env, &mut cg, req.clone(), &mut recs)
        };
        let result = match outcome {
            Ok(r) => r,
            Err(e) => return (e, None),
        };
        let temporary =
            req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH && req.instance_id.is_some();
        if let Some(before) = before.filter(|_| !temporary) {
            if super::migration::downgrade_allowed(env.config, &before, &result.member_id) {
                return match self.downgrade_to_classic(
                    env,
                    &before,
                    &result.member_id,
                    Records::new(),
                ) {
                    Ok(a) => (result, Some(a)),
                    Err(e) => (
                        HeartbeatResult::error(e, "storing the downgrade failed"),
                        None,
                    ),
                };
            }
        }
        let appended = if recs.is_empty() {
            None
        } else {
            match store::append(env, &self.group_id, recs) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::error!(group = %self.group_id, error = %e, "storing consumer group records failed");
                    return (HeartbeatResult::error(e.error, e.to_string()), None);
                }
            }
        };
        if upgraded {
            self.finish_upgrade();
        }
        self.install(env, cg);
        (result, appended)
    }

    /// Puts a changed consumer group in place and keeps the shared group fields (state,
    /// protocol type, subscribed topics for offset expiry) in step with it.
    pub(crate) fn install(&mut self, env: &Env, cg: ConsumerGroup) {
        let state = if cg.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        if self.consumer.is_none() || self.state != state {
            self.transition_to(state, env.now_ms);
        }
        self.protocol_type = Some(CONSUMER_PROTOCOL_TYPE.to_string());
        self.subscribed_topics = Some(cg.subscription_metadata.keys().cloned().collect());
        self.consumer = Some(Box::new(cg));
    }

    fn consumer_leave(
        &self,
        env: &Env,
        cg: &mut ConsumerGroup,
        req: &HeartbeatRequest,
        recs: &mut Records,
    ) -> Result<HeartbeatResult, HeartbeatResult> {
        let member_id = match &req.instance_id {
            None => {
                if !cg.members.contains_key(&req.member_id) {
                    return fail(ResponseError::UnknownMemberId, "unknown member");
                }
                req.member_id.clone()
            }
            Some(instance) => {
                let Some(id) = cg.static_members.get(instance).cloned() else {
                    return fail(ResponseError::UnknownMemberId, "unknown static member");
                };
                if id != req.member_id {
                    return fail(
                        ResponseError::FencedInstanceId,
                        "instance id owned by another member",
                    );
                }
                id
            }
        };
        if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH && req.instance_id.is_some() {
            // It will be back: keep its place (and partitions) until its session ends.
            let mut m = cg.members[&member_id].clone();
            m.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
            m.pending_revocation.clear();
            m.rebalance_deadline = None;
            recs.push(current_assignment_record(&self.group_id, &m));
            cg.update_member(m);
            tracing::info!(group = %self.group_id, member = %member_id, "static member left temporarily");
        } else {
            tracing::info!(group = %self.group_id, member = %member_id, "member left the consumer group");
            fence(&self.group_id, cg, &member_id, recs);
        }
        let _ = env;
        Ok(HeartbeatResult {
            member_id,
            member_epoch: req.member_epoch,
            ..Default::default()
        })
    }

    fn consumer_member_heartbeat(
        &self,
        env: &Env,
        cg: &mut ConsumerGroup,
        req: HeartbeatRequest,
        recs: &mut Records,
    ) -> Result<HeartbeatResult, HeartbeatResult> {
        let cfg = env.config;
        let joining = req.member_epoch == 0;
        let member_id = if req.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            req.member_id.clone()
        };
        let is_member = cg.members.contains_key(&member_id);
        let static_known = req
            .instance_id
            .as_ref()
            .is_some_and(|i| cg.static_members.contains_key(i));
        if joining
            && !is_member
            && !static_known
            && cg.members.len() >= cfg.consumer_max_size.max(0) as usize
        {
            return fail(
                ResponseError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    cfg.consumer_max_size
                ),
            );
        }
        let mut new_member = false;
        let mut replaced = false;
        let old: ConsumerMember = match &req.instance_id {
            None => match cg.members.get(&member_id) {
                Some(m) if joining => {
                    // Rejoining (after being fenced, or a lost answer): from scratch.
                    let _ = m;
                    new_member = true;
                    rejoin(&self.group_id, cg, &member_id, recs, env)
                }
                Some(m) => {
                    check_epoch(m, req.member_epoch, req.owned.as_ref())?;
                    m.clone()
                }
                None if joining => {
                    new_member = true;
                    ConsumerMember::new(&member_id, env.now)
                }
                None => return fail(ResponseError::UnknownMemberId, "unknown member id"),
            },
            Some(instance) => {
                let existing = cg.static_members.get(instance).cloned();
                match existing {
                    Some(id) if joining && id == member_id => {
                        new_member = true;
                        rejoin(&self.group_id, cg, &member_id, recs, env)
                    }
                    Some(id) if joining => {
                        let prev = cg.members[&id].clone();
                        if prev.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                            return fail(
                                ResponseError::UnreleasedInstanceId,
                                format!("Static member {member_id} with instance id {instance} cannot join the group because the instance id is owned by {id} member."),
                            );
                        }
                        // Takes the place of the member that left temporarily: its
                        // assignment and target carry over to the new member id.
                        let target = cg.target.get(&id).cloned();
                        tombstone_member(&self.group_id, &id, recs);
                        cg.remove_member(&id);
                        let mut m = prev;
                        m.member_id = member_id.clone();
                        m.member_epoch = 0;
                        m.previous_member_epoch = 0;
                        if let Some(t) = target {
                            recs.push(target_member_record(&self.group_id, &member_id, &t));
                            cg.target.insert(member_id.clone(), t);
                        }
                        new_member = true;
                        replaced = true;
                        tracing::info!(group = %self.group_id, instance = %instance, old = %id, new = %member_id,
                            "static member rejoined and replaces its previous member id");
                        m
                    }
                    None if joining => {
                        if is_member {
                            new_member = true;
                            rejoin(&self.group_id, cg, &member_id, recs, env)
                        } else {
                            new_member = true;
                            ConsumerMember::new(&member_id, env.now)
                        }
                    }
                    None => return fail(ResponseError::UnknownMemberId, "unknown static member"),
                    Some(id) if id != member_id => {
                        return fail(
                            ResponseError::FencedInstanceId,
                            format!("instance id {instance} is owned by member {id}"),
                        )
                    }
                    Some(_) => {
                        let m = &cg.members[&member_id];
                        check_epoch(m, req.member_epoch, req.owned.as_ref())?;
                        m.clone()
                    }
                }
            }
        };

        // 1. The member's metadata; a new subscription bumps the group epoch.
        let mut member = old.clone();
        if req.instance_id.is_some() {
            member.instance_id = req.instance_id.clone();
        }
        if req.rack_id.is_some() {
            member.rack_id = req.rack_id.clone();
        }
        if req.rebalance_timeout_ms != -1 {
            member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if req.server_assignor.is_some() {
            member.server_assignor = req.server_assignor.clone();
        }
        if let Some(names) = &req.subscribed_topic_names {
            member.subscribed_topic_names = names.clone();
        }
        if let Some(re) = &req.subscribed_topic_regex {
            member.set_regex(Some(re.clone()));
        }
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        let mut member = self.update_and_reconcile(
            env,
            cg,
            &old,
            member,
            new_member && !replaced,
            req.owned.as_ref(),
            recs,
        );
        let session_ms = cfg.consumer_session_timeout_ms;
        member.session_deadline = env.now + ms(session_ms);
        let changed = member.assigned != old.assigned || new_member;
        cg.update_member(member.clone());

        let full = joining
            || (req.rebalance_timeout_ms != -1
                && req.subscribed_topic_names.is_some()
                && req.owned.is_some());
        Ok(HeartbeatResult {
            error: None,
            message: None,
            member_id,
            member_epoch: member.member_epoch,
            heartbeat_interval_ms: cfg.consumer_heartbeat_interval_ms,
            assignment: (full || changed).then(|| member.assigned.clone()),
        })
    }

    /// Steps 1-3 of Kafka's heartbeat (and of a classic member's JoinGroup) once the
    /// member's new metadata is known: its metadata record, the group epoch bump on a
    /// new member or subscription (or changed topics), the target assignment, and the
    /// member's reconciliation towards it. Returns the member as reconciled (the caller
    /// sets its timers and puts it in the group).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn update_and_reconcile(
        &self,
        env: &Env,
        cg: &mut ConsumerGroup,
        old: &ConsumerMember,
        member: ConsumerMember,
        bumps: bool,
        owned: Option<&Assignment>,
        recs: &mut Records,
    ) -> ConsumerMember {
        let cfg = env.config;
        let new_member = bumps || !cg.members.contains_key(&member.member_id);
        let member_id = member.member_id.clone();
        let mut bump = bumps
            || member.subscribed_topic_names != old.subscribed_topic_names
            || member.subscribed_topic_regex != old.subscribed_topic_regex;
        if new_member || member.metadata_value() != old.metadata_value() {
            recs.push(member_metadata_record(&self.group_id, &member));
        }
        cg.update_member(member.clone());

        // The subscribed topics as they exist now (new topics or partitions bump too).
        let names = topic_names(env);
        let subscribed = cg.subscribed_topics(&names);
        let mut metadata = BTreeMap::new();
        for t in &subscribed {
            if let Some(topic) = env.topics.get(t) {
                metadata.insert(t.clone(), (topic.id, topic.partitions.len() as i32));
            }
        }
        if metadata != cg.subscription_metadata {
            bump = true;
            if let Ok(v) = records::partition_metadata_value(&metadata) {
                recs.push((
                    records::key(records::PARTITION_METADATA, &self.group_id, None),
                    Some(v),
                ));
            }
            cg.subscription_metadata = metadata;
        }
        if bump {
            cg.group_epoch += 1;
            crate::metrics::global().rebalanced(&self.group_id);
            recs.push(epoch_record(
                &self.group_id,
                records::GROUP_METADATA,
                cg.group_epoch,
            ));
            tracing::info!(group = %self.group_id, epoch = cg.group_epoch, "bumped group epoch");
        }

        // 2. A new target assignment when the group epoch moved past it.
        if cg.group_epoch > cg.assignment_epoch {
            compute_target(&self.group_id, cg, &cfg.consumer_assignors, &names, recs);
        }

        // 3. The member moves towards its target.
        let mut member = cg.members[&member_id].clone();
        if !member.is_reconciled_to(cg.assignment_epoch) {
            let target = cg.target.get(&member_id).cloned().unwrap_or_default();
            let owners = &cg.partition_epochs;
            let updated = reconcile(&member, cg.assignment_epoch, &target, owned, &|t, p| {
                owners.get(&(t, p)).copied().filter(|_| {
                    // Its own partitions do not block it.
                    !member.assigned.get(&t).is_some_and(|s| s.contains(&p))
                        && !member
                            .pending_revocation
                            .get(&t)
                            .is_some_and(|s| s.contains(&p))
                })
            });
            if updated.assignment_value() != member.assignment_value() {
                let mut updated = updated;
                updated.rebalance_deadline = (updated.state == MemberState::UnrevokedPartitions)
                    .then(|| {
                        (
                            env.now + ms(updated.rebalance_timeout_ms.max(0)),
                            updated.member_epoch,
                        )
                    });
                recs.push(current_assignment_record(&self.group_id, &updated));
                member = updated;
            }
        }
        member
    }

    /// A classic JoinGroup reaching an empty consumer group: it becomes a classic group
    /// again (its consumer-group records are deleted). One with members serves the
    /// member as a classic member of the consumer group instead (`migration`).
    pub fn classic_join_on_consumer_group(
        &mut self,
        env: &Env,
        member_id: &str,
    ) -> Option<crate::coordinator::group::JoinResult> {
        use crate::coordinator::group::JoinResult;
        let cg = self.consumer.as_deref()?;
        if !cg.members.is_empty() {
            // Served by the consumer group (see `migration`); not reached.
            return Some(JoinResult::error(
                member_id,
                ResponseError::InconsistentGroupProtocol,
            ));
        }
        if let Err(e) = store::append(env, &self.group_id, self.consumer_tombstones()) {
            return Some(JoinResult::error(member_id, e.error));
        }
        tracing::info!(group = %self.group_id, "empty consumer group becomes a classic group");
        self.consumer = None;
        self.protocol_type = None;
        self.subscribed_topics = None;
        None
    }

    /// Expires consumer-group sessions and rebalance timeouts.
    pub fn consumer_tick(&mut self, env: &Env) {
        let Some(cg) = self.consumer.as_deref() else {
            return;
        };
        let mut doomed: Vec<(String, &'static str)> = Vec::new();
        for m in cg.members.values() {
            if m.session_deadline <= env.now {
                doomed.push((m.member_id.clone(), "session expired"));
            } else if m.classic_deadline.is_some_and(|d| d <= env.now) {
                doomed.push((
                    m.member_id.clone(),
                    "the classic member did not rejoin or sync within the rebalance timeout",
                ));
            } else if let Some((deadline, epoch)) = m.rebalance_deadline {
                if deadline <= env.now
                    && epoch == m.member_epoch
                    && m.state == MemberState::UnrevokedPartitions
                {
                    doomed.push((
                        m.member_id.clone(),
                        "did not revoke its partitions within the rebalance timeout",
                    ));
                }
            }
        }
        if doomed.is_empty() {
            return;
        }
        let mut cg = cg.clone();
        let mut recs = Records::new();
        for (id, why) in &doomed {
            tracing::info!(group = %self.group_id, member = %id, reason = why, "fencing consumer group member");
            if super::migration::downgrade_allowed(env.config, &cg, id) {
                // The last consumer-protocol member is gone: back to a classic group
                // (after the members fenced before it; any later expired member is then
                // expired by the classic timers).
                if !recs.is_empty() {
                    match store::append(env, &self.group_id, std::mem::take(&mut recs)) {
                        Ok(_) => self.install(env, cg.clone()),
                        Err(e) => {
                            tracing::error!(group = %self.group_id, error = %e, "storing fenced members failed; retrying on the next tick");
                            return;
                        }
                    }
                }
                if let Err(e) = self.downgrade_to_classic(env, &cg, id, Records::new()) {
                    tracing::error!(group = %self.group_id, error = %e, "downgrade failed; retrying on the next tick");
                }
                return;
            }
            fence(&self.group_id, &mut cg, id, &mut recs);
        }
        match store::append(env, &self.group_id, recs) {
            Ok(_) => self.install(env, cg),
            Err(e) => {
                tracing::error!(group = %self.group_id, error = %e, "storing fenced members failed; retrying on the next tick")
            }
        }
    }

    /// OffsetCommit or TxnOffsetCommit by a consumer group member (Kafka's
    /// ConsumerGroup.validateOffsetCommit; a transactional commit carries the epoch too):
    /// epoch -1 without a member id commits only while the group is empty.
    pub fn validate_consumer_offset_commit(
        &self,
        member_id: &str,
        member_epoch: i32,
    ) -> Result<(), ResponseError> {
        let Some(cg) = self.consumer.as_deref() else {
            return Ok(());
        };
        if member_epoch < 0 && member_id.is_empty() && cg.members.is_empty() {
            return Ok(());
        }
        let Some(m) = cg.members.get(member_id) else {
            return Err(ResponseError::UnknownMemberId);
        };
        if member_epoch != m.member_epoch {
            // Kafka's validateMemberEpoch: a classic member's generation is its epoch.
            return Err(if m.uses_classic_protocol() {
                ResponseError::IllegalGeneration
            } else {
                ResponseError::StaleMemberEpoch
            });
        }
        Ok(())
    }

    /// Whether `member_id` is a classic member of this consumer group (its commits
    /// use the classic OffsetCommit versions).
    pub fn is_classic_member_of_consumer_group(&self, member_id: &str) -> bool {
        self.consumer
            .as_deref()
            .and_then(|cg| cg.members.get(member_id))
            .is_some_and(|m| m.uses_classic_protocol())
    }

    /// OffsetFetch v9+ by a consumer group member: the same member and epoch checks;
    /// an admin fetch (no member id) is always allowed.
    pub fn validate_consumer_offset_fetch(
        &self,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ResponseError> {
        let Some(cg) = self.consumer.as_deref() else {
            return Ok(());
        };
        let Some(member_id) = member_id.filter(|m| !m.is_empty()) else {
            return Ok(());
        };
        if member_epoch < 0 {
            return Ok(());
        }
        let Some(m) = cg.members.get(member_id) else {
            return Err(ResponseError::UnknownMemberId);
        };
        if member_epoch != m.member_epoch {
            return Err(ResponseError::StaleMemberEpoch);
        }
        Ok(())
    }

    /// The tombstones that delete a consumer group's own records (DeleteGroups, expiry,
    /// or a classic member taking over an empty consumer group).
    pub fn consumer_tombstones(&self) -> Records {
        let mut recs = Records::new();
        if let Some(cg) = self.consumer.as_deref() {
            for id in cg.members.keys() {
                tombstone_member(&self.group_id, id, &mut recs);
            }
            for t in [
                records::TARGET_ASSIGNMENT_METADATA,
                records::PARTITION_METADATA,
                records::GROUP_METADATA,
            ] {
                recs.push((records::key(t, &self.group_id, None), None));
            }
        }
        recs
    }
}

/// Kafka's throwIfConsumerGroupMemberEpochIsInvalid: a newer epoch than known, or an
/// older one other than the previous epoch with a subset of the assignment, is fenced.
fn check_epoch(
    m: &ConsumerMember,
    received: i32,
    owned: Option<&Assignment>,
) -> Result<(), HeartbeatResult> {
    let fenced = || -> Result<(), HeartbeatResult> {
        Err(HeartbeatResult::error(
            ResponseError::FencedMemberEpoch,
            format!(
                "The consumer group member has epoch {received}, the coordinator knows {}. The member must abandon all its partitions and rejoin.",
                m.member_epoch
            ),
        ))
    };
    if received > m.member_epoch {
        return fenced();
    }
    if received < m.member_epoch {
        let subset = owned.is_some_and(|o| {
            o.iter().all(|(t, ps)| {
                m.assigned
                    .get(t)
                    .is_some_and(|a| ps.iter().all(|p| a.contains(p)))
                    || ps.is_empty()
            })
        });
        if received != m.previous_member_epoch || !subset {
            return fenced();
        }
    }
    Ok(())
}

/// A known member joins again with epoch 0: it starts over without partitions.
fn rejoin(
    group_id: &str,
    cg: &mut ConsumerGroup,
    member_id: &str,
    recs: &mut Records,
    env: &Env,
) -> ConsumerMember {
    let mut m = cg.members[member_id].clone();
    m.member_epoch = 0;
    m.previous_member_epoch = 0;
    m.state = MemberState::Stable;
    m.assigned.clear();
    m.pending_revocation.clear();
    m.rebalance_deadline = None;
    m.session_deadline = env.now;
    recs.push(current_assignment_record(group_id, &m));
    cg.update_member(m.clone());
    m
}

/// Removes a member for good and bumps the group epoch so the others get its partitions.
fn fence(group_id: &str, cg: &mut ConsumerGroup, member_id: &str, recs: &mut Records) {
    tombstone_member(group_id, member_id, recs);
    cg.remove_member(member_id);
    cg.group_epoch += 1;
    crate::metrics::global().rebalanced(group_id);
    recs.push(epoch_record(
        group_id,
        records::GROUP_METADATA,
        cg.group_epoch,
    ));
}

pub(super) fn tombstone_member(group_id: &str, member_id: &str, recs: &mut Records) {
    for t in [
        records::CURRENT_MEMBER_ASSIGNMENT,
        records::TARGET_ASSIGNMENT_MEMBER,
        records::MEMBER_METADATA,
    ] {
        recs.push((records::key(t, group_id, Some(member_id)), None));
    }
}

fn compute_target(
    group_id: &str,
    cg: &mut ConsumerGroup,
    configured: &[String],
    names: &[String],
    recs: &mut Records,
) {
    let name = cg.preferred_assignor(configured);
    let members: Vec<AssignorMember> = cg
        .members
        .values()
        .map(|m| AssignorMember {
            member_id: m.member_id.clone(),
            topics: member_topics(m, names)
                .into_iter()
                .filter(|t| cg.subscription_metadata.contains_key(t))
                .collect::<BTreeSet<_>>(),
            previous: cg.target.get(&m.member_id).cloned().unwrap_or_default(),
        })
        .collect();
    let target = assignor::assign(&name, &members, &cg.subscription_metadata);
    for (id, a) in &target {
        if cg.target.get(id) != Some(a) {
            recs.push(target_member_record(group_id, id, a));
        }
    }
    cg.target = target.into_iter().collect();
    cg.assignment_epoch = cg.group_epoch;
    recs.push(epoch_record(
        group_id,
        records::TARGET_ASSIGNMENT_METADATA,
        cg.assignment_epoch,
    ));
    tracing::info!(group = %group_id, epoch = cg.assignment_epoch, assignor = %name,
        members = cg.members.len(), "computed target assignment");
}

fn topic_names(env: &Env) -> Vec<String> {
    env.topics
        .list()
        .iter()
        .filter(|t| !t.is_internal())
        .map(|t| t.name.to_string())
        .collect()
}

pub(super) fn epoch_record(group_id: &str, record_type: i16, epoch: i32) -> (Bytes, Option<Bytes>) {
    (
        records::key(record_type, group_id, None),
        Some(records::epoch_value(epoch)),
    )
}

pub(super) fn member_metadata_record(group_id: &str, m: &ConsumerMember) -> (Bytes, Option<Bytes>) {
    (
        records::key(records::MEMBER_METADATA, group_id, Some(&m.member_id)),
        records::member_metadata_value(&m.metadata_value()).ok(),
    )
}

pub(super) fn target_member_record(
    group_id: &str,
    member_id: &str,
    a: &Assignment,
) -> (Bytes, Option<Bytes>) {
    (
        records::key(records::TARGET_ASSIGNMENT_MEMBER, group_id, Some(member_id)),
        records::target_member_value(a).ok(),
    )
}

pub(super) fn current_assignment_record(
    group_id: &str,
    m: &ConsumerMember,
) -> (Bytes, Option<Bytes>) {
    (
        records::key(
            records::CURRENT_MEMBER_ASSIGNMENT,
            group_id,
            Some(&m.member_id),
        ),
        records::current_assignment_value(&m.assignment_value()).ok(),
    )
}
