//! Online migration between classic and KIP-848 consumer groups (Kafka's
//! GroupMetadataManager: convertToConsumerGroup, convertToClassicGroup and the
//! classicGroup*ToConsumerGroup handlers), under `group.consumer.migration.policy`.
//!
//! - Upgrade: the first consumer-protocol member joining a classic group with members
//!   turns it into a consumer group. The classic members stay, as classic members of a
//!   consumer group, at the classic generation as their epoch, owning their last
//!   assignment; the joining member bumps the group epoch and the new target is reached
//!   by revoking before assigning, as for any member.
//! - Classic members of a consumer group are served here: JoinGroup reconciles them
//!   (the owned partitions in their subscription say what they released) and answers at
//!   once with their member epoch as generation; SyncGroup hands out their current
//!   assignment; Heartbeat answers REBALANCE_IN_PROGRESS when they must rejoin.
//! - Downgrade: when the last consumer-protocol member leaves (or is fenced) and only
//!   classic members remain, the group becomes a classic group again at the group epoch
//!   as generation, each member holding its target assignment, and a rebalance starts.
//!
//! Each conversion writes what Kafka writes (tombstones of the old form, the records of
//! the new one) in one batch, so a restart replays the group's right type. Everything
//! runs under the group's lock and changes nothing unless the append succeeded.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::heartbeat::Records;
use super::records::{self, Assignment, ClassicMemberMetadata};
use super::{ConsumerGroup, ConsumerMember, MemberState};
use crate::coordinator::group::membership::{JoinRequest, SyncRequest};
use crate::coordinator::group::store::{self, Appended};
use crate::coordinator::group::{
    ms, Env, GroupConfig, GroupMetadata, GroupState, JoinResult, MemberMetadata, SyncResult,
    CONSUMER_PROTOCOL_TYPE,
};
use crate::error::ResponseError;
use crate::topics::TopicRegistry;

/// A ConsumerProtocolSubscription or Assignment: (int16 version, decoded body).
fn decode_subscription(metadata: &[u8]) -> Option<ConsumerProtocolSubscription> {
    if metadata.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([metadata[0], metadata[1]]).clamp(0, 3);
    let mut body = Bytes::copy_from_slice(&metadata[2..]);
    ConsumerProtocolSubscription::decode(&mut body, version).ok()
}

fn decode_assignment(bytes: &[u8]) -> Option<ConsumerProtocolAssignment> {
    if bytes.is_empty() {
        // A member that has not synced yet holds nothing.
        return Some(ConsumerProtocolAssignment::default());
    }
    if bytes.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]).clamp(0, 3);
    let mut body = Bytes::copy_from_slice(&bytes[2..]);
    ConsumerProtocolAssignment::decode(&mut body, version).ok()
}

/// The version of a member's embedded protocol metadata (what its assignment is
/// serialized with, as Kafka's ConsumerProtocol.deserializeVersion).
fn metadata_version(metadata: &[u8]) -> i16 {
    if metadata.len() < 2 {
        return 0;
    }
    i16::from_be_bytes([metadata[0], metadata[1]]).clamp(0, 3)
}

/// Partitions by topic name -> by topic id (unknown topics are dropped, as Kafka's
/// toTopicPartitionMap does).
fn to_assignment<'a>(
    topics: &TopicRegistry,
    parts: impl Iterator<Item = (&'a str, &'a [i32])>,
) -> Assignment {
    let mut out = Assignment::new();
    for (name, ps) in parts {
        if let Some(t) = topics.get(name) {
            out.entry(t.id).or_default().extend(ps.iter().copied());
        }
    }
    out.retain(|_, ps| !ps.is_empty());
    out
}

/// A member's partitions as a ConsumerProtocolAssignment of `version`.
pub fn serialize_assignment(topics: &TopicRegistry, a: &Assignment, version: i16) -> Bytes {
    let mut assigned = Vec::new();
    for (id, ps) in a {
        if let Some(t) = topics.get_by_id(id) {
            assigned.push(
                AssignedPartitions::default()
                    .with_topic(TopicName(StrBytes::from_string(t.name.to_string())))
                    .with_partitions(ps.iter().copied().collect()),
            );
        }
    }
    let body = ConsumerProtocolAssignment::default().with_assigned_partitions(assigned);
    let mut b = BytesMut::new();
    b.put_i16(version);
    if body.encode(&mut b, version).is_err() {
        return Bytes::new();
    }
    b.freeze()
}

