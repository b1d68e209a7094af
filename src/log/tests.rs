//! Unit tests of the partition log: append/read, indexes, roll, retention, timestamp
//! lookups, flush and recovery. Test-only; validation is tested in `validator::tests`.

use crate::log::storage as fs;
use crate::log::test_util::test_dir;

use kafka_protocol::records::Compression;

use crate::log::batch::{check_stored_batch, CRC_OFFSET};
use crate::log::offset_index::OffsetIndex;
use crate::log::test_util::*;
use crate::log::time_index::TimeIndex;
use crate::log::*;

fn open(dir: &std::path::Path, cfg: LogConfig) -> PartitionLog {
    PartitionLog::open(dir, cfg, 1_000).unwrap()
}

fn log_file(dir: &std::path::Path, base: i64) -> std::path::PathBuf {
    dir.join(format!("{base:020}.log"))
}

fn read_all(log: &PartitionLog) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = log.log_start_offset();
    while off < log.log_end_offset() {
        let r = log.read(off, usize::MAX, i64::MAX, true).unwrap();
        let batches = split_batches(&r.records);
        assert!(!batches.is_empty());
        for (base, b) in batches {
            let h = BatchHeader::parse(&b).unwrap();
            assert!(base <= off.max(base));
            off = h.last_offset() + 1;
            out.push((base, b));
        }
    }
    out
}

fn corrupt_crc(mut b: Vec<u8>) -> Vec<u8> {
    b[CRC_OFFSET] ^= 0xff;
    b
}

