//! CreatePartitions (key 37): grows topics (never shrinks), with validate_only.
//! Manual assignments may only name this broker. Partitions added count against the
//! client's `controller_mutation_rate` (`throttle::MutationQuota`).

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
    let mut quota = super::throttle::MutationQuota::new(ctx, broker, ctx.api_version >= 3);
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
            let before = broker
                .topics
                .get(&t.name)
                .map_or(0, |t| t.partitions.len() as i32);
            match &mut quota {
                Some(q) if !request.validate_only => q.check(broker),
                _ => Ok(()),
            }
            .and_then(|()| {
                broker
                    .topics
                    .add_partitions(&t.name, t.count, request.validate_only)
            })
            .map(|_| {
                if let (Some(q), false) = (&mut quota, request.validate_only) {
                    q.take(broker, t.count - before);
                }
            })
        };
        if let Err(e) = outcome {
            tracing::info!(topic = %&*t.name, count = t.count, client = ?ctx.client_id, "CreatePartitions refused: {e}");
            result.error_code = e.code();
            result.error_message = e.message.map(sb);
        }
        r.results.push(result);
    }
    r.throttle_time_ms = super::throttle::MutationQuota::throttle_time_ms(&quota);
    Some(r)
}
