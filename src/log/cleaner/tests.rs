//! Tests of log compaction: cleaning keeps the latest record per key with its offset,
//! tombstones and aborted transactions go, the memory bound is honoured, and a crash
//! at any file step of the swap reopens as the old or the new segment set.

use crate::log::test_util::test_dir;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTs,
};
use proptest::prelude::*;

use super::*;
use crate::log::test_util::small_config;
use crate::log::PartitionLog;

const NOW: i64 = 1_700_000_000_000;

/// Producer fields of a batch: (producer id, epoch, base sequence, transactional).
type Producer = Option<(i64, i16, i32, bool)>;

/// One batch of records (key, value, timestamp).
fn keyed_batch(
    records: &[(Option<&str>, Option<&str>, i64)],
    compression: Compression,
    producer: Producer,
) -> Vec<u8> {
    let (pid, epoch, seq, txn) = producer.unwrap_or((-1, -1, -1, false));
    let recs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| Record {
            transactional: txn,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: KTs::Creation,
            offset: i as i64,
            sequence: if seq < 0 { -1 } else { seq + i as i32 },
            timestamp: *ts,
            key: k.map(|k| Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        recs.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.to_vec()
}

fn compact_config() -> LogConfig {
    LogConfig {
        cleanup_compact: true,
        cleanup_delete: false,
        min_cleanable_dirty_ratio: 0.01,
        delete_retention_ms: 1000,
        ..small_config()
    }
}

/// Every record the log serves, in offset order: offset -> (key, value).
fn read_all(log: &PartitionLog) -> BTreeMap<i64, (Option<Bytes>, Option<Bytes>)> {
    let mut out = BTreeMap::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let r = log.read(offset, 1 << 20, end, true).unwrap();
        if r.records.is_empty() {
            break;
        }
        let mut buf = r.records.clone();
        let mut last = offset;
        while !buf.is_empty() {
            let h = crate::log::BatchHeader::parse(&buf).unwrap();
            last = h.last_offset();
            let mut one = buf.split_to(h.total_size());
            if h.is_control() {
                continue;
            }
            let set = RecordBatchDecoder::decode(&mut one).unwrap();
            for rec in set.records {
                assert!(rec.offset <= h.last_offset() && rec.offset >= h.base_offset);
                if rec.offset >= offset {
                    assert!(out.insert(rec.offset, (rec.key, rec.value)).is_none());
                }
            }
        }
        offset = last + 1;
    }
    out
}

/// The latest value per key (tombstoned keys absent) from what `read_all` returns.
fn latest(
    records: &BTreeMap<i64, (Option<Bytes>, Option<Bytes>)>,
) -> BTreeMap<Bytes, (i64, Bytes)> {
    let mut m = BTreeMap::new();
    for (off, (k, v)) in records {
        let k = k.clone().expect("keyed");
        match v {
            Some(v) => {
                m.insert(k, (*off, v.clone()));
            }
            None => {
                m.remove(&k);
            }
        }
    }
    m
}

/// Appends `n` single-record batches cycling over `keys` keys, every `tomb`-th a
/// tombstone; returns the expected latest state.
fn fill(log: &mut PartitionLog, n: usize, keys: usize, tomb: usize, compression: Compression) {
    for i in 0..n {
        let key = format!("key-{}", i % keys);
        let value = format!("value-{i}");
        let v = if tomb > 0 && i % tomb == tomb - 1 {
            None
        } else {
            Some(value.as_str())
        };
        let b = keyed_batch(
            &[(Some(&key), v, NOW - 60_000 + i as i64)],
            compression,
            None,
        );
        log.append(&b, NOW).unwrap();
    }
}

fn clean_all(log: &mut PartitionLog, now: i64) -> usize {
    let mut passes = 0;
    while let Some(out) = log.clean_now(&CleanerConfig::default(), now).unwrap() {
        passes += 1;
        assert!(!out.segments.is_empty() || passes < 50);
        if passes > 50 {
            panic!("cleaning does not converge");
        }
    }
    passes
}

#[test]
fn cleaning_keeps_latest_per_key_with_original_offsets() {
    let dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    fill(&mut log, 400, 10, 0, Compression::None);
    let before = read_all(&log);
    let want = latest(&before);
    let size_before = log.size_bytes();
    assert!(log.segment_count() > 5);
    assert!(clean_all(&mut log, NOW) >= 1);
    let after = read_all(&log);
    assert_eq!(latest(&after), want);
    for (off, rec) in &after {
        assert_eq!(before.get(off), Some(rec), "offset {off} changed");
    }
    assert!(
        log.size_bytes() < size_before / 2,
        "{} vs {size_before}",
        log.size_bytes()
    );
    assert_eq!(log.log_start_offset(), 0);
    // The active segment is never touched: its records all stay.
    let end = log.log_end_offset();
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(read_all(&log), after);
    // After a crash (no close), recovery scans segments with gaps and keeps them.
    drop(log);
    crate::log::storage::remove_file(dir.path().join("recovery-point.checkpoint")).unwrap();
    let log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    assert_eq!(read_all(&log), after);
}

#[test]
fn compressed_batches_are_filtered_and_recompressed() {
    for compression in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let dir = test_dir!();
        let mut log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
        for i in 0..60 {
            let recs: Vec<(String, String)> = (0..5)
                .map(|j| (format!("k{}", (i * 5 + j) % 7), format!("v{i}-{j}")))
                .collect();
            let refs: Vec<(Option<&str>, Option<&str>, i64)> = recs
                .iter()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()), NOW - 1000))
                .collect();
            log.append(&keyed_batch(&refs, compression, None), NOW)
                .unwrap();
        }
        let before = read_all(&log);
        clean_all(&mut log, NOW);
        let after = read_all(&log);
        assert_eq!(latest(&after), latest(&before), "{compression:?}");
        assert!(after.len() < before.len() / 2, "{compression:?}");
        // Batches keep their codec.
        let r = log.read(0, 1 << 20, log.log_end_offset(), true).unwrap();
        let h = crate::log::BatchHeader::parse(&r.records).unwrap();
        assert_ne!(h.compression(), 0);
    }
}

