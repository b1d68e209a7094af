//! Produce (key 0): appends record batches, as sent, to partition logs.
//!
//! acks=0 gets no answer; acks=1 is answered once the batches are in the log (the OS
//! page cache, which survives a crash of the broker process); acks=-1 (all) is
//! answered once they are fsync'd when `sluice.acks.all.fsync` is on (the default),
//! with group commit so concurrent producers share fsyncs. Every partition gets its own
//! error code; one bad partition never fails the others. A partition whose log went
//! offline (a failed fsync or write, see `crate::log::offline`) answers
//! KAFKA_STORAGE_ERROR to every produce, without writing, until the broker restarts.
//!
//! This handler only translates: each partition's records go once through the log's
//! validator (`crate::log::validator`, Kafka's `LogValidator`: size, header, CRC, the
//! one-batch rule, the record walk, the schema ids of topics with
//! `confluent.*.schema.validation`, looked up in `broker.schema_ids`, the
//! `compression.type` rebuild), outside the partition lock, and its result to
//! [`Partition::append_validated`]. What comes back is mapped to Kafka's error codes,
//! with the per-record errors of KIP-467 for v8+. Records are never decoded here.
//!
//! [`prepare`] appends synchronously and hands the wait for fsync back as an owned
//! future, so a connection can handle its next requests meanwhile (their appends then
//! share that fsync, group commit within one connection) while answers stay in order.
//! The appends themselves are never deferred or reordered: the handler has finished
//! writing to the log before the connection reads on.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::{KafkaError, ResponseError};
use crate::log::validator::schema_ids::{SchemaIdLookup, SchemaIds};
use crate::log::validator::RecordError;
use crate::log::{AppendError, AppendInfo, AppendOrigin, ValidationError};
use crate::topics::{Partition, Topic};
use bytes::Bytes;
use futures::future::BoxFuture;

