//! `__share_group_state`, the share coordinator's internal topic (Kafka's
//! ShareCoordinatorShard): which partition a share-partition's state lives in, the
//! ShareSnapshot/ShareUpdate records in Kafka's key and value schemas, appending one,
//! and replaying the topic at start-up.
//!
//! Keys are `[int16 record type][GroupId string][TopicId uuid][Partition int32]` (type
//! 0 ShareSnapshot, 1 ShareUpdate); values `[int16 version 0]` then the flexible
//! ShareSnapshotValue/ShareUpdateValue fields (compact arrays, tagged-field sections).
//! A null value is a tombstone (the share group or partition was deleted). The codec
//! is written here by hand: kafka-protocol carries only the client messages, not the
//! coordinators' record schemas. This module never decides what to write.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use uuid::Uuid;

use super::partition::{RecordState, StateBatch};
use crate::coordinator::group::store::partition_for;
use crate::coordinator::internal_log::{append_failed, Appended};
use crate::coordinator::replay::for_each_record;
use crate::error::{KafkaError, ResponseError};
use crate::topics::TopicRegistry;

pub const STATE_TOPIC: &str = "__share_group_state";
const SNAPSHOT: i16 = 0;
const UPDATE: i16 = 1;

/// A share-partition: (group id, topic id, partition).
pub type SharePartitionKey = (String, Uuid, i32);

/// A ShareSnapshot (the whole state) or ShareUpdate (a start offset and the batches
/// that changed) value.
#[derive(Clone, Debug, PartialEq)]
pub struct StateRecord {
    pub snapshot: bool,
    pub snapshot_epoch: u16,
    pub state_epoch: i32,
    pub leader_epoch: i32,
    /// -1 in an update that does not move it.
    pub start_offset: i64,
    pub batches: Vec<StateBatch>,
}

/// Kafka's share coordinator partitioning: `"group:topicId:partition"` (the topic id
/// as Kafka prints it, URL-safe base64) hashed as Java's String.hashCode, modulo the
/// topic's partition count.
pub fn partition_of(key: &SharePartitionKey, partitions: i32) -> i32 {
    let topic = crate::topics::store::base64_url(key.1.as_bytes());
    partition_for(&format!("{}:{}:{}", key.0, topic, key.2), partitions)
}

pub fn encode_key(key: &SharePartitionKey, snapshot: bool) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(if snapshot { SNAPSHOT } else { UPDATE });
    b.put_i16(key.0.len() as i16);
    b.put_slice(key.0.as_bytes());
    b.put_slice(key.1.as_bytes());
    b.put_i32(key.2);
    b.freeze()
}

fn put_uvarint(b: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn get_uvarint(b: &mut Bytes) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        if !b.has_remaining() {
            bail!("truncated varint");
        }
        let byte = b.get_u8();
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    bail!("varint too long")
}

fn skip_tagged(b: &mut Bytes) -> Result<()> {
    for _ in 0..get_uvarint(b)? {
        get_uvarint(b)?;
        let len = get_uvarint(b)? as usize;
        if b.remaining() < len {
            bail!("truncated tagged field");
        }
        b.advance(len);
    }
    Ok(())
}

pub fn encode_value(r: &StateRecord) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_u16(r.snapshot_epoch);
    if r.snapshot {
        b.put_i32(r.state_epoch);
    }
    b.put_i32(r.leader_epoch);
    b.put_i64(r.start_offset);
    put_uvarint(&mut b, r.batches.len() as u64 + 1);
    for s in &r.batches {
        b.put_i64(s.first_offset);
        b.put_i64(s.last_offset);
        b.put_i8(s.state.code());
        b.put_i16(s.delivery_count);
        put_uvarint(&mut b, 0);
    }
    put_uvarint(&mut b, 0);
    b.freeze()
}

fn need(b: &Bytes, n: usize) -> Result<()> {
    if b.remaining() < n {
        bail!("truncated share state record");
    }
    Ok(())
}

/// The key's share-partition and whether it is a snapshot; `None` for record types
/// this broker does not own.
pub fn decode_key(mut b: Bytes) -> Result<Option<(SharePartitionKey, bool)>> {
    need(&b, 4)?;
    let kind = b.get_i16();
    if kind != SNAPSHOT && kind != UPDATE {
        return Ok(None);
    }
    let len = b.get_i16();
    if len < 0 {
        bail!("null group id");
    }
    need(&b, len as usize + 20)?;
    let group = String::from_utf8(b.split_to(len as usize).to_vec())?;
    let topic = Uuid::from_slice(&b.split_to(16))?;
    Ok(Some(((group, topic, b.get_i32()), kind == SNAPSHOT)))
}

