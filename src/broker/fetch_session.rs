//! Incremental fetch sessions (KIP-227), kept the way Kafka's `FetchSessionCache` keeps
//! them.
//!
//! A client opens a session with a full fetch (session id 0, epoch 0) and then sends
//! only the partitions whose fetch position changed (epoch 1, 2, ...). The broker
//! remembers every partition in the session and answers an incremental fetch with only
//! the partitions that have something new: records, an error, or a moved high
//! watermark, last stable offset or log start offset. Session id 0 with epoch -1 is a
//! plain sessionless full fetch. This module decides which partitions to fetch and
//! which to answer; it never reads a log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;
use parking_lot::Mutex;
use uuid::Uuid;

use crate::error::ResponseError;

/// Epoch that asks for a sessionless fetch (or closes a session).
pub const FINAL_EPOCH: i32 = -1;
/// Epoch that asks for a new session.
pub const INITIAL_EPOCH: i32 = 0;

/// A partition as a fetch request names it, resolved to both name and id where known.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FetchKey {
    pub topic: Arc<str>,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// One partition's fetch parameters.
#[derive(Clone, Debug)]
pub struct FetchItem {
    pub key: FetchKey,
    pub fetch_offset: i64,
    pub partition_max_bytes: i32,
    pub current_leader_epoch: i32,
}

/// What the fetch produced for a partition, as far as the session cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchOutcome {
    pub error: i16,
    pub has_records: bool,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
}

#[derive(Clone, Debug)]
struct CachedPartition {
    fetch_offset: i64,
    partition_max_bytes: i32,
    current_leader_epoch: i32,
    /// What the last answer told the client; -1 before the first answer.
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

struct Session {
    /// The epoch the next request must carry.
    next_epoch: i32,
    partitions: IndexMap<FetchKey, CachedPartition>,
    last_used: Instant,
}

/// How a fetch request relates to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionMode {
    /// No session: answer every requested partition, session id 0.
    Sessionless,
    /// A new session with this id: answer every partition.
    Full(i32),
    /// An existing session: answer only partitions that changed.
    Incremental(i32),
}

impl SessionMode {
    pub fn session_id(&self) -> i32 {
        match self {
            SessionMode::Sessionless => 0,
            SessionMode::Full(id) | SessionMode::Incremental(id) => *id,
        }
    }
}

pub struct FetchSessionCache {
    max_slots: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    sessions: HashMap<i32, Session>,
    next_id: i32,
}

