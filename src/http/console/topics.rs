//! `/api/overview` and `/api/topics*`: the broker at a glance, and topics listed,
//! created, deleted, described and reconfigured through CreateTopics, DeleteTopics,
//! DescribeConfigs and IncrementalAlterConfigs. Offsets and sizes come from the
//! partitions' watermarks, as ListOffsets and DescribeLogDirs read them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath};
use super::{call, limits, no_answer, ok, ApiError, ApiResult, S};
use crate::api::sb;
use crate::broker::Broker;
use crate::metrics::TopicLabels;
use crate::security::acl::{AclOperation, ResourceType};

const TOPIC_RESOURCE: i8 = 2;

pub async fn overview(State(state): State<S>) -> ApiResult {
    let broker = state.broker()?;
    let metrics = crate::metrics::global();
    let (mut partitions, mut internal, mut disk_bytes) = (0usize, 0usize, 0u64);
    let (mut bytes_in, mut bytes_out, mut records_in, mut records_out) = (0u64, 0u64, 0u64, 0u64);
    let topics = visible_topics(broker);
    for t in &topics {
        partitions += t.partitions.len();
        internal += usize::from(t.is_internal());
        disk_bytes += t.partitions.iter().map(|p| p.size_bytes()).sum::<u64>();
        let labels = TopicLabels {
            topic: t.name.clone(),
        };
        let read = |f: &prometheus_client::metrics::family::Family<
            TopicLabels,
            prometheus_client::metrics::counter::Counter,
        >| { f.get(&labels).map_or(0, |c| c.get()) };
        bytes_in += read(&metrics.topic_bytes_in);
        bytes_out += read(&metrics.topic_bytes_out);
        records_in += read(&metrics.topic_records_in);
        records_out += read(&metrics.topic_records_out);
    }
    let groups = match call!(ListGroups, ListGroupsRequest::default(), 4, broker) {
        Some(r) => r.groups.len(),
        None => 0,
    };
    let listeners: Vec<Value> = broker
        .config
        .listeners
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "security_protocol": l.security_protocol.name(),
                "bind": l.bind,
                "advertised": format!("{}:{}", l.advertised_host, l.advertised_port),
            })
        })
        .collect();
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "cluster_id": broker.cluster_id,
        "node_id": broker.config.node_id,
        "uptime_ms": state.started.elapsed().as_millis() as u64,
        "now_ms": broker.clock.now_ms(),
        "listeners": listeners,
        "topics": topics.len(),
        "internal_topics": internal,
        "partitions": partitions,
        "groups": groups,
        "disk_bytes": disk_bytes,
        "bytes_in_total": bytes_in,
        "bytes_out_total": bytes_out,
        "records_in_total": records_in,
        "records_out_total": records_out,
    }))
}

/// The topics the request's principal may DESCRIBE (all of them without an
/// authorizer), as Metadata lists them to a client.
fn visible_topics(broker: &Broker) -> Vec<Arc<crate::topics::Topic>> {
    let mut topics = broker.topics.list();
    if broker.authorizer.enabled() {
        let ctx = super::ctx(0);
        let auth = crate::api::authorize::Auth::new(&ctx, broker);
        topics.retain(|t| auth.allows(AclOperation::Describe, ResourceType::Topic, &t.name));
    }
    topics
}

pub async fn list(State(state): State<S>) -> ApiResult {
    let broker = state.broker()?;
    let topics: Vec<Value> = visible_topics(broker)
        .iter()
        .map(|t| {
            let (mut size, mut records) = (0u64, 0i64);
            for p in &t.partitions {
                let marks = p.watermarks();
                size += p.size_bytes();
                records += (marks.high_watermark - marks.log_start_offset).max(0);
            }
            json!({
                "name": &*t.name,
                "partitions": t.partitions.len(),
                "internal": t.is_internal(),
                "size_bytes": size,
                "offsets": records,
            })
        })
        .collect();
    ok(json!({ "topics": topics }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    name: String,
    #[serde(default)]
    partitions: Option<i32>,
    #[serde(default)]
    replication_factor: Option<i16>,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

pub async fn create(State(state): State<S>, ApiJson(body): ApiJson<CreateTopic>) -> ApiResult {
    let broker = state.broker()?;
    let partitions = body.partitions.unwrap_or(-1);
    if partitions == 0 || !(-1..=limits::MAX_PARTITIONS).contains(&partitions) {
        return Err(ApiError::bad(format!(
            "partitions must be 1..={} (or absent for num.partitions)",
            limits::MAX_PARTITIONS
        )));
    }
    let mut topic = CreatableTopic::default();
    topic.name = TopicName(sb(body.name.clone()));
    topic.num_partitions = partitions;
    topic.replication_factor = body.replication_factor.unwrap_or(-1);
    topic.configs = body
        .configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = sb(k.clone());
            c.value = Some(sb(v.clone()));
            c
        })
        .collect();
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![topic];
    request.timeout_ms = 30_000;
    let r = call!(CreateTopics, request, 7, broker).ok_or_else(|| no_answer("CreateTopics"))?;
    let result = r.topics.first().ok_or_else(|| no_answer("CreateTopics"))?;
    ApiError::check(result.error_code, result.error_message.as_ref())?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "name": body.name,
            "topic_id": result.topic_id.to_string(),
            "partitions": result.num_partitions,
        })),
    )
        .into_response())
}

