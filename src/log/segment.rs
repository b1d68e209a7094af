//! One log segment: `<base>.log` plus its `.index` and `.timeindex` (Kafka's
//! `LogSegment`).
//!
//! Owns the segment's file handle, its read-only mapping and its two indexes. Only the
//! active segment holds them for good; a closed segment's are opened on first use
//! (`reader`) and closed again when the log's budget of descriptors and maps needs
//! room (`crate::log::file_cache`). A closed segment holds no descriptor even while
//! open (the `.log` and its indexes are read through their maps), except a `.log`
//! whose last appends still wait for an fdatasync.
//!
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

use crate::log::batch::{check_stored_batch, BatchHeader, ScanStop};
use crate::log::config::LogConfig;
use crate::log::file_cache::{FileCache, Held, Kind, Slot};
use crate::log::file_names::{
    segment_path, LOG_EXT, OFFSET_INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT,
};
use crate::log::offset_index::OffsetIndex;
use crate::log::preallocate;
pub use crate::log::segment_files::SegmentReader;
use crate::log::segment_files::{map_log, Files, FilesRef, SegmentFiles};
use crate::log::storage::{self, OpenOptions};
use crate::log::time_index::TimeIndex;

/// Largest segment size: positions in `.index` are u32, and Kafka caps them at i32.
pub const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;
/// Granularity of the active segment's over-sized mapping.
const MAP_CHUNK: u64 = 1 << 20;
/// How long an active segment must have gone without appends before housekeeping may
/// close its files when the log is over its budget (`LogSegment::release_files`).
pub const IDLE_ACTIVE_MS: i64 = 10_000;
/// The same when the log holds more than twice its budget of descriptors (many
/// partitions written at once, e.g. a producer spreading records over tens of
/// thousands): closing sooner costs a reopen at the next append, running out of
/// descriptors costs failed appends and refused connections.
pub const IDLE_ACTIVE_UNDER_PRESSURE_MS: i64 = 1_000;

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

pub struct LogSegment {
    pub base_offset: i64,
    log_path: PathBuf,
    idx_path: PathBuf,
    tidx_path: PathBuf,
    cache: Arc<FileCache>,
    /// The `.log` descriptor, held while the segment is active (it is written) or has
    /// data not yet fdatasynced (the sync must go through the descriptor the writes
    /// went through, so a write-back error cannot slip past it). Otherwise closed: a
    /// closed segment is read through its mapping only.
    fd: Option<(Arc<File>, Held)>,
    files: Files,
    /// Appends go here: `become_active` ran and `become_inactive` did not since.
    active: bool,
    /// The trimmed index files were not synced when the segment stopped being active
    /// (`release_files`): `become_inactive` must still sync them.
    indexes_unsynced: bool,
    /// Published size: every byte below it is a whole, validated batch.
    size: u64,
    /// Length of the `.log` file: `size`, or more while the active segment holds a
    /// preallocated zero tail (`preallocate`), which roll and close trim.
    file_len: u64,
    bytes_since_last_index_entry: u64,
    /// Largest batch max timestamp seen (Kafka `maxTimestampSoFar`), -1 if none.
    max_timestamp: i64,
    /// Last offset of the first batch that reached `max_timestamp`.
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch (Kafka's `rollingBasedTimestamp`), -1 if none.
    first_batch_timestamp: i64,
    /// Wall-clock time of the first append (estimated for segments found at open).
    created_ms: Option<i64>,
    /// `now_ms` of the last append since this segment was opened.
    last_append_ms: Option<i64>,
    /// Offset after the last batch of this segment.
    pub next_offset: i64,
    /// `next_offset` as of the last completed fdatasync of the `.log` (set through
    /// `mark_synced`, which also lets the descriptor go).
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

    fn new(
        base_offset: i64,
        (log_path, idx_path, tidx_path): (PathBuf, PathBuf, PathBuf),
        cache: &Arc<FileCache>,
        files: Files,
        size: u64,
    ) -> LogSegment {
        LogSegment {
            base_offset,
            log_path,
            idx_path,
            tidx_path,
            cache: cache.clone(),
            fd: None,
            files,
            active: false,
            indexes_unsynced: false,
            size,
            file_len: size,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_batch_timestamp: -1,
            created_ms: None,
            last_append_ms: None,
            next_offset: base_offset,
            synced_next_offset: base_offset,
            allow_gaps: false,
        }
    }

    /// A new, empty active segment. Any leftover files with its name are replaced:
    /// they cannot be mapped by a reader since no live segment has this base.
    pub fn create(dir: &Path, base_offset: i64, config: &LogConfig) -> io::Result<LogSegment> {
        let cache = &config.file_cache;
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log)?;
        let files = SegmentFiles {
            map: None,
            offset_index: OffsetIndex::open(&idx, base_offset, true, cache)?,
            time_index: TimeIndex::open(&tidx, base_offset, true, cache)?,
        };
        let mut seg = Self::new(
            base_offset,
            (log, idx, tidx),
            cache,
            Files::Owned(Box::new(files)),
            0,
        );
        seg.fd = Some((Arc::new(file), cache.hold(Kind::File)));
        seg.become_active(config)?;
        Ok(seg)
    }

