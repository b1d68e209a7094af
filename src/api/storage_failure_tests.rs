//! What the handlers answer once a partition's fsync failed (the offline rule of
//! `crate::log::offline`). Failures are injected with the log layer's test seam
//! (`Partition::fail_next_sync`): the next group-commit fdatasync of that partition
//! returns EIO without syncing. Built on the helpers of `api::tests`.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;

use super::tests::*;
use super::*;
use crate::broker::Broker;
use crate::coordinator::group::store::{partition_for, OFFSETS_TOPIC};
use crate::error::ResponseError;
use crate::topics::Partition;

const STORAGE: i16 = ResponseError::KafkaStorageError.code();

fn partition(b: &Broker, topic: &str, index: i32) -> Arc<Partition> {
    b.topics
        .get(topic)
        .unwrap()
        .partition(index)
        .unwrap()
        .clone()
}

/// (error code, base offset) of a one-partition produce.
async fn produce_one(
    b: &Arc<Broker>,
    topic: &str,
    p: i32,
    records: Bytes,
    acks: i16,
) -> (i16, i64) {
    let r = produce(b, topic, p, records, acks).await.unwrap();
    let pr = &r.responses[0].partition_responses[0];
    (pr.error_code, pr.base_offset)
}

/// (error code, high watermark, values) of a fetch of `topic`-`p` from offset 0.
async fn fetch_one(b: &Arc<Broker>, topic: &str, p: i32) -> (i16, i64, Vec<String>) {
    let mut req = fetch_request(topic, 0, 0, (0, -1));
    req.topics[0].partitions[0].partition = p;
    let r = fetch::handle(req, &ctx(12), b).await.unwrap();
    let pd = &r.responses[0].partitions[0];
    let got = pd.records.as_ref().map(values).unwrap_or_default();
    (pd.error_code, pd.high_watermark, got)
}

/// (error code, offset) of ListOffsets `timestamp` for `topic`-`p`.
async fn list_offset(b: &Arc<Broker>, topic: &str, p: i32, timestamp: i64) -> (i16, i64) {
    let mut lp = ListOffsetsPartition::default();
    lp.partition_index = p;
    lp.timestamp = timestamp;
    let mut lt = ListOffsetsTopic::default();
    lt.name = TopicName(sb(topic));
    lt.partitions = vec![lp];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![lt];
    let r = list_offsets::handle(req, &ctx(7), b).await.unwrap();
    let pr = &r.topics[0].partitions[0];
    (pr.error_code, pr.offset)
}

/// (error code, leader id, offline replicas) of each partition of `topic` in Metadata v12.
async fn describe(b: &Arc<Broker>, topic: &str) -> Vec<(i16, i32, Vec<i32>)> {
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(TopicName(sb(topic)));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let r = metadata::handle(req, &ctx(12), b).await.unwrap();
    let mut parts: Vec<_> = r.topics[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.error_code,
                p.leader_id.0,
                p.offline_replicas.iter().map(|n| n.0).collect::<Vec<_>>(),
            )
        })
        .collect();
    parts.sort();
    parts.into_iter().map(|(_, e, l, o)| (e, l, o)).collect()
}