/// What is left of a Produce once its batches are appended.
pub enum Prepared {
    /// The answer, or `None` for acks=0.
    Done(Option<ProduceResponse>),
    /// The answer once the appended data is fsync'd. It owns everything it needs, so
    /// the connection may handle its next requests while it waits: their appends join
    /// the same group-commit fsync.
    Durable(BoxFuture<'static, ProduceResponse>),
}

/// Appends and answers a Produce, waiting for its fsyncs (if any) before returning.
pub async fn handle(
    request: ProduceRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ProduceResponse> {
    match prepare(request, ctx, broker).await {
        Prepared::Done(response) => response,
        Prepared::Durable(wait) => Some(wait.await),
    }
}

/// Appends every batch, in request order, and returns the answer or the wait for
/// durability that precedes it. acks=0 is never deferred: its only possible answer
/// is closing the connection, which must happen before the next request is read.
pub async fn prepare(
    request: ProduceRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Prepared {
    // Transactions v2: a transactional Produce v12+ adds its partitions first.
    let refused = super::produce_txn::add_partitions(&request, ctx.api_version, broker).await;
    let mut appended = append_all(request, ctx, broker, &refused);
    if appended.acks == 0 {
        appended.wait_durable().await;
        appended.close_if_failed(ctx);
        return Prepared::Done(None);
    }
    if appended.pending_sync.is_empty() {
        return Prepared::Done(Some(appended.into_response()));
    }
    Prepared::Durable(Box::pin(async move {
        appended.wait_durable().await;
        appended.into_response()
    }))
}

/// The per-partition outcomes of one Produce, some awaiting fsync.
struct Appended {
    version: i16,
    acks: i16,
    responses: Vec<TopicProduceResponse>,
    /// (topic index, partition index, partition, end offset) awaiting fsync.
    pending_sync: Vec<(usize, usize, Arc<Partition>, i64)>,
}

fn append_all(
    request: ProduceRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
    refused: &super::produce_txn::Refusals,
) -> Appended {
    let version = ctx.api_version;
    let acks = request.acks;
    let now = broker.clock.now_ms();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut pending_sync = Vec::new();
    for topic_data in request.topic_data {
        let resolved: Result<Arc<Topic>, KafkaError> = if version >= 13 {
            broker
                .topics
                .get_by_id(&topic_data.topic_id)
                .ok_or_else(|| ResponseError::UnknownTopicId.into())
        } else {
            // An illegal name cannot exist, so Kafka answers UNKNOWN_TOPIC_OR_PARTITION
            // (Metadata is where clients learn INVALID_TOPIC_EXCEPTION).
            match broker.topics.get_or_auto_create(&topic_data.name) {
                Ok(Some(t)) => Ok(t),
                Ok(None) | Err(_) => Err(ResponseError::UnknownTopicOrPartition.into()),
            }
        };
        let mut topic_response = TopicProduceResponse::default();
        topic_response.name = topic_data.name.clone();
        topic_response.topic_id = topic_data.topic_id;
        for partition_data in topic_data.partition_data {
            let mut pr = PartitionProduceResponse::default();
            pr.index = partition_data.index;
            pr.base_offset = -1;
            pr.log_append_time_ms = -1;
            pr.log_start_offset = -1;
            let outcome = if !matches!(acks, -1..=1) {
                Err(Refused::from(KafkaError::new(
                    ResponseError::InvalidRequiredAcks,
                    format!("acks must be -1, 0 or 1, not {acks}"),
                )))
            } else {
                match &resolved {
                    Err(e) => Err(Refused::from(e.clone())),
                    Ok(topic) => {
                        let refusal = match refused.is_empty() {
                            true => None,
                            false => refused.get(&(topic.name.to_string(), partition_data.index)),
                        };
                        match refusal {
                            Some(e) => Err(Refused::from(KafkaError::from(*e))),
                            None => append(
                                topic,
                                partition_data.index,
                                partition_data.records,
                                now,
                                &broker.schema_ids,
                            ),
                        }
                    }
                }
            };
            match outcome {
                Ok((partition, info)) => {
                    pr.base_offset = info.base_offset;
                    pr.log_append_time_ms = info.log_append_time;
                    pr.log_start_offset = partition.watermarks().log_start_offset;
                    let fsync = (acks == -1 && broker.config.acks_all_fsync) || info.flush_needed;
                    if fsync {
                        pending_sync.push((
                            responses.len(),
                            topic_response.partition_responses.len(),
                            partition,
                            info.last_offset + 1,
                        ));
                    }
                }
                Err(Refused {
                    error: e,
                    record_errors,
                }) => {
                    // Storage errors were logged where they happened (or, for an
                    // offline partition, once when it went offline).
                    if !matches!(
                        e.error,
                        ResponseError::UnknownTopicOrPartition | ResponseError::KafkaStorageError
                    ) {
                        tracing::info!(topic = %&*topic_data.name, partition = partition_data.index, client = ?ctx.client_id, "produce refused: {e}");
                    }
                    pr.error_code = e.code();
                    if version >= 8 {
                        // KIP-467: name every rejected record, so clients fail those
                        // and may retry the rest (as Kafka's LogValidator reports).
                        pr.record_errors =
                            record_errors.into_iter().map(wire_record_error).collect();
                        pr.error_message = e.message.map(sb);
                    }
                }
            }
            topic_response.partition_responses.push(pr);
        }
        responses.push(topic_response);
    }

    Appended {
        version,
        acks,
        responses,
        pending_sync,
    }
}

impl Appended {
    /// Waits until every partition that needs it is fsync'd; a failed fsync turns that
    /// partition's answer into KAFKA_STORAGE_ERROR.
    async fn wait_durable(&mut self) {
        let pending = std::mem::take(&mut self.pending_sync);
        if pending.is_empty() {
            return;
        }
        let waits = pending
            .iter()
            .map(|(_, _, partition, end)| partition.wait_durable(*end));
        let results = futures::future::join_all(waits).await;
        for ((t, p, partition, _), result) in pending.iter().zip(results) {
            if let Err(e) = result {
                if partition.is_offline() {
                    // The partition logged its going offline once.
                    tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "produce not acknowledged: partition offline");
                } else {
                    tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "fsync failed; produce not acknowledged");
                }
                let pr = &mut self.responses[*t].partition_responses[*p];
                pr.error_code = ResponseError::KafkaStorageError.code();
                pr.base_offset = -1;
                if self.version >= 8 {
                    pr.error_message = Some(sb(format!("fsync failed: {e}")));
                }
            }
        }
    }

    /// acks=0: Kafka closes the connection when such a produce fails: with no answer
    /// coming, a disconnect is the only way the client learns and refreshes metadata.
    fn close_if_failed(&self, ctx: &RequestContext) {
        let failed = self
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter().map(move |p| (t, p)))
            .find(|(_, p)| p.error_code != 0);
        if let Some((t, p)) = failed {
            ctx.close_connection(format!(
                "acks=0 produce to {}-{} failed with error code {}",
                &*t.name, p.index, p.error_code
            ));
        }
    }

