//! The one writer of a partition's recovery-point checkpoint file, shared between the
//! log (which writes it under its lock where the order of events needs it: a roll, the
//! log start moving, close) and the periodic write that housekeeping makes without the
//! log's lock, so that appends and the acks=all fsyncs go on while the checkpoint's own
//! fsyncs run.
//!
//! Every checkpoint is captured under the log's lock with a sequence number; the writer
//! writes a capture only if it is newer than the last one written, so a periodic write
//! that lost the race never puts an older recovery point or log start offset back. It
//! never decides what the values are.

use std::io;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::log::checkpoint::{self, Checkpoint};

/// A checkpoint as the log had it when captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointCapture {
    pub checkpoint: Checkpoint,
    /// Increases with every capture of one log.
    pub seq: u64,
}

#[derive(Debug)]
pub struct CheckpointWriter {
    dir: PathBuf,
    /// The sequence number of the newest capture written (0: none yet).
    written: Mutex<u64>,
}

impl CheckpointWriter {
    pub fn new(dir: PathBuf) -> CheckpointWriter {
        CheckpointWriter {
            dir,
            written: Mutex::new(0),
        }
    }

    /// Writes `capture` (temp file, fsync, rename, directory fsync) unless a newer
    /// capture was written already. Ok(false) when it was not written.
    pub fn write(&self, capture: &CheckpointCapture) -> io::Result<bool> {
        self.write_with(capture, checkpoint::write_checkpoint)
    }

    /// [`Self::write`] with the caller's way of writing the file (a batched shutdown
    /// writes it without fsyncs, leaving them to one sync of the file system), under
    /// the same lock, so two writers never share the temp file.
    pub fn write_with(
        &self,
        capture: &CheckpointCapture,
        write: impl FnOnce(&Path, &Checkpoint) -> io::Result<()>,
    ) -> io::Result<bool> {
        let mut written = self.written.lock();
        if capture.seq <= *written {
            return Ok(false);
        }
        write(&self.dir, &capture.checkpoint)?;
        *written = capture.seq;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(seq: u64, recovery_point: i64) -> CheckpointCapture {
        CheckpointCapture {
            checkpoint: Checkpoint {
                log_start_offset: 0,
                recovery_point,
            },
            seq,
        }
    }

    #[test]
    fn an_older_capture_never_replaces_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let writer = CheckpointWriter::new(dir.path().to_path_buf());
        assert!(writer.write(&capture(2, 200)).unwrap());
        assert!(!writer.write(&capture(1, 100)).unwrap());
        assert!(!writer.write(&capture(2, 200)).unwrap());
        let read = checkpoint::read_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(read.recovery_point, 200);
        assert!(writer.write(&capture(3, 300)).unwrap());
        let read = checkpoint::read_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(read.recovery_point, 300);
    }
}
