//! Fetch (key 1): serves stored record batches, as written, to consumers.
//!
//! Honours max_wait_ms/min_bytes as a long poll woken by appends (no polling loop),
//! the response-wide max_bytes (capped by `fetch.max.bytes`) and each partition's
//! max_bytes, with Kafka's rule that the first partition with data may exceed them by
//! one batch so a large batch never blocks a consumer (KIP-74). Fetch sessions (KIP-227)
//! decide which partitions an answer carries. read_committed reads stop at the last
//! stable offset and carry the aborted transactions overlapping the records returned,
//! so the consumer can drop aborted records. An
//! offline partition (a failed fsync or write) answers KAFKA_STORAGE_ERROR.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId, TopicName};
use tokio::time::Instant;
use uuid::Uuid;

use super::{sb, RequestContext};
use crate::broker::fetch_session::{FetchItem, FetchKey, FetchOutcome, SessionMode};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::log::LogError;
use crate::topics::check_current_leader_epoch;

const READ_COMMITTED: i8 = 1;

struct PartitionResult {
    key: FetchKey,
    error: Option<ResponseError>,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    records: Bytes,
    /// read_committed only: aborted transactions overlapping `records`.
    aborted: Vec<crate::log::txn_index::AbortedTxn>,
}

pub async fn handle(
    request: FetchRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<FetchResponse> {
    let version = ctx.api_version;
    let by_id = version >= 13;
    let read_committed = version >= 4 && request.isolation_level == READ_COMMITTED;
    let response_max_bytes = if version >= 3 {
        request.max_bytes.clamp(0, broker.config.fetch_max_bytes)
    } else {
        broker.config.fetch_max_bytes
    } as usize;

    let resolve = |name: &TopicName, id: Uuid| -> FetchKey {
        let (topic, topic_id) = if by_id {
            let name = broker
                .topics
                .get_by_id(&id)
                .map(|t| t.name.clone())
                .unwrap_or_else(|| Arc::from(""));
            (name, id)
        } else {
            let id = broker.topics.get(name).map(|t| t.id).unwrap_or_default();
            (Arc::from(name.as_str()), id)
        };
        FetchKey {
            topic,
            topic_id,
            partition: 0,
        }
    };
    let mut requested = Vec::new();
    for t in &request.topics {
        let base = resolve(&t.topic, t.topic_id);
        for p in &t.partitions {
            requested.push(FetchItem {
                key: FetchKey {
                    partition: p.partition,
                    ..base.clone()
                },
                fetch_offset: p.fetch_offset,
                partition_max_bytes: p.partition_max_bytes,
                current_leader_epoch: if version >= 9 {
                    p.current_leader_epoch
                } else {
                    -1
                },
            });
        }
    }
    let mut forgotten = Vec::new();
    for t in &request.forgotten_topics_data {
        let base = resolve(&t.topic, t.topic_id);
        for p in &t.partitions {
            forgotten.push(FetchKey {
                partition: *p,
                ..base.clone()
            });
        }
    }

    let (mode, items) = if version >= 7 {
        match broker.fetch_sessions.begin(
            request.session_id,
            request.session_epoch,
            requested,
            &forgotten,
        ) {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(
                    conn = ctx.connection_id,
                    session = request.session_id,
                    epoch = request.session_epoch,
                    "fetch session error {e:?}"
                );
                let mut r = FetchResponse::default();
                r.error_code = e.code();
                return Some(r);
            }
        }
    } else {
        (SessionMode::Sessionless, requested)
    };

    let min_bytes = request.min_bytes.max(0) as usize;
    let deadline = Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let results = loop {
        // Subscribe before reading so an append between the read and the wait still
        // wakes us.
        let mut watchers: Vec<_> = items
            .iter()
            .filter_map(|i| {
                broker
                    .topics
                    .get(&i.key.topic)
                    .and_then(|t| t.partition(i.key.partition).map(|p| p.subscribe()))
            })
            .collect();
        let results = read_all(broker, &items, response_max_bytes, read_committed, by_id);
        let bytes: usize = results.iter().map(|r| r.records.len()).sum();
        let any_error = results.iter().any(|r| r.error.is_some());
        if bytes >= min_bytes
            || bytes >= response_max_bytes
            || any_error
            || watchers.is_empty()
            || Instant::now() >= deadline
        {
            break results;
        }
        let changed =
            futures::future::select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            break read_all(broker, &items, response_max_bytes, read_committed, by_id);
        }
    };

    let outcomes: Vec<(FetchKey, FetchOutcome)> = results
        .iter()
        .map(|r| {
            (
                r.key.clone(),
                FetchOutcome {
                    error: code(r.error),
                    has_records: !r.records.is_empty(),
                    high_watermark: r.high_watermark,
                    last_stable_offset: r.last_stable_offset,
                    log_start_offset: r.log_start_offset,
                },
            )
        })
        .collect();
    let include = broker.fetch_sessions.finish(mode, &outcomes);

    let mut r = FetchResponse::default();
    if version >= 7 {
        r.session_id = mode.session_id();
    }
    let mut topic_index: HashMap<(Arc<str>, Uuid), usize> = HashMap::new();
    for (result, include) in results.into_iter().zip(include) {
        if !include {
            continue;
        }
        let slot = *topic_index
            .entry((result.key.topic.clone(), result.key.topic_id))
            .or_insert_with(|| {
                let mut t = FetchableTopicResponse::default();
                if by_id {
                    t.topic_id = result.key.topic_id;
                } else {
                    t.topic = TopicName(sb(result.key.topic.to_string()));
                }
                r.responses.push(t);
                r.responses.len() - 1
            });
        let mut p = PartitionData::default();
        p.partition_index = result.key.partition;
        p.error_code = code(result.error);
        p.high_watermark = result.high_watermark;
        p.last_stable_offset = result.last_stable_offset;
        p.log_start_offset = result.log_start_offset;
        p.aborted_transactions = if read_committed {
            Some(
                result
                    .aborted
                    .iter()
                    .map(|a| {
                        let mut t = AbortedTransaction::default();
                        t.producer_id = ProducerId(a.producer_id);
                        t.first_offset = a.first_offset;
                        t
                    })
                    .collect(),
            )
        } else {
            None
        };
        p.records = Some(result.records);
        r.responses[slot].partitions.push(p);
    }
    Some(r)
}

