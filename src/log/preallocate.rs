//! `preallocate` (Kafka's topic setting, `log.preallocate` as the broker default): the
//! active segment's `.log` is grown ahead of its appends with zeros actually written, so
//! the file's length and blocks stay the same while appends fill it. An fdatasync then
//! writes data only: without it, each acks=all fdatasync of an append also commits the
//! new length and block allocation to the file system's journal, and on ext4 those
//! commits stall for many milliseconds when appends arrive during one
//! (docs/benchmarks.md, "what this disk does with appends"). Setting the length alone
//! (what Kafka does) would not help: unwritten blocks still cost a journal commit when
//! first written.
//!
//! Owns only the writing of zeros and the finding of a zero tail; the segment decides
//! when to grow and trims the tail at roll and close, and recovery cuts it as it cuts
//! any torn tail (a zero batch length never passes the batch checks). It never writes
//! below the length it is given, so published data is never touched.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The active segment's `.log` grows this much at a time, ahead of the appends.
pub const PREALLOCATE_CHUNK_BYTES: u64 = 4 << 20;

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The length to grow a file to so that `needed` bytes fit with at least one chunk to
/// spare, never past `limit` (unless `needed` itself is).
pub fn target_len(needed: u64, limit: u64) -> u64 {
    let target = needed.div_ceil(PREALLOCATE_CHUNK_BYTES) * PREALLOCATE_CHUNK_BYTES
        + PREALLOCATE_CHUNK_BYTES;
    target.min(limit).max(needed)
}

/// Writes zeros into `file` from `from` to `to` (the file then is at least `to` long).
/// On error the caller cuts the file back to a length it trusts.
pub fn write_zeros(file: &File, from: u64, to: u64) -> io::Result<()> {
    let mut at = from;
    while at < to {
        let n = ZEROS.len().min((to - at) as usize);
        file.write_all_at(&ZEROS[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// Where the zero bytes at the end of the first `len` bytes of `file` begin (`len` if
/// the last byte is not zero). Reads backwards a block at a time, so it costs the
/// length of the zero tail (at most a chunk or two for a preallocated segment).
pub fn zero_tail_start(file: &File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; ZEROS.len()];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let block = &mut buf[..(end - start) as usize];
        file.read_exact_at(block, start)?;
        if let Some(i) = block.iter().rposition(|&b| b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_leaves_a_chunk_to_spare_within_the_limit() {
        let c = PREALLOCATE_CHUNK_BYTES;
        assert_eq!(target_len(1, u64::MAX), 2 * c);
        assert_eq!(target_len(c, u64::MAX), 2 * c);
        assert_eq!(target_len(c + 1, u64::MAX), 3 * c);
        assert_eq!(target_len(c + 1, c + 10), c + 10, "capped at the limit");
        assert_eq!(
            target_len(c + 20, c + 10),
            c + 20,
            "never below what is needed"
        );
    }

    #[test]
    fn zeros_are_written_and_the_zero_tail_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        file.write_all_at(b"data\x01", 0).unwrap();
        write_zeros(&file, 5, 200_000).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 200_000);
        assert_eq!(zero_tail_start(&file, 200_000).unwrap(), 5);
        file.write_all_at(b"\x07", 150_000).unwrap();
        assert_eq!(zero_tail_start(&file, 200_000).unwrap(), 150_001);
        assert_eq!(zero_tail_start(&file, 4).unwrap(), 4, "last byte not zero");
        write_zeros(&file, 0, 10).unwrap();
        assert_eq!(zero_tail_start(&file, 10).unwrap(), 0, "all zeros");
    }
}
