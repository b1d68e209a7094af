//! Transactions v2 (KIP-890 part 2) through the coordinator's public API: the epoch
//! bump of every EndTxn, retries recognised by it, fencing of the old epoch in the
//! partitions, epoch overflow, and a decided transaction surviving a restart.

use super::metadata::{TransactionState, NO_PRODUCER_ID};
use super::tests::{broker, create_topic, partition, tps, txn_batch};
use crate::clock::system_now_ms as now_ms;
use crate::coordinator::features::{FeatureUpdate, UpgradeType, TRANSACTION_VERSION};
use crate::error::ResponseError;
use crate::log::AppendError;

#[tokio::test]
async fn every_end_bumps_the_epoch_and_fences_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    assert!(b.transactions.transactions_v2(), "Kafka 4.2's default");
    create_topic(&b, "t", 1);
    let tc = &b.transactions;
    let (pid, e0) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    // The producer's first write adds the partition (Produce v12).
    tc.add_partitions("tx", pid, e0, tps(&[("t", 0)]), 2)
        .await
        .unwrap();
    let p0 = partition(&b, "t", 0);
    p0.append(txn_batch(pid, e0, 0, "a"), now_ms()).unwrap();
    assert_eq!(
        tc.end_txn("tx", pid, e0, true, true).await.unwrap(),
        (pid, e0 + 1)
    );
    let d = tc.describe("tx").unwrap();
    assert_eq!(
        (d.state, d.producer_id, d.producer_epoch),
        (TransactionState::CompleteCommit, pid, e0 + 1)
    );
    assert_eq!(p0.watermarks().last_stable_offset, 2);
    // The marker carried the new epoch: a late write of the old one is fenced.
    let late = p0.append(txn_batch(pid, e0, 1, "late"), now_ms());
    assert!(
        matches!(late, Err(AppendError::InvalidProducerEpoch(_))),
        "{late:?}"
    );
    // A retry of the EndTxn (old epoch) gets the same answer; a commit with the new
    // epoch and no transaction is an invalid state (Kafka 4's table).
    assert_eq!(
        tc.end_txn("tx", pid, e0, true, true).await.unwrap(),
        (pid, e0 + 1)
    );
    assert_eq!(
        tc.end_txn("tx", pid, e0 + 1, true, true).await.unwrap_err(),
        ResponseError::InvalidTxnState
    );
    assert_eq!(
        tc.end_txn("tx", pid, e0, false, true).await.unwrap_err(),
        ResponseError::InvalidTxnState
    );
    assert_eq!(
        tc.add_partitions("tx", pid, e0, tps(&[("t", 0)]), 2)
            .await
            .unwrap_err(),
        ResponseError::ProducerFenced
    );
    // An abort with nothing added (an "empty abort") bumps the epoch too; its retry
    // gets the same answer.
    assert_eq!(
        tc.end_txn("tx", pid, e0 + 1, false, true).await.unwrap(),
        (pid, e0 + 2)
    );
    assert_eq!(
        tc.end_txn("tx", pid, e0 + 1, false, true).await.unwrap(),
        (pid, e0 + 2)
    );
    assert_eq!(
        tc.describe("tx").unwrap().state,
        TransactionState::CompleteAbort
    );
    // The next transaction runs at the new epoch, sequences from 0; an abort bumps too.
    tc.add_partitions("tx", pid, e0 + 2, tps(&[("t", 0)]), 2)
        .await
        .unwrap();
    p0.append(txn_batch(pid, e0 + 2, 0, "b"), now_ms()).unwrap();
    assert_eq!(
        tc.end_txn("tx", pid, e0 + 2, false, true).await.unwrap(),
        (pid, e0 + 3)
    );
    assert_eq!(
        tc.describe("tx").unwrap().state,
        TransactionState::CompleteAbort
    );
    assert_eq!(
        p0.watermarks().last_stable_offset,
        p0.watermarks().high_watermark
    );
    // A transactions-v1 end (EndTxn v4) keeps the epoch.
    tc.add_partitions("tx", pid, e0 + 3, tps(&[("t", 0)]), 0)
        .await
        .unwrap();
    assert_eq!(
        tc.end_txn("tx", pid, e0 + 3, true, false).await.unwrap(),
        (pid, e0 + 3)
    );
}

