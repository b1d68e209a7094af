//! GetTelemetrySubscriptions (key 71, KIP-714): which metrics a client should push and
//! how often, from the client-metrics subscriptions it matches
//! (`crate::coordinator::telemetry`). A zero client instance id gets a new one.
//! Kafka checks no ACL here, and neither does this broker.

use std::sync::Arc;

use kafka_protocol::messages::{
    GetTelemetrySubscriptionsRequest, GetTelemetrySubscriptionsResponse,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::telemetry::{ClientInfo, ACCEPTED_COMPRESSION_TYPES};

/// Who the request came from, as the subscriptions' `match` sees it.
pub fn client_info(ctx: &RequestContext) -> ClientInfo {
    let (software_name, software_version) = match ctx.session.client_software() {
        Some((n, v)) => (Some(n), Some(v)),
        None => (None, None),
    };
    ClientInfo {
        client_id: ctx.client_id.clone(),
        software_name,
        software_version,
        source_address: ctx.peer.ip().to_string(),
        source_port: ctx.peer.port(),
    }
}

pub async fn handle(
    request: GetTelemetrySubscriptionsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<GetTelemetrySubscriptionsResponse> {
    let mut r = GetTelemetrySubscriptionsResponse::default();
    match broker
        .telemetry
        .get_subscriptions(request.client_instance_id, &client_info(ctx))
    {
        Ok(a) => {
            r.client_instance_id = a.client_instance_id;
            r.subscription_id = a.subscription_id;
            r.accepted_compression_types = ACCEPTED_COMPRESSION_TYPES.to_vec();
            r.push_interval_ms = a.push_interval_ms;
            r.telemetry_max_bytes = a.telemetry_max_bytes;
            r.delta_temporality = true;
            r.requested_metrics = a.requested_metrics.into_iter().map(sb).collect();
        }
        Err(e) => {
            tracing::debug!(client = ?ctx.client_id, "GetTelemetrySubscriptions refused: {e}");
            r.error_code = e.code();
        }
    }
    Some(r)
}
