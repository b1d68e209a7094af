//! DeleteRecords (key 21): moves partitions' log start offsets forward (Kafka's
//! `kafka-delete-records`). Offset -1 means "up to the high watermark". Whole segments
//! below the new start are deleted; the rest of a segment stays on disk but is no
//! longer readable.

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::log::LogError;

/// Kafka's `DeleteRecordsRequest.HIGH_WATERMARK`.
const HIGH_WATERMARK: i64 = -1;

pub async fn handle(
    request: DeleteRecordsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DeleteRecordsResponse> {
    let mut r = DeleteRecordsResponse::default();
    for t in request.topics {
        let topic = broker.topics.get(&t.name);
        let mut tr = DeleteRecordsTopicResult::default();
        tr.name = t.name.clone();
        for p in t.partitions {
            let mut pr = DeleteRecordsPartitionResult::default();
            pr.partition_index = p.partition_index;
            pr.low_watermark = -1;
            match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                None => pr.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(partition) => {
                    let target = (p.offset != HIGH_WATERMARK).then_some(p.offset);
                    let outcome = partition.delete_records_before(target);
                    match outcome {
                        Ok(low) => {
                            pr.low_watermark = low;
                            tracing::info!(topic = %&*t.name, partition = p.partition_index, log_start_offset = low, client = ?ctx.client_id, "records deleted");
                        }
                        Err(LogError::OffsetOutOfRange { .. }) => {
                            pr.error_code = ResponseError::OffsetOutOfRange.code()
                        }
                        Err(e) => {
                            if partition.is_offline() {
                                tracing::debug!(topic = %&*t.name, partition = p.partition_index, error = %e, "DeleteRecords refused: partition offline");
                            } else {
                                tracing::error!(topic = %&*t.name, partition = p.partition_index, error = %e, "DeleteRecords failed");
                            }
                            pr.error_code = ResponseError::KafkaStorageError.code();
                        }
                    }
                }
            }
            tr.partitions.push(pr);
        }
        r.topics.push(tr);
    }
    Some(r)
}
