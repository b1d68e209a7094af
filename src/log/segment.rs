//! One log segment: `<base>.log` plus its `.index` and `.timeindex` (Kafka's
//! `LogSegment`).
//!
//! Owns the segment's file handle, its read-only mapping and its two indexes.
//! Writes always go through the file (`pwrite` at the published size), so a full
//! disk becomes an `io::Error` instead of a SIGBUS; reads come from the read-only
//! mapping and never look at bytes at or past the published size. It must never
//! write through a mapping of the `.log`, and never shrink a `.log` below its published
//! size except in `recover`, which only runs while the log is being opened or on a
//! cleaned copy just swapped in (no reader has it mapped). A failed append cuts only the
//! unpublished bytes past the published size.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{Mmap, MmapOptions};

use crate::log::batch::{check_stored_batch, BatchHeader, ScanStop};
use crate::log::config::LogConfig;
use crate::log::file_names::{
    segment_path, LOG_EXT, OFFSET_INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT,
};
use crate::log::offset_index::OffsetIndex;
use crate::log::storage::{self, OpenOptions};
use crate::log::time_index::TimeIndex;

/// Largest segment size: positions in `.index` are u32, and Kafka caps them at i32.
pub const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;
/// Granularity of the active segment's over-sized mapping.
const MAP_CHUNK: u64 = 1 << 20;

/// The recovery check of one stored batch: the strict one, or log compaction's (offset
/// gaps inside the batch allowed) for a segment that may have been cleaned.
fn check_batch(buf: &[u8], allow_gaps: bool) -> Result<BatchHeader, ScanStop> {
    if allow_gaps {
        crate::log::batch::check_cleaned_batch(buf)
    } else {
        check_stored_batch(buf)
    }
}

/// Creation time of a segment found at open: its first batch's timestamp if it has
/// one (not in the future), else the time of the open.
fn estimated_creation(first_batch_timestamp: i64, now_ms: i64) -> i64 {
    if first_batch_timestamp >= 0 {
        first_batch_timestamp.min(now_ms)
    } else {
        now_ms
    }
}

/// Keeps a mapping alive for as long as any `Bytes` handed out of it exists.
struct MmapSlice {
    map: Arc<Mmap>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for MmapSlice {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.start..self.end]
    }
}

pub struct LogSegment {
    pub base_offset: i64,
    log_path: PathBuf,
    file: Arc<File>,
    /// Published size: every byte below it is a whole, validated batch.
    size: u64,
    map: Option<Arc<Mmap>>,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_last_index_entry: u64,
    /// Largest batch max timestamp seen (Kafka `maxTimestampSoFar`), -1 if none.
    max_timestamp: i64,
    /// Last offset of the first batch that reached `max_timestamp`.
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch (Kafka's `rollingBasedTimestamp`), -1 if none.
    first_batch_timestamp: i64,
    /// Wall-clock time of the first append (estimated for segments found at open).
    created_ms: Option<i64>,
    /// Offset after the last batch of this segment.
    pub next_offset: i64,
    /// `next_offset` as of the last completed fdatasync of the `.log`.
    pub synced_next_offset: i64,
    /// Log compaction: this segment may have been cleaned, so offsets may jump between
    /// batches, a batch may hold fewer records than its offset span, and the segment may
    /// end before the next one starts. Recovery checks only that offsets increase.
    pub allow_gaps: bool,
}

impl LogSegment {
    fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf, PathBuf) {
        (
            segment_path(dir, base, LOG_EXT),
            segment_path(dir, base, OFFSET_INDEX_EXT),
            segment_path(dir, base, TIME_INDEX_EXT),
        )
    }

