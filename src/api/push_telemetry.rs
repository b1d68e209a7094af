//! PushTelemetry (key 72, KIP-714): a client's metrics, checked against its
//! subscription (`crate::coordinator::telemetry`), decoded and kept for /metrics.
//! Kafka checks no ACL here, and neither does this broker.

use std::sync::Arc;

use kafka_protocol::messages::{PushTelemetryRequest, PushTelemetryResponse};

use super::get_telemetry_subscriptions::client_info;
use super::RequestContext;
use crate::broker::Broker;
use crate::coordinator::telemetry::Push;

pub async fn handle(
    request: PushTelemetryRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<PushTelemetryResponse> {
    let mut r = PushTelemetryResponse::default();
    let push = Push {
        client_instance_id: request.client_instance_id,
        subscription_id: request.subscription_id,
        terminating: request.terminating,
        compression_type: request.compression_type,
        metrics: &request.metrics,
    };
    if let Err(e) = broker.telemetry.push(&push, &client_info(ctx)) {
        tracing::debug!(client = ?ctx.client_id, "PushTelemetry refused: {e}");
        r.error_code = e.code();
    }
    Some(r)
}
