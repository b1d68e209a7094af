//! KIP-932 share groups ("queues for Kafka"): the share group coordinator (membership,
//! epochs, assignment: [`group`]), the share-partition state machine ([`partition`]),
//! share sessions and record acquisition for ShareFetch/ShareAcknowledge ([`fetch`]),
//! and the share coordinator's durable state in `__share_group_state` ([`store`]).
//!
//! One lock guards the share groups, share-partitions and sessions: a state change
//! and the append of the record that persists it happen under it, so the log holds
//! the states in the order they happened; the wait for the fsync happens after the
//! lock is released, before the client is answered. The delivery state of every
//! share-partition is durable, and so are the group configs set with
//! IncrementalAlterConfigs (`<log.dirs>/share-group-configs`, replaced atomically
//! before the change is answered) and the groups' membership (`<log.dirs>/share-groups`:
//! epochs, members, subscriptions, assignments; rewritten whenever an epoch changes),
//! so after a restart a group is still listed, described and deletable, and a member
//! that comes back within its session keeps its epoch; one that does not expires. A timer returns records whose acquisition lock ran
//! out even when nobody fetches, as Kafka's lock timer tasks do. Never parses Kafka
//! requests and never touches sockets.

pub mod admin;
pub mod config;
pub mod fetch;
pub mod group;
pub mod partition;
pub mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use parking_lot::Mutex;

use crate::clock::Clock;
use crate::error::{KafkaError, ResponseError};
use crate::topics::TopicRegistry;
pub use config::ShareConfig;
use group::{Heartbeat, HeartbeatResult, ShareGroup, TopicsMetadata};
use partition::{Limits, SharePartition};
use store::{SharePartitionKey, StateRecord};

/// The group configs file in `log.dirs` (JSON: `{"version":1,"groups":{group:{name:value}}}`).
pub const GROUP_CONFIGS_FILE: &str = "share-group-configs";
/// The share groups' membership in `log.dirs` (JSON: `{"version":1,"groups":{group:ShareGroup}}`).
pub const GROUPS_FILE: &str = "share-groups";

/// The share coordinator and share-partition manager of this broker.
pub struct ShareCoordinator {
    config: ShareConfig,
    topics: Arc<TopicRegistry>,
    clock: Clock,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    groups: BTreeMap<String, ShareGroup>,
    partitions: HashMap<SharePartitionKey, SharePartition>,
    sessions: HashMap<(String, String), fetch::ShareSession>,
    /// Group configs set with IncrementalAlterConfigs (GROUP resources).
    group_configs: HashMap<String, BTreeMap<String, String>>,
    /// Snapshot epochs per share-partition (ShareSnapshot's SnapshotEpoch).
    snapshot_epochs: HashMap<SharePartitionKey, u16>,
}

/// A share group as ShareGroupDescribe shows it.
#[derive(Clone, Debug)]
pub struct DescribedShareGroup {
    pub group: ShareGroup,
}

impl ShareCoordinator {
    /// Rebuilds every share-partition from `__share_group_state`.
    pub fn load(
        config: ShareConfig,
        topics: Arc<TopicRegistry>,
        clock: Clock,
    ) -> Result<ShareCoordinator> {
        let mut inner = Inner::default();
        for (key, records) in store::replay(&topics)? {
            let mut sp: Option<SharePartition> = None;
            for r in records {
                match sp.as_mut() {
                    Some(p) if !r.snapshot => {
                        p.apply_update((r.start_offset >= 0).then_some(r.start_offset), &r.batches)
                    }
                    _ => {
                        inner.snapshot_epochs.insert(key.clone(), r.snapshot_epoch);
                        sp = Some(SharePartition::from_snapshot(
                            r.state_epoch,
                            r.start_offset,
                            &r.batches,
                        ))
                    }
                }
            }
            if let Some(p) = sp {
                inner.partitions.insert(key, p);
            }
        }
        if let Some(dir) = &config.state_dir {
            inner.group_configs = load_group_configs(dir)?;
            inner.groups = load_groups(dir)?;
            let now = clock.now_ms();
            for (id, g) in inner.groups.iter_mut() {
                let session = inner
                    .group_configs
                    .get(id)
                    .and_then(|c| c.get("share.session.timeout.ms"))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(config.session_timeout_ms);
                for m in g.members.values_mut() {
                    m.session_deadline_ms = now + session;
                }
            }
        }
        if !inner.partitions.is_empty() {
            tracing::info!(
                share_partitions = inner.partitions.len(),
                "loaded share-partition state from __share_group_state"
            );
        }
        Ok(ShareCoordinator {
            config,
            topics,
            clock,
            inner: Mutex::new(inner),
        })
    }

