//! DescribeLogDirs (key 35): every log directory (`log.dirs`) with each partition's size
//! on disk, the future replica of a partition being moved there (AlterReplicaLogDirs,
//! `is_future_key`, with its offset lag), and (v4+) the disk's total and usable bytes,
//! as `kafka-log-dirs` shows them. A directory that cannot be read answers
//! KAFKA_STORAGE_ERROR with no partitions, as Kafka answers for an offline directory.

use std::sync::Arc;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::ResponseError;

use super::{sb, RequestContext};
use crate::broker::Broker;

pub async fn handle(
    request: DescribeLogDirsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeLogDirsResponse> {
    let wanted: Option<Vec<(String, Vec<i32>)>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .map(|t| (t.topic.to_string(), t.partitions))
            .collect()
    });
    let mut results = Vec::new();
    for described in broker.topics.describe_log_dirs() {
        let mut dir = DescribeLogDirsResult::default();
        dir.log_dir = sb(match std::fs::canonicalize(&described.dir) {
            Ok(path) => path.display().to_string(),
            // An in-memory broker's directory has no name on disk.
            Err(_) => crate::log::storage::display(&described.dir),
        });
        let (total, usable) = match described.space {
            Ok(space) => space,
            Err(_) => {
                dir.error_code = ResponseError::KafkaStorageError.code();
                (-1, -1)
            }
        };
        for replica in described.replicas {
            let included = match &wanted {
                None => true,
                Some(w) => w.iter().any(|(name, parts)| {
                    **name == *replica.topic && parts.contains(&replica.partition)
                }),
            };
            if !included {
                continue;
            }
            let mut p = DescribeLogDirsPartition::default();
            p.partition_index = replica.partition;
            p.partition_size = replica.size_bytes;
            p.offset_lag = replica.offset_lag;
            p.is_future_key = replica.is_future;
            match dir.topics.iter_mut().find(|t| *t.name.0 == *replica.topic) {
                Some(t) => t.partitions.push(p),
                None => {
                    let mut t = DescribeLogDirsTopic::default();
                    t.name = TopicName(sb(replica.topic.to_string()));
                    t.partitions.push(p);
                    dir.topics.push(t);
                }
            }
        }
        if ctx.api_version >= 4 {
            dir.total_bytes = total;
            dir.usable_bytes = usable;
        }
        results.push(dir);
    }
    let mut r = DescribeLogDirsResponse::default();
    r.results = results;
    Some(r)
}
