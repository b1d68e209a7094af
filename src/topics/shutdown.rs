//! Clean shutdown of every partition log (`TopicRegistry::close_all`), and the other half
//! of it at start-up: reading each log directory's `clean-shutdown.logs`
//! (`crate::log::log_dir_shutdown`) before any partition opens.
//!
//! Where one `syncfs` can stand in for per-file fsyncs (`crate::log::fs_sync`), shutdown
//! writes one file per log directory for all its logs instead of a checkpoint and a
//! marker in every partition directory: with tens of thousands of partitions those small
//! files were most of its time. This module decides what is written and in which order
//! relative to the syncs; what the file holds and how a log is closed belong to
//! `crate::log`. It never opens a cold partition.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{Context, Result};
use parking_lot::Mutex;

use super::partition::{AtShutdown, Partition};
use super::registry::TopicRegistry;
use crate::log::log_dir_shutdown::{self, ClosedLog, PartitionKey};

/// Threads opening partitions at start-up and closing them at shutdown: enough
/// outstanding file-system work (fsyncs above all) for the file system to batch it,
/// few enough not to matter on a small machine.
pub(super) const OPEN_CLOSE_THREADS: usize = 16;

/// Each log directory's `clean-shutdown.logs` entries, by log directory.
pub(super) type ClosedLogs = HashMap<PathBuf, BTreeMap<PartitionKey, ClosedLog>>;

/// Reads every log directory's `clean-shutdown.logs`. Fails start-up if one cannot be
/// read: ignored, it would be read again after this run changed the logs it covers, and
/// those would never have been marked taken.
pub(super) fn read_closed_logs(log_dirs: &[PathBuf]) -> Result<ClosedLogs> {
    let mut read = HashMap::new();
    for dir in log_dirs {
        let entries = log_dir_shutdown::read(dir)
            .with_context(|| format!("reading {} in {}", log_dir_shutdown::FILE, dir.display()))?;
        if !entries.is_empty() {
            tracing::info!(dir = %dir.display(), logs = entries.len(), "logs closed cleanly by a batched shutdown");
        }
        read.insert(dir.clone(), entries);
    }
    Ok(read)
}

impl TopicRegistry {
    /// Flushes and closes every partition log (clean shutdown). A clean shutdown is
    /// mostly fsyncs (a few per partition); issued from several threads at once the
    /// file system commits many of them together instead of one after another, so
    /// thousands of partitions close in a fraction of the time.
    pub fn close_all(&self) {
        self.closing.store(true, Ordering::Release);
        // A partition never opened since start-up is as the last run left it (cleanly
        // closed, or waiting for recovery at its next open): nothing to write, except
        // its entry of `clean-shutdown.logs`, if it still holds, into the new file.
        let mut partitions = Vec::new();
        let mut carried: Vec<(PathBuf, PartitionKey, ClosedLog)> = Vec::new();
        let mut never_opened = 0usize;
        for topic in self.list() {
            for p in &topic.partitions {
                match p.seal_for_shutdown() {
                    AtShutdown::Open => partitions.push(((topic.id, p.index), p.clone())),
                    AtShutdown::Cold(entry) => {
                        never_opened += 1;
                        if let Some(closed) = entry {
                            carried.push((p.log_dir(), (topic.id, p.index), closed));
                        }
                    }
                }
            }
        }
        tracing::info!(
            open = partitions.len(),
            never_opened,
            batched = self.fs_sync.is_some(),
            "closing partition logs"
        );
        let Some(fs_sync) = &self.fs_sync else {
            // Each opened log gets its own marker; a `clean-shutdown.logs` read at
            // start-up stays as it is: the entries of logs opened since are marked taken.
            on_threads(&partitions, |(_, p)| {
                close_partition(p);
            });
            return;
        };
        let generation = log_dir_shutdown::new_generation();
        // Batched: trim every log's indexes, one syncfs for all data, then the producer
        // snapshots and each log directory's `clean-shutdown.logs` without fsyncs, and
        // one more syncfs. An entry is only made after the sync that made its log's data
        // durable succeeded.
        let began: Vec<bool> = on_threads(&partitions, |(_, p)| match p.begin_batched_close() {
            Ok(began) => began,
            Err(e) => {
                log_close_failure(p, &e);
                false
            }
        });
        if let Err(e) = fs_sync.sync() {
            tracing::error!(error = %e, "syncfs at shutdown failed: no partition opened in this run is marked cleanly shut down, the next start recovers each when it is first used");
            return;
        }
        let to_finish: Vec<(PartitionKey, Arc<Partition>)> = partitions
            .into_iter()
            .zip(&began)
            .filter(|(_, began)| **began)
            .map(|(p, _)| p)
            .collect();
        let finished = on_threads(&to_finish, |(_, p)| {
            match p.finish_batched_close(generation) {
                Ok(closed) => closed,
                Err(e) => {
                    log_close_failure(p, &e);
                    None
                }
            }
        });
        let mut entries = carried;
        for ((key, p), closed) in to_finish.iter().zip(finished) {
            if let Some(closed) = closed {
                entries.push((p.log_dir(), *key, closed));
            }
        }
        // Every log directory gets a new file, an empty one included, so none keeps an
        // older file's entries.
        let mut by_dir = by_log_dir(entries);
        for dir in &self.log_dirs {
            by_dir.entry(dir.clone()).or_default();
        }
        write_closed_logs(generation, by_dir);
        if let Err(e) = fs_sync.sync() {
            tracing::error!(error = %e, "syncfs of the clean-shutdown records failed; data was already durable, partitions whose records did not reach the disk are recovered when first used");
        }
    }
}

fn by_log_dir(entries: Vec<(PathBuf, PartitionKey, ClosedLog)>) -> ClosedLogs {
    let mut by_dir: ClosedLogs = HashMap::new();
    for (dir, key, closed) in entries {
        by_dir.entry(dir).or_default().insert(key, closed);
    }
    by_dir
}

/// Writes each log directory's file under `generation`, without fsyncs (the caller syncs
/// the file system next).
fn write_closed_logs(generation: u64, by_dir: ClosedLogs) {
    for (dir, entries) in by_dir {
        match log_dir_shutdown::write(&dir, generation, &entries, false) {
            Ok(()) => {
                tracing::info!(dir = %dir.display(), logs = entries.len(), "recorded the clean shutdown of the logs in this directory");
            }
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e, "writing {} failed; its logs are recovered when first used", log_dir_shutdown::FILE);
            }
        }
    }
}

/// `f` on every item from up to `OPEN_CLOSE_THREADS` threads; results in order.
fn on_threads<T: Sync, R: Send + Default>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let results: Vec<Mutex<R>> = items.iter().map(|_| Mutex::default()).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = OPEN_CLOSE_THREADS.min(items.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                *results[i].lock() = f(item);
            });
        }
    });
    results.into_iter().map(Mutex::into_inner).collect()
}

fn close_partition(p: &Partition) {
    let was_offline = p.is_offline();
    if let Err(e) = p.close() {
        if was_offline {
            tracing::warn!(topic = %p.topic, partition = p.index, "offline partition left without a clean-shutdown marker; the next start recovers it");
        } else {
            log_close_failure(p, &e);
        }
    }
}

fn log_close_failure(p: &Partition, e: &std::io::Error) {
    if p.is_offline() && crate::log::offline::is_offline_error(e) {
        tracing::warn!(topic = %p.topic, partition = p.index, "offline partition left without a clean-shutdown marker; the next start recovers it");
    } else {
        tracing::error!(topic = %p.topic, partition = p.index, error = %e, "closing partition log failed");
    }
}
