//! Crash-safe installation of cleaned segments (Kafka's `.cleaned` / `.swap` protocol),
//! its completion or roll-back in `open`, and the cleaner checkpoint file.
//!
//! A cleaned segment replaces the segment with the same base offset. Its four files
//! (`.log`, `.index`, `.timeindex`, `.txnindex`) are first written as
//! `<base>.<ext>.cleaned` and fsync'd; `install` then renames the three index files to
//! `.swap`, renames the `.log` to `.swap` (the commit point), fsyncs the directory,
//! renames the three index `.swap` files over the old ones and finally the `.log.swap`
//! over the old `.log`, and fsyncs the directory again. At open, `recover_dir` deletes
//! every `.cleaned` file (an unfinished cleaning: the old segment stays), completes
//! every segment that has a `<base>.log.swap` (the renames above, in the same order)
//! and deletes index `.swap` files without one. Segments are installed one at a time
//! in offset order, so a crash leaves a prefix of them new and the rest old, which
//! still reads as the latest value per key (see `storage-format.md`).
//!
//! This module only renames, deletes and fsyncs files named after a base offset; it
//! must never decide what is kept, nor touch a file of the live segment set other
//! than by an atomic rename over it.

use std::io;
use std::path::{Path, PathBuf};

use crate::log::checkpoint;
use crate::log::file_names::{segment_path, suffixed_path, LOG_EXT};
pub use crate::log::file_names::{CLEANED_SUFFIX, CLEANER_CHECKPOINT, INDEX_EXTS, SWAP_SUFFIX};
use crate::log::storage;
const CHECKPOINT_MAGIC: &[u8; 4] = b"SLCO";
const CHECKPOINT_LEN: usize = 28;

/// `<base>.<ext>.<suffix>`, e.g. `00000000000000000042.log.cleaned`.
pub fn path(dir: &Path, base: i64, ext: &str, suffix: &str) -> PathBuf {
    suffixed_path(dir, base, ext, suffix)
}

/// A test hook standing for a crash: `install` stops (with an error) once this many
/// file steps are done. `None` in production.
#[derive(Clone, Copy, Debug, Default)]
pub struct CrashAfter(pub Option<usize>);

impl CrashAfter {
    fn step(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Some(0) => Err(io::Error::other("simulated crash during the swap")),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match storage::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Swaps the cleaned files of segment `base` in (see the module doc for the order).
pub fn install(dir: &Path, base: i64, crash: &mut CrashAfter) -> io::Result<()> {
    for ext in INDEX_EXTS {
        crash.step()?;
        storage::rename(
            path(dir, base, ext, CLEANED_SUFFIX),
            path(dir, base, ext, SWAP_SUFFIX),
        )?;
    }
    crash.step()?;
    storage::rename(
        path(dir, base, LOG_EXT, CLEANED_SUFFIX),
        path(dir, base, LOG_EXT, SWAP_SUFFIX),
    )?;
    checkpoint::sync_dir(dir)?;
    complete(dir, base, crash)
}

/// The second half of `install`, also run by `open` for a committed swap.
fn complete(dir: &Path, base: i64, crash: &mut CrashAfter) -> io::Result<()> {
    for ext in INDEX_EXTS {
        let swap = path(dir, base, ext, SWAP_SUFFIX);
        if storage::exists(&swap) {
            crash.step()?;
            storage::rename(&swap, segment_path(dir, base, ext))?;
        }
    }
    crash.step()?;
    storage::rename(
        path(dir, base, LOG_EXT, SWAP_SUFFIX),
        segment_path(dir, base, LOG_EXT),
    )?;
    checkpoint::sync_dir(dir)
}

/// Deletes the `.cleaned` files of segment `base` (a cleaning that will not be used).
pub fn discard(dir: &Path, base: i64) -> io::Result<()> {
    for ext in [LOG_EXT].into_iter().chain(INDEX_EXTS) {
        remove_if_exists(&path(dir, base, ext, CLEANED_SUFFIX))?;
    }
    Ok(())
}

/// Recovery rule, run by `open` before segments are listed: delete `.cleaned` files,
/// complete committed swaps (a `<base>.log.swap` exists), delete other `.swap` files.
pub fn recover_dir(dir: &Path) -> io::Result<()> {
    let mut committed = Vec::new();
    let mut others = Vec::new();
    for entry in storage::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(&format!(".{CLEANED_SUFFIX}")) {
            tracing::info!(file = %entry.path().display(), "deleting unfinished cleaned segment file");
            remove_if_exists(&entry.path())?;
        } else if let Some(stem) = name.strip_suffix(&format!(".log.{SWAP_SUFFIX}")) {
            if let Ok(base) = stem.parse::<i64>() {
                committed.push(base);
            }
        } else if name.ends_with(&format!(".{SWAP_SUFFIX}")) {
            others.push((
                name.split('.').next().unwrap_or("").to_string(),
                entry.path(),
            ));
        }
    }
    for (stem, p) in others {
        let base = stem.parse::<i64>().ok();
        if !base.is_some_and(|b| committed.contains(&b)) {
            tracing::info!(file = %p.display(), "deleting uncommitted swap file");
            remove_if_exists(&p)?;
        }
    }
    committed.sort_unstable();
    for base in committed {
        tracing::info!(dir = %dir.display(), base, "completing an interrupted segment swap");
        complete(dir, base, &mut CrashAfter(None))?;
    }
    checkpoint::sync_dir(dir)
}

/// The cleaner's per-partition progress (`cleaner-offset.checkpoint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanerCheckpoint {
    /// Every offset below this has been through the offset map of some cleaning pass
    /// (Kafka's first dirty offset).
    pub first_dirty_offset: i64,
    /// Segments whose base offset is below this may have been cleaned: recovery accepts
    /// offset gaps in them. Written before a swap is committed, so it may run ahead of
    /// `first_dirty_offset` after a crash.
    pub gaps_below: i64,
}

