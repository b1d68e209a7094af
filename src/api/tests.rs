//! Handler tests without sockets: each builds a broker on a temporary data directory
//! and calls the API handlers directly with typed requests.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::broker::Broker;
use crate::config::{BrokerConfig, Overrides};
use crate::error::ResponseError;

/// Topic "t" with one partition.
pub(crate) fn topic_t(b: &Arc<Broker>) -> Arc<crate::topics::Topic> {
    b.topics
        .create(
            crate::topics::NewTopic {
                name: "t".into(),
                num_partitions: 1,
                replication_factor: 1,
                configs: Default::default(),
            },
            false,
        )
        .unwrap()
}

pub(crate) fn broker(dir: &std::path::Path, sets: &[(&str, &str)]) -> Arc<Broker> {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        sets: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    Broker::open(BrokerConfig::load(None, &overrides).unwrap()).unwrap()
}

pub(crate) fn ctx(version: i16) -> RequestContext {
    RequestContext::new(
        1,
        "127.0.0.1:1".parse().unwrap(),
        version,
        7,
        Some("test".into()),
    )
}

/// How a test batch is built; see [`encode`].
#[derive(Clone, Copy)]
pub(crate) struct BatchSpec {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub first_seq: i32,
    pub transactional: bool,
    pub compression: Compression,
    pub timestamp: i64,
    /// Added per record, so records of one batch have distinct timestamps.
    pub timestamp_step: i64,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            producer_id: -1,
            producer_epoch: -1,
            first_seq: 0,
            transactional: false,
            compression: Compression::Lz4,
            timestamp: 1000,
            timestamp_step: 1,
        }
    }
}

/// One v2 batch holding `values`. Sequences run from `first_seq` even for plain
/// batches, because the encoder starts a new batch whenever offset - sequence changes.
pub(crate) fn encode(values: &[&str], spec: BatchSpec) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: spec.transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: spec.producer_id,
            producer_epoch: spec.producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: spec.first_seq + i as i32,
            timestamp: spec.timestamp + spec.timestamp_step * i as i64,
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: spec.compression,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).unwrap();
    buf.freeze()
}

/// A plain (non-idempotent) lz4 batch whose records are `timestamp`, `timestamp + 1`, ...
pub(crate) fn batch(values: &[&str], timestamp: i64) -> Bytes {
    encode(
        values,
        BatchSpec {
            timestamp,
            ..BatchSpec::default()
        },
    )
}

pub(crate) async fn produce(
    b: &Arc<Broker>,
    topic: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> Option<ProduceResponse> {
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = TopicName(sb(topic));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 1000;
    req.topic_data = vec![t];
    produce::handle(req, &ctx(9), b).await
}

pub(crate) fn fetch_request(
    topic: &str,
    offset: i64,
    max_wait_ms: i32,
    session: (i32, i32),
) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = TopicName(sb(topic));
    t.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 50 << 20;
    req.session_id = session.0;
    req.session_epoch = session.1;
    req.topics = vec![t];
    req
}

pub(crate) fn values(records: &Bytes) -> Vec<String> {
    let mut buf = records.clone();
    RecordBatchDecoder::decode_all(&mut buf)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap())
        .collect()
}

#[tokio::test]
async fn produce_auto_creates_and_fetch_returns_the_stored_batch() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let r = produce(&b, "events", 0, batch(&["a", "b", "c"], 1000), -1)
        .await
        .unwrap();
    let pr = &r.responses[0].partition_responses[0];
    assert_eq!(
        (pr.error_code, pr.base_offset, pr.log_append_time_ms),
        (0, 0, -1)
    );
    let r = produce(&b, "events", 0, batch(&["d"], 2000), 1)
        .await
        .unwrap();
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 3);

    let resp = fetch::handle(fetch_request("events", 1, 0, (0, -1)), &ctx(12), &b)
        .await
        .unwrap();
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        (
            p.error_code,
            p.high_watermark,
            p.last_stable_offset,
            p.log_start_offset
        ),
        (0, 4, 4, 0)
    );
    // Whole batches from the one holding offset 1, including the later append.
    let got = values(p.records.as_ref().unwrap());
    assert_eq!(got.last().map(String::as_str), Some("d"), "{got:?}");
    assert!(
        got.ends_with(&["b".to_string(), "c".to_string(), "d".to_string()]),
        "{got:?}"
    );
}

