//! `__consumer_offsets` on the project's own log engine: which partition a group lives
//! in, appending a group's records as one record batch, and replaying every partition
//! at start-up to rebuild the groups.
//!
//! The topic is created on first write with cleanup.policy=compact and retention.ms=-1.
//! Compaction does not exist yet, so the log keeps every record and replay reads all of
//! it; retention must never delete it (that would lose live commits). This module
//! never interprets group semantics beyond applying records in log order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::records::{self, OffsetAndMetadata, RecordKey, StoredGroup};
use super::{Env, GroupConfig};
use crate::coordinator::internal_log::append_failed;
pub use crate::coordinator::internal_log::Appended;
use crate::coordinator::replay::for_each_record;
use crate::error::{KafkaError, ResponseError};
use crate::topics::Partition;
use crate::topics::TopicRegistry;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Kafka's partitionFor: `Utils.abs(groupId.hashCode) % partitions`, with Java's
/// String.hashCode over UTF-16 code units.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group_id.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// Appends `(key, value)` records (value `None` = tombstone) for `group_id` as one
/// uncompressed record batch.
pub fn append(
    env: &Env,
    group_id: &str,
    entries: Vec<(Bytes, Option<Bytes>)>,
) -> Result<Appended, KafkaError> {
    append_batch(env, group_id, entries, None)
}

/// Appends transactional offset commits (TxnOffsetCommit) as one transactional batch of
/// `producer_id`/`producer_epoch`, so the transaction's marker in the same partition
/// decides them. The batch carries the producer's next sequence number in this
/// partition (the partition checks sequences of every batch with a producer id); an
/// older epoch than the partition knows is INVALID_PRODUCER_EPOCH.
pub fn append_transactional(
    env: &Env,
    group_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    entries: Vec<(Bytes, Option<Bytes>)>,
) -> Result<Appended, KafkaError> {
    append_batch(env, group_id, entries, Some((producer_id, producer_epoch)))
}

fn append_batch(
    env: &Env,
    group_id: &str,
    entries: Vec<(Bytes, Option<Bytes>)>,
    producer: Option<(i64, i16)>,
) -> Result<Appended, KafkaError> {
    let topic = offsets_topic(env.topics, env.config)?;
    let index = partition_for(group_id, topic.partitions.len() as i32);
    let partition = topic
        .partition(index)
        .cloned()
        .ok_or(ResponseError::CoordinatorNotAvailable)?;
    let (producer_id, producer_epoch, base_sequence) = match producer {
        None => (-1, -1, -1),
        Some((pid, epoch)) => {
            let next = partition.next_sequence(pid, epoch);
            (pid, epoch, next.unwrap_or(0).max(0))
        }
    };
    let records: Vec<Record> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // One batch: the encoder starts a new batch when offset - sequence changes,
            // and takes the first record's sequence as the base (-1 without a producer).
            sequence: base_sequence.wrapping_add(i as i32),
            timestamp: env.now_ms,
            key: Some(key),
            value,
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options)
        .map_err(|e| KafkaError::new(ResponseError::UnknownServerError, e.to_string()))?;
    let info = partition.append(buf.freeze(), env.now_ms).map_err(|e| {
        match &e {
            crate::log::AppendError::InvalidProducerEpoch(m) => {
                return KafkaError::new(ResponseError::InvalidProducerEpoch, m.clone());
            }
            // A TxnOffsetCommit that would open one transaction too many in this
            // __consumer_offsets partition: the same answer as a produce gets.
            crate::log::AppendError::ProducerStateLimit(m) => {
                return KafkaError::new(ResponseError::PolicyViolation, m.clone());
            }
            _ => {}
        }
        KafkaError::new(append_failed(&partition, group_id, &e), e.to_string())
    })?;
    Ok(Appended::new(partition, info.last_offset + 1))
}

fn offsets_topic(
    topics: &TopicRegistry,
    config: &GroupConfig,
) -> Result<Arc<crate::topics::Topic>, KafkaError> {
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    configs.insert("retention.ms".to_string(), "-1".to_string());
    configs.insert(
        "segment.bytes".to_string(),
        config.offsets_topic_segment_bytes.to_string(),
    );
    topics.get_or_create_internal(OFFSETS_TOPIC, config.offsets_topic_num_partitions, configs)
}

/// What replaying `__consumer_offsets` found, per group, after applying every record
/// and tombstone in log order.
#[derive(Default)]
pub struct Replayed {
    pub groups: HashMap<String, StoredGroup>,
    pub offsets: HashMap<String, HashMap<(String, i32), OffsetAndMetadata>>,
    /// Transactional offset commits with no marker yet: producer id -> group -> offsets.
    pub pending: PendingTxnOffsets,
    /// KIP-848 consumer group records (types 3-8), in log order, for
    /// [`super::consumer::replay_into`].
    pub consumer_records: Vec<(super::consumer::records::Key, Option<Bytes>)>,
    pub records: u64,
}

