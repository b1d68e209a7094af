//! One cleaning pass over a [`CleanPlan`]: build the offset map from the dirty range,
//! then write a cleaned copy (`<base>.*.cleaned`, fsync'd) of every planned segment the
//! map covers. Runs without the partition lock, on zero-copy views of the segments.
//!
//! What is kept (Kafka's `Cleaner.shouldRetainRecord` and `shouldDiscardBatch`):
//! * a record whose key's latest offset in the map is not after it (so the latest
//!   record per key always stays), unless it is a tombstone (null value) below the
//!   map's end whose record timestamp is older than `delete.retention.ms`;
//! * nothing of a transaction aborted by a marker (the batches are dropped whole);
//! * a transaction marker, unless its transaction has no record left and the marker's
//!   timestamp is older than `delete.retention.ms` (an ABORT marker dropped this way
//!   also leaves the `.txnindex`);
//! * never a record without a key (a compacted topic refuses them at produce time; any
//!   written before the topic became compacted are dropped, as Kafka does).
//!
//! This module writes only `.cleaned` files; it must never rename, delete or write a
//! file of the live segment set, and never take the partition lock.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::offset_map::OffsetMap;
use super::records::{rebuild, records_of, walk, RawRecord};
use super::swap::{self, CLEANED_SUFFIX};
use super::{CleanOutput, CleanPlan, CleanedSegment, CleanerConfig, PlanSegment};
use crate::log::batch::{check_cleaned_batch, control_record_type, BatchHeader};
use crate::log::error::LogError;
use crate::log::file_names::{LOG_EXT, OFFSET_INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT};
use crate::log::segment::LogSegment;
use crate::log::storage;
use crate::log::txn_index::AbortedTxn;
use crate::log::TimestampType;

/// Aborted transactions by producer: (first offset, marker offset), by marker offset.
struct AbortedRanges(HashMap<i64, Vec<(i64, i64)>>);

impl AbortedRanges {
    fn new(aborted: &[AbortedTxn]) -> AbortedRanges {
        let mut m: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for a in aborted {
            m.entry(a.producer_id)
                .or_default()
                .push((a.first_offset, a.last_offset));
        }
        for v in m.values_mut() {
            v.sort_unstable_by_key(|r| r.1);
        }
        AbortedRanges(m)
    }

    /// The batch belongs to a transaction that was aborted.
    fn covers(&self, h: &BatchHeader) -> bool {
        if !h.is_transactional() || h.is_control() {
            return false;
        }
        let Some(v) = self.0.get(&h.producer_id) else {
            return false;
        };
        let i = v.partition_point(|r| r.1 < h.base_offset);
        v.get(i).is_some_and(|r| r.0 <= h.base_offset)
    }
}

/// Headers and positions of a segment's batches (a view the cleaner can trust: the
/// segment passed validation when it was written or recovered).
fn batches(seg: &PlanSegment) -> Result<Vec<(usize, BatchHeader)>, LogError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < seg.bytes.len() {
        let rest = &seg.bytes[pos..];
        // The looser check accepts every batch the strict one does (and cleaned ones).
        let h = check_cleaned_batch(rest).map_err(|e| {
            LogError::Corrupt(format!("segment {} position {pos}: {e:?}", seg.base_offset))
        })?;
        out.push((pos, h));
        pos += h.total_size();
    }
    Ok(out)
}

fn record_timestamp(h: &BatchHeader, r: &RawRecord<'_>) -> i64 {
    match h.timestamp_type() {
        TimestampType::LogAppendTime => h.max_timestamp,
        TimestampType::CreateTime => h.base_timestamp.saturating_add(r.timestamp_delta),
    }
}

fn cancelled() -> LogError {
    LogError::Io(io::Error::new(
        io::ErrorKind::Interrupted,
        "cleaning cancelled",
    ))
}

