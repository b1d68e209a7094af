//! `sluice dump-log PATH...`: an offline look at partition files, like Kafka's
//! kafka-dump-log. A `.log` segment prints one line per batch (offsets, count,
//! position, timestamps, compression, producer id/epoch/sequence, transactional and
//! control flags with the marker type, CRC), with `--print-data-log` also its records
//! (decoded by `super::records`, which keeps every header, repeated keys included);
//! `.index` and `.timeindex` files print their entries. `--verify` checks every batch (structure,
//! CRC-32C, offset contiguity) and every index entry against the log and fails on the
//! first sign of corruption.
//!
//! It owns reading and checking these files. It must never write to, lock or map them
//! (the broker may be running; files are read with plain, bounded reads), and it parses
//! batch headers only through `crate::log` (`BatchHeader`, `check_stored_batch`,
//! `control_record_type`) so the layout has one definition.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::Args;

use super::output::{base64, json_string};
use crate::log::batch::ControlType;
use crate::log::batch::{check_stored_batch, control_record_type, ScanStop};
use crate::log::file_names::{LOG_EXT, OFFSET_INDEX_EXT, TIME_INDEX_EXT};
use crate::log::offset_index::OFFSET_INDEX_ENTRY_SIZE;
use crate::log::producer_state::last_sequence;
use crate::log::time_index::TIME_INDEX_ENTRY_SIZE;
use crate::log::{BatchHeader, TimestampType, RECORD_BATCH_OVERHEAD};

#[derive(Args, Debug)]
pub struct DumpLogArgs {
    /// Segment files (.log, .index, .timeindex) or partition directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Also print every record of every batch.
    #[arg(short = 'd', long)]
    pub print_data_log: bool,
    /// Check every batch CRC and the .index/.timeindex entries against the log instead
    /// of printing; exits non-zero if anything is corrupt.
    #[arg(long)]
    pub verify: bool,
}

/// What the scan of a `.log` learned about one batch (for index checks).
#[derive(Clone, Copy, Debug)]
struct BatchPos {
    position: u64,
    last_offset: i64,
    max_timestamp: i64,
    /// Largest max timestamp of this and every earlier batch of the segment.
    running_max: i64,
}

#[derive(Default)]
struct Report {
    batches: u64,
    entries: u64,
    problems: Vec<String>,
}

impl Report {
    fn problem(&mut self, file: &Path, what: String) {
        println!("CORRUPT {}: {what}", file.display());
        self.problems.push(format!("{}: {what}", file.display()));
    }
}

pub fn run(args: DumpLogArgs) -> Result<()> {
    let mut files = Vec::new();
    for p in &args.paths {
        if p.is_dir() {
            let mut logs: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == LOG_EXT))
                .collect();
            logs.sort();
            files.extend(logs);
        } else {
            files.push(p.clone());
        }
    }
    let mut report = Report::default();
    for f in &files {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        match (ext, args.verify) {
            (LOG_EXT, false) => dump_segment(f, args.print_data_log, &mut report)?,
            (LOG_EXT, true) => {
                let batches = scan_segment(f, None, &mut report)?;
                verify_indexes(f, &batches, &mut report)?;
            }
            (OFFSET_INDEX_EXT, _) | (TIME_INDEX_EXT, _) if args.verify => {
                let log = f.with_extension(LOG_EXT);
                let batches = scan_segment(&log, None, &mut report)?;
                verify_indexes(&log, &batches, &mut report)?;
            }
            (OFFSET_INDEX_EXT, _) => dump_index(f, false)?,
            (TIME_INDEX_EXT, _) => dump_index(f, true)?,
            _ => bail!("{}: not a .log, .index or .timeindex file", f.display()),
        }
    }
    std::io::stdout().flush().ok();
    if args.verify {
        if let Some(first) = report.problems.first() {
            bail!(
                "verification failed: {} problem(s), first: {first}",
                report.problems.len()
            );
        }
        println!(
            "verified {} batch(es) and {} index entr{} in {} file(s): OK",
            report.batches,
            report.entries,
            if report.entries == 1 { "y" } else { "ies" },
            files.len()
        );
    }
    Ok(())
}

