//! DeleteTopics (key 20): by name (v0-v5) or by name or topic id (v6+). The topic
//! disappears at once; its files are removed in the background. Its partitions count
//! against the client's `controller_mutation_rate` (`throttle::MutationQuota`).

use std::sync::Arc;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use uuid::Uuid;

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: DeleteTopicsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DeleteTopicsResponse> {
    let version = ctx.api_version;
    let wanted: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::nil()))
            .collect()
    };
    let mut r = DeleteTopicsResponse::default();
    let mut quota = super::throttle::MutationQuota::new(ctx, broker, version >= 5);
    for (name, id) in wanted {
        let mut result = DeletableTopicResult::default();
        let resolved = match &name {
            Some(n) => Ok(n.to_string()),
            None => broker
                .topics
                .get_by_id(&id)
                .map(|t| t.name.to_string())
                .ok_or(ResponseError::UnknownTopicId),
        };
        result.topic_id = id;
        result.name = name.clone();
        match resolved {
            Ok(n) if crate::topics::name::is_internal(&n) => {
                result.error_code = ResponseError::TopicDeletionDisabled.code();
            }
            Ok(n) => match quota
                .as_mut()
                .map_or(Ok(()), |q| q.check(broker))
                .and_then(|()| {
                    let partitions = broker.topics.get(&n).map_or(0, |t| t.partitions.len());
                    let deleted = broker.topics.delete(&n)?;
                    if let Some(q) = &mut quota {
                        q.take(broker, partitions as i32);
                    }
                    Ok(deleted)
                }) {
                Ok(deleted_id) => {
                    tracing::info!(topic = %n, client = ?ctx.client_id, "topic deleted by request");
                    if version >= 6 {
                        result.topic_id = deleted_id;
                        result.name = Some(TopicName(sb(n)));
                    }
                }
                Err(e) => {
                    result.error_code = e.code();
                    if version >= 5 {
                        result.error_message = e.message.map(sb);
                    }
                }
            },
            Err(e) => result.error_code = e.code(),
        }
        r.responses.push(result);
    }
    if version >= 1 {
        r.throttle_time_ms = super::throttle::MutationQuota::throttle_time_ms(&quota);
    }
    Some(r)
}
