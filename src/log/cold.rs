//! What a partition directory says about its log without opening it: sizes, segment
//! count, and the few timestamps that decide whether housekeeping (a time roll, time or
//! size retention) or the log cleaner would do anything to it. The broker keeps
//! partitions that no request touched since start-up unopened ("cold"), and asks this
//! module whether a background pass needs to open one.
//!
//! It only reads: a directory listing, file sizes, the last `.timeindex` entry of the
//! oldest segment and the first batch header of the newest. Every answer errs towards
//! "open it" (which is always correct, only slower): anything it cannot read or does not
//! expect (no clean-shutdown marker and no entry in the log directory's
//! `clean-shutdown.logs`, an interrupted compaction swap, a stray temporary file) says
//! the log needs opening. It never writes, and never decides anything about
//! the log's contents: `PartitionLog::open` does, when the partition is opened.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::log::batch::BatchHeader;
use crate::log::checkpoint::{self, CleanShutdown};
use crate::log::config::LogConfig;
use crate::log::file_names::{
    parse_segment_name, segment_path, CLEANED_SUFFIX, CLEAN_SHUTDOWN_MARKER, CLEAN_SHUTDOWN_TAKEN,
    LOG_EXT, SWAP_SUFFIX, TIME_INDEX_EXT, TMP_SUFFIX,
};
use crate::log::log_dir_shutdown::{self, ClosedLog};
use crate::log::producer_state::{self, ProducerStateManager};
use crate::log::storage;

/// Bytes of one `.timeindex` entry (timestamp i64 + relative offset u32).
const TIME_INDEX_ENTRY: u64 = 12;

/// The offsets of a cleanly shut down log, as `PartitionLog::open` would find them:
/// the log end offset from the clean-shutdown marker, the log start offset from the
/// checkpoint, the last stable offset from the producer snapshot taken at the log end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColdOffsets {
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub last_stable_offset: i64,
}

/// A cold partition directory as listed once; the directory does not change while the
/// partition stays unopened, so callers may cache it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColdSummary {
    /// Bytes of all `.log` segments.
    pub size_bytes: u64,
    /// Number of `.log` segments.
    pub segments: usize,
    /// Size of the oldest segment's `.log`.
    oldest_size: u64,
    /// The oldest segment's largest timestamp as retention sees it (its last time-index
    /// entry, else the `.log`'s modification time); `None` when neither could be read.
    oldest_largest_timestamp: Option<i64>,
    /// Size of the newest (active) segment's `.log`.
    active_size: u64,
    /// The active segment's first batch's max timestamp (-1 when it has none).
    active_first_timestamp: i64,
    /// Base offsets of the oldest and the active segment.
    bases: Option<(i64, i64)>,
    /// Opening is needed whatever the configs say: no clean-shutdown marker (crash
    /// recovery is due), or files only `open` knows how to settle.
    pub needs_open: bool,
    /// The log directory's `clean-shutdown.logs` entry, if it still holds (not taken).
    closed: Option<ClosedLog>,
}