/// Kafka's validateOnlineUpgrade (the policy, the embedded consumer protocol, the
/// consumer group size).
pub fn upgrade_allowed(cfg: &GroupConfig, g: &GroupMetadata) -> Result<(), &'static str> {
    if !cfg.consumer_migration_policy.upgrade_enabled() {
        return Err("the online upgrade is disabled");
    }
    if g.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
        return Err("the group does not use the consumer embedded protocol");
    }
    if g.members.len() > cfg.consumer_max_size.max(0) as usize {
        return Err("the group size exceeds the consumer group maximum size");
    }
    Ok(())
}

/// Kafka's validateOnlineDowngradeWithFencedMember: every other member speaks the
/// classic protocol, the group keeps a member, the policy allows it, and the classic
/// group size limit holds.
pub fn downgrade_allowed(cfg: &GroupConfig, cg: &ConsumerGroup, leaving: &str) -> bool {
    let Some(m) = cg.members.get(leaving) else {
        return false;
    };
    !m.uses_classic_protocol()
        && cg
            .members
            .values()
            .filter(|o| o.member_id != leaving)
            .all(|o| o.uses_classic_protocol())
        && cg.members.len() > 1
        && cfg.consumer_migration_policy.downgrade_enabled()
        && cg.members.len() - 1 <= cfg.max_size.max(0) as usize
}

/// Kafka's ConsumerGroup.supportsClassicProtocols: protocol type `consumer`, and (with
/// classic members) one protocol every classic member supports.
fn supports_classic_protocols(
    cg: &ConsumerGroup,
    protocol_type: &str,
    protocols: &[(String, Bytes)],
) -> bool {
    if protocol_type != CONSUMER_PROTOCOL_TYPE {
        return false;
    }
    if cg.members.is_empty() {
        return !protocols.is_empty();
    }
    protocols.iter().any(|(name, _)| {
        cg.members
            .values()
            .filter_map(|m| m.classic.as_ref())
            .all(|c| c.protocols.iter().any(|(n, _)| n == name))
    })
}

/// Kafka's waitingOnUnreleasedPartition: some partition of the member's target is not
/// assigned to it yet and still owned by another member.
fn waiting_on_unreleased(cg: &ConsumerGroup, m: &ConsumerMember) -> bool {
    let Some(target) = cg.target.get(&m.member_id) else {
        return false;
    };
    target.iter().any(|(t, ps)| {
        ps.iter().any(|p| {
            !m.assigned.get(t).is_some_and(|a| a.contains(p))
                && cg.partition_epochs.contains_key(&(*t, *p))
        })
    })
}