impl FetchSessionCache {
    pub fn new(max_slots: usize) -> FetchSessionCache {
        // Start ids at a random point so a restarted broker does not hand out ids that
        // clients still hold from before the restart.
        let seed = (Uuid::new_v4().as_u128() as u32 & 0x3fff_ffff) as i32;
        FetchSessionCache {
            max_slots,
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                next_id: seed.max(1),
            }),
        }
    }

    /// Applies a fetch request to the cache. Returns the session mode and the full list
    /// of partitions to fetch (for an incremental fetch: every partition in the session,
    /// with the request's updates applied).
    pub fn begin(
        &self,
        session_id: i32,
        epoch: i32,
        requested: Vec<FetchItem>,
        forgotten: &[FetchKey],
    ) -> Result<(SessionMode, Vec<FetchItem>), ResponseError> {
        let mut inner = self.inner.lock();
        if epoch == FINAL_EPOCH {
            if session_id != 0 {
                inner.sessions.remove(&session_id);
            }
            return Ok((SessionMode::Sessionless, requested));
        }
        if epoch == INITIAL_EPOCH {
            if session_id != 0 {
                inner.sessions.remove(&session_id);
            }
            if self.max_slots == 0 {
                return Ok((SessionMode::Sessionless, requested));
            }
            if inner.sessions.len() >= self.max_slots {
                // Evict the session unused the longest, as Kafka evicts stale sessions.
                if let Some((&oldest, _)) = inner.sessions.iter().min_by_key(|(_, s)| s.last_used) {
                    inner.sessions.remove(&oldest);
                }
            }
            let id = inner.allocate_id();
            let partitions = requested
                .iter()
                .map(|item| (item.key.clone(), CachedPartition::from_item(item)))
                .collect();
            inner.sessions.insert(
                id,
                Session {
                    next_epoch: 1,
                    partitions,
                    last_used: Instant::now(),
                },
            );
            return Ok((SessionMode::Full(id), requested));
        }
        let Some(session) = inner.sessions.get_mut(&session_id) else {
            return Err(ResponseError::FetchSessionIdNotFound);
        };
        if session.next_epoch != epoch {
            return Err(ResponseError::InvalidFetchSessionEpoch);
        }
        for key in forgotten {
            session.partitions.shift_remove(key);
        }
        for item in &requested {
            session
                .partitions
                .entry(item.key.clone())
                .and_modify(|c| {
                    c.fetch_offset = item.fetch_offset;
                    c.partition_max_bytes = item.partition_max_bytes;
                    c.current_leader_epoch = item.current_leader_epoch;
                })
                .or_insert_with(|| CachedPartition::from_item(item));
        }
        session.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
        session.last_used = Instant::now();
        let items = session
            .partitions
            .iter()
            .map(|(key, c)| FetchItem {
                key: key.clone(),
                fetch_offset: c.fetch_offset,
                partition_max_bytes: c.partition_max_bytes,
                current_leader_epoch: c.current_leader_epoch,
            })
            .collect();
        Ok((SessionMode::Incremental(session_id), items))
    }

    /// Records what was answered and says, per partition (same order as `outcomes`),
    /// whether the answer must include it.
    pub fn finish(&self, mode: SessionMode, outcomes: &[(FetchKey, FetchOutcome)]) -> Vec<bool> {
        let id = match mode {
            SessionMode::Sessionless => return vec![true; outcomes.len()],
            SessionMode::Full(id) | SessionMode::Incremental(id) => id,
        };
        let incremental = matches!(mode, SessionMode::Incremental(_));
        let mut inner = self.inner.lock();
        let Some(session) = inner.sessions.get_mut(&id) else {
            return vec![true; outcomes.len()];
        };
        outcomes
            .iter()
            .map(|(key, out)| {
                let Some(cached) = session.partitions.get_mut(key) else {
                    return true;
                };
                let changed = out.error != 0
                    || out.has_records
                    || cached.high_watermark != out.high_watermark
                    || cached.last_stable_offset != out.last_stable_offset
                    || cached.log_start_offset != out.log_start_offset;
                cached.high_watermark = out.high_watermark;
                cached.last_stable_offset = out.last_stable_offset;
                cached.log_start_offset = out.log_start_offset;
                !incremental || changed
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn allocate_id(&mut self) -> i32 {
        loop {
            let id = self.next_id;
            self.next_id = if self.next_id == i32::MAX {
                1
            } else {
                self.next_id + 1
            };
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }
}

impl CachedPartition {
    fn from_item(item: &FetchItem) -> CachedPartition {
        CachedPartition {
            fetch_offset: item.fetch_offset,
            partition_max_bytes: item.partition_max_bytes,
            current_leader_epoch: item.current_leader_epoch,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(p: i32, offset: i64) -> FetchItem {
        FetchItem {
            key: FetchKey {
                topic: Arc::from("t"),
                topic_id: Uuid::nil(),
                partition: p,
            },
            fetch_offset: offset,
            partition_max_bytes: 1024,
            current_leader_epoch: -1,
        }
    }

    fn outcome(hw: i64, has_records: bool) -> FetchOutcome {
        FetchOutcome {
            error: 0,
            has_records,
            high_watermark: hw,
            last_stable_offset: hw,
            log_start_offset: 0,
        }
    }

    #[test]
    fn full_then_incremental_answers_only_changes() {
        let cache = FetchSessionCache::new(10);
        let (mode, items) = cache
            .begin(0, 0, vec![item(0, 0), item(1, 0)], &[])
            .unwrap();
        let SessionMode::Full(id) = mode else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        let keys: Vec<_> = items.iter().map(|i| i.key.clone()).collect();
        let shown = cache.finish(
            mode,
            &[
                (keys[0].clone(), outcome(5, true)),
                (keys[1].clone(), outcome(0, false)),
            ],
        );
        assert_eq!(shown, vec![true, true]);

        // Epoch 1 updates partition 0's offset only; partition 1 is still fetched.
        let (mode, items) = cache.begin(id, 1, vec![item(0, 5)], &[]).unwrap();
        assert_eq!(mode, SessionMode::Incremental(id));
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].fetch_offset, 5);
        let shown = cache.finish(
            mode,
            &[
                (keys[0].clone(), outcome(5, false)),
                (keys[1].clone(), outcome(3, false)),
            ],
        );
        assert_eq!(
            shown,
            vec![false, true],
            "only the partition whose high watermark moved"
        );

        assert_eq!(
            cache.begin(id, 1, vec![], &[]).unwrap_err(),
            ResponseError::InvalidFetchSessionEpoch
        );
        assert_eq!(
            cache.begin(id + 1, 1, vec![], &[]).unwrap_err(),
            ResponseError::FetchSessionIdNotFound
        );

        let (_, items) = cache.begin(id, 2, vec![], &[keys[1].clone()]).unwrap();
        assert_eq!(items.len(), 1, "forgotten partition left the session");

        let (mode, _) = cache.begin(id, FINAL_EPOCH, vec![], &[]).unwrap();
        assert_eq!(mode, SessionMode::Sessionless);
        assert!(cache.is_empty());
    }

    #[test]
    fn full_cache_evicts_the_oldest_session() {
        let cache = FetchSessionCache::new(1);
        let (a, _) = cache.begin(0, 0, vec![item(0, 0)], &[]).unwrap();
        let (b, _) = cache.begin(0, 0, vec![item(0, 0)], &[]).unwrap();
        assert_ne!(a.session_id(), b.session_id());
        assert_eq!(cache.len(), 1);
        assert!(cache.begin(a.session_id(), 1, vec![], &[]).is_err());
    }
}
