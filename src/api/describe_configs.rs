//! DescribeConfigs (key 32): every broker and topic setting with its value, source,
//! synonyms, type and documentation, so admin tools (kafka-configs, AdminClient,
//! kafka-python's admin) see what a Kafka broker would show.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::config::definitions::{
    broker_config, topic_config, Scope, BROKER_CONFIGS, TOPIC_CONFIGS,
};
use crate::config::{broker_config_names, ConfigSource};
use crate::error::ResponseError;

/// Kafka's ConfigResource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// One resolved setting.
pub struct ConfigEntry {
    pub name: String,
    pub value: String,
    pub source: ConfigSource,
    pub read_only: bool,
    /// (name, value, source), most specific first, as Kafka lists synonyms.
    pub synonyms: Vec<(String, String, ConfigSource)>,
    pub doc: &'static str,
    pub config_type: i8,
}

/// A topic's settings: its overrides first in priority, then the broker's `log.*`
/// defaults, then built-in defaults.
pub fn topic_config_entries(
    broker: &Broker,
    overrides: &BTreeMap<String, String>,
) -> Vec<ConfigEntry> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let Scope::Topic { broker_name } = def.scope else {
                unreachable!("topic table")
            };
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(def.name) {
                synonyms.push((def.name.to_string(), v.clone(), ConfigSource::DynamicTopic));
            }
            let (broker_value, broker_source) = broker
                .config
                .topic_default(def.name)
                .unwrap_or((def.default.to_string(), ConfigSource::Default));
            if broker_source == ConfigSource::StaticBroker {
                synonyms.push((
                    broker_name.to_string(),
                    broker_value.clone(),
                    ConfigSource::StaticBroker,
                ));
            }
            synonyms.push((
                broker_name.to_string(),
                def.default.to_string(),
                ConfigSource::Default,
            ));
            let (value, source) = match overrides.get(def.name) {
                Some(v) => (v.clone(), ConfigSource::DynamicTopic),
                None => (broker_value, broker_source),
            };
            ConfigEntry {
                name: def.name.to_string(),
                value,
                source,
                read_only: false,
                synonyms,
                doc: def.doc,
                config_type: def.config_type as i8,
            }
        })
        .collect()
}

fn broker_config_entries(broker: &Broker) -> Vec<ConfigEntry> {
    broker_config_names()
        .filter_map(|name| {
            let (def, _) = broker_config(name)?;
            let (value, source) = broker.config.broker_value(name)?;
            let mut synonyms = Vec::new();
            if source == ConfigSource::StaticBroker {
                synonyms.push((name.to_string(), value.clone(), ConfigSource::StaticBroker));
            }
            synonyms.push((
                name.to_string(),
                def.default.to_string(),
                ConfigSource::Default,
            ));
            Some(ConfigEntry {
                name: name.to_string(),
                value,
                source,
                read_only: BROKER_CONFIGS.iter().any(|d| d.name == name && d.read_only),
                synonyms,
                doc: def.doc,
                config_type: def.config_type as i8,
            })
        })
        .collect()
}

pub async fn handle(
    request: DescribeConfigsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeConfigsResponse> {
    let version = ctx.api_version;
    let mut r = DescribeConfigsResponse::default();
    for resource in request.resources {
        if resource.resource_type == super::client_metrics_configs::RESOURCE_CLIENT_METRICS {
            r.results.push(super::client_metrics_configs::describe(
                &resource.resource_name,
                broker,
            ));
            continue;
        }
        let mut result = DescribeConfigsResult::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        let name = resource.resource_name.to_string();
        let entries = match resource.resource_type {
            RESOURCE_TOPIC => match broker.topics.get(&name) {
                Some(topic) => Ok(topic_config_entries(broker, &topic.configs)),
                None => Err((
                    ResponseError::UnknownTopicOrPartition,
                    format!("Topic {name} does not exist"),
                )),
            },
            RESOURCE_BROKER => {
                if name.is_empty() || name == broker.config.node_id.to_string() {
                    Ok(broker_config_entries(broker))
                } else {
                    Err((
                        ResponseError::InvalidRequest,
                        format!(
                            "Unexpected broker id, expected {} or empty string, but received {name}",
                            broker.config.node_id
                        ),
                    ))
                }
            }
            other => Err((
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            )),
        };
        match entries {
            Ok(entries) => {
                result.configs = entries
                    .into_iter()
                    .filter(|e| match &resource.configuration_keys {
                        Some(keys) => keys.iter().any(|k| k.as_str() == e.name),
                        None => true,
                    })
                    .map(|e| {
                        let mut c = DescribeConfigsResourceResult::default();
                        c.name = sb(e.name);
                        c.value = Some(sb(e.value));
                        c.read_only = e.read_only;
                        c.config_source = e.source as i8;
                        // Passwords (JAAS lines, inline keys) are never sent, as Kafka
                        // sends them: a null value marked sensitive.
                        let sensitive =
                            e.config_type == crate::config::definitions::ConfigType::Password as i8;
                        if sensitive {
                            c.value = None;
                        }
                        c.is_sensitive = sensitive;
                        if request.include_synonyms {
                            c.synonyms = e
                                .synonyms
                                .into_iter()
                                .map(|(n, v, s)| {
                                    let mut syn = DescribeConfigsSynonym::default();
                                    syn.name = sb(n);
                                    syn.value = (e.config_type
                                        != crate::config::definitions::ConfigType::Password as i8)
                                        .then(|| sb(v));
                                    syn.source = s as i8;
                                    syn
                                })
                                .collect();
                        }
                        if version >= 3 {
                            c.config_type = e.config_type;
                            if request.include_documentation {
                                c.documentation = Some(sb(e.doc));
                            }
                        }
                        c
                    })
                    .collect();
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = Some(sb(message));
            }
        }
        r.results.push(result);
    }
    Some(r)
}

#[allow(dead_code)]
fn is_topic_setting(name: &str) -> bool {
    topic_config(name).is_some()
}
