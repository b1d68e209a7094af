//! ShareFetch and ShareAcknowledge as the share-partition manager serves them
//! (Kafka's SharePartitionManager): share sessions and their epochs, acknowledgements
//! (piggy-backed on ShareFetch or alone), and record acquisition from the log with the
//! group's isolation level, start-offset reset and lock settings.
//!
//! Share session epochs follow KIP-932: 0 opens a session (replacing the member's
//! old one), -1 closes it after its acknowledgements (releasing what the member still
//! holds), any other value must be the session's next epoch. Acknowledgements are
//! durable in `__share_group_state` before the answer leaves. Acquisition itself is
//! not persisted (a restart makes acquired records available again). ShareFetch v2's
//! acquire modes (KIP-1206) and lock renewals (KIP-1222) are fields of [`FetchRequest`];
//! the wire types stay in the handlers.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use uuid::Uuid;

use super::partition::{AckError, AcquiredRange, Candidate, SharePartition};
use super::store::SharePartitionKey;
use super::{Inner, ShareCoordinator};
use crate::coordinator::internal_log::Appended;
use crate::error::{KafkaError, ResponseError};

/// The default of max.poll.records, used when a request does not bound records.
const DEFAULT_MAX_RECORDS: usize = 500;
/// How often a waiting ShareFetch looks again for records.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

#[derive(Clone, Debug, Default)]
pub struct ShareSession {
    /// The epoch the next request must carry.
    pub next_epoch: i32,
    pub partitions: BTreeSet<(Uuid, i32)>,
    /// When the member left its group (leave heartbeat), if it did: the session waits
    /// for the member's final request, at most a session timeout.
    pub departed_ms: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct AckBatch {
    pub first_offset: i64,
    pub last_offset: i64,
    pub types: Vec<i8>,
}

#[derive(Clone, Debug, Default)]
pub struct PartitionRequest {
    pub topic_id: Uuid,
    pub partition: i32,
    pub acks: Vec<AckBatch>,
}

/// ShareFetch v2's `ShareAcquireMode` (KIP-1206); v1 is always batch-optimized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AcquireMode {
    /// MaxRecords is a soft limit: acquisition runs on to the end of the producer batch
    /// the last record counted falls in, and AcquiredRecords follow batch boundaries.
    #[default]
    BatchOptimized,
    /// MaxRecords is a strict limit on the records acquired by one request.
    RecordLimit,
}

#[derive(Clone, Debug, Default)]
pub struct FetchRequest {
    pub group_id: String,
    pub member_id: String,
    pub session_epoch: i32,
    pub max_wait_ms: i64,
    pub max_bytes: usize,
    /// 0: unbounded (the broker's default).
    pub max_records: usize,
    pub acquire_mode: AcquireMode,
    /// ShareFetch v2's IsRenewAck: acknowledgements (lock renewals) only, nothing is
    /// acquired and the answer does not wait.
    pub renew_only: bool,
    pub partitions: Vec<PartitionRequest>,
    pub forgotten: Vec<(Uuid, i32)>,
    /// Whether the RENEW acknowledgement type (4) may be used (request v2+).
    pub renew_allowed: bool,
}

#[derive(Clone, Debug, Default)]
pub struct PartitionResult {
    pub topic_id: Uuid,
    pub partition: i32,
    pub error: Option<KafkaError>,
    pub ack_error: Option<KafkaError>,
    /// Whether the request acknowledged anything here (so the partition is answered).
    pub acknowledged: bool,
    pub records: Option<Bytes>,
    pub acquired: Vec<AcquiredRange>,
}

/// What one fetch or acknowledge produced.
#[derive(Debug, Default)]
pub struct FetchResult {
    pub partitions: Vec<PartitionResult>,
    pub acquisition_lock_timeout_ms: i64,
}

