//! Coordinator tests on a real broker over a temporary data directory: the state
//! machine through the public API, markers in the partitions, replay after a restart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::metadata::TransactionState;
use super::*;
use crate::clock::system_now_ms as now_ms;
use crate::config::{BrokerConfig, Overrides};
use crate::coordinator::features::FeatureControl;
use crate::coordinator::GroupCoordinator;
use crate::topics::{NewTopic, Partition};

/// The parts the transaction coordinator works with, wired as the broker wires them.
pub(super) struct Parts {
    pub(super) topics: Arc<TopicRegistry>,
    pub(super) transactions: Arc<TransactionCoordinator>,
    /// A manual clock: time moves only when a test advances it.
    pub(super) clock: Clock,
    pub(super) features: Arc<FeatureControl>,
}

impl Parts {
    pub(super) fn shutdown(&self) {
        self.topics.close_all();
    }
}

pub(super) fn broker(dir: &std::path::Path) -> Parts {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        sets: vec![
            ("transaction.state.log.num.partitions".into(), "3".into()),
            ("offsets.topic.num.partitions".into(), "3".into()),
        ],
        ..Default::default()
    };
    let config = Arc::new(BrokerConfig::load(None, &overrides).unwrap());
    let clock = Clock::manual(now_ms());
    let topics = Arc::new(TopicRegistry::load(config.clone(), clock.clone()).unwrap());
    let producer_ids = Arc::new(ProducerIdManager::open(&config.data_dir).unwrap());
    let groups = Arc::new(GroupCoordinator::load(&config, topics.clone(), clock.clone()).unwrap());
    let features = Arc::new(FeatureControl::open(&config.data_dir).unwrap());
    let transactions = Arc::new(
        TransactionCoordinator::load(
            &config,
            topics.clone(),
            producer_ids,
            clock.clone(),
            groups,
            features.clone(),
        )
        .unwrap(),
    );
    Parts {
        topics,
        transactions,
        clock,
        features,
    }
}

pub(super) fn create_topic(b: &Parts, name: &str, partitions: i32) {
    b.topics
        .create(
            NewTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: 1,
                configs: BTreeMap::new(),
            },
            false,
        )
        .unwrap();
}

pub(super) fn txn_batch(pid: i64, epoch: i16, seq: i32, value: &str) -> Bytes {
    let record = Record {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: pid,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: seq,
        timestamp: now_ms(),
        key: None,
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).unwrap();
    buf.freeze()
}

pub(super) fn tps(list: &[(&str, i32)]) -> BTreeSet<TopicPartition> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

pub(super) fn partition(b: &Parts, topic: &str, p: i32) -> Arc<Partition> {
    b.topics.get(topic).unwrap().partition(p).unwrap().clone()
}

#[tokio::test]
async fn commit_writes_markers_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    create_topic(&b, "t", 2);
    let tc = &b.transactions;
    let (pid, epoch) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    assert_eq!(epoch, 0);
    tc.add_partitions("tx", pid, epoch, tps(&[("t", 0), ("t", 1)]), 0)
        .await
        .unwrap();
    let d = tc.describe("tx").unwrap();
    assert_eq!(d.state, TransactionState::Ongoing);
    assert!(d.start_timestamp_ms > 0);
    assert_eq!(d.partitions.len(), 2);
    let p0 = partition(&b, "t", 0);
    p0.append(txn_batch(pid, epoch, 0, "a"), now_ms()).unwrap();
    assert_eq!(p0.ongoing_transactions().len(), 1);
    assert_eq!(p0.watermarks().last_stable_offset, 0);
    tc.end_txn("tx", pid, epoch, true, false).await.unwrap();
    // Answered after the markers: the data is stable already.
    assert!(p0.ongoing_transactions().is_empty());
    let marks = p0.watermarks();
    assert_eq!((marks.high_watermark, marks.last_stable_offset), (2, 2));
    // The untouched partition got a (harmless) marker too.
    assert_eq!(partition(&b, "t", 1).watermarks().high_watermark, 1);
    let d = tc.describe("tx").unwrap();
    assert_eq!(d.state, TransactionState::CompleteCommit);
    assert!(d.partitions.is_empty());
    // A retried commit succeeds; an abort now is an invalid state.
    tc.end_txn("tx", pid, epoch, true, false).await.unwrap();
    assert_eq!(
        tc.end_txn("tx", pid, epoch, false, false)
            .await
            .unwrap_err(),
        ResponseError::InvalidTxnState
    );
}

