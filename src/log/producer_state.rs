//! Producer state of one partition (Kafka's `ProducerStateManager`): for each
//! idempotent producer id, its epoch and the sequence ranges and offsets of its last
//! five batches, so a retried batch is recognised and answered with its original
//! offsets instead of being appended twice, and a gap or a stale epoch is refused.
//!
//! State is snapshotted to `<offset>.snapshot` files beside the segments (at roll and
//! close) and rebuilt at open from the newest snapshot plus the batch headers after it.
//! This module only reads batch headers; it never decodes records, and it never
//! touches sockets or Kafka request types.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::log::batch::BatchHeader;
use crate::log::batch::ControlType;
use crate::log::error::AppendError;
use crate::log::file_names::segment_file_name;
use crate::log::storage;

/// Kafka keeps this many batches per producer, which is why idempotent producers may
/// have at most five requests in flight.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;
pub use crate::log::file_names::SNAPSHOT_EXT as SNAPSHOT_SUFFIX;
const SNAPSHOT_VERSION: i16 = 1;
/// version (2) + crc (4) + producer count (4)
const SNAPSHOT_HEADER: usize = 10;
/// producer id (8) + epoch (2) + last timestamp (8) + coordinator epoch (4) +
/// current transaction's first offset (8) + batch count (1)
const PRODUCER_FIXED: usize = 31;
/// first seq (4) + last seq (4) + first offset (8) + last offset (8) + timestamp (8)
const BATCH_ENTRY: usize = 32;

/// Where one of a producer's batches landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_epoch: i16,
    /// Oldest first, at most [`NUM_BATCHES_TO_RETAIN`].
    pub batches: VecDeque<BatchMetadata>,
    /// Max timestamp of the producer's last batch (Kafka expires producers by it).
    pub last_timestamp: i64,
    /// Epoch of the transaction coordinator that wrote this producer's last marker.
    pub coordinator_epoch: i32,
    /// First offset of the producer's open transaction in this partition, if any:
    /// the last stable offset cannot pass it until a marker completes it.
    pub current_txn_first_offset: Option<i64>,
}

/// A transaction completed by a marker (Kafka's `CompletedTxn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The marker's offset.
    pub last_offset: i64,
    pub aborted: bool,
}

/// What to do with an incoming batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Not idempotent, or in sequence: append it.
    Append,
    /// A retry of a batch already in the log: answer with these offsets.
    Duplicate(BatchMetadata),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// (first offset, producer id) of every open transaction, to find the first
    /// unstable offset without scanning all producers.
    ongoing: BTreeSet<(i64, i64)>,
}