#[test]
fn tombstones_go_after_delete_retention_and_stay_before() {
    let dir = test_dir!();
    let cfg = LogConfig {
        delete_retention_ms: 3_600_000,
        ..compact_config()
    };
    let mut log = PartitionLog::open(dir.path(), cfg.clone(), NOW).unwrap();
    fill(&mut log, 300, 10, 3, Compression::None);
    let want = latest(&read_all(&log));
    clean_all(&mut log, NOW);
    let kept = read_all(&log);
    assert_eq!(latest(&kept), want);
    let tombstones = |m: &BTreeMap<i64, (Option<Bytes>, Option<Bytes>)>| {
        m.values().filter(|(_, v)| v.is_none()).count()
    };
    assert!(tombstones(&kept) > 0, "young tombstones stay");
    // An hour later they may go; the answer is the same.
    log.set_config(LogConfig {
        delete_retention_ms: 1000,
        ..cfg
    });
    // Force a new pass over the clean section with some new dirty data.
    fill(&mut log, 200, 10, 0, Compression::None);
    let want = latest(&read_all(&log));
    clean_all(&mut log, NOW + 3_600_000);
    let gone = read_all(&log);
    assert_eq!(latest(&gone), want);
    let active_base = log.log_end_offset() - 50;
    assert_eq!(
        gone.iter()
            .filter(|(o, (_, v))| v.is_none() && **o < active_base)
            .count(),
        0,
        "old tombstones are removed: {gone:?}"
    );
}

#[test]
fn compact_only_topics_are_not_trimmed_by_retention() {
    let dir = test_dir!();
    let cfg = LogConfig {
        retention_ms: 1,
        retention_bytes: 10,
        ..compact_config()
    };
    let mut log = PartitionLog::open(dir.path(), cfg.clone(), NOW).unwrap();
    fill(&mut log, 100, 5, 0, Compression::None);
    assert_eq!(log.housekeeping(NOW + 10_000).unwrap(), 0);
    assert_eq!(log.log_start_offset(), 0);
    log.set_config(LogConfig {
        cleanup_delete: true,
        ..cfg
    });
    assert!(log.housekeeping(NOW + 10_000).unwrap() > 0);
}

