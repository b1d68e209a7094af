//! `_schemas` on Sluice's own log: one partition, cleanup.policy=compact and
//! retention.ms=-1, created on the first write (Confluent's registry creates it the
//! same way). Appends a write's records as one record batch (all or nothing) and
//! replays the whole partition at start-up.
//!
//! The topic is an ordinary topic, not one of Kafka's internal ones, as in Confluent's
//! deployments: tools can read it. Compaction keeps the last record per key; since a
//! hard-deleted id's SCHEMA record may one day be compacted away, the next id is
//! derived from the highest id in the log when it is replayed. This module never
//! interprets records; [`State`](super::records::State) does.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::error::RegistryError;
use super::records::{RecordKey, State};
use crate::coordinator::internal_log::Appended;
use crate::coordinator::replay::for_each_record;
use crate::error::ResponseError;
use crate::topics::{NewTopic, Partition, TopicRegistry};

pub const SCHEMAS_TOPIC: &str = "_schemas";

/// The partition of `_schemas`, created on first use.
pub fn partition(topics: &TopicRegistry) -> Result<Arc<Partition>, RegistryError> {
    let topic = match topics.get(SCHEMAS_TOPIC) {
        Some(t) => t,
        None => {
            let mut configs = BTreeMap::new();
            configs.insert("cleanup.policy".to_string(), "compact".to_string());
            configs.insert("retention.ms".to_string(), "-1".to_string());
            let new = NewTopic {
                name: SCHEMAS_TOPIC.to_string(),
                num_partitions: 1,
                replication_factor: 1,
                configs,
            };
            match topics.create(new, false) {
                Ok(t) => {
                    tracing::info!(topic = SCHEMAS_TOPIC, "created the schema registry's topic");
                    t
                }
                Err(e) if e.error == ResponseError::TopicAlreadyExists => topics
                    .get(SCHEMAS_TOPIC)
                    .ok_or_else(|| RegistryError::store_error("_schemas vanished"))?,
                Err(e) => {
                    return Err(RegistryError::store_error(format!(
                        "cannot create {SCHEMAS_TOPIC}: {e:?}"
                    )))
                }
            }
        }
    };
    topic
        .partition(0)
        .cloned()
        .ok_or_else(|| RegistryError::store_error("_schemas has no partition 0"))
}

/// Appends `entries` (key, value; None = tombstone) as one batch.
pub fn append(
    partition: &Arc<Partition>,
    entries: &[(RecordKey, Option<Vec<u8>>)],
    now_ms: i64,
) -> Result<Appended, RegistryError> {
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: now_ms,
            key: Some(Bytes::from(key.encode())),
            value: value.clone().map(Bytes::from),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options)
        .map_err(|e| RegistryError::store_error(format!("encoding a _schemas batch: {e}")))?;
    let info = partition.append(buf.freeze(), now_ms).map_err(|e| {
        tracing::error!(topic = SCHEMAS_TOPIC, error = %e, "appending to _schemas failed");
        RegistryError::store_error(format!("Error while writing to _schemas: {e}"))
    })?;
    Ok(Appended::new(partition.clone(), info.last_offset + 1))
}

/// Rebuilds the registry's state from `_schemas` (empty if the topic does not exist).
pub fn replay(topics: &TopicRegistry) -> Result<State> {
    let mut state = State::default();
    let Some(topic) = topics.get(SCHEMAS_TOPIC) else {
        return Ok(state);
    };
    for partition in &topic.partitions {
        for_each_record(partition, |record| {
            if record.control {
                return;
            }
            let Some(key) = &record.key else { return };
            match RecordKey::decode(key) {
                Ok(key) => state.apply(&key, record.value.as_deref()),
                Err(e) => {
                    tracing::warn!(offset = record.offset, error = %e, "skipping undecodable _schemas key")
                }
            }
        })
        .with_context(|| format!("replaying {SCHEMAS_TOPIC}-{}", partition.index))?;
    }
    Ok(state)
}
