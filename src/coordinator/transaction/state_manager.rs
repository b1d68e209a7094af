//! Where transaction state lives (Kafka's `TransactionStateManager`): the map from
//! transactional id to its [`TransactionMetadata`] (each behind its own lock), and the
//! internal topic `__transaction_state` on the project's own log engine: which
//! partition an id belongs to, appending one state record, and replaying every
//! partition at start-up.
//!
//! The topic is created on first write with cleanup.policy=compact and retention.ms=-1.
//! The topic is compacted, so its closed segments keep the latest record per id;
//! replay reads what is there (the last record of each id wins; a null value forgets
//! the id). The map lock is
//! held only to find, insert or remove an entry, never during I/O. This module never
//! decides transitions (that is `metadata` and the coordinator) and never writes
//! markers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use parking_lot::Mutex;

use super::log::{self as txn_log, TransactionLogValue};
use super::metadata::{TransactionMetadata, TxnTransitMetadata};
use crate::coordinator::group::store::partition_for;
use crate::coordinator::internal_log::{append_failed, Appended};
use crate::coordinator::replay::for_each_record;
use crate::error::ResponseError;
use crate::topics::TopicRegistry;
use crate::topics::{Partition, Topic};

pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

pub type TxnRef = Arc<Mutex<TransactionMetadata>>;

/// Settings of the `__transaction_state` topic, used when it is created.
#[derive(Clone, Debug)]
pub struct TxnLogConfig {
    pub num_partitions: i32,
    pub segment_bytes: i32,
}

pub struct TransactionStateManager {
    config: TxnLogConfig,
    txns: Mutex<HashMap<String, TxnRef>>,
}

impl TransactionStateManager {
    /// Rebuilds every transactional id from `__transaction_state` (if it exists).
    pub fn load(config: TxnLogConfig, topics: &TopicRegistry) -> Result<TransactionStateManager> {
        let started = std::time::Instant::now();
        let mut latest: HashMap<String, Option<TransactionLogValue>> = HashMap::new();
        let mut records = 0u64;
        if let Some(topic) = topics.get(TRANSACTION_STATE_TOPIC) {
            for partition in &topic.partitions {
                replay_partition(partition, &mut latest, &mut records).with_context(|| {
                    format!("replaying {}-{}", TRANSACTION_STATE_TOPIC, partition.index)
                })?;
            }
        }
        let txns: HashMap<String, TxnRef> = latest
            .into_iter()
            .filter_map(|(id, v)| {
                let m = TransactionMetadata::from_log(&id, &v?);
                Some((id, Arc::new(Mutex::new(m))))
            })
            .collect();
        if records > 0 {
            tracing::info!(
                transactional_ids = txns.len(),
                records,
                ms = started.elapsed().as_millis() as u64,
                "loaded transactions from __transaction_state"
            );
        }
        Ok(TransactionStateManager {
            config,
            txns: Mutex::new(txns),
        })
    }

    pub fn get(&self, transactional_id: &str) -> Option<TxnRef> {
        self.txns.lock().get(transactional_id).cloned()
    }

    /// The entry for `transactional_id`, inserting `create()` if there is none.
    pub fn get_or_insert(
        &self,
        transactional_id: &str,
        create: impl FnOnce() -> TransactionMetadata,
    ) -> TxnRef {
        self.txns
            .lock()
            .entry(transactional_id.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(create())))
            .clone()
    }

    /// Forgets an id (after its tombstone is durable), if it is still the same entry.
    pub fn remove(&self, transactional_id: &str, entry: &TxnRef) {
        let mut txns = self.txns.lock();
        if txns
            .get(transactional_id)
            .is_some_and(|e| Arc::ptr_eq(e, entry))
        {
            txns.remove(transactional_id);
        }
    }

    /// Every entry, sorted by transactional id.
    pub fn all(&self) -> Vec<(String, TxnRef)> {
        let mut v: Vec<_> = self
            .txns
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Appends the state record of `transactional_id` (`None`: a tombstone) as one
    /// uncompressed record batch to its `__transaction_state` partition.
    pub fn append(
        &self,
        topics: &TopicRegistry,
        transactional_id: &str,
        transit: Option<&TxnTransitMetadata>,
        transaction_version: i16,
        now_ms: i64,
    ) -> Result<Appended, ResponseError> {
        let topic = self.topic(topics)?;
        let index = partition_for(transactional_id, topic.partitions.len() as i32);
        let partition = topic
            .partition(index)
            .cloned()
            .ok_or(ResponseError::CoordinatorNotAvailable)?;
        let value = transit.map(|t| {
            let v = TransactionLogValue::from_transit(t);
            txn_log::encode_value(&v, v.version_for(transaction_version))
        });
        let batch = encode_batch(txn_log::encode_key(transactional_id), value, now_ms)?;
        let info = partition
            .append(batch, now_ms)
            .map_err(|e| append_failed(&partition, transactional_id, &e))?;
        Ok(Appended::new(partition, info.last_offset + 1))
    }

    /// Whether the `__transaction_state` partition of `transactional_id` is offline (a
    /// failed fsync or write): writing its state cannot succeed until a restart.
    pub fn partition_offline(&self, topics: &TopicRegistry, transactional_id: &str) -> bool {
        topics.get(TRANSACTION_STATE_TOPIC).is_some_and(|topic| {
            let index = partition_for(transactional_id, topic.partitions.len() as i32);
            topic.partition(index).is_some_and(|p| p.is_offline())
        })
    }

    fn topic(&self, topics: &TopicRegistry) -> Result<Arc<Topic>, ResponseError> {
        let mut configs = BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        configs.insert("retention.ms".to_string(), "-1".to_string());
        configs.insert(
            "segment.bytes".to_string(),
            self.config.segment_bytes.to_string(),
        );
        topics
            .get_or_create_internal(TRANSACTION_STATE_TOPIC, self.config.num_partitions, configs)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot create __transaction_state");
                ResponseError::CoordinatorNotAvailable
            })
    }
}

fn encode_batch(key: Bytes, value: Option<Bytes>, now_ms: i64) -> Result<Bytes, ResponseError> {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms,
        key: Some(key),
        value,
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).map_err(|e| {
        tracing::error!(error = %e, "encoding a __transaction_state record failed");
        ResponseError::UnknownServerError
    })?;
    Ok(buf.freeze())
}

fn replay_partition(
    partition: &Partition,
    latest: &mut HashMap<String, Option<TransactionLogValue>>,
    records: &mut u64,
) -> Result<()> {
    for_each_record(partition, |record| {
        if record.control {
            return;
        }
        let Some(key) = &record.key else { return };
        let id = match txn_log::decode_key(key) {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(offset = record.offset, error = %e, "skipping undecodable __transaction_state key");
                return;
            }
        };
        *records += 1;
        match &record.value {
            None => {
                latest.insert(id, None);
            }
            Some(v) => match txn_log::decode_value(v) {
                Ok(value) => {
                    latest.insert(id, Some(value));
                }
                Err(e) => {
                    tracing::warn!(offset = record.offset, transactional_id = %id, error = %e, "skipping undecodable __transaction_state value")
                }
            },
        }
    })
}
