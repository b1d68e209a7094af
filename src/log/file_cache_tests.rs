//! Tests of the log under a budget of descriptors and maps (`file_cache`): with a
//! budget far below what the segments would hold, closed segments' files are closed
//! and opened again all the time while appends, reads of old and new offsets,
//! retention and compaction interleave; every read must still return exactly the
//! records appended, and the budget must hold between operations.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTs,
};
use proptest::prelude::*;

use crate::log::cleaner::CleanerConfig;
use crate::log::file_cache::FileCache;
use crate::log::segment::{IDLE_ACTIVE_MS, IDLE_ACTIVE_UNDER_PRESSURE_MS};
use crate::log::test_util::test_dir;
use crate::log::*;

/// One batch of keyed records; each value names its key and a serial number, so a
/// record read back can be matched to the one appended.
fn keyed_batch(records: &[(u8, u64)], ts: i64) -> Vec<u8> {
    let recs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, serial))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KTs::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: ts,
            key: Some(Bytes::from(format!("k{key}"))),
            value: Some(Bytes::from(format!("k{key}-{serial}-{}", "x".repeat(40)))),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        recs.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    buf.to_vec()
}

/// A record read back: (offset, key, value).
type Rec = (i64, Bytes, Bytes);

/// The records of `bytes` (whole batches).
fn records_of(bytes: &Bytes) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut buf = bytes.clone();
    while !buf.is_empty() {
        let h = BatchHeader::parse(&buf).expect("header");
        let mut one = buf.split_to(h.total_size());
        let set = RecordBatchDecoder::decode(&mut one).expect("decode");
        for r in set.records {
            out.push((r.offset, r.key.expect("keyed"), r.value.expect("value")));
        }
    }
    out
}

fn config(cache: &Arc<FileCache>) -> LogConfig {
    LogConfig {
        segment_bytes: 600,
        index_interval_bytes: 100,
        segment_index_bytes: 4096,
        retention_ms: -1,
        cleanup_compact: true,
        cleanup_delete: true,
        min_cleanable_dirty_ratio: 0.01,
        file_cache: cache.clone(),
        ..LogConfig::default()
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Partition, then the keys of one batch.
    Append(usize, Vec<u8>),
    /// Partition, then where to read from as a fraction of [start, end].
    Read(usize, f64),
    /// Partition: retention.bytes this small, then housekeeping.
    Retain(usize, i64),
    /// Partition: a whole compaction pass.
    Compact(usize),
    /// Partition: fdatasync through a sync handle (closed segments let their
    /// descriptor go).
    GroupCommit(usize),
    /// Partition: close and open the log again.
    Reopen(usize),
    /// Partition: ListOffsets by a timestamp (fraction of the appended range).
    ByTime(usize, f64),
    /// Partition: flush, then housekeeping once it has been idle long enough for its
    /// active segment to give its files back (the budget is always exceeded here).
    Idle(usize),
}

const PARTITIONS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PARTITIONS;
    prop_oneof![
        8 => (p.clone(), prop::collection::vec(0u8..6, 1..5)).prop_map(|(p, k)| Op::Append(p, k)),
        6 => (p.clone(), 0.0f64..=1.0).prop_map(|(p, x)| Op::Read(p, x)),
        1 => (p.clone(), 800i64..4000).prop_map(|(p, b)| Op::Retain(p, b)),
        1 => p.clone().prop_map(Op::Compact),
        2 => p.clone().prop_map(Op::GroupCommit),
        1 => p.clone().prop_map(Op::Reopen),
        1 => (p.clone(), 0.0f64..=1.0).prop_map(|(p, x)| Op::ByTime(p, x)),
        2 => p.prop_map(Op::Idle),
    ]
}

/// What was appended to one partition: offset -> (key, value, timestamp).
type Model = BTreeMap<i64, (Bytes, Bytes, i64)>;

/// The offset after the last batch of `bytes` (whole batches).
fn end_of(bytes: &Bytes) -> i64 {
    let mut buf = bytes.clone();
    let mut end = -1;
    while !buf.is_empty() {
        let h = BatchHeader::parse(&buf).expect("header");
        end = h.last_offset() + 1;
        let _ = buf.split_to(h.total_size());
    }
    end
}

