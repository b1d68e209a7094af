//! A transactional producer for the CLI's copy commands (`import`, `replay`): the
//! Kafka protocol's exactly-once write path, the way Kafka's own producer drives it
//! (InitProducerId, AddPartitionsToTxn, Produce with producer id/epoch/sequence,
//! AddOffsetsToTxn + TxnOffsetCommit, EndTxn), so it works against any Kafka broker.
//!
//! It owns one transactional id's producer id, epoch and per-partition sequences,
//! and the commit of the caller's *source position* as consumer-group offsets in the
//! same transaction as the data (Kafka's consume-transform-produce pattern). That is
//! what makes a copy resumable without duplicates: InitProducerId fences and aborts a
//! killed run's open transaction, and [`committed_position`] (OffsetFetch with
//! require_stable) then reads back exactly the position the last committed transaction
//! wrote. It must never produce outside a transaction, and never commit data without
//! the position that goes with it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, GroupId,
    InitProducerIdRequest, OffsetFetchRequest, ProduceRequest, ProducerId, TopicName,
    TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::client::error_name;
use super::cluster::{Cluster, TopicInfo};
pub use super::records::OutRecord;
use super::records::{encode_batch, Producer};

/// How long a request answered with a retriable error (a coordinator loading, a
/// previous transaction still completing) is retried.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// Largest record batch sent in one Produce (under Kafka's default max.message.bytes).
const MAX_BATCH_BYTES: usize = 900 * 1024;