impl ShareCoordinator {
    /// ShareFetch: the session step, the piggy-backed acknowledgements (durable before
    /// this returns), then acquisition, waiting up to `max_wait_ms` for records.
    pub async fn share_fetch(&self, req: FetchRequest) -> Result<FetchResult, KafkaError> {
        let deadline = self.clock.now_ms() + req.max_wait_ms.max(0);
        let (mut results, session_parts, pending) = {
            let mut inner = self.inner.lock();
            let parts = self.session_step(&mut inner, &req, true)?;
            let (results, pending) = self.apply_acks(&mut inner, &req);
            if req.session_epoch == -1 {
                self.member_gone_from_session(&mut inner, &req);
            }
            (results, parts, pending)
        };
        let ack_failed = wait_all(pending).await;
        let limits_lock = {
            let inner = self.inner.lock();
            self.limits(&inner, &req.group_id).record_lock_duration_ms
        };
        for r in results.iter_mut() {
            if r.acknowledged && r.ack_error.is_none() {
                r.ack_error = ack_failed.clone();
            }
        }
        if req.session_epoch == -1 || req.renew_only {
            return Ok(FetchResult {
                partitions: results,
                acquisition_lock_timeout_ms: limits_lock,
            });
        }
        loop {
            let (fetched, pending) = {
                let mut inner = self.inner.lock();
                self.acquire_all(&mut inner, &req, &session_parts)
            };
            // A new share-partition's start offset is durable before records from it
            // are handed out.
            let failed = wait_all(pending).await;
            let got = fetched
                .iter()
                .any(|f| !f.acquired.is_empty() || f.error.is_some());
            if got || self.clock.now_ms() >= deadline || failed.is_some() {
                for f in fetched {
                    match results
                        .iter_mut()
                        .find(|r| r.topic_id == f.topic_id && r.partition == f.partition)
                    {
                        Some(r) => {
                            r.error = f.error;
                            r.records = f.records;
                            r.acquired = f.acquired;
                        }
                        None if f.error.is_some() || !f.acquired.is_empty() => results.push(f),
                        None => {}
                    }
                }
                return Ok(FetchResult {
                    partitions: results,
                    acquisition_lock_timeout_ms: limits_lock,
                });
            }
            let left = (deadline - self.clock.now_ms()).max(1) as u64;
            tokio::time::sleep(POLL_INTERVAL.min(Duration::from_millis(left))).await;
        }
    }

    /// ShareAcknowledge: the session step (epoch 0 is not allowed) and the
    /// acknowledgements, durable before this returns.
    pub async fn share_acknowledge(&self, req: FetchRequest) -> Result<FetchResult, KafkaError> {
        let (mut results, pending, lock) = {
            let mut inner = self.inner.lock();
            self.session_step(&mut inner, &req, false)?;
            let (results, pending) = self.apply_acks(&mut inner, &req);
            if req.session_epoch == -1 {
                self.member_gone_from_session(&mut inner, &req);
            }
            let lock = self.limits(&inner, &req.group_id).record_lock_duration_ms;
            (results, pending, lock)
        };
        let failed = wait_all(pending).await;
        for r in results.iter_mut() {
            if r.ack_error.is_none() {
                r.ack_error = failed.clone();
            }
        }
        Ok(FetchResult {
            partitions: results,
            acquisition_lock_timeout_ms: lock,
        })
    }

    /// Validates and advances the member's share session; returns its partitions.
    fn session_step(
        &self,
        inner: &mut Inner,
        req: &FetchRequest,
        is_fetch: bool,
    ) -> Result<BTreeSet<(Uuid, i32)>, KafkaError> {
        let key = (req.group_id.clone(), req.member_id.clone());
        let listed = req.partitions.iter().map(|p| (p.topic_id, p.partition));
        match req.session_epoch {
            0 => {
                if !is_fetch {
                    return Err(KafkaError::new(
                        ResponseError::InvalidShareSessionEpoch,
                        "ShareAcknowledge cannot open a share session (epoch 0)",
                    ));
                }
                if req.partitions.iter().any(|p| !p.acks.is_empty()) {
                    return Err(KafkaError::new(
                        ResponseError::InvalidRequest,
                        "Acknowledge data present on initial share fetch request",
                    ));
                }
                if let Some(old) = inner.sessions.remove(&key) {
                    tracing::debug!(group = %req.group_id, member = %req.member_id, partitions = old.partitions.len(), "share session replaced");
                    self.member_gone_from_session(inner, req);
                }
                let session = ShareSession {
                    next_epoch: 1,
                    partitions: listed.collect(),
                    departed_ms: None,
                };
                let parts = session.partitions.clone();
                inner.sessions.insert(key, session);
                Ok(parts)
            }
            epoch => {
                let Some(session) = inner.sessions.get_mut(&key) else {
                    return Err(KafkaError::new(
                        ResponseError::ShareSessionNotFound,
                        format!("No share session for member {}", req.member_id),
                    ));
                };
                if epoch != -1 && epoch != session.next_epoch {
                    return Err(KafkaError::new(
                        ResponseError::InvalidShareSessionEpoch,
                        format!(
                            "Share session epoch {epoch}, expected {}",
                            session.next_epoch
                        ),
                    ));
                }
                if epoch == -1 {
                    let parts = session.partitions.clone();
                    inner.sessions.remove(&key);
                    return Ok(parts);
                }
                session.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
                if is_fetch {
                    session.partitions.extend(listed);
                    for f in &req.forgotten {
                        session.partitions.remove(f);
                    }
                }
                Ok(session.partitions.clone())
            }
        }
    }

