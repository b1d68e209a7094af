//! Produce handler tests for what a topic's configs do to a produced batch: the
//! CreateTime timestamp window (`message.timestamp.before/after.max.ms`) and
//! `compression.type`. Built on the helpers of `api::tests`.

use kafka_protocol::records::Compression;

use super::tests::*;
use super::*;
use crate::error::ResponseError;

#[tokio::test]
async fn record_timestamps_outside_the_topic_window_get_invalid_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        dir.path(),
        &[
            ("log.message.timestamp.before.max.ms", "3600000"),
            ("log.message.timestamp.after.max.ms", "60000"),
        ],
    );
    let now = crate::clock::system_now_ms();
    // In the window: accepted (lz4, so the compressed walk checks it).
    let ok = produce(&b, "window", 0, batch(&["now"], now), -1)
        .await
        .unwrap();
    assert_eq!(ok.responses[0].partition_responses[0].error_code, 0);
    // Two hours old, then ten minutes ahead: refused, naming every record outside.
    let half_hour = 1_800_000;
    for (timestamp, step) in [
        (now - 7_200_000, 1),
        (now - 3_600_100, half_hour),
        (now + 600_000, 1),
    ] {
        let spec = BatchSpec {
            timestamp,
            timestamp_step: step,
            ..BatchSpec::default()
        };
        let r = produce(&b, "window", 0, encode(&["a", "b"], spec), -1)
            .await
            .unwrap();
        let pr = &r.responses[0].partition_responses[0];
        assert_eq!(
            pr.error_code,
            ResponseError::InvalidTimestamp.code(),
            "{timestamp}"
        );
        let bad: Vec<i32> = pr.record_errors.iter().map(|e| e.batch_index).collect();
        // Half an hour later, the second record of the middle batch is inside the window.
        let want = if step == half_hour {
            vec![0]
        } else {
            vec![0, 1]
        };
        assert_eq!(bad, want, "{timestamp}");
        assert!(pr
            .error_message
            .as_deref()
            .unwrap()
            .contains("out of range"));
    }
    // Nothing refused was stored.
    let resp = fetch::handle(fetch_request("window", 0, 0, (0, -1)), &ctx(12), &b)
        .await
        .unwrap();
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 1);
}

#[tokio::test]
async fn log_append_time_topics_ignore_the_timestamp_window() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        dir.path(),
        &[
            ("log.message.timestamp.type", "LogAppendTime"),
            ("log.message.timestamp.before.max.ms", "1000"),
        ],
    );
    let r = produce(&b, "stamped", 0, batch(&["old"], 1000), -1)
        .await
        .unwrap();
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
}

/// The codec bits of the first batch in `records`.
fn stored_codec(records: &Bytes) -> u8 {
    crate::log::BatchHeader::parse(records)
        .unwrap()
        .compression()
}

#[tokio::test]
async fn a_topic_compression_type_rebuilds_batches_with_its_codec() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("compression.type", "zstd")]);
    // lz4 as sent, zstd as stored; the same records come back.
    let r = produce(&b, "zstd-topic", 0, batch(&["a", "b", "c"], 1000), -1)
        .await
        .unwrap();
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    // A zstd batch is stored as sent.
    let zstd = encode(
        &["d"],
        BatchSpec {
            compression: Compression::Zstd,
            ..BatchSpec::default()
        },
    );
    let r = produce(&b, "zstd-topic", 0, zstd, -1).await.unwrap();
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 3);
    let resp = fetch::handle(fetch_request("zstd-topic", 0, 0, (0, -1)), &ctx(12), &b)
        .await
        .unwrap();
    let records = resp.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(stored_codec(&records), Compression::Zstd as u8);
    assert_eq!(values(&records), ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn a_rebuilt_idempotent_batch_is_still_recognised_when_retried() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("compression.type", "gzip")]);
    let init = init_producer_id::handle(InitProducerIdRequest::default(), &ctx(4), &b)
        .await
        .unwrap();
    let pid = init.producer_id.0;
    let first = idempotent_batch(&["x", "y"], pid, 0, 0);
    let r1 = produce(&b, "gzip-topic", 0, first.clone(), -1)
        .await
        .unwrap();
    let r2 = produce(&b, "gzip-topic", 0, first, -1).await.unwrap();
    let (p1, p2) = (
        &r1.responses[0].partition_responses[0],
        &r2.responses[0].partition_responses[0],
    );
    assert_eq!((p1.error_code, p2.error_code), (0, 0));
    assert_eq!(
        p1.base_offset, p2.base_offset,
        "the retry gets the original offsets"
    );
    let next = idempotent_batch(&["z"], pid, 0, 2);
    let r3 = produce(&b, "gzip-topic", 0, next, -1).await.unwrap();
    assert_eq!(r3.responses[0].partition_responses[0].base_offset, 2);
    let resp = fetch::handle(fetch_request("gzip-topic", 0, 0, (0, -1)), &ctx(12), &b)
        .await
        .unwrap();
    let records = resp.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(stored_codec(&records), Compression::Gzip as u8);
    assert_eq!(values(&records), ["x", "y", "z"]);
}

#[tokio::test]
async fn a_corrupt_batch_is_refused_before_any_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("compression.type", "uncompressed")]);
    let mut bad = batch(&["a"], 1000).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1; // inside the CRC-covered records
    let r = produce(&b, "plain-topic", 0, Bytes::from(bad), -1)
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::CorruptMessage.code()
    );
}
