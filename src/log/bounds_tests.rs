//! Tests of the bounds on what a partition log keeps for client input: open
//! transactions and producers (`sluice.producer.state.*`) and the in-memory part of
//! the aborted-transaction list (`sluice.log.aborted.txn.memory.entries`).

use crate::log::test_util::test_dir;
use crate::log::test_util::{batch, small_config, txn_batch};
use crate::log::{AppendError, LogConfig, PartitionLog};

const NOW: i64 = 1_700_000_000_000;

#[test]
fn a_transaction_beyond_the_bound_is_refused_and_nothing_else_changes() {
    let dir = test_dir!();
    let cfg = LogConfig {
        max_ongoing_transactions: 2,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), cfg, NOW).unwrap();
    log.append(&txn_batch(1, 0, 0, 1, NOW), NOW).unwrap();
    log.append(&txn_batch(2, 0, 0, 1, NOW), NOW).unwrap();
    let end = log.log_end_offset();
    let lso = log.last_stable_offset();
    let refused = log.append(&txn_batch(3, 0, 0, 1, NOW), NOW);
    assert!(
        matches!(refused, Err(AppendError::ProducerStateLimit(_))),
        "{refused:?}"
    );
    assert_eq!(log.log_end_offset(), end, "nothing was written");
    assert_eq!(log.last_stable_offset(), lso);
    assert!(log.producer_state().entry(3).is_none());
    // The open transactions go on; plain records are not affected.
    log.append(&txn_batch(1, 0, 1, 1, NOW), NOW).unwrap();
    log.append(&batch(1, NOW, 10), NOW).unwrap();
    // A marker is always written, and completing a transaction makes room.
    log.write_txn_marker(1, 0, false, 0, NOW).unwrap();
    log.append(&txn_batch(3, 0, 0, 1, NOW), NOW).unwrap();
    assert_eq!(log.ongoing_transactions().len(), 2);
    // Producer 1's next transaction is a new one again: refused while at the bound.
    assert!(matches!(
        log.append(&txn_batch(1, 0, 2, 1, NOW), NOW),
        Err(AppendError::ProducerStateLimit(_))
    ));
}

#[test]
fn a_producer_beyond_the_bound_is_refused_until_idle_ones_expire() {
    let dir = test_dir!();
    let cfg = LogConfig {
        max_producers: 1,
        producer_id_expiration_ms: 1000,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), cfg, NOW).unwrap();
    log.append(&txn_batch(1, 0, 0, 1, NOW), NOW).unwrap();
    log.write_txn_marker(1, 0, true, 0, NOW).unwrap();
    assert!(matches!(
        log.append(&txn_batch(2, 0, 0, 1, NOW), NOW),
        Err(AppendError::ProducerStateLimit(_))
    ));
    // The known producer goes on.
    log.append(&txn_batch(1, 0, 1, 1, NOW), NOW).unwrap();
    log.write_txn_marker(1, 0, true, 0, NOW).unwrap();
    log.housekeeping(NOW + 10_000).unwrap();
    assert_eq!(log.producer_state().len(), 0, "producer 1 expired");
    log.append(&txn_batch(2, 0, 0, 1, NOW), NOW).unwrap();
}

/// Writes the same history to a log: two transactional producers whose transactions
/// overlap and span segments, five of them aborted, plain records in between.
fn write_history(log: &mut PartitionLog) {
    let mut seq = [0i32; 2];
    let mut round = 0;
    // (producer index, commit?) for each transaction, in the order they end.
    let plan = [
        (0, false),
        (1, true),
        (0, false),
        (1, false),
        (0, true),
        (1, false),
        (0, false),
        (1, true),
    ];
    for chunk in plan.chunks(2) {
        for &(p, _) in chunk {
            for _ in 0..3 {
                let pid = 100 + p as i64;
                log.append(&txn_batch(pid, 0, seq[p], 2, NOW - 100_000), NOW)
                    .unwrap();
                seq[p] += 2;
                log.append(&batch(2, NOW - 100_000, 30), NOW).unwrap();
            }
        }
        for &(p, commit) in chunk {
            log.write_txn_marker(100 + p as i64, 0, commit, 0, NOW - 100_000)
                .unwrap();
            log.append(&batch(1, NOW - 100_000, 30), NOW).unwrap();
            round += 1;
        }
    }
    assert_eq!(round, plan.len());
}

