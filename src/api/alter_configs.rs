//! AlterConfigs (key 33, the legacy API): replaces a topic's whole set of config
//! overrides. Applied at once to every partition and persisted with the topic.
//! Dynamic broker configs are not supported: settings come from the config file.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::{KafkaError, ResponseError};

pub const RESOURCE_TOPIC: i8 = 2;

/// The answer for a broker or unknown resource type in AlterConfigs and
/// IncrementalAlterConfigs.
pub fn unsupported_resource(resource_type: i8) -> KafkaError {
    KafkaError::new(
        ResponseError::InvalidRequest,
        format!(
            "altering resource type {resource_type} is not supported: broker settings come from the config file and flags"
        ),
    )
}

pub async fn handle(
    request: AlterConfigsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AlterConfigsResponse> {
    let mut r = AlterConfigsResponse::default();
    for res in request.resources {
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name.clone();
        let outcome = if res.resource_type != RESOURCE_TOPIC {
            Err(unsupported_resource(res.resource_type))
        } else {
            let mut configs = BTreeMap::new();
            let mut bad = None;
            for c in &res.configs {
                match &c.value {
                    Some(v) => {
                        configs.insert(c.name.to_string(), v.to_string());
                    }
                    None => {
                        bad = Some(KafkaError::new(
                            ResponseError::InvalidConfig,
                            format!("Null value not supported for topic config {}", &*c.name),
                        ))
                    }
                }
            }
            match bad {
                Some(e) => Err(e),
                None => broker.topics.set_topic_configs(
                    &res.resource_name,
                    configs,
                    request.validate_only,
                ),
            }
        };
        if let Err(e) = outcome {
            tracing::info!(resource = %&*res.resource_name, client = ?ctx.client_id, "AlterConfigs refused: {e}");
            out.error_code = e.code();
            out.error_message = e.message.map(sb);
        }
        r.responses.push(out);
    }
    Some(r)
}