/// Fills `map` from the dirty range and returns the map's end: the first offset not
/// covered (every offset below it has been through some pass's map).
fn build_offset_map(
    plan: &CleanPlan,
    map: &mut OffsetMap,
    aborted: &AbortedRanges,
    cancel: &AtomicBool,
) -> Result<i64, LogError> {
    for seg in plan
        .segments
        .iter()
        .filter(|s| s.next_offset > plan.first_dirty)
    {
        for (pos, h) in batches(seg)? {
            if cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            if h.last_offset() < plan.first_dirty || h.is_control() || aborted.covers(&h) {
                continue;
            }
            let batch = seg.bytes.slice(pos..pos + h.total_size());
            let body = records_of(&batch, &h).map_err(LogError::Corrupt)?;
            for r in walk(&body, h.record_count).map_err(LogError::Corrupt)? {
                let offset = h.base_offset + r.offset_delta as i64;
                let Some(key) = r.key else { continue };
                if offset < plan.first_dirty {
                    continue;
                }
                if !map.put(key, offset) {
                    // Full: clean the prefix that fitted (Kafka does the same).
                    return Ok(if map.is_empty() {
                        plan.first_dirty
                    } else {
                        map.latest_offset() + 1
                    });
                }
            }
        }
    }
    Ok(plan.upper)
}

/// State carried across the batches of one pass.
struct Pass<'a> {
    plan: &'a CleanPlan,
    map: &'a OffsetMap,
    aborted: &'a AbortedRanges,
    clean_end: i64,
    horizon: i64,
    /// Producer id -> whether its current transaction still has a kept record.
    txn_has_data: HashMap<i64, bool>,
    dropped_abort_markers: Vec<i64>,
}

impl Pass<'_> {
    /// The bytes to write for one stored batch (`None`: drop it).
    fn filter_batch(
        &mut self,
        batch: &Bytes,
        h: &BatchHeader,
    ) -> Result<Option<Vec<u8>>, LogError> {
        if h.is_control() {
            let has_data = self.txn_has_data.remove(&h.producer_id).unwrap_or(false);
            let removable =
                !has_data && h.max_timestamp < self.horizon && h.last_offset() < self.clean_end;
            if !removable {
                return Ok(Some(batch.to_vec()));
            }
            if let Some((crate::log::batch::ControlType::Abort, _)) = control_record_type(batch) {
                self.dropped_abort_markers.push(h.base_offset);
            }
            return Ok(None);
        }
        if self.aborted.covers(h) {
            return Ok(None);
        }
        let body = records_of(batch, h).map_err(LogError::Corrupt)?;
        let records = walk(&body, h.record_count).map_err(LogError::Corrupt)?;
        let kept: Vec<RawRecord<'_>> = records
            .iter()
            .filter(|r| self.retain(h, r))
            .copied()
            .collect();
        if h.is_transactional() && h.producer_id >= 0 {
            let e = self.txn_has_data.entry(h.producer_id).or_insert(false);
            *e |= !kept.is_empty();
        }
        if kept.is_empty() {
            Ok(None)
        } else if kept.len() == records.len() {
            Ok(Some(batch.to_vec()))
        } else {
            rebuild(batch, h, &kept)
                .map(Some)
                .map_err(LogError::Corrupt)
        }
    }

    fn retain(&self, h: &BatchHeader, r: &RawRecord<'_>) -> bool {
        let offset = h.base_offset + r.offset_delta as i64;
        let Some(key) = r.key else { return false };
        if self.map.get(key).is_some_and(|latest| offset < latest) {
            return false;
        }
        // A tombstone the map covered has no older record left below the map's end
        // (they are removed in this same pass), so once old enough it can go too.
        let expired = record_timestamp(h, r) < self.horizon;
        r.has_value || offset >= self.clean_end || !expired
    }

    /// Writes the cleaned copy of `seg` as `.cleaned` files and returns its new size.
    fn clean_segment(&mut self, seg: &PlanSegment, cancel: &AtomicBool) -> Result<u64, LogError> {
        let dir = &self.plan.dir;
        let base = seg.base_offset;
        let log_path = swap::path(dir, base, LOG_EXT, CLEANED_SUFFIX);
        let mut out = BufWriter::with_capacity(1 << 20, storage::create(&log_path)?);
        let mut size = 0u64;
        for (pos, h) in batches(seg)? {
            if cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            let batch = seg.bytes.slice(pos..pos + h.total_size());
            if let Some(bytes) = self.filter_batch(&batch, &h)? {
                out.write_all(&bytes)?;
                size += bytes.len() as u64;
            }
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        // The indexes are built by the same code that indexes appends and recovery.
        let mut cleaned = LogSegment::open_files(
            base,
            log_path,
            &swap::path(dir, base, OFFSET_INDEX_EXT, CLEANED_SUFFIX),
            &swap::path(dir, base, TIME_INDEX_EXT, CLEANED_SUFFIX),
            true,
            &self.plan.config.file_cache,
        )?;
        cleaned.allow_gaps = true;
        if let Some(why) = cleaned.recover(&self.plan.config, self.plan.now_ms)? {
            return Err(LogError::Corrupt(format!(
                "cleaned segment {base} does not read back: {why}"
            )));
        }
        cleaned.become_inactive()?;
        let entries: Vec<AbortedTxn> = self
            .plan
            .aborted
            .iter()
            .filter(|a| a.last_offset >= base && a.last_offset < seg.next_offset)
            .filter(|a| !self.dropped_abort_markers.contains(&a.last_offset))
            .copied()
            .collect();
        write_txn_index(dir, base, &entries)?;
        Ok(size)
    }
}