/// producer id -> group -> transactional offsets waiting for a marker.
pub type PendingTxnOffsets =
    HashMap<i64, HashMap<String, HashMap<(String, i32), OffsetAndMetadata>>>;

/// Reads every partition of `__consumer_offsets` (if the topic exists) from its log
/// start to its end.
pub fn replay(topics: &TopicRegistry) -> Result<Replayed> {
    let mut out = Replayed::default();
    let Some(topic) = topics.get(OFFSETS_TOPIC) else {
        return Ok(out);
    };
    for partition in &topic.partitions {
        replay_partition(partition, &mut out)
            .with_context(|| format!("replaying {}-{}", OFFSETS_TOPIC, partition.index))?;
    }
    Ok(out)
}

fn replay_partition(partition: &Partition, out: &mut Replayed) -> Result<()> {
    // Transactional commits of this partition wait for a marker in this partition.
    let mut pending = PendingTxnOffsets::new();
    for_each_record(partition, |record| {
        if record.control {
            apply_marker(&record, &mut pending, out);
        } else if record.transactional && record.producer_id >= 0 {
            stage_transactional(&record, &mut pending);
        } else {
            apply(&record, out);
        }
    })?;
    for (pid, groups) in pending {
        let entry = out.pending.entry(pid).or_default();
        for (group, offsets) in groups {
            entry.entry(group).or_default().extend(offsets);
        }
    }
    Ok(())
}

/// A transactional offset commit: kept aside until its transaction's marker.
fn stage_transactional(record: &Record, pending: &mut PendingTxnOffsets) {
    let (Some(key), Some(value)) = (&record.key, &record.value) else {
        return;
    };
    if let (
        Ok(RecordKey::Offset {
            group,
            topic,
            partition,
        }),
        Ok(value),
    ) = (
        records::decode_key(key),
        records::decode_offset_value(value),
    ) {
        pending
            .entry(record.producer_id)
            .or_default()
            .entry(group)
            .or_default()
            .insert((topic, partition), value);
    }
}

/// An end-transaction marker (key: int16 version, int16 type; 0 abort, 1 commit):
/// the producer's staged commits in this partition are applied or dropped.
fn apply_marker(record: &Record, pending: &mut PendingTxnOffsets, out: &mut Replayed) {
    let Some(staged) = pending.remove(&record.producer_id) else {
        return;
    };
    let commit = record
        .key
        .as_ref()
        .filter(|k| k.len() >= 4)
        .is_some_and(|k| i16::from_be_bytes([k[2], k[3]]) == 1);
    if commit {
        for (group, offsets) in staged {
            out.offsets.entry(group).or_default().extend(offsets);
        }
    }
}

fn apply(record: &Record, out: &mut Replayed) {
    let Some(key) = &record.key else {
        return;
    };
    let key_bytes: &[u8] = key;
    let key = match records::decode_key(key) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(offset = record.offset, error = %e, "skipping undecodable __consumer_offsets key");
            return;
        }
    };
    out.records += 1;
    match key {
        RecordKey::Offset {
            group,
            topic,
            partition,
        } => match &record.value {
            None => {
                if let Some(o) = out.offsets.get_mut(&group) {
                    o.remove(&(topic, partition));
                }
            }
            Some(v) => match records::decode_offset_value(v) {
                Ok(value) => {
                    out.offsets
                        .entry(group)
                        .or_default()
                        .insert((topic, partition), value);
                }
                Err(e) => {
                    tracing::warn!(offset = record.offset, error = %e, "skipping undecodable offset commit")
                }
            },
        },
        RecordKey::Group { group } => match &record.value {
            None => {
                out.groups.remove(&group);
            }
            Some(v) => match records::decode_group_value(v) {
                Ok(value) => {
                    out.groups.insert(group, value);
                }
                Err(e) => {
                    tracing::warn!(offset = record.offset, error = %e, "skipping undecodable group metadata")
                }
            },
        },
        RecordKey::Other(t) if (3..=8).contains(&t) => {
            match super::consumer::records::decode_key(key_bytes) {
                Ok(k) => out.consumer_records.push((k, record.value.clone())),
                Err(e) => {
                    tracing::warn!(offset = record.offset, error = %e, "skipping undecodable consumer group key")
                }
            }
        }
        RecordKey::Other(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_for_matches_java_string_hash_code() {
        // "group".hashCode() == 98629247 in Java; 98629247 % 50 == 47.
        assert_eq!(partition_for("group", 50), 47);
        // "".hashCode() == 0.
        assert_eq!(partition_for("", 50), 0);
        // Negative hash: "polygenelubricants".hashCode() == Integer.MIN_VALUE -> abs 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // "Aa" and "BB" collide in Java (2112).
        assert_eq!(partition_for("Aa", 50), partition_for("BB", 50));
        assert_eq!(partition_for("Aa", 50), 2112 % 50);
    }
}
