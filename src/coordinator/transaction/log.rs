//! The records the transaction coordinator writes to `__transaction_state`, byte for
//! byte as Kafka writes them (docs/transaction-state-format.md describes every field).
//!
//! Key: Kafka's TransactionLogKey v0 (int16 version 0, then the transactional id as a
//! non-flexible string). Value: TransactionLogValue v0 (int16 version 0, producer id,
//! epoch, timeout, status byte, nullable partition array, last-update and start
//! timestamps). A null value is a tombstone: the transactional id expired.
//! TransactionLogValue v1 is Kafka 4's flexible version (compact strings and arrays,
//! tagged fields): it adds the previous and next producer ids and the client's
//! transaction version (KIP-890's transactions v2) as tagged fields 0, 1 and 2, written
//! only when they differ from their defaults (-1, -1, 0). Both versions are read; any
//! other version is refused with a clear error so it is never misread.
//!
//! This module only turns values into bytes and back: it never touches a log, a lock
//! or a transaction's state machine.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::coordinator::classic_codec::{get_i16, get_i32, get_i64, get_str, need, put_str};

use super::metadata::{TransactionState, TxnTransitMetadata};

pub const KEY_VERSION: i16 = 0;
/// The first flexible TransactionLogValue version, the one transactions v2 need.
pub const VALUE_VERSION_FLEXIBLE: i16 = 1;

/// A TransactionLogValue as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionLogValue {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub transaction_timeout_ms: i32,
    pub state: TransactionState,
    /// Topic -> partitions, in the order they are written (sorted).
    pub partitions: BTreeMap<String, Vec<i32>>,
    pub last_update_timestamp_ms: i64,
    pub start_timestamp_ms: i64,
    /// v1 tagged field 0: the producer id before the last completed transaction
    /// (transactions v2) or the last rotation; -1 when none.
    pub previous_producer_id: i64,
    /// v1 tagged field 1: the producer id a transactions-v2 commit/abort rotates to once
    /// its markers are written (its epoch ran out); -1 when none.
    pub next_producer_id: i64,
    /// v1 tagged field 2: the transaction version the client used (2: transactions v2).
    pub client_transaction_version: i16,
}

impl TransactionLogValue {
    pub fn from_transit(t: &TxnTransitMetadata) -> TransactionLogValue {
        let mut partitions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (topic, p) in &t.partitions {
            partitions.entry(topic.clone()).or_default().push(*p);
        }
        TransactionLogValue {
            producer_id: t.producer_id,
            producer_epoch: t.producer_epoch,
            transaction_timeout_ms: t.txn_timeout_ms,
            state: t.state,
            partitions,
            last_update_timestamp_ms: t.txn_last_update_timestamp,
            start_timestamp_ms: t.txn_start_timestamp,
            previous_producer_id: t.last_producer_id,
            next_producer_id: t.next_producer_id,
            client_transaction_version: t.client_transaction_version,
        }
    }

    /// The version Kafka writes: v1 once transaction.version is at least 1 (Kafka's
    /// `transactionLogValueVersion`), and always for a transactions-v2 transaction,
    /// whose epoch bump and next producer id only v1 can carry.
    pub fn version_for(&self, transaction_version: i16) -> i16 {
        if transaction_version >= 1 || self.client_transaction_version >= 2 {
            VALUE_VERSION_FLEXIBLE
        } else {
            0
        }
    }
}

pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(KEY_VERSION);
    put_str(&mut b, transactional_id);
    b.freeze()
}

pub fn decode_key(mut b: &[u8]) -> Result<String, String> {
    let version = get_i16(&mut b)?;
    if version != KEY_VERSION {
        return Err(format!("unknown TransactionLogKey version {version}"));
    }
    get_str(&mut b)
}