#[tokio::test]
async fn reinit_fences_the_old_producer_and_aborts_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    create_topic(&b, "t", 1);
    let tc = &b.transactions;
    let (pid, e0) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    tc.add_partitions("tx", pid, e0, tps(&[("t", 0)]), 0)
        .await
        .unwrap();
    let p0 = partition(&b, "t", 0);
    p0.append(txn_batch(pid, e0, 0, "zombie"), now_ms())
        .unwrap();
    // The new producer: the old transaction is aborted with a fencing epoch, then the
    // epoch is bumped again for the new producer.
    let (pid2, e2) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    assert_eq!((pid2, e2), (pid, e0 + 2));
    assert!(p0.ongoing_transactions().is_empty());
    // The zombie is fenced at the coordinator and at the partition.
    assert_eq!(
        tc.end_txn("tx", pid, e0, true, false).await.unwrap_err(),
        ResponseError::ProducerFenced
    );
    assert_eq!(
        tc.add_partitions("tx", pid, e0, tps(&[("t", 0)]), 0)
            .await
            .unwrap_err(),
        ResponseError::ProducerFenced
    );
    assert!(p0.append(txn_batch(pid, e0, 1, "late"), now_ms()).is_err());
    assert_eq!(
        tc.end_txn("tx", pid + 1000, e2, true, false)
            .await
            .unwrap_err(),
        ResponseError::InvalidProducerIdMapping
    );
    // Nothing to end yet for the new producer.
    assert_eq!(
        tc.end_txn("tx", pid, e2, true, false).await.unwrap_err(),
        ResponseError::InvalidTxnState
    );
}

#[tokio::test]
async fn timeouts_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    create_topic(&b, "t", 1);
    let tc = &b.transactions;
    assert_eq!(
        tc.init_producer_id("tx", 900_001, None).await.unwrap_err(),
        ResponseError::InvalidTransactionTimeout
    );
    assert_eq!(
        tc.init_producer_id("", 1000, None).await.unwrap_err(),
        ResponseError::InvalidRequest
    );
    let (pid, e) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    tc.add_partitions("tx", pid, e, tps(&[("t", 0)]), 0)
        .await
        .unwrap();
    b.clock.advance(std::time::Duration::from_millis(59_999));
    assert_eq!(tc.abort_timed_out().await, 0, "not timed out yet");
    b.clock.advance(std::time::Duration::from_millis(1));
    assert_eq!(tc.abort_timed_out().await, 1);
    let d = tc.describe("tx").unwrap();
    assert_eq!(
        (d.state, d.producer_epoch),
        (TransactionState::CompleteAbort, e + 1)
    );
    assert_eq!(
        tc.end_txn("tx", pid, e, true, false).await.unwrap_err(),
        ResponseError::ProducerFenced
    );
    assert_eq!(tc.abort_timed_out().await, 0);
}

#[tokio::test]
async fn state_survives_a_restart_and_prepared_transactions_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (pid, epoch) = {
        let b = broker(dir.path());
        create_topic(&b, "t", 1);
        let tc = &b.transactions;
        let (pid, epoch) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
        tc.add_partitions("tx", pid, epoch, tps(&[("t", 0)]), 0)
            .await
            .unwrap();
        partition(&b, "t", 0)
            .append(txn_batch(pid, epoch, 0, "a"), now_ms())
            .unwrap();
        // Decide the commit, then "crash" before any marker.
        let entry = tc.state.get("tx").unwrap();
        let t = entry
            .lock()
            .prepare_abort_or_commit(true, false, now_ms())
            .unwrap();
        tc.write_transition("tx", &entry, t).await.unwrap();
        b.shutdown();
        (pid, epoch)
    };
    let b = broker(dir.path());
    let tc = &b.transactions;
    let d = tc.describe("tx").unwrap();
    assert_eq!(
        (d.state, d.producer_id, d.producer_epoch),
        (TransactionState::PrepareCommit, pid, epoch)
    );
    assert_eq!(d.partitions, tps(&[("t", 0)]));
    // Requests wait while the markers are pending.
    assert_eq!(
        tc.add_partitions("tx", pid, epoch, tps(&[("t", 0)]), 0)
            .await
            .unwrap_err(),
        ResponseError::ConcurrentTransactions
    );
    assert_eq!(tc.complete_prepared().await, 1);
    assert_eq!(
        tc.describe("tx").unwrap().state,
        TransactionState::CompleteCommit
    );
    let p0 = partition(&b, "t", 0);
    assert!(p0.ongoing_transactions().is_empty());
    assert_eq!(p0.watermarks().last_stable_offset, 2);
    // Completing again (a second restart) writes nothing more.
    assert_eq!(tc.complete_prepared().await, 0);
    // The next init bumps the epoch from the replayed state.
    let (pid2, e2) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    assert_eq!((pid2, e2), (pid, epoch + 1));
}