/// (a) the acks=all waiter of the failed fsync gets KAFKA_STORAGE_ERROR; (b) nothing
/// later on that partition is ever answered Ok, not even a wait for the very data whose
/// fsync failed (a second fsync could "succeed" over pages the kernel dropped), and
/// nothing more is written; (c) fetch and ListOffsets answer KAFKA_STORAGE_ERROR and
/// Metadata describes it as Kafka describes an offline partition; (d) the other
/// partitions are untouched.
#[tokio::test]
async fn a_failed_fsync_takes_only_that_partition_offline() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("num.partitions", "2")]);
    assert_eq!(produce_one(&b, "t", 0, batch(&["a"], 1), -1).await, (0, 0));
    assert_eq!(produce_one(&b, "t", 1, batch(&["x"], 1), -1).await, (0, 0));
    let p0 = partition(&b, "t", 0);

    // acks=1: in the page cache, not fsync'd yet.
    assert_eq!(produce_one(&b, "t", 0, batch(&["b"], 2), 1).await, (0, 1));

    p0.fail_next_sync();
    // An acks=all produce (appended before its fsync starts) and a waiter for the acks=1
    // data share the failing group commit: neither is told its data is safe.
    let (acks_all, waiter) = tokio::join!(
        produce_one(&b, "t", 0, batch(&["c"], 3), -1),
        p0.wait_durable(2),
    );
    assert_eq!(acks_all, (STORAGE, -1));
    assert!(waiter.is_err());
    assert!(p0.is_offline());

    // The appended but unsynced data is never declared durable: no second fsync.
    let end = p0.watermarks().high_watermark;
    assert_eq!(end, 3);
    assert!(p0.wait_durable(end).await.is_err());
    assert!(p0.wait_durable(2).await.is_err());
    // Data fsync'd before the failure stays durable.
    assert!(p0.wait_durable(1).await.is_ok());
    // Every later produce, whatever its acks, is refused without writing.
    assert_eq!(
        produce_one(&b, "t", 0, batch(&["d"], 4), -1).await,
        (STORAGE, -1)
    );
    assert_eq!(
        produce_one(&b, "t", 0, batch(&["e"], 5), 1).await,
        (STORAGE, -1)
    );
    assert!(produce(&b, "t", 0, batch(&["f"], 6), 0).await.is_none());
    assert_eq!(p0.watermarks().high_watermark, end);
    assert!(p0.append(batch(&["g"], 7), 7).is_err());
    assert_eq!(p0.watermarks().high_watermark, end);

    // (c) reads of the offline partition.
    assert_eq!(fetch_one(&b, "t", 0).await, (STORAGE, -1, vec![]));
    assert_eq!(list_offset(&b, "t", 0, -1).await, (STORAGE, -1));
    assert_eq!(list_offset(&b, "t", 0, -2).await, (STORAGE, -1));
    assert_eq!(list_offset(&b, "t", 0, 1).await, (STORAGE, -1));
    let node = b.config.node_id;
    assert_eq!(
        describe(&b, "t").await,
        vec![
            (ResponseError::LeaderNotAvailable.code(), -1, vec![node]),
            (0, node, vec![]),
        ]
    );

    // (d) the other partition of the topic, and another topic, carry on.
    assert_eq!(produce_one(&b, "t", 1, batch(&["y"], 2), -1).await, (0, 1));
    assert_eq!(produce_one(&b, "u", 0, batch(&["z"], 2), -1).await, (0, 0));
    assert_eq!(
        fetch_one(&b, "t", 1).await,
        (0, 2, vec!["x".to_string(), "y".to_string()])
    );
    assert_eq!(list_offset(&b, "t", 1, -1).await, (0, 2));
    assert_eq!(fetch_one(&b, "u", 0).await.0, 0);
    assert!(!partition(&b, "t", 1).is_offline());
    assert!(!partition(&b, "u", 0).is_offline());
}

/// flush.messages: the fsync of an acks=1 produce that crossed the threshold failed, so
/// that produce is not acknowledged either, and the partition is offline.
#[tokio::test]
async fn a_failed_flush_messages_fsync_is_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("log.flush.interval.messages", "1")]);
    assert_eq!(produce_one(&b, "t", 0, batch(&["a"], 1), 1).await, (0, 0));
    let p0 = partition(&b, "t", 0);
    p0.fail_next_sync();
    assert_eq!(
        produce_one(&b, "t", 0, batch(&["b"], 2), 1).await,
        (STORAGE, -1)
    );
    assert!(p0.is_offline());
    assert_eq!(
        produce_one(&b, "t", 0, batch(&["c"], 3), 1).await,
        (STORAGE, -1)
    );
}

/// OffsetCommit of a simple consumer (generation -1): the first answer's code.
async fn commit(b: &Arc<Broker>, group: &str, offset: i64) -> i16 {
    let mut pp = offset_commit_request::OffsetCommitRequestPartition::default();
    pp.partition_index = 0;
    pp.committed_offset = offset;
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = TopicName(sb("t"));
    t.partitions = vec![pp];
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(sb(group));
    req.generation_id_or_member_epoch = -1;
    req.topics = vec![t];
    let r = offset_commit::handle(req, &ctx(8), b).await.unwrap();
    r.topics[0].partitions[0].error_code
}

/// (e) an offset commit whose `__consumer_offsets` partition failed its fsync, and every
/// commit to that partition after it, gets an error; groups in other partitions commit.
#[tokio::test]
async fn an_offset_commit_on_an_offline_offsets_partition_fails() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("offsets.topic.num.partitions", "3")]);
    assert_eq!(produce_one(&b, "t", 0, batch(&["a"], 1), -1).await, (0, 0));
    assert_eq!(commit(&b, "g", 1).await, 0);
    let index = partition_for("g", 3);
    let other = (0..100)
        .map(|i| format!("other{i}"))
        .find(|g| partition_for(g, 3) != index)
        .unwrap();
    let offsets = partition(&b, OFFSETS_TOPIC, index);

    // Kafka's group coordinator answers a storage error on its own log NOT_COORDINATOR.
    let not_coordinator = ResponseError::NotCoordinator.code();
    offsets.fail_next_sync();
    assert_eq!(commit(&b, "g", 2).await, not_coordinator);
    assert!(offsets.is_offline());
    // The commit answered with an error is not what OffsetFetch sees: 1 still is.
    let fetched = b.groups.fetch_offsets("g", Some(&[("t".to_string(), 0)]));
    assert_eq!(fetched[0].1.as_ref().map(|o| o.offset), Some(1));
    let later = commit(&b, "g", 3).await;
    assert_ne!(later, 0);
    assert_eq!(later, not_coordinator);
    assert_eq!(commit(&b, &other, 1).await, 0);
}
