//! Encoding answers without copying record bytes, and writing them with vectored I/O.
//!
//! A Fetch answer is mostly record batches that already sit in memory-mapped segments
//! as `Bytes`. The codec writes every field through `BufMut::put_slice`; [`ResponseBuf`]
//! recognises a slice that *is* one of the answer's record sets (same pointer and
//! length) and keeps a reference to it instead of copying it, so replaying a topic
//! costs no memcpy of its data in the broker. Everything else is copied into a small
//! contiguous buffer. [`OutQueue`] holds the framed answers of a connection and writes
//! them with `writev`. This module never decides what an answer says.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::api::Response;

/// Record sets smaller than this are copied: a separate iovec costs more than a copy.
pub const ZERO_COPY_MIN: usize = 16 * 1024;
/// Small chunks are merged into one buffer up to this size before a new one starts.
const MERGE_LIMIT: usize = 64 * 1024;
/// At most this many chunks per `writev` call (Linux IOV_MAX is 1024).
const MAX_IOVECS: usize = 64;

/// The record sets of an answer big enough to send by reference.
pub fn zero_copy_candidates(response: &Response) -> Vec<Bytes> {
    match response {
        Response::Fetch(r) => r
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter_map(|p| p.records.clone())
            .filter(|b| b.len() >= ZERO_COPY_MIN)
            .collect(),
        _ => Vec::new(),
    }
}

/// A `ByteBufMut` that builds an answer as a list of chunks.
pub struct ResponseBuf<'a> {
    chunks: Vec<Bytes>,
    current: BytesMut,
    frozen_len: usize,
    candidates: &'a [Bytes],
    /// Set if the codec tried to seek back into an already frozen chunk (message
    /// encoding never does); the caller then encodes the plain way.
    poisoned: bool,
    scratch: Vec<u8>,
}

impl<'a> ResponseBuf<'a> {
    pub fn new(candidates: &'a [Bytes]) -> ResponseBuf<'a> {
        ResponseBuf {
            chunks: Vec::new(),
            current: BytesMut::with_capacity(1024),
            frozen_len: 0,
            candidates,
            poisoned: false,
            scratch: Vec::new(),
        }
    }

    fn freeze_current(&mut self) {
        if !self.current.is_empty() {
            let chunk = self.current.split().freeze();
            self.frozen_len += chunk.len();
            self.chunks.push(chunk);
        }
    }

    /// The encoded chunks, or `None` if the codec did something this buffer cannot
    /// represent.
    pub fn finish(mut self) -> Option<Vec<Bytes>> {
        if self.poisoned {
            return None;
        }
        self.freeze_current();
        Some(self.chunks)
    }
}

// SAFETY: every method delegates to the inner `BytesMut`, whose implementation upholds
// the `BufMut` contract; `put_slice` only adds whole chunks besides.
unsafe impl BufMut for ResponseBuf<'_> {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: forwarded from our caller, who initialised `cnt` bytes of the chunk
        // we handed out from `self.current`.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        if src.len() >= ZERO_COPY_MIN {
            if let Some(b) = self
                .candidates
                .iter()
                .find(|b| b.as_ptr() == src.as_ptr() && b.len() == src.len())
            {
                self.freeze_current();
                self.frozen_len += b.len();
                self.chunks.push(b.clone());
                return;
            }
        }
        self.current.extend_from_slice(src);
    }
}

impl ByteBufMut for ResponseBuf<'_> {
    fn offset(&self) -> usize {
        self.frozen_len + self.current.len()
    }

    fn seek(&mut self, offset: usize) {
        if offset >= self.frozen_len {
            self.current.resize(offset - self.frozen_len, 0);
        } else {
            self.poisoned = true;
        }
    }

    fn range(&mut self, r: std::ops::Range<usize>) -> &mut [u8] {
        if r.start >= self.frozen_len && r.end - self.frozen_len <= self.current.len() {
            let f = self.frozen_len;
            return &mut self.current[r.start - f..r.end - f];
        }
        self.poisoned = true;
        self.scratch.resize(r.len(), 0);
        &mut self.scratch
    }
}

/// The framed answers waiting to be written on one connection.
#[derive(Default)]
pub struct OutQueue {
    chunks: VecDeque<Bytes>,
    current: BytesMut,
    len: usize,
}

impl OutQueue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends bytes, copying small pieces into the merge buffer.
    pub fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if chunk.len() < ZERO_COPY_MIN && self.current.len() + chunk.len() <= MERGE_LIMIT {
            self.current.extend_from_slice(&chunk);
        } else {
            self.seal();
            self.chunks.push_back(chunk);
        }
    }

    /// Appends bytes written directly (a contiguous answer).
    pub fn push_slice(&mut self, bytes: &[u8]) {
        self.len += bytes.len();
        if self.current.len() + bytes.len() > MERGE_LIMIT {
            self.seal();
        }
        self.current.extend_from_slice(bytes);
    }

    /// Appends everything queued in `other`, in order.
    pub fn append(&mut self, mut other: OutQueue) {
        other.seal();
        for chunk in other.chunks {
            self.push(chunk);
        }
    }

    fn seal(&mut self) {
        if !self.current.is_empty() {
            self.chunks.push_back(self.current.split().freeze());
        }
    }

    /// Writes everything queued, with as few `writev` calls as the socket allows.
    ///
    /// Cancel-safe: the queue is updated after every `writev`, so dropping the future
    /// (a connection does, when another answer becomes ready) loses and repeats nothing.
    pub async fn write_to<W: AsyncWrite + Unpin>(&mut self, stream: &mut W) -> std::io::Result<()> {
        self.seal();
        while !self.chunks.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .chunks
                .iter()
                .take(MAX_IOVECS)
                .map(|c| IoSlice::new(c))
                .collect();
            let mut written = stream.write_vectored(&slices).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.len -= written;
            while written > 0 {
                let front = self
                    .chunks
                    .front_mut()
                    .expect("written bytes came from a chunk");
                if written >= front.len() {
                    written -= front.len();
                    self.chunks.pop_front();
                } else {
                    let _ = front.split_to(written);
                    written = 0;
                }
            }
        }
        debug_assert_eq!(self.len, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_record_sets_are_referenced_not_copied() {
        let records = Bytes::from(vec![7u8; ZERO_COPY_MIN * 2]);
        let small = Bytes::from(vec![1u8; 10]);
        let candidates = vec![records.clone()];
        let mut buf = ResponseBuf::new(&candidates);
        buf.put_i32(42);
        buf.put_slice(&records);
        buf.put_slice(&small);
        assert_eq!(buf.offset(), 4 + records.len() + 10);
        let chunks = buf.finish().unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks[1].as_ptr(),
            records.as_ptr(),
            "the record set is shared, not copied"
        );
        let flat: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let mut expected = 42i32.to_be_bytes().to_vec();
        expected.extend_from_slice(&records);
        expected.extend_from_slice(&small);
        assert_eq!(flat, expected);
    }

    #[test]
    fn seeking_back_into_a_frozen_chunk_is_reported() {
        let records = Bytes::from(vec![7u8; ZERO_COPY_MIN]);
        let candidates = vec![records.clone()];
        let mut buf = ResponseBuf::new(&candidates);
        buf.put_u8(1);
        buf.put_slice(&records);
        let _ = buf.range(0..1);
        assert!(buf.finish().is_none());
    }
}
