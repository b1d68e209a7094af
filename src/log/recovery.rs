//! Loading a partition directory in `open` (Kafka's `LogLoader`): find the
//! segments, decide which to trust, scan and repair the rest.
//!
//! Rules: after a clean shutdown (a valid marker, or the log directory's
//! `clean-shutdown.logs` entry, matching the active segment) nothing is scanned.
//! Otherwise a segment is trusted only when the next segment starts at or below the
//! recovery point (so it was fsync'd whole); every other
//! segment is scanned batch by batch, its indexes rebuilt, and the `.log` cut at
//! the first torn or invalid batch, deleting every later segment. Valid batches
//! before the first bad one are never dropped, and nothing is guessed. Stray
//! `*.tmp` files and orphan index files are deleted. Log compaction: an interrupted
//! segment swap is finished or rolled back first (`cleaner::swap::recover_dir`:
//! `.cleaned` files are deleted, committed `.swap` files complete the swap), and
//! segments that may have been cleaned (base below the cleaner checkpoint's
//! `gaps_below`, or every closed segment of a compacted log without a valid cleaner
//! checkpoint) are checked for increasing rather than contiguous offsets. This module
//! never runs after `open` returns.

use std::collections::BTreeSet;
use std::path::Path;

use crate::log::checkpoint::{self, Checkpoint};
use crate::log::cleaner::{swap as cleaner_swap, CleanerCheckpoint};
use crate::log::config::LogConfig;
use crate::log::error::LogError;
use crate::log::file_names::{
    parse_segment_name, segment_path, LOG_EXT, OFFSET_INDEX_EXT, TIME_INDEX_EXT, TMP_SUFFIX,
    TXN_INDEX_EXT,
};
use crate::log::log_dir_shutdown::{self, ClosedLog};
use crate::log::segment::LogSegment;
use crate::log::storage;

pub struct LoadedLog {
    pub segments: Vec<LogSegment>,
    pub log_start_offset: i64,
    pub recovery_point: i64,
    /// The cleaner checkpoint, if valid.
    pub cleaner: Option<CleanerCheckpoint>,
    /// Trusted whole as a clean shutdown left it: nothing was scanned.
    pub clean_shutdown: bool,
    /// The checkpoint later writes compare with (`None`: write one at the first
    /// chance): the values above, unless a log directory's `clean-shutdown.logs` entry
    /// moved them past what `recovery-point.checkpoint` holds.
    pub checkpoint_written: Option<Checkpoint>,
}