#[tokio::test]
async fn acks_zero_gets_no_answer_and_bad_partitions_get_their_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    assert!(produce(&b, "t", 0, batch(&["x"], 1), 0).await.is_none());
    let r = produce(&b, "t", 5, batch(&["x"], 1), 1).await.unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::UnknownTopicOrPartition.code()
    );
    let r = produce(&b, "bad/name", 0, batch(&["x"], 1), 1)
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::UnknownTopicOrPartition.code()
    );
    let r = produce(&b, "t", 0, batch(&["x"], 1), 2).await.unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::InvalidRequiredAcks.code()
    );
    let mut corrupt = BytesMut::from(&batch(&["x"], 1)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let r = produce(&b, "t", 0, corrupt.freeze(), 1).await.unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::CorruptMessage.code()
    );
}

#[tokio::test]
async fn auto_create_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("auto.create.topics.enable", "false")]);
    let r = produce(&b, "t", 0, batch(&["x"], 1), 1).await.unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::UnknownTopicOrPartition.code()
    );
    assert!(b.topics.get("t").is_none());
}

#[tokio::test]
async fn long_poll_is_woken_by_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    produce(&b, "t", 0, batch(&["first"], 1), 1).await.unwrap();
    let b2 = b.clone();
    // max_wait 60 s: only an append can end this fetch within the test's time bound.
    let waiting = tokio::spawn(async move {
        fetch::handle(fetch_request("t", 1, 60_000, (0, -1)), &ctx(12), &b2)
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiting.is_finished(),
        "fetch at the log end must wait for data"
    );
    produce(&b, "t", 0, batch(&["second"], 2), 1).await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("append wakes the fetch")
        .unwrap();
    assert_eq!(
        values(resp.responses[0].partitions[0].records.as_ref().unwrap()),
        ["second"]
    );
}

#[tokio::test]
async fn fetch_out_of_range_and_unknown_topics() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    produce(&b, "t", 0, batch(&["a"], 1), 1).await.unwrap();
    for offset in [5, -5] {
        let resp = fetch::handle(fetch_request("t", offset, 0, (0, -1)), &ctx(12), &b)
            .await
            .unwrap();
        let p = &resp.responses[0].partitions[0];
        assert_eq!(
            (p.error_code, p.high_watermark),
            (ResponseError::OffsetOutOfRange.code(), 1)
        );
    }
    let resp = fetch::handle(fetch_request("nope", 0, 0, (0, -1)), &ctx(12), &b)
        .await
        .unwrap();
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        ResponseError::UnknownTopicOrPartition.code()
    );
}

#[tokio::test]
async fn incremental_fetch_session_answers_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    produce(&b, "t", 0, batch(&["a"], 1), 1).await.unwrap();
    let full = fetch::handle(fetch_request("t", 0, 0, (0, 0)), &ctx(12), &b)
        .await
        .unwrap();
    let session = full.session_id;
    assert_ne!(session, 0);
    assert_eq!(full.responses[0].partitions.len(), 1);
    // Position moved to 1; nothing new: the partition is left out of the answer.
    let inc = fetch::handle(fetch_request("t", 1, 0, (session, 1)), &ctx(12), &b)
        .await
        .unwrap();
    assert_eq!(inc.session_id, session);
    assert!(
        inc.responses.is_empty(),
        "unchanged partition must not be repeated: {inc:?}"
    );
    produce(&b, "t", 0, batch(&["b"], 2), 1).await.unwrap();
    let mut empty = fetch_request("t", 0, 0, (session, 2));
    empty.topics.clear();
    let inc = fetch::handle(empty, &ctx(12), &b).await.unwrap();
    assert_eq!(
        values(inc.responses[0].partitions[0].records.as_ref().unwrap()),
        ["b"]
    );
    let stale = fetch::handle(fetch_request("t", 0, 0, (session, 2)), &ctx(12), &b)
        .await
        .unwrap();
    assert_eq!(
        stale.error_code,
        ResponseError::InvalidFetchSessionEpoch.code()
    );
}