/// An upper bound of the bytes `r` takes in a batch (varints and fixed fields
/// included), to cut batches under [`MAX_BATCH_BYTES`].
fn batch_bytes(r: &OutRecord) -> usize {
    24 + r.key.as_ref().map_or(0, |k| k.len())
        + r.value.as_ref().map_or(0, |v| v.len())
        + r.headers
            .iter()
            .map(|(k, v)| 8 + k.len() + v.as_ref().map_or(0, |v| v.len()))
            .sum::<usize>()
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Errors a transactional client retries (Kafka's producer retries these too).
fn retriable(e: ResponseError) -> bool {
    e.is_retriable()
        || matches!(
            e,
            ResponseError::ConcurrentTransactions
                | ResponseError::CoordinatorLoadInProgress
                | ResponseError::CoordinatorNotAvailable
                | ResponseError::NotCoordinator
                | ResponseError::UnstableOffsetCommit
        )
}

/// Backs off between retries, failing after [`RETRY_FOR`].
struct Retry {
    started: Instant,
    attempt: u32,
}

impl Retry {
    fn new() -> Retry {
        Retry {
            started: Instant::now(),
            attempt: 0,
        }
    }

    async fn again(&mut self, what: &str, e: ResponseError) -> Result<()> {
        if !retriable(e) || self.started.elapsed() > RETRY_FOR {
            bail!("{what}: {}", error_name(e));
        }
        self.attempt += 1;
        tracing::debug!(what, error = %error_name(e), attempt = self.attempt, "retrying");
        let ms = (5u64 << self.attempt.min(7)).min(500);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }
}

pub struct TxnProducer {
    transactional_id: String,
    producer_id: i64,
    epoch: i16,
    /// Next sequence per (topic, partition), from 0 after each InitProducerId.
    sequences: BTreeMap<(String, i32), i32>,
    /// Partitions already added to the open transaction.
    in_txn: BTreeSet<(String, i32)>,
    /// The transaction coordinator's node id, asked again after a retriable error.
    coordinator: Option<i32>,
}

impl TxnProducer {
    /// InitProducerId for `transactional_id`: fences any earlier producer with the same
    /// id and aborts its open transaction (retried until the abort completed).
    pub async fn init(
        cluster: &mut Cluster,
        transactional_id: &str,
        timeout_ms: i32,
    ) -> Result<TxnProducer> {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(str_bytes(transactional_id))))
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let mut retry = Retry::new();
        loop {
            let (node, _) = cluster.find_coordinator(1, transactional_id).await?;
            let conn = cluster.node(node).await?;
            let answer = conn.send(&request, 4).await?;
            match ResponseError::try_from_code(answer.error_code) {
                None => {
                    return Ok(TxnProducer {
                        transactional_id: transactional_id.to_string(),
                        producer_id: answer.producer_id.0,
                        epoch: answer.producer_epoch,
                        sequences: BTreeMap::new(),
                        in_txn: BTreeSet::new(),
                        coordinator: None,
                    })
                }
                Some(e) => {
                    retry
                        .again(&format!("InitProducerId for `{transactional_id}`"), e)
                        .await?
                }
            }
        }
    }

    async fn coordinator_node(&mut self, cluster: &mut Cluster) -> Result<i32> {
        if let Some(node) = self.coordinator {
            return Ok(node);
        }
        let node = cluster.find_coordinator(1, &self.transactional_id).await?.0;
        self.coordinator = Some(node);
        Ok(node)
    }

    async fn add_partitions(
        &mut self,
        cluster: &mut Cluster,
        topic: &str,
        parts: &[i32],
    ) -> Result<()> {
        let new: Vec<i32> = parts
            .iter()
            .copied()
            .filter(|p| !self.in_txn.contains(&(topic.to_string(), *p)))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(str_bytes(&self.transactional_id)))
            .with_v3_and_below_producer_id(ProducerId(self.producer_id))
            .with_v3_and_below_producer_epoch(self.epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partitions(new.clone())]);
        let mut retry = Retry::new();
        'again: loop {
            let node = self.coordinator_node(cluster).await?;
            let answer = cluster.node(node).await?.send(&request, 3).await?;
            if let Some(e) = ResponseError::try_from_code(answer.error_code) {
                self.coordinator = None;
                retry.again("AddPartitionsToTxn", e).await?;
                continue;
            }
            for t in &answer.results_by_topic_v3_and_below {
                for r in &t.results_by_partition {
                    if let Some(e) = ResponseError::try_from_code(r.partition_error_code) {
                        // OPERATION_NOT_ATTEMPTED follows another partition's error.
                        if e == ResponseError::OperationNotAttempted {
                            continue;
                        }
                        retry
                            .again(
                                &format!("AddPartitionsToTxn {topic}-{}", r.partition_index),
                                e,
                            )
                            .await?;
                        continue 'again;
                    }
                }
            }
            break;
        }
        for p in new {
            self.in_txn.insert((topic.to_string(), p));
        }
        Ok(())
    }

    /// Produces `records` into the open transaction (one started if none is): in
    /// order per partition, each partition's records in batches of at most
    /// [`MAX_BATCH_BYTES`]. Retries keep the batch's sequence numbers, so the broker
    /// drops a duplicate of a batch whose answer was lost.
    pub async fn send(
        &mut self,
        cluster: &mut Cluster,
        topic: &TopicInfo,
        records: BTreeMap<i32, Vec<OutRecord>>,
    ) -> Result<u64> {
        let written = self.send_with_offsets(cluster, topic, records).await?;
        Ok(written.values().flatten().map(|(_, n)| *n as u64).sum())
    }

    /// Like [`send`](Self::send); returns, per partition, each batch's base offset in
    /// the destination (-1 when the broker did not say: a retried duplicate) and its
    /// record count, in the order of the records.
    pub async fn send_with_offsets(
        &mut self,
        cluster: &mut Cluster,
        topic: &TopicInfo,
        records: BTreeMap<i32, Vec<OutRecord>>,
    ) -> Result<BTreeMap<i32, Vec<(i64, usize)>>> {
        let parts: Vec<i32> = records
            .iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(p, _)| *p)
            .collect();
        if parts.is_empty() {
            return Ok(BTreeMap::new());
        }
        self.add_partitions(cluster, &topic.name, &parts).await?;
        // Split each partition's records into batches, then send the n-th batch of
        // every partition together (one Produce per leader per round).
        let mut batches: BTreeMap<i32, Vec<(Bytes, usize)>> = BTreeMap::new();
        for (p, recs) in records {
            let mut chunk: Vec<OutRecord> = Vec::new();
            let mut size = 0;
            let mut out = Vec::new();
            for r in recs {
                if !chunk.is_empty() && size + batch_bytes(&r) > MAX_BATCH_BYTES {
                    let n = chunk.len();
                    out.push((self.encode(&topic.name, p, std::mem::take(&mut chunk))?, n));
                    size = 0;
                }
                size += batch_bytes(&r);
                chunk.push(r);
            }
            if !chunk.is_empty() {
                let n = chunk.len();
                out.push((self.encode(&topic.name, p, chunk)?, n));
            }
            batches.insert(p, out);
        }
        let mut written: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
        let rounds = batches.values().map(|b| b.len()).max().unwrap_or(0);
        for round in 0..rounds {
            let pending: BTreeMap<i32, Bytes> = batches
                .iter()
                .filter_map(|(p, b)| b.get(round).map(|(b, _)| (*p, b.clone())))
                .collect();
            for (p, base) in self.produce(cluster, topic, pending).await? {
                written
                    .entry(p)
                    .or_default()
                    .push((base, batches[&p][round].1));
            }
        }
        Ok(written)
    }

    fn encode(&mut self, topic: &str, p: i32, recs: Vec<OutRecord>) -> Result<Bytes> {
        let seq = self.sequences.entry((topic.to_string(), p)).or_insert(0);
        let base = *seq;
        *seq = seq.wrapping_add(recs.len() as i32);
        // Not kafka_protocol's encoder: its records keep one header per key.
        let mut buf = BytesMut::new();
        encode_batch(
            &mut buf,
            &recs,
            Producer {
                producer_id: self.producer_id,
                producer_epoch: self.epoch,
                base_sequence: base,
                transactional: true,
            },
        )?;
        Ok(buf.freeze())
    }

    async fn produce(
        &mut self,
        cluster: &mut Cluster,
        topic: &TopicInfo,
        mut pending: BTreeMap<i32, Bytes>,
    ) -> Result<BTreeMap<i32, i64>> {
        let mut bases = BTreeMap::new();
        let mut retry = Retry::new();
        let mut topic = topic.clone();
        while !pending.is_empty() {
            let mut error = None;
            for (leader, parts) in topic.by_leader(pending.keys().copied())? {
                let request = ProduceRequest::default()
                    .with_transactional_id(Some(TransactionalId(str_bytes(&self.transactional_id))))
                    .with_acks(-1)
                    .with_timeout_ms(30_000)
                    .with_topic_data(vec![TopicProduceData::default()
                        .with_name(TopicName(str_bytes(&topic.name)))
                        .with_partition_data(
                            parts
                                .iter()
                                .map(|p| {
                                    PartitionProduceData::default()
                                        .with_index(*p)
                                        .with_records(Some(pending[p].clone()))
                                })
                                .collect(),
                        )]);
                let conn = cluster.node(leader).await?;
                let version = conn.version::<ProduceRequest>(12)?.max(3);
                let answer = conn.send_raw(&request, version).await?;
                for t in answer.responses {
                    for r in t.partition_responses {
                        match ResponseError::try_from_code(r.error_code) {
                            // A duplicate of a batch already written: its first write
                            // counts.
                            None => {
                                pending.remove(&r.index);
                                bases.insert(r.index, r.base_offset);
                            }
                            Some(ResponseError::DuplicateSequenceNumber) => {
                                pending.remove(&r.index);
                                bases.insert(r.index, -1);
                            }
                            Some(e) => {
                                let detail = r.error_message.as_deref().unwrap_or("").to_string();
                                error = Some((r.index, e, detail));
                            }
                        }
                    }
                }
            }
            if let Some((p, e, detail)) = error {
                retry
                    .again(&format!("produce to {}-{p} ({detail})", topic.name), e)
                    .await?;
                topic = cluster.topic(&topic.name).await?;
            }
        }
        Ok(bases)
    }

    /// Commits the open transaction with `offsets` ((topic, partition) -> next offset)
    /// as group `group`'s committed offsets, in the same transaction as the data.
    pub async fn commit(
        &mut self,
        cluster: &mut Cluster,
        group: &str,
        offsets: &BTreeMap<(String, i32), i64>,
        metadata: &str,
    ) -> Result<()> {
        let with: BTreeMap<(String, i32), (i64, String)> = offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), (*o, metadata.to_string())))
            .collect();
        self.commit_with_metadata(cluster, group, &with).await
    }

    /// Like [`commit`](Self::commit) with a metadata string per partition.
    pub async fn commit_with_metadata(
        &mut self,
        cluster: &mut Cluster,
        group: &str,
        offsets: &BTreeMap<(String, i32), (i64, String)>,
    ) -> Result<()> {
        let mut retry = Retry::new();
        let add = AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(str_bytes(&self.transactional_id)))
            .with_producer_id(ProducerId(self.producer_id))
            .with_producer_epoch(self.epoch)
            .with_group_id(GroupId(str_bytes(group)));
        loop {
            let node = self.coordinator_node(cluster).await?;
            let answer = cluster.node(node).await?.send(&add, 3).await?;
            match ResponseError::try_from_code(answer.error_code) {
                None => break,
                Some(e) => {
                    self.coordinator = None;
                    retry.again("AddOffsetsToTxn", e).await?
                }
            }
        }
        let mut by_topic: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for ((t, p), (o, metadata)) in offsets {
            by_topic.entry(t).or_default().push(
                TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(*p)
                    .with_committed_offset(*o)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(Some(str_bytes(metadata))),
            );
        }
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(str_bytes(&self.transactional_id)))
            .with_group_id(GroupId(str_bytes(group)))
            .with_producer_id(ProducerId(self.producer_id))
            .with_producer_epoch(self.epoch)
            .with_generation_id(-1)
            .with_member_id(StrBytes::default())
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(t, parts)| {
                        TxnOffsetCommitRequestTopic::default()
                            .with_name(TopicName(str_bytes(t)))
                            .with_partitions(parts)
                    })
                    .collect(),
            );
        let mut retry = Retry::new();
        'again: loop {
            let (node, _) = cluster.find_coordinator(0, group).await?;
            let answer = cluster.node(node).await?.send(&request, 3).await?;
            for t in &answer.topics {
                for p in &t.partitions {
                    if let Some(e) = ResponseError::try_from_code(p.error_code) {
                        retry.again("TxnOffsetCommit", e).await?;
                        continue 'again;
                    }
                }
            }
            break;
        }
        self.end(cluster, true).await
    }

    async fn end(&mut self, cluster: &mut Cluster, commit: bool) -> Result<()> {
        let request = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(str_bytes(&self.transactional_id)))
            .with_producer_id(ProducerId(self.producer_id))
            .with_producer_epoch(self.epoch)
            .with_committed(commit);
        let mut retry = Retry::new();
        loop {
            let node = self.coordinator_node(cluster).await?;
            let answer = cluster.node(node).await?.send(&request, 4).await?;
            match ResponseError::try_from_code(answer.error_code) {
                None => break,
                Some(e) => {
                    self.coordinator = None;
                    retry
                        .again(
                            if commit {
                                "EndTxn(commit)"
                            } else {
                                "EndTxn(abort)"
                            },
                            e,
                        )
                        .await?
                }
            }
        }
        self.in_txn.clear();
        Ok(())
    }
}