    /// Opens an existing segment without interpreting it; `load_trusted` or
    /// `recover` must follow. `fresh_indexes` discards the index files. Nothing stays
    /// open: the files are opened on first use.
    pub fn open_existing(
        dir: &Path,
        base_offset: i64,
        fresh_indexes: bool,
        cache: &Arc<FileCache>,
    ) -> io::Result<LogSegment> {
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        Self::open_files(base_offset, log, &idx, &tidx, fresh_indexes, cache)
    }

    /// `open_existing` with explicit file names (log compaction builds the indexes of
    /// a `<base>.log.cleaned` this way, before the swap gives them their final names).
    pub fn open_files(
        base_offset: i64,
        log: PathBuf,
        idx: &Path,
        tidx: &Path,
        fresh_indexes: bool,
        cache: &Arc<FileCache>,
    ) -> io::Result<LogSegment> {
        let size = storage::metadata(&log)?.len();
        if fresh_indexes {
            for p in [idx, tidx] {
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(p)?;
            }
        }
        let paths = (log, idx.to_path_buf(), tidx.to_path_buf());
        let files = Files::Closed(Slot::new(cache));
        Ok(Self::new(base_offset, paths, cache, files, size))
    }

    /// Opens a closed segment's files: the `.log` mapped up to the published size
    /// (its descriptor closed at once) and both indexes.
    fn load_files(&self) -> io::Result<SegmentFiles> {
        let map = match self.size {
            0 => None,
            len => {
                let file = OpenOptions::new().read(true).open(&self.log_path)?;
                map_log(&file, len, &self.cache)?
            }
        };
        Ok(SegmentFiles {
            map,
            offset_index: OffsetIndex::open(&self.idx_path, self.base_offset, false, &self.cache)?,
            time_index: TimeIndex::open(&self.tidx_path, self.base_offset, false, &self.cache)?,
        })
    }