#[tokio::test]
async fn list_offsets_by_special_and_real_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    produce(&b, "t", 0, batch(&["a", "b"], 1000), 1)
        .await
        .unwrap(); // ts 1000, 1001
    produce(&b, "t", 0, batch(&["c"], 5000), 1).await.unwrap(); // ts 5000
    let ask = |ts: i64| {
        let mut p = ListOffsetsPartition::default();
        p.timestamp = ts;
        let mut t = ListOffsetsTopic::default();
        t.name = TopicName(sb("t"));
        t.partitions = vec![p];
        let mut req = ListOffsetsRequest::default();
        req.topics = vec![t];
        req
    };
    let mut got = Vec::new();
    for ts in [-1, -2, -3, 1001, 1002, 6000] {
        let r = list_offsets::handle(ask(ts), &ctx(8), &b).await.unwrap();
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        got.push((p.offset, p.timestamp));
    }
    assert_eq!(
        got,
        [(3, -1), (0, -1), (2, 5000), (1, 1001), (2, 5000), (-1, -1)]
    );
}

#[tokio::test]
async fn create_topics_validates_like_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let topic = |name: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]| {
        let mut t = CreatableTopic::default();
        t.name = TopicName(sb(name));
        t.num_partitions = partitions;
        t.replication_factor = rf;
        t.configs = configs
            .iter()
            .map(|(k, v)| {
                let mut c = CreatableTopicConfig::default();
                c.name = sb(*k);
                c.value = Some(sb(*v));
                c
            })
            .collect();
        t
    };
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![
        topic("good", 3, 1, &[("retention.ms", "1000")]),
        topic("rf3", 1, 3, &[]),
        topic("zero", 0, 1, &[]),
        topic("bad config", 1, 1, &[]),
        topic("badcfg", 1, 1, &[("retention.ms", "soon")]),
        topic("unknown-cfg", 1, -1, &[("no.such.config", "1")]),
    ];
    let r = create_topics::handle(req.clone(), &ctx(7), &b)
        .await
        .unwrap();
    let codes: Vec<i16> = r.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(
        codes,
        [
            0,
            ResponseError::InvalidReplicationFactor.code(),
            ResponseError::InvalidPartitions.code(),
            ResponseError::InvalidTopicException.code(),
            ResponseError::InvalidConfig.code(),
            ResponseError::InvalidConfig.code(),
        ]
    );
    assert_eq!(r.topics[0].num_partitions, 3);
    assert_ne!(r.topics[0].topic_id, uuid::Uuid::nil());
    let r = create_topics::handle(req, &ctx(7), &b).await.unwrap();
    assert_eq!(
        r.topics[0].error_code,
        ResponseError::TopicAlreadyExists.code()
    );

    // The topic, its id and its configs survive a restart.
    let id = b.topics.get("good").unwrap().id;
    b.shutdown();
    drop(b);
    let b = broker(dir.path(), &[]);
    let t = b.topics.get("good").unwrap();
    assert_eq!((t.id, t.partitions.len()), (id, 3));
    assert_eq!(
        t.configs.get("retention.ms").map(String::as_str),
        Some("1000")
    );
}

#[tokio::test]
async fn delete_topic_removes_it_and_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    produce(&b, "gone", 0, batch(&["a"], 1), 1).await.unwrap();
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![TopicName(sb("gone")), TopicName(sb("never"))];
    let r = delete_topics::handle(req, &ctx(5), &b).await.unwrap();
    let codes: Vec<i16> = r.responses.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, [0, ResponseError::UnknownTopicOrPartition.code()]);
    assert!(b.topics.get("gone").is_none());
    assert!(!dir.path().join("gone-0").exists());
    drop(b);
    let b = broker(dir.path(), &[]);
    assert!(
        b.topics.get("gone").is_none(),
        "deleted topic must stay deleted after restart"
    );
}

#[tokio::test]
async fn api_versions_advertises_produce_from_v0_for_librdkafka() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let r = api_versions::handle(ApiVersionsRequest::default(), &ctx(3), &b)
        .await
        .unwrap();
    let produce = r
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .unwrap();
    assert_eq!(produce.min_version, 0);
    for key in [ApiKey::FindCoordinator, ApiKey::Metadata] {
        assert_eq!(
            r.api_keys
                .iter()
                .find(|k| k.api_key == key as i16)
                .unwrap()
                .min_version,
            0
        );
    }
    // A Produce v2 body cannot be decoded (message format v1); the connection closes.
    assert!(Command::decode(ApiKey::Produce, 2, &mut Bytes::from_static(&[0; 16])).is_err());
}

