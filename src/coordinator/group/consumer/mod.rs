//! KIP-848 consumer groups (Kafka's ConsumerGroup and ConsumerGroupMember): the group
//! epoch, the target assignment computed by a server-side assignor, and each member's
//! current assignment, moved towards the target one heartbeat at a time so that a
//! partition is never owned by two members (revoke first, assign once released).
//!
//! A consumer group lives inside the [`GroupMetadata`](super::GroupMetadata) of its id
//! (its `consumer` field), so offsets, DeleteGroups and offset expiry are shared with
//! classic groups. The heartbeat is in [`heartbeat`], the reconciliation (Kafka's
//! CurrentAssignmentBuilder) in [`reconcile`], the assignors in [`assignor`], the
//! `__consumer_offsets` records in [`records`]. Like the classic code, everything here
//! runs under the group's lock: it never awaits and never touches another group.

pub mod assignor;
pub mod config;
pub mod heartbeat;
pub mod migration;
pub mod reconcile;
pub mod records;
pub mod service;

#[cfg(test)]
mod migration_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use bytes::Bytes;
use indexmap::IndexMap;
use uuid::Uuid;

use records::Assignment;

/// Kafka's member epoch sent to leave the group.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// Kafka's member epoch of a static member that left temporarily (it may come back
/// under a new member id within its session and take its place).
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

/// Kafka's MemberState, with its record values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    Stable = 1,
    UnrevokedPartitions = 2,
    UnreleasedPartitions = 3,
}

impl MemberState {
    pub fn from_i8(v: i8) -> MemberState {
        match v {
            2 => MemberState::UnrevokedPartitions,
            3 => MemberState::UnreleasedPartitions,
            _ => MemberState::Stable,
        }
    }
}

/// The consumer group states DescribeGroups/ListGroups/ConsumerGroupDescribe report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    /// `subscribed_topic_regex` compiled once (anchored: Kafka matches whole names).
    pub compiled_regex: Option<regex::Regex>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    pub state: MemberState,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
    /// When the member is removed unless it heartbeats again.
    pub session_deadline: Instant,
    /// While it must revoke partitions: when it is fenced if it has not (and the epoch
    /// the deadline was set in).
    pub rebalance_deadline: Option<(Instant, i32)>,
    /// Set for a member speaking the classic protocol (JoinGroup/SyncGroup/Heartbeat).
    pub classic: Option<records::ClassicMemberMetadata>,
    /// A classic member told to rejoin, or joined and not yet synced: when it is fenced
    /// unless it does (Kafka's consumer-group join and sync timeouts).
    pub classic_deadline: Option<Instant>,
}

impl ConsumerMember {
    pub fn new(member_id: &str, now: Instant) -> ConsumerMember {
        ConsumerMember {
            member_id: member_id.to_string(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            compiled_regex: None,
            rebalance_timeout_ms: -1,
            server_assignor: None,
            state: MemberState::Stable,
            member_epoch: 0,
            previous_member_epoch: 0,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            session_deadline: now,
            rebalance_deadline: None,
            classic: None,
            classic_deadline: None,
        }
    }

    pub fn uses_classic_protocol(&self) -> bool {
        self.classic.is_some()
    }

    pub fn metadata_value(&self) -> records::MemberMetadataValue {
        records::MemberMetadataValue {
            instance_id: self.instance_id.clone(),
            rack_id: self.rack_id.clone(),
            client_id: self.client_id.clone(),
            client_host: self.client_host.clone(),
            subscribed_topic_names: self.subscribed_topic_names.clone(),
            subscribed_topic_regex: self.subscribed_topic_regex.clone(),
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            server_assignor: self.server_assignor.clone(),
            classic: self.classic.clone(),
        }
    }

    pub fn assignment_value(&self) -> records::CurrentAssignmentValue {
        records::CurrentAssignmentValue {
            member_epoch: self.member_epoch,
            previous_member_epoch: self.previous_member_epoch,
            state: self.state as i8,
            assigned: self.assigned.clone(),
            pending_revocation: self.pending_revocation.clone(),
        }
    }

    fn apply_metadata(&mut self, v: records::MemberMetadataValue) {
        self.instance_id = v.instance_id;
        self.rack_id = v.rack_id;
        self.client_id = v.client_id;
        self.client_host = v.client_host;
        self.subscribed_topic_names = v.subscribed_topic_names;
        self.set_regex(v.subscribed_topic_regex);
        self.rebalance_timeout_ms = v.rebalance_timeout_ms;
        self.server_assignor = v.server_assignor;
        self.classic = v.classic;
    }

    /// Sets the regex subscription (empty clears it). Kafka compiles it with RE2/J; the
    /// `regex` crate's syntax is close to RE2's (neither has look-around or
    /// back-references); one that does not compile matches nothing.
    pub fn set_regex(&mut self, re: Option<String>) {
        let re = re.filter(|r| !r.is_empty());
        if re == self.subscribed_topic_regex && (re.is_none() || self.compiled_regex.is_some()) {
            return;
        }
        self.compiled_regex = re
            .as_deref()
            .and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok());
        self.subscribed_topic_regex = re;
    }

