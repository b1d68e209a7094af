//! DeleteShareGroupOffsets (key 92, KIP-932): forgets a share group's state for whole
//! topics (the next fetch starts over with share.auto.offset.reset); only for a group
//! without members (NON_EMPTY_GROUP otherwise). Refused whole with UNSUPPORTED_VERSION
//! while the `share.version` feature is at 0, as Kafka's KafkaApis does.

use std::sync::Arc;

use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic;
use kafka_protocol::messages::{DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse};

use super::share_request::share_groups_refusal;
use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: DeleteShareGroupOffsetsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DeleteShareGroupOffsetsResponse> {
    let mut r = DeleteShareGroupOffsetsResponse::default();
    if let Some(e) = share_groups_refusal(broker) {
        r.error_code = e.code();
        r.error_message = e.message.map(sb);
        return Some(r);
    }
    let mut ids = Vec::new();
    for t in &request.topics {
        let mut rt = DeleteShareGroupOffsetsResponseTopic::default();
        rt.topic_name = t.topic_name.clone();
        match broker.topics.get(&t.topic_name) {
            Some(topic) => {
                rt.topic_id = topic.id;
                ids.push(topic.id);
            }
            None => rt.error_code = ResponseError::UnknownTopicOrPartition.code(),
        }
        r.responses.push(rt);
    }
    if let Err(e) = broker
        .share
        .delete_topic_offsets(&request.group_id, &ids)
        .await
    {
        r.error_code = e.code();
    }
    Some(r)
}