#[tokio::test]
async fn admin_views_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    create_topic(&b, "t", 1);
    let tc = &b.transactions;
    let (p1, e1) = tc.init_producer_id("a", 60_000, None).await.unwrap();
    let (p2, _) = tc.init_producer_id("b", 60_000, None).await.unwrap();
    tc.add_partitions("a", p1, e1, tps(&[("t", 0)]), 0)
        .await
        .unwrap();
    let all = tc.list(&[], &[], -1);
    assert_eq!(all.len(), 2);
    let ongoing = tc.list(&[TransactionState::Ongoing], &[], -1);
    assert_eq!(ongoing.len(), 1);
    assert_eq!(ongoing[0].transactional_id, "a");
    assert_eq!(tc.list(&[], &[p2], -1)[0].transactional_id, "b");
    assert!(tc.list(&[], &[], 3_600_000).is_empty());
    assert_eq!(
        tc.describe("nope").unwrap_err(),
        ResponseError::TransactionalIdNotFound
    );
    // Nothing is idle long enough with the default expiration (7 days)...
    assert_eq!(tc.expire_transactional_ids().await, 0);
    // ...until it is: "b" is idle; "a" is in a transaction (which times out first).
    b.clock
        .advance(std::time::Duration::from_millis(604_800_000));
    assert_eq!(tc.abort_timed_out().await, 1);
    b.clock
        .advance(std::time::Duration::from_millis(604_800_000));
    assert_eq!(tc.expire_transactional_ids().await, 2);
    assert_eq!(
        tc.describe("b").unwrap_err(),
        ResponseError::TransactionalIdNotFound
    );
}

#[test]
fn fenced_is_converted_for_old_clients() {
    assert_eq!(
        error_for_version(ResponseError::ProducerFenced, 1, 2),
        ResponseError::InvalidProducerEpoch
    );
    assert_eq!(
        error_for_version(ResponseError::ProducerFenced, 2, 2),
        ResponseError::ProducerFenced
    );
}

/// A partition whose fsync failed (offline) never gets a marker reported written, and
/// does not hold back the markers of the transaction's other partitions.
#[tokio::test]
async fn an_offline_partition_never_gets_a_marker_reported_written() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    create_topic(&b, "t", 2);
    let tc = &b.transactions;
    let (pid, epoch) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    let both = tps(&[("t", 0), ("t", 1)]);
    tc.add_partitions("tx", pid, epoch, both.clone(), 0)
        .await
        .unwrap();
    let (p0, p1) = (partition(&b, "t", 0), partition(&b, "t", 1));
    p0.append(txn_batch(pid, epoch, 0, "a"), now_ms()).unwrap();
    p1.append(txn_batch(pid, epoch, 0, "b"), now_ms()).unwrap();
    p0.fail_next_sync();
    assert!(p0.wait_durable(1).await.is_err());
    assert!(p0.is_offline());

    let outcome = TxnOutcome {
        producer_id: pid,
        producer_epoch: epoch,
        commit: true,
    };
    let written = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        tc.markers.write_markers("tx", outcome, &both),
    )
    .await;
    assert!(
        written.is_err(),
        "markers reported written on an offline partition"
    );
    // t-1 (after t-0 in order) got its marker; t-0 still has the open transaction.
    assert!(p1.ongoing_transactions().is_empty());
    assert_eq!(p1.watermarks().last_stable_offset, 2);
    assert_eq!(p0.ongoing_transactions().len(), 1);
}
