//! CreatePartitions (key 37): grows topics (never shrinks), with validate_only.
//! Manual assignments may only name this broker.

use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::{KafkaError, ResponseError};

pub async fn handle(
    request: CreatePartitionsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<CreatePartitionsResponse> {
    let mut r = CreatePartitionsResponse::default();
    let node = broker.config.node_id;
    for t in request.topics {
        let mut result = CreatePartitionsTopicResult::default();
        result.name = t.name.clone();
        let foreign = t
            .assignments
            .iter()
            .flatten()
            .any(|a| a.broker_ids.iter().any(|b| b.0 != node));
        let outcome = if foreign {
            Err(KafkaError::new(
                ResponseError::InvalidReplicaAssignment,
                format!("this cluster has only broker {node}"),
            ))
        } else {
            broker
                .topics
                .add_partitions(&t.name, t.count, request.validate_only)
                .map(|_| ())
        };
        if let Err(e) = outcome {
            tracing::info!(topic = %&*t.name, count = t.count, client = ?ctx.client_id, "CreatePartitions refused: {e}");
            result.error_code = e.code();
            result.error_message = e.message.map(sb);
        }
        r.results.push(result);
    }
    Some(r)
}