#[test]
fn a_small_offset_map_cleans_in_several_passes() {
    let dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    fill(&mut log, 400, 40, 0, Compression::None);
    let want = latest(&read_all(&log));
    let tiny = CleanerConfig {
        dedupe_buffer_size: 12 * offset_map::SLOT_BYTES,
        load_factor: 0.9,
    };
    let mut passes = 0;
    while let Some(out) = log.clean_now(&tiny, NOW).unwrap() {
        assert!(out.keys <= 10);
        passes += 1;
        assert_eq!(latest(&read_all(&log)), want, "after pass {passes}");
        assert!(passes < 200);
    }
    assert!(passes > 3, "{passes}");
    assert!(log.cleaner_checkpoint().first_dirty_offset > 0);
}

#[test]
fn min_compaction_lag_and_dirty_ratio_gate_cleaning() {
    let dir = test_dir!();
    let cfg = LogConfig {
        min_compaction_lag_ms: 3_600_000,
        ..compact_config()
    };
    let mut log = PartitionLog::open(dir.path(), cfg.clone(), NOW).unwrap();
    fill(&mut log, 200, 5, 0, Compression::None);
    assert!(
        log.cleaning_plan(NOW).is_none(),
        "records are younger than the lag"
    );
    assert!(log.cleaning_plan(NOW + 3_600_000).is_some());
    log.set_config(LogConfig {
        min_cleanable_dirty_ratio: 1.0,
        min_compaction_lag_ms: 0,
        ..cfg.clone()
    });
    clean_all(&mut log, NOW);
    let segments = log.segment_count();
    fill(&mut log, 40, 5, 0, Compression::None);
    assert!(log.segment_count() > segments);
    assert!(log.cleaning_plan(NOW).is_none(), "ratio below 1.0");
    log.set_config(LogConfig {
        min_cleanable_dirty_ratio: 1.0,
        max_compaction_lag_ms: 1,
        min_compaction_lag_ms: 0,
        ..cfg
    });
    assert!(
        log.cleaning_plan(NOW).is_some(),
        "max.compaction.lag.ms forces it"
    );
}

/// A transactional producer writes a committed and an aborted transaction.
#[test]
fn aborted_transactions_are_dropped_and_markers_kept_until_safe() {
    let dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    let (pid, epoch) = (7, 0);
    let mut seq = 0;
    for round in 0..6 {
        let commit = round % 2 == 0;
        for j in 0..3 {
            let k = format!("t{j}");
            let v = format!("{round}");
            let b = keyed_batch(
                &[(Some(&k), Some(&v), NOW - 10_000)],
                Compression::None,
                Some((pid, epoch, seq, true)),
            );
            seq += 1;
            log.append(&b, NOW).unwrap();
        }
        log.write_txn_marker(pid, epoch, commit, 0, NOW - 10_000)
            .unwrap();
        fill(&mut log, 10, 4, 0, Compression::None);
    }
    let aborted_before = log.aborted_transactions(0, i64::MAX).unwrap();
    assert_eq!(aborted_before.len(), 3);
    clean_all(&mut log, NOW);
    let after = read_all(&log);
    // The latest committed values win; no record of an aborted round survives.
    let state = latest(&after);
    for j in 0..3 {
        assert_eq!(state[&Bytes::from(format!("t{j}"))].1, Bytes::from("4"));
    }
    // The markers are 10 s old and delete.retention.ms is 1 s: a marker goes once its
    // transaction has no record left.
    let markers = |log: &PartitionLog| {
        let mut n = 0;
        let mut off = 0;
        while off < log.log_end_offset() {
            let r = log.read(off, 1 << 20, log.log_end_offset(), true).unwrap();
            let mut b = r.records.clone();
            while !b.is_empty() {
                let h = crate::log::BatchHeader::parse(&b).unwrap();
                n += h.is_control() as usize;
                off = h.last_offset() + 1;
                let _ = b.split_to(h.total_size());
            }
        }
        n
    };
    // Aborted transactions lost every record, so their markers and index entries went;
    // the committed ones whose records were all superseded went too; the last
    // committed transaction keeps its records and its marker.
    let left = log.aborted_transactions(0, i64::MAX).unwrap();
    assert!(left.len() < aborted_before.len(), "{left:?}");
    assert!(markers(&log) >= 1);
    // Reopened, the index entries agree with the log.
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), left);
    assert_eq!(read_all(&log), after);
}

