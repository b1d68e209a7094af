//! Where the broker's files live: the one seam between the storage engine (and the
//! topic metadata beside it) and the filesystem.
//!
//! Every file the broker keeps is named by a path and reached through the functions
//! here, which mirror `std::fs`. A path under the root of a [`MemoryVolume`] is served
//! by that volume (`--in-memory`, the embedded broker): a namespace of directories and
//! files held in this process's memory, each file an anonymous memory file
//! (`memfd_create`), so the log's own code (positional writes, read-only mappings for
//! zero-copy reads, read-write mappings for the indexes) runs unchanged and the bytes
//! and semantics cannot drift from the disk's. Every other path is the disk, through
//! `std::fs`, exactly as before the seam existed.
//!
//! A volume's root begins with a NUL byte, which no real path can contain: such a path
//! can never reach a disk file by mistake (the kernel refuses it), and a path of a
//! volume that was dropped fails with `NotFound` instead of touching the disk.
//!
//! This module knows nothing of segments, indexes or topics: only names and bytes. It
//! never decides what to keep; durability calls (fsync of a file or a directory) are
//! real on the disk and return at once in memory, where nothing outlives the process.

mod memory;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use memory::MemoryVolume;

/// What [`read_dir`] lists for each entry.
#[derive(Clone, Debug)]
pub struct DirEntry {
    path: PathBuf,
    is_dir: bool,
}

impl DirEntry {
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    pub fn file_name(&self) -> OsString {
        self.path.file_name().unwrap_or_default().to_os_string()
    }

    pub fn is_dir(&self) -> bool {
        self.is_dir
    }
}

/// What [`metadata`] reports.
#[derive(Clone, Copy, Debug)]
pub struct Metadata {
    pub(super) len: u64,
    pub(super) is_dir: bool,
    pub(super) modified: SystemTime,
}

impl Metadata {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_dir(&self) -> bool {
        self.is_dir
    }

    pub fn modified(&self) -> io::Result<SystemTime> {
        Ok(self.modified)
    }
}

/// What [`read_dir`] returns: the entries, each a `Result` as `std::fs::read_dir`'s.
pub type ReadDir = std::vec::IntoIter<io::Result<DirEntry>>;

/// `std::fs::OpenOptions` for either kind of path.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    create: bool,
    truncate: bool,
}

impl OpenOptions {
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }

    fn std(&self) -> std::fs::OpenOptions {
        let mut o = std::fs::OpenOptions::new();
        o.read(self.read)
            .write(self.write)
            .append(self.append)
            .create(self.create)
            .truncate(self.truncate);
        o
    }

    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        match memory::volume_of(path)? {
            Some(v) => v.open(path, self),
            None => self.std().open(path),
        }
    }
}

/// True if `path` is served by a [`MemoryVolume`] (open or dropped).
pub fn is_in_memory(path: impl AsRef<Path>) -> bool {
    let path = path.as_ref();
    memory::is_memory_path(path)
}

/// A path as people read it: `memory://<volume>/<rest>` for a memory volume's path
/// (whose NUL byte would not print), else the path itself.
pub fn display(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    memory::display(path).unwrap_or_else(|| path.display().to_string())
}

pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => v.create_dir_all(path),
        None => std::fs::create_dir_all(path),
    }
}

pub fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => v.create_dir(path),
        None => std::fs::create_dir(path),
    }
}

/// The entries of a directory, in no particular order.
pub fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref();
    let entries: Vec<io::Result<DirEntry>> = match memory::volume_of(path)? {
        Some(v) => v.read_dir(path)?.into_iter().map(Ok).collect(),
        None => std::fs::read_dir(path)?
            .map(|e| {
                let e = e?;
                Ok(DirEntry {
                    path: e.path(),
                    is_dir: e.file_type()?.is_dir(),
                })
            })
            .collect(),
    };
    Ok(entries.into_iter())
}

pub fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => v.metadata(path),
        None => {
            let m = std::fs::metadata(path)?;
            Ok(Metadata {
                len: m.len(),
                is_dir: m.is_dir(),
                modified: m.modified()?,
            })
        }
    }
}

/// `Path::exists`: false on any error.
pub fn exists(path: impl AsRef<Path>) -> bool {
    let path = path.as_ref();
    metadata(path).is_ok()
}

/// `Path::is_dir`: false on any error.
pub fn is_dir(path: impl AsRef<Path>) -> bool {
    let path = path.as_ref();
    metadata(path).is_ok_and(|m| m.is_dir)
}

pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => {
            let mut f = v.open(path, OpenOptions::new().read(true))?;
            let mut out = Vec::new();
            f.read_to_end(&mut out)?;
            Ok(out)
        }
        None => std::fs::read(path),
    }
}

pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref();
    String::from_utf8(read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `std::fs::write`: creates or truncates, then writes everything (no fsync).
pub fn write(path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, bytes) = (path.as_ref(), bytes.as_ref());
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?
        .write_all(bytes)
}

/// `std::fs::File::create`.
pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
    let path = path.as_ref();
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// `std::fs::File::open` (read-only).
pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
    let path = path.as_ref();
    OpenOptions::new().read(true).open(path)
}

/// `std::fs::copy` (contents only), between any two paths.
pub fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let bytes = read(from)?;
    write(to, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Renames a file or directory; both paths must be on the same volume (or both on
/// disk).
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    match (memory::volume_of(from)?, memory::volume_of(to)?) {
        (Some(v), Some(w)) if v.same(&w) => v.rename(from, to),
        (None, None) => std::fs::rename(from, to),
        _ => Err(io::Error::new(
            io::ErrorKind::CrossesDevices,
            "rename across storage volumes",
        )),
    }
}

pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => v.remove_file(path),
        None => std::fs::remove_file(path),
    }
}

/// Removes an empty directory.
pub fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => v.remove_dir(path),
        None => std::fs::remove_dir(path),
    }
}

pub fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => v.remove_dir_all(path),
        None => std::fs::remove_dir_all(path),
    }
}

/// fsync of a directory, making creates, renames and unlinks in it durable (nothing
/// to do in memory, beyond checking that it exists).
pub fn sync_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    match memory::volume_of(path)? {
        Some(v) => v.metadata(path).map(|_| ()),
        None => File::open(path)?.sync_all(),
    }
}

#[cfg(test)]
mod tests;