/// Every `aborted_transactions(from, to)` of `log` equals `reference`'s.
fn same_answers(log: &PartitionLog, reference: &PartitionLog) {
    let start = log.log_start_offset();
    let end = log.log_end_offset();
    assert_eq!(start, reference.log_start_offset());
    assert_eq!(end, reference.log_end_offset());
    for from in start..=end {
        for to in from..=end + 1 {
            assert_eq!(
                log.aborted_transactions(from, to).unwrap(),
                reference.aborted_transactions(from, to).unwrap(),
                "aborted_transactions({from}, {to})"
            );
        }
    }
}

fn bounded(in_memory: usize) -> LogConfig {
    LogConfig {
        aborted_txns_in_memory: in_memory,
        ..small_config()
    }
}

#[test]
fn aborted_transactions_beyond_memory_are_answered_from_the_txnindex_files() {
    let dir = test_dir!();
    let ref_dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), bounded(2), NOW).unwrap();
    let mut reference = PartitionLog::open(ref_dir.path(), bounded(usize::MAX), NOW).unwrap();
    write_history(&mut log);
    write_history(&mut reference);
    assert!(log.segment_count() > 3, "{}", log.segment_count());
    let all = reference.aborted_transactions(0, i64::MAX).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(log.aborted_in_memory(), 2);
    assert_eq!(reference.aborted_in_memory(), 5);
    same_answers(&log, &reference);

    // After a clean restart, and after a crash (no close: the files are replayed).
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), bounded(2), NOW).unwrap();
    assert_eq!(log.aborted_in_memory(), 2);
    same_answers(&log, &reference);
    drop(log);
    crate::log::checkpoint::take_clean_shutdown(dir.path()).unwrap();
    for snap in crate::log::producer_state::list_snapshots(dir.path()).unwrap() {
        crate::log::storage::remove_file(crate::log::producer_state::snapshot_path(
            dir.path(),
            snap,
        ))
        .unwrap();
    }
    let mut log = PartitionLog::open(dir.path(), bounded(2), NOW).unwrap();
    assert_eq!(log.aborted_in_memory(), 2);
    same_answers(&log, &reference);

    // DeleteRecords into the middle of the log, then retention of old segments.
    let cut = all[1].last_offset - 1;
    log.delete_records_before(cut).unwrap();
    reference.delete_records_before(cut).unwrap();
    same_answers(&log, &reference);
    let retain = |l: &mut PartitionLog| {
        let mut c = l.config().clone();
        c.retention_bytes = (l.size_bytes() / 2) as i64;
        l.set_config(c);
        l.housekeeping(NOW).unwrap()
    };
    let deleted = retain(&mut log);
    assert!(deleted > 0);
    assert_eq!(retain(&mut reference), deleted);
    assert!(log.log_start_offset() > cut);
    same_answers(&log, &reference);
    // New aborts after all that still land in memory, bounded.
    for l in [&mut log, &mut reference] {
        l.append(&txn_batch(300, 0, 0, 1, NOW), NOW).unwrap();
        l.write_txn_marker(300, 0, false, 0, NOW).unwrap();
    }
    assert_eq!(log.aborted_in_memory(), 2);
    same_answers(&log, &reference);
}

#[test]
fn with_no_aborted_transaction_in_memory_every_answer_comes_from_disk() {
    let dir = test_dir!();
    let ref_dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), bounded(0), NOW).unwrap();
    let mut reference = PartitionLog::open(ref_dir.path(), bounded(usize::MAX), NOW).unwrap();
    write_history(&mut log);
    write_history(&mut reference);
    assert_eq!(log.aborted_in_memory(), 0);
    same_answers(&log, &reference);
}
