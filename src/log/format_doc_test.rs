//! Keeps `storage-format.md` honest (test-only): writes a small partition through
//! `PartitionLog`, closes it, then decodes every file with hand-written code that
//! follows only the documented layout (none of the log's own parsers), asserting
//! every field. Run with `SLUICE_PRINT_FORMAT_EXAMPLE=1 cargo test --lib
//! format_doc -- --nocapture` to print the hexdumps used in the document.

use std::fs;
use std::path::Path;

use crate::log::test_util::batch;
use crate::log::{LogConfig, PartitionLog};

fn be64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}
fn be32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
fn be16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}

/// `xxd`-style dump, as pasted into storage-format.md (the archive's doc test uses it too).
pub(crate) fn hexdump(name: &str, b: &[u8]) -> String {
    let mut s = format!("{name} ({} bytes)\n", b.len());
    for (i, chunk) in b.chunks(16).enumerate() {
        s += &format!("{:08x}: ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(x) => s += &format!("{x:02x}"),
                None => s += "  ",
            }
            if j % 2 == 1 {
                s += " ";
            }
        }
        s += " ";
        for &x in chunk {
            s.push(if (0x20..0x7f).contains(&x) {
                x as char
            } else {
                '.'
            });
        }
        s += "\n";
    }
    s
}

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/storage-format.md"));

/// Bytes of the hexdump under the heading "### `name` (...)" of the worked example.
fn doc_hexdump(name: &str) -> Vec<u8> {
    let heading = format!("### `{name}`");
    let at = DOC
        .find(&heading)
        .unwrap_or_else(|| panic!("no section for {name}"));
    hexdump_bytes(&DOC[at..])
}

/// The bytes of the first `xxd`-style code block in `text` (the archive's doc test uses
/// it too).
pub(crate) fn hexdump_bytes(text: &str) -> Vec<u8> {
    let start = text.find("```\n").expect("code block") + 4;
    let end = start + text[start..].find("```").expect("end of code block");
    let mut out = Vec::new();
    for line in text[start..end].lines() {
        let hex: String = line[10..50]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for i in (0..hex.len()).step_by(2) {
            out.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
        }
    }
    out
}

struct DocBatch {
    base_offset: i64,
    position: usize,
    last_offset: i64,
    max_timestamp: i64,
}

/// Decodes a `.log` per the document: batches back to back, header fields at
/// fixed offsets, CRC-32C over bytes 21..end.
fn decode_log(b: &[u8], segment_base: i64) -> Vec<DocBatch> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut expect = segment_base;
    while pos < b.len() {
        let x = &b[pos..];
        let base_offset = be64(x, 0);
        let batch_length = be32(x, 8);
        assert!(batch_length >= 49);
        let total = 12 + batch_length as usize;
        let batch = &x[..total];
        assert_eq!(
            be32(batch, 12),
            0,
            "partitionLeaderEpoch is always written as 0"
        );
        assert_eq!(batch[16], 2, "magic");
        let crc = be32(batch, 17) as u32;
        assert_eq!(
            crc,
            crc32c::crc32c(&batch[21..]),
            "CRC-32C over attributes..end"
        );
        let attributes = be16(batch, 21);
        assert_eq!(attributes & 0x07, 0, "no compression in the example");
        assert_eq!(attributes & 0x08, 0, "CreateTime");
        let last_offset_delta = be32(batch, 23);
        let base_timestamp = be64(batch, 27);
        let max_timestamp = be64(batch, 35);
        assert!(max_timestamp >= base_timestamp);
        assert_eq!(be64(batch, 43), -1, "producerId");
        assert_eq!(be16(batch, 51), -1, "producerEpoch");
        assert_eq!(be32(batch, 53), -1, "baseSequence");
        let record_count = be32(batch, 57);
        assert_eq!(last_offset_delta, record_count - 1);
        assert_eq!(
            base_offset, expect,
            "offsets are contiguous from the file name"
        );
        expect = base_offset + last_offset_delta as i64 + 1;
        out.push(DocBatch {
            base_offset,
            position: pos,
            last_offset: expect - 1,
            max_timestamp,
        });
        pos += total;
    }
    out
}

fn segment_name(base: i64, ext: &str) -> String {
    let name = format!("{base:020}.{ext}");
    assert_eq!(name.len(), 21 + ext.len());
    name
}

