//! A topic's `compression.type` applied to a produced batch: Kafka's `LogValidator`
//! rebuilds a batch whose codec differs from the topic's (unless the topic says
//! `producer`) before it is stored.
//!
//! Owns the re-compression of one client batch. Only the records part changes codec:
//! it is decompressed and compressed again byte for byte, never decoded into records
//! and encoded back, so every record keeps its exact bytes (key, value, timestamp and
//! offset deltas, and headers in their order with repeated keys, which a decode
//! through a map keyed by header name would lose). The batch header keeps its base
//! offset, producer id, epoch, base sequence, timestamps, transactional flag and record
//! count, so idempotence and transactions see the same batch; only the codec bits, the
//! length and the CRC change. It never touches the log, and only the validator calls
//! [`recompress`], with a batch that passed every check (a rebuild never launders a
//! corrupt batch).

use bytes::Bytes;
use kafka_protocol::records::Compression;

use crate::log::batch::{
    BatchHeader, ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, CRC_OFFSET, LOG_OVERHEAD,
    RECORD_BATCH_OVERHEAD,
};
use crate::log::cleaner::records::{compress, records_of};
use crate::log::error::AppendError;

/// The low bits of a batch's attributes that name its codec.
const COMPRESSION_CODEC_MASK: i16 = 0x07;