#[test]
fn a_refused_payload_writes_nothing() {
    // All or nothing: a bad second batch means the first is not written either (the
    // validator's checks themselves are tested in `validator::tests`).
    let dir = test_dir!();
    let mut log = open(dir.path(), LogConfig::default());
    let good = batch(3, 100, 10);
    let mut p = good.clone();
    p.extend_from_slice(&corrupt_crc(good.clone()));
    assert!(matches!(
        log.append(&p, 1).unwrap_err(),
        AppendError::CorruptMessage(_)
    ));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn append_assigns_offsets_and_read_is_exact() {
    let dir = test_dir!();
    let mut log = open(dir.path(), LogConfig::default());
    let a = batch(3, 100, 10);
    let b = batch(2, 200, 10);
    let mut p = a.clone();
    p.extend_from_slice(&b);
    let info = log.append(&p, 5).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.record_count),
        (0, 4, 5)
    );
    assert_eq!(info.log_append_time, -1);
    assert_eq!(info.max_timestamp, 201);
    assert_eq!(info.batches.len(), 2);
    assert_eq!(info.batches[1].base_offset, 3);
    assert_eq!(info.batches[1].partition_leader_epoch, 0);
    assert!(!info.flush_needed);
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.high_watermark(), 5);

    let r = log.read(4, usize::MAX, i64::MAX, false).unwrap();
    assert_eq!(r.first_offset, 3);
    assert!(same_batch_modulo_broker_fields(&r.records, &b));
    assert_eq!(BatchHeader::parse(&r.records).unwrap().base_offset, 3);
    let all = log.read(0, usize::MAX, i64::MAX, false).unwrap();
    assert_eq!(all.records.len(), p.len());
    check_stored_batch(&all.records).unwrap();

    let empty = log.read(5, 100, i64::MAX, true).unwrap();
    assert!(empty.records.is_empty());
    assert_eq!(empty.first_offset, -1);
    assert!(matches!(
        log.read(6, 1, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { requested: 6, .. })
    ));
    assert!(matches!(
        log.read(-1, 1, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn read_limits() {
    let dir = test_dir!();
    let mut log = open(dir.path(), LogConfig::default());
    let batches: Vec<Vec<u8>> = (0..4).map(|i| batch(2, i * 10, 20)).collect();
    for b in &batches {
        log.append(b, 1).unwrap();
    }
    let one = batches[0].len();
    // max_bytes smaller than one batch: nothing, unless min_one_batch (KIP-74).
    assert!(log
        .read(0, one - 1, i64::MAX, false)
        .unwrap()
        .records
        .is_empty());
    assert_eq!(
        log.read(0, one - 1, i64::MAX, true).unwrap().records.len(),
        one
    );
    // Whole batches only.
    assert_eq!(
        log.read(0, 2 * one + 5, i64::MAX, false)
            .unwrap()
            .records
            .len(),
        2 * one
    );
    // max_offset excludes batches starting at or after it.
    assert_eq!(
        log.read(0, usize::MAX, 4, false).unwrap().records.len(),
        2 * one
    );
    assert_eq!(
        log.read(0, usize::MAX, 3, false).unwrap().records.len(),
        2 * one
    );
    assert!(log.read(4, usize::MAX, 4, true).unwrap().records.is_empty());
}

#[test]
fn offset_and_time_index_lookup() {
    let dir = test_dir!();
    let mut idx = OffsetIndex::open(
        &dir.path().join("a.index"),
        100,
        true,
        crate::log::file_cache::global(),
    )
    .unwrap();
    idx.file_mut().resize(64).unwrap();
    assert_eq!(idx.lookup(150), (100, 0));
    assert!(idx.append(110, 50));
    assert!(idx.append(120, 90));
    assert_eq!(idx.lookup(109), (100, 0));
    assert_eq!(idx.lookup(110), (110, 50));
    assert_eq!(idx.lookup(119), (110, 50));
    assert_eq!(idx.lookup(500), (120, 90));
    for i in 0..10 {
        idx.append(130 + i, 100 + i as u32);
    }
    assert!(idx.is_full());
    assert_eq!(idx.entries(), 8);
    idx.file_mut().trim().unwrap();
    assert_eq!(fs::metadata(dir.path().join("a.index")).unwrap().len(), 64);

    let mut t = TimeIndex::open(
        &dir.path().join("a.timeindex"),
        100,
        true,
        crate::log::file_cache::global(),
    )
    .unwrap();
    t.file_mut().resize(36).unwrap();
    assert!(t.maybe_append(1000, 105, false));
    assert!(!t.maybe_append(1000, 106, false), "timestamps must grow");
    assert!(t.maybe_append(2000, 110, false));
    assert!(!t.maybe_append(3000, 120, false), "last slot is reserved");
    assert!(t.maybe_append(3000, 120, true));
    assert_eq!(t.lookup(999), None);
    assert_eq!(t.lookup(1500), Some((1000, 105)));
    assert_eq!(t.lookup(9999), Some((3000, 120)));
}

/// Kafka's `OffsetIndex.append` throws for an offset that does not grow; Sluice's
/// skips it in release builds and asserts in debug builds (a caller bug).
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "does not ascend")]
fn a_non_ascending_offset_index_entry_is_a_bug() {
    let dir = test_dir!();
    let mut idx = OffsetIndex::open(
        &dir.path().join("a.index"),
        100,
        true,
        crate::log::file_cache::global(),
    )
    .unwrap();
    idx.file_mut().resize(64).unwrap();
    assert!(idx.append(120, 90));
    idx.append(120, 95);
}

#[test]
fn rolls_on_size_index_full_and_age() {
    let dir = test_dir!();
    let mut log = open(dir.path(), small_config());
    let b = batch(1, 1, 200);
    for _ in 0..10 {
        log.append(&b, 1).unwrap();
    }
    assert!(log.segment_count() >= 3);
    assert!(fs::metadata(log_file(dir.path(), 0)).unwrap().len() <= 1024);
    assert_eq!(read_all(&log).len(), 10);
    // Rolled segments have trimmed indexes.
    assert_eq!(
        fs::metadata(dir.path().join(format!("{:020}.index", 0)))
            .unwrap()
            .len()
            % 8,
        0
    );
    assert!(
        fs::metadata(dir.path().join(format!("{:020}.index", 0)))
            .unwrap()
            .len()
            < 4096
    );

    // Index full: room for 2 offset entries (time index: 1 regular + final).
    let dir2 = test_dir!();
    let cfg = LogConfig {
        segment_index_bytes: 24,
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let mut log2 = open(dir2.path(), cfg);
    for i in 0..10 {
        log2.append(&batch(1, i, 10), 1).unwrap();
    }
    assert!(log2.segment_count() > 1);
    assert_eq!(read_all(&log2).len(), 10);

    // segment.ms: by append and by housekeeping, measured from the first batch's timestamp.
    let dir3 = test_dir!();
    let mut log3 = open(
        dir3.path(),
        LogConfig {
            segment_ms: 100,
            ..LogConfig::default()
        },
    );
    log3.append(&batch(1, 1_000, 10), 1_000).unwrap();
    log3.append(&batch(1, 1_050, 10), 1_050).unwrap();
    assert_eq!(log3.segment_count(), 1);
    log3.append(&batch(1, 1_200, 10), 1_200).unwrap();
    assert_eq!(log3.segment_count(), 2);
    assert_eq!(log3.housekeeping(1_250).unwrap(), 0);
    assert_eq!(log3.segment_count(), 2);
    log3.housekeeping(1_301).unwrap();
    assert_eq!(log3.segment_count(), 3);
    log3.housekeeping(5_000).unwrap();
    assert_eq!(
        log3.segment_count(),
        3,
        "an empty active segment never rolls"
    );
    // Old client timestamps alone do not roll on every append (Kafka compares the
    // incoming batch's timestamp with the first batch's).
    log3.append(&batch(1, 10, 10), 5_000).unwrap();
    log3.append(&batch(1, 20, 10), 5_001).unwrap();
    log3.append(&batch(1, 30, 10), 5_002).unwrap();
    assert_eq!(log3.segment_count(), 3);
    log3.append(&batch(1, 200, 10), 5_003).unwrap();
    assert_eq!(log3.segment_count(), 4);
}

#[test]
fn retention_by_time_and_bytes() {
    let dir = test_dir!();
    let cfg = LogConfig {
        segment_bytes: 300,
        ..small_config()
    };
    let mut log = open(dir.path(), cfg.clone());
    let mut sizes = Vec::new();
    for i in 0..6 {
        let b = batch(2, i * 1000, 200);
        sizes.push(b.len());
        log.append(&b, i * 1000).unwrap();
    }
    assert_eq!(log.segment_count(), 6);
    // By time: segments whose newest record is older than retention.ms go.
    log.set_config(LogConfig {
        retention_ms: 2500,
        ..cfg.clone()
    });
    let deleted = log.housekeeping(4000).unwrap();
    assert_eq!(deleted, 2); // max ts 1 and 1001 are > 2500 ms old at 4000
    assert_eq!(log.log_start_offset(), 4);
    assert!(!fs::exists(log_file(dir.path(), 0)));
    assert!(matches!(
        log.read(0, 100, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // By bytes: keep at least retention.bytes.
    log.set_config(LogConfig {
        retention_bytes: (sizes[0] * 2) as i64,
        ..cfg.clone()
    });
    let deleted = log.housekeeping(5000).unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(log.segment_count(), 2);
    assert_eq!(log.log_start_offset(), 8);
    // Never the active segment.
    log.set_config(LogConfig {
        retention_bytes: 0,
        retention_ms: 0,
        ..cfg
    });
    // (At this age the active segment is rolled first, so both old segments go.)
    assert_eq!(log.housekeeping(1 << 40).unwrap(), 2);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), 12);
    // The log start offset survives a restart.
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), small_config());
    assert_eq!(log.log_start_offset(), 12);
    assert_eq!(log.log_end_offset(), 12);
    assert!(matches!(
        log.read(11, 1, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn timestamp_lookups_are_exact_per_record() {
    let dir = test_dir!();
    let mut log = open(dir.path(), small_config());
    // Out-of-order timestamps inside batches, one compressed batch, several segments.
    log.append(
        &batch_with_timestamps(&[10, 30, 20], 100, Compression::None),
        1,
    )
    .unwrap();
    log.append(
        &batch_with_timestamps(&[25, 50, 40], 100, Compression::Gzip),
        1,
    )
    .unwrap();
    for i in 0..6 {
        log.append(&batch(2, 100 + i * 10, 200), 1).unwrap();
    }
    assert!(log.segment_count() > 1);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 10)));
    assert_eq!(log.offset_for_timestamp(15).unwrap(), Some((1, 30)));
    assert_eq!(log.offset_for_timestamp(31).unwrap(), Some((4, 50)));
    assert_eq!(log.offset_for_timestamp(45).unwrap(), Some((4, 50)));
    assert_eq!(log.offset_for_timestamp(51).unwrap(), Some((6, 100)));
    assert_eq!(log.offset_for_timestamp(141).unwrap(), Some((15, 141)));
    assert_eq!(log.offset_for_timestamp(152).unwrap(), None);
    assert_eq!(log.max_timestamp_and_offset().unwrap(), Some((17, 151)));

    let dir = test_dir!();
    let mut log = open(dir.path(), LogConfig::default());
    assert_eq!(log.max_timestamp_and_offset().unwrap(), None);
    log.append(
        &batch_with_timestamps(&[5, 9, 9, 1], 10, Compression::Lz4),
        1,
    )
    .unwrap();
    assert_eq!(log.max_timestamp_and_offset().unwrap(), Some((1, 9)));
}

#[test]
fn log_append_time_rewrites_header_and_crc() {
    let dir = test_dir!();
    let cfg = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), cfg);
    let info = log.append(&batch(3, 5, 10), 77_000).unwrap();
    assert_eq!(info.log_append_time, 77_000);
    assert_eq!(info.max_timestamp, 77_000);
    let r = log.read(0, usize::MAX, i64::MAX, true).unwrap();
    let h = check_stored_batch(&r.records).unwrap();
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!((h.base_timestamp, h.max_timestamp), (77_000, 77_000));
    assert_eq!(log.offset_for_timestamp(1).unwrap(), Some((0, 77_000)));
    assert_eq!(log.max_timestamp_and_offset().unwrap(), Some((0, 77_000)));
    assert_eq!(log.offset_for_timestamp(77_001).unwrap(), None);
}

