//! The two small per-partition state files: `recovery-point.checkpoint` (log start
//! offset + recovery point) and `clean-shutdown.marker` (written by `close`).
//!
//! Both are fixed-size, big-endian, versioned and protected by a CRC-32 (IEEE),
//! and are replaced atomically: write `<name>.tmp`, fsync it, rename over the old
//! file, fsync the directory. A file that is missing, short, of an unknown
//! version or with a bad CRC is treated as absent (which only costs a longer
//! recovery scan). This module never touches segment files.

use std::io::{self, Write};
use std::path::Path;

use crate::log::storage::{self, OpenOptions};

pub use crate::log::file_names::{
    CLEAN_SHUTDOWN_MARKER as CLEAN_SHUTDOWN_FILE, RECOVERY_CHECKPOINT as CHECKPOINT_FILE,
};

const CHECKPOINT_MAGIC: &[u8; 4] = b"SLRP";
const MARKER_MAGIC: &[u8; 4] = b"SLCS";
const VERSION: u16 = 1;
pub const CHECKPOINT_LEN: usize = 28;
pub const MARKER_LEN: usize = 36;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub log_start_offset: i64,
    pub recovery_point: i64,
}

/// What the log looked like when `close` finished; the next open trusts the
/// segments only if the active segment still matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanShutdown {
    pub log_end_offset: i64,
    pub active_base_offset: i64,
    pub active_log_size: u64,
}

fn header(magic: &[u8; 4], out: &mut Vec<u8>) {
    out.extend_from_slice(magic);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // flags, reserved
}

fn seal(mut body: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    body
}

/// Checks magic, version, length and CRC; returns the payload after the 8-byte header.
fn open_sealed<'a>(buf: &'a [u8], magic: &[u8; 4], len: usize) -> Option<&'a [u8]> {
    if buf.len() != len || &buf[0..4] != magic {
        return None;
    }
    if u16::from_be_bytes([buf[4], buf[5]]) != VERSION {
        return None;
    }
    let crc = u32::from_be_bytes(buf[len - 4..].try_into().ok()?);
    if crc32fast::hash(&buf[..len - 4]) != crc {
        return None;
    }
    Some(&buf[8..len - 4])
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Checkpoint {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(CHECKPOINT_LEN);
        header(CHECKPOINT_MAGIC, &mut b);
        b.extend_from_slice(&self.log_start_offset.to_be_bytes());
        b.extend_from_slice(&self.recovery_point.to_be_bytes());
        seal(b)
    }

    pub fn decode(buf: &[u8]) -> Option<Checkpoint> {
        let p = open_sealed(buf, CHECKPOINT_MAGIC, CHECKPOINT_LEN)?;
        Some(Checkpoint {
            log_start_offset: i64_at(p, 0),
            recovery_point: i64_at(p, 8),
        })
    }
}

impl CleanShutdown {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(MARKER_LEN);
        header(MARKER_MAGIC, &mut b);
        b.extend_from_slice(&self.log_end_offset.to_be_bytes());
        b.extend_from_slice(&self.active_base_offset.to_be_bytes());
        b.extend_from_slice(&self.active_log_size.to_be_bytes());
        seal(b)
    }

    pub fn decode(buf: &[u8]) -> Option<CleanShutdown> {
        let p = open_sealed(buf, MARKER_MAGIC, MARKER_LEN)?;
        Some(CleanShutdown {
            log_end_offset: i64_at(p, 0),
            active_base_offset: i64_at(p, 8),
            active_log_size: i64_at(p, 16) as u64,
        })
    }
}

/// fsync of the directory, making creates, renames and unlinks in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    storage::sync_dir(dir)
}

/// Atomically replaces `dir/name` with `bytes` (tmp + fsync + rename + dir fsync).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write_replacing(dir, name, bytes, true)
}