/// Group `group`'s committed offsets for `partitions` of `topic`, read with
/// require_stable: an offset written by a transaction that is still completing is
/// waited for, never read as the previous value.
pub async fn committed_position(
    cluster: &mut Cluster,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Result<BTreeMap<i32, (i64, Option<String>)>> {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_require_stable(true)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(str_bytes(topic)))
            .with_partition_indexes(partitions.to_vec())]));
    let mut retry = Retry::new();
    'again: loop {
        let (node, _) = cluster.find_coordinator(0, group).await?;
        let conn = cluster.node(node).await?;
        let version = conn.version::<OffsetFetchRequest>(7)?;
        if version < 7 {
            bail!("the broker's OffsetFetch (v{version}) cannot require stable offsets (v7+)");
        }
        let answer = conn.send_raw(&request, version).await?;
        if let Some(e) = ResponseError::try_from_code(answer.error_code) {
            retry
                .again(&format!("offsets of group `{group}`"), e)
                .await?;
            continue;
        }
        let mut out = BTreeMap::new();
        for t in answer.topics {
            for p in t.partitions {
                if let Some(e) = ResponseError::try_from_code(p.error_code) {
                    retry
                        .again(
                            &format!(
                                "offset of group `{group}` for {topic}-{}",
                                p.partition_index
                            ),
                            e,
                        )
                        .await?;
                    continue 'again;
                }
                if p.committed_offset >= 0 {
                    out.insert(
                        p.partition_index,
                        (p.committed_offset, p.metadata.map(|m| m.to_string())),
                    );
                }
            }
        }
        return Ok(out);
    }
}

/// A transactional id / group name for a copy: `prefix` and a readable part, with a
/// hash of the full identity so long names stay within Kafka's limits.
pub fn copy_id(prefix: &str, readable: &str, identity: &str) -> String {
    let hash = crc32c::crc32c(identity.as_bytes());
    let short: String = readable.chars().take(100).collect();
    format!("{prefix}-{short}-{hash:08x}")
}

/// `Err` naming the first partition of `parts` that `topic` lacks.
pub fn check_partitions(topic: &TopicInfo, parts: impl IntoIterator<Item = i32>) -> Result<()> {
    for p in parts {
        if !topic.partitions.iter().any(|i| i.partition == p) {
            return Err(anyhow!(
                "topic `{}` has {} partitions: it has no partition {p}",
                topic.name,
                topic.partitions.len()
            ));
        }
    }
    Ok(())
}