    /// Reconciled to the target of `epoch`.
    pub fn is_reconciled_to(&self, epoch: i32) -> bool {
        self.state == MemberState::Stable && self.member_epoch == epoch
    }
}

/// One KIP-848 consumer group.
#[derive(Clone, Debug, Default)]
pub struct ConsumerGroup {
    pub group_epoch: i32,
    /// The epoch of the current target assignment.
    pub assignment_epoch: i32,
    pub members: IndexMap<String, ConsumerMember>,
    /// instance id -> member id.
    pub static_members: HashMap<String, String>,
    /// member id -> target assignment.
    pub target: HashMap<String, Assignment>,
    /// The epoch of the member owning each partition (assigned or pending revocation);
    /// absent means free. Kafka's currentPartitionEpoch.
    pub partition_epochs: HashMap<(Uuid, i32), i32>,
    /// The subscribed topics as of the last group epoch: name -> (id, partitions).
    pub subscription_metadata: BTreeMap<String, (Uuid, i32)>,
}

impl ConsumerGroup {
    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// The earliest session or rebalance deadline of a member.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| {
                let rebalance = m
                    .rebalance_deadline
                    .filter(|(_, e)| *e == m.member_epoch)
                    .filter(|_| m.state == MemberState::UnrevokedPartitions)
                    .map(|(d, _)| d);
                std::iter::once(m.session_deadline)
                    .chain(rebalance)
                    .chain(m.classic_deadline)
            })
            .min()
    }

    /// Records the partitions of `member` as owned at its epoch.
    fn add_partition_epochs(&mut self, member: &ConsumerMember) {
        for a in [&member.assigned, &member.pending_revocation] {
            for (topic, parts) in a {
                for p in parts {
                    self.partition_epochs
                        .insert((*topic, *p), member.member_epoch);
                }
            }
        }
    }

    fn remove_partition_epochs(&mut self, member: &ConsumerMember) {
        for a in [&member.assigned, &member.pending_revocation] {
            for (topic, parts) in a {
                for p in parts {
                    self.partition_epochs.remove(&(*topic, *p));
                }
            }
        }
    }

    /// Replaces a member's entry, keeping the ownership map right.
    pub fn update_member(&mut self, member: ConsumerMember) {
        if let Some(old) = self.members.get(&member.member_id).cloned() {
            self.remove_partition_epochs(&old);
        }
        self.add_partition_epochs(&member);
        if let Some(i) = &member.instance_id {
            self.static_members
                .insert(i.clone(), member.member_id.clone());
        }
        self.members.insert(member.member_id.clone(), member);
    }

    pub fn remove_member(&mut self, member_id: &str) -> Option<ConsumerMember> {
        let m = self.members.shift_remove(member_id)?;
        self.remove_partition_epochs(&m);
        if let Some(i) = &m.instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(member_id) {
                self.static_members.remove(i);
            }
        }
        self.target.remove(member_id);
        Some(m)
    }

    /// Every topic some member subscribes to (names, and regexes resolved against
    /// `topic_names`).
    pub fn subscribed_topics(&self, topic_names: &[String]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for m in self.members.values() {
            out.extend(member_topics(m, topic_names));
        }
        out
    }

    /// The assignor the group uses: the one most members ask for, else the first
    /// configured (Kafka's computePreferredServerAssignor).
    pub fn preferred_assignor(&self, configured: &[String]) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.server_assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        let best = votes
            .iter()
            .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)));
        match best {
            Some((name, _)) => name.to_string(),
            None => configured
                .first()
                .cloned()
                .unwrap_or_else(|| assignor::UNIFORM.to_string()),
        }
    }

    /// Applies one record of this group replayed from `__consumer_offsets`.
    pub fn replay(&mut self, key: &records::Key, value: Option<&Bytes>, now: Instant) {
        let member_id = key.member_id.clone().unwrap_or_default();
        let r = (|| -> anyhow::Result<()> {
            match (key.record_type, value) {
                (records::GROUP_METADATA, Some(v)) => {
                    self.group_epoch = records::decode_epoch_value(v)?
                }
                (records::TARGET_ASSIGNMENT_METADATA, Some(v)) => {
                    self.assignment_epoch = records::decode_epoch_value(v)?
                }
                (records::PARTITION_METADATA, Some(v)) => {
                    self.subscription_metadata = records::decode_partition_metadata_value(v)?
                }
                (records::PARTITION_METADATA, None) => self.subscription_metadata.clear(),
                (records::MEMBER_METADATA, Some(v)) => {
                    let mut m = self
                        .members
                        .get(&member_id)
                        .cloned()
                        .unwrap_or_else(|| ConsumerMember::new(&member_id, now));
                    m.apply_metadata(records::decode_member_metadata_value(v)?);
                    self.update_member(m);
                }
                (records::MEMBER_METADATA, None) => {
                    self.remove_member(&member_id);
                }
                (records::TARGET_ASSIGNMENT_MEMBER, Some(v)) => {
                    self.target
                        .insert(member_id, records::decode_target_member_value(v)?);
                }
                (records::TARGET_ASSIGNMENT_MEMBER, None) => {
                    self.target.remove(&member_id);
                }
                (records::CURRENT_MEMBER_ASSIGNMENT, Some(v)) => {
                    let c = records::decode_current_assignment_value(v)?;
                    if let Some(mut m) = self.members.get(&member_id).cloned() {
                        m.member_epoch = c.member_epoch;
                        m.previous_member_epoch = c.previous_member_epoch;
                        m.state = MemberState::from_i8(c.state);
                        m.assigned = c.assigned;
                        m.pending_revocation = c.pending_revocation;
                        self.update_member(m);
                    }
                }
                (records::CURRENT_MEMBER_ASSIGNMENT, None) => {
                    if let Some(mut m) = self.members.get(&member_id).cloned() {
                        m.assigned.clear();
                        m.pending_revocation.clear();
                        self.update_member(m);
                    }
                }
                _ => {}
            }
            Ok(())
        })();
        if let Err(e) = r {
            tracing::warn!(group = %key.group_id, record_type = key.record_type, error = %e,
                "skipping undecodable consumer group record");
        }
    }
}