impl CleanerCheckpoint {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(CHECKPOINT_LEN);
        b.extend_from_slice(CHECKPOINT_MAGIC);
        b.extend_from_slice(&1u16.to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        b.extend_from_slice(&self.first_dirty_offset.to_be_bytes());
        b.extend_from_slice(&self.gaps_below.to_be_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<CleanerCheckpoint> {
        if b.len() != CHECKPOINT_LEN
            || &b[0..4] != CHECKPOINT_MAGIC
            || b[4..6] != 1u16.to_be_bytes()
            || crc32fast::hash(&b[..24]).to_be_bytes() != b[24..28]
        {
            return None;
        }
        let be = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        Some(CleanerCheckpoint {
            first_dirty_offset: be(8),
            gaps_below: be(16),
        })
    }
}

/// The checkpoint, `None` if missing or damaged.
pub fn read_checkpoint(dir: &Path) -> io::Result<Option<CleanerCheckpoint>> {
    match storage::read(dir.join(CLEANER_CHECKPOINT)) {
        Ok(b) => Ok(CleanerCheckpoint::decode(&b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Atomic replace (tmp, fsync, rename, directory fsync).
pub fn write_checkpoint(dir: &Path, cp: &CleanerCheckpoint) -> io::Result<()> {
    checkpoint::write_atomic(dir, CLEANER_CHECKPOINT, &cp.encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn checkpoint_round_trips_and_rejects_damage() {
        let cp = CleanerCheckpoint {
            first_dirty_offset: 42,
            gaps_below: 50,
        };
        let mut b = cp.encode();
        assert_eq!(b.len(), CHECKPOINT_LEN);
        assert_eq!(CleanerCheckpoint::decode(&b), Some(cp));
        b[9] ^= 1;
        assert_eq!(CleanerCheckpoint::decode(&b), None);
    }

    #[test]
    fn open_completes_committed_swaps_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let final_name = |base, ext| crate::log::file_names::segment_path(d, base, ext);
        for base in [0, 10] {
            for ext in [LOG_EXT].into_iter().chain(INDEX_EXTS) {
                fs::write(final_name(base, ext), b"old").unwrap();
                fs::write(path(d, base, ext, CLEANED_SUFFIX), b"new").unwrap();
            }
        }
        // Segment 0 is committed and half completed; segment 10 only got its index swaps.
        install(d, 0, &mut CrashAfter(Some(5))).unwrap_err();
        install(d, 10, &mut CrashAfter(Some(2))).unwrap_err();
        recover_dir(d).unwrap();
        for ext in [LOG_EXT].into_iter().chain(INDEX_EXTS) {
            assert_eq!(fs::read(final_name(0, ext)).unwrap(), b"new", "{ext}");
            assert_eq!(fs::read(final_name(10, ext)).unwrap(), b"old", "{ext}");
        }
        let left: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".swap") || n.contains(".cleaned"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
