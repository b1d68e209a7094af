//! A topic's `compression.type` applied to a produced batch: Kafka's `LogValidator`
//! rebuilds a batch whose codec differs from the topic's (unless the topic says
//! `producer`) before it is stored.
//!
//! Owns the decode and re-encode of one client batch: every record keeps its key,
//! value, headers and timestamp, and the batch keeps its producer id, epoch, base
//! sequence, transactional flag and record count, so idempotence and transactions
//! see the same batch. It never touches the log, and only the validator calls
//! [`recompress`], with a batch that passed every check (a rebuild never launders a
//! corrupt batch).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};

use crate::log::batch::BatchHeader;
use crate::log::error::AppendError;

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
    let mut buf = batch.clone();
    let sets = RecordBatchDecoder::decode_all(&mut buf)
        .map_err(|e| AppendError::InvalidRecord(format!("cannot decode the batch: {e:#}")))?;
    let records: Vec<_> = sets.into_iter().flat_map(|set| set.records).collect();
    let mut out = BytesMut::with_capacity(batch.len());
    let options = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    // The decoder gives every record base_sequence + offset_delta as its sequence, so
    // offset - sequence is constant across the batch and the encoder keeps it whole.
    RecordBatchEncoder::encode(&mut out, records.iter(), &options).map_err(|e| {
        AppendError::InvalidRecord(format!("cannot re-encode the batch as {codec:?}: {e:#}"))
    })?;
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::{Record, TimestampType};

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
}