    /// Releases what the member holds in the partitions of its (closed) session.
    fn member_gone_from_session(&self, inner: &mut Inner, req: &FetchRequest) {
        let limits = self.limits(inner, &req.group_id);
        let now = self.clock.now_ms();
        let keys: Vec<SharePartitionKey> = inner
            .partitions
            .keys()
            .filter(|k| k.0 == req.group_id)
            .cloned()
            .collect();
        for key in keys {
            if inner
                .partitions
                .get_mut(&key)
                .is_some_and(|p| p.release_member(&req.member_id, &limits))
            {
                let _ = self.persist(inner, &key, now);
            }
        }
    }

    /// Applies each partition's acknowledgement batches and appends the new state.
    fn apply_acks(
        &self,
        inner: &mut Inner,
        req: &FetchRequest,
    ) -> (Vec<PartitionResult>, Vec<Appended>) {
        let limits = self.limits(inner, &req.group_id);
        let now = self.clock.now_ms();
        let mut results = Vec::new();
        let mut pending = Vec::new();
        for p in req.partitions.iter().filter(|p| !p.acks.is_empty()) {
            let key = (req.group_id.clone(), p.topic_id, p.partition);
            let mut result = PartitionResult {
                topic_id: p.topic_id,
                partition: p.partition,
                acknowledged: true,
                ..Default::default()
            };
            match inner.partitions.get_mut(&key) {
                None => {
                    result.ack_error = Some(KafkaError::new(
                        ResponseError::InvalidRecordState,
                        "no records were acquired from this share-partition",
                    ))
                }
                Some(_) if !req.renew_allowed && p.acks.iter().any(|b| b.types.contains(&4)) => {
                    result.ack_error = Some(KafkaError::new(
                        ResponseError::InvalidRequest,
                        "acknowledge type RENEW needs request version 2",
                    ))
                }
                Some(sp) => {
                    sp.expire_locks(now, &limits);
                    let mut any = false;
                    for b in &p.acks {
                        match sp.acknowledge(
                            &req.member_id,
                            b.first_offset,
                            b.last_offset,
                            &b.types,
                            &limits,
                            now,
                        ) {
                            Ok(()) => any = true,
                            Err(AckError::InvalidRecordState(m)) => {
                                result.ack_error =
                                    Some(KafkaError::new(ResponseError::InvalidRecordState, m))
                            }
                            Err(AckError::InvalidRequest(m)) => {
                                result.ack_error =
                                    Some(KafkaError::new(ResponseError::InvalidRequest, m))
                            }
                        }
                    }
                    if any {
                        match self.persist(inner, &key, now) {
                            Ok(a) => pending.push(a),
                            Err(e) => result.ack_error = Some(e),
                        }
                    }
                }
            }
            results.push(result);
        }
        (results, pending)
    }

