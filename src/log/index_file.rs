//! A fixed-size-entry index file memory-mapped read-write: the storage shared by
//! `.index` and `.timeindex` (Kafka's `AbstractIndex`).
//!
//! Owns the preallocation, resize/trim and sync of one index file. It never
//! interprets entries (that is `OffsetIndex`/`TimeIndex`) and never maps a `.log`:
//! index files are small and preallocated, so writing through the map cannot hit
//! ENOSPC mid-entry the way an appended log could.
//!
//! The room an active segment's index may use (`segment.index.bytes`, 10 MiB) is a
//! limit, not a preallocation: the file and its mapping start empty (no map at all)
//! and double from `FIRST_GROWTH_BYTES` as entries come, so thousands of idle
//! partitions do not each hold two 10 MiB maps. Growing happens a few times per
//! segment, on the append path, each a `set_len` and a new mapping.
//!
//! No descriptor is held: the file is opened by path for each resize, map or sync and
//! closed at once (the mapping keeps the file itself alive), so an index costs one map
//! and no descriptor. The map is counted against the log's budget (`file_cache`).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{MmapMut, MmapOptions};

use crate::log::file_cache::{FileCache, Held, Kind};
use crate::log::storage::OpenOptions;

/// The first preallocation of an index that gets its first entry.
const FIRST_GROWTH_BYTES: usize = 8 * 1024;

pub struct IndexFile {
    path: PathBuf,
    cache: Arc<FileCache>,
    /// `None` while the file is empty (a zero-length mapping is not allowed).
    mmap: Option<(MmapMut, Held)>,
    entry_size: usize,
    entries: usize,
    /// Entries the current file length (and mapping) has room for.
    mapped: usize,
    /// Entries this index may grow to (`resize`); at least `mapped`.
    limit: usize,
}