/// Reads the whole log in small steps: every record must be the one appended at its
/// offset, offsets must increase, and the latest record of every key (at or past the
/// log start) must be there whatever compaction removed.
fn check_all(log: &PartitionLog, model: &Model) {
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    let mut offset = start;
    let mut seen = BTreeMap::new();
    let mut last = start - 1;
    while offset < end {
        let r = log.read(offset, 300, end, true).unwrap();
        let recs = records_of(&r.records);
        assert!(
            !recs.is_empty(),
            "no progress reading at {offset} of [{start}, {end})"
        );
        for (off, k, v) in recs {
            if off < offset {
                continue; // earlier records of the first batch
            }
            assert!(off > last, "offsets increase");
            last = off;
            let (mk, mv, _) = model.get(&off).expect("a record that was appended");
            assert_eq!((&k, &v), (mk, mv), "record at offset {off}");
            seen.insert(k, off);
        }
        offset = end_of(&r.records).max(offset + 1);
    }
    let mut latest = BTreeMap::new();
    for (off, (k, _, _)) in model.range(start..end) {
        latest.insert(k.clone(), *off);
    }
    assert_eq!(seen, latest, "the latest record of every key is served");
}

fn run(ops: Vec<Op>, max_files: usize, max_maps: usize) {
    let cache = FileCache::new(max_files, max_maps);
    let cfg = config(&cache);
    let dirs: Vec<_> = (0..PARTITIONS).map(|_| test_dir!()).collect();
    let mut logs: Vec<PartitionLog> = dirs
        .iter()
        .map(|d| PartitionLog::open(d.path(), cfg.clone(), 0).unwrap())
        .collect();
    let mut models: Vec<Model> = vec![Model::new(); PARTITIONS];
    let mut serial = 0u64;
    let mut ts = 1_000i64;
    // Bytes handed out by reads stay valid however often their segment is closed.
    let mut kept: Vec<(Bytes, Vec<Rec>)> = Vec::new();
    let mut rolled = false;
    for op in ops {
        match op {
            Op::Append(p, keys) => {
                ts += 1;
                let recs: Vec<(u8, u64)> = keys
                    .iter()
                    .map(|&k| {
                        serial += 1;
                        (k, serial)
                    })
                    .collect();
                let b = keyed_batch(&recs, ts);
                let info = logs[p].append(&b, ts).unwrap();
                for (i, (k, s)) in recs.iter().enumerate() {
                    let key = Bytes::from(format!("k{k}"));
                    let value = Bytes::from(format!("k{k}-{s}-{}", "x".repeat(40)));
                    models[p].insert(info.base_offset + i as i64, (key, value, ts));
                }
            }
            Op::Read(p, x) => {
                let log = &logs[p];
                let (start, end) = (log.log_start_offset(), log.log_end_offset());
                let at = start + ((end - start) as f64 * x) as i64;
                let r = log.read(at, 200, end, true).unwrap();
                let recs = records_of(&r.records);
                if at < end {
                    // Compaction may have removed `at` itself, never everything after it
                    // (the latest record of a key stays).
                    assert!(!recs.is_empty(), "read at {at} of [{start}, {end})");
                }
                for (off, k, v) in &recs {
                    let (mk, mv, _) = models[p].get(off).expect("appended");
                    assert_eq!((k, v), (mk, mv));
                }
                if kept.len() < 8 {
                    kept.push((r.records, recs));
                }
            }
            Op::Retain(p, bytes) => {
                logs[p].set_config(LogConfig {
                    retention_bytes: bytes,
                    ..cfg.clone()
                });
                logs[p].housekeeping(ts).unwrap();
                logs[p].set_config(cfg.clone());
            }
            Op::Compact(p) => {
                let cleaner = CleanerConfig::default();
                while logs[p].clean_now(&cleaner, ts).unwrap().is_some() {}
            }
            Op::GroupCommit(p) => {
                if let Some(h) = logs[p].sync_handle() {
                    h.sync().unwrap();
                    logs[p].mark_flushed(h.offset());
                }
            }
            Op::Reopen(p) => {
                logs[p].close().unwrap();
                logs[p] = PartitionLog::open(dirs[p].path(), cfg.clone(), ts).unwrap();
            }
            Op::Idle(p) => {
                ts += IDLE_ACTIVE_MS;
                logs[p].flush().unwrap();
                logs[p].housekeeping(ts).unwrap();
            }
            Op::ByTime(p, x) => {
                let log = &logs[p];
                let target = 1_000 + ((ts - 1_000) as f64 * x) as i64;
                if let Some((off, found_ts)) = log.offset_for_timestamp(target).unwrap() {
                    assert!(found_ts >= target);
                    if let Some((_, _, mts)) = models[p].get(&off) {
                        assert_eq!(*mts, found_ts);
                    }
                }
            }
        }
        for b in &kept {
            assert_eq!(records_of(&b.0), b.1, "bytes read earlier are unchanged");
        }
        rolled |= logs.iter().any(|l| l.segment_count() > 1);
    }
    if rolled && max_maps == 1 {
        // A closed segment maps its `.log` at least: one map is always over.
        assert!(cache.evictions() > 0, "{cache:?}");
    }
    for (log, model) in logs.iter().zip(&models) {
        check_all(log, model);
    }
    for mut log in logs {
        log.close().unwrap();
    }
    drop(kept);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn reads_are_right_while_a_tiny_budget_closes_and_reopens_segments(
        ops in prop::collection::vec(op(), 20..100),
        max_files in 1usize..3,
        max_maps in 1usize..4,
    ) {
        run(ops, max_files, max_maps);
    }
}