impl ColdSummary {
    /// Lists `dir`. A directory that does not exist (a partition whose directory was
    /// never made or was lost) reads as empty and needing open (open creates it).
    /// `closed`: the log's entry in its log directory's `clean-shutdown.logs`, which
    /// stands in for the marker.
    pub fn read(dir: &Path, closed: Option<&ClosedLog>) -> io::Result<ColdSummary> {
        let mut bases = Vec::new();
        let mut summary = ColdSummary {
            active_first_timestamp: -1,
            ..ColdSummary::default()
        };
        let mut marker = false;
        let mut taken_file = false;
        let entries = match storage::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                summary.needs_open = true;
                return Ok(summary);
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name == CLEAN_SHUTDOWN_MARKER {
                marker = true;
            } else if name == CLEAN_SHUTDOWN_TAKEN {
                taken_file = true;
            } else if [TMP_SUFFIX, SWAP_SUFFIX, CLEANED_SUFFIX]
                .iter()
                .any(|s| name.ends_with(&format!(".{s}")))
            {
                summary.needs_open = true;
            } else if let Some((base, LOG_EXT)) = parse_segment_name(name) {
                let len = storage::metadata(entry.path())?.len();
                bases.push((base, len));
                summary.size_bytes += len;
            }
        }
        summary.closed = closed
            .filter(|c| !(taken_file && log_dir_shutdown::is_taken(dir, c.generation)))
            .copied();
        marker |= summary.closed.is_some();
        bases.sort_unstable();
        summary.segments = bases.len();
        summary.needs_open |= !marker || bases.is_empty();
        if let (Some(&(oldest, oldest_size)), Some(&(active, active_size))) =
            (bases.first(), bases.last())
        {
            summary.bases = Some((oldest, active));
            summary.oldest_size = oldest_size;
            summary.active_size = active_size;
            // Only read where a decision depends on them: retention never looks at a lone
            // active segment, and an empty one is never rolled.
            if bases.len() >= 2 {
                summary.oldest_largest_timestamp = largest_timestamp(dir, oldest);
            }
            if active_size > 0 {
                summary.active_first_timestamp = first_batch_timestamp(dir, active);
            }
        }
        Ok(summary)
    }

    /// The offsets the log opens with if it was cleanly shut down (`None` otherwise):
    /// reads the marker (or takes the log directory's entry for it), the checkpoint and
    /// the producer snapshot at the log end.
    pub fn offsets(&self, dir: &Path) -> Option<ColdOffsets> {
        let (oldest, active) = self.bases?;
        if self.needs_open {
            return None;
        }
        clean_offsets(dir, oldest, active, self.active_size, self.closed.as_ref())
    }

    /// Whether `PartitionLog::housekeeping` at `now_ms` could roll the active segment or
    /// delete a segment by retention, i.e. whether the partition must be opened for it.
    /// Producer-id expiry and the `flush.ms` fsync need no opening (a cold log has no
    /// producers in memory and nothing unflushed).
    pub fn needs_housekeeping(&self, config: &LogConfig, now_ms: i64) -> bool {
        if self.needs_open {
            return true;
        }
        // The age `open` would give the active segment (see `LogSegment::load_trusted`).
        let created = if self.active_first_timestamp >= 0 {
            self.active_first_timestamp.min(now_ms)
        } else {
            now_ms
        };
        if self.active_size > 0 && now_ms - created > config.segment_ms {
            return true;
        }
        // Retention never deletes the active segment.
        if self.segments < 2 || !config.cleanup_delete {
            return false;
        }
        if config.retention_ms >= 0
            && self
                .oldest_largest_timestamp
                .is_none_or(|ts| now_ms - ts > config.retention_ms)
        {
            return true;
        }
        config.retention_bytes >= 0
            && self.size_bytes as i64 - self.oldest_size as i64 >= config.retention_bytes
    }

    /// Whether the log cleaner could find anything to compact: it never touches the
    /// active segment, so a compacted log needs at least two segments.
    pub fn needs_cleaning(&self, config: &LogConfig) -> bool {
        config.cleanup_compact && (self.needs_open || self.segments >= 2)
    }
}

/// What a valid marker (or `closed`, the log directory's entry standing in for it), a
/// valid checkpoint and the snapshot at the marker's log end say, if they agree with the
/// files (the checks `open` makes before trusting a clean shutdown); `None` otherwise.
/// With an entry the checkpoint is taken as `recovery::load` takes it, and the snapshot
/// is read only if the log had producer state. Reads only: the marker stays in place.
fn clean_offsets(
    dir: &Path,
    oldest: i64,
    active: i64,
    active_size: u64,
    closed: Option<&ClosedLog>,
) -> Option<ColdOffsets> {
    let on_disk = checkpoint::read_checkpoint(dir).ok().flatten();
    let (marker, cp, no_producer_state) = match closed {
        Some(c) => {
            let (marker, cp) = c.as_marker_and_checkpoint(on_disk);
            (marker, cp, c.no_producer_state)
        }
        None => {
            let marker = storage::read(dir.join(CLEAN_SHUTDOWN_MARKER)).ok()?;
            (CleanShutdown::decode(&marker)?, on_disk?, false)
        }
    };
    if marker.active_base_offset != active || marker.active_log_size != active_size {
        return None;
    }
    let end = marker.log_end_offset;
    let first_unstable = if no_producer_state {
        None
    } else {
        let snapshot = storage::read(producer_state::snapshot_path(dir, end)).ok()?;
        ProducerStateManager::decode(&snapshot)?.first_unstable_offset()
    };
    Some(ColdOffsets {
        log_start_offset: cp.log_start_offset.max(oldest).min(end),
        log_end_offset: end,
        last_stable_offset: first_unstable.map_or(end, |f| f.min(end)),
    })
}

/// The largest timestamp of segment `base` as `LogSegment::largest_timestamp` gives it
/// for a closed segment: the last `.timeindex` entry (a closed segment's final entry
/// holds its largest timestamp), else the `.log`'s modification time.
fn largest_timestamp(dir: &Path, base: i64) -> Option<i64> {
    let from_index = (|| -> io::Result<Option<i64>> {
        let mut f = storage::open(segment_path(dir, base, TIME_INDEX_EXT))?;
        let len = f.metadata()?.len();
        if len < TIME_INDEX_ENTRY || len % TIME_INDEX_ENTRY != 0 {
            return Ok(None);
        }
        f.seek(SeekFrom::Start(len - TIME_INDEX_ENTRY))?;
        let mut entry = [0u8; TIME_INDEX_ENTRY as usize];
        f.read_exact(&mut entry)?;
        let ts = i64::from_be_bytes(entry[..8].try_into().expect("8 bytes"));
        Ok((ts >= 0).then_some(ts))
    })()
    .ok()
    .flatten();
    from_index.or_else(|| {
        storage::metadata(segment_path(dir, base, LOG_EXT))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
    })
}