    /// Acquires records for the member from every partition of its session, up to
    /// the request's record and byte bounds.
    fn acquire_all(
        &self,
        inner: &mut Inner,
        req: &FetchRequest,
        parts: &BTreeSet<(Uuid, i32)>,
    ) -> (Vec<PartitionResult>, Vec<Appended>) {
        let limits = self.limits(inner, &req.group_id);
        let now = self.clock.now_ms();
        let read_committed = self
            .group_config(inner, &req.group_id, "share.isolation.level")
            .is_some_and(|v| v == "read_committed");
        let reset = self
            .group_config(inner, &req.group_id, "share.auto.offset.reset")
            .unwrap_or_else(|| "latest".to_string());
        let mut records_left = if req.max_records == 0 {
            DEFAULT_MAX_RECORDS
        } else {
            req.max_records
        };
        let mut bytes_left = req.max_bytes.max(1);
        let mut out = Vec::new();
        let mut pending = Vec::new();
        for &(topic_id, index) in parts {
            let mut result = PartitionResult {
                topic_id,
                partition: index,
                ..Default::default()
            };
            let Some(partition) = self
                .topics
                .get_by_id(&topic_id)
                .and_then(|t| t.partition(index).cloned())
            else {
                result.error = Some(ResponseError::UnknownTopicOrPartition.into());
                out.push(result);
                continue;
            };
            if records_left == 0 || bytes_left == 0 {
                continue;
            }
            let key = (req.group_id.clone(), topic_id, index);
            let marks = partition.watermarks();
            if !inner.partitions.contains_key(&key) {
                let start = initial_offset(&reset, &partition, &marks, now);
                inner
                    .partitions
                    .insert(key.clone(), SharePartition::new(start));
                match self.persist(inner, &key, now) {
                    Ok(a) => pending.push(a),
                    Err(e) => {
                        inner.partitions.remove(&key);
                        result.error = Some(e);
                        out.push(result);
                        continue;
                    }
                }
            }
            let sp = inner.partitions.get_mut(&key).expect("initialized");
            let mut changed = sp.expire_locks(now, &limits);
            if sp.start_offset < marks.log_start_offset {
                // Retention deleted records the group never finished.
                sp.move_start_to(marks.log_start_offset);
                changed = true;
            }
            let bound = if read_committed {
                marks.last_stable_offset
            } else {
                marks.high_watermark
            };
            let from = sp.next_fetch_offset();
            if from < bound {
                match read_candidates(&partition, from, bound, bytes_left, read_committed) {
                    Ok((bytes, candidates, batch_ends)) => {
                        let batch_ends = match req.acquire_mode {
                            AcquireMode::BatchOptimized => &batch_ends[..],
                            AcquireMode::RecordLimit => &[],
                        };
                        let acquired = sp.acquire(
                            &candidates,
                            &req.member_id,
                            now,
                            &limits,
                            records_left,
                            batch_ends,
                        );
                        if !acquired.is_empty() {
                            let n: i64 = acquired
                                .iter()
                                .map(|r| r.last_offset - r.first_offset + 1)
                                .sum();
                            records_left = records_left.saturating_sub(n as usize);
                            bytes_left = bytes_left.saturating_sub(bytes.len());
                            result.records = Some(bytes);
                            result.acquired = acquired;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(topic_id = %topic_id, partition = index, error = %e, "share fetch read failed");
                        result.error = Some(KafkaError::new(
                            ResponseError::KafkaStorageError,
                            e.to_string(),
                        ));
                    }
                }
            }
            if changed {
                if let Ok(a) = self.persist(inner, &key, now) {
                    pending.push(a);
                }
            }
            out.push(result);
        }
        (out, pending)
    }
}

/// The share-partition start offset of a new share-partition (share.auto.offset.reset).
fn initial_offset(
    reset: &str,
    partition: &crate::topics::Partition,
    marks: &crate::topics::partition::Watermarks,
    now_ms: i64,
) -> i64 {
    if reset == "earliest" {
        return marks.log_start_offset;
    }
    if let Some(ms) = reset
        .strip_prefix("by_duration:")
        .and_then(super::config::parse_iso_duration_ms)
    {
        if let Ok(Some((offset, _))) = partition.offset_for_timestamp(now_ms - ms) {
            return offset;
        }
    }
    marks.high_watermark
}

/// Reads from `from` and lists each offset read: data, or skipped (control records,
/// and under read_committed the records of aborted transactions); and the last offset
/// of each batch read, in order.
fn read_candidates(
    partition: &crate::topics::Partition,
    from: i64,
    bound: i64,
    max_bytes: usize,
    read_committed: bool,
) -> anyhow::Result<(Bytes, Vec<Candidate>, Vec<i64>)> {
    let (info, _) = partition.read(from, max_bytes, Some(bound), true)?;
    let aborted = if read_committed {
        partition.aborted_transactions(from, bound)?
    } else {
        Vec::new()
    };
    let mut by_producer: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for a in aborted {
        by_producer
            .entry(a.producer_id)
            .or_default()
            .push((a.first_offset, a.last_offset));
    }
    let mut buf = info.records.clone();
    let mut candidates = Vec::new();
    let mut batch_ends = Vec::new();
    for set in RecordBatchDecoder::decode_all(&mut buf)? {
        if let Some(last) = set.records.iter().map(|r| r.offset).max() {
            batch_ends.push(last);
        }
        for r in set.records {
            if r.offset < from || r.offset >= bound {
                continue;
            }
            let aborted = r.transactional
                && by_producer
                    .get(&r.producer_id)
                    .is_some_and(|v| v.iter().any(|(f, l)| *f <= r.offset && r.offset <= *l));
            candidates.push(if r.control || aborted {
                Candidate::Skip(r.offset)
            } else {
                Candidate::Data(r.offset)
            });
        }
    }
    Ok((info.records, candidates, batch_ends))
}

/// Waits for every write; the first failure, if any.
async fn wait_all(pending: Vec<Appended>) -> Option<KafkaError> {
    let mut failed = None;
    for p in pending {
        if let Err(e) = p.durable().await {
            failed.get_or_insert(KafkaError::from(e));
        }
    }
    failed
}
