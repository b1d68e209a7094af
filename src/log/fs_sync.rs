//! One `syncfs(2)` for many files: a clean shutdown makes every partition's data and
//! small files durable with one sync of each file system instead of several fsyncs per
//! partition.
//!
//! Equally safe as per-file fsyncs only where the kernel reports through `syncfs` every
//! writeback error a per-file fsync would have reported: Linux 5.8 and later report an
//! error to `syncfs` only if it happened after the descriptor it is called on was opened,
//! so the descriptors are opened when the broker starts (before anything is written) and
//! kept. Elsewhere (an older kernel, another OS, in-memory storage) [`FileSystemSync::open`]
//! answers `None` and callers keep their per-file fsyncs. This module never decides what
//! to sync or when: callers do.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use crate::log::storage;

/// Descriptors of directories, one per file system to sync, opened at start-up.
pub struct FileSystemSync {
    dirs: Vec<(PathBuf, File)>,
}

impl FileSystemSync {
    /// Opens `dirs` now; `None` where `syncfs` cannot stand in for fsyncs (see the
    /// module doc) or a directory cannot be opened.
    pub fn open(dirs: &[PathBuf]) -> Option<FileSystemSync> {
        if !kernel_reports_syncfs_errors() || dirs.iter().any(storage::is_in_memory) {
            return None;
        }
        let mut opened = Vec::with_capacity(dirs.len());
        for dir in dirs {
            match File::open(dir) {
                Ok(f) => opened.push((dir.clone(), f)),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot open the log directory for syncfs; shutdown fsyncs file by file");
                    return None;
                }
            }
        }
        Some(FileSystemSync { dirs: opened })
    }

    /// `syncfs` of every directory's file system: everything written before the call is
    /// durable when it returns Ok. An Err names the directory; what it covered must be
    /// treated as not durable.
    pub fn sync(&self) -> io::Result<()> {
        for (dir, f) in &self.dirs {
            sync_one(f).map_err(|e| {
                io::Error::new(e.kind(), format!("syncfs of {}: {e}", dir.display()))
            })?;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn sync_one(f: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let _timer = crate::metrics::global().fsync_timer();
    // SAFETY: `f` is an open descriptor for the duration of the call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn sync_one(_: &File) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Linux 5.8 or later (`syncfs` returns writeback errors since then).
#[cfg(target_os = "linux")]
fn kernel_reports_syncfs_errors() -> bool {
    // SAFETY: `uname` fills the zeroed struct it is given.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return false;
    }
    // SAFETY: `release` is NUL-terminated by `uname`.
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy();
    release_at_least(&release, (5, 8))
}

#[cfg(not(target_os = "linux"))]
fn kernel_reports_syncfs_errors() -> bool {
    false
}

/// Whether a kernel release string such as `6.1.0-13-amd64` is at least `min`.
fn release_at_least(release: &str, min: (u32, u32)) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    match (major, minor) {
        (Some(major), Some(minor)) => (major, minor) >= min,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_compare_by_major_and_minor() {
        assert!(release_at_least("5.8.0", (5, 8)));
        assert!(release_at_least("6.18.44-fc-v1272", (5, 8)));
        assert!(release_at_least("5.10.0-28-amd64", (5, 8)));
        assert!(!release_at_least("5.4.0-150-generic", (5, 8)));
        assert!(!release_at_least("4.19.0", (5, 8)));
        assert!(!release_at_least("garbage", (5, 8)));
    }

    #[test]
    fn syncs_a_real_directory() {
        let dir = tempfile::tempdir().unwrap();
        if let Some(s) = FileSystemSync::open(&[dir.path().to_path_buf()]) {
            std::fs::write(dir.path().join("f"), b"x").unwrap();
            s.sync().unwrap();
        }
    }
}
