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
use std::sync::Arc;

use anyhow::{Context, Result};
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use super::name as topic_name;
use super::partition::Partition;
use super::store::{self as topic_store, TopicRecord, DELETE_SUFFIX};
use crate::clock::Clock;
use crate::config::{validate_topic_configs, BrokerConfig};
use crate::error::{KafkaError, ResponseError};
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
    data_dir: PathBuf,
    config: Arc<BrokerConfig>,
    clock: Clock,
    topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    by_id: RwLock<HashMap<Uuid, Arc<Topic>>>,
    /// Serialises create and delete (they write files and must not interleave).
    admin_lock: Mutex<()>,
}

impl TopicRegistry {
    /// Opens every topic recorded in the data directory, recovering each partition log,
    /// and removes directories left over from deletions.
    pub fn load(config: Arc<BrokerConfig>, clock: Clock) -> Result<TopicRegistry> {
        let data_dir = config.data_dir.clone();
        remove_deleted_dirs(&data_dir);
        let registry = TopicRegistry {
            data_dir: data_dir.clone(),
            config,
            clock,
            topics: RwLock::new(HashMap::new()),
            by_id: RwLock::new(HashMap::new()),
            admin_lock: Mutex::new(()),
        };
        let now = registry.clock.now_ms();
        for record in topic_store::read_topics(&data_dir)? {
            let topic = registry
                .open_topic(&record, now)
                .with_context(|| format!("opening topic {}", record.name))?;
            registry.insert(topic);
        }
        Ok(registry)
    }

    fn open_topic(&self, record: &TopicRecord, now: i64) -> Result<Arc<Topic>> {
        let name: Arc<str> = Arc::from(record.name.as_str());
        let log_config = self.config.log_config(&record.configs);
        let mut partitions = Vec::with_capacity(record.partitions as usize);
        for p in 0..record.partitions {
            let dir = topic_store::partition_dir(&self.data_dir, &record.name, p);
            let log = PartitionLog::open(dir.clone(), log_config.clone(), now)
                .with_context(|| format!("opening {}", dir.display()))?;
            partitions.push(Arc::new(Partition::new(name.clone(), p, log)));
        }
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
        // commit point, and directories without one are ignored at start-up.
        let topic = self
            .open_topic(&record, self.clock.now_ms())
            .map_err(storage)?;
        topic_store::write_topic(&self.data_dir, &record).map_err(storage)?;
        self.insert(topic.clone());
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
        for p in current..new_count {
            let dir = topic_store::partition_dir(&self.data_dir, name, p);
            let log = PartitionLog::open(dir, log_config.clone(), self.clock.now_ms())
                .map_err(|e| storage(anyhow::anyhow!(e)))?;
            partitions.push(Arc::new(Partition::new(topic.name.clone(), p, log)));
        }
        topic_store::write_topic(&self.data_dir, &record).map_err(storage)?;
        let grown = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: topic.configs.clone(),
        });
        self.insert(grown.clone());
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
        let mut doomed = Vec::new();
        for p in &topic.partitions {
            let dir = topic_store::partition_dir(&self.data_dir, name, p.index);
            let target =
                topic_store::deleted_partition_dir(&self.data_dir, name, p.index, &topic.id);
            match std::fs::rename(&dir, &target) {
                Ok(()) => doomed.push(target),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not rename deleted partition directory")
                }
            }
        }
        let _ = topic_store::sync_dir(&self.data_dir);
        std::thread::spawn(move || {
            for dir in doomed {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not remove deleted partition directory");
                }
            }
        });
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Flushes and closes every partition log (clean shutdown).
    pub fn close_all(&self) {
        for p in self.all_partitions() {
            let was_offline = p.is_offline();
            if let Err(e) = p.close() {
                if was_offline {
                    tracing::warn!(topic = %p.topic, partition = p.index, "offline partition left without a clean-shutdown marker; the next start recovers it");
                } else {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "closing partition log failed");
                }
            }
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

fn remove_deleted_dirs(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir()
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(DELETE_SUFFIX))
        {
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(dir = %path.display(), error = %e, "could not remove deleted partition directory");
            }
        }
    }
}
