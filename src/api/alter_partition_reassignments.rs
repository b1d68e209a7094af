//! AlterPartitionReassignments (key 45): what a one-broker KRaft cluster answers when
//! asked to move replicas.
//!
//! Per partition, with the checks and messages of Kafka's controller
//! (ReplicationControlManager): an unknown topic or partition is
//! UNKNOWN_TOPIC_OR_PARTITION; cancelling (null replicas) is NO_REASSIGNMENT_IN_PROGRESS,
//! because no reassignment is ever ongoing; a target list that is empty, names a broker
//! other than this node (no such broker is registered) or names one twice is
//! INVALID_REPLICA_ASSIGNMENT; from v1, a target that changes the replication factor
//! when the request does not allow it is INVALID_REPLICATION_FACTOR. The only valid
//! target, `[this node]`, is the current assignment: success, and nothing changes.

use std::sync::Arc;

use kafka_protocol::messages::alter_partition_reassignments_request::ReassignablePartition;
use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::{KafkaError, ResponseError};

pub async fn handle(
    request: AlterPartitionReassignmentsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AlterPartitionReassignmentsResponse> {
    // v0 has no such field: changing the replication factor was always allowed.
    let allow_rf_change = ctx.api_version < 1 || request.allow_replication_factor_change;
    let mut r = AlterPartitionReassignmentsResponse::default();
    r.allow_replication_factor_change = allow_rf_change;
    for topic in request.topics {
        let mut tr = ReassignableTopicResponse::default();
        for partition in &topic.partitions {
            let mut pr = ReassignablePartitionResponse::default();
            pr.partition_index = partition.partition_index;
            if let Err(e) = reassign(broker, &topic.name, partition, allow_rf_change) {
                tracing::info!(
                    connection = ctx.connection_id,
                    topic = %&*topic.name,
                    partition = partition.partition_index,
                    "partition reassignment refused: {e}"
                );
                pr.error_code = e.code();
                pr.error_message = e.message.map(sb);
            }
            tr.partitions.push(pr);
        }
        tr.name = topic.name;
        r.responses.push(tr);
    }
    Some(r)
}

fn reassign(
    broker: &Broker,
    topic: &str,
    target: &ReassignablePartition,
    allow_rf_change: bool,
) -> Result<(), KafkaError> {
    let index = target.partition_index;
    let unknown = |m: String| KafkaError::new(ResponseError::UnknownTopicOrPartition, m);
    let t = broker
        .topics
        .get(topic)
        .ok_or_else(|| unknown(format!("Unable to find a topic named {topic}.")))?;
    t.partition(index)
        .ok_or_else(|| unknown(format!("Unable to find partition {topic}:{index}.")))?;
    let Some(replicas) = &target.replicas else {
        return Err(KafkaError::new(
            ResponseError::NoReassignmentInProgress,
            "No partition reassignment is in progress.",
        ));
    };
    let invalid = |m: String| KafkaError::new(ResponseError::InvalidReplicaAssignment, m);
    // The current assignment is this node alone: replication factor 1.
    if !allow_rf_change && replicas.len() != 1 {
        return Err(KafkaError::new(
            ResponseError::InvalidReplicationFactor,
            format!(
                "The replication factor is changed from 1 to {}",
                replicas.len()
            ),
        ));
    }
    if replicas.is_empty() {
        return Err(invalid(
            "The manual partition assignment includes an empty replica list.".into(),
        ));
    }
    let mut sorted: Vec<i32> = replicas.iter().map(|b| b.0).collect();
    sorted.sort_unstable();
    let mut previous = None;
    for id in sorted {
        if id != broker.config.node_id {
            return Err(invalid(format!(
                "The manual partition assignment includes broker {id}, but no such broker is registered."
            )));
        }
        if previous == Some(id) {
            return Err(invalid(format!(
                "The manual partition assignment includes the broker {id} more than once."
            )));
        }
        previous = Some(id);
    }
    Ok(())
}