impl GroupMetadata {
    /// Kafka's ConsumerGroup.fromClassicGroup plus the records of the conversion (the
    /// classic group's tombstone, then the consumer group's records). Nothing changes
    /// until [`GroupMetadata::finish_upgrade`].
    pub fn classic_to_consumer(
        &self,
        env: &Env,
        recs: &mut Records,
    ) -> Result<ConsumerGroup, String> {
        let protocol = self
            .protocol_name
            .clone()
            .ok_or("the classic group has no protocol yet")?;
        let generation = self.generation_id;
        let mut cg = ConsumerGroup {
            group_epoch: generation,
            assignment_epoch: generation,
            ..Default::default()
        };
        for m in self.members.values() {
            let sub = decode_subscription(&m.metadata(&protocol))
                .ok_or("the embedded consumer protocol subscription is malformed")?;
            let assignment = decode_assignment(&m.assignment)
                .ok_or("the embedded consumer protocol assignment is malformed")?;
            let assigned = to_assignment(
                env.topics,
                assignment
                    .assigned_partitions
                    .iter()
                    .map(|tp| (tp.topic.0.as_str(), tp.partitions.as_slice())),
            );
            let mut member = ConsumerMember::new(&m.member_id, env.now);
            member.member_epoch = generation;
            member.previous_member_epoch = generation;
            member.state = MemberState::Stable;
            member.instance_id = m.group_instance_id.clone();
            member.rack_id = sub.rack_id.as_ref().map(|r| r.to_string());
            member.rebalance_timeout_ms = m.rebalance_timeout_ms;
            member.client_id = m.client_id.clone();
            member.client_host = m.client_host.clone();
            member.subscribed_topic_names = sub.topics.iter().map(|t| t.to_string()).collect();
            member.assigned = assigned.clone();
            member.classic = Some(ClassicMemberMetadata {
                session_timeout_ms: m.session_timeout_ms,
                protocols: m.protocols.clone(),
            });
            member.session_deadline = env.now + ms(m.session_timeout_ms);
            cg.target.insert(m.member_id.clone(), assigned);
            cg.update_member(member);
        }
        // Kafka's createGroupTombstoneRecords (classic) + createConsumerGroupRecords.
        recs.push((
            crate::coordinator::group::records::group_key(&self.group_id),
            None,
        ));
        for m in cg.members.values() {
            recs.push(super::heartbeat::member_metadata_record(&self.group_id, m));
        }
        recs.push(super::heartbeat::epoch_record(
            &self.group_id,
            records::GROUP_METADATA,
            cg.group_epoch,
        ));
        for (id, a) in &cg.target {
            recs.push(super::heartbeat::target_member_record(
                &self.group_id,
                id,
                a,
            ));
        }
        recs.push(super::heartbeat::epoch_record(
            &self.group_id,
            records::TARGET_ASSIGNMENT_METADATA,
            cg.assignment_epoch,
        ));
        for m in cg.members.values() {
            recs.push(super::heartbeat::current_assignment_record(
                &self.group_id,
                m,
            ));
        }
        Ok(cg)
    }

    /// Drops the classic form once the upgrade's records are appended: waiting
    /// JoinGroup/SyncGroup requests are answered REBALANCE_IN_PROGRESS so those members
    /// rejoin, now served by the consumer group.
    pub fn finish_upgrade(&mut self) {
        for m in self.members.values_mut() {
            m.reply_join(JoinResult::error(
                &m.member_id,
                ResponseError::RebalanceInProgress,
            ));
            m.reply_sync(SyncResult::error(ResponseError::RebalanceInProgress));
        }
        self.members.clear();
        self.static_members.clear();
        self.pending_members.clear();
        self.pending_sync.clear();
        self.sync_deadline = None;
        self.join_deadline = None;
        self.initial_delay = None;
        self.new_member_added = false;
        self.leader_id = None;
        self.protocol_name = None;
        tracing::info!(group = %self.group_id, "classic group upgraded online to a consumer group");
    }

    /// Kafka's convertToClassicGroup after `leaving` left or was fenced: the consumer
    /// group's tombstones and the classic group's record in one batch, then the classic
    /// group in place (Stable at the group epoch, each member holding its target) and a
    /// rebalance so its members rejoin.
    pub fn downgrade_to_classic(
        &mut self,
        env: &Env,
        cg: &ConsumerGroup,
        leaving: &str,
    ) -> Result<Appended, ResponseError> {
        let mut classic = GroupMetadata::new(&self.group_id, env.now_ms);
        classic.generation_id = cg.group_epoch;
        classic.protocol_type = Some(CONSUMER_PROTOCOL_TYPE.to_string());
        for m in cg.members.values().filter(|m| m.member_id != leaving) {
            let c = m.classic.clone().unwrap_or_default();
            if let Some(i) = &m.instance_id {
                classic
                    .static_members
                    .insert(i.clone(), m.member_id.clone());
            }
            classic.members.insert(
                m.member_id.clone(),
                MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: c.session_timeout_ms,
                    protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
                    protocols: c.protocols,
                    assignment: Bytes::new(),
                    awaiting_join: None,
                    awaiting_sync: None,
                    is_new: false,
                    heartbeat_deadline: env.now + ms(c.session_timeout_ms),
                },
            );
        }
        classic.leader_id = classic.members.keys().next().cloned();
        classic.protocol_name = classic.select_protocol();
        let protocol = classic.protocol_name.clone().unwrap_or_default();
        for m in classic.members.values_mut() {
            let target = cg.target.get(&m.member_id).cloned().unwrap_or_default();
            let version = metadata_version(&m.metadata(&protocol));
            m.assignment = serialize_assignment(env.topics, &target, version);
        }
        classic.state = GroupState::Stable;
        classic.subscribed_topics = classic.compute_subscribed_topics();

