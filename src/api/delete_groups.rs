//! DeleteGroups (key 42): deletes empty groups and their committed offsets
//! (tombstones in `__consumer_offsets`). A group with members is NON_EMPTY_GROUP, an
//! unknown one GROUP_ID_NOT_FOUND. Share groups are deleted with their share-partition
//! state (tombstones in `__share_group_state`).

use std::sync::Arc;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::RequestContext;
use crate::broker::Broker;

pub async fn handle(
    request: DeleteGroupsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DeleteGroupsResponse> {
    let ids: Vec<String> = request.groups_names.iter().map(|g| g.to_string()).collect();
    let mut errors = broker.groups.delete_groups(&ids);
    // A share group is not in the group coordinator: its id comes back unknown there.
    for (id, e) in ids.iter().zip(errors.iter_mut()) {
        if *e == Some(crate::error::ResponseError::GroupIdNotFound)
            && broker.share.is_share_group(id)
        {
            *e = broker.share.delete_group(id).await.err();
        }
    }
    let mut r = DeleteGroupsResponse::default();
    r.results = request
        .groups_names
        .iter()
        .zip(errors)
        .map(|(id, e)| {
            let mut dr = DeletableGroupResult::default();
            dr.group_id = id.clone();
            dr.error_code = e.map(|e| e.code()).unwrap_or(0);
            dr
        })
        .collect();
    Some(r)
}