/// tmp + rename, each fsync left to the caller's one sync of the whole file system
/// afterwards (`crate::log::fs_sync`). Until that sync a crash may leave the new file
/// torn or empty under its final name; its length and CRC make it read as absent then.
pub fn write_replacing(dir: &Path, name: &str, bytes: &[u8], fsync: bool) -> io::Result<()> {
    write_temp_file(dir, name, bytes, fsync)?;
    rename_temp(dir, name)?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

fn temp_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.{}", crate::log::file_names::TMP_SUFFIX))
}

fn write_temp_file(dir: &Path, name: &str, bytes: &[u8], fsync: bool) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp_path(dir, name))?;
    f.write_all(bytes)?;
    if fsync {
        f.sync_all()?;
    }
    Ok(())
}

/// The first half of [`write_replacing`] without fsyncs: `dir/name.tmp` holds `bytes`.
/// [`rename_temp`] puts it in place once a sync of the file system made it durable.
pub fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write_temp_file(dir, name, bytes, false)
}

/// Renames `dir/name.tmp` over `dir/name` (no directory fsync).
pub fn rename_temp(dir: &Path, name: &str) -> io::Result<()> {
    storage::rename(temp_path(dir, name), dir.join(name))
}

/// The contents of `dir/name` as [`write_atomic`] left it (`None`: never written). A
/// leftover `name.tmp` is removed first: it was never renamed, so the change it held
/// was never acknowledged.
pub fn read_atomic(dir: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let tmp = dir.join(format!("{name}.{}", crate::log::file_names::TMP_SUFFIX));
    if storage::exists(&tmp) {
        storage::remove_file(&tmp)?;
    }
    read_small(&dir.join(name))
}

fn read_small(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match storage::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn read_checkpoint(dir: &Path) -> io::Result<Option<Checkpoint>> {
    let Some(b) = read_small(&dir.join(CHECKPOINT_FILE))? else {
        return Ok(None);
    };
    let cp = Checkpoint::decode(&b);
    if cp.is_none() {
        tracing::warn!(dir = %dir.display(), "ignoring invalid {CHECKPOINT_FILE}");
    }
    Ok(cp)
}

pub fn write_checkpoint(dir: &Path, cp: &Checkpoint) -> io::Result<()> {
    write_atomic(dir, CHECKPOINT_FILE, &cp.encode())
}

/// Reads and removes the clean-shutdown marker. The removal is made durable
/// before returning, so a crash after this open can never be taken for a clean
/// shutdown.
pub fn take_clean_shutdown(dir: &Path) -> io::Result<Option<CleanShutdown>> {
    let path = dir.join(CLEAN_SHUTDOWN_FILE);
    let Some(b) = read_small(&path)? else {
        return Ok(None);
    };
    storage::remove_file(&path)?;
    sync_dir(dir)?;
    let m = CleanShutdown::decode(&b);
    if m.is_none() {
        tracing::warn!(dir = %dir.display(), "ignoring invalid {CLEAN_SHUTDOWN_FILE}");
    }
    Ok(m)
}

pub fn write_clean_shutdown(dir: &Path, m: &CleanShutdown) -> io::Result<()> {
    write_atomic(dir, CLEAN_SHUTDOWN_FILE, &m.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip_and_crc() {
        let cp = Checkpoint {
            log_start_offset: 7,
            recovery_point: 42,
        };
        let mut b = cp.encode();
        assert_eq!(b.len(), CHECKPOINT_LEN);
        assert_eq!(Checkpoint::decode(&b), Some(cp));
        b[12] ^= 1;
        assert_eq!(Checkpoint::decode(&b), None);
        assert_eq!(Checkpoint::decode(&b[..20]), None);
    }

    #[test]
    fn marker_round_trip() {
        let m = CleanShutdown {
            log_end_offset: 9,
            active_base_offset: 3,
            active_log_size: 1234,
        };
        let b = m.encode();
        assert_eq!(b.len(), MARKER_LEN);
        assert_eq!(CleanShutdown::decode(&b), Some(m));
        let dir = tempfile::tempdir().unwrap();
        write_clean_shutdown(dir.path(), &m).unwrap();
        assert_eq!(take_clean_shutdown(dir.path()).unwrap(), Some(m));
        assert_eq!(take_clean_shutdown(dir.path()).unwrap(), None);
    }
}
