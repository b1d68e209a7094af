//! Kafka v2 records with their headers as Kafka's record format makes them: an
//! ordered list in which a key may repeat, a key may be empty and a value may be null.
//! The CLI's copy commands (`consume`, `export`, `import`, `replay`, `mirror`) and the
//! web console's message browser and produce form read and write records through it.
//!
//! `kafka_protocol::records::Record` keeps headers in an `IndexMap` keyed by name, so
//! decoding or encoding through it silently keeps one header per key; for commands
//! whose promise is an exact copy that is data loss. This module therefore walks and
//! writes the records part of a batch itself, following Kafka's `DefaultRecord`
//! (length varint, attributes, timestamp delta varlong, offset delta varint, key,
//! value, header count, then each header's key and value; varints are zigzag) and
//! `DefaultRecordBatch` for the 61-byte header (storage-format.md, "Record batches").
//! Decompression and the batch header's parsing stay [`crate::log::cleaner::records`]'s
//! and [`crate::log::BatchHeader`]'s; the varints are [`crate::log::batch`]'s.
//!
//! It owns the conversion between batch bytes and [`Record`] / [`OutRecord`] and
//! nothing else: it never talks to a broker or touches a file, never drops, merges or
//! reorders a header, and only writes uncompressed batches (the broker compresses per
//! the topic's `compression.type`).

use anyhow::{bail, Result};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::records::TimestampType;

use crate::log::batch::{
    put_varint, put_varlong, read_varint, read_varlong, CRC_OFFSET, LOG_OVERHEAD,
};
use crate::log::cleaner::records::records_of;
use crate::log::{BatchHeader, RECORD_BATCH_OVERHEAD};

/// One record header: its key (UTF-8, may be empty) and its value (null allowed).
pub type Header = (String, Option<Bytes>);

/// One record of a fetched batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp_type: TimestampType,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// In the record's order, repeated keys included.
    pub headers: Vec<Header>,
}

/// One record to produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    pub timestamp: i64,
}

/// The bytes of a record's key, value and headers (what the copy commands count
/// towards their transaction size limits).
pub fn payload_bytes(key: Option<&Bytes>, value: Option<&Bytes>, headers: &[Header]) -> usize {
    key.map_or(0, |k| k.len())
        + value.map_or(0, |v| v.len())
        + headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()))
            .sum::<usize>()
}

