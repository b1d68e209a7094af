//! The records the transaction coordinator writes to `__transaction_state`, byte for
//! byte as Kafka writes them (docs/transaction-state-format.md describes every field).
//!
//! Key: Kafka's TransactionLogKey v0 (int16 version 0, then the transactional id as a
//! non-flexible string). Value: TransactionLogValue v0 (int16 version 0, producer id,
//! epoch, timeout, status byte, nullable partition array, last-update and start
//! timestamps). A null value is a tombstone: the transactional id expired. We read
//! value v0 only; Kafka 4's flexible v1 (tagged fields for KIP-890) is refused with a
//! clear error so it is never misread.
//!
//! This module only turns values into bytes and back: it never touches a log, a lock
//! or a transaction's state machine.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::coordinator::classic_codec::{get_i16, get_i32, get_i64, get_str, need, put_str};

use super::metadata::{TransactionState, TxnTransitMetadata};

pub const KEY_VERSION: i16 = 0;
pub const VALUE_VERSION: i16 = 0;

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

pub fn encode_value(v: &TransactionLogValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(VALUE_VERSION);
    b.put_i64(v.producer_id);
    b.put_i16(v.producer_epoch);
    b.put_i32(v.transaction_timeout_ms);
    b.put_i8(v.state.id());
    // Kafka writes an empty (not null) array when there are no partitions.
    b.put_i32(v.partitions.len() as i32);
    for (topic, parts) in &v.partitions {
        put_str(&mut b, topic);
        b.put_i32(parts.len() as i32);
        for p in parts {
            b.put_i32(*p);
        }
    }
    b.put_i64(v.last_update_timestamp_ms);
    b.put_i64(v.start_timestamp_ms);
    b.freeze()
}

pub fn decode_value(mut b: &[u8]) -> Result<TransactionLogValue, String> {
    let version = get_i16(&mut b)?;
    if version != VALUE_VERSION {
        return Err(format!("unsupported TransactionLogValue version {version}"));
    }
    let producer_id = get_i64(&mut b)?;
    let producer_epoch = get_i16(&mut b)?;
    let transaction_timeout_ms = get_i32(&mut b)?;
    need(b, 1)?;
    let status = b.get_i8();
    let state = TransactionState::from_id(status)
        .ok_or_else(|| format!("unknown transaction status {status}"))?;
    let topics = get_i32(&mut b)?;
    let mut partitions = BTreeMap::new();
    for _ in 0..topics.max(0) {
        let topic = get_str(&mut b)?;
        let n = get_i32(&mut b)?;
        let mut parts = Vec::with_capacity(n.clamp(0, 4096) as usize);
        for _ in 0..n.max(0) {
            parts.push(get_i32(&mut b)?);
        }
        partitions.insert(topic, parts);
    }
    let last_update_timestamp_ms = get_i64(&mut b)?;
    let start_timestamp_ms = get_i64(&mut b)?;
    Ok(TransactionLogValue {
        producer_id,
        producer_epoch,
        transaction_timeout_ms,
        state,
        partitions,
        last_update_timestamp_ms,
        start_timestamp_ms,
    })
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
        };
        let b = encode_value(&v);
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
        let mut v1 = b.to_vec();
        v1[1] = 1;
        assert!(decode_value(&v1).is_err());
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
}