/// Every closed segment is read, in an order that jumps around, with a budget that
/// leaves room for the active segment and one closed segment: between reads the log
/// holds no more than the budget, and the descriptors it holds are the active
/// segment's only.
#[test]
fn the_budget_holds_between_reads_and_closed_segments_hold_no_descriptor() {
    // Active segment: one descriptor, its `.log` map and two index maps.
    let cache = FileCache::new(1, 6);
    let cfg = LogConfig {
        cleanup_compact: false,
        ..config(&cache)
    };
    let dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), cfg, 0).unwrap();
    let mut model = Model::new();
    for i in 0..200u64 {
        let b = keyed_batch(&[((i % 200) as u8, i)], 1_000 + i as i64);
        let info = log.append(&b, 1_000 + i as i64).unwrap();
        model.insert(
            info.base_offset,
            (
                Bytes::from(format!("k{}", i % 200)),
                Bytes::from(format!("k{}-{i}-{}", i % 200, "x".repeat(40))),
                1_000 + i as i64,
            ),
        );
    }
    log.flush().unwrap();
    assert!(log.segment_count() > 20, "{} segments", log.segment_count());
    let end = log.log_end_offset();
    for step in 0..end {
        // A stride coprime with the length visits every offset out of order.
        let at = (step * 37) % end;
        let r = log.read(at, 1 << 20, end, true).unwrap();
        let recs = records_of(&r.records);
        let (off, k, v) = &recs[0];
        assert_eq!(*off, at);
        assert_eq!((k, v), (&model[&at].0, &model[&at].1));
        drop(r);
        assert!(cache.mmaps() <= 6, "{cache:?} after reading {at}");
        assert_eq!(
            cache.open_files(),
            1,
            "only the active segment's .log is open"
        );
    }
    assert!(cache.evictions() > 20, "{cache:?}");
    drop(log);
    assert_eq!((cache.open_files(), cache.mmaps()), (0, 0), "nothing leaks");
}

/// An idle partition's active segment gives its descriptor and maps back when the log
/// is over its budget, and takes them again on the next append; nothing is lost.
fn append_one(log: &mut PartitionLog, model: &mut Model, i: u64, now: i64) {
    let info = log.append(&keyed_batch(&[(i as u8, i)], now), now).unwrap();
    let key = Bytes::from(format!("k{i}"));
    let value = Bytes::from(format!("k{i}-{i}-{}", "x".repeat(40)));
    model.insert(info.base_offset, (key, value, now));
}

#[test]
fn an_idle_active_segment_closes_its_files_over_budget_and_reopens_on_append() {
    let cache = FileCache::new(0, 0);
    let cfg = LogConfig {
        flush_ms: i64::MAX,
        ..config(&cache)
    };
    let dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), cfg.clone(), 0).unwrap();
    let mut model = Model::new();
    append_one(&mut log, &mut model, 1, 1_000);
    append_one(&mut log, &mut model, 2, 1_001);
    assert_eq!(cache.open_files(), 1);
    // Not idle long enough, then data not synced: nothing is closed.
    log.housekeeping(1_002).unwrap();
    assert_eq!(cache.open_files(), 1, "not idle long enough");
    // A budget of 0 is far exceeded: the data waiting for flush.ms is flushed, then
    // the files close (far_over_the_budget_... covers the wait just over a budget).
    log.housekeeping(1_001 + IDLE_ACTIVE_UNDER_PRESSURE_MS)
        .unwrap();
    assert_eq!((cache.open_files(), cache.mmaps()), (0, 0), "{cache:?}");
    check_all(&log, &model);
    assert_eq!(
        (cache.open_files(), cache.mmaps()),
        (0, 0),
        "reads close what they open"
    );
    // The next append takes the files again, and a clean close and open keep it all.
    append_one(&mut log, &mut model, 3, 20_000);
    assert_eq!(cache.open_files(), 1);
    check_all(&log, &model);
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), cfg, 30_000).unwrap();
    check_all(&log, &model);
}

