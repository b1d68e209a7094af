//! FindCoordinator (key 10): this single broker coordinates every group and every
//! transactional id.
//!
//! v0-v3 ask for one key; v4+ batch several (KIP-699). The group and transaction
//! coordinators themselves arrive with their own APIs; librdkafka also reads this API's
//! advertised range to decide whether it may use lz4, so it is served from the start.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

/// Kafka's coordinator key types.
const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub async fn handle(
    request: FindCoordinatorRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<FindCoordinatorResponse> {
    let config = &broker.config;
    let (host, port) = ctx.advertised(config);
    let key_type_ok = request.key_type == GROUP || request.key_type == TRANSACTION;
    let error = if key_type_ok {
        0
    } else {
        ResponseError::InvalidRequest.code()
    };
    let mut r = FindCoordinatorResponse::default();
    if ctx.api_version >= 4 {
        r.coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                let mut c = Coordinator::default();
                c.key = key.clone();
                c.error_code = error;
                if key_type_ok {
                    c.node_id = BrokerId(config.node_id);
                    c.host = sb(host);
                    c.port = port;
                } else {
                    c.node_id = BrokerId(-1);
                    c.port = -1;
                }
                c
            })
            .collect();
    } else {
        r.error_code = error;
        if key_type_ok {
            r.node_id = BrokerId(config.node_id);
            r.host = sb(host);
            r.port = port;
        } else {
            r.node_id = BrokerId(-1);
            r.port = -1;
            if ctx.api_version >= 1 {
                r.error_message = Some(sb(format!("unknown key type {}", request.key_type)));
            }
        }
    }
    Some(r)
}
