//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on a topic's
//! config overrides (share-group and client-metrics resources have their own files), validated like Kafka (INVALID_CONFIG for unknown names, bad
//! values, or APPEND/SUBTRACT on a setting that is not a list), applied at once to
//! every partition and persisted with the topic.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::alter_configs::{unsupported_resource, RESOURCE_TOPIC};
use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::config::definitions::{topic_config, ConfigType};
use crate::error::{KafkaError, ResponseError};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

pub async fn handle(
    request: IncrementalAlterConfigsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<IncrementalAlterConfigsResponse> {
    let mut r = IncrementalAlterConfigsResponse::default();
    for res in request.resources {
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name.clone();
        let outcome = if res.resource_type == super::client_metrics_configs::RESOURCE_CLIENT_METRICS
        {
            super::client_metrics_configs::alter(&res, broker, request.validate_only)
        } else if res.resource_type == super::share_group_configs::RESOURCE_GROUP {
            super::share_group_configs::apply(&res, broker, request.validate_only)
        } else if res.resource_type != RESOURCE_TOPIC {
            Err(unsupported_resource(res.resource_type))
        } else {
            apply(&res, broker, request.validate_only)
        };
        if let Err(e) = outcome {
            tracing::info!(resource = %&*res.resource_name, client = ?ctx.client_id, "IncrementalAlterConfigs refused: {e}");
            out.error_code = e.code();
            out.error_message = e.message.map(sb);
        }
        r.responses.push(out);
    }
    Some(r)
}

fn apply(
    res: &AlterConfigsResource,
    broker: &Broker,
    validate_only: bool,
) -> Result<(), KafkaError> {
    let invalid = |m: String| KafkaError::new(ResponseError::InvalidConfig, m);
    let Some(topic) = broker.topics.get(&res.resource_name) else {
        return Err(KafkaError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {} does not exist", &*res.resource_name),
        ));
    };
    let mut seen = HashSet::new();
    if let Some(dup) = res
        .configs
        .iter()
        .find(|c| !seen.insert(c.name.to_string()))
    {
        return Err(KafkaError::new(
            ResponseError::InvalidRequest,
            format!("Error due to duplicate config keys: {}", &*dup.name),
        ));
    }
    let mut configs: BTreeMap<String, String> = topic.configs.clone();
    for c in &res.configs {
        let name = c.name.to_string();
        let Some(def) = topic_config(&name) else {
            return Err(invalid(format!("Unknown topic config name: {name}")));
        };
        let value = c.value.as_ref().map(|v| v.to_string());
        match c.config_operation {
            SET => {
                let Some(v) = value else {
                    return Err(invalid(format!(
                        "Null value not supported for topic config {name}"
                    )));
                };
                configs.insert(name, v);
            }
            DELETE => {
                configs.remove(&name);
            }
            APPEND | SUBTRACT => {
                if def.config_type != ConfigType::List {
                    let op = if c.config_operation == APPEND {
                        "append"
                    } else {
                        "subtract"
                    };
                    return Err(invalid(format!(
                        "Config value {op} is not allowed for config key: {name}"
                    )));
                }
                let current = configs
                    .get(&name)
                    .cloned()
                    .or_else(|| broker.config.topic_default(&name).map(|(v, _)| v))
                    .unwrap_or_default();
                let mut items: Vec<String> = current
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                for item in value
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                {
                    if c.config_operation == APPEND {
                        if !items.iter().any(|i| i == item) {
                            items.push(item.to_string());
                        }
                    } else {
                        items.retain(|i| i != item);
                    }
                }
                configs.insert(name, items.join(","));
            }
            other => {
                return Err(KafkaError::new(
                    ResponseError::InvalidRequest,
                    format!("unknown config operation {other}"),
                ))
            }
        }
    }
    broker
        .topics
        .set_topic_configs(&res.resource_name, configs, validate_only)
}
