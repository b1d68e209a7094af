//! Produce handler tests for the wire side of what a topic's configs do to a produced
//! batch: a refusal by the CreateTime timestamp window
//! (`message.timestamp.before/after.max.ms`) answered with INVALID_TIMESTAMP and KIP-467
//! record errors, and batches stored as rebuilt for `compression.type`. The validation
//! itself is tested next to the validator (`log::validator::tests`). Built on the
//! helpers of `api::tests`.

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
    // The first record an hour and a bit old, the second inside the window: refused,
    // naming the record outside (v8+ answers carry record errors and the message).
    let spec = BatchSpec {
        timestamp: now - 3_600_100,
        timestamp_step: 1_800_000,
        ..BatchSpec::default()
    };
    let r = produce(&b, "window", 0, encode(&["a", "b"], spec), -1)
        .await
        .unwrap();
    let pr = &r.responses[0].partition_responses[0];
    assert_eq!(pr.error_code, ResponseError::InvalidTimestamp.code());
    let bad: Vec<i32> = pr.record_errors.iter().map(|e| e.batch_index).collect();
    assert_eq!(bad, vec![0]);
    assert!(pr.record_errors[0]
        .batch_index_error_message
        .as_deref()
        .unwrap()
        .contains("out of range"));
    assert!(pr
        .error_message
        .as_deref()
        .unwrap()
        .contains("out of range"));
    assert_eq!(pr.base_offset, -1);
    // Nothing refused was stored.
    let resp = fetch::handle(fetch_request("window", 0, 0, (0, -1)), &ctx(12), &b)
        .await
        .unwrap();
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 1);
}

/// The codec bits of the first batch in `records`.
fn stored_codec(records: &Bytes) -> u8 {
    crate::log::BatchHeader::parse(records)
        .unwrap()
        .compression()
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