/// The records of one whole v2 data batch `batch` (with header `h`), decompressed if
/// needed. Keys and values are slices of the (decompressed) records buffer. A
/// LogAppendTime batch gives every record its `maxTimestamp`, as Kafka's
/// `DefaultRecordBatch` does.
pub fn decode_batch(batch: &Bytes, h: &BatchHeader) -> Result<Vec<Record>, String> {
    if h.total_size() < RECORD_BATCH_OVERHEAD || h.total_size() > batch.len() {
        return Err(format!(
            "the batch at {} has length {} but {} bytes",
            h.base_offset,
            h.batch_length,
            batch.len()
        ));
    }
    let body = records_of(batch, h)?;
    let log_append = h.timestamp_type() == crate::log::TimestampType::LogAppendTime;
    let mut cur: &[u8] = &body;
    let mut out = Vec::with_capacity(h.record_count.clamp(0, 1 << 16) as usize);
    for index in 0..h.record_count.max(0) {
        let bad = |what: &str| format!("record {index} of the batch at {}: {what}", h.base_offset);
        let length = read_varint(&mut cur).ok_or_else(|| bad("truncated length"))?;
        if length < 0 || length as usize > cur.len() {
            return Err(bad(&format!(
                "length {length} with {} bytes left",
                cur.len()
            )));
        }
        let start = body.len() - cur.len();
        let end = start + length as usize;
        let mut rec: &[u8] = &cur[..length as usize];
        cur = &cur[length as usize..];
        // A length-prefixed field of the record, as a zero-copy slice of `body`.
        let field = |rec: &mut &[u8], what: &str| -> Result<Option<Bytes>, String> {
            let len = read_varint(rec).ok_or_else(|| bad(what))?;
            if len < -1 || len as isize > rec.len() as isize {
                return Err(bad(&format!("{what} length {len}")));
            }
            if len == -1 {
                return Ok(None);
            }
            let at = end - rec.len();
            *rec = &rec[len as usize..];
            Ok(Some(body.slice(at..at + len as usize)))
        };
        let (_attributes, rest) = rec.split_first().ok_or_else(|| bad("no attributes"))?;
        rec = rest;
        let timestamp_delta = read_varlong(&mut rec).ok_or_else(|| bad("timestamp delta"))?;
        let offset_delta = read_varint(&mut rec).ok_or_else(|| bad("offset delta"))?;
        let key = field(&mut rec, "key")?;
        let value = field(&mut rec, "value")?;
        let count = read_varint(&mut rec).ok_or_else(|| bad("header count"))?;
        // Each header takes at least two bytes, which bounds the allocation.
        if count < 0 || count as usize > rec.len() / 2 {
            return Err(bad(&format!("header count {count}")));
        }
        let mut headers = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let name = field(&mut rec, "header key")?.ok_or_else(|| bad("null header key"))?;
            let name =
                String::from_utf8(name.to_vec()).map_err(|_| bad("a header key is not UTF-8"))?;
            headers.push((name, field(&mut rec, "header value")?));
        }
        if !rec.is_empty() {
            return Err(bad(&format!("{} bytes after its headers", rec.len())));
        }
        out.push(Record {
            offset: h.base_offset + offset_delta as i64,
            timestamp_type: if log_append {
                TimestampType::LogAppend
            } else {
                TimestampType::Creation
            },
            timestamp: if log_append {
                h.max_timestamp
            } else {
                h.base_timestamp.wrapping_add(timestamp_delta)
            },
            key,
            value,
            headers,
        });
    }
    if !cur.is_empty() {
        return Err(format!(
            "{} bytes follow the {} records of the batch at {}",
            cur.len(),
            h.record_count,
            h.base_offset
        ));
    }
    Ok(out)
}

/// Who writes a batch: Kafka's producer id, epoch and the first record's sequence
/// (-1, -1, -1 for a plain producer), and whether it belongs to a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Producer {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
}

