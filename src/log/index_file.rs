//! A fixed-size-entry index file memory-mapped read-write: the storage shared by
//! `.index` and `.timeindex` (Kafka's `AbstractIndex`).
//!
//! Owns the preallocation, resize/trim and sync of one index file. It never
//! interprets entries (that is `OffsetIndex`/`TimeIndex`) and never maps a `.log`:
//! index files are small and preallocated, so writing through the map cannot hit
//! ENOSPC mid-entry the way an appended log could.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{MmapMut, MmapOptions};

use crate::log::storage::OpenOptions;

pub struct IndexFile {
    path: PathBuf,
    file: Arc<File>,
    /// `None` while the file is empty (a zero-length mapping is not allowed).
    mmap: Option<MmapMut>,
    entry_size: usize,
    entries: usize,
    /// Entries the current file length has room for.
    capacity: usize,
}

impl IndexFile {
    /// Opens or creates `path`. With `fresh` the old content is discarded (the
    /// index is about to be rebuilt); otherwise every whole entry in the file is
    /// taken as used, like Kafka does for an index it trusts.
    pub fn open(path: &Path, entry_size: usize, fresh: bool) -> io::Result<IndexFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(fresh)
            .open(path)?;
        let len = file.metadata()?.len() as usize;
        let entries = len / entry_size;
        let mut idx = IndexFile {
            path: path.to_path_buf(),
            file: Arc::new(file),
            mmap: None,
            entry_size,
            entries,
            capacity: entries,
        };
        // A torn tail that is not a whole entry is cut so entry i is always at i*size.
        if len != entries * entry_size {
            idx.file.set_len((entries * entry_size) as u64)?;
        }
        idx.remap()?;
        Ok(idx)
    }

    fn remap(&mut self) -> io::Result<()> {
        let len = self.capacity * self.entry_size;
        self.mmap = if len > 0 {
            // SAFETY: the file is private to this index (only this process, through
            // this struct, maps or resizes it) and is at least `len` bytes long.
            Some(unsafe { MmapOptions::new().len(len).map_mut(&*self.file)? })
        } else {
            None
        };
        Ok(())
    }

    /// Changes the file length to `cap` entries and maps it. On failure the old
    /// length and mapping are kept (growing first, mapping second).
    fn set_capacity(&mut self, cap: usize) -> io::Result<()> {
        if let Some(m) = &self.mmap {
            m.flush()?;
        }
        let old = self.capacity;
        self.file.set_len((cap * self.entry_size) as u64)?;
        self.capacity = cap;
        if let Err(e) = self.remap() {
            self.capacity = old;
            let _ = self.file.set_len((old * self.entry_size) as u64);
            return Err(e);
        }
        Ok(())
    }

    /// Grows or shrinks the file to room for `max_bytes / entry_size` entries (never
    /// below the used entries). Preallocation makes the file sparse, so it is cheap.
    pub fn resize(&mut self, max_bytes: u32) -> io::Result<()> {
        let cap = (max_bytes as usize / self.entry_size).max(self.entries);
        if cap == self.capacity {
            return Ok(());
        }
        self.set_capacity(cap)
    }

    /// Cuts the preallocated tail so the file length equals the used entries
    /// (done on roll and close; the length is how the next open counts entries).
    pub fn trim(&mut self) -> io::Result<()> {
        if self.capacity == self.entries {
            return Ok(());
        }
        self.set_capacity(self.entries)
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn entry(&self, i: usize) -> &[u8] {
        debug_assert!(i < self.entries);
        let m = self.mmap.as_ref().expect("index with entries is mapped");
        &m[i * self.entry_size..(i + 1) * self.entry_size]
    }

    /// How many leading entries satisfy `at_or_before` (which must hold for a prefix of
    /// the entries and fail for the rest, as for keys that ascend): the binary search
    /// both indexes use to find the last entry at or before a target.
    pub fn partition_point(&self, at_or_before: impl Fn(usize) -> bool) -> usize {
        let (mut lo, mut hi) = (0usize, self.entries());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if at_or_before(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Appends one entry; the caller checked `entries < capacity`. Entries ascend as
    /// byte strings (both indexes put their big-endian, non-negative key first), which
    /// [`IndexFile::partition_point`] relies on.
    pub fn push(&mut self, bytes: &[u8]) {
        debug_assert_eq!(bytes.len(), self.entry_size);
        debug_assert!(self.entries < self.capacity, "index file is full");
        debug_assert!(
            self.entries == 0 || bytes > self.entry(self.entries - 1),
            "index entries must ascend"
        );
        let at = self.entries * self.entry_size;
        let m = self.mmap.as_mut().expect("index with capacity is mapped");
        m[at..at + self.entry_size].copy_from_slice(bytes);
        self.entries += 1;
    }

    /// Forgets entries from `n` on (used when a sanity check fails).
    pub fn truncate_entries(&mut self, n: usize) {
        self.entries = self.entries.min(n);
    }

    /// Makes the entries durable: msync the dirty pages, then fdatasync for the length.
    pub fn sync(&self) -> io::Result<()> {
        if let Some(m) = &self.mmap {
            m.flush()?;
        }
        self.file.sync_data()
    }

    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_len(&self) -> u64 {
        (self.capacity * self.entry_size) as u64
    }
}