#[tokio::test]
async fn an_exhausted_epoch_moves_to_a_new_producer_id() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    create_topic(&b, "t", 1);
    let tc = &b.transactions;
    let (pid, _) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
    let last = i16::MAX - 1;
    tc.state.get("tx").unwrap().lock().producer_epoch = last;
    tc.add_partitions("tx", pid, last, tps(&[("t", 0)]), 2)
        .await
        .unwrap();
    let p0 = partition(&b, "t", 0);
    p0.append(txn_batch(pid, last, 0, "a"), now_ms()).unwrap();
    let (new_pid, epoch) = tc.end_txn("tx", pid, last, true, true).await.unwrap();
    assert!(new_pid != pid && new_pid != NO_PRODUCER_ID);
    assert_eq!(epoch, 0);
    assert_eq!(p0.watermarks().last_stable_offset, 2);
    let d = tc.describe("tx").unwrap();
    assert_eq!((d.producer_id, d.producer_epoch), (new_pid, 0));
    // The retry with the old id and epoch is recognised (Kafka's retryOnOverflow).
    assert_eq!(
        tc.end_txn("tx", pid, last, true, true).await.unwrap(),
        (new_pid, 0)
    );
    tc.add_partitions("tx", new_pid, 0, tps(&[("t", 0)]), 2)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_decided_v2_transaction_completes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (pid, e0) = {
        let b = broker(dir.path());
        create_topic(&b, "t", 1);
        let tc = &b.transactions;
        let (pid, e0) = tc.init_producer_id("tx", 60_000, None).await.unwrap();
        tc.add_partitions("tx", pid, e0, tps(&[("t", 0)]), 2)
            .await
            .unwrap();
        partition(&b, "t", 0)
            .append(txn_batch(pid, e0, 0, "a"), now_ms())
            .unwrap();
        // Decide the commit (the Prepare record, epoch bumped), then "crash" before any
        // marker is written.
        let entry = tc.state.get("tx").unwrap();
        let t = entry.lock().prepare_end_v2(true, -1, now_ms()).unwrap();
        tc.write_transition("tx", &entry, t).await.unwrap();
        b.shutdown();
        (pid, e0)
    };
    let b = broker(dir.path());
    let tc = &b.transactions;
    let d = tc.describe("tx").unwrap();
    assert_eq!(
        (d.state, d.producer_epoch),
        (TransactionState::PrepareCommit, e0 + 1)
    );
    // The client's retry waits while the markers are pending...
    assert_eq!(
        tc.end_txn("tx", pid, e0, true, true).await.unwrap_err(),
        ResponseError::ConcurrentTransactions
    );
    assert_eq!(tc.complete_prepared().await, 1);
    let p0 = partition(&b, "t", 0);
    assert!(p0.ongoing_transactions().is_empty());
    assert_eq!(p0.watermarks().last_stable_offset, 2);
    // ...and then gets the bumped epoch: the replayed record kept the client's version.
    assert_eq!(
        tc.end_txn("tx", pid, e0, true, true).await.unwrap(),
        (pid, e0 + 1)
    );
    b.shutdown();
    // A second restart replays the Complete record the same way.
    let b = broker(dir.path());
    assert_eq!(
        b.transactions
            .end_txn("tx", pid, e0, true, true)
            .await
            .unwrap(),
        (pid, e0 + 1)
    );
}

#[tokio::test]
async fn transaction_version_below_2_turns_v2_off() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    b.features
        .update(
            &[FeatureUpdate {
                feature: TRANSACTION_VERSION.into(),
                level: 1,
                upgrade_type: UpgradeType::SafeDowngrade,
            }],
            false,
        )
        .unwrap();
    assert!(!b.transactions.transactions_v2());
}
