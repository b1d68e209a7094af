//! The group coordinator (Kafka's `GroupCoordinator` for the classic consumer group
//! protocol): every group and its committed offsets, each group behind its own lock.
//!
//! The map lock is held only to find or insert a group, never while a group's state
//! changes. API handlers call it with plain values (never wire types); waiting
//! (JoinGroup until the rebalance completes, SyncGroup until the leader's assignment,
//! OffsetCommit until its fsync) happens outside every lock. State is rebuilt at
//! start-up by replaying `__consumer_offsets`, before the listener accepts connections,
//! so there is no COORDINATOR_LOAD_IN_PROGRESS window.
//!
//! It is given exactly what it uses: the topic registry holding `__consumer_offsets`
//! and a clock. It never parses Kafka requests, never touches sockets and never reaches
//! the broker that wires it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use parking_lot::Mutex;

use super::membership::{JoinOutcome, JoinRequest, SyncOutcome, SyncRequest};
use super::records::OffsetAndMetadata;
use super::{Env, GroupConfig, GroupMetadata, GroupState, JoinResult, SyncResult};
use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::error::ResponseError;
use crate::topics::{TopicPartition, TopicRegistry};

/// The longest the timer task sleeps between looks at the groups' deadlines (sessions,
/// rebalance and sync timeouts). It sleeps until the earliest deadline it knows, so a
/// timer fires at its deadline, as Kafka's do; this bound only makes it notice
/// deadlines set while it sleeps (every deadline is at least a timeout away when set).
const TIMER_TICK: Duration = Duration::from_millis(100);

/// At most one warning per this interval about refused new groups.
const LIMIT_LOG_INTERVAL_MS: i64 = 10_000;

/// A group as ListGroups shows it.
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
    /// The state as Kafka names it for this kind of group.
    pub state_name: &'static str,
    /// "classic" or "consumer" (KIP-848).
    pub group_type: &'static str,
}