#[test]
fn format_doc_matches_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("example-0");
    let cfg = LogConfig {
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let t0 = 1_700_000_000_000;
    let mut log = PartitionLog::open(&dir, cfg, t0).unwrap();
    log.append(&batch(2, t0, 3), t0).unwrap();
    log.append(&batch(1, t0 + 5, 3), t0 + 5).unwrap();
    log.close().unwrap();
    drop(log);
    let read = |name: &str| fs::read(Path::new(&dir).join(name)).unwrap();

    // .log
    let log_bytes = read(&segment_name(0, "log"));
    let batches = decode_log(&log_bytes, 0);
    assert_eq!(batches.len(), 2);
    assert_eq!((batches[0].base_offset, batches[0].last_offset), (0, 1));
    assert_eq!((batches[1].base_offset, batches[1].last_offset), (2, 2));
    assert_eq!(batches[1].max_timestamp, t0 + 5);

    // .index: (relative last offset u32, position u32) for every batch starting
    // after more than index.interval.bytes since the previous entry.
    let index = read(&segment_name(0, "index"));
    assert_eq!(index.len() % 8, 0, "trimmed to whole entries on close");
    let entries: Vec<(i64, usize)> = index
        .chunks(8)
        .map(|e| (be32(e, 0) as u32 as i64, be32(e, 4) as u32 as usize))
        .collect();
    assert_eq!(entries, vec![(2, batches[1].position)]);
    for (rel, pos) in &entries {
        let b = batches.iter().find(|b| b.position == *pos).unwrap();
        assert_eq!(b.last_offset, *rel, "entry holds the batch's last offset");
    }

    // .timeindex: (timestamp i64, relative offset u32), timestamps strictly rising.
    let tindex = read(&segment_name(0, "timeindex"));
    assert_eq!(tindex.len() % 12, 0);
    let tentries: Vec<(i64, i64)> = tindex
        .chunks(12)
        .map(|e| (be64(e, 0), be32(e, 8) as u32 as i64))
        .collect();
    assert_eq!(tentries, vec![(t0 + 5, 2)]);

    // recovery-point.checkpoint: "SLRP", version 1, flags 0, lso, rp, CRC-32 (IEEE).
    let cp = read("recovery-point.checkpoint");
    assert_eq!(cp.len(), 28);
    assert_eq!(&cp[0..4], b"SLRP");
    assert_eq!(be16(&cp, 4), 1);
    assert_eq!(be16(&cp, 6), 0);
    assert_eq!(be64(&cp, 8), 0, "log start offset");
    assert_eq!(
        be64(&cp, 16),
        3,
        "recovery point = log end offset after close"
    );
    assert_eq!(be32(&cp, 24) as u32, crc32fast::hash(&cp[..24]));

    // clean-shutdown.marker: "SLCS", version 1, flags 0, leo, active base, active size, CRC-32.
    let m = read("clean-shutdown.marker");
    assert_eq!(m.len(), 36);
    assert_eq!(&m[0..4], b"SLCS");
    assert_eq!(be16(&m, 4), 1);
    assert_eq!(be16(&m, 6), 0);
    assert_eq!(be64(&m, 8), 3);
    assert_eq!(be64(&m, 16), 0);
    assert_eq!(be64(&m, 24) as usize, log_bytes.len());
    assert_eq!(be32(&m, 32) as u32, crc32fast::hash(&m[..32]));

    // 00000000000000000003.snapshot (written at close, named by the log end offset):
    // version i16, CRC-32 (IEEE) of everything after it, producer count i32, then the
    // producers. The example's batches are not idempotent, so there are none.
    let snap = read("00000000000000000003.snapshot");
    assert_eq!(snap.len(), 10);
    assert_eq!(be16(&snap, 0), 1);
    assert_eq!(be32(&snap, 2) as u32, crc32fast::hash(&snap[6..]));
    assert_eq!(be32(&snap, 6), 0, "no idempotent producers");

    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "00000000000000000000.index",
            "00000000000000000000.log",
            "00000000000000000000.timeindex",
            "00000000000000000003.snapshot",
            "clean-shutdown.marker",
            "recovery-point.checkpoint",
        ]
    );

    // The worked example in the document is exactly what the code writes.
    for n in &names {
        assert_eq!(
            doc_hexdump(n),
            read(n),
            "storage-format.md hexdump of {n} is stale"
        );
    }

    if std::env::var_os("SLUICE_PRINT_FORMAT_EXAMPLE").is_some() {
        for n in &names {
            println!("{}", hexdump(n, &read(n)));
        }
    }
}