/// A topic's `compression.type`: `None` keeps what the producer sent (`producer`).
pub fn target_codec(compression_type: &str) -> Option<Compression> {
    match compression_type.trim() {
        "uncompressed" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

/// Whether a batch with `header` must be rebuilt to store it as `codec`.
pub fn needs_recompression(header: &BatchHeader, codec: Compression) -> bool {
    header.compression() != codec as u8 && !header.is_control()
}

/// Rebuilds one whole v2 client batch, already validated, with `codec`.
pub fn recompress(batch: &Bytes, codec: Compression) -> Result<Bytes, AppendError> {
    let header = BatchHeader::parse(batch)
        .ok_or_else(|| AppendError::InvalidRecord("cannot read the batch header".to_string()))?;
    let plain = records_of(batch, &header).map_err(AppendError::InvalidRecord)?;
    let body = compress(codec as u8, &plain).map_err(|e| {
        AppendError::InvalidRecord(format!("cannot re-encode the batch as {codec:?}: {e}"))
    })?;
    let mut out = Vec::with_capacity(RECORD_BATCH_OVERHEAD + body.len());
    out.extend_from_slice(&batch[..RECORD_BATCH_OVERHEAD]);
    out.extend_from_slice(&body);
    let batch_length = (out.len() - LOG_OVERHEAD) as i32;
    out[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&batch_length.to_be_bytes());
    let attributes = (header.attributes & !COMPRESSION_CODEC_MASK) | codec as i16;
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    let crc = BatchHeader::compute_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use super::*;
    use crate::log::validator::{AppendOrigin, LogValidator, ValidationConfig};

    fn batch(
        codec: Compression,
        producer_id: i64,
        base_sequence: i32,
        transactional: bool,
    ) -> Bytes {
        let records: Vec<Record> = (0..5)
            .map(|i| Record {
                transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id,
                producer_epoch: if producer_id < 0 { -1 } else { 3 },
                timestamp_type: TimestampType::Creation,
                offset: i,
                sequence: base_sequence.wrapping_add(i as i32),
                timestamp: 1_700_000_000_000 + 7 * i,
                key: (i % 2 == 0).then(|| Bytes::from(format!("key-{i}"))),
                value: Some(Bytes::from(vec![b'v'; 100 + i as usize])),
                headers: [(
                    kafka_protocol::protocol::StrBytes::from_static_str("h"),
                    Some(Bytes::from_static(b"x")),
                )]
                .into_iter()
                .collect(),
            })
            .collect();
        let mut out = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: codec,
        };
        RecordBatchEncoder::encode(&mut out, records.iter(), &options).unwrap();
        out.freeze()
    }

    fn decoded(b: &Bytes) -> Vec<Record> {
        let mut buf = b.clone();
        RecordBatchDecoder::decode_all(&mut buf)
            .unwrap()
            .into_iter()
            .flat_map(|s| s.records)
            .collect()
    }

    #[test]
    fn recompression_keeps_records_and_producer_fields() {
        let cases = [
            (Compression::Lz4, Compression::Zstd, -1, -1, false),
            (Compression::None, Compression::Gzip, 42, 17, false),
            (Compression::Snappy, Compression::None, 42, 17, true),
        ];
        for (from, to, producer_id, base_sequence, transactional) in cases {
            let original = batch(from, producer_id, base_sequence, transactional);
            let rebuilt = recompress(&original, to).unwrap();
            let (h0, h1) = (
                BatchHeader::parse(&original).unwrap(),
                BatchHeader::parse(&rebuilt).unwrap(),
            );
            assert_eq!(h1.compression(), to as u8);
            assert_eq!(
                (
                    h1.producer_id,
                    h1.producer_epoch,
                    h1.base_sequence,
                    h1.record_count
                ),
                (
                    h0.producer_id,
                    h0.producer_epoch,
                    h0.base_sequence,
                    h0.record_count
                )
            );
            assert_eq!(
                (h1.base_timestamp, h1.max_timestamp),
                (h0.base_timestamp, h0.max_timestamp)
            );
            assert_eq!(
                h1.attributes & !7,
                h0.attributes & !7,
                "only the codec bits change"
            );
            // One valid batch with a correct CRC, holding the same records.
            let validator = LogValidator::new(ValidationConfig::default(), 0, AppendOrigin::Client);
            let validated = validator.validate(rebuilt.clone()).unwrap();
            assert_eq!(validated.batches().len(), 1);
            assert!(!validated.rebuilt());
            assert_eq!(decoded(&rebuilt), decoded(&original), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn only_a_different_codec_needs_rebuilding() {
        let lz4 = BatchHeader::parse(&batch(Compression::Lz4, -1, -1, false)).unwrap();
        assert!(!needs_recompression(&lz4, Compression::Lz4));
        assert!(needs_recompression(&lz4, Compression::None));
        assert!(needs_recompression(&lz4, Compression::Zstd));
        assert_eq!(target_codec("producer"), None);
        assert_eq!(target_codec("uncompressed"), Some(Compression::None));
        assert_eq!(target_codec("zstd"), Some(Compression::Zstd));
    }

    fn put_varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }

    /// A record with value `value` and the headers `headers`, in Kafka's record format.
    fn raw_record(offset_delta: i64, value: &[u8], headers: &[(&str, &[u8])]) -> Vec<u8> {
        let mut body = vec![0u8]; // attributes
        put_varint(&mut body, 0); // timestamp delta
        put_varint(&mut body, offset_delta);
        put_varint(&mut body, -1); // null key
        put_varint(&mut body, value.len() as i64);
        body.extend_from_slice(value);
        put_varint(&mut body, headers.len() as i64);
        for (k, v) in headers {
            put_varint(&mut body, k.len() as i64);
            body.extend_from_slice(k.as_bytes());
            put_varint(&mut body, v.len() as i64);
            body.extend_from_slice(v);
        }
        let mut out = Vec::new();
        put_varint(&mut out, body.len() as i64);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn recompression_keeps_every_record_byte_including_repeated_header_keys() {
        // A valid uncompressed batch of two records whose records part is replaced by
        // records that repeat a header key (what a decode through a map would merge).
        let template = batch(Compression::None, -1, -1, false);
        let h = BatchHeader::parse(&template).unwrap();
        let mut plain = raw_record(0, b"v0", &[("h", b"a"), ("h", b"b"), ("", b"")]);
        for i in 1..h.record_count as i64 {
            plain.extend(raw_record(i, b"v", &[("x", b"1"), ("x", b"1")]));
        }
        let mut original = template[..RECORD_BATCH_OVERHEAD].to_vec();
        original.extend_from_slice(&plain);
        let len = (original.len() - LOG_OVERHEAD) as i32;
        original[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&len.to_be_bytes());
        let crc = BatchHeader::compute_crc(&original);
        original[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        let original = Bytes::from(original);

        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let compressed = recompress(&original, codec).unwrap();
            let ch = BatchHeader::parse(&compressed).unwrap();
            assert_eq!(ch.compression(), codec as u8);
            assert_eq!(records_of(&compressed, &ch).unwrap(), plain, "{codec:?}");
            let back = recompress(&compressed, Compression::None).unwrap();
            assert_eq!(back, original, "{codec:?} and back is the same batch");
        }
    }
}