/// The max timestamp of the first batch in segment `base`, -1 if it has none or it
/// cannot be read.
fn first_batch_timestamp(dir: &Path, base: i64) -> i64 {
    let header = (|| -> io::Result<Option<BatchHeader>> {
        let mut f = storage::open(segment_path(dir, base, LOG_EXT))?;
        let mut buf = Vec::with_capacity(crate::log::batch::RECORD_BATCH_OVERHEAD);
        (&mut f)
            .take(crate::log::batch::RECORD_BATCH_OVERHEAD as u64)
            .read_to_end(&mut buf)?;
        Ok(BatchHeader::parse(&buf))
    })();
    match header {
        Ok(Some(h)) => h.max_timestamp,
        _ => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::batch;
    use crate::log::PartitionLog;

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 200,
            ..LogConfig::default()
        }
    }

    #[test]
    fn a_cleanly_closed_log_reads_as_it_was_and_asks_for_nothing_it_does_not_need() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_000_000;
        let mut log = PartitionLog::open(dir.path(), config(), now).unwrap();
        for i in 0..6 {
            log.append(&batch(3, now + i, 10), now).unwrap();
        }
        let (size, segments) = (log.size_bytes(), log.segment_count());
        assert!(segments >= 2, "small segments roll");
        log.close().unwrap();
        drop(log);
        let s = ColdSummary::read(dir.path(), None).unwrap();
        assert_eq!((s.size_bytes, s.segments), (size, segments));
        assert!(!s.needs_open);
        let offsets = s.offsets(dir.path()).expect("cleanly closed");
        assert_eq!(offsets.log_end_offset, 18);
        assert_eq!(offsets.last_stable_offset, 18);
        assert_eq!(offsets.log_start_offset, 0);

        let keep = LogConfig {
            retention_ms: -1,
            retention_bytes: -1,
            ..config()
        };
        assert!(!s.needs_housekeeping(&keep, now));
        assert!(!s.needs_cleaning(&keep));
        // Time retention: the oldest segment's largest timestamp is now + 0..6.
        let week = LogConfig {
            retention_ms: 60_000,
            ..keep.clone()
        };
        assert!(!s.needs_housekeeping(&week, now + 10));
        assert!(s.needs_housekeeping(&week, now + 70_000));
        // Size retention: everything but the oldest segment still exceeds the bound.
        let small = LogConfig {
            retention_bytes: 1,
            ..keep.clone()
        };
        assert!(s.needs_housekeeping(&small, now));
        // segment.ms rolls the active segment once it is old enough.
        let roll = LogConfig {
            segment_ms: 1_000,
            ..keep.clone()
        };
        assert!(!s.needs_housekeeping(&roll, now + 500));
        assert!(s.needs_housekeeping(&roll, now + 5_000));
        let compact = LogConfig {
            cleanup_compact: true,
            ..keep
        };
        assert!(s.needs_cleaning(&compact));
    }

    #[test]
    fn the_offsets_are_those_open_finds_and_vanish_with_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_000_000;
        let mut log = PartitionLog::open(dir.path(), config(), now).unwrap();
        for i in 0..4 {
            log.append(&batch(2, now + i, 10), now).unwrap();
        }
        log.delete_records_before(3).unwrap();
        log.close().unwrap();
        drop(log);
        let offsets = ColdSummary::read(dir.path(), None)
            .unwrap()
            .offsets(dir.path())
            .unwrap();
        let log = PartitionLog::open(dir.path(), config(), now).unwrap();
        assert_eq!(
            offsets,
            ColdOffsets {
                log_start_offset: log.log_start_offset(),
                log_end_offset: log.log_end_offset(),
                last_stable_offset: log.last_stable_offset(),
            }
        );
        assert_eq!((offsets.log_start_offset, offsets.log_end_offset), (3, 8));
        drop(log);
        let s = ColdSummary::read(dir.path(), None).unwrap();
        assert!(
            s.needs_open && s.offsets(dir.path()).is_none(),
            "open took the marker"
        );
    }

    #[test]
    fn a_log_without_its_clean_shutdown_marker_needs_opening() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), config(), 1_000).unwrap();
        log.append(&batch(3, 1_000, 10), 1_000).unwrap();
        drop(log); // no close: what a kill -9 leaves
        let s = ColdSummary::read(dir.path(), None).unwrap();
        assert!(s.needs_open);
        assert!(s.offsets(dir.path()).is_none());
        assert!(s.needs_housekeeping(&config(), 1_000));
        let missing = ColdSummary::read(&dir.path().join("absent"), None).unwrap();
        assert!(missing.needs_open);
    }
}
