//! Several log directories (`log.dirs`, Kafka's JBOD): which one holds each partition,
//! where a new partition goes, what each holds (DescribeLogDirs), and moving a
//! partition to another one while it keeps serving (AlterReplicaLogDirs).
//!
//! A partition lives in exactly one log directory, as `<log dir>/<topic>-<partition>`;
//! the topic files and every other broker file stay in the first one. New partitions go
//! to the directory holding the fewest partitions (moves in progress counted at their
//! destination), ties to the earlier one in `log.dirs`, as Kafka's LogManager places
//! them.
//!
//! A move copies the partition directory into `<dest>/<topic>-<p>.<topic id>-future`
//! (Kafka's future replica) in passes while the partition serves, then, under the
//! partition's lock, closes the log, copies the last changes, renames the source away
//! to `<topic>-<p>.<topic id>-delete`, gives the copy the plain name and serves from
//! it. storage-format.md ("Moving a partition between log directories") lists every
//! step and what start-up does after a crash at each; [`discover`] is that start-up
//! rule. It never guesses: a partition found under its plain name in two directories
//! is not a state the steps can leave, and stops the start.
//!
//! This module never parses Kafka requests; the handler maps its [`KafkaError`]s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use parking_lot::Mutex;
use uuid::Uuid;

use super::partition::Partition;
use super::registry::TopicRegistry;
use super::store::{self as topic_store, TopicRecord, FUTURE_SUFFIX};
use crate::error::{KafkaError, ResponseError};
use crate::log::dir_copy::DirCopy;
use crate::log::{storage, PartitionLog};

/// A pass that copied less than this lets the move switch: the last pass, under the
/// partition's lock, then has about this much left to copy.
const SWITCH_BELOW_BYTES: u64 = 4 << 20;
/// Passes before the switch is taken whatever is left (a partition written faster than
/// it is copied would otherwise never switch).
const MAX_PASSES: u32 = 20;

/// The moves in progress, by partition.
pub type Moves = HashMap<(Arc<str>, i32), Arc<LogDirMove>>;

/// A move in progress.
pub struct LogDirMove {
    /// Where the partition is going; a later AlterReplicaLogDirs may change it.
    dest: Mutex<PathBuf>,
    /// The log end offset the copy covers (DescribeLogDirs' offset lag of the future
    /// replica).
    copied_offset: AtomicI64,
    /// The future directory being filled, once made.
    future: Mutex<Option<PathBuf>>,
}

/// The steps of a move, in order (storage-format.md). Tests stop a move after one of
/// them, leaving the files as a crash there would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MoveStep {
    /// The future directory exists (empty) in the destination.
    FutureCreated = 1,
    /// Copy passes ran and what they wrote is fsync'd; the source still serves.
    Copied = 2,
    /// Under the lock: the source log closed, the last pass copied and fsync'd.
    FinalCopy = 3,
    /// The source directory renamed to `-delete`.
    SourceRenamed = 4,
    /// The future directory renamed to the plain name; the partition serves from it.
    FuturePromoted = 5,
}

/// Why a move did not complete.
#[derive(Debug)]
enum MoveEnd {
    /// The partition went offline or its topic was deleted, or it is wanted back where it is.
    Cancelled,
    /// A test's simulated crash.
    Stopped,
    Io(std::io::Error),
}

impl From<std::io::Error> for MoveEnd {
    fn from(e: std::io::Error) -> MoveEnd {
        MoveEnd::Io(e)
    }
}

/// What one log directory holds, for DescribeLogDirs.
pub struct LogDirDescription {
    /// As configured in `log.dirs`.
    pub dir: PathBuf,
    /// `Err` when the directory cannot be read (KAFKA_STORAGE_ERROR).
    pub space: Result<(i64, i64), String>,
    pub replicas: Vec<ReplicaDescription>,
}

pub struct ReplicaDescription {
    pub topic: Arc<str>,
    pub partition: i32,
    pub size_bytes: i64,
    pub offset_lag: i64,
    pub is_future: bool,
}