/// The sequence number of a batch's last record; sequences wrap to 0 after i32::MAX.
pub fn last_sequence(h: &BatchHeader) -> i32 {
    if h.base_sequence < 0 {
        return h.base_sequence;
    }
    let last = h.base_sequence as i64 + h.last_offset_delta as i64;
    if last > i32::MAX as i64 {
        (last - i32::MAX as i64 - 1) as i32
    } else {
        last as i32
    }
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq as i64 == last_seq as i64 + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

fn is_idempotent(h: &BatchHeader) -> bool {
    h.producer_id >= 0 && !h.is_control()
}

impl ProducerStateManager {
    pub fn new() -> ProducerStateManager {
        ProducerStateManager::default()
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Checks a batch against the producer's state (Kafka's duplicate check, then
    /// `ProducerAppendInfo.checkProducerEpoch` and `checkSequence`).
    pub fn check(&self, h: &BatchHeader) -> Result<SequenceCheck, AppendError> {
        if h.is_control() && h.producer_id >= 0 {
            // A marker from an older epoch than the producer's is from a fenced
            // coordinator round; Kafka refuses it.
            return match self.producers.get(&h.producer_id) {
                Some(e) if h.producer_epoch < e.producer_epoch => {
                    Err(AppendError::InvalidProducerEpoch(format!(
                        "marker epoch {} of producer {} is older than the current epoch {}",
                        h.producer_epoch, h.producer_id, e.producer_epoch
                    )))
                }
                _ => Ok(SequenceCheck::Append),
            };
        }
        if !is_idempotent(h) {
            return Ok(SequenceCheck::Append);
        }
        let Some(entry) = self.producers.get(&h.producer_id) else {
            // Unknown producer: its state may have expired or been removed with old
            // segments, so any sequence is accepted (KIP-360, Kafka 2.5+).
            return Ok(SequenceCheck::Append);
        };
        if h.producer_epoch < entry.producer_epoch {
            return Err(AppendError::InvalidProducerEpoch(format!(
                "epoch {} of producer {} is older than the current epoch {}",
                h.producer_epoch, h.producer_id, entry.producer_epoch
            )));
        }
        let last_seq = last_sequence(h);
        if h.producer_epoch > entry.producer_epoch {
            if h.base_sequence != 0 {
                return Err(AppendError::OutOfOrderSequence(format!(
                    "invalid sequence number {} for new epoch {} of producer {} (a new epoch starts at 0)",
                    h.base_sequence, h.producer_epoch, h.producer_id
                )));
            }
            return Ok(SequenceCheck::Append);
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
        {
            return Ok(SequenceCheck::Duplicate(*dup));
        }
        match entry.batches.back() {
            None => Ok(SequenceCheck::Append),
            Some(prev) if in_sequence(prev.last_seq, h.base_sequence) => Ok(SequenceCheck::Append),
            Some(prev) => Err(AppendError::OutOfOrderSequence(format!(
                "out of order sequence number for producer {} epoch {}: {} (incoming seq. number), {} (current end sequence number)",
                h.producer_id, h.producer_epoch, h.base_sequence, prev.last_seq
            ))),
        }
    }

    /// Kafka has no count bound on producer state; Sluice has two (see
    /// `sluice.producer.state.max.producers` / `...max.ongoing.transactions`): refuses
    /// batches that would make this partition remember more than `max_producers`
    /// producers or hold more than `max_ongoing` open transactions. Only new producers
    /// and newly opened transactions count, so producers already known go on; control
    /// batches (markers) are never refused.
    pub fn check_limits<'a>(
        &self,
        headers: impl IntoIterator<Item = &'a BatchHeader>,
        max_producers: usize,
        max_ongoing: usize,
    ) -> Result<(), AppendError> {
        // Almost always one batch, so linear look-ups in tiny vectors.
        let mut new_producers: Vec<i64> = Vec::new();
        let mut new_txns: Vec<i64> = Vec::new();
        for h in headers {
            if !is_idempotent(h) {
                continue;
            }
            let known = self.producers.get(&h.producer_id);
            if known.is_none() && !new_producers.contains(&h.producer_id) {
                new_producers.push(h.producer_id);
            }
            if h.is_transactional()
                && known.is_none_or(|e| e.current_txn_first_offset.is_none())
                && !new_txns.contains(&h.producer_id)
            {
                new_txns.push(h.producer_id);
            }
        }
        if !new_producers.is_empty() && self.producers.len() + new_producers.len() > max_producers {
            return Err(AppendError::ProducerStateLimit(format!(
                "this partition already remembers {} producers (sluice.producer.state.max.producers = {max_producers}); producer {} is refused until idle producers expire",
                self.producers.len(),
                new_producers[0]
            )));
        }
        if !new_txns.is_empty() && self.ongoing.len() + new_txns.len() > max_ongoing {
            return Err(AppendError::ProducerStateLimit(format!(
                "this partition already has {} open transactions (sluice.producer.state.max.ongoing.transactions = {max_ongoing}); producer {} cannot open another one here",
                self.ongoing.len(),
                new_txns[0]
            )));
        }
        Ok(())
    }

    /// How many transactions are open here.
    pub fn ongoing_len(&self) -> usize {
        self.ongoing.len()
    }

    /// Records a batch as written (offsets assigned). `control` is the marker type of
    /// a control batch. Returns the transaction a marker completed, if any.
    pub fn update(
        &mut self,
        h: &BatchHeader,
        control: Option<(ControlType, i32)>,
    ) -> Option<CompletedTxn> {
        if h.producer_id < 0 {
            return None;
        }
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry {
                producer_epoch: h.producer_epoch,
                batches: VecDeque::new(),
                last_timestamp: h.max_timestamp,
                coordinator_epoch: -1,
                current_txn_first_offset: None,
            });
        if h.producer_epoch > entry.producer_epoch {
            entry.producer_epoch = h.producer_epoch;
            entry.batches.clear();
        }
        entry.last_timestamp = entry.last_timestamp.max(h.max_timestamp);
        if h.is_control() {
            let (kind, coordinator_epoch) = control?;
            entry.coordinator_epoch = coordinator_epoch;
            let first = entry.current_txn_first_offset.take()?;
            self.ongoing.remove(&(first, h.producer_id));
            return Some(CompletedTxn {
                producer_id: h.producer_id,
                first_offset: first,
                last_offset: h.base_offset,
                aborted: kind == ControlType::Abort,
            });
        }
        if h.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(h.base_offset);
            self.ongoing.insert((h.base_offset, h.producer_id));
        }
        entry.batches.push_back(BatchMetadata {
            first_seq: h.base_sequence,
            last_seq: last_sequence(h),
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
            timestamp: h.max_timestamp,
        });
        while entry.batches.len() > NUM_BATCHES_TO_RETAIN {
            entry.batches.pop_front();
        }
        None
    }

    /// The first offset of the oldest open transaction: the last stable offset is the
    /// smaller of this and the high watermark.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.first().map(|(offset, _)| *offset)
    }

    /// Open transactions: (producer id, epoch, first offset).
    pub fn ongoing_transactions(&self) -> Vec<(i64, i16, i64)> {
        self.ongoing
            .iter()
            .map(|(offset, pid)| (*pid, self.producers[pid].producer_epoch, *offset))
            .collect()
    }

    /// Every producer, for DescribeProducers: (id, entry).
    pub fn producers(&self) -> impl Iterator<Item = (&i64, &ProducerEntry)> {
        self.producers.iter()
    }

    /// Forgets producers whose last batch is older than `expiration_ms`
    /// (`producer.id.expiration.ms`). Returns how many were removed.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        // A producer with an open transaction is kept: the coordinator will end it.
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Serialises the state; see storage-format.md, "`<offset>.snapshot`".
    pub fn encode(&self) -> Vec<u8> {
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        let mut out =
            Vec::with_capacity(SNAPSHOT_HEADER + ids.len() * (PRODUCER_FIXED + BATCH_ENTRY));
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(ids.len() as i32).to_be_bytes());
        for id in ids {
            let e = &self.producers[&id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.producer_epoch.to_be_bytes());
            out.extend_from_slice(&e.last_timestamp.to_be_bytes());
            out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            out.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
            out.push(e.batches.len() as u8);
            for b in &e.batches {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.first_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
                out.extend_from_slice(&b.timestamp.to_be_bytes());
            }
        }
        let crc = crc32fast::hash(&out[6..]);
        out[2..6].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Parses a snapshot; `None` if it is torn, corrupt or of an unknown version.
    pub fn decode(bytes: &[u8]) -> Option<ProducerStateManager> {
        if bytes.len() < SNAPSHOT_HEADER {
            return None;
        }
        let version = i16::from_be_bytes(bytes[0..2].try_into().ok()?);
        let crc = u32::from_be_bytes(bytes[2..6].try_into().ok()?);
        if version != SNAPSHOT_VERSION || crc32fast::hash(&bytes[6..]) != crc {
            return None;
        }
        let count = i32::from_be_bytes(bytes[6..10].try_into().ok()?);
        let mut at = SNAPSHOT_HEADER;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = bytes.get(at..at + n)?;
            at += n;
            Some(s)
        };
        let mut producers = HashMap::new();
        let mut ongoing = BTreeSet::new();
        for _ in 0..count.max(0) {
            let fixed = take(PRODUCER_FIXED)?;
            let id = i64::from_be_bytes(fixed[0..8].try_into().ok()?);
            let producer_epoch = i16::from_be_bytes(fixed[8..10].try_into().ok()?);
            let last_timestamp = i64::from_be_bytes(fixed[10..18].try_into().ok()?);
            let coordinator_epoch = i32::from_be_bytes(fixed[18..22].try_into().ok()?);
            let txn_first = i64::from_be_bytes(fixed[22..30].try_into().ok()?);
            let n = fixed[30] as usize;
            if n > NUM_BATCHES_TO_RETAIN {
                return None;
            }
            let mut batches = VecDeque::with_capacity(n);
            for _ in 0..n {
                let b = take(BATCH_ENTRY)?;
                batches.push_back(BatchMetadata {
                    first_seq: i32::from_be_bytes(b[0..4].try_into().ok()?),
                    last_seq: i32::from_be_bytes(b[4..8].try_into().ok()?),
                    first_offset: i64::from_be_bytes(b[8..16].try_into().ok()?),
                    last_offset: i64::from_be_bytes(b[16..24].try_into().ok()?),
                    timestamp: i64::from_be_bytes(b[24..32].try_into().ok()?),
                });
            }
            let current_txn_first_offset = (txn_first >= 0).then_some(txn_first);
            if let Some(first) = current_txn_first_offset {
                ongoing.insert((first, id));
            }
            producers.insert(
                id,
                ProducerEntry {
                    producer_epoch,
                    batches,
                    last_timestamp,
                    coordinator_epoch,
                    current_txn_first_offset,
                },
            );
        }
        if at != bytes.len() {
            return None;
        }
        Some(ProducerStateManager { producers, ongoing })
    }
}

pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(segment_file_name(offset, SNAPSHOT_SUFFIX))
}

/// Writes `<offset>.snapshot` (temp file, fsync, rename, directory fsync).
pub fn write_snapshot(dir: &Path, offset: i64, state: &ProducerStateManager) -> io::Result<()> {
    write_snapshot_with(dir, offset, state, true)
}

/// [`write_snapshot`] with the fsyncs left to the caller's one sync of the whole file
/// system (`crate::log::fs_sync`): until then a crash may leave the snapshot torn, which
/// its CRC turns into "absent" (an older snapshot or a replay).
pub fn write_snapshot_with(
    dir: &Path,
    offset: i64,
    state: &ProducerStateManager,
    fsync: bool,
) -> io::Result<()> {
    let path = snapshot_path(dir, offset);
    let tmp = path.with_extension(format!(
        "{SNAPSHOT_SUFFIX}.{}",
        crate::log::file_names::TMP_SUFFIX
    ));
    {
        let mut f = storage::create(&tmp)?;
        f.write_all(&state.encode())?;
        if fsync {
            f.sync_all()?;
        }
    }
    storage::rename(&tmp, &path)?;
    if fsync {
        storage::sync_dir(dir)?;
    }
    Ok(())
}

/// Offsets of the snapshot files in `dir`, ascending.
pub fn list_snapshots(dir: &Path) -> io::Result<Vec<i64>> {
    let mut out = Vec::new();
    for entry in storage::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(&format!(".{SNAPSHOT_SUFFIX}")) {
            if let Ok(offset) = stem.parse::<i64>() {
                out.push(offset);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Loads the newest valid snapshot at or below `log_end_offset`, deleting snapshots
/// past the log end (their batches were truncated away) and unreadable ones. Returns
/// the snapshot's offset and state, or `None` if there is none.
pub fn load_latest_snapshot(
    dir: &Path,
    log_end_offset: i64,
) -> io::Result<Option<(i64, ProducerStateManager)>> {
    let offsets = list_snapshots(dir)?;
    for &offset in offsets.iter().rev() {
        let path = snapshot_path(dir, offset);
        if offset > log_end_offset {
            tracing::warn!(path = %path.display(), log_end_offset, "deleting producer snapshot past the log end");
            storage::remove_file(&path)?;
            continue;
        }
        match ProducerStateManager::decode(&storage::read(&path)?) {
            Some(state) => return Ok(Some((offset, state))),
            None => {
                tracing::warn!(path = %path.display(), "deleting unreadable producer snapshot");
                storage::remove_file(&path)?;
            }
        }
    }
    Ok(None)
}

/// Deletes snapshots below `offset` except the newest of them (still needed to rebuild
/// state for the segment that starts at or after it).
pub fn delete_snapshots_before(dir: &Path, offset: i64) -> io::Result<()> {
    let offsets = list_snapshots(dir)?;
    let older: Vec<i64> = offsets.into_iter().filter(|o| *o < offset).collect();
    for o in older.iter().take(older.len().saturating_sub(1)) {
        storage::remove_file(snapshot_path(dir, *o))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset: offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 1000,
            max_timestamp: 1000 + offset,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: count,
        }
    }

    #[test]
    fn retries_are_duplicates_and_gaps_are_refused() {
        let mut s = ProducerStateManager::new();
        let b0 = header(7, 0, 0, 3, 0);
        assert_eq!(s.check(&b0).unwrap(), SequenceCheck::Append);
        s.update(&b0, None);
        let b1 = header(7, 0, 3, 2, 3);
        assert_eq!(s.check(&b1).unwrap(), SequenceCheck::Append);
        s.update(&b1, None);
        // The retry of b0 is recognised with its original offsets.
        match s.check(&header(7, 0, 0, 3, 99)).unwrap() {
            SequenceCheck::Duplicate(m) => assert_eq!((m.first_offset, m.last_offset), (0, 2)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.check(&header(7, 0, 9, 1, 5)),
            Err(AppendError::OutOfOrderSequence(_))
        ));
        assert!(matches!(
            s.check(&header(7, -1, 5, 1, 5)),
            Err(AppendError::InvalidProducerEpoch(_))
        ));
        // A new epoch restarts at 0; anything else is out of order.
        assert!(matches!(
            s.check(&header(7, 1, 5, 1, 5)),
            Err(AppendError::OutOfOrderSequence(_))
        ));
        assert_eq!(
            s.check(&header(7, 1, 0, 1, 5)).unwrap(),
            SequenceCheck::Append
        );
        // Unknown producers and non-idempotent batches are always appended.
        assert_eq!(
            s.check(&header(8, 0, 42, 1, 5)).unwrap(),
            SequenceCheck::Append
        );
        assert_eq!(
            s.check(&header(-1, -1, -1, 1, 5)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn only_five_batches_are_kept_and_sequences_wrap() {
        let mut s = ProducerStateManager::new();
        for i in 0..7 {
            s.update(&header(1, 0, i, 1, i as i64), None);
        }
        let e = s.entry(1).unwrap();
        assert_eq!(e.batches.len(), NUM_BATCHES_TO_RETAIN);
        assert_eq!(e.batches.front().unwrap().first_seq, 2);
        assert_eq!(last_sequence(&header(1, 0, i32::MAX, 2, 0)), 0);
        let mut s = ProducerStateManager::new();
        s.update(&header(1, 0, i32::MAX - 1, 2, 0), None);
        assert_eq!(
            s.check(&header(1, 0, 0, 1, 2)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn snapshots_round_trip_and_reject_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ProducerStateManager::new();
        for i in 0..3 {
            s.update(&header(i, 2, 0, 4, i * 10), None);
        }
        write_snapshot(dir.path(), 30, &s).unwrap();
        write_snapshot(dir.path(), 50, &s).unwrap();
        let (offset, loaded) = load_latest_snapshot(dir.path(), 40).unwrap().unwrap();
        assert_eq!((offset, &loaded), (30, &s));
        assert_eq!(
            list_snapshots(dir.path()).unwrap(),
            vec![30],
            "snapshot past the log end is gone"
        );
        let mut bytes = s.encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(ProducerStateManager::decode(&bytes).is_none());
        assert!(ProducerStateManager::decode(&s.encode()[..20]).is_none());
    }

    #[test]
    fn markers_complete_transactions_and_bound_the_last_stable_offset() {
        let mut s = ProducerStateManager::new();
        let mut t = header(5, 0, 0, 2, 10);
        t.attributes = 0x10; // transactional
        s.update(&t, None);
        let mut u = header(6, 0, 0, 1, 12);
        u.attributes = 0x10;
        s.update(&u, None);
        assert_eq!(s.first_unstable_offset(), Some(10));
        let mut marker = header(5, 0, -1, 1, 13);
        marker.attributes = 0x30; // transactional + control
        let done = s.update(&marker, Some((ControlType::Abort, 4))).unwrap();
        assert_eq!(
            (done.first_offset, done.last_offset, done.aborted),
            (10, 13, true)
        );
        assert_eq!(s.first_unstable_offset(), Some(12));
        // The open transaction survives a snapshot round trip.
        let back = ProducerStateManager::decode(&s.encode()).unwrap();
        assert_eq!(back.first_unstable_offset(), Some(12));
        assert_eq!(back, s);
        // A marker with no open transaction completes nothing.
        assert!(s.update(&marker, Some((ControlType::Commit, 4))).is_none());
        assert_eq!(s.entry(5).unwrap().coordinator_epoch, 4);
    }

    #[test]
    fn limits_refuse_only_new_producers_and_new_transactions() {
        let txn = |pid, seq, offset| {
            let mut h = header(pid, 0, seq, 1, offset);
            h.attributes = 0x10; // transactional
            h
        };
        let limit =
            |r: Result<(), AppendError>| matches!(r, Err(AppendError::ProducerStateLimit(_)));
        let mut s = ProducerStateManager::new();
        s.update(&txn(1, 0, 0), None);
        s.update(&txn(2, 0, 1), None);
        assert_eq!(s.ongoing_len(), 2);
        // At two open transactions: the open ones go on, a third is refused, alone or
        // inside a larger append, and plain idempotent batches are not affected.
        assert!(s.check_limits([&txn(1, 1, 2)], 10, 2).is_ok());
        assert!(limit(s.check_limits([&txn(3, 0, 2)], 10, 2)));
        assert!(limit(s.check_limits([&txn(1, 1, 2), &txn(3, 0, 3)], 10, 2)));
        assert!(s.check_limits([&header(3, 0, 0, 1, 2)], 10, 2).is_ok());
        // Two new transactions in one append need two free slots.
        assert!(limit(s.check_limits([&txn(3, 0, 2), &txn(4, 0, 3)], 10, 3)));
        assert!(s
            .check_limits([&txn(3, 0, 2), &txn(4, 0, 3)], 10, 4)
            .is_ok());
        // At two producers: known ones go on, a new one is refused.
        assert!(s.check_limits([&header(2, 0, 1, 1, 2)], 2, 10).is_ok());
        assert!(limit(s.check_limits([&header(3, 0, 0, 1, 2)], 2, 10)));
        // Markers are never refused.
        let mut marker = header(9, 0, -1, 1, 3);
        marker.attributes = 0x30; // transactional + control
        assert!(s.check_limits([&marker], 0, 0).is_ok());
        // A marker completes producer 1's transaction: room for one more.
        marker.producer_id = 1;
        s.update(&marker, Some((ControlType::Commit, 0)));
        assert_eq!(s.ongoing_len(), 1);
        assert!(s.check_limits([&txn(3, 0, 4)], 10, 2).is_ok());
        // Producer 1's next transaction is a new one.
        s.update(&txn(2, 1, 5), None);
        assert!(limit(s.check_limits([&txn(1, 1, 6)], 10, 1)));
    }

    #[test]
    fn idle_producers_expire() {
        let mut s = ProducerStateManager::new();
        s.update(&header(1, 0, 0, 1, 0), None);
        assert_eq!(s.expire(1000 + 10, 5), 1);
        assert!(s.is_empty());
    }
}