#[test]
fn after_the_first_sync_the_checkpoint_is_housekeepings_written_without_the_log() {
    let dir = test_dir!();
    let interval = std::time::Duration::from_millis(200);
    let config = LogConfig {
        recovery_point_checkpoint_interval_ms: interval.as_millis() as i64,
        ..small_config()
    };
    let mut log = open(dir.path(), config);
    let on_disk = |d: &std::path::Path| {
        crate::log::checkpoint::read_checkpoint(d)
            .unwrap()
            .map(|c| c.recovery_point)
    };
    let sync = |log: &mut PartitionLog| {
        let h = log.sync_handle().unwrap();
        h.sync().unwrap();
        log.mark_flushed(h.offset());
    };
    // The first sync since the log opened writes it (its directory fsync makes a new
    // partition's segment names durable before the first ack).
    log.append(&batch(3, 1, 10), 1).unwrap();
    sync(&mut log);
    assert_eq!(on_disk(dir.path()), Some(3));
    // Later syncs leave it to housekeeping.
    log.append(&batch(2, 1, 10), 1).unwrap();
    sync(&mut log);
    assert_eq!(log.recovery_point(), 5);
    assert_eq!(on_disk(dir.path()), Some(3));
    assert!(
        log.checkpoint_due().is_none(),
        "written less than an interval ago"
    );
    std::thread::sleep(interval + std::time::Duration::from_millis(20));
    let (writer, capture) = log.checkpoint_due().expect("due");
    assert_eq!(capture.checkpoint.recovery_point, 5);
    assert!(log.checkpoint_due().is_none(), "captured once");
    // The capture is written with the log free to take appends meanwhile.
    log.append(&batch(1, 1, 10), 1).unwrap();
    assert!(writer.write(&capture).unwrap());
    assert_eq!(on_disk(dir.path()), Some(5));
    // Nothing moved since: nothing due, however long it waits.
    sync(&mut log);
    std::thread::sleep(interval + std::time::Duration::from_millis(20));
    let (writer, capture) = log.checkpoint_due().expect("the recovery point moved to 6");
    assert!(writer.write(&capture).unwrap());
    assert_eq!(on_disk(dir.path()), Some(6));
    std::thread::sleep(interval + std::time::Duration::from_millis(20));
    assert!(log.checkpoint_due().is_none());
}

