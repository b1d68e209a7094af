//! Kafka's classic group membership protocol on one group: JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup and the timers (initial rebalance delay, rebalance timeout,
//! session timeout, pending members, pending syncs), following the semantics of Kafka's
//! GroupCoordinator.
//!
//! Waiting requests are oneshot channels stored on the member; completing a phase sends
//! every answer at once. Nothing here awaits or sleeps: timers are deadlines checked by
//! [`GroupMetadata::tick`], which the coordinator's timer task calls.

use std::collections::HashMap;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::store::{self, Appended};
use super::{
    ms, Env, GroupMetadata, GroupState, InitialDelay, JoinResult, MemberMetadata, SyncResult,
    NEW_MEMBER_JOIN_TIMEOUT_MS,
};
use crate::error::ResponseError;

/// A JoinGroup as the coordinator sees it (already validated for group id and session
/// timeout).
pub struct JoinRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// v4+: a member without id gets MEMBER_ID_REQUIRED and an id to rejoin with.
    pub require_known_member_id: bool,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
}

pub enum JoinOutcome {
    Ready(JoinResult),
    /// A classic member of a consumer group: answered once its records are durable.
    ReadyWhenDurable(JoinResult, Appended),
    Wait(oneshot::Receiver<JoinResult>),
}

pub struct SyncRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: HashMap<String, Bytes>,
}

pub enum SyncOutcome {
    Ready(SyncResult),
    /// Wait for the answer; the leader's answer also waits for its write to be durable.
    Wait(oneshot::Receiver<SyncResult>, Option<Appended>),
}

impl GroupMetadata {
    // ---- JoinGroup ----------------------------------------------------------------

    pub fn join(&mut self, env: &Env, req: JoinRequest) -> JoinOutcome {
        let ready = |r| JoinOutcome::Ready(r);
        if self.is(GroupState::Dead) {
            // Removed under us (deleted or expired): the client looks the coordinator
            // up again and rejoins a fresh group.
            return ready(JoinResult::error(
                &req.member_id,
                ResponseError::CoordinatorNotAvailable,
            ));
        }
        if self
            .consumer
            .as_deref()
            .is_some_and(|cg| !cg.members.is_empty())
        {
            return match self.classic_join_to_consumer_group(env, &req) {
                (r, Some(appended)) => JoinOutcome::ReadyWhenDurable(r, appended),
                (r, None) => ready(r),
            };
        }
        if let Some(refused) = self.classic_join_on_consumer_group(env, &req.member_id) {
            return ready(refused);
        }
        if !self.accept_joining_member(env, &req.member_id) {
            self.remove_member(&req.member_id);
            return ready(JoinResult::error("", ResponseError::GroupMaxSizeReached));
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return ready(JoinResult::error(
                &req.member_id,
                ResponseError::InconsistentGroupProtocol,
            ));
        }
        if req.member_id.is_empty() {
            self.join_unknown_member(env, req)
        } else {
            self.join_known_member(env, req)
        }
    }