    /// Read access, opening a closed segment's files if the budget closed them.
    pub fn reader(&self) -> io::Result<SegmentReader<'_>> {
        let files = match &self.files {
            Files::Owned(f) => FilesRef::Borrowed(f.as_ref()),
            Files::Closed(slot) => FilesRef::Shared(slot.get(|| self.load_files())?),
        };
        Ok(SegmentReader {
            size: self.size,
            files,
        })
    }

    /// The files, held by the segment from now on (for writing them).
    fn owned(&mut self) -> io::Result<&mut SegmentFiles> {
        if let Files::Closed(slot) = &self.files {
            let files = match slot.take() {
                // No one else holds a closed segment's files for long (readers are
                // serialised with this call); if someone does, open a fresh set.
                Some(f) => Arc::try_unwrap(f).or_else(|_| self.load_files())?,
                None => self.load_files()?,
            };
            self.files = Files::Owned(Box::new(files));
        }
        match &mut self.files {
            Files::Owned(f) => Ok(f.as_mut()),
            Files::Closed(_) => unreachable!("made owned above"),
        }
    }

    /// The `.log` descriptor, opened read-write if closed.
    fn fd(&mut self) -> io::Result<Arc<File>> {
        if self.fd.is_none() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.log_path)?;
            self.fd = Some((Arc::new(file), self.cache.hold(Kind::File)));
        }
        Ok(self.fd.as_ref().expect("opened above").0.clone())
    }

    /// Replaces the mapping; on failure the old one stays, so published bytes
    /// remain readable.
    fn remap(&mut self, len: u64) -> io::Result<()> {
        let file = self.fd()?;
        let cache = self.cache.clone();
        let map = map_log(&file, len, &cache)?;
        self.owned()?.map = map;
        Ok(())
    }

    /// Maps at least `needed` bytes; the active segment maps up to `segment.bytes`
    /// ahead so appends rarely remap.
    fn ensure_mapped(&mut self, needed: u64, config: &LogConfig) -> io::Result<()> {
        if needed <= self.owned()?.mapped_len() {
            return Ok(());
        }
        let want = needed.max(config.segment_bytes.min(MAX_SEGMENT_BYTES));
        self.remap(want.div_ceil(MAP_CHUNK) * MAP_CHUNK)
    }

    /// Lets the indexes grow and over-maps the `.log` for appends. An empty segment
    /// maps nothing until its first append (which maps ahead): an idle, empty
    /// partition holds no memory map at all. The segment's files stay open from now
    /// on (counted, never closed by the budget) until `become_inactive`.
    pub fn become_active(&mut self, config: &LogConfig) -> io::Result<()> {
        self.fd()?;
        let files = self.owned()?;
        files
            .offset_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        files
            .time_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        self.active = true;
        if self.size == 0 {
            return Ok(());
        }
        self.ensure_mapped(self.size, config)
    }

    /// Kafka's `onBecomeInactiveSegment` + trim: record the largest timestamp in the
    /// time index, cut the preallocated index tails, make the indexes durable (they
    /// are trusted on the next open once the recovery point passes this segment),
    /// and shrink the `.log` mapping to the data. The files then belong to the log's
    /// budget, which may close them; the `.log` descriptor is kept only while data in
    /// it waits for an fdatasync.
    pub fn become_inactive(&mut self) -> io::Result<()> {
        self.deactivate(true)
    }

    /// `become_inactive` for a close that syncs the whole file system afterwards (the
    /// batched shutdown): the index files are trimmed but not fsynced one by one;
    /// [`LogSegment::mark_indexes_synced`] records the file-system sync that covered them.
    pub fn become_inactive_for_syncfs(&mut self) -> io::Result<()> {
        self.deactivate(false)
    }

    /// A sync of the whole file system that began after the indexes were last written
    /// succeeded: they are durable, as a `become_inactive` would have made them.
    pub fn mark_indexes_synced(&mut self) {
        self.indexes_unsynced = false;
    }

    /// `become_inactive`; without `sync_indexes` the index files are left for the
    /// page cache to write and synced by the next `become_inactive` (roll or close).
    fn deactivate(&mut self, sync_indexes: bool) -> io::Result<()> {
        if self.file_len > self.size {
            // The preallocated zero tail goes, so a closed segment's file length is its
            // data again (what the next open and the cold summary read). Synced with
            // the indexes; if a crash loses the trim, `load_trusted` meets the zeros
            // and the segment is scanned and cut instead.
            let file = self.fd()?;
            file.set_len(self.size)?;
            self.file_len = self.size;
            if sync_indexes {
                file.sync_data()?;
            }
        }
        if let Files::Owned(files) = &mut self.files {
            files
                .time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp, true);
            files.offset_index.file_mut().trim()?;
            files.time_index.file_mut().trim()?;
            if sync_indexes {
                files.offset_index.file().sync()?;
                files.time_index.file().sync()?;
                self.indexes_unsynced = false;
            } else {
                self.indexes_unsynced = true;
            }
            self.remap(self.size)?;
            let Files::Owned(files) =
                std::mem::replace(&mut self.files, Files::Closed(Slot::new(&self.cache)))
            else {
                unreachable!("owned above")
            };
            self.files = Files::Closed(Slot::with_open(&self.cache, *files));
        } else if sync_indexes && self.indexes_unsynced {
            // Written through maps since dropped: their pages are in the page cache.
            storage::open(&self.idx_path)?.sync_data()?;
            storage::open(&self.tidx_path)?.sync_data()?;
            self.indexes_unsynced = false;
        }
        self.active = false;
        self.release_synced_fd();
        Ok(())
    }

    /// No append for `idle_ms` (or none since the segment was opened).
    pub fn is_idle(&self, now_ms: i64, idle_ms: i64) -> bool {
        self.last_append_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= idle_ms)
    }

    /// The active segment, with every byte fdatasynced, closes its descriptor and lets
    /// the budget close its maps: it becomes inactive (indexes trimmed, as at a roll)
    /// while staying the last segment, and the next append makes it active again. The
    /// indexes are not synced now (an active segment's are rebuilt after a crash
    /// anyway): the next roll or close syncs them. Data still waiting for an fdatasync
    /// keeps the descriptor (the sync must go through it). Returns whether it did.
    pub fn release_files(&mut self) -> io::Result<bool> {
        if !self.active || self.synced_next_offset < self.next_offset {
            return Ok(false);
        }
        self.deactivate(false)?;
        Ok(true)
    }

    /// Records that the `.log` is durable up to `offset` (an fdatasync through
    /// `log_file` completed); an inactive segment then closes its descriptor.
    pub fn mark_synced(&mut self, offset: i64) {
        self.synced_next_offset = self.synced_next_offset.max(self.next_offset.min(offset));
        self.release_synced_fd();
    }

    fn release_synced_fd(&mut self) {
        if !self.active && self.synced_next_offset >= self.next_offset {
            self.fd = None;
        }
    }

    /// Grows the `.log` with written zeros so `needed` bytes fit with a chunk to spare
    /// (`crate::log::preallocate`). A failure (disk full) is not the append's: the file
    /// is cut back to its previous length and the append goes on without.
    fn preallocate(&mut self, file: &File, needed: u64, config: &LogConfig) {
        let limit = config.segment_bytes.clamp(needed, MAX_SEGMENT_BYTES);
        let target = preallocate::target_len(needed, limit);
        match preallocate::write_zeros(file, self.file_len, target) {
            Ok(()) => self.file_len = target,
            Err(e) => {
                tracing::warn!(path = %self.log_path.display(), error = %e, "cannot preallocate the segment; appending without");
                if let Err(e) = file.set_len(self.file_len) {
                    tracing::warn!(path = %self.log_path.display(), error = %e, "cannot cut the partly preallocated tail; recovery cuts it after a crash, the next roll or close trims it");
                    self.file_len = self.file_len.max(target);
                }
            }
        }
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

    /// The `.log` descriptor the segment's writes went through, for an fdatasync. Held
    /// while the segment is active or has unsynced data; `None` otherwise (nothing to
    /// sync).
    pub fn log_file(&self) -> Option<Arc<File>> {
        self.fd.as_ref().map(|(f, _)| f.clone())
    }

    /// The active segment's indexes are full (a closed segment's are never written).
    pub fn indexes_full(&self) -> bool {
        match &self.files {
            Files::Owned(f) => f.offset_index.is_full() || f.time_index.is_full(),
            Files::Closed(_) => false,
        }
    }

    /// The indexes still have room past their entries (rebuilt by `recover`, not yet
    /// trimmed by `become_inactive`).
    pub fn indexes_untrimmed(&self) -> bool {
        match &self.files {
            Files::Owned(f) => {
                f.offset_index.file().capacity() != f.offset_index.entries()
                    || f.time_index.file().capacity() != f.time_index.entries()
            }
            Files::Closed(_) => false,
        }
    }

    /// The segment's files are open (held or in the budget's slot): for tests.
    pub fn files_open(&self) -> bool {
        match &self.files {
            Files::Owned(_) => true,
            Files::Closed(slot) => slot.is_open(),
        }
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

    /// Records the index entries a batch at `position` calls for (Kafka's
    /// `LogSegment.append` bookkeeping); shared by append and recovery so a rebuilt
    /// index is identical to the one written live.
    fn index_batch(&mut self, h: &BatchHeader, position: u64, interval: u32) -> io::Result<()> {
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
            let (max_ts, max_ts_offset) = (self.max_timestamp, self.offset_of_max_timestamp);
            let files = self.owned()?;
            files.offset_index.append(h.last_offset(), position as u32);
            files.time_index.maybe_append(max_ts, max_ts_offset, false);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += h.total_size() as u64;
        self.next_offset = h.last_offset() + 1;
        Ok(())
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
        if !self.active {
            // The active segment of a partition left idle gave its files back to the
            // budget (`release_files`): take them again.
            self.become_active(config)?;
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let file = self.fd()?;
        let needed = self.size + len as u64;
        if config.preallocate && needed > self.file_len {
            self.preallocate(&file, needed, config);
        }
        let written = write_all_vectored_at(&file, parts, self.size)
            .and_then(|()| self.ensure_mapped(needed, config));
        if let Err(e) = written {
            // Cut the unpublished tail so a later crash recovery cannot take a
            // stale, never-acknowledged batch for data. Safe with live readers:
            // they only ever touch bytes below the published size.
            self.file_len = self.size;
            if let Err(e2) = file.set_len(self.size) {
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
            // The active segment's files are held: this cannot open anything.
            self.index_batch(h, pos, config.index_interval_bytes)?;
            pos += h.total_size() as u64;
        }
        // Each batch starts where the previous one ended, from the published size on,
        // and the headers describe exactly the bytes written: the size only grows.
        debug_assert_eq!(pos, needed, "headers do not match the bytes");
        debug_assert!(pos > self.size || headers.is_empty());
        self.size = pos;
        self.last_append_ms = Some(now_ms);
        Ok(())
    }

    /// Kafka's `LogSegment.recover`: rebuild both indexes from a scan that checks
    /// every batch (lengths, magic, counts, CRC-32C, contiguous offsets) and cut the
    /// `.log` at the first batch that fails. Returns why it stopped early, if it did.
    /// Only called from `open`, so no reader can have this file mapped.
    pub fn recover(&mut self, config: &LogConfig, now_ms: i64) -> io::Result<Option<String>> {
        let file = self.fd()?;
        let file_size = self.size;
        if self.owned()?.mapped_len() < file_size {
            self.remap(file_size)?;
        }
        let files = self.owned()?;
        files.offset_index.reset();
        files.time_index.reset();
        files
            .offset_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        files
            .time_index
            .file_mut()
            .resize(config.segment_index_bytes)?;
        let map = files.map.clone();
        self.bytes_since_last_index_entry = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.next_offset = self.base_offset;
        self.first_batch_timestamp = -1;
        self.created_ms = None;
        let all: &[u8] = match &map {
            Some(m) => &m.map[..file_size as usize],
            None => &[],
        };
        let mut pos = 0u64;
        let mut stop = None;
        while pos < file_size {
            let h = match check_batch(&all[pos as usize..], self.allow_gaps) {
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
            self.index_batch(&h, pos, config.index_interval_bytes)?;
            pos += h.total_size() as u64;
        }
        drop(map);
        if pos < file_size {
            self.owned()?.map = None;
            // Recovery only: nothing outside this struct can have the file mapped.
            file.set_len(pos)?;
            self.size = pos;
            self.file_len = pos;
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
        let r = self
            .reader()
            .map_err(|e| format!("cannot open the segment: {e}"))?;
        r.offset_index().sanity_check(self.size)?;
        r.time_index().sanity_check()?;
        let mut max_timestamp = self.max_timestamp;
        let mut offset_of_max_timestamp = self.offset_of_max_timestamp;
        if let Some((ts, off)) = r.time_index().last_entry() {
            max_timestamp = ts;
            offset_of_max_timestamp = off;
        }
        let mut first_batch = None;
        if let Some(h) = r.batch_at(0) {
            if h.base_offset != self.base_offset
                && !(self.allow_gaps && h.base_offset > self.base_offset)
            {
                return Err(format!(
                    "first batch has base offset {} in segment {}",
                    h.base_offset, self.base_offset
                ));
            }
            first_batch = Some(h.max_timestamp);
        }
        // Scan the tail after the last index entry (at most about one index interval):
        // it yields the end offset and catches a `.log` that lost its tail.
        let (_, start) = r.offset_index().lookup(i64::MAX);
        let mut pos = start as u64;
        let mut next = match r.offset_index().last_entry() {
            Some(_) => -1,
            None => self.base_offset,
        };
        let all = r.bytes();
        let no_entries = r.offset_index().entries() == 0;
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
        if max_timestamp < 0 && self.size > 0 {
            // No time index entry (e.g. no batch carried a timestamp): header scan.
            let mut pos = 0;
            while let Some(h) = r.batch_at(pos) {
                if h.max_timestamp > max_timestamp {
                    max_timestamp = h.max_timestamp;
                    offset_of_max_timestamp = h.last_offset();
                }
                pos += h.total_size() as u64;
            }
        }
        drop(r);
        if let Some(ts) = first_batch {
            self.note_first_batch(ts, estimated_creation(ts, now_ms));
        }
        self.max_timestamp = max_timestamp;
        self.offset_of_max_timestamp = offset_of_max_timestamp;
        self.next_offset = next;
        self.synced_next_offset = self.next_offset;
        Ok(())
    }

    /// fdatasync of the `.log` only: the active segment's indexes are always rebuilt
    /// after a crash, and inactive ones were synced when they were rolled.
    pub fn sync_log(&self) -> io::Result<()> {
        match &self.fd {
            Some((f, _)) => f.sync_data(),
            None => storage::open(&self.log_path)?.sync_data(),
        }
    }

    /// fdatasync of the `.log` and both indexes (after recovery rebuilt them).
    pub fn sync_all(&self) -> io::Result<()> {
        self.sync_log()?;
        match &self.files {
            Files::Owned(f) => {
                f.offset_index.file().sync()?;
                f.time_index.file().sync()
            }
            Files::Closed(_) => {
                // Nothing of ours is dirty in a map of a closed segment's indexes
                // (they are never written); the files themselves may be.
                storage::open(&self.idx_path)?.sync_data()?;
                storage::open(&self.tidx_path)?.sync_data()
            }
        }
    }

    /// Unlinks the segment's files. Outstanding `Bytes` keep their mapping (and thus
    /// the data) alive until dropped.
    pub fn delete(self) -> io::Result<()> {
        let (log, idx, tidx) = (
            self.log_path.clone(),
            self.idx_path.clone(),
            self.tidx_path.clone(),
        );
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
