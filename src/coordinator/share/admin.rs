//! The share group admin operations on share-partition state
//! (AlterShareGroupOffsets, DeleteShareGroupOffsets): only on a group without members,
//! as Kafka requires (NON_EMPTY_GROUP otherwise), each change persisted in
//! `__share_group_state` before it is answered. And the live view of what is in flight
//! ([`ShareCoordinator::in_flight`]), which no Kafka API carries: the console and
//! `sluice group describe` show it.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::partition::{InFlightRun, SharePartition};
use super::{Inner, ShareCoordinator};
use crate::coordinator::internal_log::Appended;
use crate::error::ResponseError;

/// One share-partition's in-flight records, live.
#[derive(Clone, Debug)]
pub struct InFlightPartition {
    pub topic_id: Uuid,
    pub partition: i32,
    /// The share-partition start offset (SPSO).
    pub start_offset: i64,
    /// The next offset never acquired (SPEO + 1).
    pub end_offset: i64,
    pub runs: Vec<InFlightRun>,
    /// Every in-flight record counted by state name (`available`, `acquired`,
    /// `acknowledged`, `archived`), the runs left out included.
    pub records_by_state: BTreeMap<&'static str, i64>,
    /// The broker's clock when this was read: a lock's time left is its deadline minus it.
    pub now_ms: i64,
    /// More runs than the caller asked for; `runs` holds the first ones.
    pub truncated: bool,
}

impl ShareCoordinator {
    /// What is in flight in each share-partition of `group_id` (at most `max_runs` runs
    /// each), ordered by topic id and partition; `None` for a group with neither
    /// members nor state.
    pub fn in_flight(&self, group_id: &str, max_runs: usize) -> Option<Vec<InFlightPartition>> {
        let now_ms = self.clock.now_ms();
        let inner = self.inner.lock();
        let mut out: Vec<InFlightPartition> = inner
            .partitions
            .iter()
            .filter(|(k, _)| k.0 == group_id)
            .map(|(k, p)| {
                let (runs, truncated) = p.in_flight_runs(max_runs);
                let mut records_by_state = BTreeMap::new();
                for (_, state, _) in p.records() {
                    *records_by_state.entry(state.name()).or_insert(0) += 1;
                }
                InFlightPartition {
                    topic_id: k.1,
                    partition: k.2,
                    start_offset: p.start_offset,
                    end_offset: p.end_offset,
                    runs,
                    records_by_state,
                    now_ms,
                    truncated,
                }
            })
            .collect();
        if out.is_empty() && !inner.groups.contains_key(group_id) {
            return None;
        }
        out.sort_by_key(|p| (p.topic_id, p.partition));
        Some(out)
    }

    fn check_empty(inner: &Inner, group_id: &str) -> Result<(), ResponseError> {
        match inner.groups.get(group_id) {
            Some(g) if !g.members.is_empty() => Err(ResponseError::NonEmptyGroup),
            Some(_) => Ok(()),
            None if inner.partitions.keys().any(|k| k.0 == group_id) => Ok(()),
            None => Err(ResponseError::GroupIdNotFound),
        }
    }

    /// AlterShareGroupOffsets: each (topic id, partition) starts over at the offset
    /// given, with nothing in flight (a new state epoch). Per partition, its error.
    pub async fn alter_start_offsets(
        &self,
        group_id: &str,
        offsets: &[(Uuid, i32, i64)],
    ) -> Result<Vec<Option<ResponseError>>, ResponseError> {
        let now = self.clock.now_ms();
        let (mut results, pending) = {
            let mut inner = self.inner.lock();
            Self::check_empty(&inner, group_id)?;
            let mut results = Vec::new();
            let mut pending: Vec<(usize, Appended)> = Vec::new();
            for (i, &(topic_id, index, offset)) in offsets.iter().enumerate() {
                let key = (group_id.to_string(), topic_id, index);
                let epoch = inner
                    .partitions
                    .get(&key)
                    .map(|p| p.state_epoch + 1)
                    .unwrap_or(0);
                let mut p = SharePartition::new(offset.max(0));
                p.state_epoch = epoch;
                inner.partitions.insert(key.clone(), p);
                match self.persist(&mut inner, &key, now) {
                    Ok(a) => {
                        pending.push((i, a));
                        results.push(None)
                    }
                    Err(e) => results.push(Some(e.error)),
                }
            }
            (results, pending)
        };
        for (i, a) in pending {
            if let Err(e) = a.durable().await {
                results[i] = Some(e);
            }
        }
        Ok(results)
    }

    /// DeleteShareGroupOffsets: forgets the group's state for each topic (a
    /// tombstone per share-partition); the next fetch starts over with
    /// share.auto.offset.reset.
    pub async fn delete_topic_offsets(
        &self,
        group_id: &str,
        topic_ids: &[Uuid],
    ) -> Result<(), ResponseError> {
        let now = self.clock.now_ms();
        let pending = {
            let mut inner = self.inner.lock();
            Self::check_empty(&inner, group_id)?;
            let keys: Vec<_> = inner
                .partitions
                .keys()
                .filter(|k| k.0 == group_id && topic_ids.contains(&k.1))
                .cloned()
                .collect();
            let mut pending = Vec::new();
            for key in keys {
                pending.push(
                    super::store::append(
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
            pending
        };
        for a in pending {
            a.durable().await?;
        }
        Ok(())
    }
}
