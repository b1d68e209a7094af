//! The composition root: [`Broker`] opens the data directory, builds each part from
//! exactly what it needs (topics, coordinators, producer ids, a clock), hands the API
//! handlers one shared set of those parts, and owns every lifecycle (background tasks,
//! shutdown).
//!
//! Nothing below this module knows it exists: coordinators get the topic registry and
//! a clock, never `&Broker`. It holds no logic of its own beyond wiring; the parts it
//! holds are the same public interfaces any other front end (an HTTP side, an embedded
//! broker) uses. It never parses Kafka requests or touches sockets. Beside it live the
//! broker-wide services that are neither a coordinator nor a topic: incremental fetch
//! sessions ([`fetch_session`]), and the housekeeping and log-cleaner tasks.

pub mod cleaner;
pub mod data_dir_lock;
pub mod fetch_session;
pub mod housekeeping;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::coordinator::features::FeatureControl;
use crate::coordinator::producer_ids::ProducerIdManager;
use crate::coordinator::{group, transaction, GroupCoordinator, TransactionCoordinator};
use crate::log::storage::{self, MemoryVolume};
use crate::log::validator::schema_ids::SchemaIdLookup;
use crate::schema_registry::SchemaRegistry;
use crate::topics::{store, TopicRegistry};
use data_dir_lock::DataDirLock;
use fetch_session::FetchSessionCache;

/// The broker's parts, shared by every connection and background task.
pub struct Broker {
    pub config: Arc<BrokerConfig>,
    pub cluster_id: String,
    pub clock: Clock,
    pub topics: Arc<TopicRegistry>,
    pub fetch_sessions: FetchSessionCache,
    /// Producer ids for InitProducerId, never reused.
    pub producer_ids: Arc<ProducerIdManager>,
    /// Finalized feature levels (`<log.dirs>/features`): ApiVersions, UpdateFeatures.
    pub features: Arc<FeatureControl>,
    /// Consumer groups and committed offsets (state in `__consumer_offsets`).
    pub groups: Arc<GroupCoordinator>,
    /// KIP-932 share groups (share-partition state in `__share_group_state`).
    pub share: Arc<crate::coordinator::share::ShareCoordinator>,
    /// Transactions (state in `__transaction_state`).
    pub transactions: Arc<TransactionCoordinator>,
    /// The schema registry (state in `_schemas`), served by `http::schema_registry`.
    pub schema_registry: Arc<SchemaRegistry>,
    /// What produce validation asks for schema ids (`confluent.*.schema.validation`):
    /// the registry, or None when it is disabled (such topics then refuse produces).
    pub schema_ids: Option<Arc<dyn SchemaIdLookup>>,
    /// SCRAM users (`<log.dirs>/scram-credentials`).
    pub scram_credentials: crate::security::ScramCredentialStore,
    /// ACLs (`<log.dirs>/acls`) and the rules that check them (`authorizer.class.name`).
    pub authorizer: crate::security::Authorizer,
    /// KIP-714 client telemetry: subscriptions (`<log.dirs>/client-metrics`) and the
    /// metrics clients pushed.
    pub telemetry: Arc<crate::coordinator::telemetry::ClientMetricsManager>,
    /// This process's ownership of the data directory, held until the broker is
    /// dropped; or, with `in_memory`, the volume that holds every file instead (its
    /// files are gone when the broker is dropped).
    _storage: Storage,
}

/// Where a broker keeps its files, held for its life.
enum Storage {
    /// The first log directory's lock, then the others' (`log.dirs`).
    Disk(
        #[allow(dead_code)] DataDirLock,
        #[allow(dead_code)] Vec<DataDirLock>,
    ),
    Memory(#[allow(dead_code)] MemoryVolume),
}

/// The background tasks a running broker owns; aborted at shutdown.
pub struct BackgroundTasks {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl BackgroundTasks {
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

impl Broker {
    /// Opens the data directory (creating it on first start), recovers every partition
    /// log in it and rebuilds the coordinators' state, on the system clock.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>> {
        Broker::open_with_clock(config, Clock::system())
    }

    /// [`Broker::open`] on a data directory whose lock the caller already holds
    /// (`run` takes it before its HTTP side binds, and hands it over here so the
    /// directory is never unowned in between).
    pub fn open_locked(config: BrokerConfig, lock: DataDirLock) -> Result<Arc<Broker>> {
        Broker::open_inner(config, Clock::system(), Some(lock))
    }

    /// [`Broker::open`] with the clock every part will read (tests move a manual one).
    pub fn open_with_clock(config: BrokerConfig, clock: Clock) -> Result<Arc<Broker>> {
        Broker::open_inner(config, clock, None)
    }

