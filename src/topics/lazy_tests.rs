//! Partitions found at start-up stay cold until touched: start-up opens none, shutdown
//! writes nothing for those never opened, concurrent first touches open once, and a
//! partition a crash left dirty is recovered when it is first opened.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::tests::{new_topic, registry};
use super::*;
use crate::log::test_util::batch;
use crate::log::AppendOrigin;

/// Every file under `dir` with its bytes and modification time.
fn files(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path, (bytes, meta.modified().unwrap()));
            }
        }
    }
    out
}

/// A data directory holding topic `t` of `n` partitions, 3 records in partition 0,
/// cleanly shut down.
fn cleanly_closed(dir: &Path, n: i32) {
    let topics = registry(dir);
    let t = topics.create(new_topic("t", n), false).unwrap();
    let now = topics.clock.now_ms();
    t.partitions[0].append(batch(3, now, 10), now).unwrap();
    topics.close_all();
}

#[test]
fn untouched_partitions_are_not_opened_and_their_shutdown_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    cleanly_closed(dir.path(), 4);
    let record = dir.path().join(crate::log::log_dir_shutdown::FILE);
    let entries = |path: &Path| {
        std::fs::read(path)
            .ok()
            .and_then(|b| crate::log::log_dir_shutdown::decode(&b))
            .map(|m| {
                m.into_iter()
                    .map(|(k, c)| (k, c.shutdown))
                    .collect::<Vec<_>>()
            })
    };
    let recorded = entries(&record);
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    assert!(t.partitions.iter().all(|p| !p.is_loaded()));
    let before = files(dir.path());
    // What the directory alone answers leaves them cold.
    let now = topics.clock.now_ms();
    let (size, segments) = t.partitions[0].log_size_and_segments();
    assert!(size > 0);
    assert_eq!(segments, 1);
    assert_eq!(t.partitions[1].log_size_and_segments(), (0, 1));
    for p in &t.partitions {
        assert_eq!(p.housekeeping(now).unwrap(), 0);
        assert!(p.cleaning_plan(now).is_none());
        let _ = p.validator(now, AppendOrigin::Client);
        assert!(p.dir().ends_with(format!("t-{}", p.index)));
        assert_eq!(p.producer_count(), 0);
    }
    assert!(t.partitions.iter().all(|p| !p.is_loaded()));
    topics.close_all();
    // A batched shutdown records the logs in the log directory's file: the entries read
    // at start-up are written again (under a new generation), and nothing else.
    assert_eq!(entries(&record), recorded);
    let without_record = |mut f: BTreeMap<PathBuf, (Vec<u8>, SystemTime)>| {
        f.remove(&record);
        f
    };
    let before = without_record(before);
    assert_eq!(
        without_record(files(dir.path())),
        before,
        "closing cold partitions writes nothing else"
    );

    // The offsets of a cleanly closed partition come without opening it.
    let marks = t.partitions[0].watermarks();
    assert_eq!(
        (
            marks.log_start_offset,
            marks.high_watermark,
            marks.last_stable_offset
        ),
        (0, 3, 3)
    );
    assert!(!t.partitions[0].is_loaded());
    assert_eq!(
        without_record(files(dir.path())),
        before,
        "answering them cold writes nothing"
    );
    // Once the shutdown began, a cold partition is never opened (its entry is recorded).
    assert!(t.partitions[0].read(0, 1 << 20, None, true).is_err());
    assert!(!t.partitions[0].is_loaded() && !t.partitions[0].is_offline());
    drop(t);
    drop(topics);
    // After a restart, the first touch opens the log and serves what it holds.
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    let (read, marks) = t.partitions[0].read(0, 1 << 20, None, true).unwrap();
    assert_eq!((read.first_offset, marks.high_watermark), (0, 3));
    assert!(t.partitions[0].is_loaded());
    assert!(t.partitions[1..].iter().all(|p| !p.is_loaded()));
    assert_eq!(t.partitions[0].log_size_and_segments(), (size, 1));
    topics.close_all();
    drop(topics);
    // Opened once and closed again: a clean start that touches nothing after it.
    let topics = registry(dir.path());
    let p0 = topics.get("t").unwrap().partitions[0].clone();
    let (records, marks) = p0.read(0, 1 << 20, None, true).unwrap();
    assert_eq!(marks.high_watermark, 3);
    assert!(!records.records.is_empty());
}

#[test]
fn concurrent_first_touches_open_the_log_once() {
    let dir = tempfile::tempdir().unwrap();
    cleanly_closed(dir.path(), 1);
    let topics = registry(dir.path());
    let p = topics.get("t").unwrap().partitions[0].clone();
    let now = topics.clock.now_ms();
    std::thread::scope(|s| {
        for i in 0..8 {
            let p = &p;
            s.spawn(move || match i % 3 {
                0 => assert!(p.watermarks().high_watermark >= 3),
                1 => {
                    let (read, _) = p.read(0, 1 << 20, None, true).unwrap();
                    assert_eq!(read.first_offset, 0);
                }
                _ => {
                    let info = p.append(batch(1, now, 10), now).unwrap();
                    assert!(info.base_offset >= 3);
                }
            });
        }
    });
    assert_eq!(p.open_count(), 1);
    assert_eq!(p.watermarks().high_watermark, 3 + 2);
}