/// The base offset a segment file's name gives (20 digits).
fn base_offset_of(path: &Path) -> Option<i64> {
    path.file_stem()?.to_str()?.parse().ok()
}

fn dump_segment(path: &Path, print_data: bool, report: &mut Report) -> Result<()> {
    println!("Dumping {}", path.display());
    if let Some(base) = base_offset_of(path) {
        println!("Log starting offset: {base}");
    }
    scan_segment(path, Some(print_data), report)?;
    if let Some(p) = report.problems.first() {
        bail!("{p}");
    }
    Ok(())
}

/// Reads the segment batch by batch. With `print` = Some(print_data) each batch is
/// printed; every batch is checked either way (problems go to `report`).
fn scan_segment(path: &Path, print: Option<bool>, report: &mut Report) -> Result<Vec<BatchPos>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut out: Vec<BatchPos> = Vec::new();
    let mut position = 0u64;
    let mut expected = base_offset_of(path);
    let mut running_max = -1i64;
    let mut header = [0u8; RECORD_BATCH_OVERHEAD];
    while position < size {
        let left = size - position;
        if left < RECORD_BATCH_OVERHEAD as u64 {
            report.problem(
                path,
                format!(
                    "{left} trailing bytes at position {position} are not a whole batch header"
                ),
            );
            break;
        }
        reader.read_exact(&mut header)?;
        if header.iter().all(|&b| b == 0)
            && crate::log::preallocate::zero_tail_start(reader.get_ref(), size)? <= position
        {
            // An active segment of a `preallocate` topic: zeros written ahead of the
            // appends, trimmed at roll and clean shutdown. Not data, not a problem.
            if print.is_some() {
                println!(
                    "(the {left} bytes from position {position} are a preallocated zero tail)"
                );
            }
            break;
        }
        let h = BatchHeader::parse(&header).expect("61 bytes");
        if h.batch_length < (RECORD_BATCH_OVERHEAD - 12) as i32 || h.total_size() as u64 > left {
            report.problem(
                path,
                format!(
                    "batch at position {position} (base offset {}) has batch length {} but {left} bytes remain",
                    h.base_offset, h.batch_length
                ),
            );
            break;
        }
        let mut batch = vec![0u8; h.total_size()];
        batch[..RECORD_BATCH_OVERHEAD].copy_from_slice(&header);
        reader.read_exact(&mut batch[RECORD_BATCH_OVERHEAD..])?;
        let name = format!(
            "batch at position {position} (offsets {}..{})",
            h.base_offset,
            h.last_offset()
        );
        let mut valid = true;
        if let Err(stop) = check_stored_batch(&batch) {
            valid = false;
            let why = match stop {
                ScanStop::Truncated => "is truncated".to_string(),
                ScanStop::Invalid(w) => format!("is invalid: {w}"),
            };
            report.problem(path, format!("{name} {why}"));
        }
        if let Some(e) = expected {
            if h.base_offset != e {
                report.problem(
                    path,
                    format!("{name} should start at offset {e} (offsets are contiguous)"),
                );
            }
        }
        expected = Some(h.last_offset() + 1);
        running_max = running_max.max(h.max_timestamp);
        if let Some(print_data) = print {
            print_batch(&h, position, &batch, valid)?;
            if print_data {
                print_records(&h, Bytes::from(batch))?;
            }
        }
        out.push(BatchPos {
            position,
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
            running_max,
        });
        report.batches += 1;
        position += h.total_size() as u64;
    }
    Ok(out)
}

fn codec_name(c: u8) -> &'static str {
    match c {
        0 => "none",
        1 => "gzip",
        2 => "snappy",
        3 => "lz4",
        4 => "zstd",
        _ => "unknown",
    }
}

