//! ListGroups (key 16): every group this coordinator knows, with its protocol type;
//! v4+ its state and a (case-insensitive) state filter, v5+ its type ("classic" or
//! "consumer" for KIP-848 groups, "share" for KIP-932 ones) and a type filter.

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;

pub async fn handle(
    request: ListGroupsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ListGroupsResponse> {
    let v = ctx.api_version;
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let types: Vec<String> = request
        .types_filter
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let mut r = ListGroupsResponse::default();
    r.groups = broker
        .groups
        .list_groups()
        .into_iter()
        .filter(|g| v < 4 || states.is_empty() || states.contains(&g.state_name.to_lowercase()))
        .filter(|g| v < 5 || types.is_empty() || types.iter().any(|t| t == g.group_type))
        .map(|g| {
            let mut lg = ListedGroup::default();
            lg.group_id = GroupId(sb(g.group_id));
            lg.protocol_type = sb(g.protocol_type);
            if v >= 4 {
                lg.group_state = sb(g.state_name);
            }
            if v >= 5 {
                lg.group_type = sb(g.group_type);
            }
            lg
        })
        .collect();
    // KIP-932 share groups: protocol type and group type "share".
    for (id, state) in broker.share.list() {
        let state_ok = v < 4 || states.is_empty() || states.contains(&state.to_lowercase());
        if !state_ok || (v >= 5 && !types.is_empty() && !types.iter().any(|t| t == "share")) {
            continue;
        }
        let mut lg = ListedGroup::default();
        lg.group_id = GroupId(sb(id));
        lg.protocol_type = sb("share");
        if v >= 4 {
            lg.group_state = sb(state);
        }
        if v >= 5 {
            lg.group_type = sb("share");
        }
        r.groups.push(lg);
    }
    Some(r)
}