/// A member as DescribeGroups shows it.
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it (Kafka's GroupSummary).
pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

pub(super) type GroupRef = Arc<Mutex<GroupMetadata>>;

pub struct GroupCoordinator {
    config: GroupConfig,
    /// Where `__consumer_offsets` lives.
    pub(super) topics: Arc<TopicRegistry>,
    clock: Clock,
    groups: Mutex<HashMap<String, GroupRef>>,
    /// When a refused new group was last logged (ms; see `warn_group_limit`).
    group_limit_logged_ms: AtomicI64,
}

impl GroupCoordinator {
    /// Rebuilds every group from `__consumer_offsets` (if it exists).
    pub fn load(
        config: &BrokerConfig,
        topics: Arc<TopicRegistry>,
        clock: Clock,
    ) -> Result<GroupCoordinator> {
        super::consumer::config::validate(config)?;
        let started = Instant::now();
        let replayed = super::store::replay(&topics)?;
        let now = clock.now();
        let mut groups: HashMap<String, GroupMetadata> = HashMap::new();
        for (id, stored) in replayed.groups {
            groups.insert(id.clone(), GroupMetadata::from_stored(&id, stored, now));
        }
        for (id, offsets) in replayed.offsets {
            if offsets.is_empty() && !groups.contains_key(&id) {
                continue;
            }
            let g = groups.entry(id.clone()).or_insert_with(|| {
                let mut g = GroupMetadata::new(&id, 0);
                g.state_timestamp_ms = None;
                g
            });
            g.offsets = offsets;
        }
        for (producer_id, by_group) in replayed.pending {
            for (id, offsets) in by_group {
                let g = groups.entry(id.clone()).or_insert_with(|| {
                    let mut g = GroupMetadata::new(&id, 0);
                    g.state_timestamp_ms = None;
                    g
                });
                g.pending_txn_offsets
                    .entry(producer_id)
                    .or_default()
                    .extend(offsets);
            }
        }
        if replayed.records > 0 {
            tracing::info!(
                groups = groups.len(),
                records = replayed.records,
                ms = started.elapsed().as_millis() as u64,
                "loaded consumer groups from __consumer_offsets"
            );
        }
        let config = GroupConfig::from_broker(config);
        super::consumer::replay_into(
            &mut groups,
            replayed.consumer_records,
            now,
            config.consumer_session_timeout_ms,
        );
        if groups.len() > config.max_groups {
            // Acknowledged state is never dropped: new groups wait for room instead.
            tracing::warn!(
                groups = groups.len(),
                max_groups = config.max_groups,
                "__consumer_offsets holds more groups than sluice.group.max.groups; all are loaded, new ones are refused until some are deleted or expire"
            );
        }
        Ok(GroupCoordinator {
            config,
            topics,
            clock,
            group_limit_logged_ms: AtomicI64::new(i64::MIN),
            groups: Mutex::new(
                groups
                    .into_iter()
                    .map(|(k, v)| (k, Arc::new(Mutex::new(v))))
                    .collect(),
            ),
        })
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    pub(super) fn env(&self) -> Env<'_> {
        Env {
            topics: &self.topics,
            config: &self.config,
            now: self.clock.now(),
            now_ms: self.clock.now_ms(),
        }
    }

    pub(super) fn group(&self, group_id: &str) -> Option<GroupRef> {
        self.groups.lock().get(group_id).cloned()
    }

    /// The group, created (Empty) if missing, unless the coordinator already holds
    /// `sluice.group.max.groups` groups: then GROUP_MAX_SIZE_REACHED.
    pub(super) fn group_or_create(&self, group_id: &str) -> Result<GroupRef, ResponseError> {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get(group_id) {
            return Ok(g.clone());
        }
        if groups.len() >= self.config.max_groups {
            let held = groups.len();
            drop(groups);
            self.warn_group_limit(group_id, held);
            return Err(ResponseError::GroupMaxSizeReached);
        }
        let g = Arc::new(Mutex::new(GroupMetadata::new(
            group_id,
            self.clock.now_ms(),
        )));
        groups.insert(group_id.to_string(), g.clone());
        Ok(g)
    }

    /// Logs a refused new group, at most once per [`LIMIT_LOG_INTERVAL_MS`] (a refused
    /// consumer keeps rejoining).
    fn warn_group_limit(&self, group_id: &str, held: usize) {
        let now = self.clock.now_ms();
        let last = self.group_limit_logged_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= LIMIT_LOG_INTERVAL_MS
            && self
                .group_limit_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                group = %group_id,
                groups = held,
                max_groups = self.config.max_groups,
                "refusing a new consumer group with GROUP_MAX_SIZE_REACHED: sluice.group.max.groups reached"
            );
        }
    }

    /// Drops a group that became Dead from the map (if it is still the same group).
    pub(super) fn forget(&self, group_id: &str, group: &GroupRef) {
        let mut groups = self.groups.lock();
        if groups.get(group_id).is_some_and(|g| Arc::ptr_eq(g, group)) {
            groups.remove(group_id);
        }
    }

    pub(super) fn all_groups(&self) -> Vec<(String, GroupRef)> {
        self.groups
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    // ---- membership -----------------------------------------------------------------

    pub async fn join_group(&self, group_id: &str, req: JoinRequest) -> JoinResult {
        if group_id.is_empty() {
            return JoinResult::error(&req.member_id, ResponseError::InvalidGroupId);
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return JoinResult::error(&req.member_id, ResponseError::InvalidSessionTimeout);
        }
        let group = if req.member_id.is_empty() {
            match self.group_or_create(group_id) {
                Ok(g) => g,
                Err(e) => return JoinResult::error(&req.member_id, e),
            }
        } else {
            match self.group(group_id) {
                Some(g) => g,
                None => return JoinResult::error(&req.member_id, ResponseError::UnknownMemberId),
            }
        };
        let member_id = req.member_id.clone();
        let outcome = {
            let env = self.env();
            group.lock().join(&env, req)
        };
        match outcome {
            JoinOutcome::Ready(r) => r,
            JoinOutcome::ReadyWhenDurable(r, appended) => match appended.durable().await {
                Ok(()) => r,
                Err(e) => JoinResult::error(&member_id, e),
            },
            JoinOutcome::Wait(rx) => rx.await.unwrap_or_else(|_| {
                JoinResult::error(&member_id, ResponseError::RebalanceInProgress)
            }),
        }
    }

    pub async fn sync_group(&self, group_id: &str, req: SyncRequest) -> SyncResult {
        if group_id.is_empty() {
            return SyncResult::error(ResponseError::InvalidGroupId);
        }
        let Some(group) = self.group(group_id) else {
            return SyncResult::error(ResponseError::UnknownMemberId);
        };
        let outcome = {
            let env = self.env();
            group.lock().sync(&env, req)
        };
        match outcome {
            SyncOutcome::Ready(r) => r,
            SyncOutcome::Wait(rx, appended) => {
                if let Some(a) = appended {
                    if let Err(e) = a.durable().await {
                        return SyncResult::error(e);
                    }
                }
                rx.await
                    .unwrap_or_else(|_| SyncResult::error(ResponseError::RebalanceInProgress))
            }
        }
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Option<ResponseError> {
        if group_id.is_empty() {
            return Some(ResponseError::InvalidGroupId);
        }
        let Some(group) = self.group(group_id) else {
            return Some(ResponseError::UnknownMemberId);
        };
        let env = self.env();
        let r = group
            .lock()
            .heartbeat(&env, member_id, instance_id, generation_id);
        r
    }

    /// Per leaving member, its error; `Err` is a group-level error.
    pub fn leave_group(
        &self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
    ) -> Result<Vec<Option<ResponseError>>, ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let Some(group) = self.group(group_id) else {
            return Ok(vec![Some(ResponseError::UnknownMemberId); leaving.len()]);
        };
        let env = self.env();
        let r = group.lock().leave(&env, leaving);
        r
    }

    // ---- offsets --------------------------------------------------------------------

    /// Validates and stores commits, waiting until they are durable. One error for all
    /// partitions, as Kafka answers group-level failures.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        commits: Vec<(TopicPartition, OffsetAndMetadata)>,
        api_version: i16,
    ) -> Result<(), ResponseError> {
        let group = match self.group(group_id) {
            Some(g) => g,
            None if generation_id < 0 => self.group_or_create(group_id)?,
            // v9+ says so; older versions keep Kafka's historical ILLEGAL_GENERATION.
            None if api_version >= 9 => return Err(ResponseError::GroupIdNotFound),
            None => return Err(ResponseError::IllegalGeneration),
        };
        let appended = {
            let env = self.env();
            let mut g = group.lock();
            if g.consumer.is_some() {
                g.validate_consumer_offset_commit(member_id, generation_id)?;
                // Kafka: consumer-protocol members commit with OffsetCommit v9+.
                if api_version < 9
                    && !(generation_id < 0 && member_id.is_empty())
                    && !g.is_classic_member_of_consumer_group(member_id)
                {
                    return Err(ResponseError::UnsupportedVersion);
                }
            } else {
                g.validate_offset_commit(member_id, instance_id, generation_id)?;
            }
            if commits.is_empty() {
                return Ok(());
            }
            g.commit_offsets(&env, member_id, commits)
                .map_err(|e| e.error)?
        };
        // In a task of its own, so the staged commits are applied (or dropped) even if
        // the client goes away while the fsync runs: a durable commit left staged would
        // stay invisible until the next restart's replay.
        let end_offset = appended.end_offset();
        let waiter = tokio::spawn(async move {
            let durable = appended.durable().await;
            group
                .lock()
                .complete_offset_commits(end_offset, durable.is_ok());
            durable
        });
        match waiter.await {
            Ok(durable) => durable,
            Err(e) => {
                tracing::error!(group = group_id, error = %e, "offset commit completion failed");
                Err(ResponseError::UnknownServerError)
            }
        }
    }

    /// TxnOffsetCommit: validates and stages a transaction's commits, waiting until
    /// they are durable; they become visible when the transaction commits
    /// ([`GroupCoordinator::complete_txn_offsets`]). The group is created if missing, as
    /// Kafka does for transactional commits.
    #[allow(clippy::too_many_arguments)]
    pub async fn txn_commit_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        producer_id: i64,
        producer_epoch: i16,
        commits: Vec<(TopicPartition, OffsetAndMetadata)>,
    ) -> Result<(), ResponseError> {
        let group = self.group_or_create(group_id)?;
        let appended = {
            let env = self.env();
            let mut g = group.lock();
            if g.consumer.is_some() {
                g.validate_consumer_offset_commit(member_id, generation_id)?;
            } else {
                g.validate_txn_offset_commit(member_id, instance_id, generation_id)?;
            }
            if commits.is_empty() {
                return Ok(());
            }
            g.txn_commit_offsets(&env, producer_id, producer_epoch, commits)
                .map_err(|e| e.error)?
        };
        appended.durable().await
    }

    /// The transaction coordinator's marker for `producer_id` in `__consumer_offsets`
    /// partition `offsets_partition` is durable: apply (commit) or drop (abort) the
    /// producer's staged offsets of the groups in that partition.
    pub fn complete_txn_offsets(&self, offsets_partition: i32, producer_id: i64, commit: bool) {
        let count = self
            .topics
            .get(super::store::OFFSETS_TOPIC)
            .map(|t| t.partitions.len() as i32)
            .unwrap_or(self.config.offsets_topic_num_partitions);
        for (id, group) in self.all_groups() {
            if super::store::partition_for(&id, count) != offsets_partition {
                continue;
            }
            let applied = group.lock().complete_txn_offsets(producer_id, commit);
            if applied > 0 {
                tracing::debug!(group = %id, producer_id, applied, "transactional offsets committed");
            }
        }
    }

    /// Whether an offset for the partition is in flight: staged by an open transaction,
    /// or committed but not yet durable (as Kafka's pending offset commits count).
    /// OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT then.
    pub fn has_unstable_offset(&self, group_id: &str, tp: &TopicPartition) -> bool {
        self.group(group_id).is_some_and(|g| {
            let g = g.lock();
            g.has_pending_txn_offset(tp) || g.has_pending_offset_commit(tp)
        })
    }

    /// The committed offsets of the given partitions (`None`: every partition with a
    /// commit). A group or partition without a commit answers `None`, not an error.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Vec<(TopicPartition, Option<OffsetAndMetadata>)> {
        let group = self.group(group_id);
        let group = group.as_ref().map(|g| g.lock());
        match partitions {
            Some(list) => list
                .iter()
                .map(|tp| {
                    let o = group.as_ref().and_then(|g| g.offsets.get(tp).cloned());
                    (tp.clone(), o)
                })
                .collect(),
            None => {
                let mut all: Vec<_> = group
                    .map(|g| {
                        g.offsets
                            .iter()
                            .map(|(k, v)| (k.clone(), Some(v.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                all.sort_by(|a: &(TopicPartition, _), b| a.0.cmp(&b.0));
                all
            }
        }
    }

    /// OffsetDelete: per partition, its error; `Err` is a group-level error.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<Option<ResponseError>>, ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let Some(group) = self.group(group_id) else {
            return Err(ResponseError::GroupIdNotFound);
        };
        let env = self.env();
        let mut g = group.lock();
        if g.is(GroupState::Dead) {
            return Err(ResponseError::GroupIdNotFound);
        }
        let consumer = g.protocol_type.as_deref() == Some(super::CONSUMER_PROTOCOL_TYPE);
        if !consumer && !g.is(GroupState::Empty) {
            return Err(ResponseError::NonEmptyGroup);
        }
        let mut errors = Vec::with_capacity(partitions.len());
        let mut doomed = Vec::new();
        for (topic, partition) in partitions {
            if consumer && !g.is(GroupState::Empty) && g.is_subscribed_to(topic) {
                errors.push(Some(ResponseError::GroupSubscribedToTopic));
            } else {
                errors.push(None);
                doomed.push((topic.clone(), *partition));
            }
        }
        g.delete_offsets(&env, &doomed).map_err(|e| e.error)?;
        Ok(errors)
    }

    // ---- admin ----------------------------------------------------------------------

    pub fn list_groups(&self) -> Vec<GroupListing> {
        let mut out: Vec<GroupListing> = self
            .all_groups()
            .into_iter()
            .filter_map(|(id, g)| {
                let g = g.lock();
                (!g.is(GroupState::Dead)).then(|| GroupListing {
                    group_id: id,
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    state: g.state,
                    state_name: match &g.consumer {
                        Some(c) => c.state().name(),
                        None => g.state.name(),
                    },
                    group_type: if g.consumer.is_some() {
                        "consumer"
                    } else {
                        "classic"
                    },
                })
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// Whether a live (not Dead) group of the consumer protocol (KIP-848) has this id:
    /// DescribeGroups names such a group as "not a classic group" rather than unknown.
    pub fn is_consumer_group(&self, group_id: &str) -> bool {
        self.group(group_id).is_some_and(|group| {
            let g = group.lock();
            !g.is(GroupState::Dead) && g.consumer.is_some()
        })
    }

    /// Kafka's GroupSummary: member metadata and assignments only while Stable.
    pub fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        let group = self.group(group_id)?;
        let g = group.lock();
        if g.is(GroupState::Dead) || g.consumer.is_some() {
            return None;
        }
        let stable = g.is(GroupState::Stable);
        let protocol = if stable {
            g.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let members = g
            .members
            .values()
            .map(|m| MemberDescription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata(&protocol)
                } else {
                    Bytes::new()
                },
                assignment: if stable {
                    m.assignment.clone()
                } else {
                    Bytes::new()
                },
            })
            .collect();
        Some(GroupDescription {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol,
            members,
        })
    }

    /// DeleteGroups: only empty groups; per group, its error.
    pub fn delete_groups(&self, group_ids: &[String]) -> Vec<Option<ResponseError>> {
        group_ids
            .iter()
            .map(|id| {
                let Some(group) = self.group(id) else {
                    return Some(ResponseError::GroupIdNotFound);
                };
                let env = self.env();
                let mut g = group.lock();
                match g.state {
                    GroupState::Dead => Some(ResponseError::GroupIdNotFound),
                    GroupState::Empty => match g.delete_group(&env) {
                        Ok(()) => {
                            drop(g);
                            self.forget(id, &group);
                            tracing::info!(group = %id, "deleted group");
                            None
                        }
                        Err(e) => Some(e.error),
                    },
                    _ => Some(ResponseError::NonEmptyGroup),
                }
            })
            .collect()
    }

    // ---- timers ---------------------------------------------------------------------

    /// Fires the expired group timers of every group; returns the time it judged them
    /// at and the earliest deadline still pending then.
    pub fn tick(&self) -> (Instant, Option<Instant>) {
        let env = self.env();
        let mut next: Option<Instant> = None;
        for (_, group) in self.all_groups() {
            let mut g = group.lock();
            g.tick(&env);
            if let Some(d) = g.next_deadline() {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        (env.now, next)
    }

    /// How long the timer task may sleep after a tick that judged the groups at
    /// `judged_at` and found `next` as the earliest deadline: until that deadline, at most
    /// [`TIMER_TICK`]. A deadline that passed while the tick ran (other groups' timers took
    /// that long) is due at once; one already past when the tick judged it (its timer could
    /// not act, e.g. a failed write) is retried after [`TIMER_TICK`].
    pub fn timer_wait(&self, judged_at: Instant, next: Option<Instant>) -> Duration {
        let now = self.clock.now();
        match next {
            Some(d) if d > now => (d - now).min(TIMER_TICK),
            Some(d) if d > judged_at => Duration::ZERO,
            _ => TIMER_TICK,
        }
    }

    /// Expires old offsets and removes groups left empty with nothing committed.
    pub fn expire_offsets(&self) {
        let env = self.env();
        for (id, group) in self.all_groups() {
            let remove = group.lock().expire_offsets(&env);
            if remove {
                self.forget(&id, &group);
            }
        }
    }
}

/// Runs the group timers and offset expiry until the returned task is aborted.
pub fn spawn_timers(coordinator: Arc<GroupCoordinator>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let check = Duration::from_millis(
            coordinator
                .config
                .offsets_retention_check_interval_ms
                .max(1),
        );
        let mut next_expiry = tokio::time::Instant::now() + check;
        let mut expiry: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            let (judged_at, next) = coordinator.tick();
            tokio::time::sleep(coordinator.timer_wait(judged_at, next)).await;
            let idle = expiry.as_ref().is_none_or(|h| h.is_finished());
            if idle && tokio::time::Instant::now() >= next_expiry {
                next_expiry = tokio::time::Instant::now() + check;
                let c = coordinator.clone();
                // Expiry may append tombstones to many groups: keep it off the workers,
                // and off this loop, so that session timers never wait for it.
                expiry = Some(tokio::task::spawn_blocking(move || c.expire_offsets()));
            }
        }
    })
}

impl crate::coordinator::transaction::TxnOffsetsListener for GroupCoordinator {
    fn complete_txn_offsets(&self, offsets_partition: i32, producer_id: i64, commit: bool) {
        GroupCoordinator::complete_txn_offsets(self, offsets_partition, producer_id, commit)
    }
}