/// Far over its budget (more than twice as many descriptors held), an idle partition
/// gives its descriptor back after `IDLE_ACTIVE_UNDER_PRESSURE_MS` instead of
/// `IDLE_ACTIVE_MS`, flushing data that still waits for `flush.ms` first; just over
/// it, the longer wait holds.
#[test]
fn far_over_the_budget_an_idle_partition_flushes_and_closes_sooner() {
    let cache = FileCache::new(1, usize::MAX);
    let cfg = LogConfig {
        flush_ms: i64::MAX,
        ..config(&cache)
    };
    let dirs: Vec<_> = (0..3).map(|_| test_dir!()).collect();
    let mut logs: Vec<PartitionLog> = dirs
        .iter()
        .map(|d| PartitionLog::open(d.path(), cfg.clone(), 0).unwrap())
        .collect();
    let mut models: Vec<Model> = (0..3).map(|_| Model::new()).collect();
    for (i, (log, m)) in logs.iter_mut().zip(models.iter_mut()).enumerate() {
        append_one(log, m, i as u64, 1_000);
    }
    assert_eq!(cache.open_files(), 3, "three active segments, budget 1");
    assert!(cache.files_under_pressure());
    let soon = 1_000 + IDLE_ACTIVE_UNDER_PRESSURE_MS;
    logs[0].housekeeping(soon - 1).unwrap();
    assert_eq!(cache.open_files(), 3, "not idle long enough yet");
    logs[0].housekeeping(soon).unwrap();
    assert_eq!(cache.open_files(), 2, "unsynced data flushed, then closed");
    assert!(
        !cache.files_under_pressure(),
        "2 is not over twice the budget"
    );
    logs[1].housekeeping(soon).unwrap();
    assert_eq!(
        cache.open_files(),
        2,
        "just over budget: the long wait holds"
    );
    logs[1].housekeeping(1_000 + IDLE_ACTIVE_MS).unwrap();
    assert_eq!(cache.open_files(), 2, "unsynced data keeps its descriptor");
    logs[1].flush().unwrap();
    logs[1].housekeeping(1_000 + IDLE_ACTIVE_MS).unwrap();
    assert_eq!(cache.open_files(), 1);
    // Nothing was lost, and the closed partitions take their files again on append.
    for (i, (log, m)) in logs.iter_mut().zip(models.iter_mut()).enumerate() {
        check_all(log, m);
        append_one(log, m, 10 + i as u64, 20_000);
        check_all(log, m);
    }
    assert_eq!(cache.open_files(), 3);
}

/// A partition just created gives its descriptor back at once (`release_files`), so
/// creating many partitions does not hold one descriptor each; its first append
/// takes it again.
#[test]
fn a_new_partition_releases_its_descriptor_until_its_first_append() {
    let cache = FileCache::new(usize::MAX, usize::MAX);
    let cfg = config(&cache);
    let dir = test_dir!();
    let mut log = PartitionLog::open(dir.path(), cfg.clone(), 0).unwrap();
    assert_eq!(cache.open_files(), 1);
    assert!(log.release_files().unwrap());
    assert_eq!((cache.open_files(), cache.mmaps()), (0, 0), "{cache:?}");
    let mut model = Model::new();
    append_one(&mut log, &mut model, 1, 1_000);
    assert_eq!(cache.open_files(), 1);
    assert!(
        !log.release_files().unwrap(),
        "data waiting for an fdatasync keeps the descriptor"
    );
    log.flush().unwrap();
    assert!(log.release_files().unwrap());
    check_all(&log, &model);
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), cfg, 2_000).unwrap();
    check_all(&log, &model);
}