pub async fn delete(State(state): State<S>, ApiPath(topic): ApiPath<String>) -> ApiResult {
    let broker = state.broker()?;
    let mut request = DeleteTopicsRequest::default();
    request.topic_names = vec![TopicName(sb(topic.clone()))];
    request.timeout_ms = 30_000;
    let r = call!(DeleteTopics, request, 5, broker).ok_or_else(|| no_answer("DeleteTopics"))?;
    let result = r
        .responses
        .first()
        .ok_or_else(|| no_answer("DeleteTopics"))?;
    ApiError::check(result.error_code, result.error_message.as_ref())?;
    ok(json!({ "deleted": topic }))
}

/// The topic's configs as DescribeConfigs answers them.
pub(super) async fn describe_configs(
    broker: &Arc<Broker>,
    topic: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut resource = DescribeConfigsResource::default();
    resource.resource_type = TOPIC_RESOURCE;
    resource.resource_name = sb(topic);
    resource.configuration_keys = None;
    let mut request = DescribeConfigsRequest::default();
    request.resources = vec![resource];
    let r =
        call!(DescribeConfigs, request, 4, broker).ok_or_else(|| no_answer("DescribeConfigs"))?;
    let result = r
        .results
        .first()
        .ok_or_else(|| no_answer("DescribeConfigs"))?;
    ApiError::check(result.error_code, result.error_message.as_ref())?;
    Ok(result
        .configs
        .iter()
        .map(|c| {
            json!({
                "name": c.name.as_str(),
                "value": c.value.as_ref().map(|v| v.as_str()),
                "source": config_source(c.config_source),
                "read_only": c.read_only,
                "sensitive": c.is_sensitive,
            })
        })
        .collect())
}

fn config_source(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

pub async fn detail(State(state): State<S>, ApiPath(topic): ApiPath<String>) -> ApiResult {
    let broker = state.broker()?;
    super::topic_allowed(broker, AclOperation::Describe, &topic)?;
    // Without DESCRIBE_CONFIGS the page still shows the partitions, as a client may
    // list offsets without seeing configs; `configs_error` says why they are missing.
    let (configs, configs_error) = match describe_configs(broker, &topic).await {
        Ok(c) => (c, None),
        Err(e) if e.status == StatusCode::FORBIDDEN => (Vec::new(), Some(e.body)),
        Err(e) => return Err(e),
    };
    let Some(t) = broker.topics.get(&topic) else {
        return Err(ApiError::kafka(
            kafka_protocol::ResponseError::UnknownTopicOrPartition.code(),
            Some(format!("no topic {topic}")),
        ));
    };
    let partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| {
            let marks = p.watermarks();
            let (size, segments) = p.log_size_and_segments();
            json!({
                "partition": p.index,
                "log_start_offset": marks.log_start_offset,
                "high_watermark": marks.high_watermark,
                "last_stable_offset": marks.last_stable_offset,
                "size_bytes": size,
                "segments": segments,
            })
        })
        .collect();
    ok(json!({
        "name": &*t.name,
        "topic_id": t.id.to_string(),
        "internal": t.is_internal(),
        "partitions": partitions,
        "configs": configs,
        "configs_error": configs_error,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterConfigs {
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    delete: Vec<String>,
}

pub async fn alter_configs(
    State(state): State<S>,
    ApiPath(topic): ApiPath<String>,
    ApiJson(body): ApiJson<AlterConfigs>,
) -> ApiResult {
    let broker = state.broker()?;
    if body.set.is_empty() && body.delete.is_empty() {
        return Err(ApiError::bad(
            "nothing to change: give `set` and/or `delete`",
        ));
    }
    let mut configs = Vec::new();
    for (k, v) in &body.set {
        let mut c = AlterableConfig::default();
        c.name = sb(k.clone());
        c.config_operation = 0; // SET
        c.value = Some(sb(v.clone()));
        configs.push(c);
    }
    for k in &body.delete {
        let mut c = AlterableConfig::default();
        c.name = sb(k.clone());
        c.config_operation = 1; // DELETE
        configs.push(c);
    }
    let mut resource = AlterConfigsResource::default();
    resource.resource_type = TOPIC_RESOURCE;
    resource.resource_name = sb(topic.clone());
    resource.configs = configs;
    let mut request = IncrementalAlterConfigsRequest::default();
    request.resources = vec![resource];
    let r = call!(IncrementalAlterConfigs, request, 1, broker)
        .ok_or_else(|| no_answer("IncrementalAlterConfigs"))?;
    let result = r
        .responses
        .first()
        .ok_or_else(|| no_answer("IncrementalAlterConfigs"))?;
    ApiError::check(result.error_code, result.error_message.as_ref())?;
    let configs = describe_configs(broker, &topic).await?;
    ok(json!({ "name": topic, "configs": configs }))
}