impl IndexFile {
    /// Opens or creates `path`. With `fresh` the old content is discarded (the
    /// index is about to be rebuilt); otherwise every whole entry in the file is
    /// taken as used, like Kafka does for an index it trusts.
    pub fn open(
        path: &Path,
        entry_size: usize,
        fresh: bool,
        cache: &Arc<FileCache>,
    ) -> io::Result<IndexFile> {
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
            cache: cache.clone(),
            mmap: None,
            entry_size,
            entries,
            mapped: entries,
            limit: entries,
        };
        // A torn tail that is not a whole entry is cut so entry i is always at i*size.
        if len != entries * entry_size {
            file.set_len((entries * entry_size) as u64)?;
        }
        idx.remap(&file)?;
        Ok(idx)
    }

    /// The file, opened for one resize, map or sync.
    fn open_file(&self) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).open(&self.path)
    }

    fn remap(&mut self, file: &File) -> io::Result<()> {
        let len = self.mapped * self.entry_size;
        self.mmap = if len > 0 {
            // SAFETY: the file is private to this index (only this process, through
            // this struct, maps or resizes it) and is at least `len` bytes long.
            let m = unsafe { MmapOptions::new().len(len).map_mut(file)? };
            Some((m, self.cache.hold(Kind::Map)))
        } else {
            None
        };
        Ok(())
    }

    /// Changes the file length to `cap` entries and maps it. On failure the old
    /// length and mapping are kept (growing first, mapping second).
    fn set_mapped(&mut self, cap: usize) -> io::Result<()> {
        if let Some((m, _)) = &self.mmap {
            m.flush()?;
        }
        let file = self.open_file()?;
        let old = self.mapped;
        file.set_len((cap * self.entry_size) as u64)?;
        self.mapped = cap;
        if let Err(e) = self.remap(&file) {
            self.mapped = old;
            let _ = file.set_len((old * self.entry_size) as u64);
            return Err(e);
        }
        Ok(())
    }

    /// Lets the index grow to `max_bytes / entry_size` entries (never below the used
    /// entries). Nothing is allocated now: the file grows as entries come. A file
    /// longer than the new limit is cut to it.
    pub fn resize(&mut self, max_bytes: u32) -> io::Result<()> {
        self.limit = (max_bytes as usize / self.entry_size).max(self.entries);
        if self.mapped > self.limit {
            self.set_mapped(self.limit)?;
        }
        Ok(())
    }

    /// Cuts the preallocated tail so the file length equals the used entries
    /// (done on roll and close; the length is how the next open counts entries).
    pub fn trim(&mut self) -> io::Result<()> {
        self.limit = self.entries;
        if self.mapped == self.entries {
            return Ok(());
        }
        self.set_mapped(self.entries)
    }

    /// Makes room for one more entry (doubling the file, within the limit).
    fn grow(&mut self) -> io::Result<()> {
        let first = (FIRST_GROWTH_BYTES / self.entry_size).max(1);
        let cap = (self.mapped * 2).max(first).min(self.limit);
        self.set_mapped(cap)
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Entries the index may hold (its limit, not what the file has room for now).
    pub fn capacity(&self) -> usize {
        self.limit
    }

    pub fn entry(&self, i: usize) -> &[u8] {
        debug_assert!(i < self.entries);
        let (m, _) = self.mmap.as_ref().expect("index with entries is mapped");
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
    /// [`IndexFile::partition_point`] relies on. If the file cannot grow (disk full,
    /// out of maps) the entry is left out with a warning: an index is sparse anyway, a
    /// lookup then scans a little more of the `.log`.
    pub fn push(&mut self, bytes: &[u8]) {
        debug_assert_eq!(bytes.len(), self.entry_size);
        debug_assert!(self.entries < self.limit, "index file is full");
        if self.entries >= self.mapped {
            if let Err(e) = self.grow() {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot grow the index file; entry left out");
                return;
            }
        }
        debug_assert!(
            self.entries == 0 || bytes > self.entry(self.entries - 1),
            "index entries must ascend"
        );
        let at = self.entries * self.entry_size;
        let (m, _) = self.mmap.as_mut().expect("index with capacity is mapped");
        m[at..at + self.entry_size].copy_from_slice(bytes);
        self.entries += 1;
    }

    /// Forgets entries from `n` on (used when a sanity check fails).
    pub fn truncate_entries(&mut self, n: usize) {
        self.entries = self.entries.min(n);
    }

    /// Makes the entries durable: msync the dirty pages (through the mapping's own
    /// open file, which reports any write-back error), then fdatasync for the length.
    pub fn sync(&self) -> io::Result<()> {
        if let Some((m, _)) = &self.mmap {
            m.flush()?;
        }
        self.open_file()?.sync_data()
    }

    /// True if the file is mapped (it has room for at least one entry).
    pub fn is_mapped(&self) -> bool {
        self.mmap.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_len(&self) -> u64 {
        (self.mapped * self.entry_size) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_index_starts_unmapped_and_grows_by_doubling_within_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let cache = FileCache::new(usize::MAX, usize::MAX);
        let mut idx = IndexFile::open(&path, 8, true, &cache).unwrap();
        idx.resize(10 << 20).unwrap();
        assert_eq!(idx.capacity(), (10 << 20) / 8);
        assert_eq!(idx.file_len(), 0, "nothing preallocated");
        assert!(idx.mmap.is_none(), "nothing mapped");
        idx.push(&1u64.to_be_bytes());
        assert_eq!(idx.file_len(), FIRST_GROWTH_BYTES as u64);
        for i in 2..=(FIRST_GROWTH_BYTES / 8 + 1) as u64 {
            idx.push(&i.to_be_bytes());
        }
        assert_eq!(idx.file_len(), 2 * FIRST_GROWTH_BYTES as u64);
        assert_eq!(idx.entry(0), &1u64.to_be_bytes(), "entries survive a remap");
        // A small limit caps the growth; trim leaves exactly the entries.
        idx.resize(3 * FIRST_GROWTH_BYTES as u32).unwrap();
        while idx.entries() < idx.capacity() {
            let next = idx.entries() as u64 + 1;
            idx.push(&next.to_be_bytes());
        }
        assert_eq!(idx.file_len(), 3 * FIRST_GROWTH_BYTES as u64);
        idx.trim().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            idx.entries() as u64 * 8
        );
        assert_eq!(
            (cache.mmaps(), cache.open_files()),
            (1, 0),
            "one map, no descriptor"
        );
        drop(idx);
        assert_eq!(cache.mmaps(), 0);
        let reopened = IndexFile::open(&path, 8, false, &cache).unwrap();
        assert_eq!(reopened.entries(), 3 * FIRST_GROWTH_BYTES / 8);
    }
}
