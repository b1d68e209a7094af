//! The set of topics this broker hosts: lookup by name and by topic id, creation
//! (including auto-creation) and deletion, and loading everything at start-up.
//!
//! Lookups take a read lock on the topic map only; partitions are handed out as
//! `Arc<Partition>` so produce and fetch never hold this lock while touching a log.
//! Creation and deletion are serialised by a separate lock because they write
//! metadata files. Deleted partition directories are renamed first and removed in the
//! background, so DeleteTopics never waits on the disk.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use super::checkpoint_batch::{self, DueCheckpoint};
use super::log_dirs::Moves;
use super::name as topic_name;
use super::partition::Partition;
use super::shutdown::{self, ClosedLogs, OPEN_CLOSE_THREADS};
use super::startup_cleanup;
use super::store::{self as topic_store, TopicRecord};
use crate::clock::Clock;
use crate::config::{validate_topic_configs, BrokerConfig};
use crate::error::{KafkaError, ResponseError};
use crate::log::fs_sync::FileSystemSync;
use crate::log::storage;
use crate::log::PartitionLog;

pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    pub partitions: Vec<Arc<Partition>>,
    /// Topic-level config overrides (Kafka names), as given at creation.
    pub configs: BTreeMap<String, String>,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    pub fn is_internal(&self) -> bool {
        topic_name::is_internal(&self.name)
    }
}

/// What a CreateTopics entry asks for, already defaulted.
pub struct NewTopic {
    pub name: String,
    pub num_partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

pub struct TopicRegistry {
    /// The first log directory: topic files and the metadata change count.
    data_dir: PathBuf,
    /// Every log directory (`log.dirs`), `data_dir` first.
    pub(super) log_dirs: Vec<PathBuf>,
    /// AlterReplicaLogDirs moves in progress, by partition (`log_dirs`).
    pub(super) moves: Mutex<Moves>,
    config: Arc<BrokerConfig>,
    pub(super) clock: Clock,
    topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    by_id: RwLock<HashMap<Uuid, Arc<Topic>>>,
    /// Serialises create and delete (they write files and must not interleave).
    admin_lock: Mutex<()>,
    /// Metadata changes committed so far (`metadata.changes`), advanced under
    /// `admin_lock` after each change's commit point.
    metadata_changes: AtomicI64,
    /// One `syncfs` per log directory for a clean shutdown, opened at start-up; `None`
    /// where that is not as safe as per-file fsyncs (`crate::log::fs_sync`).
    pub(super) fs_sync: Option<FileSystemSync>,
    /// Set by `close_all`: moves stop before their switch.
    pub(super) closing: std::sync::atomic::AtomicBool,
}

impl TopicRegistry {
    /// Registers every topic recorded in the data directory, each partition in whichever
    /// log directory holds it, and removes directories left over from deletions and
    /// interrupted moves. Partition logs are not opened here: each is opened (and
    /// recovered, after a crash) on first touch (`Partition::cold`), so start-up does no
    /// per-partition I/O beyond listing the log directories.
    pub fn load(config: Arc<BrokerConfig>, clock: Clock) -> Result<TopicRegistry> {
        let data_dir = config.data_dir.clone();
        let log_dirs = config.log_dirs();
        for dir in &log_dirs {
            startup_cleanup::remove_deleted_dirs(dir);
        }
        let registry = TopicRegistry {
            data_dir: data_dir.clone(),
            log_dirs: log_dirs.clone(),
            moves: Mutex::new(HashMap::new()),
            config,
            clock,
            topics: RwLock::new(HashMap::new()),
            by_id: RwLock::new(HashMap::new()),
            admin_lock: Mutex::new(()),
            closing: std::sync::atomic::AtomicBool::new(false),
            fs_sync: FileSystemSync::open(&log_dirs),
            metadata_changes: AtomicI64::new(topic_store::read_metadata_changes(&data_dir)?),
        };
        let records = topic_store::read_topics(&data_dir)?;
        let located = super::log_dirs::discover(&log_dirs, &records)?;
        for dir in &log_dirs {
            startup_cleanup::remove_uncommitted_partition_dirs(dir, &records);
        }
        let mut closed_logs = shutdown::read_closed_logs(&log_dirs)?;
        for record in records {
            let placement: Vec<PathBuf> = (0..record.partitions.max(0))
                .map(|p| match located.get(&(record.name.clone(), p)) {
                    Some(dir) => dir.clone(),
                    None => registry.place_partitions(1).remove(0),
                })
                .collect();
            registry.insert(registry.cold_topic(&record, &placement, &mut closed_logs));
        }
        Ok(registry)
    }