fn time_name(h: &BatchHeader) -> &'static str {
    match h.timestamp_type() {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

fn print_batch(h: &BatchHeader, position: u64, batch: &[u8], valid: bool) -> Result<()> {
    let mut line = format!(
        "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} \
         producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} \
         isControl: {} position: {position} {}: {} size: {} magic: {} compresscodec: {} \
         crc: {} isvalid: {valid}",
        h.base_offset,
        h.last_offset(),
        h.record_count,
        h.base_sequence,
        last_sequence(h),
        h.producer_id,
        h.producer_epoch,
        h.partition_leader_epoch,
        h.is_transactional(),
        h.is_control(),
        time_name(h),
        h.max_timestamp,
        h.total_size(),
        h.magic,
        codec_name(h.compression()),
        h.crc,
    );
    if h.is_control() {
        match control_record_type(batch) {
            Some((kind, epoch)) => {
                let kind = match kind {
                    ControlType::Abort => "ABORT",
                    ControlType::Commit => "COMMIT",
                };
                line.push_str(&format!(" endTxnMarker: {kind} coordinatorEpoch: {epoch}"));
            }
            None => line.push_str(" endTxnMarker: UNKNOWN"),
        }
    }
    writeln!(std::io::stdout(), "{line}")?;
    Ok(())
}

/// Bytes as text for a one-line listing: UTF-8 as is (escaped and quoted if it holds
/// control characters), anything else as `base64:...`.
fn show(b: Option<&[u8]>) -> String {
    match b {
        None => "null".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if !s.chars().any(|c| c.is_control()) => s.to_string(),
            Ok(s) => json_string(s),
            Err(_) => format!("base64:{}", base64(b)),
        },
    }
}

fn print_records(h: &BatchHeader, batch: Bytes) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let records = match super::records::decode_batch(&batch, h) {
        Ok(records) => records,
        Err(e) => {
            writeln!(out, "| records cannot be decoded: {e}")?;
            return Ok(());
        }
    };
    for r in records {
        let sequence = if h.base_sequence < 0 {
            -1
        } else {
            h.base_sequence
                .wrapping_add(r.offset.wrapping_sub(h.base_offset) as i32)
        };
        let mut line = format!(
            "| offset: {} {}: {} keySize: {} valueSize: {} sequence: {} headerKeys: [{}]",
            r.offset,
            time_name(h),
            r.timestamp,
            r.key.as_ref().map_or(-1, |k| k.len() as i64),
            r.value.as_ref().map_or(-1, |v| v.len() as i64),
            sequence,
            r.headers
                .iter()
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
                .join(",")
        );
        if h.is_control() {
            if let Some((kind, epoch)) = control_record_type(&batch) {
                let kind = if kind == ControlType::Abort {
                    "ABORT"
                } else {
                    "COMMIT"
                };
                line.push_str(&format!(" endTxnMarker: {kind} coordinatorEpoch: {epoch}"));
            }
        } else {
            line.push_str(&format!(
                " key: {} payload: {}",
                show(r.key.as_deref()),
                show(r.value.as_deref())
            ));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// An index file's whole entries, the zero-filled entries cut from its tail (a running
/// broker preallocates them) and the bytes after the last whole entry.
type Entries = (Vec<Vec<u8>>, usize, usize);

/// Whole entries of an index file, without the zero-filled tail a running broker
/// preallocates; `None` if the file does not exist.
fn read_entries(path: &Path, size: usize) -> Result<Option<Entries>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!(e).context(format!("reading {}", path.display()))),
    };
    let torn = data.len() % size;
    let mut entries: Vec<Vec<u8>> = data.chunks_exact(size).map(|c| c.to_vec()).collect();
    let mut unused = 0;
    while entries.last().is_some_and(|e| e.iter().all(|b| *b == 0)) {
        entries.pop();
        unused += 1;
    }
    Ok(Some((entries, unused, torn)))
}