#[test]
fn flush_sync_handle_and_flush_messages() {
    let dir = test_dir!();
    let mut log = open(
        dir.path(),
        LogConfig {
            flush_messages: 5,
            ..small_config()
        },
    );
    assert!(log.sync_handle().is_none());
    assert!(!log.append(&batch(3, 1, 10), 1).unwrap().flush_needed);
    assert!(log.append(&batch(3, 1, 10), 1).unwrap().flush_needed);
    let h = log.sync_handle().unwrap();
    assert_eq!(h.offset(), 6);
    log.append(&batch(1, 1, 10), 1).unwrap();
    h.sync().unwrap();
    log.mark_flushed(h.offset());
    assert_eq!(log.recovery_point(), 6);
    assert_eq!(log.sync_handle().unwrap().offset(), 7);
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 7);
    assert!(log.sync_handle().is_none());
    // flush.ms through housekeeping.
    log.append(&batch(1, 1, 10), 10_000).unwrap();
    log.housekeeping(10_500).unwrap();
    assert_eq!(log.recovery_point(), 7);
    log.housekeeping(11_000).unwrap();
    assert_eq!(log.recovery_point(), 8);
}

/// The offline rule: after one failed fdatasync nothing syncs again (a second fsync could
/// "succeed" over pages the kernel dropped), nothing is appended, read or written, the
/// recovery point and checkpoint stay where the last successful fsync left them, and
/// close leaves no clean-shutdown marker, so the next open runs crash recovery.
#[test]
fn a_failed_fsync_takes_the_log_offline_and_leaves_it_to_recovery() {
    let dir = test_dir!();
    let mut log = open(dir.path(), small_config());
    log.append(&batch(3, 1, 10), 1).unwrap();
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 3);
    let saved = fs::read(dir.path().join(checkpoint::CHECKPOINT_FILE)).unwrap();
    log.append(&batch(2, 1, 10), 1).unwrap();

    log.fail_next_sync();
    let h = log.sync_handle().unwrap();
    assert_eq!(h.offset(), 5);
    let e = h.sync().unwrap_err();
    assert!(is_offline_error(&e), "{e}");
    assert!(log.is_offline());
    // Never retried, by the same handle, a new one or flush.
    assert!(h.sync().is_err());
    assert!(log.sync_handle().unwrap().sync().is_err());
    assert!(log.flush().is_err());
    log.mark_flushed(5);
    assert_eq!(log.recovery_point(), 3);

    // Refused without writing.
    let size = fs::metadata(log_file(dir.path(), 0)).unwrap().len();
    assert!(matches!(
        log.append(&batch(1, 1, 10), 1),
        Err(AppendError::Storage(_))
    ));
    assert!(log.write_txn_marker(7, 0, true, 0, 1).is_err());
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(fs::metadata(log_file(dir.path(), 0)).unwrap().len(), size);
    assert!(matches!(
        log.read(0, usize::MAX, i64::MAX, true),
        Err(LogError::Io(_))
    ));
    assert!(log.offset_for_timestamp(0).is_err());
    assert!(log.max_timestamp_and_offset().is_err());
    assert!(matches!(log.delete_records_before(1), Err(LogError::Io(_))));
    // Housekeeping (roll, retention, flush.ms) skips it.
    let segments = log.segment_count();
    assert_eq!(log.housekeeping(i64::MAX / 2).unwrap(), 0);
    assert_eq!(log.segment_count(), segments);

    assert!(log.close().is_err());
    assert!(!fs::exists(
        dir.path().join(checkpoint::CLEAN_SHUTDOWN_FILE)
    ));
    assert_eq!(
        fs::read(dir.path().join(checkpoint::CHECKPOINT_FILE)).unwrap(),
        saved
    );
    drop(log);
    // The next open scans past the recovery point (here the disk kept everything).
    let log = open(dir.path(), small_config());
    assert!(!log.is_offline());
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(read_all(&log).len(), 2);
}

