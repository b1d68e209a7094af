//! Unit tests of the validator: every refusal with its error (and, for record rules, the
//! records it names), the one-batch rule, the `compression.type` rebuild, and the
//! re-validation of records whose topic configs changed before the append. Test-only.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTs,
};

use super::*;
use crate::log::batch::{end_txn_marker_batch, CRC_OFFSET};
use crate::log::test_util::{batch, batch_with_timestamps};
use crate::log::{LogConfig, PartitionLog};

const NOW: i64 = 1_700_000_000_000;

fn validator(config: ValidationConfig, origin: AppendOrigin) -> LogValidator {
    LogValidator::new(config, NOW, origin)
}

fn client(config: ValidationConfig) -> LogValidator {
    validator(config, AppendOrigin::Client)
}

fn err(v: &LogValidator, payload: &[u8]) -> AppendError {
    v.validate(Bytes::copy_from_slice(payload))
        .unwrap_err()
        .error
}

/// One batch whose record `i` has key `keys[i]` and timestamp `NOW + i`.
fn keyed(keys: &[Option<&str>], compression: Compression) -> Bytes {
    let records: Vec<Record> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KTs::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: NOW + i as i64,
            key: k.map(|k| Bytes::from(k.to_string())),
            value: Some(Bytes::from(format!("v{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).unwrap();
    buf.freeze()
}

fn values(records: &Bytes) -> Vec<Bytes> {
    let mut buf = records.clone();
    RecordBatchDecoder::decode_all(&mut buf)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| r.value.unwrap())
        .collect()
}

fn indexes(e: &ValidationError) -> Vec<i32> {
    e.record_errors.iter().map(|r| r.batch_index).collect()
}

fn codec(records: &[u8]) -> u8 {
    BatchHeader::parse(records).unwrap().compression()
}

#[test]
fn header_crc_and_size_errors() {
    let v = client(ValidationConfig::default());
    let good = batch(3, 100, 10);
    assert!(matches!(err(&v, &[]), AppendError::InvalidRecord(_)));
    for magic in [0u8, 1] {
        let mut b = good.clone();
        b[16] = magic;
        assert!(matches!(err(&v, &b), AppendError::InvalidRecord(_)));
    }
    let mut b = good.clone();
    b[16] = 3;
    assert!(matches!(err(&v, &b), AppendError::CorruptMessage(_)));
    let mut b = good.clone();
    b[8..12].copy_from_slice(&48i32.to_be_bytes());
    assert!(matches!(err(&v, &b), AppendError::CorruptMessage(_)));
    let mut b = good.clone();
    b[8..12].copy_from_slice(&(good.len() as i32).to_be_bytes());
    assert!(matches!(err(&v, &b), AppendError::InvalidRecord(_)));
    assert!(matches!(
        err(&v, &good[..good.len() - 1]),
        AppendError::InvalidRecord(_)
    ));
    assert!(matches!(
        err(&v, &good[..10]),
        AppendError::InvalidRecord(_)
    ));
    let mut bad_crc = good.clone();
    bad_crc[CRC_OFFSET] ^= 0xff;
    match err(&v, &bad_crc) {
        AppendError::CorruptMessage(m) => assert!(m.contains("crc"), "{m}"),
        other => panic!("{other:?}"),
    }

    // Counts are covered by the CRC, so fix it up after tampering.
    let recrc = |mut b: Vec<u8>| {
        let crc = BatchHeader::compute_crc(&b);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        b
    };
    let mut b = good.clone();
    b[57..61].copy_from_slice(&0i32.to_be_bytes());
    assert!(matches!(err(&v, &recrc(b)), AppendError::InvalidRecord(_)));
    let mut b = good.clone();
    b[23..27].copy_from_slice(&5i32.to_be_bytes());
    assert!(matches!(err(&v, &recrc(b)), AppendError::InvalidRecord(_)));
    // Header says 3 records (consistent delta) but the body holds 4: caught by the
    // record walk of uncompressed batches.
    let four = batch(4, 100, 10);
    let mut b = good[..RECORD_BATCH_OVERHEAD].to_vec();
    b.extend_from_slice(&four[RECORD_BATCH_OVERHEAD..]);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    match err(&v, &recrc(b)) {
        AppendError::InvalidRecord(m) => assert!(m.starts_with("batch at position 0: "), "{m}"),
        other => panic!("{other:?}"),
    }

    let small = client(ValidationConfig {
        max_message_bytes: good.len() as u32 - 1,
        ..ValidationConfig::default()
    });
    assert!(
        matches!(err(&small, &good), AppendError::MessageTooLarge { size, .. } if size == good.len())
    );
    let ok = v.validate(Bytes::from(good)).unwrap();
    assert_eq!(ok.batches().len(), 1);
    assert_eq!(ok.batches()[0].header.record_count, 3);
}

#[test]
fn a_client_sends_exactly_one_batch_per_partition() {
    let good = batch(2, 100, 10);
    let mut two = good.clone();
    two.extend_from_slice(&good);
    match err(&client(ValidationConfig::default()), &two) {
        AppendError::InvalidRecord(m) => assert_eq!(m, ONE_BATCH_PER_PARTITION),
        other => panic!("{other:?}"),
    }
    // The rule runs before the batch checks, as Kafka's `validateRecords` does.
    let mut corrupt_first = two.clone();
    corrupt_first[CRC_OFFSET] ^= 0xff;
    match err(&client(ValidationConfig::default()), &corrupt_first) {
        AppendError::InvalidRecord(m) => assert_eq!(m, ONE_BATCH_PER_PARTITION),
        other => panic!("{other:?}"),
    }
    // Only a remainder that reaches a magic byte counts as a second batch.
    for (extra, second) in [(MAGIC_OFFSET, false), (MAGIC_OFFSET + 1, true)] {
        let mut p = good.clone();
        p.extend(std::iter::repeat_n(0u8, extra));
        match err(&client(ValidationConfig::default()), &p) {
            AppendError::InvalidRecord(m) => {
                assert_eq!(m == ONE_BATCH_PER_PARTITION, second, "{extra}: {m}")
            }
            other => panic!("{other:?}"),
        }
    }
    // A first batch too short to be one is left to the batch checks.
    let mut short = two.clone();
    short[8..12].copy_from_slice(&(MIN_BATCH_LENGTH - 1).to_be_bytes());
    assert!(matches!(
        err(&client(ValidationConfig::default()), &short),
        AppendError::CorruptMessage(_)
    ));
    // The broker's own writes may hold several batches.
    let coordinator = validator(ValidationConfig::default(), AppendOrigin::Coordinator);
    let ok = coordinator.validate(Bytes::from(two)).unwrap();
    assert_eq!(ok.batches().len(), 2);
    assert_eq!(ok.batches()[1].start, good.len());
}

#[test]
fn a_compacted_topic_refuses_keyless_records_naming_each() {
    let compacted = ValidationConfig {
        compacted_topic: true,
        ..ValidationConfig::default()
    };
    let keys = [Some("a"), None, Some("c"), None];
    for compression in [Compression::None, Compression::Gzip, Compression::Lz4] {
        let payload = keyed(&keys, compression);
        let e = client(compacted).validate(payload.clone()).unwrap_err();
        match &e.error {
            AppendError::InvalidRecord(m) => {
                assert!(m.contains(COMPACTED_TOPIC_NEEDS_KEY), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(indexes(&e), [1, 3], "{compression:?}");
        assert!(e
            .record_errors
            .iter()
            .all(|r| r.message == COMPACTED_TOPIC_NEEDS_KEY));
        // The broker's own batches follow the same rule; other topics take them.
        assert!(validator(compacted, AppendOrigin::Coordinator)
            .validate(payload.clone())
            .is_err());
        client(ValidationConfig::default())
            .validate(payload)
            .unwrap();
    }
    // Transaction markers carry their key; they never break the rule.
    let marker = end_txn_marker_batch(7, 0, true, 0, NOW);
    validator(compacted, AppendOrigin::Coordinator)
        .validate(Bytes::from(marker))
        .unwrap();
}

#[test]
fn create_time_topics_refuse_timestamps_outside_their_window() {
    let window = ValidationConfig {
        timestamp_before_max_ms: 3_600_000,
        timestamp_after_max_ms: 60_000,
        ..ValidationConfig::default()
    };
    let half_hour = 1_800_000;
    for compression in [Compression::None, Compression::Lz4] {
        let inside = batch_with_timestamps(&[NOW], 5, compression);
        client(window).validate(Bytes::from(inside)).unwrap();
        // Two hours old, older than the window then half an hour later, ten minutes
        // ahead: refused, naming every record outside.
        for (first, step, want) in [
            (NOW - 7_200_000, 1, vec![0, 1]),
            (NOW - 3_600_100, half_hour, vec![0]),
            (NOW + 600_000, 1, vec![0, 1]),
        ] {
            let payload = batch_with_timestamps(&[first, first + step], 5, compression);
            let e = client(window).validate(Bytes::from(payload)).unwrap_err();
            match &e.error {
                AppendError::InvalidTimestamp(m) => assert!(m.contains("out of range"), "{m}"),
                other => panic!("{other:?}"),
            }
            assert_eq!(indexes(&e), want, "{first} {compression:?}");
            assert!(e.record_errors[0].message.contains(&first.to_string()));
        }
    }
    // LogAppendTime topics stamp records themselves: no window.
    let log_append_time = ValidationConfig {
        timestamp_type: TimestampType::LogAppendTime,
        timestamp_before_max_ms: 1000,
        ..ValidationConfig::default()
    };
    let old = batch_with_timestamps(&[1000], 5, Compression::Lz4);
    client(log_append_time).validate(Bytes::from(old)).unwrap();
}

#[test]
fn the_uncompressed_path_keeps_the_bytes_as_sent() {
    let payload = Bytes::from(batch(3, NOW, 10));
    let ok = client(ValidationConfig::default())
        .validate(payload.clone())
        .unwrap();
    assert!(!ok.rebuilt());
    assert_eq!(ok.records().as_ptr(), payload.as_ptr(), "no copy");
}

#[test]
fn a_topic_compression_type_rebuilds_client_batches_with_its_codec() {
    let zstd = ValidationConfig {
        target_compression: Some(Compression::Zstd),
        ..ValidationConfig::default()
    };
    // lz4 as sent, zstd as stored; the same records.
    let lz4 = keyed(&[Some("a"), Some("b"), Some("c")], Compression::Lz4);
    let ok = client(zstd).validate(lz4.clone()).unwrap();
    assert!(ok.rebuilt());
    assert_eq!(codec(ok.records()), Compression::Zstd as u8);
    assert_eq!(ok.batches().len(), 1);
    assert_eq!(ok.batches()[0].header.record_count, 3);
    assert_eq!(values(ok.records()), values(&lz4));
    // A zstd batch is stored as sent.
    let sent = keyed(&[Some("d")], Compression::Zstd);
    let ok = client(zstd).validate(sent.clone()).unwrap();
    assert!(!ok.rebuilt());
    assert_eq!(ok.records().as_ptr(), sent.as_ptr());
    // The broker's own batches and transaction markers are stored as built.
    let ok = validator(zstd, AppendOrigin::Coordinator)
        .validate(lz4.clone())
        .unwrap();
    assert!(!ok.rebuilt());
    let marker = Bytes::from(end_txn_marker_batch(7, 0, true, 0, NOW));
    let ok = validator(zstd, AppendOrigin::Coordinator)
        .validate(marker)
        .unwrap();
    assert!(!ok.rebuilt());
}

#[test]
fn a_corrupt_batch_is_refused_before_any_rebuilding() {
    let plain = ValidationConfig {
        target_compression: Some(Compression::None),
        ..ValidationConfig::default()
    };
    let mut bad = keyed(&[Some("a")], Compression::Lz4).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1; // inside the CRC-covered records
    assert!(matches!(
        err(&client(plain), &bad),
        AppendError::CorruptMessage(_)
    ));
}

#[test]
fn a_rebuilt_batch_must_still_fit_max_message_bytes() {
    // Compressible records: the lz4 batch fits, its uncompressed rebuild does not.
    let lz4 = Bytes::from(batch_with_timestamps(&[NOW; 20], 1000, Compression::Lz4));
    assert!(lz4.len() < 5_000);
    let plain = ValidationConfig {
        target_compression: Some(Compression::None),
        max_message_bytes: 5_000,
        ..ValidationConfig::default()
    };
    match client(plain).validate(lz4).unwrap_err().error {
        AppendError::MessageTooLarge { size, max } => {
            assert!(size > 20_000);
            assert_eq!(max, 5_000);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn records_validated_before_a_config_change_are_validated_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), NOW).unwrap();
    let payload = keyed(&[Some("a"), None], Compression::Gzip);
    let validated = client(log.validation_config())
        .validate(payload.clone())
        .unwrap();
    log.set_config(LogConfig {
        cleanup_compact: true,
        ..LogConfig::default()
    });
    let e = log.append_validated(validated, NOW).unwrap_err();
    assert!(matches!(e.error, AppendError::InvalidRecord(_)));
    assert_eq!(indexes(&e), [1]);
    assert_eq!(log.log_end_offset(), 0);
    // Validated with the configs in force, the same records are appended as they are.
    let keyed_only = keyed(&[Some("a"), Some("b")], Compression::Gzip);
    let validated = client(log.validation_config())
        .validate(keyed_only)
        .unwrap();
    assert_eq!(log.append_validated(validated, NOW).unwrap().last_offset, 1);
}

#[test]
fn clients_may_not_write_control_batches_the_coordinators_may() {
    let config = ValidationConfig::new(&LogConfig::default());
    let marker = end_txn_marker_batch(7, 0, true, 0, NOW);
    assert!(matches!(
        err(&client(config), &marker),
        AppendError::InvalidRecord(m) if m == CLIENT_CONTROL_BATCH
    ));
    let ok = validator(config, AppendOrigin::Coordinator).validate(Bytes::copy_from_slice(&marker));
    assert!(ok.is_ok());
}

/// Admits id 1 under `t-key` only; knows ids 1 and 2.
struct OneKeyId;

impl schema_ids::SchemaIdLookup for OneKeyId {
    fn registered_under(&self, id: i32, subjects: schema_ids::Subjects<'_>) -> bool {
        id == 1 && subjects == schema_ids::Subjects::Exact("t-key")
    }
    fn exists(&self, id: i32) -> bool {
        id == 1 || id == 2
    }
}

#[test]
fn schema_ids_are_checked_for_clients_in_place_and_compressed() {
    use schema_ids::{SchemaIds, SchemaValidation, SubjectNameStrategy};
    let config = ValidationConfig {
        schema_validation: SchemaValidation {
            key: Some(SubjectNameStrategy::TopicName),
            value: None,
        },
        ..Default::default()
    };
    let ids = SchemaIds {
        topic: "t".into(),
        lookup: Some(std::sync::Arc::new(OneKeyId)),
    };
    for compression in [Compression::None, Compression::Gzip] {
        let good = keyed(&[Some("\0\0\0\0\u{1}a"), None], compression);
        client(config)
            .with_schema_ids(ids.clone())
            .validate(good)
            .unwrap();
        let bad = keyed(
            &[
                Some("\0\0\0\0\u{1}a"),
                Some("\0\0\0\0\u{2}b"),
                Some("plain"),
            ],
            compression,
        );
        let e = client(config)
            .with_schema_ids(ids.clone())
            .validate(bad.clone())
            .unwrap_err();
        assert!(matches!(e.error, AppendError::InvalidRecord(_)), "{e}");
        assert_eq!(indexes(&e), [1, 2]);
        assert!(e.record_errors[0]
            .message
            .contains("not registered under subject t-key"));
        // The coordinators' own appends are never checked.
        validator(config, AppendOrigin::Coordinator)
            .validate(bad)
            .unwrap();
    }
    let no_registry = SchemaIds {
        topic: "t".into(),
        lookup: None,
    };
    let e = client(config)
        .with_schema_ids(no_registry)
        .validate(keyed(&[None], Compression::None))
        .unwrap_err();
    assert!(e.to_string().contains("runs no schema registry"), "{e}");
}
