//! One consumer group as the coordinator keeps it (Kafka's GroupMetadata and
//! MemberMetadata): state, generation, members, static members, pending members,
//! timers, and its committed offsets.
//!
//! The state machine (join, sync, heartbeat, leave, timers) is in [`membership`], offset
//! commits and expiry in [`offsets`], the `__consumer_offsets` record formats in
//! [`records`] and writing/replaying that topic in [`store`]. Everything here runs under
//! the group's own (non-async) lock: it must never await, never block on I/O other than
//! the page-cache append of its own records, and never touch another group.

pub mod consumer;
pub mod coordinator;
pub mod membership;
pub mod offsets;
pub mod records;
pub mod store;
pub mod txn_offsets;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use bytes::Bytes;
use indexmap::IndexMap;
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;
use tokio::sync::oneshot;

use crate::config::BrokerConfig;
use crate::error::ResponseError;
use crate::topics::{TopicPartition, TopicRegistry};
use records::{OffsetAndMetadata, StoredGroup, StoredMember};

pub use coordinator::{GroupCoordinator, GroupDescription, GroupListing, MemberDescription};

/// The protocol type of Kafka consumers; only their subscriptions are understood.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// How long a new member's JoinGroup may wait before it is dropped (Kafka's
/// NewMemberJoinTimeoutMs): its connection is muted, so its disconnect goes unnoticed.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: u64 = 300_000;

