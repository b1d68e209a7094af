//! Producer id allocation for InitProducerId (Kafka's `ProducerIdManager`).
//!
//! Ids are handed out from blocks of [`BLOCK_SIZE`]. Before the first id of a block is
//! used, the end of that block is written to `<data-dir>/producer-ids` (temp file,
//! fsync, rename), so after any crash the broker resumes past every id it may have
//! handed out: an id is never reused, which the per-partition producer state relies
//! on. The format is in storage-format.md.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use parking_lot::Mutex;

use crate::topics::store::write_atomically;

pub const FILE_NAME: &str = "producer-ids";
/// Kafka's controller also hands out blocks of 1000.
pub const BLOCK_SIZE: i64 = 1000;

pub struct ProducerIdManager {
    path: PathBuf,
    /// (next id to hand out, end of the block persisted on disk, exclusive)
    state: Mutex<(i64, i64)>,
}

impl ProducerIdManager {
    pub fn open(data_dir: &Path) -> Result<ProducerIdManager> {
        let path = data_dir.join(FILE_NAME);
        let next = match crate::log::storage::read_to_string(&path) {
            Ok(text) => parse(&text).with_context(|| format!("parsing {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(ProducerIdManager {
            path,
            state: Mutex::new((next, next)),
        })
    }

    /// A producer id never handed out before, even across restarts.
    pub fn next_id(&self) -> Result<i64> {
        let mut state = self.state.lock();
        if state.0 >= state.1 {
            let block_end = state.0 + BLOCK_SIZE;
            let text = format!(
                "#Written by Sluice; producer ids below next.block.start may have been used.\nversion=1\nnext.block.start={block_end}\n"
            );
            write_atomically(&self.path, text.as_bytes())?;
            state.1 = block_end;
        }
        let id = state.0;
        state.0 += 1;
        Ok(id)
    }
}

fn parse(text: &str) -> Result<i64> {
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("next.block.start=") {
            let v: i64 = v.trim().parse()?;
            if v < 0 {
                bail!("negative next.block.start {v}");
            }
            return Ok(v);
        }
    }
    bail!("no next.block.start line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!((m.next_id().unwrap(), m.next_id().unwrap()), (0, 1));
        drop(m);
        // A restart (or crash) skips the rest of the block.
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m.next_id().unwrap(), BLOCK_SIZE);
        for _ in 0..BLOCK_SIZE {
            m.next_id().unwrap();
        }
        drop(m);
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m.next_id().unwrap(), 3 * BLOCK_SIZE);
    }
}