#[test]
fn a_partition_a_crash_left_dirty_is_recovered_when_first_opened() {
    let dir = tempfile::tempdir().unwrap();
    {
        let topics = registry(dir.path());
        let t = topics.create(new_topic("t", 2), false).unwrap();
        let now = topics.clock.now_ms();
        let info = t.partitions[0].append(batch(3, now, 10), now).unwrap();
        assert_eq!(info.last_offset, 2);
        // Dropped without close_all: what a kill -9 leaves (no clean-shutdown marker).
    }
    // A torn write after the last batch.
    let log = dir.path().join("t-0").join("00000000000000000000.log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(&[0xAB; 40]);
    std::fs::write(&log, bytes).unwrap();
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    assert!(t.partitions.iter().all(|p| !p.is_loaded()));
    // Housekeeping sees that recovery is due and opens it.
    let now = topics.clock.now_ms();
    t.partitions[0].housekeeping(now).unwrap();
    assert!(t.partitions[0].is_loaded());
    assert_eq!(t.partitions[0].watermarks().high_watermark, 3);
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        t.partitions[0].size_bytes(),
        "the torn tail was cut"
    );
}

#[test]
fn a_retired_cold_partition_is_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    cleanly_closed(dir.path(), 1);
    let topics = registry(dir.path());
    let p = topics.get("t").unwrap().partitions[0].clone();
    topics.delete("t").unwrap();
    assert!(p.read(0, 100, None, true).is_err());
    assert_eq!(p.open_count(), 0);
}

#[test]
fn a_batched_shutdown_leaves_every_touched_partition_cleanly_closed() {
    use crate::log::log_dir_shutdown;
    let dir = tempfile::tempdir().unwrap();
    cleanly_closed(dir.path(), 3);
    let topics = registry(dir.path());
    let batched = topics.fs_sync.is_some();
    let t = topics.get("t").unwrap();
    let now = topics.clock.now_ms();
    t.partitions[0].append(batch(2, now, 10), now).unwrap();
    t.partitions[1].append(batch(4, now, 10), now).unwrap();
    topics.close_all();
    drop(topics);
    let recorded = std::fs::read(dir.path().join(log_dir_shutdown::FILE)).ok();
    if batched {
        // One record for the directory: the two written partitions and the untouched one
        // (carried over from the record start-up took), no file in any partition's.
        let entries = log_dir_shutdown::decode(&recorded.expect("recorded")).unwrap();
        let ends: Vec<(i32, i64)> = entries
            .iter()
            .map(|((_, p), c)| (*p, c.shutdown.log_end_offset))
            .collect();
        assert_eq!(ends, vec![(0, 5), (1, 4), (2, 0)]);
        for p in 0..3 {
            let pdir = dir.path().join(format!("t-{p}"));
            assert!(!pdir
                .join(crate::log::file_names::CLEAN_SHUTDOWN_MARKER)
                .exists());
        }
    } else {
        assert!(recorded.is_none());
    }
    // Every partition answers its offsets cold, as cleanly closed, and opens without a
    // scan.
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    for (p, end) in [(0, 5), (1, 4), (2, 0)] {
        assert_eq!(t.partitions[p].watermarks().high_watermark, end);
        assert_eq!(t.partitions[p].open_count(), 0, "t-{p} answered cold");
    }
    let (read, _) = t.partitions[0].read(3, 1 << 20, None, true).unwrap();
    assert_eq!(read.first_offset, 3);

    // A crash of this run: t-0 was opened, so its entry is marked taken and it is
    // recovered at its next open; t-1 and t-2 were not, so they stay cleanly closed (and
    // cold) through the crash. Nothing is lost either way.
    drop(t);
    drop(topics);
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    for (p, end) in [(1, 4), (2, 0)] {
        assert_eq!(t.partitions[p].watermarks().high_watermark, end);
        assert_eq!(
            t.partitions[p].open_count(),
            0,
            "t-{p} answered cold after the crash"
        );
    }
    assert_eq!(t.partitions[0].watermarks().high_watermark, 5);
    assert_eq!(
        t.partitions[0].open_count(),
        batched as usize,
        "t-0 recovered"
    );
    // The next clean shutdown records t-1 and t-2 again, and t-0 closed anew.
    topics.close_all();
    drop(t);
    drop(topics);
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    for (p, end) in [(0, 5), (1, 4), (2, 0)] {
        assert_eq!(t.partitions[p].watermarks().high_watermark, end);
        assert_eq!(t.partitions[p].open_count(), 0, "t-{p} answered cold");
    }
}

#[test]
fn a_write_after_a_batched_shutdown_marks_its_entry_taken() {
    use crate::log::log_dir_shutdown;
    let dir = tempfile::tempdir().unwrap();
    cleanly_closed(dir.path(), 2);
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    let now = topics.clock.now_ms();
    t.partitions[0].append(batch(1, now, 10), now).unwrap();
    topics.close_all();
    let record = dir.path().join(log_dir_shutdown::FILE);
    assert_eq!(record.exists(), topics.fs_sync.is_some());
    // A request still in flight writes after the shutdown: the entry no longer holds.
    t.partitions[0].append(batch(2, now, 10), now).unwrap();
    drop(t);
    drop(topics);
    let topics = registry(dir.path());
    let t = topics.get("t").unwrap();
    assert_eq!(t.partitions[0].watermarks().high_watermark, 6);
    assert_eq!(t.partitions[0].open_count(), 1, "recovered, not trusted");
    assert_eq!(t.partitions[1].watermarks().high_watermark, 0);
    assert_eq!(t.partitions[1].open_count(), 0);
}
