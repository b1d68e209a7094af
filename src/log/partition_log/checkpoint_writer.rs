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

/// A periodic checkpoint written in two steps so that many partitions share one sync of
/// the file system (housekeeping's batched pass): [`CheckpointWriter::stage`] writes the
/// temporary file without an fsync; after a `syncfs` that began later succeeded,
/// [`CheckpointWriter::publish`] renames it over the checkpoint. Between the two, a write
/// made under the log's lock may replace the temporary file with a newer capture and
/// rename it itself: `publish` then finds that newer capture written and does nothing,
/// so an older recovery point never replaces a newer one and a file that no sync covered
/// is never renamed into place. The rename is not synced here: losing it in a crash
/// leaves the previous checkpoint, which only makes recovery start earlier.
impl CheckpointWriter {
    /// Step 1: writes `capture` to the temporary file (no fsync) unless a newer capture
    /// was written already. Ok(false) when there is nothing to publish.
    pub fn stage(&self, capture: &CheckpointCapture) -> io::Result<bool> {
        let written = self.written.lock();
        if capture.seq <= *written {
            return Ok(false);
        }
        checkpoint::write_temp(
            &self.dir,
            checkpoint::CHECKPOINT_FILE,
            &capture.checkpoint.encode(),
        )?;
        Ok(true)
    }

    /// Step 2, only after a sync of the file system that began after [`Self::stage`]
    /// succeeded: renames the staged file into place, unless a newer capture was
    /// written since (which also consumed the temporary file). Ok(false) when not.
    pub fn publish(&self, capture: &CheckpointCapture) -> io::Result<bool> {
        let mut written = self.written.lock();
        if capture.seq <= *written {
            return Ok(false);
        }
        checkpoint::rename_temp(&self.dir, checkpoint::CHECKPOINT_FILE)?;
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
    fn a_staged_capture_is_published_unless_a_newer_one_was_written_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let writer = CheckpointWriter::new(dir.path().to_path_buf());
        assert!(writer.write(&capture(1, 100)).unwrap());
        // Staged, published: the new recovery point is in place.
        assert!(writer.stage(&capture(2, 200)).unwrap());
        let read = checkpoint::read_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(read.recovery_point, 100, "staging alone changes nothing");
        assert!(writer.publish(&capture(2, 200)).unwrap());
        let read = checkpoint::read_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(read.recovery_point, 200);
        // A write under the log's lock between the two steps wins.
        assert!(writer.stage(&capture(3, 300)).unwrap());
        assert!(writer.write(&capture(4, 400)).unwrap());
        assert!(!writer.publish(&capture(3, 300)).unwrap());
        let read = checkpoint::read_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(read.recovery_point, 400);
        // An old capture is not even staged.
        assert!(!writer.stage(&capture(3, 300)).unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            vec![checkpoint::CHECKPOINT_FILE.to_string()],
            "no temporary file left"
        );
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