#[test]
fn bytes_outlive_deleted_segments() {
    let dir = test_dir!();
    let mut log = open(
        dir.path(),
        LogConfig {
            segment_bytes: 300,
            ..small_config()
        },
    );
    let b = batch(1, 1, 250);
    log.append(&b, 1).unwrap();
    log.append(&b, 1).unwrap();
    let r = log.read(0, usize::MAX, i64::MAX, true).unwrap();
    log.set_config(LogConfig {
        retention_bytes: 0,
        segment_bytes: 300,
        ..small_config()
    });
    assert_eq!(log.housekeeping(2).unwrap(), 1);
    assert!(!fs::exists(log_file(dir.path(), 0)));
    assert!(same_batch_modulo_broker_fields(&r.records, &b));
}

#[test]
fn clean_close_and_reopen_needs_no_scan() {
    let dir = test_dir!();
    let mut log = open(dir.path(), small_config());
    for i in 0..12 {
        log.append(&batch(2, i, 100), 1).unwrap();
    }
    let before = read_all(&log);
    log.close().unwrap();
    assert!(fs::exists(dir.path().join("clean-shutdown.marker")));
    drop(log);
    let t = std::time::Instant::now();
    let mut log = open(dir.path(), small_config());
    assert!(t.elapsed() < std::time::Duration::from_millis(500));
    assert!(!fs::exists(dir.path().join("clean-shutdown.marker")));
    assert_eq!(read_all(&log), before);
    assert_eq!(log.recovery_point(), 24);
    log.append(&batch(1, 1, 10), 1).unwrap();
    assert_eq!(log.log_end_offset(), 25);
    assert_eq!(log.offset_for_timestamp(11).unwrap(), Some((21, 11)));
    // Using the log after close removes the marker again.
    log.close().unwrap();
    log.append(&batch(1, 1, 10), 1).unwrap();
    assert!(!fs::exists(dir.path().join("clean-shutdown.marker")));

    // Empty directory: fast open, stray tmp files removed.
    let d = test_dir!();
    let p = d.path().join("t-0");
    fs::create_dir(&p).unwrap();
    fs::write(p.join("recovery-point.checkpoint.tmp"), b"x").unwrap();
    let t = std::time::Instant::now();
    let log = open(&p, LogConfig::default());
    assert!(t.elapsed() < std::time::Duration::from_millis(200));
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    assert!(!fs::exists(p.join("recovery-point.checkpoint.tmp")));
}

