//! ListOffsets (key 2): offsets by special timestamp or by time.
//!
//! -1 latest (the high watermark, or the last stable offset for read_committed), -2
//! earliest (the log start offset), -3 the record with the largest timestamp (KIP-734),
//! -4 earliest local (= earliest without tiered storage), -5 latest tiered (KIP-1005) and
//! -6 earliest pending upload (v11, Kafka 4.2, KIP-1023), both offset -1 as Kafka answers
//! for a topic without remote storage; any other timestamp finds the first record whose
//! timestamp is >= it, or answers offset -1 when there is none. A special timestamp
//! older than the version that introduced it (or unknown) answers UNSUPPORTED_VERSION,
//! as Kafka's ReplicaManager does. An offline partition (a failed fsync or write)
//! answers KAFKA_STORAGE_ERROR.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::error::{KafkaError, ResponseError};
use crate::topics::check_current_leader_epoch;
use crate::topics::{Partition, LEADER_EPOCH};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;
const READ_COMMITTED: i8 = 1;

pub async fn handle(
    request: ListOffsetsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ListOffsetsResponse> {
    let version = ctx.api_version;
    let read_committed = version >= 2 && request.isolation_level == READ_COMMITTED;
    let mut r = ListOffsetsResponse::default();
    for t in request.topics {
        let topic = broker.topics.get(&t.name);
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = t.name.clone();
        for p in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            let partition = topic.as_ref().and_then(|t| t.partition(p.partition_index));
            let current_epoch = if version >= 4 {
                p.current_leader_epoch
            } else {
                -1
            };
            let outcome = match (partition, check_current_leader_epoch(current_epoch)) {
                (None, _) => Err(ResponseError::UnknownTopicOrPartition.into()),
                (Some(_), Some(epoch_error)) => Err(epoch_error.into()),
                (Some(_), None) if timestamp_unsupported(p.timestamp, version) => {
                    Err(KafkaError::new(
                        ResponseError::UnsupportedVersion,
                        format!("timestamp {} needs a newer ListOffsets", p.timestamp),
                    ))
                }
                (Some(partition), None) => lookup(partition, p.timestamp, read_committed),
            };
            match outcome {
                Ok((offset, timestamp)) => {
                    pr.offset = offset;
                    pr.timestamp = timestamp;
                    if version >= 4 {
                        pr.leader_epoch = if offset >= 0 { LEADER_EPOCH } else { -1 };
                    }
                }
                Err(e) => {
                    pr.error_code = e.code();
                    pr.offset = -1;
                    pr.timestamp = -1;
                }
            }
            tr.partitions.push(pr);
        }
        r.topics.push(tr);
    }
    Some(r)
}

/// A special (negative) timestamp the request's version does not know.
fn timestamp_unsupported(timestamp: i64, version: i16) -> bool {
    let since = match timestamp {
        t if t >= 0 => return false,
        LATEST | EARLIEST => 0,
        MAX_TIMESTAMP => 7,
        EARLIEST_LOCAL => 8,
        LATEST_TIERED => 9,
        EARLIEST_PENDING_UPLOAD => 11,
        _ => return true,
    };
    version < since
}

/// Returns (offset, timestamp) for one partition.
fn lookup(
    partition: &Partition,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64), KafkaError> {
    let storage =
        |e: crate::log::LogError| KafkaError::new(ResponseError::KafkaStorageError, e.to_string());
    // An offline partition (a failed fsync or write) answers every lookup so.
    partition.check_online().map_err(storage)?;
    let marks = partition.watermarks();
    let visible_end = if read_committed {
        marks.last_stable_offset
    } else {
        marks.high_watermark
    };
    match timestamp {
        LATEST => Ok((visible_end, -1)),
        EARLIEST | EARLIEST_LOCAL => Ok((marks.log_start_offset, -1)),
        MAX_TIMESTAMP => {
            let found = partition.max_timestamp_and_offset().map_err(storage)?;
            Ok(match found {
                Some((offset, ts)) if offset < visible_end => (offset, ts),
                _ => (-1, -1),
            })
        }
        // No remote storage: nothing is tiered, nothing waits for upload.
        LATEST_TIERED | EARLIEST_PENDING_UPLOAD => Ok((-1, -1)),
        ts if ts < 0 => Err(KafkaError::new(
            ResponseError::UnsupportedVersion,
            format!("unsupported special timestamp {ts}"),
        )),
        ts => {
            let found = partition.offset_for_timestamp(ts).map_err(storage)?;
            Ok(match found {
                Some((offset, found_ts)) if offset < visible_end => (offset, found_ts),
                _ => (-1, -1),
            })
        }
    }
}