    /// Kafka's acceptJoiningMember: group.max.size counts members (or, while preparing a
    /// rebalance, members that have rejoined).
    fn accept_joining_member(&self, env: &Env, member_id: &str) -> bool {
        let max = env.config.max_size.max(0) as usize;
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                self.members
                    .get(member_id)
                    .is_some_and(|m| m.awaiting_join.is_some())
                    || self
                        .members
                        .values()
                        .filter(|m| m.awaiting_join.is_some())
                        .count()
                        < max
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.has(member_id) || self.members.len() < max
            }
        }
    }

    fn join_unknown_member(&mut self, env: &Env, req: JoinRequest) -> JoinOutcome {
        let new_id = format!("{}-{}", req.client_id, uuid::Uuid::new_v4());
        if let Some(instance) = req.group_instance_id.clone() {
            if let Some(old_id) = self.static_members.get(&instance).cloned() {
                tracing::info!(group = %self.group_id, instance = %instance, old = %old_id, new = %new_id,
                    "static member rejoined with unknown member id; replacing it");
                return self.update_static_member_and_rebalance(env, &old_id, new_id, req);
            }
            let rx = self.add_member_and_rebalance(env, new_id, req);
            return JoinOutcome::Wait(rx);
        }
        if req.require_known_member_id {
            self.pending_members
                .insert(new_id.clone(), env.now + ms(req.session_timeout_ms));
            return JoinOutcome::Ready(JoinResult::error(&new_id, ResponseError::MemberIdRequired));
        }
        JoinOutcome::Wait(self.add_member_and_rebalance(env, new_id, req))
    }

    fn join_known_member(&mut self, env: &Env, req: JoinRequest) -> JoinOutcome {
        let member_id = req.member_id.clone();
        if self.pending_members.remove(&member_id).is_some() {
            return JoinOutcome::Wait(self.add_member_and_rebalance(env, member_id, req));
        }
        let instance = req.group_instance_id.as_deref();
        if self.is_static_member_fenced(instance, &member_id) {
            return JoinOutcome::Ready(JoinResult::error(
                &member_id,
                ResponseError::FencedInstanceId,
            ));
        }
        let instance_unknown = instance.is_some_and(|i| !self.static_members.contains_key(i));
        if !self.has(&member_id) || instance_unknown {
            return JoinOutcome::Ready(JoinResult::error(
                &member_id,
                ResponseError::UnknownMemberId,
            ));
        }
        let matches = self.members[&member_id].matches(&req.protocols);
        match self.state {
            GroupState::PreparingRebalance => {
                JoinOutcome::Wait(self.update_member_and_rebalance(env, req))
            }
            GroupState::CompletingRebalance if matches => {
                // It missed its JoinGroup answer: send the current generation again.
                JoinOutcome::Ready(self.join_result(&member_id, None))
            }
            GroupState::Stable if matches && !self.is_leader(&member_id) => {
                JoinOutcome::Ready(self.join_result(&member_id, None))
            }
            // The leader rejoining (e.g. topic metadata changed) or changed metadata.
            GroupState::CompletingRebalance | GroupState::Stable => {
                JoinOutcome::Wait(self.update_member_and_rebalance(env, req))
            }
            GroupState::Empty | GroupState::Dead => JoinOutcome::Ready(JoinResult::error(
                &member_id,
                ResponseError::UnknownMemberId,
            )),
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        env: &Env,
        member_id: String,
        req: JoinRequest,
    ) -> oneshot::Receiver<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if self.is(GroupState::PreparingRebalance) && self.generation_id == 0 {
            self.new_member_added = true;
        }
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(i) = &req.group_instance_id {
            self.static_members.insert(i.clone(), member_id.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member_id.clone());
        }
        let member = MemberMetadata {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(tx),
            awaiting_sync: None,
            is_new: true,
            heartbeat_deadline: env.now + ms(NEW_MEMBER_JOIN_TIMEOUT_MS),
        };
        self.members.insert(member_id.clone(), member);
        tracing::info!(group = %self.group_id, member = %member_id, state = self.state.name(), "member joined");
        self.maybe_prepare_rebalance(env, "new member joined");
        if self.is(GroupState::PreparingRebalance) {
            self.try_complete_join(env);
        }
        rx
    }

    fn update_member_and_rebalance(
        &mut self,
        env: &Env,
        req: JoinRequest,
    ) -> oneshot::Receiver<JoinResult> {
        let (tx, rx) = oneshot::channel();
        let member = self.members.get_mut(&req.member_id).expect("member exists");
        member.protocols = req.protocols;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.session_timeout_ms = req.session_timeout_ms;
        member.client_id = req.client_id;
        member.client_host = req.client_host;
        // A JoinGroup already waiting for this member (the client gave up on it and
        // retried on a new connection) is answered so it does not linger.
        member.reply_join(JoinResult::error(
            &req.member_id,
            ResponseError::RebalanceInProgress,
        ));
        member.awaiting_join = Some(tx);
        self.maybe_prepare_rebalance(env, "member rejoined");
        if self.is(GroupState::PreparingRebalance) {
            self.try_complete_join(env);
        }
        rx
    }

    /// A static member restarted (same group.instance.id, no member id): it takes over
    /// the old member's place, and a Stable group keeps its assignment without a
    /// rebalance if the selected protocol does not change.
    fn update_static_member_and_rebalance(
        &mut self,
        env: &Env,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
    ) -> JoinOutcome {
        let old_leader = self.leader_id.clone();
        let Some(mut member) = self.members.shift_remove(old_id) else {
            return JoinOutcome::Ready(JoinResult::error("", ResponseError::UnknownMemberId));
        };
        member.reply_join(JoinResult::error(old_id, ResponseError::FencedInstanceId));
        member.reply_sync(SyncResult::error(ResponseError::FencedInstanceId));
        let old_protocols = std::mem::replace(&mut member.protocols, req.protocols);
        member.member_id = new_id.clone();
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.session_timeout_ms = req.session_timeout_ms;
        member.heartbeat_deadline = env.now + ms(req.session_timeout_ms);
        let (tx, rx) = oneshot::channel();
        member.awaiting_join = Some(tx);
        self.members.insert(new_id.clone(), member);
        if let Some(i) = &req.group_instance_id {
            self.static_members.insert(i.clone(), new_id.clone());
        }
        if self.leader_id.as_deref() == Some(old_id) {
            self.leader_id = Some(new_id.clone());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        match self.state {
            GroupState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    if let Err(e) = self.store_group(env) {
                        // Undo: the old member id stays valid.
                        let mut m = self.members.shift_remove(&new_id).expect("just added");
                        m.member_id = old_id.to_string();
                        m.protocols = old_protocols;
                        m.awaiting_join = None;
                        self.members.insert(old_id.to_string(), m);
                        if let Some(i) = &req.group_instance_id {
                            self.static_members.insert(i.clone(), old_id.to_string());
                        }
                        if old_leader.as_deref() == Some(old_id) {
                            self.leader_id = old_leader;
                        }
                        return JoinOutcome::Ready(JoinResult::error("", e.error));
                    }
                    // Answer with the old leader id so that the leader does not run a
                    // pointless assignment (the new member id never matches it).
                    let result = self.join_result(&new_id, old_leader);
                    let result = JoinResult {
                        members: Vec::new(),
                        ..result
                    };
                    let m = self.members.get_mut(&new_id).expect("just added");
                    m.awaiting_join = None;
                    return JoinOutcome::Ready(result);
                }
                self.prepare_rebalance(env, "static member rejoined with other protocols");
            }
            GroupState::CompletingRebalance => {
                self.prepare_rebalance(env, "static member rejoined during CompletingRebalance");
            }
            GroupState::PreparingRebalance => self.try_complete_join(env),
            GroupState::Empty | GroupState::Dead => {}
        }
        JoinOutcome::Wait(rx)
    }

    // ---- rebalance phases ---------------------------------------------------------

    pub fn maybe_prepare_rebalance(&mut self, env: &Env, reason: &str) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(env, reason);
        }
    }

    fn prepare_rebalance(&mut self, env: &Env, reason: &str) {
        if self.is(GroupState::CompletingRebalance) {
            self.reset_and_propagate_assignment_error(ResponseError::RebalanceInProgress);
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let rebalance_timeout = self.rebalance_timeout_ms() as i64;
        if self.is(GroupState::Empty) {
            let delay = env.config.initial_rebalance_delay_ms.max(0) as i64;
            self.initial_delay = Some(InitialDelay {
                remaining_ms: (rebalance_timeout - delay).max(0),
            });
            self.join_deadline = Some(env.now + ms(delay));
        } else {
            self.initial_delay = None;
            self.join_deadline = Some(env.now + ms(rebalance_timeout));
        }
        tracing::info!(group = %self.group_id, generation = self.generation_id, reason,
            "preparing to rebalance");
        crate::metrics::global().rebalanced(&self.group_id);
        self.transition_to(GroupState::PreparingRebalance, env.now_ms);
        if self.initial_delay.is_some() {
            if env.config.initial_rebalance_delay_ms <= 0 {
                self.complete_join(env);
            }
        } else {
            self.try_complete_join(env);
        }
    }

    /// Completes the join phase if every member has rejoined (not during the initial
    /// delay, which only ends on its timer).
    pub fn try_complete_join(&mut self, env: &Env) {
        if self.is(GroupState::PreparingRebalance)
            && self.initial_delay.is_none()
            && self.all_members_joined()
        {
            self.complete_join(env);
        }
    }

    fn complete_join(&mut self, env: &Env) {
        self.join_deadline = None;
        self.initial_delay = None;
        self.new_member_added = false;
        // Dynamic members that did not rejoin in time are dropped; static ones stay
        // until their session times out.
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %self.group_id, member = %id, "member did not rejoin in time; removed");
            self.remove_member(&id);
        }
        if self.is(GroupState::Dead) {
            return;
        }
        if !self.elect_joined_leader() && !self.members.is_empty() {
            // Nobody rejoined: wait another rebalance timeout for the session timeouts
            // to clear the unresponsive members.
            self.join_deadline = Some(env.now + ms(self.rebalance_timeout_ms()));
            return;
        }
        self.generation_id += 1;
        self.pending_sync.clear();
        self.sync_deadline = None;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition_to(GroupState::Empty, env.now_ms);
            self.subscribed_topics = self.compute_subscribed_topics();
            tracing::info!(group = %self.group_id, generation = self.generation_id, "group is now empty");
            if let Err(e) = self.store_group(env) {
                tracing::error!(group = %self.group_id, error = %e, "storing empty group failed");
            }
            return;
        }
        self.protocol_name = self.select_protocol();
        self.transition_to(GroupState::CompletingRebalance, env.now_ms);
        self.subscribed_topics = self.compute_subscribed_topics();
        tracing::info!(group = %self.group_id, generation = self.generation_id,
            members = self.members.len(), protocol = ?self.protocol_name, "group stabilized");
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in &ids {
            let result = self.join_result(id, None);
            let m = self.members.get_mut(id).expect("member exists");
            m.reply_join(result);
            m.heartbeat_deadline = env.now + ms(m.session_timeout_ms);
            m.is_new = false;
        }
        self.pending_sync = ids.into_iter().collect();
        self.sync_deadline = Some(env.now + ms(self.rebalance_timeout_ms()));
    }

    /// Keeps the leader if it rejoined, else picks a member that did. False if none did.
    fn elect_joined_leader(&mut self) -> bool {
        let leader_joined = self
            .leader_id
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if leader_joined {
            return true;
        }
        match self.members.values().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader_id = Some(m.member_id.clone());
                true
            }
            None => {
                self.leader_id = None;
                false
            }
        }
    }

    // ---- SyncGroup ------------------------------------------------------------------

    pub fn sync(&mut self, env: &Env, req: SyncRequest) -> SyncOutcome {
        let ready = |e| SyncOutcome::Ready(SyncResult::error(e));
        if self.is(GroupState::Dead) {
            return ready(ResponseError::CoordinatorNotAvailable);
        }
        if self.consumer.is_some() {
            return SyncOutcome::Ready(self.classic_sync_to_consumer_group(env, &req));
        }
        if self.is_static_member_fenced(req.group_instance_id.as_deref(), &req.member_id) {
            return ready(ResponseError::FencedInstanceId);
        }
        if !self.has(&req.member_id) {
            return ready(ResponseError::UnknownMemberId);
        }
        if req.generation_id != self.generation_id {
            return ready(ResponseError::IllegalGeneration);
        }
        let type_mismatch = req
            .protocol_type
            .as_ref()
            .is_some_and(|t| self.protocol_type.as_ref() != Some(t));
        let name_mismatch = req
            .protocol_name
            .as_ref()
            .is_some_and(|n| self.protocol_name.as_ref() != Some(n));
        if type_mismatch || name_mismatch {
            return ready(ResponseError::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty => ready(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => ready(ResponseError::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                self.members
                    .get_mut(&req.member_id)
                    .expect("member exists")
                    .awaiting_sync = Some(tx);
                self.remove_pending_sync(&req.member_id);
                if !self.is_leader(&req.member_id) {
                    return SyncOutcome::Wait(rx, None);
                }
                let previous: Vec<(String, Bytes)> = self
                    .members
                    .values()
                    .map(|m| (m.member_id.clone(), m.assignment.clone()))
                    .collect();
                let mut assignments = req.assignments;
                for m in self.members.values_mut() {
                    m.assignment = assignments.remove(&m.member_id).unwrap_or_default();
                }
                match self.store_group(env) {
                    Ok(appended) => {
                        self.propagate_assignment(env);
                        self.transition_to(GroupState::Stable, env.now_ms);
                        tracing::info!(group = %self.group_id, generation = self.generation_id, "assignment received from leader; group is stable");
                        SyncOutcome::Wait(rx, Some(appended))
                    }
                    Err(e) => {
                        for (id, a) in previous {
                            if let Some(m) = self.members.get_mut(&id) {
                                m.assignment = a;
                            }
                        }
                        tracing::error!(group = %self.group_id, error = %e, "storing group assignment failed");
                        self.reset_and_propagate_assignment_error(e.error);
                        self.maybe_prepare_rebalance(env, "storing the assignment failed");
                        SyncOutcome::Wait(rx, None)
                    }
                }
            }
            GroupState::Stable => {
                self.remove_pending_sync(&req.member_id);
                let m = self.members.get_mut(&req.member_id).expect("member exists");
                m.heartbeat_deadline = env.now + ms(m.session_timeout_ms);
                SyncOutcome::Ready(SyncResult {
                    error: None,
                    assignment: m.assignment.clone(),
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                })
            }
            GroupState::Dead => ready(ResponseError::CoordinatorNotAvailable),
        }
    }

    fn remove_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
    }

    fn propagate_assignment(&mut self, env: &Env) {
        let (pt, pn) = (self.protocol_type.clone(), self.protocol_name.clone());
        for m in self.members.values_mut() {
            if m.awaiting_sync.is_some() {
                let result = SyncResult {
                    error: None,
                    assignment: m.assignment.clone(),
                    protocol_type: pt.clone(),
                    protocol_name: pn.clone(),
                };
                m.reply_sync(result);
                m.heartbeat_deadline = env.now + ms(m.session_timeout_ms);
            }
        }
    }

    fn reset_and_propagate_assignment_error(&mut self, error: ResponseError) {
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
            m.reply_sync(SyncResult::error(error));
        }
    }

    // ---- Heartbeat and LeaveGroup -------------------------------------------------

    pub fn heartbeat(
        &mut self,
        env: &Env,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Option<ResponseError> {
        if self.is(GroupState::Dead) {
            return Some(ResponseError::CoordinatorNotAvailable);
        }
        if self.consumer.is_some() {
            return self.classic_heartbeat_to_consumer_group(
                env,
                member_id,
                instance_id,
                generation_id,
            );
        }
        if self.is_static_member_fenced(instance_id, member_id) {
            return Some(ResponseError::FencedInstanceId);
        }
        if !self.has(member_id) {
            return Some(ResponseError::UnknownMemberId);
        }
        if generation_id != self.generation_id {
            return Some(ResponseError::IllegalGeneration);
        }
        let rebalancing = match self.state {
            GroupState::Empty | GroupState::Dead => return Some(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => true,
            GroupState::CompletingRebalance | GroupState::Stable => false,
        };
        let m = self.members.get_mut(member_id).expect("member exists");
        m.heartbeat_deadline = env.now + ms(m.session_timeout_ms);
        rebalancing.then_some(ResponseError::RebalanceInProgress)
    }

    /// Removes each (member id, instance id); an empty member id with an instance id
    /// means the static member with that instance id. One error slot per member.
    pub fn leave(
        &mut self,
        env: &Env,
        leaving: &[(String, Option<String>)],
    ) -> Result<Vec<Option<ResponseError>>, ResponseError> {
        if self.is(GroupState::Dead) {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if self.consumer.is_some() {
            return Ok(self.classic_leave_to_consumer_group(env, leaving));
        }
        let mut out = Vec::with_capacity(leaving.len());
        for (member_id, instance_id) in leaving {
            let member_id = match (member_id.is_empty(), instance_id) {
                (true, Some(i)) => match self.static_members.get(i) {
                    Some(m) => m.clone(),
                    None => {
                        out.push(Some(ResponseError::UnknownMemberId));
                        continue;
                    }
                },
                _ => member_id.clone(),
            };
            if self.is_static_member_fenced(instance_id.as_deref(), &member_id) {
                out.push(Some(ResponseError::FencedInstanceId));
            } else if self.pending_members.remove(&member_id).is_some() {
                self.try_complete_join(env);
                out.push(None);
            } else if !self.has(&member_id) {
                out.push(Some(ResponseError::UnknownMemberId));
            } else {
                tracing::info!(group = %self.group_id, member = %member_id, "member left the group");
                self.remove_member_and_update_group(env, &member_id, "member left");
                out.push(None);
            }
        }
        Ok(out)
    }

    /// Removes a member and reacts as Kafka does: a stable group rebalances, a group
    /// preparing a rebalance may now complete it.
    pub fn remove_member_and_update_group(&mut self, env: &Env, member_id: &str, reason: &str) {
        self.remove_member(member_id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(env, reason)
            }
            GroupState::PreparingRebalance => self.try_complete_join(env),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Drops a member, answering any request it has waiting with UNKNOWN_MEMBER_ID.
    pub fn remove_member(&mut self, member_id: &str) {
        let Some(mut m) = self.members.shift_remove(member_id) else {
            return;
        };
        m.reply_join(JoinResult::error("", ResponseError::UnknownMemberId));
        m.reply_sync(SyncResult::error(ResponseError::UnknownMemberId));
        if let Some(i) = &m.group_instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(member_id) {
                self.static_members.remove(i);
            }
        }
        self.pending_sync.remove(member_id);
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
    }

    // ---- timers ---------------------------------------------------------------------

    /// Fires every deadline that has passed: pending members, member sessions, the join
    /// phase (initial delay or rebalance timeout) and pending syncs.
    pub fn tick(&mut self, env: &Env) {
        if self.is(GroupState::Dead) {
            return;
        }
        if self.consumer.is_some() {
            self.consumer_tick(env);
            return;
        }
        let expired: Vec<String> = self
            .pending_members
            .iter()
            .filter(|(_, d)| **d <= env.now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.pending_members.remove(&id);
            self.try_complete_join(env);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.heartbeat_deadline <= env.now)
            .filter(|m| m.awaiting_sync.is_none() && (m.awaiting_join.is_none() || m.is_new))
            .map(|m| m.member_id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.group_id, member = %id, "member session expired; removing it");
            self.remove_member_and_update_group(env, &id, "session timeout");
        }
        if self.is(GroupState::PreparingRebalance)
            && self.join_deadline.is_some_and(|d| d <= env.now)
        {
            match self.initial_delay {
                Some(d) if self.new_member_added && d.remaining_ms > 0 => {
                    let delay =
                        (env.config.initial_rebalance_delay_ms.max(0) as i64).min(d.remaining_ms);
                    self.new_member_added = false;
                    self.initial_delay = Some(InitialDelay {
                        remaining_ms: d.remaining_ms - delay,
                    });
                    self.join_deadline = Some(env.now + ms(delay));
                }
                _ => self.complete_join(env),
            }
        }
        let sync_phase = matches!(
            self.state,
            GroupState::CompletingRebalance | GroupState::Stable
        );
        if sync_phase && self.sync_deadline.is_some_and(|d| d <= env.now) {
            self.sync_deadline = None;
            let late: Vec<String> = self.pending_sync.drain().collect();
            for id in late {
                tracing::info!(group = %self.group_id, member = %id, "member did not sync in time; removing it");
                self.remove_member_and_update_group(env, &id, "sync timeout");
            }
        }
    }

    /// The earliest deadline [`GroupMetadata::tick`] would act on, so the timer task can
    /// wake exactly then. Members whose session cannot expire now (waiting in a join or
    /// sync phase) do not count; their deadline is reset when the phase ends.
    pub fn next_deadline(&self) -> Option<std::time::Instant> {
        if self.is(GroupState::Dead) {
            return None;
        }
        if let Some(cg) = &self.consumer {
            return cg.next_deadline();
        }
        let sessions = self
            .members
            .values()
            .filter(|m| m.awaiting_sync.is_none() && (m.awaiting_join.is_none() || m.is_new))
            .map(|m| m.heartbeat_deadline);
        let join = self
            .join_deadline
            .filter(|_| self.is(GroupState::PreparingRebalance));
        let sync_phase = matches!(
            self.state,
            GroupState::CompletingRebalance | GroupState::Stable
        );
        let sync = self.sync_deadline.filter(|_| sync_phase);
        self.pending_members
            .values()
            .copied()
            .chain(sessions)
            .chain(join)
            .chain(sync)
            .min()
    }

    // ---- persistence ----------------------------------------------------------------

    /// Writes the group's current generation (GroupMetadataValue) to `__consumer_offsets`.
    pub fn store_group(&self, env: &Env) -> Result<Appended, crate::error::KafkaError> {
        let value = super::records::group_value(&self.to_stored());
        store::append(
            env,
            &self.group_id,
            vec![(super::records::group_key(&self.group_id), Some(value))],
        )
    }
}
