//! AlterReplicaLogDirs (key 34, v1-2 as Kafka 4 serves it: v0 went with KIP-896): moves
//! partitions to another of the broker's log directories (`log.dirs`), as
//! `kafka-reassign-partitions` with `log_dirs` and the admin clients'
//! `alterReplicaLogDirs` ask.
//!
//! Each partition is handed to `TopicRegistry::alter_replica_log_dir`, which starts the
//! move in the background and answers at once, as Kafka does; DescribeLogDirs shows the
//! future replica until the move completes. Errors per partition, as Kafka answers:
//! LOG_DIR_NOT_FOUND for a directory not in `log.dirs`, UNKNOWN_TOPIC_OR_PARTITION,
//! KAFKA_STORAGE_ERROR for an offline directory or partition.

use std::sync::Arc;

use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::{AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse};

use super::RequestContext;
use crate::broker::Broker;

pub async fn handle(
    request: AlterReplicaLogDirsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AlterReplicaLogDirsResponse> {
    let mut results: Vec<AlterReplicaLogDirTopicResult> = Vec::new();
    for dir in &request.dirs {
        for topic in &dir.topics {
            for &partition in &topic.partitions {
                let code = match broker.topics.alter_replica_log_dir(
                    &topic.name,
                    partition,
                    &dir.path,
                ) {
                    Ok(()) => 0,
                    Err(e) => {
                        tracing::info!(topic = %topic.name.as_str(), partition, dir = %dir.path.as_str(), error = %e, "AlterReplicaLogDirs refused");
                        e.code()
                    }
                };
                let mut p = AlterReplicaLogDirPartitionResult::default();
                p.partition_index = partition;
                p.error_code = code;
                match results.iter_mut().find(|r| r.topic_name == topic.name) {
                    Some(r) => r.partitions.push(p),
                    None => {
                        let mut r = AlterReplicaLogDirTopicResult::default();
                        r.topic_name = topic.name.clone();
                        r.partitions.push(p);
                        results.push(r);
                    }
                }
            }
        }
    }
    let mut response = AlterReplicaLogDirsResponse::default();
    response.results = results;
    Some(response)
}

/// Every partition of the request with `code` (a refused authorization).
pub fn refuse_all(request: &AlterReplicaLogDirsRequest, code: i16) -> AlterReplicaLogDirsResponse {
    let mut response = AlterReplicaLogDirsResponse::default();
    for dir in &request.dirs {
        for topic in &dir.topics {
            let mut r = AlterReplicaLogDirTopicResult::default();
            r.topic_name = topic.name.clone();
            r.partitions = topic
                .partitions
                .iter()
                .map(|&index| {
                    let mut p = AlterReplicaLogDirPartitionResult::default();
                    p.partition_index = index;
                    p.error_code = code;
                    p
                })
                .collect();
            response.results.push(r);
        }
    }
    response
}