fn write_txn_index(dir: &Path, base: i64, entries: &[AbortedTxn]) -> io::Result<()> {
    let mut f = storage::create(swap::path(dir, base, TXN_INDEX_EXT, CLEANED_SUFFIX))?;
    for e in entries {
        f.write_all(&e.encode())?;
    }
    f.sync_all()
}

/// Runs the pass. On error (or cancellation) every `.cleaned` file it wrote is removed.
pub fn clean(
    plan: &CleanPlan,
    config: &CleanerConfig,
    cancel: &AtomicBool,
) -> Result<CleanOutput, LogError> {
    let aborted = AbortedRanges::new(&plan.aborted);
    let mut map = OffsetMap::new(config.dedupe_buffer_size, config.load_factor);
    let clean_end = build_offset_map(plan, &mut map, &aborted, cancel)?;
    let mut pass = Pass {
        plan,
        map: &map,
        aborted: &aborted,
        clean_end,
        horizon: plan
            .now_ms
            .saturating_sub(plan.config.delete_retention_ms.max(0)),
        txn_has_data: HashMap::new(),
        dropped_abort_markers: Vec::new(),
    };
    let mut segments = Vec::new();
    if clean_end > plan.first_dirty {
        for seg in plan.segments.iter().filter(|s| s.base_offset < clean_end) {
            match pass.clean_segment(seg, cancel) {
                Ok(new_size) => segments.push(CleanedSegment {
                    base_offset: seg.base_offset,
                    old_size: seg.bytes.len() as u64,
                    new_size,
                }),
                Err(e) => {
                    for s in segments
                        .iter()
                        .map(|s| s.base_offset)
                        .chain([seg.base_offset])
                    {
                        if let Err(e) = swap::discard(&plan.dir, s) {
                            tracing::warn!(dir = %plan.dir.display(), base = s, "cannot remove cleaned files: {e}");
                        }
                    }
                    return Err(e);
                }
            }
        }
    }
    Ok(CleanOutput {
        segments,
        clean_end,
        dropped_abort_markers: pass.dropped_abort_markers,
        keys: map.len(),
        now_ms: plan.now_ms,
    })
}