/// "Moving a partition between log directories": the last copy pass over a cleanly
/// closed partition leaves byte-for-byte copies under the same names, so the worked
/// example copied is the worked example; `*.tmp` files are not copied.
#[test]
fn format_doc_a_move_copies_the_files_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("example-0");
    let cfg = LogConfig {
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let t0 = 1_700_000_000_000;
    let mut log = PartitionLog::open(&dir, cfg.clone(), t0).unwrap();
    log.append(&batch(2, t0, 3), t0).unwrap();
    let future = tmp
        .path()
        .join("example-0.00000000000000000000000000000000-future");
    fs::create_dir(&future).unwrap();
    let mut copy = crate::log::dir_copy::DirCopy::new(&dir, &future);
    copy.pass().unwrap();
    log.append(&batch(1, t0 + 5, 3), t0 + 5).unwrap();
    log.close().unwrap();
    fs::write(dir.join("recovery-point.checkpoint.tmp"), b"SLRP").unwrap();
    copy.pass().unwrap();
    copy.sync().unwrap();
    let mut names: Vec<String> = fs::read_dir(&future)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for n in &names {
        assert_eq!(
            doc_hexdump(n),
            fs::read(future.join(n)).unwrap(),
            "the copy of {n} is not the documented file"
        );
    }
    // The copy opens as a clean shutdown, with every record.
    let copied = PartitionLog::open(&future, cfg, t0).unwrap();
    assert_eq!(copied.log_end_offset(), 3);
}

/// "What Sluice assumes of the disk": what torn writes can leave behind, and that `open`
/// handles each case as the document says, on the worked example's directory.
#[test]
fn format_doc_torn_writes_are_handled_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("example-0");
    let cfg = LogConfig {
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let t0 = 1_700_000_000_000;
    let mut log = PartitionLog::open(&dir, cfg.clone(), t0).unwrap();
    log.append(&batch(2, t0, 3), t0).unwrap();
    log.append(&batch(1, t0 + 5, 3), t0 + 5).unwrap();
    log.close().unwrap();
    drop(log);
    let log_path = dir.join(segment_name(0, "log"));
    let cp_path = dir.join("recovery-point.checkpoint");
    let cp_tmp = dir.join("recovery-point.checkpoint.tmp");
    let whole = fs::read(&log_path).unwrap();
    assert_eq!(whole.len(), 158);
    let open = || {
        let log = PartitionLog::open(&dir, cfg.clone(), t0).unwrap();
        let leo = log.log_end_offset();
        drop(log); // a crash again: no close, no marker
        leo
    };

    // A third batch (73 bytes) appended and never fsync'd; the crash kept its header
    // but not its records (zeros, as unwritten sectors of a grown file read), and the
    // file size moved 64 bytes further without data. The checkpoint is damaged (one
    // flipped byte: its CRC-32 fails) and an atomic replacement left its `.tmp`.
    let mut log = PartitionLog::open(&dir, cfg.clone(), t0).unwrap();
    log.append(&batch(1, t0 + 6, 3), t0 + 6).unwrap();
    drop(log);
    let mut torn = fs::read(&log_path).unwrap();
    assert_eq!(torn.len(), 158 + 73);
    torn[158 + 61..].fill(0);
    torn.extend_from_slice(&[0; 64]);
    fs::write(&log_path, &torn).unwrap();
    let mut cp = fs::read(&cp_path).unwrap();
    cp[20] ^= 0xff;
    fs::write(&cp_path, &cp).unwrap();
    fs::write(&cp_tmp, b"SLRP").unwrap();
    // No checkpoint: every segment is scanned; the third batch fails its CRC-32C and the
    // `.log` is cut there, never before.
    assert_eq!(open(), 3);
    assert_eq!(fs::read(&log_path).unwrap(), whole);
    assert!(!cp_tmp.exists(), "*.tmp files are deleted by open");
    let cp = fs::read(&cp_path).unwrap();
    assert_eq!(cp.len(), 28);
    assert_eq!(be32(&cp, 24) as u32, crc32fast::hash(&cp[..24]));
    assert_eq!(
        be64(&cp, 16),
        3,
        "recovery point = log end offset after a scan"
    );

    // Only the size reached the disk: a zero tail reads as batchLength 0 (< 49) from 61
    // bytes on, and as a header cut short below that.
    for zeros in [100, 20] {
        let mut z = whole.clone();
        z.extend(std::iter::repeat_n(0u8, zeros));
        fs::write(&log_path, &z).unwrap();
        assert_eq!(open(), 3);
        assert_eq!(fs::read(&log_path).unwrap(), whole, "{zeros} zero bytes");
    }

    // A write cut short (the first 100 of 158 bytes reached the disk; the active segment
    // is scanned at every open after a crash): batch 2 runs past the end of the file and
    // is cut with everything after it.
    fs::write(&log_path, &whole[..100]).unwrap();
    assert_eq!(open(), 2);
    assert_eq!(fs::read(&log_path).unwrap(), &whole[..85]);
}

