//! ListConfigResources (key 74, KIP-1142; v0 was ListClientMetricsResources): the
//! names of the config resources of the asked types. v0 lists client-metrics
//! resources only; from v1 the request names the types (none: every type listed
//! here): TOPIC (every topic), BROKER and BROKER_LOGGER (this node), GROUP (the groups
//! with config overrides), CLIENT_METRICS (the subscriptions). Another type gets
//! UNSUPPORTED_VERSION for the whole answer, as Kafka 4.1 answers it.

use std::sync::Arc;

use kafka_protocol::messages::list_config_resources_response::ConfigResource;
use kafka_protocol::messages::{ListConfigResourcesRequest, ListConfigResourcesResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

/// Kafka's ConfigResource types.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;
const CLIENT_METRICS: i8 = 16;
const GROUP: i8 = 32;
const SUPPORTED: [i8; 5] = [TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP];

pub async fn handle(
    request: ListConfigResourcesRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ListConfigResourcesResponse> {
    let mut r = ListConfigResourcesResponse::default();
    let types: Vec<i8> = if ctx.api_version == 0 {
        vec![CLIENT_METRICS]
    } else if request.resource_types.is_empty() {
        SUPPORTED.to_vec()
    } else {
        request.resource_types
    };
    if let Some(bad) = types.iter().find(|t| !SUPPORTED.contains(t)) {
        tracing::info!(client = ?ctx.client_id, "ListConfigResources refused: resource type {bad}");
        r.error_code = ResponseError::UnsupportedVersion.code();
        return Some(r);
    }
    let mut push = |resource_type: i8, name: String| {
        let mut c = ConfigResource::default();
        c.resource_type = resource_type;
        c.resource_name = sb(name);
        r.config_resources.push(c);
    };
    let mut seen = Vec::new();
    for t in types {
        if seen.contains(&t) {
            continue;
        }
        seen.push(t);
        match t {
            TOPIC => {
                for topic in broker.topics.list() {
                    push(TOPIC, topic.name.to_string());
                }
            }
            BROKER | BROKER_LOGGER => push(t, broker.config.node_id.to_string()),
            CLIENT_METRICS => {
                for name in broker.telemetry.resource_names() {
                    push(CLIENT_METRICS, name);
                }
            }
            GROUP => {
                for group in broker.share.configured_groups() {
                    push(GROUP, group);
                }
            }
            _ => unreachable!("checked above"),
        }
    }
    Some(r)
}