fn dump_index(path: &Path, time: bool) -> Result<()> {
    let base = base_offset_of(path).ok_or_else(|| {
        anyhow!(
            "{}: the file name is not a 20-digit base offset",
            path.display()
        )
    })?;
    let size = if time {
        TIME_INDEX_ENTRY_SIZE
    } else {
        OFFSET_INDEX_ENTRY_SIZE
    };
    let (entries, unused, torn) =
        read_entries(path, size)?.ok_or_else(|| anyhow!("{}: no such file", path.display()))?;
    println!("Dumping {}", path.display());
    let mut out = std::io::stdout().lock();
    for e in &entries {
        if time {
            let ts = i64::from_be_bytes(e[0..8].try_into().expect("8"));
            let rel = u32::from_be_bytes(e[8..12].try_into().expect("4"));
            writeln!(out, "timestamp: {ts} offset: {}", base + rel as i64)?;
        } else {
            let rel = u32::from_be_bytes(e[0..4].try_into().expect("4"));
            let pos = u32::from_be_bytes(e[4..8].try_into().expect("4"));
            writeln!(out, "offset: {} position: {pos}", base + rel as i64)?;
        }
    }
    if unused > 0 {
        writeln!(out, "({unused} unused preallocated entries)")?;
    }
    if torn > 0 {
        writeln!(out, "({torn} trailing bytes are not a whole entry)")?;
    }
    Ok(())
}