/// Appends `n` batches across several segments without closing; returns the sent batches.
fn crash_fixture(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut log = open(dir, small_config());
    let mut sent = Vec::new();
    for i in 0..12 {
        let b = batch(1 + (i % 3) as usize, i, 60 + 7 * i as usize);
        log.append(&b, 1).unwrap();
        sent.push(b);
    }
    log.flush().unwrap();
    sent
}

fn assert_prefix(log: &PartitionLog, sent: &[Vec<u8>]) -> usize {
    let got = read_all(log);
    assert!(got.len() <= sent.len());
    let mut next = 0;
    for ((base, b), s) in got.iter().zip(sent) {
        assert_eq!(*base, next);
        assert!(same_batch_modulo_broker_fields(b, s));
        next = BatchHeader::parse(b).unwrap().last_offset() + 1;
    }
    assert_eq!(log.log_end_offset(), next);
    got.len()
}

#[test]
fn recovery_after_truncation_at_every_byte_of_the_last_segment() {
    let src = test_dir!();
    let sent = crash_fixture(src.path());
    let segs: Vec<_> = {
        let mut v: Vec<_> = fs::read_dir(src.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        v.sort();
        v
    };
    let first_len = fs::metadata(&segs[0]).unwrap().len();
    for cut in (0..first_len).step_by(13) {
        let dir = test_dir!();
        for e in fs::read_dir(src.path()).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
        // No checkpoint: everything is scanned; cut the first segment.
        fs::remove_file(dir.path().join("recovery-point.checkpoint")).ok();
        let f = fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(segs[0].file_name().unwrap()))
            .unwrap();
        f.set_len(cut).unwrap();
        let log = open(dir.path(), small_config());
        let n = assert_prefix(&log, &sent);
        assert_eq!(log.segment_count(), 1, "later segments are deleted");
        let mut whole = 0;
        let mut pos = 0;
        for s in &sent {
            if pos + s.len() as u64 > cut {
                break;
            }
            pos += s.len() as u64;
            whole += 1;
        }
        assert_eq!(n, whole);
    }
}