pub(crate) fn idempotent_batch(
    values: &[&str],
    producer_id: i64,
    epoch: i16,
    first_seq: i32,
) -> Bytes {
    encode(
        values,
        BatchSpec {
            producer_id,
            producer_epoch: epoch,
            first_seq,
            compression: Compression::None,
            timestamp_step: 0,
            ..BatchSpec::default()
        },
    )
}

#[tokio::test]
async fn idempotent_retries_are_written_once_and_gaps_refused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let init = init_producer_id::handle(InitProducerIdRequest::default(), &ctx(4), &b)
        .await
        .unwrap();
    assert_eq!((init.error_code, init.producer_epoch), (0, 0));
    let pid = init.producer_id.0;
    let first = idempotent_batch(&["a", "b"], pid, 0, 0);
    let r = produce(&b, "idem", 0, first.clone(), -1).await.unwrap();
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 0);
    produce(&b, "other", 0, batch(&["unrelated"], 1), 1)
        .await
        .unwrap();
    // The same batch again (a retry after a lost answer): original offsets, no copy.
    let r = produce(&b, "idem", 0, first.clone(), -1).await.unwrap();
    let pr = &r.responses[0].partition_responses[0];
    assert_eq!((pr.error_code, pr.base_offset), (0, 0));
    assert_eq!(
        b.topics.get("idem").unwrap().partitions[0]
            .watermarks()
            .high_watermark,
        2
    );
    // A gap in the sequence is refused.
    let r = produce(&b, "idem", 0, idempotent_batch(&["x"], pid, 0, 5), -1)
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::OutOfOrderSequenceNumber.code()
    );

    // Clean restart: the snapshot keeps the state.
    b.shutdown();
    drop(b);
    let b = broker(dir.path(), &[]);
    let r = produce(&b, "idem", 0, first.clone(), -1).await.unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].base_offset, 0,
        "retry after restart is still a duplicate"
    );
    let r = produce(&b, "idem", 0, idempotent_batch(&["c"], pid, 0, 2), -1)
        .await
        .unwrap();
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 2);
    // An older epoch is fenced.
    let r = produce(&b, "idem", 0, idempotent_batch(&["old"], pid, -1, 3), -1)
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::InvalidProducerEpoch.code()
    );

    // Unclean restart (no close, no snapshot at the end): state is rebuilt from the log.
    drop(b);
    let b = broker(dir.path(), &[]);
    let r = produce(&b, "idem", 0, idempotent_batch(&["c"], pid, 0, 2), -1)
        .await
        .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].base_offset, 2,
        "rebuilt from the log after a crash"
    );
    assert_eq!(
        b.topics.get("idem").unwrap().partitions[0]
            .watermarks()
            .high_watermark,
        3
    );
    // A new producer id after the restart is never one handed out before.
    let init2 = init_producer_id::handle(InitProducerIdRequest::default(), &ctx(4), &b)
        .await
        .unwrap();
    assert!(init2.producer_id.0 > pid);
}

fn transactional_batch(values: &[&str], producer_id: i64, first_seq: i32) -> Bytes {
    encode(
        values,
        BatchSpec {
            producer_id,
            producer_epoch: 0,
            first_seq,
            transactional: true,
            compression: Compression::None,
            timestamp_step: 0,
            ..BatchSpec::default()
        },
    )
}

async fn fetch_isolated(
    b: &Arc<Broker>,
    topic: &str,
    read_committed: bool,
) -> kafka_protocol::messages::fetch_response::PartitionData {
    let mut req = fetch_request(topic, 0, 0, (0, -1));
    req.isolation_level = read_committed as i8;
    let resp = fetch::handle(req, &ctx(12), b).await.unwrap();
    resp.responses[0].partitions[0].clone()
}