#[test]
fn markers_stay_while_young() {
    let dir = test_dir!();
    let cfg = LogConfig {
        delete_retention_ms: 3_600_000,
        ..compact_config()
    };
    let mut log = PartitionLog::open(dir.path(), cfg, NOW).unwrap();
    let b = keyed_batch(
        &[(Some("a"), Some("x"), NOW)],
        Compression::None,
        Some((3, 0, 0, true)),
    );
    log.append(&b, NOW).unwrap();
    log.write_txn_marker(3, 0, false, 0, NOW).unwrap();
    fill(&mut log, 100, 3, 0, Compression::None);
    clean_all(&mut log, NOW);
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap().len(), 1);
    let r = log.read(0, 1 << 20, log.log_end_offset(), true).unwrap();
    let h = crate::log::BatchHeader::parse(&r.records).unwrap();
    assert!(
        h.is_control(),
        "the aborted data went, the marker stays: {h:?}"
    );
}

#[test]
fn an_open_transaction_stops_cleaning_at_the_last_stable_offset() {
    let dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    fill(&mut log, 50, 3, 0, Compression::None);
    let lso = log.log_end_offset();
    let b = keyed_batch(
        &[(Some("a"), Some("x"), NOW)],
        Compression::None,
        Some((3, 0, 0, true)),
    );
    log.append(&b, NOW).unwrap();
    fill(&mut log, 200, 3, 0, Compression::None);
    assert_eq!(log.last_stable_offset(), lso);
    let plan = log.cleaning_plan(NOW).unwrap();
    assert!(plan.upper <= lso, "{} > {lso}", plan.upper);
}

/// Builds the same keyed log in `dir`, returns (log, every record before cleaning).
fn build(dir: &std::path::Path, seed: u64) -> PartitionLog {
    let mut log = PartitionLog::open(dir, compact_config(), NOW).unwrap();
    let mut x = seed;
    for i in 0..150 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = format!("k{}", (x >> 33) % 12);
        let v = format!("v{i}");
        let value = if (x >> 20).is_multiple_of(5) {
            None
        } else {
            Some(v.as_str())
        };
        let b = keyed_batch(
            &[(Some(&key), value, NOW - 10_000)],
            Compression::None,
            None,
        );
        log.append(&b, NOW).unwrap();
    }
    log
}

fn check_crash_at(step: usize, seed: u64) -> bool {
    let dir = test_dir!();
    let mut log = build(dir.path(), seed);
    let before = read_all(&log);
    let want = latest(&before);
    let plan = log.cleaning_plan(NOW).unwrap();
    let out = clean(&plan, &CleanerConfig::default(), &Default::default()).unwrap();
    let done = log.install_cleaned(&out, CrashAfter(Some(step))).is_ok();
    // A swap that failed part-way took the log offline (it refuses reads).
    assert_eq!(log.is_offline(), !done);
    let seen = done.then(|| read_all(&log));
    drop(log); // crash: no close
    let log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
    let after = read_all(&log);
    assert_eq!(latest(&after), want, "crash after step {step}");
    if let Some(seen) = seen {
        assert_eq!(after, seen);
    }
    for (off, rec) in &after {
        assert_eq!(
            before.get(off),
            Some(rec),
            "offset {off} changed (step {step})"
        );
    }
    // Every segment is wholly old or wholly new, and new ones form a prefix.
    let mut old_seen = false;
    for c in &out.segments {
        let size = crate::log::storage::metadata(dir.path().join(
            crate::log::file_names::segment_file_name(c.base_offset, "log"),
        ))
        .unwrap()
        .len();
        assert!(size == c.old_size || size == c.new_size);
        let is_new = size == c.new_size && c.new_size != c.old_size;
        assert!(
            !(old_seen && is_new),
            "new segment after an old one (step {step})"
        );
        old_seen |= size == c.old_size && c.new_size != c.old_size;
    }
    let leftovers: Vec<String> = crate::log::storage::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cleaned") || n.ends_with(".swap"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The log keeps working: clean it completely and compare again.
    let mut log = log;
    clean_all(&mut log, NOW);
    assert_eq!(latest(&read_all(&log)), want);
    done
}