#[test]
fn recovery_after_corrupting_a_byte_mid_file() {
    let src = test_dir!();
    let sent = crash_fixture(src.path());
    let dir = test_dir!();
    for e in fs::read_dir(src.path()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let mut segs: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let mut bytes = fs::read(last).unwrap();
    let at = sent[sent.len() - 1].len() + 70; // inside the last-but-one... any record byte
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x55;
    fs::write(last, &bytes).unwrap();
    // Past the recovery point (make the checkpoint older by removing it): scanned and cut.
    fs::remove_file(dir.path().join("recovery-point.checkpoint")).unwrap();
    let log = open(dir.path(), small_config());
    let n = assert_prefix(&log, &sent);
    assert!(n < sent.len());
    assert!(log.log_end_offset() >= segs.len() as i64 - 1);
    let base: i64 = last.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    assert!(log.log_end_offset() >= base);
}

#[test]
fn partition_log_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PartitionLog>();
    assert_send_sync::<SyncHandle>();
    assert_send_sync::<ReadInfo>();
}

#[test]
fn lost_index_files_are_rebuilt() {
    let dir = test_dir!();
    let mut log = open(dir.path(), small_config());
    for i in 0..12 {
        log.append(&batch(2, i, 100), 1).unwrap();
    }
    let before = read_all(&log);
    log.close().unwrap();
    drop(log);
    fs::remove_file(dir.path().join(format!("{:020}.index", 0))).unwrap();
    fs::write(dir.path().join(format!("{:020}.timeindex", 0)), [0u8; 24]).unwrap();
    let log = open(dir.path(), small_config());
    assert_eq!(read_all(&log), before);
    assert!(!fs::metadata(dir.path().join(format!("{:020}.index", 0)))
        .unwrap()
        .is_empty());
    assert_eq!(log.offset_for_timestamp(3).unwrap(), Some((5, 3)));
}

/// Bytes of every `.log` file in `dir`, oldest segment first.
fn log_file_lens(dir: &std::path::Path) -> Vec<u64> {
    log_files(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .collect()
}

#[test]
fn a_preallocated_log_keeps_its_data_and_only_its_data_through_rolls_crashes_and_close() {
    let dir = test_dir!();
    let config = LogConfig {
        preallocate: true,
        ..small_config()
    };
    let mut sent = Vec::new();
    {
        let mut log = open(dir.path(), config.clone());
        for i in 0..12 {
            let b = batch(1 + (i % 3) as usize, i, 60 + 7 * i as usize);
            log.append(&b, 1).unwrap();
            sent.push(b);
        }
        log.flush().unwrap();
        let lens = log_file_lens(dir.path());
        let data: u64 = sent.iter().map(|b| b.len() as u64).sum();
        assert!(lens.len() > 2, "the fixture rolls: {lens:?}");
        assert!(
            lens.iter().sum::<u64>() > data,
            "the active segment has a zero tail: {lens:?}, {data} bytes of data"
        );
        assert_eq!(
            *lens.last().unwrap(),
            small_config().segment_bytes,
            "preallocated up to segment.bytes, not past it"
        );
        assert_eq!(read_all(&log).len(), 12);
        // Dropped without close: a crash.
    }
    let data: u64 = sent.iter().map(|b| b.len() as u64).sum();
    {
        let mut log = open(dir.path(), config.clone());
        assert_eq!(assert_prefix(&log, &sent), 12, "recovery kept every batch");
        assert_eq!(
            log_file_lens(dir.path()).iter().sum::<u64>(),
            data,
            "recovery cut the zeros and nothing else"
        );
        let b = batch(2, 12, 90);
        log.append(&b, 1).unwrap();
        sent.push(b);
        log.close().unwrap();
    }
    let data: u64 = sent.iter().map(|b| b.len() as u64).sum();
    assert_eq!(
        log_file_lens(dir.path()).iter().sum::<u64>(),
        data,
        "close trims the zero tail"
    );
    let log = open(dir.path(), config);
    assert_eq!(assert_prefix(&log, &sent), 13);
}