/// Checks the segment's `.index` and `.timeindex` (when present) against its batches.
fn verify_indexes(log: &Path, batches: &[BatchPos], report: &mut Report) -> Result<()> {
    let Some(base) = base_offset_of(log) else {
        return Ok(());
    };
    let index = log.with_extension(OFFSET_INDEX_EXT);
    if let Some((entries, _, torn)) = read_entries(&index, OFFSET_INDEX_ENTRY_SIZE)? {
        if torn > 0 {
            report.problem(
                &index,
                format!("{torn} trailing bytes are not a whole entry"),
            );
        }
        let mut last: Option<(i64, u32)> = None;
        for (i, e) in entries.iter().enumerate() {
            report.entries += 1;
            let offset = base + u32::from_be_bytes(e[0..4].try_into().expect("4")) as i64;
            let pos = u32::from_be_bytes(e[4..8].try_into().expect("4"));
            if last.is_some_and(|(o, p)| offset <= o || pos <= p) {
                report.problem(
                    &index,
                    format!("entry {i} (offset {offset}, position {pos}) does not grow"),
                );
            }
            last = Some((offset, pos));
            match batches.iter().find(|b| b.position == pos as u64) {
                None => report.problem(
                    &index,
                    format!("entry {i} (offset {offset}, position {pos}): no batch starts at position {pos}"),
                ),
                Some(b) if b.last_offset != offset => report.problem(
                    &index,
                    format!(
                        "entry {i} (offset {offset}, position {pos}): the batch there ends at offset {}",
                        b.last_offset
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    let time_index = log.with_extension(TIME_INDEX_EXT);
    if let Some((entries, _, torn)) = read_entries(&time_index, TIME_INDEX_ENTRY_SIZE)? {
        if torn > 0 {
            report.problem(
                &time_index,
                format!("{torn} trailing bytes are not a whole entry"),
            );
        }
        let mut last_ts: Option<i64> = None;
        for (i, e) in entries.iter().enumerate() {
            report.entries += 1;
            let ts = i64::from_be_bytes(e[0..8].try_into().expect("8"));
            let offset = base + u32::from_be_bytes(e[8..12].try_into().expect("4")) as i64;
            if last_ts.is_some_and(|l| ts <= l) {
                report.problem(
                    &time_index,
                    format!("entry {i} (timestamp {ts}) does not grow"),
                );
            }
            last_ts = Some(ts);
            match batches.iter().find(|b| b.last_offset == offset) {
                None => report.problem(
                    &time_index,
                    format!("entry {i} (timestamp {ts}, offset {offset}): no batch ends at offset {offset}"),
                ),
                Some(b) if b.max_timestamp != ts || b.running_max != ts => report.problem(
                    &time_index,
                    format!(
                        "entry {i} (timestamp {ts}, offset {offset}): the batch ending there has max timestamp {} (segment max so far {})",
                        b.max_timestamp, b.running_max
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, PartitionLog};

    /// Writes a real partition with the storage engine and returns its directory.
    fn partition(dir: &Path) -> PathBuf {
        let config = LogConfig {
            index_interval_bytes: 1,
            ..LogConfig::default()
        };
        let pdir = dir.join("t-0");
        let mut log = PartitionLog::open(&pdir, config, 0).unwrap();
        for i in 0..3 {
            let recs = vec![(
                Some(Bytes::from(format!("k{i}"))),
                Bytes::from(format!("value-{i}")),
            )];
            let batch = crate::cli::produce::encode_batch(
                &recs,
                &[],
                1_700_000_000_000 + i,
                kafka_protocol::records::Compression::None,
            )
            .unwrap();
            log.append(&batch, 0).unwrap();
        }
        log.close().unwrap();
        pdir
    }

    #[test]
    fn a_clean_segment_verifies_and_a_flipped_byte_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = partition(tmp.path());
        let seg = dir.join("00000000000000000000.log");
        let mut report = Report::default();
        let batches = scan_segment(&seg, None, &mut report).unwrap();
        verify_indexes(&seg, &batches, &mut report).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.batches, 3);
        assert!(report.entries >= 2);

        // Flip a byte in the last record of the second batch.
        let mut data = std::fs::read(&seg).unwrap();
        let second = batches[1].position as usize;
        let end = batches[2].position as usize;
        assert!(second + RECORD_BATCH_OVERHEAD < end);
        data[end - 2] ^= 0x40;
        std::fs::write(&seg, &data).unwrap();
        let mut report = Report::default();
        let batches = scan_segment(&seg, None, &mut report).unwrap();
        verify_indexes(&seg, &batches, &mut report).unwrap();
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            report.problems[0].contains("offsets 1..1"),
            "{}",
            report.problems[0]
        );
        assert!(report.problems[0].contains("crc"), "{}", report.problems[0]);
    }

    #[test]
    fn index_entries_must_point_at_batches() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = partition(tmp.path());
        let seg = dir.join("00000000000000000000.log");
        let idx = dir.join("00000000000000000000.index");
        let mut data = std::fs::read(&idx).unwrap();
        assert!(!data.is_empty());
        data[7] ^= 1; // the first entry's position now points inside a batch
        std::fs::write(&idx, &data).unwrap();
        let mut report = Report::default();
        let batches = scan_segment(&seg, None, &mut report).unwrap();
        verify_indexes(&seg, &batches, &mut report).unwrap();
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains(".index"));
    }

    #[test]
    fn control_batches_scan_and_print() {
        let tmp = tempfile::tempdir().unwrap();
        let seg = tmp.path().join("00000000000000000005.log");
        let mut marker = crate::log::batch::end_txn_marker_batch(9, 1, true, 3, 1_000);
        marker[0..8].copy_from_slice(&5i64.to_be_bytes());
        std::fs::write(&seg, &marker).unwrap();
        let mut report = Report::default();
        let batches = scan_segment(&seg, Some(true), &mut report).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].last_offset, 5);
        let h = BatchHeader::parse(&marker).unwrap();
        assert_eq!(control_record_type(&marker), Some((ControlType::Commit, 3)));
        assert!(h.is_control() && h.is_transactional());
    }

    #[test]
    fn preallocated_zero_tails_are_not_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("00000000000000000000.index");
        let mut data = vec![0, 0, 0, 2, 0, 0, 0, 85];
        data.extend([0u8; 16]);
        std::fs::write(&p, &data).unwrap();
        let (entries, unused, torn) = read_entries(&p, 8).unwrap().unwrap();
        assert_eq!((entries.len(), unused, torn), (1, 2, 0));
    }
}
