//! One owner per data directory: the broker holds an exclusive lock on
//! `<data-dir>/.lock` (as Kafka's log manager does) for as long as it runs, so a second
//! broker started on the same directory refuses to start instead of rewriting indexes
//! and segments under the first.
//!
//! The lock is `flock(LOCK_EX | LOCK_NB)`: the kernel drops it when the process exits
//! for any reason (kill -9 included), so a crashed broker never leaves a stale lock
//! behind. The file holds the owner's pid, only to name it in the error. Read-only
//! tools (`sluice dump-log`) do not take it and may run beside a broker. This module
//! never reads or writes anything else in the directory.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The lock file's name, as Kafka names it.
pub const LOCK_FILE: &str = ".lock";

/// Held for the broker's life; dropping it (or exiting) releases the directory.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock, or fails with one line naming the directory and, if known, the
    /// pid of the process holding it.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock> {
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut owner = String::new();
                let _ = file.read_to_string(&mut owner);
                let owner = owner.trim();
                let by = if owner.is_empty() {
                    "another process".to_string()
                } else {
                    format!("another process (pid {owner})")
                };
                bail!(
                    "data directory {} is in use by {by}: only one broker may own it (lock file {})",
                    data_dir.display(),
                    path.display()
                );
            }
            return Err(err).with_context(|| format!("locking {}", path.display()));
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(DataDirLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is in use by another process (pid "), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        let again = DataDirLock::acquire(dir.path()).unwrap();
        assert_eq!(again.path(), dir.path().join(LOCK_FILE));
    }
}