pub fn encode_value(v: &TransactionLogValue, version: i16) -> Bytes {
    let flexible = version >= VALUE_VERSION_FLEXIBLE;
    let mut b = BytesMut::new();
    b.put_i16(if flexible { VALUE_VERSION_FLEXIBLE } else { 0 });
    b.put_i64(v.producer_id);
    b.put_i16(v.producer_epoch);
    b.put_i32(v.transaction_timeout_ms);
    b.put_i8(v.state.id());
    // Kafka writes an empty (not null) array when there are no partitions.
    if flexible {
        put_uvarint(&mut b, v.partitions.len() as u32 + 1);
    } else {
        b.put_i32(v.partitions.len() as i32);
    }
    for (topic, parts) in &v.partitions {
        if flexible {
            put_uvarint(&mut b, topic.len() as u32 + 1);
            b.put_slice(topic.as_bytes());
            put_uvarint(&mut b, parts.len() as u32 + 1);
        } else {
            put_str(&mut b, topic);
            b.put_i32(parts.len() as i32);
        }
        for p in parts {
            b.put_i32(*p);
        }
        if flexible {
            put_uvarint(&mut b, 0); // the partition entry's tagged fields
        }
    }
    b.put_i64(v.last_update_timestamp_ms);
    b.put_i64(v.start_timestamp_ms);
    if flexible {
        let mut tags: Vec<(u32, Vec<u8>)> = Vec::new();
        if v.previous_producer_id != -1 {
            tags.push((0, v.previous_producer_id.to_be_bytes().to_vec()));
        }
        if v.next_producer_id != -1 {
            tags.push((1, v.next_producer_id.to_be_bytes().to_vec()));
        }
        if v.client_transaction_version != 0 {
            tags.push((2, v.client_transaction_version.to_be_bytes().to_vec()));
        }
        put_uvarint(&mut b, tags.len() as u32);
        for (tag, data) in tags {
            put_uvarint(&mut b, tag);
            put_uvarint(&mut b, data.len() as u32);
            b.put_slice(&data);
        }
    }
    b.freeze()
}

fn put_uvarint(b: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        b.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn get_uvarint(b: &mut &[u8]) -> Result<u32, String> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        need(b, 1)?;
        let byte = b.get_u8();
        v |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("unsigned varint longer than 5 bytes".to_string())
}

/// A compact length (n + 1 on the wire; 0 is null, read as empty), bounded by what is
/// left so a damaged length never asks for a huge allocation.
fn get_compact_len(b: &mut &[u8]) -> Result<usize, String> {
    let n = get_uvarint(b)?;
    let n = n.saturating_sub(1) as usize;
    if n > b.len() {
        return Err(format!("compact length {n} runs past the end"));
    }
    Ok(n)
}

pub fn decode_value(mut b: &[u8]) -> Result<TransactionLogValue, String> {
    let version = get_i16(&mut b)?;
    if version != 0 && version != VALUE_VERSION_FLEXIBLE {
        return Err(format!("unsupported TransactionLogValue version {version}"));
    }
    let flexible = version == VALUE_VERSION_FLEXIBLE;
    let producer_id = get_i64(&mut b)?;
    let producer_epoch = get_i16(&mut b)?;
    let transaction_timeout_ms = get_i32(&mut b)?;
    need(b, 1)?;
    let status = b.get_i8();
    let state = TransactionState::from_id(status)
        .ok_or_else(|| format!("unknown transaction status {status}"))?;
    let topics = if flexible {
        get_compact_len(&mut b)?
    } else {
        get_i32(&mut b)?.max(0) as usize
    };
    let mut partitions = BTreeMap::new();
    for _ in 0..topics {
        let (topic, n) = if flexible {
            let len = get_compact_len(&mut b)?;
            let topic = String::from_utf8(b[..len].to_vec()).map_err(|e| e.to_string())?;
            b.advance(len);
            (topic, get_compact_len(&mut b)?)
        } else {
            (get_str(&mut b)?, get_i32(&mut b)?.max(0) as usize)
        };
        let mut parts = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            parts.push(get_i32(&mut b)?);
        }
        if flexible {
            skip_tagged_fields(&mut b)?;
        }
        partitions.insert(topic, parts);
    }
    let last_update_timestamp_ms = get_i64(&mut b)?;
    let start_timestamp_ms = get_i64(&mut b)?;
    let mut v = TransactionLogValue {
        producer_id,
        producer_epoch,
        transaction_timeout_ms,
        state,
        partitions,
        last_update_timestamp_ms,
        start_timestamp_ms,
        previous_producer_id: -1,
        next_producer_id: -1,
        client_transaction_version: 0,
    };
    if flexible {
        let count = get_uvarint(&mut b)?;
        for _ in 0..count {
            let tag = get_uvarint(&mut b)?;
            let size = get_compact_len_raw(&mut b)?;
            let mut data = &b[..size];
            match tag {
                0 => v.previous_producer_id = get_i64(&mut data)?,
                1 => v.next_producer_id = get_i64(&mut data)?,
                2 => v.client_transaction_version = get_i16(&mut data)?,
                // A tag a later Kafka added: skipped, as Kafka skips unknown tags.
                _ => {}
            }
            b.advance(size);
        }
    }
    Ok(v)
}

/// A tagged field's size (not compact: the byte count itself), bounded by what is left.
fn get_compact_len_raw(b: &mut &[u8]) -> Result<usize, String> {
    let n = get_uvarint(b)? as usize;
    if n > b.len() {
        return Err(format!("tagged field of {n} bytes runs past the end"));
    }
    Ok(n)
}

