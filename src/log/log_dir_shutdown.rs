//! `clean-shutdown.logs`: one file per log directory saying which of its partition logs a
//! batched clean shutdown closed, and what each looked like then (Kafka keeps one
//! `.kafka_cleanshutdown` and one `recovery-point-offset-checkpoint` per log directory for
//! the same reason). Writing three small files in each of 50,000 partition directories
//! was most of the time of such a shutdown; one file per log directory replaces them.
//!
//! Each file carries a random generation. The broker reads it at start-up and hands each
//! partition its entry; a partition's first `open` first writes `clean-shutdown.taken`
//! (the generation) in its own directory, durably, and only then trusts the entry on the
//! same checks as a `clean-shutdown.marker`. So an entry stops counting as soon as its log
//! may change, while every partition not opened in a run keeps its entry through a crash
//! as well as through the next clean shutdown (which writes it again under a new
//! generation). This module only encodes, decodes, reads and writes these two files; what
//! an entry means for recovery is `recovery`'s business.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use uuid::Uuid;

use crate::log::checkpoint::{self, Checkpoint, CleanShutdown};
use crate::log::storage::{self, OpenOptions};

pub use crate::log::file_names::CLEAN_SHUTDOWN_TAKEN as TAKEN_FILE;
pub use crate::log::file_names::LOG_DIR_CLEAN_SHUTDOWN as FILE;

const MAGIC: &[u8; 4] = b"SLDS";
const TAKEN_MAGIC: &[u8; 4] = b"SLCT";
const VERSION: u16 = 1;
/// Magic, version, flags, generation, entry count.
const HEADER_LEN: usize = 20;
/// Topic id, partition, log start, log end, active base, active size, flags.
pub const ENTRY_LEN: usize = 56;
const CRC_LEN: usize = 4;
/// Magic, generation, CRC.
pub const TAKEN_LEN: usize = 16;
/// Entry flag: the producer state was empty at the log end, so no producer snapshot was
/// written at close and none is needed at open.
const NO_PRODUCER_STATE: u32 = 1;

/// A partition of a topic, as the file keys its entries: a topic deleted and created
/// again under the same name has another id, so an entry never outlives its topic.
pub type PartitionKey = (Uuid, i32);

/// What one log looked like when a batched clean shutdown closed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosedLog {
    /// The generation of the file the entry was read from (0 before it is written).
    pub generation: u64,
    pub log_start_offset: i64,
    /// Log end, active segment base and `.log` size, as a per-partition marker has them.
    pub shutdown: CleanShutdown,
    /// The producer state was empty at the log end (no snapshot written for it).
    pub no_producer_state: bool,
}

impl ClosedLog {
    /// What the entry says in place of the partition's own files, given the checkpoint
    /// the partition directory holds: the marker, and the checkpoint with the log start
    /// offset moved forward to the entry's where that is larger (the file's is never
    /// newer). The recovery point stays the file's (`i64::MIN` without one): the entry's
    /// log end counts only when the marker's checks pass.
    pub fn as_marker_and_checkpoint(
        &self,
        on_disk: Option<Checkpoint>,
    ) -> (CleanShutdown, Checkpoint) {
        let checkpoint = Checkpoint {
            log_start_offset: on_disk.map_or(self.log_start_offset, |f| {
                f.log_start_offset.max(self.log_start_offset)
            }),
            recovery_point: on_disk.map_or(i64::MIN, |f| f.recovery_point),
        };
        (self.shutdown, checkpoint)
    }
}

/// A fresh generation for the next file: random, so a `clean-shutdown.taken` left from
/// any earlier file never matches it.
pub fn new_generation() -> u64 {
    loop {
        let g = rand::random::<u64>();
        if g != 0 {
            return g;
        }
    }
}