/// Reads every partition once, sharing `response_max_bytes` among them in order.
fn read_all(
    broker: &Broker,
    items: &[FetchItem],
    response_max_bytes: usize,
    read_committed: bool,
    by_id: bool,
) -> Vec<PartitionResult> {
    let mut total = 0usize;
    items
        .iter()
        .map(|item| {
            let mut result = PartitionResult {
                key: item.key.clone(),
                error: None,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                records: Bytes::new(),
                aborted: Vec::new(),
            };
            let topic = broker.topics.get(&item.key.topic).filter(|t| t.id == item.key.topic_id || !by_id);
            let Some(partition) = topic.as_ref().and_then(|t| t.partition(item.key.partition)) else {
                result.error = Some(if by_id && topic.is_none() {
                    ResponseError::UnknownTopicId
                } else {
                    ResponseError::UnknownTopicOrPartition
                });
                return result;
            };
            if let Some(e) = check_current_leader_epoch(item.current_leader_epoch) {
                result.error = Some(e);
                return result;
            }
            if partition.is_offline() {
                // Logged once when it went offline; watermarks stay -1, as Kafka answers.
                tracing::debug!(topic = %partition.topic, partition = partition.index, "fetch refused: partition offline");
                result.error = Some(ResponseError::KafkaStorageError);
                return result;
            }
            let remaining = response_max_bytes.saturating_sub(total);
            let max_bytes = (item.partition_max_bytes.max(0) as usize).min(remaining);
            let marks = partition.watermarks();
            let bound = if read_committed { marks.last_stable_offset } else { marks.high_watermark };
            // Only the first partition that returns data may exceed the limits (KIP-74).
            let min_one_batch = total == 0;
            if max_bytes == 0 && !min_one_batch {
                result.high_watermark = marks.high_watermark;
                result.last_stable_offset = marks.last_stable_offset;
                result.log_start_offset = marks.log_start_offset;
                return result;
            }
            match partition.read(item.fetch_offset, max_bytes, Some(bound), min_one_batch) {
                Ok((info, marks)) => {
                    total += info.records.len();
                    if read_committed && !info.records.is_empty() {
                        let end = end_offset_of(&info.records);
                        match partition.aborted_transactions(item.fetch_offset, end) {
                            Ok(aborted) => result.aborted = aborted,
                            Err(e) => {
                                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "reading aborted transactions failed");
                                result.error = Some(ResponseError::KafkaStorageError);
                                return result;
                            }
                        }
                    }
                    result.records = info.records;
                    result.high_watermark = marks.high_watermark;
                    result.last_stable_offset = marks.last_stable_offset;
                    result.log_start_offset = marks.log_start_offset;
                }
                Err(LogError::OffsetOutOfRange { .. }) => {
                    result.error = Some(ResponseError::OffsetOutOfRange);
                    result.high_watermark = marks.high_watermark;
                    result.last_stable_offset = marks.last_stable_offset;
                    result.log_start_offset = marks.log_start_offset;
                }
                Err(e) => {
                    if partition.is_offline() {
                        tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "fetch refused: partition offline");
                    } else {
                        tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "fetch read failed");
                    }
                    result.error = Some(ResponseError::KafkaStorageError);
                }
            }
            result
        })
        .collect()
}

/// The offset after the last batch in `records` (whole batches, as the log returns).
fn end_offset_of(records: &Bytes) -> i64 {
    let mut at = 0;
    let mut end = -1;
    while let Some(h) = crate::log::BatchHeader::parse(&records[at..]) {
        end = h.last_offset() + 1;
        at += h.total_size();
        if at >= records.len() {
            break;
        }
    }
    end
}

fn code(error: Option<ResponseError>) -> i16 {
    error.map_or(0, |e| e.code())
}