/// Appends one uncompressed v2 batch holding `records` (at least one) in order, with
/// offset deltas 0, 1, 2... and base offset 0 (the broker assigns the real one).
/// `baseTimestamp` is the smallest record timestamp and `maxTimestamp` the largest,
/// the partition leader epoch -1 (a client's), CreateTime.
pub fn encode_batch(out: &mut BytesMut, records: &[OutRecord], producer: Producer) -> Result<()> {
    let (Some(min), Some(max)) = (
        records.iter().map(|r| r.timestamp).min(),
        records.iter().map(|r| r.timestamp).max(),
    ) else {
        bail!("a record batch needs at least one record");
    };
    let Ok(count) = i32::try_from(records.len()) else {
        bail!("{} records do not fit one batch", records.len());
    };
    let start = out.len();
    out.put_i64(0); // base offset
    out.put_i32(0); // batch length, below
    out.put_i32(-1); // partition leader epoch
    out.put_i8(2); // magic
    out.put_u32(0); // CRC, below
    out.put_i16(if producer.transactional { 0x10 } else { 0 });
    out.put_i32(count - 1); // last offset delta
    out.put_i64(min);
    out.put_i64(max);
    out.put_i64(producer.producer_id);
    out.put_i16(producer.producer_epoch);
    out.put_i32(producer.base_sequence);
    out.put_i32(count);
    debug_assert_eq!(out.len() - start, RECORD_BATCH_OVERHEAD);
    let mut body = BytesMut::new();
    for (delta, r) in records.iter().enumerate() {
        body.clear();
        body.put_u8(0); // attributes: unused in v2 records
        put_varlong(&mut body, r.timestamp.wrapping_sub(min));
        put_varint(&mut body, delta as i32);
        put_field(&mut body, r.key.as_deref(), "key")?;
        put_field(&mut body, r.value.as_deref(), "value")?;
        put_varint(&mut body, len_i32(r.headers.len(), "header count")?);
        for (k, v) in &r.headers {
            put_field(&mut body, Some(k.as_bytes()), "header key")?;
            put_field(&mut body, v.as_deref(), "header value")?;
        }
        put_varint(out, len_i32(body.len(), "record")?);
        out.put_slice(&body);
    }
    let batch_length = len_i32(out.len() - start - LOG_OVERHEAD, "batch")?;
    out[start + 8..start + 12].copy_from_slice(&batch_length.to_be_bytes());
    let crc = BatchHeader::compute_crc(&out[start..]);
    out[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

fn len_i32(n: usize, what: &str) -> Result<i32> {
    i32::try_from(n).map_err(|_| anyhow::anyhow!("{what} too large to encode ({n})"))
}

fn put_field(buf: &mut BytesMut, b: Option<&[u8]>, what: &str) -> Result<()> {
    match b {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, len_i32(b.len(), what)?);
            buf.put_slice(b);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    };
    use proptest::prelude::*;

    fn arb_bytes() -> impl Strategy<Value = Option<Bytes>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from))
    }

    /// Headers drawn from few names so keys repeat often; empty keys included.
    fn arb_headers() -> impl Strategy<Value = Vec<Header>> {
        proptest::collection::vec(
            (
                prop_oneof![
                    Just(String::new()),
                    Just("a".to_string()),
                    "[a-c\u{e9}]{0,3}"
                ],
                arb_bytes(),
            ),
            0..6,
        )
    }

    fn arb_out() -> impl Strategy<Value = OutRecord> {
        (
            arb_bytes(),
            arb_bytes(),
            arb_headers(),
            1_600_000_000_000i64..1_800_000_000_000,
        )
            .prop_map(|(key, value, headers, timestamp)| OutRecord {
                key,
                value,
                headers,
                timestamp,
            })
    }

    fn producer() -> Producer {
        Producer {
            producer_id: 42,
            producer_epoch: 3,
            base_sequence: 100,
            transactional: true,
        }
    }

    fn encode(records: &[OutRecord], base_offset: i64) -> Bytes {
        let mut out = BytesMut::new();
        encode_batch(&mut out, records, producer()).unwrap();
        out[0..8].copy_from_slice(&base_offset.to_be_bytes());
        out.freeze()
    }

    /// The same records through kafka_protocol's encoder (which needs unique keys).
    fn kafka_protocol_batch(records: &[OutRecord], codec: Compression) -> Bytes {
        let p = producer();
        let recs: Vec<kafka_protocol::records::Record> = records
            .iter()
            .enumerate()
            .map(|(i, r)| kafka_protocol::records::Record {
                transactional: p.transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: p.producer_id,
                producer_epoch: p.producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: p.base_sequence + i as i32,
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone()))
                    .collect(),
            })
            .collect();
        let mut out = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut out,
            &recs,
            &RecordEncodeOptions {
                version: 2,
                compression: codec,
            },
        )
        .unwrap();
        out.freeze()
    }

    fn decode(batch: &Bytes) -> Vec<Record> {
        let h = crate::log::batch::check_stored_batch(batch).expect("a valid batch");
        assert_eq!(h.total_size(), batch.len());
        decode_batch(batch, &h).unwrap()
    }

    proptest! {
        #[test]
        fn batches_round_trip_with_every_header(
            records in proptest::collection::vec(arb_out(), 1..8),
            base_offset in 0i64..1 << 40,
        ) {
            let batch = encode(&records, base_offset);
            let back = decode(&batch);
            prop_assert_eq!(back.len(), records.len());
            for (i, (b, r)) in back.iter().zip(&records).enumerate() {
                prop_assert_eq!(b.offset, base_offset + i as i64);
                prop_assert_eq!(b.timestamp_type, TimestampType::Creation);
                prop_assert_eq!(b.timestamp, r.timestamp);
                prop_assert_eq!(&b.key, &r.key);
                prop_assert_eq!(&b.value, &r.value);
                prop_assert_eq!(&b.headers, &r.headers);
            }
        }

        /// Without repeated keys the batch is byte for byte kafka_protocol's, and each
        /// codec's batch from kafka_protocol decodes to the same records.
        #[test]
        fn unique_keys_match_kafka_protocol(
            records in proptest::collection::vec(arb_out(), 1..8),
            codec in prop_oneof![
                Just(Compression::None), Just(Compression::Gzip), Just(Compression::Snappy),
                Just(Compression::Lz4), Just(Compression::Zstd),
            ],
        ) {
            let records: Vec<OutRecord> = records
                .into_iter()
                .map(|mut r| {
                    let mut seen = std::collections::HashSet::new();
                    r.headers.retain(|(k, _)| seen.insert(k.clone()));
                    r
                })
                .collect();
            prop_assert_eq!(&encode(&records, 0), &kafka_protocol_batch(&records, Compression::None));
            let theirs = decode(&kafka_protocol_batch(&records, codec));
            let ours = decode(&encode(&records, 0));
            prop_assert_eq!(theirs, ours);
        }
    }

    #[test]
    fn repeated_empty_and_null_headers_survive_where_kafka_protocol_keeps_one() {
        let headers: Vec<Header> = vec![
            ("dup".into(), Some(Bytes::from_static(b"1"))),
            ("".into(), None),
            ("dup".into(), Some(Bytes::from_static(b"2"))),
            ("dup".into(), None),
            ("".into(), Some(Bytes::new())),
            ("dup".into(), Some(Bytes::from_static(b"1"))),
        ];
        let r = OutRecord {
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: headers.clone(),
            timestamp: 5,
        };
        let batch = encode(&[r], 9);
        assert_eq!(decode(&batch)[0].headers, headers);
        let mut buf = batch.clone();
        let theirs = RecordBatchDecoder::decode(&mut buf).unwrap();
        assert_eq!(
            theirs.records[0].headers.len(),
            2,
            "the map keeps one per key"
        );
    }

    #[test]
    fn log_append_time_records_take_the_max_timestamp() {
        let records: Vec<OutRecord> = [10, 30, 20]
            .iter()
            .map(|t| OutRecord {
                key: None,
                value: None,
                headers: Vec::new(),
                timestamp: *t,
            })
            .collect();
        let mut batch = encode(&records, 0).to_vec();
        crate::log::batch::assign_offset_and_time(&mut batch, 7, Some(1000));
        let back = decode(&Bytes::from(batch));
        assert!(back
            .iter()
            .all(|r| r.timestamp == 1000 && r.timestamp_type == TimestampType::LogAppend));
        assert_eq!(back.iter().map(|r| r.offset).collect::<Vec<_>>(), [7, 8, 9]);
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let r = OutRecord {
            key: Some(Bytes::from_static(b"key")),
            value: Some(Bytes::from_static(b"value")),
            headers: vec![("h".into(), Some(Bytes::from_static(b"x")))],
            timestamp: 1,
        };
        let good = encode(&[r.clone(), r], 0);
        let h = BatchHeader::parse(&good).unwrap();
        for at in RECORD_BATCH_OVERHEAD..good.len() {
            for flip in [0x01u8, 0x40, 0x80, 0xff] {
                let mut b = good.to_vec();
                b[at] ^= flip;
                // The header is kept as is: only the record walk is exercised.
                let _ = decode_batch(&Bytes::from(b), &h);
            }
        }
        let mut b = good.to_vec();
        b.truncate(good.len() - 1);
        let short = BatchHeader {
            batch_length: h.batch_length - 1,
            ..h
        };
        assert!(decode_batch(&Bytes::from(b), &short).is_err());
        assert!(encode_batch(&mut BytesMut::new(), &[], producer()).is_err());
    }
}
