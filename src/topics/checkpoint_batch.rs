//! The periodic recovery-point checkpoints of many partitions written with one sync of
//! the file system: housekeeping collects the checkpoints that are due, stages each
//! (temporary file, no fsync), syncs each file system once, then publishes each
//! (rename), instead of two fsyncs per partition. With 50,000 partitions written to,
//! the per-partition way made one housekeeping pass take tens of seconds, and with it
//! every partition's `flush.ms` and retention waited as long.
//!
//! Owns only the order of the steps; what a checkpoint holds and the rule that an older
//! capture never replaces a newer one belong to `crate::log`'s `CheckpointWriter`. Where
//! `syncfs` cannot stand in for fsyncs (`crate::log::fs_sync`: old kernels, in-memory
//! storage) each checkpoint is written the per-file way. It never holds a partition's
//! lock: appends go on meanwhile.

use std::sync::Arc;

use crate::log::fs_sync::FileSystemSync;
use crate::log::partition_log::{CheckpointCapture, CheckpointWriter};
use crate::log::OfflineState;

/// A partition's periodic checkpoint, captured under its log's lock and not written yet.
pub struct DueCheckpoint {
    pub(super) writer: Arc<CheckpointWriter>,
    pub(super) capture: CheckpointCapture,
    /// A failed write takes the partition offline, as a failed write under the lock does.
    pub(super) offline: Arc<OfflineState>,
}

impl DueCheckpoint {
    /// The per-file way: temporary file, fsync, rename, directory fsync. Nothing for a
    /// partition fenced since the capture (see [`write_all`]).
    pub fn write(&self) -> std::io::Result<()> {
        if self.offline.is_offline() {
            return Ok(());
        }
        self.writer
            .write(&self.capture)
            .map(drop)
            .map_err(|e| self.fail(e))
    }

    fn fail(&self, e: std::io::Error) -> std::io::Error {
        self.offline
            .fail("writing the recovery point checkpoint", e)
    }
}

/// Writes `due`: staged, one sync of every log directory's file system, published. A
/// failed sync publishes nothing (the staged files are overwritten by the next write,
/// or removed when the log is next opened); a failed stage or rename takes that
/// partition offline. Without `fs_sync`, each is written the per-file way.
pub fn write_all(due: &[DueCheckpoint], fs_sync: Option<&FileSystemSync>) {
    let Some(fs_sync) = fs_sync else {
        for d in due {
            // The partition logged its going offline; nothing more to do here.
            let _ = d.write();
        }
        return;
    };
    // A partition fenced since its capture (its topic deleted, its directory moved to
    // another log directory) must not be written through its old path any more: a
    // topic created again under the same name may own that path by now.
    let staged: Vec<&DueCheckpoint> = due
        .iter()
        .filter(|d| !d.offline.is_offline())
        .filter(|d| {
            d.writer
                .stage(&d.capture)
                .map_err(|e| d.fail(e))
                .unwrap_or(false)
        })
        .collect();
    if staged.is_empty() {
        return;
    }
    if let Err(e) = fs_sync.sync() {
        tracing::error!(error = %e, checkpoints = staged.len(), "syncfs for the periodic recovery-point checkpoints failed: none is written this time");
        return;
    }
    for d in staged.into_iter().filter(|d| !d.offline.is_offline()) {
        let _ = d.writer.publish(&d.capture).map_err(|e| d.fail(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::checkpoint::{self, Checkpoint};

    pub(super) fn due(dir: &std::path::Path, seq: u64, recovery_point: i64) -> DueCheckpoint {
        DueCheckpoint {
            writer: Arc::new(CheckpointWriter::new(dir.to_path_buf())),
            capture: CheckpointCapture {
                checkpoint: Checkpoint {
                    log_start_offset: 0,
                    recovery_point,
                },
                seq,
            },
            offline: Arc::new(OfflineState::default()),
        }
    }

    fn recovery_point(dir: &std::path::Path) -> Option<i64> {
        checkpoint::read_checkpoint(dir)
            .unwrap()
            .map(|c| c.recovery_point)
    }

    /// Both ways write every due checkpoint but a fenced partition's, and leave no
    /// temporary file behind.
    #[test]
    fn due_checkpoints_are_written_batched_or_one_by_one_but_never_for_a_fenced_partition() {
        let root = tempfile::tempdir().unwrap();
        let fs_sync = FileSystemSync::open(&[root.path().to_path_buf()]);
        for (way, sync) in [("batched", fs_sync.as_ref()), ("per file", None)] {
            let dirs: Vec<_> = (0..3)
                .map(|i| {
                    let d = root.path().join(format!("{way}-{i}"));
                    std::fs::create_dir(&d).unwrap();
                    d
                })
                .collect();
            let batch: Vec<DueCheckpoint> = dirs
                .iter()
                .enumerate()
                .map(|(i, d)| due(d, 1, 100 * (i as i64 + 1)))
                .collect();
            batch[2].offline.retire("its topic was deleted");
            write_all(&batch, sync);
            assert_eq!(recovery_point(&dirs[0]), Some(100), "{way}");
            assert_eq!(recovery_point(&dirs[1]), Some(200), "{way}");
            assert_eq!(recovery_point(&dirs[2]), None, "{way}: fenced");
            for d in &dirs {
                let tmp = std::fs::read_dir(d)
                    .unwrap()
                    .filter(|e| {
                        e.as_ref()
                            .unwrap()
                            .file_name()
                            .to_string_lossy()
                            .ends_with(".tmp")
                    })
                    .count();
                assert_eq!(tmp, 0, "{way}: no temporary file left in {}", d.display());
            }
        }
        assert!(
            fs_sync.is_some(),
            "this kernel reports syncfs errors: the batched way ran"
        );
    }
}

/// What one housekeeping pass pays for N due checkpoints, per file against batched,
/// on this machine's disk: `scripts/bench-checkpoints.sh` runs it (figures
/// only; ignored by `cargo test`).
#[cfg(test)]
mod cost {
    use super::*;
    use std::time::Instant;

    fn batch(root: &std::path::Path, way: &str, n: usize, seq: u64) -> Vec<DueCheckpoint> {
        (0..n)
            .map(|i| {
                let dir = root.join(format!("{way}-{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                super::tests::due(&dir, seq, seq as i64)
            })
            .collect()
    }

    #[test]
    #[ignore = "a benchmark: scripts/bench-checkpoints.sh"]
    fn periodic_checkpoints_per_file_against_batched() {
        let n: usize = std::env::var("CHECKPOINTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5_000);
        let root = std::env::var("BENCH_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir().join("sluice-bench-checkpoints"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let fs_sync =
            FileSystemSync::open(std::slice::from_ref(&root)).expect("syncfs usable here");
        for round in 0..2u64 {
            for (way, sync) in [("per-file", None), ("batched", Some(&fs_sync))] {
                // Each round writes a newer capture over the last one, as housekeeping does.
                let due = batch(&root, way, n, round + 1);
                let t = Instant::now();
                write_all(&due, sync);
                let s = t.elapsed().as_secs_f64();
                println!(
                    "round {} {way:>8}: {n} checkpoints in {s:.2} s ({:.0} us each)",
                    round + 1,
                    s * 1e6 / n as f64
                );
            }
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
