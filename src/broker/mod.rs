//! The broker's state between the network front end and the storage engine: topics and
//! their partitions, fetch sessions, and background housekeeping. Later the
//! coordinators (groups, transactions, producer state) join here.
//!
//! Nothing in this module parses or encodes Kafka wire messages; the API handlers in
//! `crate::api` translate between requests and these types.

pub mod cleaner;
pub mod fetch_session;
pub mod housekeeping;
pub mod partition;
pub mod producer_ids;
pub mod topic_name;
pub mod topic_registry;
pub mod topic_store;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::BrokerConfig;
use crate::coordinator::transaction::TransactionCoordinator;
use crate::coordinator::GroupCoordinator;
use fetch_session::FetchSessionCache;
use topic_registry::TopicRegistry;

pub use partition::{Partition, Watermarks, LEADER_EPOCH};
pub use topic_registry::{now_ms, NewTopic, Topic};

/// Everything a request handler may need, shared by all connections.
pub struct Broker {
    pub config: Arc<BrokerConfig>,
    pub cluster_id: String,
    pub topics: TopicRegistry,
    pub fetch_sessions: FetchSessionCache,
    /// Producer ids for InitProducerId, never reused.
    pub producer_ids: producer_ids::ProducerIdManager,
    /// Consumer groups and committed offsets (state in `__consumer_offsets`).
    pub groups: GroupCoordinator,
    /// Transactions (state in `__transaction_state`).
    pub transactions: TransactionCoordinator,
}

impl Broker {
    /// Opens the data directory (creating it on first start) and recovers every
    /// partition log in it.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>> {
        let config = Arc::new(config);
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let cluster_id = topic_store::load_or_create_meta(&config.data_dir, config.node_id)?;
        let topics = TopicRegistry::load(config.clone())?;
        let groups = GroupCoordinator::load(&config, &topics)
            .context("loading consumer groups from __consumer_offsets")?;
        let transactions = TransactionCoordinator::load(&config, &topics)
            .context("loading transactions from __transaction_state")?;
        Ok(Arc::new(Broker {
            groups,
            transactions,
            fetch_sessions: FetchSessionCache::new(config.fetch_session_cache_slots),
            producer_ids: producer_ids::ProducerIdManager::open(&config.data_dir)?,
            config,
            cluster_id,
            topics,
        }))
    }

    /// Flushes and closes every log. Called once, after the listener stopped.
    pub fn shutdown(&self) {
        self.topics.close_all();
    }
}