pub fn encode(generation: u64, entries: &BTreeMap<PartitionKey, ClosedLog>) -> Vec<u8> {
    let count = u32::try_from(entries.len()).expect("fewer than 2^32 partitions");
    let mut b = Vec::with_capacity(HEADER_LEN + entries.len() * ENTRY_LEN + CRC_LEN);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&generation.to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    for ((topic_id, partition), e) in entries {
        b.extend_from_slice(topic_id.as_bytes());
        b.extend_from_slice(&partition.to_be_bytes());
        b.extend_from_slice(&e.log_start_offset.to_be_bytes());
        b.extend_from_slice(&e.shutdown.log_end_offset.to_be_bytes());
        b.extend_from_slice(&e.shutdown.active_base_offset.to_be_bytes());
        b.extend_from_slice(&e.shutdown.active_log_size.to_be_bytes());
        let flags = if e.no_producer_state {
            NO_PRODUCER_STATE
        } else {
            0
        };
        b.extend_from_slice(&flags.to_be_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    b
}

/// `None` unless magic, version, length (exactly the count's entries) and CRC all check;
/// every entry gets the file's generation.
pub fn decode(b: &[u8]) -> Option<BTreeMap<PartitionKey, ClosedLog>> {
    if b.len() < HEADER_LEN + CRC_LEN || &b[0..4] != MAGIC {
        return None;
    }
    if u16::from_be_bytes([b[4], b[5]]) != VERSION {
        return None;
    }
    let generation = u64::from_be_bytes(b[8..16].try_into().ok()?);
    let count = u32::from_be_bytes(b[16..20].try_into().ok()?) as usize;
    let body_len = count.checked_mul(ENTRY_LEN)?.checked_add(HEADER_LEN)?;
    if b.len() != body_len.checked_add(CRC_LEN)? {
        return None;
    }
    let crc = u32::from_be_bytes(b[body_len..].try_into().ok()?);
    if crc32fast::hash(&b[..body_len]) != crc {
        return None;
    }
    let i64_at = |e: &[u8], at: usize| i64::from_be_bytes(e[at..at + 8].try_into().expect("8"));
    let mut entries = BTreeMap::new();
    for e in b[HEADER_LEN..body_len].chunks_exact(ENTRY_LEN) {
        let topic_id = Uuid::from_bytes(e[0..16].try_into().expect("16"));
        let partition = i32::from_be_bytes(e[16..20].try_into().expect("4"));
        let flags = u32::from_be_bytes(e[52..56].try_into().expect("4"));
        let closed = ClosedLog {
            generation,
            log_start_offset: i64_at(e, 20),
            shutdown: CleanShutdown {
                log_end_offset: i64_at(e, 28),
                active_base_offset: i64_at(e, 36),
                active_log_size: i64_at(e, 44) as u64,
            },
            no_producer_state: flags & NO_PRODUCER_STATE != 0,
        };
        entries.insert((topic_id, partition), closed);
    }
    Some(entries)
}

/// The entries of `log_dir`'s file (a leftover `.tmp`, never renamed so never vouched
/// for, is removed). Absent or invalid: none (an invalid file is logged).
pub fn read(log_dir: &Path) -> io::Result<BTreeMap<PartitionKey, ClosedLog>> {
    let Some(bytes) = checkpoint::read_atomic(log_dir, FILE)? else {
        return Ok(BTreeMap::new());
    };
    match decode(&bytes) {
        Some(entries) => Ok(entries),
        None => {
            tracing::warn!(dir = %log_dir.display(), "ignoring invalid {FILE}: partitions it covered are recovered at their first use");
            Ok(BTreeMap::new())
        }
    }
}

/// Writes `log_dir`'s file under `generation` (`.tmp`, rename). With `fsync` false the
/// caller's sync of the file system makes it durable; until then a crash may leave it
/// torn, and its length and CRC make it read as absent.
pub fn write(
    log_dir: &Path,
    generation: u64,
    entries: &BTreeMap<PartitionKey, ClosedLog>,
    fsync: bool,
) -> io::Result<()> {
    checkpoint::write_replacing(log_dir, FILE, &encode(generation, entries), fsync)
}

/// Records durably in the partition directory `dir` that the entry of generation
/// `generation` no longer holds (its log is being opened, or was written after a batched
/// close). The file and the directory are fsync'd before this returns.
pub fn mark_taken(dir: &Path, generation: u64) -> io::Result<()> {
    let mut b = Vec::with_capacity(TAKEN_LEN);
    b.extend_from_slice(TAKEN_MAGIC);
    b.extend_from_slice(&generation.to_be_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(TAKEN_FILE))?;
    f.write_all(&b)?;
    f.sync_all()?;
    storage::sync_dir(dir)
}

/// Whether the entry of `generation` was taken in `dir`. A `clean-shutdown.taken` that
/// cannot be read or decoded (a crash while it was written) counts as taken: that only
/// costs a recovery scan.
pub fn is_taken(dir: &Path, generation: u64) -> bool {
    match storage::read(dir.join(TAKEN_FILE)) {
        Ok(b) => taken_generation(&b).is_none_or(|g| g == generation),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(_) => true,
    }
}

fn taken_generation(b: &[u8]) -> Option<u64> {
    if b.len() != TAKEN_LEN || &b[0..4] != TAKEN_MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes(b[12..16].try_into().ok()?);
    (crc32fast::hash(&b[..12]) == crc).then(|| u64::from_be_bytes(b[4..12].try_into().expect("8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(generation: u64, end: i64, empty: bool) -> ClosedLog {
        ClosedLog {
            generation,
            log_start_offset: 3,
            shutdown: CleanShutdown {
                log_end_offset: end,
                active_base_offset: end - 1,
                active_log_size: 4096,
            },
            no_producer_state: empty,
        }
    }

    #[test]
    fn round_trip_and_every_damage_reads_as_absent() {
        let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let g = 0x1122_3344_5566_7788;
        let entries: BTreeMap<PartitionKey, ClosedLog> = [
            ((id, 0), closed(g, 10, true)),
            ((id, 1), closed(g, 20, false)),
            ((Uuid::from_u128(7), 5), closed(g, 30, true)),
        ]
        .into_iter()
        .collect();
        let b = encode(g, &entries);
        assert_eq!(b.len(), HEADER_LEN + 3 * ENTRY_LEN + CRC_LEN);
        assert_eq!(decode(&b), Some(entries.clone()));
        assert_eq!(decode(&encode(g, &BTreeMap::new())), Some(BTreeMap::new()));
        for i in 0..b.len() {
            let mut flipped = b.clone();
            flipped[i] ^= 0x40;
            assert_eq!(decode(&flipped), None, "byte {i} flipped");
        }
        for len in 0..b.len() {
            assert_eq!(decode(&b[..len]), None, "cut at {len}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
    }

    #[test]
    fn read_write_and_invalid_files() {
        let dir = tempfile::tempdir().unwrap();
        let g = new_generation();
        let entries: BTreeMap<PartitionKey, ClosedLog> =
            [((Uuid::from_u128(1), 2), closed(g, 9, true))]
                .into_iter()
                .collect();
        assert!(read(dir.path()).unwrap().is_empty());
        write(dir.path(), g, &entries, true).unwrap();
        assert_eq!(read(dir.path()).unwrap(), entries);
        assert_eq!(
            read(dir.path()).unwrap(),
            entries,
            "reading leaves it in place"
        );
        std::fs::write(dir.path().join(FILE), b"torn").unwrap();
        assert!(
            read(dir.path()).unwrap().is_empty(),
            "invalid reads as absent"
        );
    }

    #[test]
    fn taken_is_per_generation_and_damage_counts_as_taken() {
        let dir = tempfile::tempdir().unwrap();
        let (g1, g2) = (new_generation(), new_generation());
        assert_ne!(g1, g2);
        assert!(!is_taken(dir.path(), g1), "nothing taken yet");
        mark_taken(dir.path(), g1).unwrap();
        assert!(is_taken(dir.path(), g1));
        assert!(
            !is_taken(dir.path(), g2),
            "an older file's mark never matches a newer one"
        );
        let path = dir.path().join(TAKEN_FILE);
        let whole = std::fs::read(&path).unwrap();
        assert_eq!(whole.len(), TAKEN_LEN);
        for cut in [0, 5, 15] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert!(
                is_taken(dir.path(), g2),
                "a torn mark ({cut} bytes) counts as taken"
            );
        }
    }
}
