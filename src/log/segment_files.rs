//! What a segment maps, and read access to it: the `.log` mapping (counted against the
//! log's map budget until the last `Bytes` handed out of it is dropped), the two
//! indexes, and [`SegmentReader`], which finds batches and hands out zero-copy slices.
//!
//! Owns nothing on disk and never writes: `LogSegment` (`crate::log::segment`) decides
//! when these are opened, grown or closed. A reader only looks at bytes below the
//! published size it was given.

use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{Mmap, MmapOptions};

use crate::log::batch::BatchHeader;
use crate::log::file_cache::{FileCache, Held, Kind, Slot};
use crate::log::offset_index::OffsetIndex;
use crate::log::time_index::TimeIndex;

/// A `.log` mapping, counted against the log's map budget until the last `Bytes`
/// handed out of it is dropped.
pub(crate) struct LogMap {
    pub(crate) map: Mmap,
    _held: Held,
}

/// Keeps a mapping alive for as long as any `Bytes` handed out of it exists.
struct MmapSlice {
    map: Arc<LogMap>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for MmapSlice {
    fn as_ref(&self) -> &[u8] {
        &self.map.map[self.start..self.end]
    }
}

/// What a segment maps: the `.log` and its two indexes.
pub struct SegmentFiles {
    pub(crate) map: Option<Arc<LogMap>>,
    pub(crate) offset_index: OffsetIndex,
    pub(crate) time_index: TimeIndex,
}

impl SegmentFiles {
    pub(crate) fn mapped_len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.map.len() as u64)
    }
}

/// Where a segment's files are.
pub(crate) enum Files {
    /// Held by the segment: the active segment, or one being recovered or rebuilt.
    Owned(Box<SegmentFiles>),
    /// A closed segment's: opened on first use, closed again by the log's budget
    /// (`file_cache`).
    Closed(Arc<Slot<SegmentFiles>>),
}

/// Read access to one segment's bytes and indexes, opening a closed segment's files
/// if needed. While it lives, the files stay open whatever the budget.
pub struct SegmentReader<'a> {
    pub(crate) size: u64,
    pub(crate) files: FilesRef<'a>,
}

pub(crate) enum FilesRef<'a> {
    Borrowed(&'a SegmentFiles),
    Shared(Arc<SegmentFiles>),
}

impl SegmentReader<'_> {
    fn files(&self) -> &SegmentFiles {
        match &self.files {
            FilesRef::Borrowed(f) => f,
            FilesRef::Shared(f) => f,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.files().map {
            Some(m) => &m.map[..self.size as usize],
            None => &[],
        }
    }

    pub fn offset_index(&self) -> &OffsetIndex {
        &self.files().offset_index
    }

    pub fn time_index(&self) -> &TimeIndex {
        &self.files().time_index
    }

    /// Header of the batch at `pos`, if `pos` is below the published size.
    pub fn batch_at(&self, pos: u64) -> Option<BatchHeader> {
        batch_in(self.bytes(), pos)
    }

    /// Zero-copy view of `[start, end)`; the bytes outlive the segment and its closing.
    pub fn slice(&self, start: u64, end: u64) -> Bytes {
        debug_assert!(start <= end && end <= self.size);
        match &self.files().map {
            Some(m) if end > start => Bytes::from_owner(MmapSlice {
                map: m.clone(),
                start: start as usize,
                end: end as usize,
            }),
            _ => Bytes::new(),
        }
    }

    /// Position and header of the first batch whose last offset >= `offset`
    /// (Kafka's `translateOffset`), starting from the offset index's hint.
    pub fn find_batch(&self, offset: i64) -> Option<(u64, BatchHeader)> {
        let mut pos = self.offset_index().lookup(offset).1 as u64;
        while let Some(h) = self.batch_at(pos) {
            if h.last_offset() >= offset {
                return Some((pos, h));
            }
            pos += h.total_size() as u64;
        }
        None
    }
}

/// Header of the batch at `pos` of `published` (the bytes below the published size).
fn batch_in(published: &[u8], pos: u64) -> Option<BatchHeader> {
    let h = BatchHeader::parse(published.get(pos as usize..)?)?;
    if h.batch_length <= 0 || pos + h.total_size() as u64 > published.len() as u64 {
        return None;
    }
    Some(h)
}

/// Maps `len` bytes of `file` read-only (`None` for an empty range).
pub(crate) fn map_log(
    file: &File,
    len: u64,
    cache: &Arc<FileCache>,
) -> io::Result<Option<Arc<LogMap>>> {
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: the mapping is read-only and we only ever dereference bytes below the
    // published size, which the file always covers (a `.log` is only shrunk below
    // its published size in `recover`, before any reader exists; a failed append
    // only cuts unpublished bytes). Pages past EOF in an over-sized mapping are never
    // touched.
    let map = unsafe { MmapOptions::new().len(len as usize).map(file)? };
    Ok(Some(Arc::new(LogMap {
        map,
        _held: cache.hold(Kind::Map),
    })))
}