fn skip_tagged_fields(b: &mut &[u8]) -> Result<(), String> {
    let count = get_uvarint(b)?;
    for _ in 0..count {
        get_uvarint(b)?;
        let size = get_compact_len_raw(b)?;
        b.advance(size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout_is_kafkas_v0() {
        let k = encode_key("tx");
        assert_eq!(&k[..], &[0, 0, 0, 2, b't', b'x']);
        assert_eq!(decode_key(&k).unwrap(), "tx");
        assert!(decode_key(&[0, 1, 0, 0]).is_err());
    }

    #[test]
    fn value_layout_is_kafkas_v0_and_round_trips() {
        let mut partitions = BTreeMap::new();
        partitions.insert("a".to_string(), vec![0, 2]);
        let v = TransactionLogValue {
            producer_id: 7,
            producer_epoch: 3,
            transaction_timeout_ms: 60_000,
            state: TransactionState::PrepareCommit,
            partitions,
            last_update_timestamp_ms: 11,
            start_timestamp_ms: 10,
            previous_producer_id: -1,
            next_producer_id: -1,
            client_transaction_version: 0,
        };
        let b = encode_value(&v, 0);
        let mut expected = vec![0, 0];
        expected.extend_from_slice(&7i64.to_be_bytes());
        expected.extend_from_slice(&3i16.to_be_bytes());
        expected.extend_from_slice(&60_000i32.to_be_bytes());
        expected.push(2); // PrepareCommit
        expected.extend_from_slice(&1i32.to_be_bytes());
        expected.extend_from_slice(&[0, 1, b'a']);
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(&0i32.to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(&11i64.to_be_bytes());
        expected.extend_from_slice(&10i64.to_be_bytes());
        assert_eq!(&b[..], &expected[..]);
        assert_eq!(decode_value(&b).unwrap(), v);
        // Truncation and unknown versions are errors, never misreads.
        assert!(decode_value(&b[..b.len() - 1]).is_err());
        let mut v2 = b.to_vec();
        v2[1] = 2;
        assert!(decode_value(&v2).is_err());
    }

    #[test]
    fn null_partition_array_reads_as_empty() {
        let mut b = vec![0, 0];
        b.extend_from_slice(&1i64.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&1000i32.to_be_bytes());
        b.push(0);
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&5i64.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes());
        let v = decode_value(&b).unwrap();
        assert!(v.partitions.is_empty());
        assert_eq!(v.state, TransactionState::Empty);
        assert_eq!(v.start_timestamp_ms, -1);
    }

    #[test]
    fn value_v1_layout_is_kafkas_flexible_one_and_round_trips() {
        let mut partitions = BTreeMap::new();
        partitions.insert("a".to_string(), vec![0]);
        let v = TransactionLogValue {
            producer_id: 7,
            producer_epoch: 4,
            transaction_timeout_ms: 60_000,
            state: TransactionState::PrepareCommit,
            partitions,
            last_update_timestamp_ms: 11,
            start_timestamp_ms: 10,
            previous_producer_id: -1,
            next_producer_id: 9,
            client_transaction_version: 2,
        };
        assert_eq!(v.version_for(0), VALUE_VERSION_FLEXIBLE);
        let b = encode_value(&v, VALUE_VERSION_FLEXIBLE);
        let mut expected = vec![0, 1];
        expected.extend_from_slice(&7i64.to_be_bytes());
        expected.extend_from_slice(&4i16.to_be_bytes());
        expected.extend_from_slice(&60_000i32.to_be_bytes());
        expected.push(2);
        // One topic (compact: 2), "a" (compact: 2), one partition (2), 0, no tags.
        expected.extend_from_slice(&[2, 2, b'a', 2]);
        expected.extend_from_slice(&0i32.to_be_bytes());
        expected.push(0);
        expected.extend_from_slice(&11i64.to_be_bytes());
        expected.extend_from_slice(&10i64.to_be_bytes());
        // Two tagged fields: 1 (next producer id, 8 bytes) and 2 (client version).
        expected.extend_from_slice(&[2, 1, 8]);
        expected.extend_from_slice(&9i64.to_be_bytes());
        expected.extend_from_slice(&[2, 2, 0, 2]);
        assert_eq!(&b[..], &expected[..]);
        assert_eq!(decode_value(&b).unwrap(), v);
        for cut in 1..b.len() {
            assert!(decode_value(&b[..cut]).is_err(), "cut at {cut}");
        }
        // A TV1 transaction on a transaction.version 0 cluster stays v0.
        let v0 = TransactionLogValue {
            client_transaction_version: 0,
            next_producer_id: -1,
            ..v
        };
        assert_eq!(v0.version_for(0), 0);
        assert_eq!(v0.version_for(1), VALUE_VERSION_FLEXIBLE);
    }
}