    /// A new, empty active segment. Any leftover files with its name are replaced:
    /// they cannot be mapped by a reader since no live segment has this base.
    pub fn create(dir: &Path, base_offset: i64, config: &LogConfig) -> io::Result<LogSegment> {
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log)?;
        let mut seg = LogSegment {
            base_offset,
            log_path: log,
            file: Arc::new(file),
            size: 0,
            map: None,
            offset_index: OffsetIndex::open(&idx, base_offset, true)?,
            time_index: TimeIndex::open(&tidx, base_offset, true)?,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_batch_timestamp: -1,
            created_ms: None,
            next_offset: base_offset,
            synced_next_offset: base_offset,
            allow_gaps: false,
        };
        seg.become_active(config)?;
        Ok(seg)
    }

    /// Opens an existing segment without interpreting it; `load_trusted` or
    /// `recover` must follow. `fresh_indexes` discards the index files.
    pub fn open_existing(
        dir: &Path,
        base_offset: i64,
        fresh_indexes: bool,
    ) -> io::Result<LogSegment> {
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        Self::open_files(base_offset, log, &idx, &tidx, fresh_indexes)
    }

    /// `open_existing` with explicit file names (log compaction builds the indexes of
    /// a `<base>.log.cleaned` this way, before the swap gives them their final names).
    pub fn open_files(
        base_offset: i64,
        log: PathBuf,
        idx: &Path,
        tidx: &Path,
        fresh_indexes: bool,
    ) -> io::Result<LogSegment> {
        let file = OpenOptions::new().read(true).write(true).open(&log)?;
        let size = file.metadata()?.len();
        let mut seg = LogSegment {
            base_offset,
            log_path: log,
            file: Arc::new(file),
            size,
            map: None,
            offset_index: OffsetIndex::open(idx, base_offset, fresh_indexes)?,
            time_index: TimeIndex::open(tidx, base_offset, fresh_indexes)?,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_batch_timestamp: -1,
            created_ms: None,
            next_offset: base_offset,
            synced_next_offset: base_offset,
            allow_gaps: false,
        };
        seg.remap(size)?;
        Ok(seg)
    }

    /// Replaces the mapping; on failure the old one stays, so published bytes
    /// remain readable.
    fn remap(&mut self, len: u64) -> io::Result<()> {
        if len == 0 {
            self.map = None;
        } else {
            // SAFETY: the mapping is read-only and we only ever dereference bytes
            // below the published size, which the file always covers (a `.log` is
            // only shrunk below its published size in `recover`, before any reader
            // exists; a failed append only cuts unpublished bytes). Pages past EOF in
            // an over-sized mapping are never touched.
            let m = unsafe { MmapOptions::new().len(len as usize).map(&*self.file)? };
            self.map = Some(Arc::new(m));
        }
        Ok(())
    }

    fn mapped_len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }

    /// Maps at least `needed` bytes; the active segment maps up to `segment.bytes`
    /// ahead so appends rarely remap.
    fn ensure_mapped(&mut self, needed: u64, config: &LogConfig) -> io::Result<()> {
        if needed <= self.mapped_len() {
            return Ok(());
        }
        let want = needed.max(config.segment_bytes.min(MAX_SEGMENT_BYTES));
        self.remap(want.div_ceil(MAP_CHUNK) * MAP_CHUNK)
    }

    /// Lets the indexes grow and over-maps the `.log` for appends. An empty segment
    /// maps nothing until its first append (which maps ahead): an idle, empty
    /// partition holds no memory map at all.
    pub fn become_active(&mut self, config: &LogConfig) -> io::Result<()> {
        self.offset_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        self.time_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        if self.size == 0 {
            return Ok(());
        }
        self.ensure_mapped(self.size, config)
    }

    /// Kafka's `onBecomeInactiveSegment` + trim: record the largest timestamp in the
    /// time index, cut the preallocated index tails, make the indexes durable (they
    /// are trusted on the next open once the recovery point passes this segment),
    /// and shrink the `.log` mapping to the data.
    pub fn become_inactive(&mut self) -> io::Result<()> {
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp, true);
        self.offset_index.file_mut().trim()?;
        self.time_index.file_mut().trim()?;
        self.offset_index.file().sync()?;
        self.time_index.file().sync()?;
        self.remap(self.size)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }

    /// Kafka's `timeWaitedForRoll`: on append, how far the incoming batch's
    /// timestamp is past the first batch's (client clocks, so a producer sending old
    /// timestamps does not roll on every append); without an incoming timestamp
    /// (housekeeping) or a first-batch timestamp, the wall-clock age of the segment.
    pub fn time_waited_for_roll(&self, incoming_max_timestamp: Option<i64>, now_ms: i64) -> i64 {
        match incoming_max_timestamp {
            Some(ts) if self.first_batch_timestamp >= 0 => ts - self.first_batch_timestamp,
            _ => self.created_ms.map_or(0, |c| now_ms - c),
        }
    }

    /// Records the first batch's timestamp; `created_ms` is exact for appends and an
    /// estimate (the batch's timestamp, or now) for segments found at open.
    fn note_first_batch(&mut self, max_timestamp: i64, created_ms: i64) {
        if self.created_ms.is_none() {
            self.first_batch_timestamp = max_timestamp;
            self.created_ms = Some(created_ms);
        }
    }

    pub fn log_file(&self) -> &Arc<File> {
        &self.file
    }

    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }

    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }

    pub fn indexes_full(&self) -> bool {
        self.offset_index.is_full() || self.time_index.is_full()
    }

    /// Timestamp used by time-based retention: Kafka's `largestTimestamp`, falling
    /// back to the file's mtime when no batch carried a timestamp.
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            return self.max_timestamp;
        }
        storage::metadata(&self.log_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64)
    }

    fn bytes(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m[..self.size as usize],
            None => &[],
        }
    }

    /// Header of the batch at `pos`, if `pos` is below the published size.
    pub fn batch_at(&self, pos: u64) -> Option<BatchHeader> {
        let b = self.bytes();
        let h = BatchHeader::parse(b.get(pos as usize..)?)?;
        if h.batch_length <= 0 || pos + h.total_size() as u64 > self.size {
            return None;
        }
        Some(h)
    }

    /// Zero-copy view of `[start, end)`; the bytes outlive the segment.
    pub fn slice(&self, start: u64, end: u64) -> Bytes {
        debug_assert!(start <= end && end <= self.size);
        match &self.map {
            Some(m) if end > start => Bytes::from_owner(MmapSlice {
                map: m.clone(),
                start: start as usize,
                end: end as usize,
            }),
            _ => Bytes::new(),
        }
    }

    /// Position and header of the first batch whose last offset >= `offset`
    /// (Kafka's `translateOffset`), starting from the offset index's hint.
    pub fn find_batch(&self, offset: i64) -> Option<(u64, BatchHeader)> {
        let mut pos = self.offset_index.lookup(offset).1 as u64;
        while let Some(h) = self.batch_at(pos) {
            if h.last_offset() >= offset {
                return Some((pos, h));
            }
            pos += h.total_size() as u64;
        }
        None
    }

    /// Records the index entries a batch at `position` calls for (Kafka's
    /// `LogSegment.append` bookkeeping); shared by append and recovery so a rebuilt
    /// index is identical to the one written live.
    fn index_batch(&mut self, h: &BatchHeader, position: u64, interval: u32) {
        // Offsets are contiguous, except that a cleaned segment only promises that they
        // increase; positions fit the index's u32.
        debug_assert!(
            h.base_offset == self.next_offset
                || (self.allow_gaps && h.base_offset > self.next_offset),
            "batch at position {position} has base offset {}, segment {} ends at {}",
            h.base_offset,
            self.base_offset,
            self.next_offset
        );
        debug_assert!(position + h.total_size() as u64 <= MAX_SEGMENT_BYTES);
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        if self.bytes_since_last_index_entry > interval as u64 {
            self.offset_index.append(h.last_offset(), position as u32);
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp, false);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += h.total_size() as u64;
        self.next_offset = h.last_offset() + 1;
    }

    /// Appends already-validated batches (offsets assigned) at the end of the file.
    /// The size is published only after the write succeeded; a failed, partial
    /// write is simply overwritten by the next append (it sits past the size).
    pub fn append(
        &mut self,
        buf: &[u8],
        headers: &[BatchHeader],
        config: &LogConfig,
        now_ms: i64,
    ) -> io::Result<()> {
        self.append_vectored(&[buf], headers, config, now_ms)
    }

    /// `append` from several slices laid end to end (one `pwritev`), so a produce
    /// request's bytes reach the file without being copied into one buffer first.
    pub fn append_vectored(
        &mut self,
        parts: &[&[u8]],
        headers: &[BatchHeader],
        config: &LogConfig,
        now_ms: i64,
    ) -> io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let written = write_all_vectored_at(&self.file, parts, self.size)
            .and_then(|()| self.ensure_mapped(self.size + len as u64, config));
        if let Err(e) = written {
            // Cut the unpublished tail so a later crash recovery cannot take a
            // stale, never-acknowledged batch for data. Safe with live readers:
            // they only ever touch bytes below the published size.
            if let Err(e2) = self.file.set_len(self.size) {
                // Not the original error (which may say "out of space"): the file now
                // holds bytes past the published size, so the caller must not go on.
                return Err(io::Error::other(format!(
                    "{e}; cutting the failed append back to {} bytes failed too: {e2}",
                    self.size
                )));
            }
            return Err(e);
        }
        self.note_first_batch(headers.first().map_or(-1, |h| h.max_timestamp), now_ms);
        let mut pos = self.size;
        for h in headers {
            self.index_batch(h, pos, config.index_interval_bytes);
            pos += h.total_size() as u64;
        }
        // Each batch starts where the previous one ended, from the published size on,
        // and the headers describe exactly the bytes written: the size only grows.
        debug_assert_eq!(
            pos,
            self.size + len as u64,
            "headers do not match the bytes"
        );
        debug_assert!(pos > self.size || headers.is_empty());
        self.size = pos;
        Ok(())
    }

    /// Kafka's `LogSegment.recover`: rebuild both indexes from a scan that checks
    /// every batch (lengths, magic, counts, CRC-32C, contiguous offsets) and cut the
    /// `.log` at the first batch that fails. Returns why it stopped early, if it did.
    /// Only called from `open`, so no reader can have this file mapped.
    pub fn recover(&mut self, config: &LogConfig, now_ms: i64) -> io::Result<Option<String>> {
        self.offset_index.reset();
        self.time_index.reset();
        self.offset_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        self.time_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        self.bytes_since_last_index_entry = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.next_offset = self.base_offset;
        self.first_batch_timestamp = -1;
        self.created_ms = None;
        let file_size = self.size;
        let mut pos = 0u64;
        let mut stop = None;
        while pos < file_size {
            let res = {
                let all = match &self.map {
                    Some(m) => &m[..file_size as usize],
                    None => &[][..],
                };
                check_batch(&all[pos as usize..], self.allow_gaps)
            };
            let h = match res {
                Ok(h) => h,
                Err(ScanStop::Truncated) => {
                    stop = Some(format!("torn batch at position {pos}"));
                    break;
                }
                Err(ScanStop::Invalid(why)) => {
                    stop = Some(format!("invalid batch at position {pos}: {why}"));
                    break;
                }
            };
            // The base offset is outside the CRC, so continuity is what protects it
            // (a cleaned segment only promises increasing offsets).
            if h.base_offset != self.next_offset
                && !(self.allow_gaps && h.base_offset > self.next_offset)
            {
                stop = Some(format!(
                    "batch at position {pos} has base offset {} but {} was expected",
                    h.base_offset, self.next_offset
                ));
                break;
            }
            if h.last_offset() - self.base_offset > i32::MAX as i64
                || pos + h.total_size() as u64 > MAX_SEGMENT_BYTES
            {
                stop = Some(format!("batch at position {pos} does not fit the segment"));
                break;
            }
            self.note_first_batch(h.max_timestamp, estimated_creation(h.max_timestamp, now_ms));
            self.index_batch(&h, pos, config.index_interval_bytes);
            pos += h.total_size() as u64;
        }
        if pos < file_size {
            self.map = None;
            // Recovery only: nothing outside this struct can have the file mapped.
            self.file.set_len(pos)?;
            self.size = pos;
            self.remap(pos)?;
        }
        self.synced_next_offset = self.base_offset;
        Ok(stop)
    }

    /// Adopts a segment below the recovery point without scanning it: checks its
    /// indexes (Kafka's O(1) sanity check) and reads the largest timestamp from the
    /// time index. The end offset comes from scanning the few batches after the
    /// last offset-index entry and must meet `next_base` (the following segment's
    /// base offset), so a segment that lost its tail is noticed. `Err` means:
    /// recover (scan) instead.
    pub fn load_trusted(
        &mut self,
        next_base: Option<i64>,
        index_interval_bytes: u32,
        now_ms: i64,
    ) -> Result<(), String> {
        self.offset_index.sanity_check(self.size)?;
        self.time_index.sanity_check()?;
        if let Some((ts, off)) = self.time_index.last_entry() {
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = off;
        }
        if let Some(h) = self.batch_at(0) {
            if h.base_offset != self.base_offset
                && !(self.allow_gaps && h.base_offset > self.base_offset)
            {
                return Err(format!(
                    "first batch has base offset {} in segment {}",
                    h.base_offset, self.base_offset
                ));
            }
            self.note_first_batch(h.max_timestamp, estimated_creation(h.max_timestamp, now_ms));
        }
        // Scan the tail after the last index entry (at most about one index interval):
        // it yields the end offset and catches a `.log` that lost its tail.
        let (_, start) = self.offset_index.lookup(i64::MAX);
        let mut pos = start as u64;
        let mut next = match self.offset_index.last_entry() {
            Some(_) => -1,
            None => self.base_offset,
        };
        let all = self.bytes();
        let no_entries = self.offset_index.entries() == 0;
        while pos < self.size {
            if no_entries && pos > index_interval_bytes as u64 {
                // Appends would have indexed this batch: the index file was lost.
                return Err("offset index is missing entries".into());
            }
            let h = check_batch(&all[pos as usize..], self.allow_gaps)
                .map_err(|e| format!("batch at position {pos}: {e:?}"))?;
            let gap_ok = self.allow_gaps && h.base_offset > next;
            if next >= 0 && h.base_offset != next && !gap_ok {
                return Err(format!("batch at position {pos} is not contiguous"));
            }
            next = h.last_offset() + 1;
            pos += h.total_size() as u64;
        }
        if next < 0 {
            return Err("no batch at the last offset index entry".into());
        }
        if let Some(nb) = next_base {
            // A cleaned segment may end before the next one starts (its last records
            // were compacted away), never after.
            if next != nb && !(self.allow_gaps && next < nb) {
                return Err(format!(
                    "segment ends at offset {next}, next segment starts at {nb}"
                ));
            }
        }
        self.next_offset = next;
        if self.max_timestamp < 0 && self.size > 0 {
            // No time index entry (e.g. no batch carried a timestamp): header scan.
            let mut pos = 0;
            while let Some(h) = self.batch_at(pos) {
                if h.max_timestamp > self.max_timestamp {
                    self.max_timestamp = h.max_timestamp;
                    self.offset_of_max_timestamp = h.last_offset();
                }
                pos += h.total_size() as u64;
            }
        }
        self.synced_next_offset = self.next_offset;
        Ok(())
    }

    /// fdatasync of the `.log` only: the active segment's indexes are always rebuilt
    /// after a crash, and inactive ones were synced when they were rolled.
    pub fn sync_log(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// fdatasync of the `.log` and both indexes (after recovery rebuilt them).
    pub fn sync_all(&self) -> io::Result<()> {
        self.file.sync_data()?;
        self.offset_index.file().sync()?;
        self.time_index.file().sync()
    }

    /// Unlinks the three files. Outstanding `Bytes` keep their mapping (and thus
    /// the data) alive until dropped.
    pub fn delete(self) -> io::Result<()> {
        let idx = self.offset_index.file().path().to_path_buf();
        let tidx = self.time_index.file().path().to_path_buf();
        let log = self.log_path.clone();
        // The aborted-transaction index lives and dies with its segment.
        let txn = log.with_extension(TXN_INDEX_EXT);
        drop(self);
        for p in [log, idx, tidx, txn] {
            match storage::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `pwritev` until every byte of `parts` is written at `offset` (a short write is
/// resumed where it stopped, as `write_all_at` does for one buffer).
fn write_all_vectored_at(file: &File, parts: &[&[u8]], mut offset: u64) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // At most this many iovecs per call (Linux's IOV_MAX is 1024).
    const MAX_IOV: usize = 512;
    let mut parts: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    let mut first = 0;
    while first < parts.len() {
        let batch = &parts[first..parts.len().min(first + MAX_IOV)];
        let iov: Vec<libc::iovec> = batch
            .iter()
            .map(|p| libc::iovec {
                iov_base: p.as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            })
            .collect();
        // SAFETY: every iovec points into a live slice borrowed for this call, and the
        // descriptor belongs to `file`, which outlives the call.
        let n = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                iov.as_ptr(),
                iov.len() as libc::c_int,
                offset as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let mut n = n as usize;
        offset += n as u64;
        while n > 0 {
            let head = parts[first];
            if n >= head.len() {
                n -= head.len();
                first += 1;
            } else {
                parts[first] = &head[n..];
                n = 0;
            }
        }
    }
    Ok(())
}
