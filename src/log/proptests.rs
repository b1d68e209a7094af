//! Property tests (test-only): random appends, rolls, retention and flushes,
//! then a simulated crash (copy the directory as it is on disk without `close`,
//! then cut a `.log` at any byte or flip a byte). Reopening must yield exactly a
//! prefix of what was appended, byte-identical except for broker-rewritten fields,
//! with contiguous offsets, and nothing before the mutated batch may be lost.

use crate::log::storage as fs;
use crate::log::test_util::test_dir;
use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use crate::log::test_util::{batch, log_files, same_batch_modulo_broker_fields, split_batches};
use crate::log::*;

#[derive(Clone, Debug)]
enum Op {
    /// One produce call: (records, value length) per batch.
    Append(Vec<(usize, usize)>),
    Flush,
    GroupCommit,
    /// Housekeeping after setting retention.bytes (-1 = off).
    Housekeeping(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((1usize..4, 0usize..250), 1..4).prop_map(Op::Append),
        1 => Just(Op::Flush),
        1 => Just(Op::GroupCommit),
        1 => prop_oneof![Just(-1i64), 500i64..3000].prop_map(Op::Housekeeping),
    ]
}

#[derive(Clone, Debug)]
enum Damage {
    None,
    /// Cut file number `.0` (mod count) at fraction `.1` of its length.
    Cut(usize, f64),
    /// Flip byte at fraction `.1` of file `.0`.
    Flip(usize, f64, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        1 => Just(Damage::None),
        3 => (0usize..8, 0.0f64..1.0).prop_map(|(f, x)| Damage::Cut(f, x)),
        3 => (0usize..8, 0.0f64..1.0, 1u8..=255).prop_map(|(f, x, m)| Damage::Flip(f, x, m)),
    ]
}

fn copy_dir(from: &Path, to: &Path) {
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Base offset of the batch covering byte `pos` of a segment file (or the offset
/// after the file's last whole batch when `pos` is past them).
fn offset_at(bytes: &[u8], seg_base: i64, pos: usize) -> i64 {
    let mut at = 0;
    let mut next = seg_base;
    while let Some(h) = BatchHeader::parse(&bytes[at..]) {
        if at + h.total_size() > bytes.len() || pos < at + h.total_size() {
            return h.base_offset;
        }
        at += h.total_size();
        next = h.last_offset() + 1;
    }
    next
}

fn check_recovered(log: &PartitionLog, model: &BTreeMap<i64, Vec<u8>>, min_end: i64) {
    let mut off = log.log_start_offset();
    let mut seen = 0;
    while off < log.log_end_offset() {
        let r = log.read(off, usize::MAX, i64::MAX, true).unwrap();
        let batches = split_batches(&r.records);
        prop_assert_ok(!batches.is_empty(), "read made progress");
        for (base, b) in batches {
            let h = BatchHeader::parse(&b).unwrap();
            if seen > 0 || base >= off {
                assert_eq!(base, off, "offsets are contiguous");
            }
            let sent = model.get(&base).expect("recovered batch was appended");
            assert!(
                same_batch_modulo_broker_fields(&b, sent),
                "batch {base} intact"
            );
            off = h.last_offset() + 1;
            seen += 1;
        }
    }
    assert_eq!(off, log.log_end_offset());
    assert!(
        log.log_end_offset() >= min_end,
        "lost data: end {} < {min_end}",
        log.log_end_offset()
    );
}

fn prop_assert_ok(cond: bool, what: &str) {
    assert!(cond, "{what}");
}

fn run(ops: Vec<Op>, dmg: Damage, seg_bytes: u64, index_bytes: u32) {
    let cfg = LogConfig {
        segment_bytes: seg_bytes,
        segment_index_bytes: index_bytes,
        index_interval_bytes: 150,
        retention_ms: -1,
        ..LogConfig::default()
    };
    let live = test_dir!();
    let mut log = PartitionLog::open(live.path(), cfg.clone(), 0).unwrap();
    let mut model = BTreeMap::new();
    let mut ts = 0i64;
    for op in ops {
        match op {
            Op::Append(spec) => {
                let sent: Vec<Vec<u8>> = spec
                    .iter()
                    .map(|&(n, len)| {
                        ts += 1;
                        batch(n, ts, len)
                    })
                    .collect();
                let info = log.append(&sent.concat(), ts).unwrap();
                for (h, b) in info.batches.iter().zip(sent) {
                    model.insert(h.base_offset, b);
                }
            }
            Op::Flush => log.flush().unwrap(),
            Op::GroupCommit => {
                if let Some(h) = log.sync_handle() {
                    h.sync().unwrap();
                    log.mark_flushed(h.offset());
                }
            }
            Op::Housekeeping(rb) => {
                log.set_config(LogConfig {
                    retention_bytes: rb,
                    ..cfg.clone()
                });
                log.housekeeping(ts).unwrap();
            }
        }
    }
    let durable = log.recovery_point();
    let end = log.log_end_offset();

    // Crash: the directory as it is now, without close.
    let crash = test_dir!();
    copy_dir(live.path(), crash.path());
    let files = log_files(crash.path());
    let mut min_end = end;
    match dmg {
        Damage::None => {}
        Damage::Cut(f, x) | Damage::Flip(f, x, _) => {
            let path = &files[f % files.len()];
            let seg_base: i64 = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
            let mut bytes = fs::read(path).unwrap();
            let pos = (x * bytes.len() as f64) as usize;
            let hit = offset_at(&bytes, seg_base, pos);
            match dmg {
                Damage::Cut(..) => {
                    bytes.truncate(pos);
                    fs::write(path, &bytes).unwrap();
                    // Only damage past the recovery point is a crash we promise to survive.
                    min_end = if hit >= durable { hit } else { i64::MIN };
                }
                Damage::Flip(_, _, mask) if pos < bytes.len() && hit >= durable => {
                    bytes[pos] ^= mask;
                    fs::write(path, &bytes).unwrap();
                    min_end = hit;
                }
                _ => {}
            }
        }
    }
    drop(log);
    let mut log = PartitionLog::open(crash.path(), cfg.clone(), ts).unwrap();
    check_recovered(&log, &model, min_end.max(log.log_start_offset()).min(end));
    assert!(log.log_end_offset() <= end);
    // The recovered log keeps working and survives a clean restart.
    let leo = log.log_end_offset();
    let info = log.append(&batch(2, ts + 1, 10), ts + 1).unwrap();
    assert_eq!(info.base_offset, leo);
    model.insert(leo, batch(2, ts + 1, 10));
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(crash.path(), cfg, ts + 2).unwrap();
    assert_eq!(log.log_end_offset(), leo + 2);
    check_recovered(&log, &model, leo + 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn crash_recovers_a_prefix(
        ops in prop::collection::vec(op(), 1..25),
        dmg in damage(),
        seg_bytes in prop_oneof![Just(300u64), Just(700), Just(5000)],
        index_bytes in prop_oneof![Just(24u32), Just(64), Just(4096)],
    ) {
        run(ops, dmg, seg_bytes, index_bytes);
    }
}