/// "`clean-shutdown.logs`" and "`clean-shutdown.taken`": a batched close's entry decoded
/// with the documented layout only, and opens that follow the documented recovery rule.
#[test]
fn format_doc_clean_shutdown_logs_layout_and_rule() {
    use crate::log::log_dir_shutdown;
    use std::collections::BTreeMap;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("example-3");
    let t0 = 1_700_000_000_000;
    let mut log = PartitionLog::open(&dir, LogConfig::default(), t0).unwrap();
    log.append(&batch(2, t0, 3), t0).unwrap();
    log.append(&batch(1, t0 + 5, 3), t0 + 5).unwrap();
    assert!(log.begin_batched_close().unwrap());
    let generation = 0x0102_0304_0506_0708;
    let closed = log
        .finish_batched_close(generation)
        .unwrap()
        .expect("closed");
    drop(log);
    let topic_id = uuid::Uuid::from_u128(0x00112233_44556677_8899aabb_ccddeeff);
    let entries: BTreeMap<_, _> = [((topic_id, 3), closed)].into_iter().collect();
    log_dir_shutdown::write(tmp.path(), generation, &entries, true).unwrap();

    let b = fs::read(tmp.path().join("clean-shutdown.logs")).unwrap();
    assert_eq!(b.len(), 20 + 56 + 4);
    assert_eq!(&b[0..4], b"SLDS");
    assert_eq!((be16(&b, 4), be16(&b, 6)), (1, 0), "version, flags");
    assert_eq!(be64(&b, 8) as u64, generation);
    assert_eq!(be32(&b, 16), 1, "entry count");
    let e = &b[20..76];
    assert_eq!(&e[0..16], topic_id.as_bytes());
    assert_eq!(be32(e, 16), 3, "partition");
    assert_eq!(be64(e, 20), 0, "log start offset");
    assert_eq!(be64(e, 28), 3, "log end offset");
    assert_eq!(be64(e, 36), 0, "active segment base offset");
    assert_eq!(be64(e, 44), 158, "active segment .log size");
    assert_eq!(
        be32(e, 52),
        1,
        "flags: no producer state (batch() is not idempotent)"
    );
    assert_eq!(be32(&b, 76) as u32, crc32fast::hash(&b[..76]));
    assert!(
        !dir.join("clean-shutdown.marker").exists()
            && !dir.join(segment_name(3, "snapshot")).exists(),
        "a batched close writes no marker, and no snapshot without producer state"
    );

    // Read at start-up (it stays); the first open marks the entry taken, then trusts it.
    let entry = log_dir_shutdown::read(tmp.path()).unwrap()[&(topic_id, 3)];
    let log = PartitionLog::open_closed(&dir, LogConfig::default(), t0, Some(entry)).unwrap();
    assert_eq!((log.log_end_offset(), log.recovery_point()), (3, 3));
    drop(log); // a crash: no close
    let checkpoint = dir.join("recovery-point.checkpoint");
    assert!(
        !checkpoint.exists(),
        "trusted: nothing scanned, no checkpoint written"
    );
    let taken = fs::read(dir.join("clean-shutdown.taken")).unwrap();
    assert_eq!(taken.len(), 16);
    assert_eq!(&taken[0..4], b"SLCT");
    assert_eq!(be64(&taken, 4) as u64, generation);
    assert_eq!(be32(&taken, 12) as u32, crc32fast::hash(&taken[..12]));
    assert!(tmp.path().join("clean-shutdown.logs").exists());
    // The same entry again (the file survived the crash): taken, so the log is recovered
    // as after any crash (the active segment is scanned; the data is intact).
    let log = PartitionLog::open_closed(&dir, LogConfig::default(), t0, Some(entry)).unwrap();
    assert_eq!(log.log_end_offset(), 3);
    assert!(
        checkpoint.exists(),
        "scanned: the scan wrote its checkpoint"
    );
    drop(log);
    // An entry of another generation that does not match the active segment is no clean
    // shutdown either.
    let stale = log_dir_shutdown::ClosedLog {
        generation: generation + 1,
        shutdown: crate::log::checkpoint::CleanShutdown {
            active_log_size: 100,
            ..entry.shutdown
        },
        ..entry
    };
    let log = PartitionLog::open_closed(&dir, LogConfig::default(), t0, Some(stale)).unwrap();
    assert_eq!(log.log_end_offset(), 3);
}