pub fn decode_value(mut b: Bytes, snapshot: bool) -> Result<StateRecord> {
    need(&b, 4)?;
    let _version = b.get_i16();
    let snapshot_epoch = b.get_u16();
    need(&b, if snapshot { 16 } else { 12 })?;
    let state_epoch = if snapshot { b.get_i32() } else { 0 };
    let leader_epoch = b.get_i32();
    let start_offset = b.get_i64();
    let n = get_uvarint(&mut b)?.saturating_sub(1);
    let mut batches = Vec::new();
    for _ in 0..n {
        need(&b, 19)?;
        let first_offset = b.get_i64();
        let last_offset = b.get_i64();
        let code = b.get_i8();
        let delivery_count = b.get_i16();
        skip_tagged(&mut b)?;
        let Some(state) = RecordState::from_code(code) else {
            bail!("unknown delivery state {code}");
        };
        batches.push(StateBatch {
            first_offset,
            last_offset,
            state,
            delivery_count,
        });
    }
    skip_tagged(&mut b)?;
    Ok(StateRecord {
        snapshot,
        snapshot_epoch,
        state_epoch,
        leader_epoch,
        start_offset,
        batches,
    })
}

fn state_topic(
    topics: &TopicRegistry,
    partitions: i32,
) -> Result<std::sync::Arc<crate::topics::Topic>, KafkaError> {
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    configs.insert("retention.ms".to_string(), "-1".to_string());
    topics.get_or_create_internal(STATE_TOPIC, partitions, configs)
}

/// Appends one record (`None` value: a tombstone) for `key`; await the returned
/// [`Appended::durable`] before answering the client.
pub fn append(
    topics: &TopicRegistry,
    partitions: i32,
    key: &SharePartitionKey,
    value: Option<&StateRecord>,
    now_ms: i64,
) -> Result<Appended, KafkaError> {
    let topic = state_topic(topics, partitions)?;
    let index = partition_of(key, topic.partitions.len() as i32);
    let partition = topic
        .partition(index)
        .cloned()
        .ok_or(ResponseError::CoordinatorNotAvailable)?;
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms,
        key: Some(encode_key(key, value.is_none_or(|v| v.snapshot))),
        value: value.map(encode_value),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options)
        .map_err(|e| KafkaError::new(ResponseError::UnknownServerError, e.to_string()))?;
    let info = partition
        .append(buf.freeze(), now_ms)
        .map_err(|e| KafkaError::new(append_failed(&partition, &key.0, &e), e.to_string()))?;
    Ok(Appended::new(partition, info.last_offset + 1))
}

/// Every share-partition's latest state: snapshots replace, updates merge, tombstones
/// remove, in log order.
pub fn replay(topics: &TopicRegistry) -> Result<HashMap<SharePartitionKey, Vec<StateRecord>>> {
    let mut out: HashMap<SharePartitionKey, Vec<StateRecord>> = HashMap::new();
    let Some(topic) = topics.get(STATE_TOPIC) else {
        return Ok(out);
    };
    for partition in &topic.partitions {
        let mut failed = None;
        for_each_record(partition, |record| {
            if failed.is_some() || record.control {
                return;
            }
            let Some(key) = record.key else { return };
            match decode_key(key) {
                Ok(Some((key, snapshot))) => match record.value {
                    None => {
                        out.remove(&key);
                    }
                    Some(v) => match decode_value(v, snapshot) {
                        Ok(r) if r.snapshot => {
                            out.insert(key, vec![r]);
                        }
                        Ok(r) => out.entry(key).or_default().push(r),
                        Err(e) => failed = Some(e),
                    },
                },
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        })?;
        if let Some(e) = failed {
            bail!("{STATE_TOPIC}-{}: {e}", partition.index);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let key = ("g".to_string(), Uuid::from_u128(7), 3);
        let r = StateRecord {
            snapshot: true,
            snapshot_epoch: 2,
            state_epoch: 1,
            leader_epoch: 0,
            start_offset: 10,
            batches: vec![StateBatch {
                first_offset: 10,
                last_offset: 12,
                state: RecordState::Acknowledged,
                delivery_count: 2,
            }],
        };
        assert_eq!(
            decode_key(encode_key(&key, true)).unwrap(),
            Some((key.clone(), true))
        );
        assert_eq!(decode_value(encode_value(&r), true).unwrap(), r);
        let u = StateRecord {
            snapshot: false,
            state_epoch: 0,
            ..r
        };
        assert_eq!(decode_value(encode_value(&u), false).unwrap(), u);
    }
}