/// Kafka's group states, named as DescribeGroups and ListGroups report them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// The group settings, resolved once from the broker configuration.
#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: i32,
    pub max_size: i32,
    /// `sluice.group.max.groups`: the most groups the coordinator creates.
    pub max_groups: usize,
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: u64,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_segment_bytes: i32,
    pub offset_metadata_max_bytes: usize,
    /// `group.consumer.session.timeout.ms` (KIP-848 groups; the broker decides it).
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`, sent to every member.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.assignors`: the server-side assignors, the first the default.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.max.size`.
    pub consumer_max_size: i32,
    /// `group.consumer.migration.policy`: online upgrade/downgrade of live groups.
    pub consumer_migration_policy: consumer::config::MigrationPolicy,
}

impl GroupConfig {
    pub fn from_broker(c: &BrokerConfig) -> GroupConfig {
        GroupConfig {
            min_session_timeout_ms: c.group_min_session_timeout_ms,
            max_session_timeout_ms: c.group_max_session_timeout_ms,
            initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
            max_size: c.group_max_size,
            max_groups: c.group_max_groups,
            offsets_retention_ms: c.offsets_retention_ms,
            offsets_retention_check_interval_ms: c.offsets_retention_check_interval_ms,
            offsets_topic_num_partitions: c.offsets_topic_num_partitions,
            offsets_topic_segment_bytes: c.offsets_topic_segment_bytes,
            offset_metadata_max_bytes: c.offset_metadata_max_bytes,
            consumer_session_timeout_ms: consumer::config::int(
                c,
                "group.consumer.session.timeout.ms",
            ),
            consumer_heartbeat_interval_ms: consumer::config::int(
                c,
                "group.consumer.heartbeat.interval.ms",
            ),
            consumer_assignors: consumer::config::assignors(c),
            consumer_max_size: consumer::config::int(c, "group.consumer.max.size"),
            consumer_migration_policy: consumer::config::migration_policy(c),
        }
    }
}

/// What a group operation may use besides the group: the clock and the topic registry
/// holding `__consumer_offsets`.
pub struct Env<'a> {
    pub topics: &'a TopicRegistry,
    pub config: &'a GroupConfig,
    pub now: Instant,
    pub now_ms: i64,
}

/// One entry of a JoinGroup answer's member list (sent to the leader only).
#[derive(Clone, Debug)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// The answer to a JoinGroup, as the coordinator decides it.
#[derive(Clone, Debug)]
pub struct JoinResult {
    pub error: Option<ResponseError>,
    pub member_id: String,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: String,
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    pub fn error(member_id: &str, error: ResponseError) -> JoinResult {
        JoinResult {
            error: Some(error),
            member_id: member_id.to_string(),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader_id: String::new(),
            members: Vec::new(),
        }
    }
}

/// The answer to a SyncGroup.
#[derive(Clone, Debug)]
pub struct SyncResult {
    pub error: Option<ResponseError>,
    pub assignment: Bytes,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
}

impl SyncResult {
    pub fn error(error: ResponseError) -> SyncResult {
        SyncResult {
            error: Some(error),
            assignment: Bytes::new(),
            protocol_type: None,
            protocol_name: None,
        }
    }
}

pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// Set while the member's JoinGroup waits for the rebalance to complete.
    pub awaiting_join: Option<oneshot::Sender<JoinResult>>,
    /// Set while the member's SyncGroup waits for the leader's assignment.
    pub awaiting_sync: Option<oneshot::Sender<SyncResult>>,
    /// Joined during the current rebalance (it has no heartbeat yet).
    pub is_new: bool,
    pub heartbeat_deadline: Instant,
}

impl MemberMetadata {
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(n, _)| n == protocol)
    }

    /// Same protocols, in the same order, with the same metadata.
    pub fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    pub fn reply_join(&mut self, result: JoinResult) {
        if let Some(tx) = self.awaiting_join.take() {
            let _ = tx.send(result);
        }
    }

    pub fn reply_sync(&mut self, result: SyncResult) {
        if let Some(tx) = self.awaiting_sync.take() {
            let _ = tx.send(result);
        }
    }
}

/// The pending initial rebalance of a group that was empty (Kafka's InitialDelayedJoin):
/// how much of the rebalance timeout is left to extend the delay with.
#[derive(Clone, Copy, Debug)]
pub struct InitialDelay {
    pub remaining_ms: i64,
}

pub struct GroupMetadata {
    pub group_id: String,
    pub state: GroupState,
    /// When the group entered its state (Kafka's currentStateTimestamp), for expiry.
    pub state_timestamp_ms: Option<i64>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    pub members: IndexMap<String, MemberMetadata>,
    /// group.instance.id -> member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the deadline to rejoin.
    pub pending_members: HashMap<String, Instant>,
    /// Members that have not sent SyncGroup for the current generation yet.
    pub pending_sync: HashSet<String>,
    pub sync_deadline: Option<Instant>,
    /// When the join phase (PreparingRebalance) ends at the latest.
    pub join_deadline: Option<Instant>,
    pub initial_delay: Option<InitialDelay>,
    pub new_member_added: bool,
    /// Topics the members subscribe to (consumer protocol only; `None` if unknown).
    pub subscribed_topics: Option<HashSet<String>>,
    /// Committed offsets whose records are durable: what OffsetFetch answers.
    pub offsets: HashMap<(String, i32), OffsetAndMetadata>,
    /// OffsetCommits appended but not yet known durable, by the end offset of their
    /// batch in `__consumer_offsets`. They move to `offsets` (in log order) once that
    /// batch is fsync'd, or are dropped if its fsync failed, so a commit answered with
    /// an error is never seen by OffsetFetch.
    pub pending_offset_commits: BTreeMap<i64, Vec<(TopicPartition, OffsetAndMetadata)>>,
    /// Transactional offset commits (TxnOffsetCommit) waiting for their transaction's
    /// marker, by producer id: applied on commit, dropped on abort (`txn_offsets`).
    pub pending_txn_offsets: HashMap<i64, HashMap<(String, i32), OffsetAndMetadata>>,
    /// Set when this is a KIP-848 consumer group (its members, epochs and
    /// assignments); `None` for a classic group.
    pub consumer: Option<Box<consumer::ConsumerGroup>>,
}

impl GroupMetadata {
    pub fn new(group_id: &str, now_ms: i64) -> GroupMetadata {
        GroupMetadata {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            state_timestamp_ms: Some(now_ms),
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: IndexMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            sync_deadline: None,
            join_deadline: None,
            initial_delay: None,
            new_member_added: false,
            subscribed_topics: None,
            offsets: HashMap::new(),
            pending_txn_offsets: HashMap::new(),
            pending_offset_commits: BTreeMap::new(),
            consumer: None,
        }
    }

    /// Rebuilds a group from its last GroupMetadataValue (start-up replay). A group
    /// with members comes back Stable; they keep their generation and assignments and
    /// must heartbeat within their session timeout.
    pub fn from_stored(group_id: &str, g: StoredGroup, now: Instant) -> GroupMetadata {
        let mut group = GroupMetadata::new(group_id, 0);
        group.state_timestamp_ms = Some(g.current_state_timestamp).filter(|&t| t >= 0);
        group.generation_id = g.generation;
        group.protocol_type = Some(g.protocol_type.clone()).filter(|p| !p.is_empty());
        group.protocol_name = g.protocol.clone();
        group.leader_id = g.leader.clone();
        for m in g.members {
            if let Some(i) = &m.group_instance_id {
                group.static_members.insert(i.clone(), m.member_id.clone());
            }
            let protocols = match &g.protocol {
                Some(p) => vec![(p.clone(), m.subscription.clone())],
                None => Vec::new(),
            };
            let member = MemberMetadata {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                protocol_type: g.protocol_type.clone(),
                protocols,
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heartbeat_deadline: now + ms(m.session_timeout_ms),
            };
            group.members.insert(m.member_id, member);
        }
        group.state = if group.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        group.subscribed_topics = group.compute_subscribed_topics();
        group
    }

    /// The record Kafka writes for the group's current generation.
    pub fn to_stored(&self) -> StoredGroup {
        let protocol = self.protocol_name.clone();
        StoredGroup {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: protocol.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp: self.state_timestamp_ms.unwrap_or(-1),
            members: self
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: protocol
                        .as_deref()
                        .map(|p| m.metadata(p))
                        .unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    pub fn has(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    pub fn transition_to(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_timestamp_ms = Some(now_ms);
    }

    /// The longest rebalance timeout of any member: how long a rebalance may take.
    pub fn rebalance_timeout_ms(&self) -> i32 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// Kafka's isStaticMemberFenced: the instance id is known under another member id.
    pub fn is_static_member_fenced(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        instance_id
            .and_then(|i| self.static_members.get(i))
            .is_some_and(|m| m != member_id)
    }

    pub fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    /// Whether a member with these protocols may join: the first member sets the
    /// protocol type; later ones must share it and one protocol with every member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(p, _)| self.members.values().all(|m| m.supports(p)))
    }

    /// Picks the protocol every member supports with the most first-choice votes.
    pub fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| self.members.values().all(|m| m.supports(p)))
            .collect();
        let mut votes: Vec<(&str, usize)> = candidates.iter().map(|c| (*c, 0)).collect();
        for m in self.members.values() {
            if let Some((p, _)) = m
                .protocols
                .iter()
                .find(|(p, _)| candidates.contains(&p.as_str()))
            {
                if let Some(v) = votes.iter_mut().find(|(c, _)| c == p) {
                    v.1 += 1;
                }
            }
        }
        // Most votes; on a tie the earliest in the first member's preference order.
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes
            .into_iter()
            .find(|(_, n)| *n == best)
            .map(|(p, _)| p.to_string())
    }

    /// The topics the members subscribe to, read from their consumer-protocol metadata.
    pub fn compute_subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        if self.members.is_empty() {
            return Some(HashSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = HashSet::new();
        for m in self.members.values() {
            topics.extend(parse_subscription(&m.metadata(protocol))?);
        }
        Some(topics)
    }

    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(t) => t.contains(topic),
            None => true,
        }
    }

    /// The JoinGroup answer for `member_id` in the current generation.
    pub fn join_result(&self, member_id: &str, leader_id: Option<String>) -> JoinResult {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if self.is_leader(member_id) {
            self.members
                .values()
                .map(|m| JoinedMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            member_id: member_id.to_string(),
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader_id: leader_id
                .or_else(|| self.leader_id.clone())
                .unwrap_or_default(),
            members,
        }
    }
}

/// The topics of a ConsumerProtocolSubscription (int16 version, then the fields);
/// versions above the codec's are read as its highest, as Kafka reads newer versions.
pub fn parse_subscription(metadata: &[u8]) -> Option<Vec<String>> {
    if metadata.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([metadata[0], metadata[1]]).clamp(0, 3);
    let mut body = Bytes::copy_from_slice(&metadata[2..]);
    let s = ConsumerProtocolSubscription::decode(&mut body, version).ok()?;
    Some(s.topics.iter().map(|t| t.to_string()).collect())
}

pub fn ms(v: impl TryInto<u64>) -> std::time::Duration {
    std::time::Duration::from_millis(v.try_into().unwrap_or(0))
}