        let mut recs = self.consumer_tombstones_of(cg);
        recs.push((
            crate::coordinator::group::records::group_key(&self.group_id),
            Some(crate::coordinator::group::records::group_value(
                &classic.to_stored(),
            )),
        ));
        let appended = store::append(env, &self.group_id, recs).map_err(|e| {
            tracing::error!(group = %self.group_id, error = %e, "storing the downgrade failed");
            e.error
        })?;
        tracing::info!(group = %self.group_id, member = %leaving, generation = classic.generation_id,
            "last consumer-protocol member left; consumer group downgraded online to a classic group");
        self.consumer = None;
        self.generation_id = classic.generation_id;
        self.protocol_type = classic.protocol_type;
        self.protocol_name = classic.protocol_name;
        self.leader_id = classic.leader_id;
        self.members = classic.members;
        self.static_members = classic.static_members;
        self.pending_members.clear();
        self.pending_sync.clear();
        self.subscribed_topics = classic.subscribed_topics;
        self.transition_to(GroupState::Stable, env.now_ms);
        self.maybe_prepare_rebalance(env, "downgrade from consumer group to classic group");
        Ok(appended)
    }

    // ---- classic requests to a consumer group ----------------------------------------

    /// Kafka's classicGroupJoinToConsumerGroup: the member is created or updated from
    /// its JoinGroup and reconciled; the answer comes at once (no join phase), with its
    /// member epoch as generation, no leader, and its first protocol.
    pub fn classic_join_to_consumer_group(
        &mut self,
        env: &Env,
        req: &JoinRequest,
    ) -> (JoinResult, Option<Appended>) {
        let Some(current) = self.consumer.as_deref() else {
            return (
                JoinResult::error(&req.member_id, ResponseError::UnknownMemberId),
                None,
            );
        };
        let mut cg = current.clone();
        let unknown = req.member_id.is_empty();
        let member_id = if unknown {
            uuid::Uuid::new_v4().to_string()
        } else {
            req.member_id.clone()
        };
        let err = |e| (JoinResult::error(&req.member_id, e), None);
        if cg.members.len() >= env.config.consumer_max_size.max(0) as usize
            && !cg.members.contains_key(&member_id)
        {
            return err(ResponseError::GroupMaxSizeReached);
        }
        if !supports_classic_protocols(&cg, &req.protocol_type, &req.protocols) {
            return err(ResponseError::InconsistentGroupProtocol);
        }
        if req.require_known_member_id && unknown && req.group_instance_id.is_none() {
            tracing::info!(group = %self.group_id, member = %member_id,
                "dynamic member with unknown member id joins the consumer group; asking it to rejoin with its new id");
            return (
                JoinResult::error(&member_id, ResponseError::MemberIdRequired),
                None,
            );
        }
        let mut recs = Records::new();
        let mut replaced = false;
        let old = match &req.group_instance_id {
            None => cg
                .members
                .get(&member_id)
                .cloned()
                .unwrap_or_else(|| ConsumerMember::new(&member_id, env.now)),
            Some(instance) => match cg.static_members.get(instance).cloned() {
                Some(id) if id == member_id => cg.members[&id].clone(),
                Some(id) if unknown => {
                    // A static member restarted: it takes the place (and assignment) of
                    // its previous member id.
                    let mut m = cg.members[&id].clone();
                    let target = cg.target.get(&id).cloned();
                    super::heartbeat::tombstone_member(&self.group_id, &id, &mut recs);
                    cg.remove_member(&id);
                    m.member_id = member_id.clone();
                    if let Some(t) = target {
                        recs.push(super::heartbeat::target_member_record(
                            &self.group_id,
                            &member_id,
                            &t,
                        ));
                        cg.target.insert(member_id.clone(), t);
                    }
                    replaced = true;
                    m
                }
                Some(_) => return err(ResponseError::FencedInstanceId),
                None if unknown => ConsumerMember::new(&member_id, env.now),
                None => return err(ResponseError::UnknownMemberId),
            },
        };
        let Some(sub) = req
            .protocols
            .first()
            .and_then(|(_, m)| decode_subscription(m))
        else {
            return err(ResponseError::InconsistentGroupProtocol);
        };
        let mut member = old.clone();
        member.instance_id = req.group_instance_id.clone().or(member.instance_id);
        if let Some(rack) = &sub.rack_id {
            member.rack_id = Some(rack.to_string());
        }
        if req.rebalance_timeout_ms != -1 {
            member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        member.subscribed_topic_names = sub.topics.iter().map(|t| t.to_string()).collect();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.classic = Some(ClassicMemberMetadata {
            session_timeout_ms: req.session_timeout_ms,
            protocols: req.protocols.clone(),
        });
        let owned = to_assignment(
            env.topics,
            sub.owned_partitions
                .iter()
                .map(|tp| (tp.topic.0.as_str(), tp.partitions.as_slice())),
        );
        let is_new = !cg.members.contains_key(&member_id) && !replaced;
        let mut member =
            self.update_and_reconcile(env, &mut cg, &old, member, is_new, Some(&owned), &mut recs);
        member.session_deadline = env.now + ms(req.session_timeout_ms);
        // The sync timeout: it must send SyncGroup within its rebalance timeout.
        member.classic_deadline = Some(env.now + ms(req.rebalance_timeout_ms.max(0)));
        cg.update_member(member.clone());
        let appended = if recs.is_empty() {
            None
        } else {
            match store::append(env, &self.group_id, recs) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::error!(group = %self.group_id, error = %e, "storing a classic member's join failed");
                    return err(e.error);
                }
            }
        };
        self.install(env, cg);
        tracing::info!(group = %self.group_id, member = %member_id, epoch = member.member_epoch,
            "classic member joined the consumer group");
        let result = JoinResult {
            error: None,
            member_id,
            generation_id: member.member_epoch,
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name: req.protocols.first().map(|(n, _)| n.clone()),
            leader_id: String::new(),
            members: Vec::new(),
        };
        (result, appended)
    }

    /// Kafka's validateConsumerGroupMember (+ throwIfMemberDoesNotUseClassicProtocol).
    fn classic_member_of(
        cg: &ConsumerGroup,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<String, ResponseError> {
        let id = match instance_id {
            None => member_id.to_string(),
            Some(i) => {
                let id = cg
                    .static_members
                    .get(i)
                    .ok_or(ResponseError::UnknownMemberId)?;
                if id != member_id {
                    return Err(ResponseError::FencedInstanceId);
                }
                id.clone()
            }
        };
        match cg.members.get(&id) {
            Some(m) if m.uses_classic_protocol() => Ok(id),
            _ => Err(ResponseError::UnknownMemberId),
        }
    }

    /// Kafka's classicGroupSyncToConsumerGroup: the member's current assignment, unless
    /// it must rejoin first (REBALANCE_IN_PROGRESS).
    pub fn classic_sync_to_consumer_group(&mut self, env: &Env, req: &SyncRequest) -> SyncResult {
        let Some(cg) = self.consumer.as_deref_mut() else {
            return SyncResult::error(ResponseError::UnknownMemberId);
        };
        let id = match Self::classic_member_of(cg, &req.member_id, req.group_instance_id.as_deref())
        {
            Ok(id) => id,
            Err(e) => return SyncResult::error(e),
        };
        let group_epoch = cg.group_epoch;
        let m = cg.members.get_mut(&id).expect("member exists");
        if req.generation_id != m.member_epoch {
            return SyncResult::error(ResponseError::IllegalGeneration);
        }
        let c = m.classic.clone().unwrap_or_default();
        let protocol_name = c.protocols.first().map(|(n, _)| n.clone());
        if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE)
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| Some(n) != protocol_name.as_ref())
        {
            return SyncResult::error(ResponseError::InconsistentGroupProtocol);
        }
        if group_epoch > m.member_epoch && m.state != MemberState::UnrevokedPartitions {
            m.classic_deadline
                .get_or_insert(env.now + ms(m.rebalance_timeout_ms.max(0)));
            return SyncResult::error(ResponseError::RebalanceInProgress);
        }
        m.classic_deadline = None;
        m.session_deadline = env.now + ms(c.session_timeout_ms);
        let version = c
            .protocols
            .first()
            .map(|(_, md)| metadata_version(md))
            .unwrap_or(0);
        SyncResult {
            error: None,
            assignment: serialize_assignment(env.topics, &m.assigned, version),
            protocol_type: req.protocol_type.clone(),
            protocol_name: req.protocol_name.clone(),
        }
    }

    /// Kafka's classicGroupHeartbeatToConsumerGroup: REBALANCE_IN_PROGRESS when the
    /// group epoch moved past the member, it must revoke, or the partitions it waits
    /// for are free.
    pub fn classic_heartbeat_to_consumer_group(
        &mut self,
        env: &Env,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Option<ResponseError> {
        let cg = self.consumer.as_deref_mut()?;
        let id = match Self::classic_member_of(cg, member_id, instance_id) {
            Ok(id) => id,
            Err(e) => return Some(e),
        };
        let m = &cg.members[&id];
        if generation_id != m.member_epoch {
            return Some(ResponseError::IllegalGeneration);
        }
        let rejoin = m.member_epoch < cg.group_epoch
            || m.state == MemberState::UnrevokedPartitions
            || (m.state == MemberState::UnreleasedPartitions && !waiting_on_unreleased(cg, m));
        let m = cg.members.get_mut(&id).expect("member exists");
        let session = m.classic.as_ref().map_or(0, |c| c.session_timeout_ms);
        m.session_deadline = env.now + ms(session);
        if rejoin {
            m.classic_deadline
                .get_or_insert(env.now + ms(m.rebalance_timeout_ms.max(0)));
            return Some(ResponseError::RebalanceInProgress);
        }
        None
    }

    /// Kafka's classicGroupLeaveToConsumerGroup: each classic member leaves; the group
    /// epoch is bumped once so the others take over its partitions.
    pub fn classic_leave_to_consumer_group(
        &mut self,
        env: &Env,
        leaving: &[(String, Option<String>)],
    ) -> Vec<Option<ResponseError>> {
        let Some(current) = self.consumer.as_deref() else {
            return vec![Some(ResponseError::UnknownMemberId); leaving.len()];
        };
        let mut cg = current.clone();
        let mut recs = Records::new();
        let mut out = Vec::with_capacity(leaving.len());
        for (member_id, instance_id) in leaving {
            let found = match instance_id {
                None => Self::classic_member_of(&cg, member_id, None),
                Some(i) => match cg.static_members.get(i).cloned() {
                    None => Err(ResponseError::UnknownMemberId),
                    Some(id) if !member_id.is_empty() && id != *member_id => {
                        Err(ResponseError::FencedInstanceId)
                    }
                    Some(id) => Self::classic_member_of(&cg, &id, None),
                },
            };
            match found {
                Ok(id) => {
                    tracing::info!(group = %self.group_id, member = %id, "classic member left the consumer group");
                    super::heartbeat::tombstone_member(&self.group_id, &id, &mut recs);
                    cg.remove_member(&id);
                    out.push(None);
                }
                Err(e) => out.push(Some(e)),
            }
        }
        if !recs.is_empty() {
            cg.group_epoch += 1;
            recs.push(super::heartbeat::epoch_record(
                &self.group_id,
                records::GROUP_METADATA,
                cg.group_epoch,
            ));
            match store::append(env, &self.group_id, recs) {
                Ok(_) => self.install(env, cg),
                Err(e) => {
                    tracing::error!(group = %self.group_id, error = %e, "storing a classic leave failed");
                    return vec![Some(e.error); leaving.len()];
                }
            }
        }
        out
    }

    /// The tombstones deleting every record of `cg` (Kafka's createGroupTombstoneRecords).
    pub fn consumer_tombstones_of(&self, cg: &ConsumerGroup) -> Records {
        let mut recs = Records::new();
        let ids: BTreeSet<&String> = cg.members.keys().chain(cg.target.keys()).collect();
        for id in ids {
            super::heartbeat::tombstone_member(&self.group_id, id, &mut recs);
        }
        for t in [
            records::TARGET_ASSIGNMENT_METADATA,
            records::PARTITION_METADATA,
            records::GROUP_METADATA,
        ] {
            recs.push((records::key(t, &self.group_id, None), None));
        }
        recs
    }
}
