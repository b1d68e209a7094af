//! DeleteShareGroupOffsets (key 92, KIP-932): forgets a share group's state for whole
//! topics (the next fetch starts over with share.auto.offset.reset); only for a group
//! without members (NON_EMPTY_GROUP otherwise).

use std::sync::Arc;

use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic;
use kafka_protocol::messages::{DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse};

use super::RequestContext;
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: DeleteShareGroupOffsetsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DeleteShareGroupOffsetsResponse> {
    let mut r = DeleteShareGroupOffsetsResponse::default();
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