    pub fn config(&self) -> &ShareConfig {
        &self.config
    }

    fn topics_metadata(&self, names: &BTreeSet<String>) -> TopicsMetadata {
        names
            .iter()
            .filter_map(|n| {
                let t = self.topics.get(n)?;
                Some((n.clone(), (t.id, t.partitions.len() as i32)))
            })
            .collect()
    }

    /// A group config value: the group's own setting, else the broker default.
    fn group_config(&self, inner: &Inner, group: &str, name: &str) -> Option<String> {
        inner
            .group_configs
            .get(group)
            .and_then(|c| c.get(name).cloned())
    }

    fn limits(&self, inner: &Inner, group: &str) -> Limits {
        let int = |name: &str, default: i64| {
            self.group_config(inner, group, name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        Limits {
            record_lock_duration_ms: int(
                "share.record.lock.duration.ms",
                self.config.record_lock_duration_ms,
            ),
            delivery_count_limit: int(
                "share.delivery.count.limit",
                self.config.delivery_count_limit as i64,
            ) as i16,
            max_record_locks: self.config.partition_max_record_locks,
        }
    }

    pub fn is_share_group(&self, group_id: &str) -> bool {
        self.inner.lock().groups.contains_key(group_id)
    }

    /// ShareGroupHeartbeat.
    pub fn heartbeat(
        &self,
        group_id: &str,
        hb: Heartbeat,
    ) -> Result<(HeartbeatResult, i32), (ResponseError, String)> {
        let now = self.clock.now_ms();
        let mut inner = self.inner.lock();
        let session_timeout = self.session_timeout_ms(&inner, group_id);
        let interval = self
            .group_config(&inner, group_id, "share.heartbeat.interval.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.config.heartbeat_interval_ms);
        if !inner.groups.contains_key(group_id) {
            if hb.member_epoch != 0 {
                return Err((
                    ResponseError::UnknownMemberId,
                    format!("Share group {group_id} not found."),
                ));
            }
            if inner.groups.len() >= self.config.max_groups {
                return Err((
                    ResponseError::GroupMaxSizeReached,
                    format!(
                        "The maximum number of share groups ({}) has been reached.",
                        self.config.max_groups
                    ),
                ));
            }
        }
        let member_id = hb.member_id.clone();
        let leaving = hb.member_epoch == -1;
        let before = inner.groups.get(group_id).map(|g| {
            let (epoch, members) = g.membership();
            (
                epoch,
                members
                    .into_iter()
                    .map(|(m, e)| (m.to_string(), e))
                    .collect::<Vec<_>>(),
            )
        });
        let group = inner.groups.entry(group_id.to_string()).or_default();
        let result = group.heartbeat(
            hb,
            |n| self.topics_metadata(n),
            now,
            session_timeout,
            self.config.max_size,
        )?;
        let (epoch, members) = group.membership();
        let after = (
            epoch,
            members
                .into_iter()
                .map(|(m, e)| (m.to_string(), e))
                .collect::<Vec<_>>(),
        );
        if before.as_ref() != Some(&after) {
            self.write_groups(&inner);
        }
        if leaving {
            // Kafka's share-partition leaders hear nothing of a member leaving its group:
            // the member's share session and the records it holds stay for its final
            // ShareAcknowledge or ShareFetch (epoch -1), which clients send after the
            // leave heartbeat (librdkafka does) with the acknowledgements of the records
            // it consumed last. Closing the session here refused those with
            // SHARE_SESSION_NOT_FOUND and redelivered the records. A member that never
            // sends it loses the session in `expire_members` after a session timeout.
            let key = (group_id.to_string(), member_id.clone());
            match inner.sessions.get_mut(&key) {
                Some(session) => session.departed_ms = Some(now),
                None => self.member_gone(&mut inner, group_id, &member_id),
            }
        }
        Ok((result, interval as i32))
    }

    /// `share.session.timeout.ms` of the group, or the broker's.
    fn session_timeout_ms(&self, inner: &Inner, group_id: &str) -> i64 {
        self.group_config(inner, group_id, "share.session.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.config.session_timeout_ms)
    }

    /// The member left or expired: its share sessions close and what it held returns.
    fn member_gone(&self, inner: &mut Inner, group_id: &str, member_id: &str) {
        inner
            .sessions
            .remove(&(group_id.to_string(), member_id.to_string()));
        let limits = self.limits(inner, group_id);
        let now = self.clock.now_ms();
        let keys: Vec<SharePartitionKey> = inner
            .partitions
            .keys()
            .filter(|k| k.0 == group_id)
            .cloned()
            .collect();
        for key in keys {
            let changed = inner
                .partitions
                .get_mut(&key)
                .is_some_and(|p| p.release_member(member_id, &limits));
            if changed {
                // Not awaited: nothing is answered on it, and the state it records
                // (released records) is also what a restart would rebuild.
                let _ = self.persist(inner, &key, now);
            }
        }
    }

    /// Removes members whose session expired (the coordinator's timer).
    pub fn expire_members(&self) {
        let now = self.clock.now_ms();
        let mut inner = self.inner.lock();
        let ids: Vec<String> = inner.groups.keys().cloned().collect();
        for id in ids {
            let gone = inner
                .groups
                .get_mut(&id)
                .map(|g| g.expire_members(now, |n| self.topics_metadata(n)))
                .unwrap_or_default();
            if !gone.is_empty() {
                self.write_groups(&inner);
            }
            for m in gone {
                tracing::info!(group = %id, member = %m, "share group member session expired");
                self.member_gone(&mut inner, &id, &m);
            }
        }
        // Members that left their group but never sent their final request.
        let departed: Vec<(String, String)> = inner
            .sessions
            .iter()
            .filter(|((group_id, member_id), session)| {
                let rejoined = || {
                    inner
                        .groups
                        .get(group_id)
                        .is_some_and(|g| g.members.contains_key(member_id))
                };
                session.departed_ms.is_some_and(|left_ms| {
                    now - left_ms >= self.session_timeout_ms(&inner, group_id)
                }) && !rejoined()
            })
            .map(|(key, _)| key.clone())
            .collect();
        for (group_id, member_id) in departed {
            tracing::info!(group = %group_id, member = %member_id, "share session of a member that left closed without its final request");
            self.member_gone(&mut inner, &group_id, &member_id);
        }
    }

    /// ShareGroupDescribe: `None` if no share group has this id.
    pub fn describe(&self, group_id: &str) -> Option<DescribedShareGroup> {
        let inner = self.inner.lock();
        inner
            .groups
            .get(group_id)
            .map(|g| DescribedShareGroup { group: g.clone() })
    }

    /// (group id, state) of every share group, for ListGroups.
    pub fn list(&self) -> Vec<(String, &'static str)> {
        self.inner
            .lock()
            .groups
            .iter()
            .map(|(id, g)| (id.clone(), g.state_name()))
            .collect()
    }

    /// DeleteGroups of a share group: NON_EMPTY_GROUP with members, else its groups
    /// and share-partition state are removed (tombstones in `__share_group_state`).
    pub async fn delete_group(&self, group_id: &str) -> Result<(), ResponseError> {
        let now = self.clock.now_ms();
        let pending = {
            let mut inner = self.inner.lock();
            match inner.groups.get(group_id) {
                None => return Err(ResponseError::GroupIdNotFound),
                Some(g) if !g.members.is_empty() => return Err(ResponseError::NonEmptyGroup),
                Some(_) => {}
            }
            let keys: Vec<SharePartitionKey> = inner
                .partitions
                .keys()
                .filter(|k| k.0 == group_id)
                .cloned()
                .collect();
            let mut pending = Vec::new();
            for key in keys {
                pending.push(
                    store::append(
                        &self.topics,
                        self.config.state_topic_partitions,
                        &key,
                        None,
                        now,
                    )
                    .map_err(|e| e.error)?,
                );
                inner.partitions.remove(&key);
                inner.snapshot_epochs.remove(&key);
            }
            inner.groups.remove(group_id);
            self.write_groups(&inner);
            if inner.group_configs.remove(group_id).is_some() {
                if let Err(e) = self.write_group_configs(&inner.group_configs) {
                    // The group is gone either way; stale configs only return with a
                    // group of the same name.
                    tracing::warn!(group = %group_id, error = %e, "could not rewrite the share group configs");
                }
            }
            pending
        };
        for p in pending {
            p.durable().await?;
        }
        Ok(())
    }

    /// Records currently acquired by a member (in flight), summed per share group.
    pub fn acquired_records_by_group(&self) -> BTreeMap<String, usize> {
        let inner = self.inner.lock();
        let mut out = BTreeMap::new();
        for ((group, _, _), p) in &inner.partitions {
            let acquired = p
                .records()
                .filter(|(_, state, _)| *state == partition::RecordState::Acquired)
                .count();
            *out.entry(group.clone()).or_insert(0) += acquired;
        }
        out
    }

    /// DescribeShareGroupOffsets: (start offset, delivery complete count) of each
    /// share-partition the group has state for; `None` for a group that does not exist.
    pub fn start_offsets(&self, group_id: &str) -> Option<BTreeMap<(uuid::Uuid, i32), (i64, i64)>> {
        let inner = self.inner.lock();
        let known = inner.groups.contains_key(group_id);
        let offsets: BTreeMap<(uuid::Uuid, i32), (i64, i64)> = inner
            .partitions
            .iter()
            .filter(|(k, _)| k.0 == group_id)
            .map(|(k, p)| ((k.1, k.2), (p.start_offset, p.delivery_complete_count())))
            .collect();
        (known || !offsets.is_empty()).then_some(offsets)
    }

    /// Sets share group configs (IncrementalAlterConfigs on a GROUP resource), durable
    /// in the group configs file before this returns.
    pub fn set_group_config(
        &self,
        group_id: &str,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), KafkaError> {
        config::validate_group_config(name, value)?;
        let mut inner = self.inner.lock();
        let mut all = inner.group_configs.clone();
        let configs = all.entry(group_id.to_string()).or_default();
        match value {
            Some(v) => configs.insert(name.to_string(), v.to_string()),
            None => configs.remove(name),
        };
        if configs.is_empty() {
            all.remove(group_id);
        }
        self.write_group_configs(&all).map_err(|e| {
            tracing::error!(group = %group_id, error = %e, "could not write the share group configs");
            KafkaError::new(
                ResponseError::UnknownServerError,
                "the group configs could not be written",
            )
        })?;
        inner.group_configs = all;
        Ok(())
    }

    /// Replaces the group configs file with `all` (nothing without a state dir).
    fn write_group_configs(
        &self,
        all: &HashMap<String, BTreeMap<String, String>>,
    ) -> std::io::Result<()> {
        let Some(dir) = &self.config.state_dir else {
            return Ok(());
        };
        let groups: BTreeMap<&String, &BTreeMap<String, String>> = all.iter().collect();
        let text = serde_json::json!({ "version": 1, "groups": groups }).to_string();
        crate::log::checkpoint::write_atomic(dir, GROUP_CONFIGS_FILE, text.as_bytes())
    }

    /// Replaces the groups file with the groups' membership. A failure is logged, not
    /// answered: membership is what members re-establish by rejoining, unlike the
    /// delivery state.
    fn write_groups(&self, inner: &Inner) {
        let Some(dir) = &self.config.state_dir else {
            return;
        };
        let text = serde_json::json!({ "version": 1, "groups": &inner.groups }).to_string();
        if let Err(e) = crate::log::checkpoint::write_atomic(dir, GROUPS_FILE, text.as_bytes()) {
            tracing::warn!(error = %e, "could not write the share groups' membership");
        }
    }

    /// Returns every record whose acquisition lock ran out to the group (the timer's
    /// half of lock expiry; fetches and acknowledgements also expire locks first).
    pub fn expire_locks(&self) {
        let now = self.clock.now_ms();
        let mut inner = self.inner.lock();
        let due: Vec<SharePartitionKey> = inner
            .partitions
            .iter()
            .filter(|(_, p)| p.next_lock_deadline().is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let limits = self.limits(&inner, &key.0);
            let changed = inner
                .partitions
                .get_mut(&key)
                .is_some_and(|p| p.expire_locks(now, &limits));
            if changed {
                tracing::debug!(group = %key.0, topic_id = %key.1, partition = key.2, "acquisition locks expired");
                // Not awaited: no client waits on it, and a restart would make the
                // records available again anyway (only the delivery count is at stake).
                let _ = self.persist(&mut inner, &key, now);
            }
        }
    }

    pub fn group_configs(&self, group_id: &str) -> BTreeMap<String, String> {
        self.inner
            .lock()
            .group_configs
            .get(group_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The groups with at least one config override (ListConfigResources' GROUP).
    pub fn configured_groups(&self) -> Vec<String> {
        let inner = self.inner.lock();
        let configured = inner.group_configs.iter().filter(|(_, c)| !c.is_empty());
        configured.map(|(g, _)| g.clone()).collect()
    }

    /// Appends a ShareSnapshot of `key`'s current state.
    fn persist(
        &self,
        inner: &mut Inner,
        key: &SharePartitionKey,
        now_ms: i64,
    ) -> Result<crate::coordinator::internal_log::Appended, KafkaError> {
        let Some(p) = inner.partitions.get(key) else {
            return Err(ResponseError::UnknownServerError.into());
        };
        let record = StateRecord {
            snapshot: true,
            snapshot_epoch: 0,
            state_epoch: p.state_epoch,
            leader_epoch: crate::topics::partition::LEADER_EPOCH,
            start_offset: p.start_offset,
            batches: p.state_batches(),
        };
        let epoch = inner.snapshot_epochs.entry(key.clone()).or_insert(0);
        *epoch = epoch.wrapping_add(1);
        let record = StateRecord {
            snapshot_epoch: *epoch,
            ..record
        };
        store::append(
            &self.topics,
            self.config.state_topic_partitions,
            key,
            Some(&record),
            now_ms,
        )
    }
}

/// The group configs file as [`ShareCoordinator::write_group_configs`] left it.
fn load_group_configs(dir: &std::path::Path) -> Result<HashMap<String, BTreeMap<String, String>>> {
    #[derive(serde::Deserialize)]
    struct File {
        version: u32,
        groups: HashMap<String, BTreeMap<String, String>>,
    }
    let Some(bytes) = crate::log::checkpoint::read_atomic(dir, GROUP_CONFIGS_FILE)? else {
        return Ok(HashMap::new());
    };
    let file: File = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is damaged ({e}); refusing to start without the share group configs it holds",
            dir.join(GROUP_CONFIGS_FILE).display()
        )
    })?;
    if file.version != 1 {
        anyhow::bail!(
            "{}: unsupported version {}",
            dir.join(GROUP_CONFIGS_FILE).display(),
            file.version
        );
    }
    Ok(file.groups)
}

/// The groups file as [`ShareCoordinator::write_groups`] left it.
fn load_groups(dir: &std::path::Path) -> Result<BTreeMap<String, ShareGroup>> {
    #[derive(serde::Deserialize)]
    struct File {
        version: u32,
        groups: BTreeMap<String, ShareGroup>,
    }
    let Some(bytes) = crate::log::checkpoint::read_atomic(dir, GROUPS_FILE)? else {
        return Ok(BTreeMap::new());
    };
    let file: File = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is damaged ({e}); refusing to start without the share groups it holds",
            dir.join(GROUPS_FILE).display()
        )
    })?;
    if file.version != 1 {
        anyhow::bail!(
            "{}: unsupported version {}",
            dir.join(GROUPS_FILE).display(),
            file.version
        );
    }
    Ok(file.groups)
}

/// Expires share group members and acquisition locks on time; runs until aborted.
pub fn spawn_timers(coordinator: Arc<ShareCoordinator>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            coordinator.expire_members();
            coordinator.expire_locks();
        }
    })
}