    fn open_inner(
        mut config: BrokerConfig,
        clock: Clock,
        lock: Option<DataDirLock>,
    ) -> Result<Arc<Broker>> {
        let storage = if config.in_memory {
            // Every part finds its files under the data directory: a volume's root
            // puts them all in memory, with no lock to take (no one else can see it).
            let volume = MemoryVolume::new();
            config.data_dir = volume.root().to_path_buf();
            config.extra_log_dirs.clear();
            Storage::Memory(volume)
        } else {
            storage::create_dir_all(&config.data_dir).with_context(|| {
                format!("creating data directory {}", config.data_dir.display())
            })?;
            // Before anything is read or written: a second broker must not recover (and
            // rewrite) logs that the first is appending to.
            let first = match lock {
                Some(lock) => lock,
                None => DataDirLock::acquire(&config.data_dir)?,
            };
            // Every log directory has its own lock, as in Kafka.
            let mut others = Vec::new();
            for dir in &config.extra_log_dirs {
                storage::create_dir_all(dir)
                    .with_context(|| format!("creating log directory {}", dir.display()))?;
                others.push(DataDirLock::acquire(dir)?);
            }
            Storage::Disk(first, others)
        };
        let config = Arc::new(config);
        let cluster_id = store::load_or_create_meta(&config.data_dir, config.node_id)?;
        for dir in &config.extra_log_dirs {
            store::check_or_create_log_dir_meta(dir, config.node_id, &cluster_id)?;
        }
        let topics = Arc::new(TopicRegistry::load(config.clone(), clock.clone())?);
        let producer_ids = Arc::new(ProducerIdManager::open(&config.data_dir)?);
        let features = Arc::new(FeatureControl::open(&config.data_dir)?);
        let groups = Arc::new(
            GroupCoordinator::load(&config, topics.clone(), clock.clone())
                .context("loading consumer groups from __consumer_offsets")?,
        );
        let transactions = Arc::new(
            TransactionCoordinator::load(
                &config,
                topics.clone(),
                producer_ids.clone(),
                clock.clone(),
                groups.clone(),
                features.clone(),
            )
            .context("loading transactions from __transaction_state")?,
        );
        let share = Arc::new(
            crate::coordinator::share::ShareCoordinator::load(
                crate::coordinator::share::ShareConfig::from_broker(&config)?,
                topics.clone(),
                clock.clone(),
            )
            .context("loading share groups from __share_group_state")?,
        );
        let schema_registry = Arc::new(
            SchemaRegistry::open(
                topics.clone(),
                clock.clone(),
                config.schema_registry_max_schema_bytes,
            )
            .context("loading the schema registry from _schemas")?,
        );
        let scram_credentials = crate::security::ScramCredentialStore::open(&config.data_dir)
            .context("loading SCRAM credentials")?;
        let schema_ids = (!config.schema_registry_listen.is_empty())
            .then(|| schema_registry.clone() as Arc<dyn SchemaIdLookup>);
        let authorizer = crate::security::Authorizer::open(
            &config.data_dir,
            crate::security::AuthorizerConfig {
                enabled: config.authorizer_enabled,
                super_users: config.super_users.iter().cloned().collect(),
                allow_everyone_if_no_acl_found: config.allow_everyone_if_no_acl_found,
            },
        )
        .context("loading ACLs")?;
        let telemetry = Arc::new(
            crate::coordinator::telemetry::ClientMetricsManager::open(
                &config.data_dir,
                crate::coordinator::telemetry::TelemetryConfig::from_broker(&config),
                clock.clone(),
            )
            .context("loading client-metrics subscriptions")?,
        );
        Ok(Arc::new(Broker {
            telemetry,
            schema_ids,
            schema_registry,
            scram_credentials,
            authorizer,
            groups,
            share,
            transactions,
            fetch_sessions: FetchSessionCache::new(config.fetch_session_cache_slots),
            producer_ids,
            features,
            config,
            cluster_id,
            clock,
            topics,
            _storage: storage,
        }))
    }

    /// Completes transactions decided before a crash, so their markers are written
    /// before clients connect.
    pub async fn complete_recovery(&self) {
        self.transactions.complete_prepared().await;
    }

    /// Starts housekeeping (rolls, flushes, retention, the log cleaner) and the
    /// coordinators' timers. Must run inside a tokio runtime.
    pub fn spawn_background_tasks(self: &Arc<Self>) -> BackgroundTasks {
        BackgroundTasks {
            tasks: vec![
                housekeeping::spawn(self.config.clone(), self.topics.clone(), self.clock.clone()),
                group::coordinator::spawn_timers(self.groups.clone()),
                transaction::spawn_timers(self.transactions.clone()),
                crate::coordinator::share::spawn_timers(self.share.clone()),
            ],
        }
    }

    /// Flushes and closes every log. Called once, after the listener stopped.
    pub fn shutdown(&self) {
        self.topics.close_all();
    }
}