/// Loads `dir`. `closed`: this log's entry in its log directory's `clean-shutdown.logs`
/// (`crate::log::log_dir_shutdown`), which stands in for the marker and moves the log
/// start offset and recovery point forward as a checkpoint would.
pub fn load(
    dir: &Path,
    config: &LogConfig,
    now_ms: i64,
    closed: Option<ClosedLog>,
) -> Result<LoadedLog, LogError> {
    storage::create_dir_all(dir)?;
    // The log directory's entry holds only until this log may change: marked taken here,
    // durably, before anything below writes (a crash from here on recovers the log).
    let closed = match closed {
        Some(c) if !log_dir_shutdown::is_taken(dir, c.generation) => {
            log_dir_shutdown::mark_taken(dir, c.generation)?;
            Some(c)
        }
        _ => None,
    };
    // Log compaction: finish or roll back a swap interrupted by a crash, so the
    // segment files below are either all old or all new for each base offset.
    cleaner_swap::recover_dir(dir)?;
    let cleaner = cleaner_swap::read_checkpoint(dir)?;
    let mut logs = BTreeSet::new();
    let mut indexes = Vec::new();
    for entry in storage::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(&format!(".{TMP_SUFFIX}")) {
            tracing::info!(file = %entry.path().display(), "deleting stray temporary file");
            storage::remove_file(entry.path())?;
            continue;
        }
        match parse_segment_name(name) {
            Some((base, LOG_EXT)) => {
                logs.insert(base);
            }
            Some((base, OFFSET_INDEX_EXT | TIME_INDEX_EXT | TXN_INDEX_EXT)) => {
                indexes.push((base, entry.path()))
            }
            _ => {}
        }
    }
    for (base, path) in indexes {
        if !logs.contains(&base) {
            tracing::info!(file = %path.display(), "deleting index without a segment");
            storage::remove_file(&path)?;
        }
    }

    let cp_on_disk = checkpoint::read_checkpoint(dir)?;
    // Taken (removed) even when the log directory's entry is used instead: it is older.
    let file_marker = checkpoint::take_clean_shutdown(dir)?;
    let (marker, cp) = match closed {
        Some(c) => {
            let (marker, cp) = c.as_marker_and_checkpoint(cp_on_disk);
            (Some(marker), Some(cp))
        }
        None => (file_marker, cp_on_disk),
    };
    let mut bases: Vec<i64> = logs.into_iter().collect();

    if bases.is_empty() {
        let start = cp.map_or(0, |c| c.log_start_offset.max(0));
        let seg = LogSegment::create(dir, start, config)?;
        return Ok(LoadedLog {
            segments: vec![seg],
            log_start_offset: start,
            recovery_point: start,
            cleaner,
            clean_shutdown: false,
            checkpoint_written: Some(Checkpoint {
                log_start_offset: start,
                recovery_point: start,
            }),
        });
    }

    // Segments wholly below the checkpointed log start offset were already given
    // up by retention (the checkpoint is written before files are unlinked).
    if let Some(c) = cp {
        while bases.len() > 1 && bases[1] <= c.log_start_offset {
            let base = bases.remove(0);
            tracing::info!(base, "deleting segment below the log start offset");
            LogSegment::open_existing(dir, base, false, &config.file_cache)?.delete()?;
        }
    }

    let last_base = *bases.last().expect("non-empty");
    let clean = match (marker, cp) {
        (Some(m), Some(_)) => {
            let size = storage::metadata(segment_path(dir, last_base, LOG_EXT))?.len();
            m.active_base_offset == last_base && m.active_log_size == size
        }
        _ => false,
    };
    let recovery_point = match cp {
        Some(c) if clean => c.recovery_point,
        Some(c) => c.recovery_point,
        None => i64::MIN,
    };

    let mut segments: Vec<LogSegment> = Vec::with_capacity(bases.len());
    let mut scanned_any = false;
    let mut i = 0;
    while i < bases.len() {
        let base = bases[i];
        let next_base = bases.get(i + 1).copied();
        let trusted = clean || next_base.is_some_and(|nb| nb <= recovery_point);
        let mut seg = LogSegment::open_existing(dir, base, !trusted, &config.file_cache)?;
        // Segments the cleaner may have rewritten have offset gaps (log compaction).
        seg.allow_gaps = match cleaner {
            Some(c) => base < c.gaps_below,
            None => config.cleanup_compact && next_base.is_some(),
        };
        let mut must_scan = !trusted;
        if trusted {
            if let Err(why) = seg.load_trusted(next_base, config.index_interval_bytes, now_ms) {
                tracing::warn!(dir = %dir.display(), base, "rebuilding segment: {why}");
                must_scan = true;
            } else if next_base.is_none() {
                if let Some(m) = marker {
                    if m.log_end_offset != seg.next_offset {
                        tracing::warn!(
                            base,
                            "clean-shutdown marker disagrees with the log, scanning"
                        );
                        must_scan = true;
                    }
                }
            }
        }
        let mut cut = false;
        if must_scan {
            scanned_any = true;
            if let Some(why) = seg.recover(config, now_ms)? {
                tracing::warn!(dir = %dir.display(), base, "truncated segment: {why}");
                cut = true;
            }
            if let Some(nb) = next_base {
                if !cut && seg.next_offset > nb {
                    return Err(LogError::Corrupt(format!(
                        "segment {base} ends at offset {} past the next segment's base {nb}",
                        seg.next_offset
                    )));
                }
                // Without compaction offsets are contiguous: a segment that ends
                // short of the next one lost its tail, so the log ends here.
                if !cut && seg.next_offset < nb && !seg.allow_gaps {
                    tracing::warn!(
                        dir = %dir.display(), base,
                        "segment ends at offset {} but the next one starts at {nb}",
                        seg.next_offset
                    );
                    cut = true;
                }
            }
        }
        segments.push(seg);
        if cut {
            for &later in &bases[i + 1..] {
                tracing::warn!(dir = %dir.display(), base = later, "deleting segment after the truncation point");
                LogSegment::open_existing(dir, later, false, &config.file_cache)?.delete()?;
            }
            break;
        }
        i += 1;
    }

    let n = segments.len();
    for (i, seg) in segments.iter_mut().enumerate() {
        if i + 1 < n {
            // Rebuilt non-active indexes get their final entry and are trimmed now.
            if seg.indexes_untrimmed() {
                seg.become_inactive()?;
            }
        } else {
            seg.become_active(config)?;
        }
    }

    let log_end_offset = segments.last().expect("non-empty").next_offset;
    let first_base = segments[0].base_offset;
    let log_start_offset = cp
        .map_or(first_base, |c| c.log_start_offset.max(first_base))
        .min(log_end_offset);
    let recovery_point = if clean && !scanned_any {
        log_end_offset
    } else if scanned_any {
        // What was scanned may still sit only in the page cache: make it durable
        // before the checkpoint claims it.
        for seg in &mut segments {
            if seg.synced_next_offset < seg.next_offset || seg.size() == 0 {
                seg.sync_all()?;
                seg.mark_synced(i64::MAX);
            }
        }
        checkpoint::sync_dir(dir)?;
        let written = Checkpoint {
            log_start_offset,
            recovery_point: log_end_offset,
        };
        checkpoint::write_checkpoint(dir, &written)?;
        log_end_offset
    } else {
        recovery_point.clamp(first_base, log_end_offset)
    };
    let loaded = Checkpoint {
        log_start_offset,
        recovery_point,
    };
    let checkpoint_written = if closed.is_some() && !scanned_any && cp_on_disk != Some(loaded) {
        cp_on_disk
    } else {
        Some(loaded)
    };
    Ok(LoadedLog {
        segments,
        log_start_offset,
        recovery_point,
        cleaner,
        clean_shutdown: clean && !scanned_any,
        checkpoint_written,
    })
}