    fn into_response(self) -> ProduceResponse {
        let mut responses = self.responses;
        if self.version < 13 {
            for t in &mut responses {
                t.topic_id = uuid::Uuid::nil();
            }
        } else {
            for t in &mut responses {
                t.name = TopicName::default();
            }
        }
        let mut r = ProduceResponse::default();
        r.responses = responses;
        r
    }
}

/// A partition's refusal: its Kafka error and, when a record rule refused the batch,
/// the records it names (KIP-467).
struct Refused {
    error: KafkaError,
    record_errors: Vec<RecordError>,
}

impl From<KafkaError> for Refused {
    fn from(error: KafkaError) -> Self {
        Refused {
            error,
            record_errors: Vec::new(),
        }
    }
}

/// Validates one partition's records (outside the partition lock) and appends them.
fn append(
    topic: &Topic,
    index: i32,
    records: Option<Bytes>,
    now: i64,
    schema_ids: &Option<Arc<dyn SchemaIdLookup>>,
) -> Result<(Arc<Partition>, AppendInfo), Refused> {
    let Some(partition) = topic.partition(index) else {
        return Err(KafkaError::from(ResponseError::UnknownTopicOrPartition).into());
    };
    if let Err(e) = partition.check_online() {
        tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "produce refused");
        return Err(KafkaError::new(ResponseError::KafkaStorageError, e.to_string()).into());
    }
    let Some(records) = records else {
        return Err(KafkaError::new(
            ResponseError::InvalidRecord,
            "produce request carries no records",
        )
        .into());
    };
    let refused = |e: ValidationError| Refused {
        error: append_error(partition, e.error),
        record_errors: e.record_errors,
    };
    let validated = partition
        .validator(now, AppendOrigin::Client)
        .with_schema_ids(SchemaIds {
            topic: partition.topic.clone(),
            lookup: schema_ids.clone(),
        })
        .validate(records)
        .map_err(refused)?;
    let info = partition
        .append_validated(validated, now)
        .map_err(refused)?;
    Ok((partition.clone(), info))
}

fn wire_record_error(e: RecordError) -> BatchIndexAndErrorMessage {
    let mut wire = BatchIndexAndErrorMessage::default();
    wire.batch_index = e.batch_index;
    wire.batch_index_error_message = Some(sb(e.message));
    wire
}

/// Kafka's error code for each way an append can fail.
fn append_error(partition: &Partition, e: AppendError) -> KafkaError {
    match e {
        AppendError::CorruptMessage(m) => KafkaError::new(ResponseError::CorruptMessage, m),
        AppendError::InvalidRecord(m) => KafkaError::new(ResponseError::InvalidRecord, m),
        AppendError::InvalidTimestamp(m) => KafkaError::new(ResponseError::InvalidTimestamp, m),
        AppendError::OutOfOrderSequence(m) => {
            KafkaError::new(ResponseError::OutOfOrderSequenceNumber, m)
        }
        AppendError::InvalidProducerEpoch(m) => {
            KafkaError::new(ResponseError::InvalidProducerEpoch, m)
        }
        AppendError::MessageTooLarge { size, max } => KafkaError::new(
            ResponseError::MessageTooLarge,
            format!("record batch of {size} bytes exceeds max.message.bytes ({max})"),
        ),
        AppendError::ProducerStateLimit(m) => KafkaError::new(ResponseError::PolicyViolation, m),
        AppendError::Storage(e) => {
            if partition.is_offline() {
                tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "append refused: partition offline");
            } else {
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "append failed");
            }
            KafkaError::new(ResponseError::KafkaStorageError, e.to_string())
        }
    }
}