#[tokio::test]
async fn open_transactions_hold_the_last_stable_offset_and_aborts_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    produce(&b, "tx", 0, batch(&["plain"], 1), 1).await.unwrap(); // offset 0
    produce(&b, "tx", 0, transactional_batch(&["t1", "t2"], 77, 0), -1)
        .await
        .unwrap(); // 1..2
    let p = fetch_isolated(&b, "tx", true).await;
    assert_eq!((p.high_watermark, p.last_stable_offset), (3, 1));
    assert_eq!(
        values(p.records.as_ref().unwrap()),
        ["plain"],
        "read_committed stops at the LSO"
    );
    let p = fetch_isolated(&b, "tx", false).await;
    assert_eq!(values(p.records.as_ref().unwrap()), ["plain", "t1", "t2"]);

    // An open transaction survives a clean restart (producer snapshot).
    b.shutdown();
    drop(b);
    let b = broker(dir.path(), &[]);
    let partition = b.topics.get("tx").unwrap().partitions[0].clone();
    assert_eq!(partition.watermarks().last_stable_offset, 1);
    assert_eq!(partition.ongoing_transactions(), vec![(77, 0, 1)]);

    let marker = partition.write_txn_marker(77, 0, false, 3, 2000).unwrap();
    assert_eq!(marker, 3);
    let p = fetch_isolated(&b, "tx", true).await;
    assert_eq!((p.high_watermark, p.last_stable_offset), (4, 4));
    let aborted = p.aborted_transactions.clone().unwrap();
    assert_eq!(aborted.len(), 1);
    assert_eq!((aborted[0].producer_id.0, aborted[0].first_offset), (77, 1));

    // After a crash (no close), the abort is derived again from the marker in the log.
    drop(b);
    std::fs::remove_file(dir.path().join("tx-0/00000000000000000000.txnindex")).unwrap();
    let b = broker(dir.path(), &[]);
    let p = fetch_isolated(&b, "tx", true).await;
    assert_eq!(p.last_stable_offset, 4);
    assert_eq!(
        p.aborted_transactions.unwrap().len(),
        1,
        "rebuilt from the abort marker"
    );
    // A committed transaction is not listed.
    let partition = b.topics.get("tx").unwrap().partitions[0].clone();
    produce(&b, "tx", 0, transactional_batch(&["t3"], 78, 0), -1)
        .await
        .unwrap();
    partition.write_txn_marker(78, 0, true, 3, 3000).unwrap();
    let p = fetch_isolated(&b, "tx", true).await;
    assert_eq!(p.aborted_transactions.unwrap().len(), 1);
    assert_eq!(p.last_stable_offset, 6);
}

#[tokio::test]
async fn legacy_alter_configs_replaces_the_whole_set_and_applies_at_once() {
    use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let mut t = kafka_protocol::messages::create_topics_request::CreatableTopic::default();
    t.name = TopicName(sb("cfg"));
    t.num_partitions = 1;
    t.replication_factor = 1;
    let mut c = kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default();
    c.name = sb("retention.ms");
    c.value = Some(sb("1000"));
    t.configs = vec![c];
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    create_topics::handle(req, &ctx(7), &b).await.unwrap();

    let mut entry = AlterableConfig::default();
    entry.name = sb("max.message.bytes");
    entry.value = Some(sb("100"));
    let mut res = AlterConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = sb("cfg");
    res.configs = vec![entry];
    let mut req = AlterConfigsRequest::default();
    req.resources = vec![res];
    let r = alter_configs::handle(req, &ctx(2), &b).await.unwrap();
    assert_eq!(r.responses[0].error_code, 0);
    let topic = b.topics.get("cfg").unwrap();
    assert_eq!(
        topic.configs.get("retention.ms"),
        None,
        "replaced, not merged"
    );
    assert_eq!(
        topic.configs.get("max.message.bytes").map(String::as_str),
        Some("100")
    );
    // Applied to the running log at once.
    let r = produce(
        &b,
        "cfg",
        0,
        batch(
            &["a value longer than one hundred bytes once the batch header is counted in"],
            1,
        ),
        1,
    )
    .await
    .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ResponseError::MessageTooLarge.code()
    );
}

#[tokio::test]
async fn keyless_records_on_a_compacted_topic_are_each_named_kip_467() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("log.cleanup.policy", "compact")]);
    // `batch` builds records without keys.
    let r = produce(&b, "compacted", 0, batch(&["a", "b", "c"], 1), 1)
        .await
        .unwrap();
    let pr = &r.responses[0].partition_responses[0];
    assert_eq!(pr.error_code, ResponseError::InvalidRecord.code());
    let indexes: Vec<i32> = pr.record_errors.iter().map(|e| e.batch_index).collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(
        b.topics.get("compacted").unwrap().partitions[0]
            .watermarks()
            .high_watermark,
        0
    );
}