/// Start-up: finds the log directory of every partition of `records`, finishing or
/// dropping the moves a crash interrupted, and removes the leftovers of moves and
/// deletions (`-delete`, and `-future` directories no partition owns). Partitions
/// found nowhere are missing from the map (they get placed like new ones).
/// Names of the directories in `dir` (none if it cannot be listed, as `is_dir` of each
/// would have said).
fn subdirectories(dir: &Path) -> std::collections::HashSet<std::ffi::OsString> {
    match storage::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.is_dir())
            .map(|e| e.file_name())
            .collect(),
        Err(_) => Default::default(),
    }
}

pub fn discover(
    dirs: &[PathBuf],
    records: &[TopicRecord],
) -> Result<HashMap<(String, i32), PathBuf>> {
    let mut located = HashMap::new();
    let mut owned_futures = std::collections::HashSet::new();
    // One listing per log directory rather than two stats per partition and directory:
    // start-up with tens of thousands of partitions is mostly this loop.
    let listings: Vec<std::collections::HashSet<std::ffi::OsString>> =
        dirs.iter().map(|d| subdirectories(d)).collect();
    let listed = |i: usize, path: &Path| {
        path.file_name()
            .is_some_and(|name| listings[i].contains(name))
    };
    for record in records {
        for p in 0..record.partitions.max(0) {
            let current: Vec<&PathBuf> = dirs
                .iter()
                .enumerate()
                .filter(|(i, d)| listed(*i, &topic_store::partition_dir(d, &record.name, p)))
                .map(|(_, d)| d)
                .collect();
            let futures: Vec<PathBuf> = dirs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let f = topic_store::future_partition_dir(d, &record.name, p, &record.topic_id);
                    (i, f)
                })
                .filter(|(i, f)| listed(*i, f))
                .map(|(_, f)| f)
                .collect();
            owned_futures.extend(futures.iter().cloned());
            match (current.as_slice(), futures.as_slice()) {
                ([], []) => {}
                ([], [future]) => {
                    // Step 4 ran (the source was renamed away only after the copy was
                    // complete and fsync'd) but not step 5: do step 5.
                    let log_dir = future.parent().expect("in a log dir").to_path_buf();
                    let target = topic_store::partition_dir(&log_dir, &record.name, p);
                    storage::rename(future, &target)?;
                    storage::sync_dir(&log_dir)?;
                    tracing::info!(topic = %record.name, partition = p, dir = %log_dir.display(), "finished moving a partition whose move a crash interrupted after its copy was complete");
                    located.insert((record.name.clone(), p), log_dir);
                }
                ([], _) => bail!(
                    "partition {}-{p} has copies being moved into several log directories ({}) and no current one: not a state a move leaves; keep the wanted one under the name {}-{p} and remove the others",
                    record.name,
                    futures.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                    record.name
                ),
                ([dir], _) => {
                    for future in &futures {
                        // Steps 1 to 3: the source still served; the copy may be stale.
                        storage::remove_dir_all(future)?;
                        tracing::warn!(topic = %record.name, partition = p, copy = %future.display(), "dropped the copy of a partition move a crash interrupted; the partition stays where it was (send AlterReplicaLogDirs again)");
                    }
                    located.insert((record.name.clone(), p), (*dir).clone());
                }
                (many, _) => bail!(
                    "partition {}-{p} is in several log directories ({}): a move never leaves two; keep the wanted one and remove the others",
                    record.name,
                    many.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            }
        }
    }
    for dir in dirs {
        let Ok(entries) = storage::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let future = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(FUTURE_SUFFIX));
            if entry.is_dir() && future && !owned_futures.contains(&path) {
                // Its topic was deleted mid-move.
                if let Err(e) = storage::remove_dir_all(&path) {
                    tracing::warn!(dir = %path.display(), error = %e, "could not remove the copy of a deleted partition");
                }
            }
        }
    }
    Ok(located)
}