    /// The topic of `record` with every partition cold (in log directory
    /// `placement[p]`), each with its entry of that directory's `clean-shutdown.logs`
    /// (taken from `closed_logs`): no file is touched.
    fn cold_topic(
        &self,
        record: &TopicRecord,
        placement: &[PathBuf],
        closed_logs: &mut ClosedLogs,
    ) -> Arc<Topic> {
        let name: Arc<str> = Arc::from(record.name.as_str());
        let log_config = self.config.log_config(&record.configs);
        let partitions = placement
            .iter()
            .enumerate()
            .map(|(p, log_dir)| {
                let dir = topic_store::partition_dir(log_dir, &record.name, p as i32);
                let closed = closed_logs
                    .get_mut(log_dir)
                    .and_then(|entries| entries.remove(&(record.topic_id, p as i32)));
                Arc::new(Partition::cold(
                    name.clone(),
                    p as i32,
                    dir,
                    log_config.clone(),
                    self.clock.clone(),
                    closed,
                ))
            })
            .collect();
        Arc::new(Topic {
            name,
            id: record.topic_id,
            partitions,
            configs: record.configs.clone(),
        })
    }

    /// Opens (creating) the partitions of `record`, partition `p` in log directory
    /// `placement[p]`.
    fn open_topic(
        &self,
        record: &TopicRecord,
        now: i64,
        placement: &[PathBuf],
    ) -> Result<Arc<Topic>> {
        let name: Arc<str> = Arc::from(record.name.as_str());
        let log_config = self.config.log_config(&record.configs);
        // Opened from several threads, as they are closed (`close_all`): opening is
        // mostly waiting for the file system, and partitions are independent.
        let n = record.partitions.max(0) as usize;
        let opened: Vec<Mutex<Option<Result<PartitionLog>>>> =
            (0..n).map(|_| Mutex::new(None)).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        // After a failure no more partitions are made: they would only be removed again.
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..OPEN_CLOSE_THREADS.min(n) {
                scope.spawn(|| loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let p = next.fetch_add(1, Ordering::Relaxed);
                    let Some(slot) = opened.get(p) else { break };
                    let dir = topic_store::partition_dir(&placement[p], &record.name, p as i32);
                    let log = open_new_partition(&dir, log_config.clone(), now)
                        .with_context(|| format!("opening {}", dir.display()));
                    if log.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slot.lock() = Some(log);
                });
            }
        });
        let mut partitions = Vec::with_capacity(n);
        let mut first_error = None;
        for (p, slot) in opened.into_iter().enumerate() {
            match slot.into_inner() {
                Some(Ok(log)) => {
                    partitions.push(Arc::new(Partition::new(name.clone(), p as i32, log)))
                }
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {} // not tried: another partition failed first
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        assert_eq!(partitions.len(), n, "every partition was opened");
        Ok(Arc::new(Topic {
            name,
            id: record.topic_id,
            partitions,
            configs: record.configs.clone(),
        }))
    }

    fn insert(&self, topic: Arc<Topic>) {
        self.by_id.write().insert(topic.id, topic.clone());
        self.topics.write().insert(topic.name.clone(), topic);
    }

    /// How many metadata changes (topic created, deleted, grown or reconfigured) this
    /// data directory has committed: the offset a KRaft metadata log would have reached,
    /// counting one per change rather than one per record.
    pub fn metadata_changes(&self) -> i64 {
        self.metadata_changes.load(Ordering::Acquire)
    }

    /// Counts one committed change; called with `admin_lock` held, after the change's
    /// commit point. The count is persisted right away; if that write fails the change
    /// stands and the count on disk lags (it stays monotonic), with a warning.
    fn count_metadata_change(&self) {
        let count = self.metadata_changes.fetch_add(1, Ordering::AcqRel) + 1;
        if let Err(e) = topic_store::write_metadata_changes(&self.data_dir, count) {
            tracing::warn!(error = %format!("{e:#}"), "could not persist the metadata change count");
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    pub fn get_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.by_id.read().get(id).cloned()
    }

    /// All topics, sorted by name.
    pub fn list(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self.topics.read().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.topics
            .read()
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// Returns the topic, creating it with broker defaults if auto-creation is on and
    /// the name is legal. `Ok(None)` means it does not exist and was not created.
    pub fn get_or_auto_create(&self, name: &str) -> Result<Option<Arc<Topic>>, KafkaError> {
        if let Some(t) = self.get(name) {
            return Ok(Some(t));
        }
        if !self.config.auto_create_topics_enable {
            return Ok(None);
        }
        topic_name::validate(name)
            .map_err(|m| KafkaError::new(ResponseError::InvalidTopicException, m))?;
        if topic_name::is_internal(name) {
            return Ok(None);
        }
        let new = NewTopic {
            name: name.to_string(),
            num_partitions: self.config.num_partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
        };
        match self.create(new, false) {
            Ok(t) => {
                tracing::info!(topic = name, "auto-created topic");
                Ok(Some(t))
            }
            // Lost a race with another creator: theirs is as good as ours.
            Err(e) if e.error == ResponseError::TopicAlreadyExists => Ok(self.get(name)),
            Err(e) => Err(e),
        }
    }

    /// Returns an internal topic (`__consumer_offsets`, `__transaction_state`), creating
    /// it on first use with the given partition count and config overrides, as Kafka
    /// creates its internal topics when a coordinator is first looked up.
    pub fn get_or_create_internal(
        &self,
        name: &str,
        num_partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, KafkaError> {
        debug_assert!(topic_name::is_internal(name));
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        let new = NewTopic {
            name: name.to_string(),
            num_partitions,
            replication_factor: 1,
            configs,
        };
        match self.create(new, false) {
            Ok(t) => {
                tracing::info!(
                    topic = name,
                    partitions = num_partitions,
                    "created internal topic"
                );
                Ok(t)
            }
            Err(e) if e.error == ResponseError::TopicAlreadyExists => self.get(name).ok_or(e),
            Err(e) => Err(e),
        }
    }

    /// Validates and (unless `validate_only`) creates a topic. Errors carry the code
    /// CreateTopics answers with.
    pub fn create(&self, new: NewTopic, validate_only: bool) -> Result<Arc<Topic>, KafkaError> {
        topic_name::validate(&new.name)
            .map_err(|m| KafkaError::new(ResponseError::InvalidTopicException, m))?;
        if new.num_partitions <= 0 {
            return Err(KafkaError::new(
                ResponseError::InvalidPartitions,
                "Number of partitions must be larger than 0.",
            ));
        }
        if new.replication_factor != 1 {
            return Err(KafkaError::new(
                ResponseError::InvalidReplicationFactor,
                format!(
                    "Replication factor: {} larger than available brokers: 1.",
                    new.replication_factor
                ),
            ));
        }
        validate_topic_configs(&new.configs)
            .map_err(|m| KafkaError::new(ResponseError::InvalidConfig, m))?;
        let _admin = self.admin_lock.lock();
        if self.get(&new.name).is_some() {
            return Err(KafkaError::new(
                ResponseError::TopicAlreadyExists,
                format!("Topic '{}' already exists.", new.name),
            ));
        }
        if let Some(clash) = self.colliding_topic(&new.name) {
            return Err(KafkaError::new(
                ResponseError::InvalidTopicException,
                format!(
                    "Topic '{}' collides with existing topic: {clash} ('.' and '_' are interchangeable in metric names)",
                    new.name
                ),
            ));
        }
        let record = TopicRecord {
            version: 1,
            name: new.name.clone(),
            topic_id: Uuid::new_v4(),
            partitions: new.num_partitions,
            configs: new.configs,
        };
        if validate_only {
            return Ok(Arc::new(Topic {
                name: Arc::from(record.name.as_str()),
                id: record.topic_id,
                partitions: Vec::new(),
                configs: record.configs,
            }));
        }
        let storage = |e: anyhow::Error| {
            tracing::error!(topic = %record.name, error = %format!("{e:#}"), "creating topic failed");
            KafkaError::new(ResponseError::KafkaStorageError, format!("{e:#}"))
        };
        // Partition directories first, then the topic file: the topic file is the
        // commit point. A failure at any step before it removes every directory this
        // call made (a crash does the same at the next start-up), so a topic is either
        // all there or not there at all.
        let placement = self.place_partitions(record.partitions as usize);
        let created = 0..record.partitions;
        let topic = self
            .open_topic(&record, self.clock.now_ms(), &placement)
            .map_err(|e| self.undo_partition_dirs(&record.name, created.clone(), &placement, e))
            .map_err(storage)?;
        if let Err(e) = self.sync_log_dirs() {
            drop(topic);
            return Err(storage(self.undo_partition_dirs(
                &record.name,
                created,
                &placement,
                e,
            )));
        }
        if let Err(e) = topic_store::write_topic(&self.data_dir, &record) {
            drop(topic);
            return Err(storage(self.undo_partition_dirs(
                &record.name,
                created,
                &placement,
                e,
            )));
        }
        self.insert(topic.clone());
        self.count_metadata_change();
        Ok(topic)
    }

    /// CreatePartitions: grows a topic to `new_count` partitions (Kafka never shrinks).
    pub fn add_partitions(
        &self,
        name: &str,
        new_count: i32,
        validate_only: bool,
    ) -> Result<Arc<Topic>, KafkaError> {
        let _admin = self.admin_lock.lock();
        let Some(topic) = self.get(name) else {
            return Err(KafkaError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        let current = topic.partitions.len() as i32;
        if new_count == current {
            return Err(KafkaError::new(
                ResponseError::InvalidPartitions,
                format!("Topic already has {current} partitions."),
            ));
        }
        if new_count < current {
            return Err(KafkaError::new(
                ResponseError::InvalidPartitions,
                format!("Topic currently has {current} partitions, which is higher than the requested {new_count}."),
            ));
        }
        if validate_only {
            return Ok(topic);
        }
        let record = TopicRecord {
            version: 1,
            name: name.to_string(),
            topic_id: topic.id,
            partitions: new_count,
            configs: topic.configs.clone(),
        };
        let storage =
            |e: anyhow::Error| KafkaError::new(ResponseError::KafkaStorageError, format!("{e:#}"));
        let log_config = self.config.log_config(&topic.configs);
        let mut partitions = topic.partitions.clone();
        // As in `create`: the rewritten topic file is the commit point, and every
        // directory made before a failure is removed again.
        let added = current..new_count;
        let mut placement: Vec<PathBuf> = vec![self.data_dir.clone(); current as usize];
        placement.extend(self.place_partitions((new_count - current) as usize));
        for p in added.clone() {
            let dir = topic_store::partition_dir(&placement[p as usize], name, p);
            match open_new_partition(&dir, log_config.clone(), self.clock.now_ms()) {
                Ok(log) => partitions.push(Arc::new(Partition::new(topic.name.clone(), p, log))),
                Err(e) => {
                    partitions.truncate(current as usize);
                    let e = anyhow::Error::new(e).context(format!("opening {}", dir.display()));
                    return Err(storage(
                        self.undo_partition_dirs(name, added, &placement, e),
                    ));
                }
            }
        }
        let committed = self
            .sync_log_dirs()
            .and_then(|()| topic_store::write_topic(&self.data_dir, &record));
        if let Err(e) = committed {
            partitions.truncate(current as usize);
            return Err(storage(
                self.undo_partition_dirs(name, added, &placement, e),
            ));
        }
        let grown = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: topic.configs.clone(),
        });
        self.insert(grown.clone());
        self.count_metadata_change();
        tracing::info!(
            topic = name,
            from = current,
            to = new_count,
            "added partitions"
        );
        Ok(grown)
    }

    /// Replaces a topic's config overrides (validated), persists them and applies them
    /// to every partition log at once: no restart needed.
    pub fn set_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), KafkaError> {
        validate_topic_configs(&configs)
            .map_err(|m| KafkaError::new(ResponseError::InvalidConfig, m))?;
        let _admin = self.admin_lock.lock();
        let Some(topic) = self.get(name) else {
            return Err(KafkaError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {name} does not exist"),
            ));
        };
        if validate_only {
            return Ok(());
        }
        let record = TopicRecord {
            version: 1,
            name: name.to_string(),
            topic_id: topic.id,
            partitions: topic.partitions.len() as i32,
            configs: configs.clone(),
        };
        topic_store::write_topic(&self.data_dir, &record)
            .map_err(|e| KafkaError::new(ResponseError::KafkaStorageError, format!("{e:#}")))?;
        self.count_metadata_change();
        let log_config = self.config.log_config(&configs);
        for p in &topic.partitions {
            p.set_config(log_config.clone());
        }
        self.insert(Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partitions.clone(),
            configs,
        }));
        tracing::info!(topic = name, "topic configs changed");
        Ok(())
    }

    /// Removes the directories of partitions `range` of `topic` after a creation that
    /// failed before its commit point (their logs are already closed: dropped by the
    /// caller), and returns the creation's error for the caller to report.
    fn undo_partition_dirs(
        &self,
        topic: &str,
        range: std::ops::Range<i32>,
        placement: &[PathBuf],
        error: anyhow::Error,
    ) -> anyhow::Error {
        for p in range {
            let dir = topic_store::partition_dir(&placement[p as usize], topic, p);
            match topic_store::remove_new_partition_dir(&dir) {
                Ok(()) => {}
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "could not remove the directory of a partition whose creation failed; it is removed at the next start")
                }
            }
        }
        let _ = self.sync_log_dirs();
        error
    }

    /// fsyncs every log directory but the first (`write_topic` syncs that one), so the
    /// partition directories a topic file is about to need are durable names first.
    fn sync_log_dirs(&self) -> Result<()> {
        for dir in &self.log_dirs[1..] {
            topic_store::sync_dir(dir)?;
        }
        Ok(())
    }

    /// Kafka refuses topics whose names differ only by '.' vs '_' (metric name clash).
    fn colliding_topic(&self, name: &str) -> Option<String> {
        let norm = |s: &str| s.replace('.', "_");
        let n = norm(name);
        self.topics
            .read()
            .keys()
            .find(|k| k.as_ref() != name && norm(k) == n)
            .map(|k| k.to_string())
    }

    /// Deletes a topic: it disappears at once; its files go in the background.
    pub fn delete(&self, name: &str) -> Result<Uuid, KafkaError> {
        let _admin = self.admin_lock.lock();
        let Some(topic) = self.topics.write().remove(name) else {
            return Err(ResponseError::UnknownTopicOrPartition.into());
        };
        self.by_id.write().remove(&topic.id);
        let storage =
            |e: anyhow::Error| KafkaError::new(ResponseError::KafkaStorageError, format!("{e:#}"));
        topic_store::remove_topic(&self.data_dir, &topic.id).map_err(storage)?;
        self.count_metadata_change();
        let mut doomed = Vec::new();
        for p in &topic.partitions {
            // Retired first: a move's switch (under the same lock) then never runs, and
            // the partition's directory is where it stays.
            p.retire();
            let dir = p.dir();
            let log_dir = p.log_dir();
            let target = topic_store::deleted_partition_dir(&log_dir, name, p.index, &topic.id);
            match storage::rename(&dir, &target) {
                Ok(()) => doomed.push(target),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not rename deleted partition directory")
                }
            }
        }
        // The topic file's removal above is the commit point; the renames only spare
        // start-up the work (and the error line) of finding the directories unowned.
        if let Err(e) = self
            .sync_log_dirs()
            .and_then(|()| topic_store::sync_dir(&self.data_dir))
        {
            tracing::warn!(dir = %self.data_dir.display(), error = %format!("{e:#}"), "fsync of the log directories after renaming a deleted topic's partitions failed");
        }
        std::thread::spawn(move || {
            for dir in doomed {
                if let Err(e) = storage::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not remove deleted partition directory");
                }
            }
        });
        crate::metrics::global().topic_deleted(name);
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Writes periodic checkpoints that housekeeping collected, with one sync of each
    /// file system where that is as safe as per-file fsyncs (`checkpoint_batch`).
    pub fn write_checkpoints(&self, due: &[DueCheckpoint]) {
        checkpoint_batch::write_all(due, self.fs_sync.as_ref());
    }

    /// Whether `close_all` began: background passes over every partition stop early.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// Opens (creating) a new partition's log and gives its descriptor back at once: the log
/// is empty and its first append reopens it, so creating many partitions never holds one
/// descriptor each.
fn open_new_partition(
    dir: &Path,
    config: crate::log::LogConfig,
    now_ms: i64,
) -> Result<PartitionLog, crate::log::LogError> {
    let mut log = PartitionLog::open(dir, config, now_ms)?;
    log.release_files()?;
    Ok(log)
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "lazy_tests.rs"]
mod lazy_tests;