/// The topics `m` subscribes to: its names, plus the existing topics its regex matches.
/// Kafka compiles the regex with RE2/J; the `regex` crate's syntax is close to RE2's
/// (no look-around or back-references in either); an invalid regex matches nothing.
pub fn member_topics(m: &ConsumerMember, topic_names: &[String]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = m.subscribed_topic_names.iter().cloned().collect();
    if let Some(re) = m
        .subscribed_topic_regex
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        if let Ok(re) = regex::Regex::new(&format!("^(?:{re})$")) {
            out.extend(topic_names.iter().filter(|t| re.is_match(t)).cloned());
        }
    }
    out
}

/// Rebuilds the consumer groups from their replayed records (in log order) into the
/// group map; a group whose records were all deleted is not created.
pub fn replay_into(
    groups: &mut HashMap<String, super::GroupMetadata>,
    replayed: Vec<(records::Key, Option<Bytes>)>,
    now: Instant,
    session_timeout_ms: i32,
) {
    let mut consumer: HashMap<String, ConsumerGroup> = HashMap::new();
    for (key, value) in replayed {
        if key.record_type == records::GROUP_METADATA && value.is_none() {
            consumer.remove(&key.group_id);
            continue;
        }
        consumer
            .entry(key.group_id.clone())
            .or_default()
            .replay(&key, value.as_ref(), now);
    }
    for (id, mut cg) in consumer {
        // Members come back with a fresh session, as Kafka schedules them on load.
        for m in cg.members.values_mut() {
            let session = m
                .classic
                .as_ref()
                .map_or(session_timeout_ms, |c| c.session_timeout_ms);
            m.session_deadline = now + super::ms(session);
        }
        let g = groups
            .entry(id.clone())
            .or_insert_with(|| super::GroupMetadata::new(&id, 0));
        g.protocol_type = Some(super::CONSUMER_PROTOCOL_TYPE.to_string());
        g.state = if cg.members.is_empty() {
            super::GroupState::Empty
        } else {
            super::GroupState::Stable
        };
        g.subscribed_topics = Some(cg.subscription_metadata.keys().cloned().collect());
        g.consumer = Some(Box::new(cg));
    }
}