impl TopicRegistry {
    /// Log directories for `n` new partitions: each to the one holding the fewest
    /// partitions so far (moves counted at their destination), ties to the earlier.
    pub(super) fn place_partitions(&self, n: usize) -> Vec<PathBuf> {
        let mut counts: Vec<usize> = vec![0; self.log_dirs.len()];
        let mut count = |dir: &Path| {
            if let Some(i) = self.log_dirs.iter().position(|d| d == dir) {
                counts[i] += 1;
            }
        };
        for p in self.all_partitions() {
            if !self.moves.lock().contains_key(&(p.topic.clone(), p.index)) {
                count(&p.log_dir());
            }
        }
        for m in self.moves.lock().values() {
            count(&m.dest.lock());
        }
        (0..n)
            .map(|_| {
                let (i, _) = counts
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, c)| (**c, *i))
                    .expect("at least one log dir");
                counts[i] += 1;
                self.log_dirs[i].clone()
            })
            .collect()
    }

    /// The configured log directory `path` names (as configured, made absolute, or
    /// with links resolved, as DescribeLogDirs shows it).
    fn log_dir_named(&self, path: &str) -> Option<PathBuf> {
        let wanted = Path::new(path);
        let canonical = std::fs::canonicalize(wanted).ok();
        self.log_dirs
            .iter()
            .find(|d| {
                d.as_path() == wanted
                    || std::path::absolute(d).ok().as_deref() == Some(wanted)
                    || (canonical.is_some() && std::fs::canonicalize(d).ok() == canonical)
            })
            .cloned()
    }

    /// AlterReplicaLogDirs for one partition: starts moving it to `dest` in the
    /// background (or redirects the move in progress) and returns at once, as Kafka
    /// answers before the copy is done.
    pub fn alter_replica_log_dir(
        self: &Arc<Self>,
        topic: &str,
        partition: i32,
        dest: &str,
    ) -> Result<(), KafkaError> {
        let Some(dest) = self.log_dir_named(dest) else {
            return Err(KafkaError::new(
                ResponseError::LogDirNotFound,
                format!("Log dir {dest} is not found in the config."),
            ));
        };
        if storage::read_dir(&dest).is_err() {
            return Err(KafkaError::new(
                ResponseError::KafkaStorageError,
                format!("Log dir {} is offline", dest.display()),
            ));
        }
        let Some(topic) = self.get(topic) else {
            return Err(ResponseError::UnknownTopicOrPartition.into());
        };
        let Some(p) = topic.partition(partition).cloned() else {
            return Err(ResponseError::UnknownTopicOrPartition.into());
        };
        if p.is_offline() {
            return Err(ResponseError::KafkaStorageError.into());
        }
        let key = (topic.name.clone(), partition);
        let mut moves = self.moves.lock();
        if let Some(m) = moves.get(&key) {
            *m.dest.lock() = dest;
            return Ok(());
        }
        if p.log_dir() == dest {
            return Ok(());
        }
        let m = Arc::new(LogDirMove {
            dest: Mutex::new(dest),
            copied_offset: AtomicI64::new(0),
            future: Mutex::new(None),
        });
        moves.insert(key.clone(), m.clone());
        drop(moves);
        let registry = self.clone();
        let topic_id = topic.id;
        std::thread::spawn(move || loop {
            let outcome = registry.run_move(&p, topic_id, &m, None);
            let failed = matches!(outcome, Err(MoveEnd::Io(_)));
            if let Err(e) = outcome {
                if let Some(future) = m.future.lock().take() {
                    let _ = storage::remove_dir_all(&future);
                }
                if let MoveEnd::Io(e) = e {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "moving the partition to another log directory failed; it stays where it was");
                }
            }
            // A request that redirected the move after its last check is not lost: under
            // the lock requests take, either it is seen here or the next finds no move.
            let mut moves = registry.moves.lock();
            let again = !failed
                && !p.is_offline()
                && !registry.closing.load(Ordering::Acquire)
                && *m.dest.lock() != p.log_dir();
            if !again {
                moves.remove(&key);
                return;
            }
        });
        Ok(())
    }

    /// Runs a move to its end (or to `stop_after`, for tests). The partition keeps
    /// serving throughout; only the switch holds its lock.
    fn run_move(
        &self,
        p: &Arc<Partition>,
        topic_id: Uuid,
        m: &LogDirMove,
        stop_after: Option<MoveStep>,
    ) -> Result<(), MoveEnd> {
        let stop = |step: MoveStep| {
            if stop_after == Some(step) {
                Err(MoveEnd::Stopped)
            } else {
                Ok(())
            }
        };
        'restart: loop {
            let dest = m.dest.lock().clone();
            let src = p.dir();
            let src_log_dir = p.log_dir();
            if dest == src_log_dir || p.is_offline() || self.closing.load(Ordering::Acquire) {
                return Err(MoveEnd::Cancelled);
            }
            // Step 1.
            let future = topic_store::future_partition_dir(&dest, &p.topic, p.index, &topic_id);
            if let Some(old) = m.future.lock().replace(future.clone()) {
                let _ = storage::remove_dir_all(&old);
            }
            if storage::exists(&future) {
                storage::remove_dir_all(&future)?;
            }
            storage::create_dir(&future)?;
            storage::sync_dir(&dest)?;
            stop(MoveStep::FutureCreated)?;
            // A leftover of an earlier move out of the source's directory would be in the
            // way of step 4.
            let deleted =
                topic_store::deleted_partition_dir(&src_log_dir, &p.topic, p.index, &topic_id);
            if storage::exists(&deleted) {
                storage::remove_dir_all(&deleted)?;
            }
            // Step 2.
            let mut copy = DirCopy::new(&src, &future);
            let (mut passes, mut copied) = (0u32, 0u64);
            for pass in 1.. {
                if *m.dest.lock() != dest {
                    continue 'restart;
                }
                if p.is_offline() || self.closing.load(Ordering::Acquire) {
                    return Err(MoveEnd::Cancelled);
                }
                let covered = p.watermarks().high_watermark;
                let written = copy.pass()?;
                (passes, copied) = (pass, copied + written);
                m.copied_offset.store(covered, Ordering::Release);
                if written < SWITCH_BELOW_BYTES || pass >= MAX_PASSES {
                    break;
                }
            }
            copy.sync()?;
            stop(MoveStep::Copied)?;
            let target = topic_store::partition_dir(&dest, &p.topic, p.index);
            let now = self.clock.now_ms();
            let mut last_pass_bytes = 0;
            let switch_started = std::time::Instant::now();
            let switched = p.replace_log(|src_dir, config| {
                if *m.dest.lock() != dest || src_dir != src || self.closing.load(Ordering::Acquire)
                {
                    return Err(MoveEnd::Cancelled);
                }
                // Step 3.
                last_pass_bytes = copy.pass()?;
                copy.sync()?;
                stop(MoveStep::FinalCopy)?;
                // Step 4.
                storage::rename(&src, &deleted)?;
                storage::sync_dir(&src_log_dir)?;
                stop(MoveStep::SourceRenamed)?;
                // Step 5.
                let promoted =
                    storage::rename(&future, &target).and_then(|()| storage::sync_dir(&dest));
                if let Err(e) = promoted {
                    // Undo step 4: the source serves on.
                    storage::rename(&deleted, &src)?;
                    storage::sync_dir(&src_log_dir)?;
                    return Err(e.into());
                }
                stop(MoveStep::FuturePromoted)?;
                PartitionLog::open(&target, config.clone(), now).map_err(|e| {
                    MoveEnd::Io(std::io::Error::other(format!(
                        "opening the moved log in {}: {e}",
                        target.display()
                    )))
                })
            });
            // How long produce and fetch waited (the lock was held).
            let switch_ms = switch_started.elapsed().as_millis() as u64;
            match switched {
                Ok(()) => {}
                Err(MoveEnd::Cancelled) if *m.dest.lock() != dest => continue 'restart,
                Err(MoveEnd::Io(e)) if storage::exists(&target) && !storage::exists(&src) => {
                    // Committed (step 5) but the copy does not open: nothing is left to
                    // serve from until a restart recovers it.
                    p.retire_because(
                        "its log could not be opened after a move to another log directory",
                    );
                    return Err(MoveEnd::Io(e));
                }
                Err(e) => return Err(e),
            }
            m.future.lock().take();
            // Step 6.
            if let Err(e) = storage::remove_dir_all(&deleted) {
                tracing::warn!(dir = %deleted.display(), error = %e, "could not remove the old directory of a moved partition; it is removed at the next start");
            }
            tracing::info!(
                topic = %p.topic,
                partition = p.index,
                from = %src_log_dir.display(),
                to = %dest.display(),
                passes,
                bytes_copied = copied + last_pass_bytes,
                last_pass_bytes,
                switch_ms,
                "moved partition to another log directory"
            );
            return Ok(());
        }
    }

    /// Test seam: runs a move in the calling thread, stopping after `step` as a crash
    /// there would (nothing is cleaned up).
    #[cfg(test)]
    pub(super) fn move_stopping_after(
        &self,
        topic: &str,
        partition: i32,
        dest: &Path,
        step: Option<MoveStep>,
    ) -> bool {
        let t = self.get(topic).unwrap();
        let p = t.partition(partition).unwrap().clone();
        let m = Arc::new(LogDirMove {
            dest: Mutex::new(dest.to_path_buf()),
            copied_offset: AtomicI64::new(0),
            future: Mutex::new(None),
        });
        let key = (t.name.clone(), partition);
        // Registered as a move in progress, and left so when stopped (DescribeLogDirs
        // then shows the future replica).
        self.moves.lock().insert(key.clone(), m.clone());
        match self.run_move(&p, t.id, &m, step) {
            Ok(()) => {
                self.moves.lock().remove(&key);
                true
            }
            Err(MoveEnd::Stopped) => false,
            Err(e) => panic!("move failed: {e:?}"),
        }
    }

    /// Every log directory with what it holds: current replicas, and the future
    /// replicas of moves in progress.
    pub fn describe_log_dirs(&self) -> Vec<LogDirDescription> {
        let mut out: Vec<LogDirDescription> = self
            .log_dirs
            .iter()
            .map(|dir| LogDirDescription {
                dir: dir.clone(),
                space: match storage::read_dir(dir) {
                    Ok(_) => disk_space(dir).ok_or_else(|| "statvfs failed".to_string()),
                    Err(e) => Err(e.to_string()),
                },
                replicas: Vec::new(),
            })
            .collect();
        let moves: Moves = self.moves.lock().clone();
        for topic in self.list() {
            for p in &topic.partitions {
                let log_dir = p.log_dir();
                let Some(d) = out.iter_mut().find(|d| d.dir == log_dir) else {
                    continue;
                };
                d.replicas.push(ReplicaDescription {
                    topic: topic.name.clone(),
                    partition: p.index,
                    size_bytes: p.size_bytes() as i64,
                    offset_lag: 0,
                    is_future: false,
                });
                let Some(m) = moves.get(&(topic.name.clone(), p.index)) else {
                    continue;
                };
                let Some(future) = m.future.lock().clone() else {
                    continue;
                };
                let Some(parent) = future.parent() else {
                    continue;
                };
                let Some(d) = out.iter_mut().find(|d| d.dir == parent) else {
                    continue;
                };
                let end = p.watermarks().high_watermark;
                d.replicas.push(ReplicaDescription {
                    topic: topic.name.clone(),
                    partition: p.index,
                    size_bytes: dir_log_bytes(&future) as i64,
                    offset_lag: (end - m.copied_offset.load(Ordering::Acquire)).max(0),
                    is_future: true,
                });
            }
        }
        for d in &mut out {
            if d.space.is_err() {
                d.replicas.clear();
            }
        }
        out
    }
}

/// Bytes of the `.log` files in a directory.
fn dir_log_bytes(dir: &Path) -> u64 {
    let Ok(entries) = storage::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == crate::log::file_names::LOG_EXT)
        })
        .filter_map(|e| storage::metadata(e.path()).ok())
        .map(|m| m.len())
        .sum()
}

/// Total and available bytes of the file system holding `path` (statvfs).
pub fn disk_space(path: &Path) -> Option<(i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    if storage::is_in_memory(path) {
        return Some((-1, -1));
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as i64;
    Some((st.f_blocks as i64 * frsize, st.f_bavail as i64 * frsize))
}

#[cfg(test)]
#[path = "log_dirs_tests.rs"]
mod tests;