#[test]
fn a_crash_at_any_step_of_the_swap_leaves_old_or_new_segments() {
    let mut step = 0;
    while !check_crash_at(step, 42) {
        step += 1;
        assert!(step < 1000);
    }
    assert!(step > 10, "the swap has many file steps ({step})");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random keyed appends with tombstones, a cleaning with a random crash point,
    /// reopen: the latest value per key and every surviving offset are unchanged.
    #[test]
    fn random_logs_survive_cleaning_and_crashes(
        ops in proptest::collection::vec((0u8..8, any::<bool>(), 1usize..4), 20..120),
        crash in proptest::option::of(0usize..60),
        compressed in any::<bool>(),
        small_map in any::<bool>(),
    ) {
        let dir = test_dir!();
        let mut log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
        let compression = if compressed { Compression::Gzip } else { Compression::None };
        for (i, (key, tomb, n)) in ops.iter().enumerate() {
            let keys: Vec<String> = (0..*n).map(|j| format!("k{}", (*key as usize + j) % 8)).collect();
            let vals: Vec<String> = (0..*n).map(|j| format!("v{i}-{j}")).collect();
            let recs: Vec<(Option<&str>, Option<&str>, i64)> = (0..*n)
                .map(|j| {
                    let v = if *tomb && j == 0 { None } else { Some(vals[j].as_str()) };
                    (Some(keys[j].as_str()), v, NOW - 5_000)
                })
                .collect();
            log.append(&keyed_batch(&recs, compression, None), NOW).unwrap();
        }
        let before = read_all(&log);
        let want = latest(&before);
        let config = CleanerConfig {
            dedupe_buffer_size: if small_map { 5 * offset_map::SLOT_BYTES } else { 1 << 16 },
            load_factor: 0.9,
        };
        if let Some(plan) = log.cleaning_plan(NOW) {
            let out = clean(&plan, &config, &Default::default()).unwrap();
            let _ = log.install_cleaned(&out, CrashAfter(crash));
        }
        drop(log);
        let mut log = PartitionLog::open(dir.path(), compact_config(), NOW).unwrap();
        let after = read_all(&log);
        prop_assert_eq!(latest(&after), want.clone());
        for (off, rec) in &after {
            prop_assert_eq!(before.get(off), Some(rec));
        }
        for _ in 0..100 {
            if log.clean_now(&config, NOW).unwrap().is_none() {
                break;
            }
        }
        prop_assert_eq!(latest(&read_all(&log)), want);
    }
}

/// With the aborted-transaction list kept out of memory
/// (`sluice.log.aborted.txn.memory.entries` = 0), the cleaner gets the aborted
/// transactions from the `.txnindex` files and cleans exactly as with all in memory.
#[test]
fn cleaning_reads_aborted_transactions_beyond_memory_from_disk() {
    let run = |in_memory: usize| {
        let dir = test_dir!();
        let cfg = LogConfig {
            aborted_txns_in_memory: in_memory,
            ..compact_config()
        };
        let mut log = PartitionLog::open(dir.path(), cfg.clone(), NOW).unwrap();
        let mut seq = 0;
        for round in 0..6 {
            for j in 0..3 {
                let (k, v) = (format!("t{j}"), format!("{round}"));
                let b = keyed_batch(
                    &[(Some(&k), Some(&v), NOW - 10_000)],
                    Compression::None,
                    Some((7, 0, seq, true)),
                );
                seq += 1;
                log.append(&b, NOW).unwrap();
            }
            log.write_txn_marker(7, 0, round % 2 == 0, 0, NOW - 10_000)
                .unwrap();
            fill(&mut log, 10, 4, 0, Compression::None);
        }
        let before = log.aborted_transactions(0, i64::MAX).unwrap();
        clean_all(&mut log, NOW);
        let after = (
            read_all(&log),
            log.aborted_transactions(0, i64::MAX).unwrap(),
        );
        log.close().unwrap();
        drop(log);
        let log = PartitionLog::open(dir.path(), cfg, NOW).unwrap();
        let reopened = (
            read_all(&log),
            log.aborted_transactions(0, i64::MAX).unwrap(),
        );
        assert!(log.aborted_in_memory() <= in_memory);
        (before, after, reopened)
    };
    let (before, after, reopened) = run(0);
    assert_eq!(before.len(), 3);
    assert_eq!((before, after, reopened), run(usize::MAX));
}
