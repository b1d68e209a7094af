//! KIP-714 client-metrics subscriptions as config resources (Kafka's ConfigResource
//! type 16, CLIENT_METRICS): IncrementalAlterConfigs SET/DELETE/APPEND/SUBTRACT of
//! `metrics`, `interval.ms` and `match`, and DescribeConfigs of what is set, as
//! Kafka's ConfigHelper describes them (the set entries only, source
//! CLIENT_METRICS_CONFIG, no synonyms, no filtering by the requested keys; an unknown
//! name is an empty list). Validation,
//! storage and matching live in `crate::coordinator::telemetry`.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;

use super::sb;
use crate::broker::Broker;
use crate::coordinator::telemetry::subscriptions::{list, INTERVAL_MS};
use crate::error::{KafkaError, ResponseError};

/// Kafka's ConfigResource.Type.CLIENT_METRICS.
pub const RESOURCE_CLIENT_METRICS: i8 = 16;
/// DescribeConfigs' ConfigSource.CLIENT_METRICS_CONFIG.
const SOURCE_CLIENT_METRICS: i8 = 7;

pub fn alter(
    res: &AlterConfigsResource,
    broker: &Broker,
    validate_only: bool,
) -> Result<(), KafkaError> {
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
    let mut settings: BTreeMap<String, String> = broker.telemetry.resource(&res.resource_name);
    for c in &res.configs {
        let name = c.name.to_string();
        let value = c.value.as_ref().map(|v| v.to_string());
        match c.config_operation {
            0 => {
                let Some(v) = value else {
                    return Err(KafkaError::new(
                        ResponseError::InvalidRequest,
                        format!("Null value not supported for client metrics config {name}"),
                    ));
                };
                settings.insert(name, v);
            }
            1 => {
                settings.remove(&name);
            }
            op @ (2 | 3) => {
                if name == INTERVAL_MS {
                    return Err(KafkaError::new(
                        ResponseError::InvalidConfig,
                        format!(
                            "Config value append/subtract is not allowed for config key: {name}"
                        ),
                    ));
                }
                let mut items = settings.get(&name).map(|v| list(v)).unwrap_or_default();
                for item in list(&value.unwrap_or_default()) {
                    if op == 2 {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    } else {
                        items.retain(|i| *i != item);
                    }
                }
                settings.insert(name, items.join(","));
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
        .telemetry
        .set_resource(&res.resource_name, settings, validate_only)
}

/// A DescribeConfigs result for one CLIENT_METRICS resource.
/// Every setting of the resource, whatever keys the request names: Kafka's ConfigHelper
/// does not filter client-metrics resources either.
pub fn describe(name: &str, broker: &Broker) -> DescribeConfigsResult {
    let mut result = DescribeConfigsResult::default();
    result.resource_type = RESOURCE_CLIENT_METRICS;
    result.resource_name = sb(name);
    if name.is_empty() {
        result.error_code = ResponseError::InvalidRequest.code();
        result.error_message = Some(sb("Client metrics subscription name must not be empty"));
        return result;
    }
    result.configs = broker
        .telemetry
        .resource(name)
        .into_iter()
        .map(|(n, v)| {
            let mut c = DescribeConfigsResourceResult::default();
            c.name = sb(n);
            c.value = Some(sb(v));
            c.config_source = SOURCE_CLIENT_METRICS;
            c
        })
        .collect();
    result
}
