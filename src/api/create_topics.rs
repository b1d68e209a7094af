//! CreateTopics (key 19): validated like Kafka (name, partitions, replication factor 1
//! or -1, manual assignments onto this broker only, known configs with valid values),
//! with validate_only, and per-topic errors. Partitions created count against the
//! client's `controller_mutation_rate` (`throttle::MutationQuota`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::describe_configs::topic_config_entries;
use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::{KafkaError, ResponseError};
use crate::topics::NewTopic;

pub async fn handle(
    request: CreateTopicsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<CreateTopicsResponse> {
    let version = ctx.api_version;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in &request.topics {
        *seen.entry(t.name.to_string()).or_default() += 1;
    }
    let mut r = CreateTopicsResponse::default();
    let mut quota = super::throttle::MutationQuota::new(ctx, broker, version >= 6);
    for topic in request.topics {
        let name = topic.name.clone();
        let mut result = CreatableTopicResult::default();
        result.name = name.clone();
        let outcome = if seen[name.as_str()] > 1 {
            Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!(
                    "Create topics request from client contains duplicate topic {}",
                    &*name
                ),
            ))
        } else {
            to_new_topic(topic, broker).and_then(|new| {
                let partitions = new.num_partitions;
                if let (Some(q), false) = (&mut quota, request.validate_only) {
                    q.check(broker)?;
                }
                let created = broker.topics.create(new, request.validate_only)?;
                if let (Some(q), false) = (&mut quota, request.validate_only) {
                    q.take(broker, partitions);
                }
                Ok((created, partitions))
            })
        };
        match outcome {
            Ok((created, partitions)) => {
                if !request.validate_only {
                    tracing::info!(topic = %created.name, partitions, client = ?ctx.client_id, "created topic");
                }
                if version >= 7 {
                    result.topic_id = created.id;
                }
                if version >= 5 {
                    result.num_partitions = partitions;
                    result.replication_factor = 1;
                    result.configs = Some(
                        topic_config_entries(broker, &created.configs)
                            .into_iter()
                            .map(|e| {
                                let mut c = CreatableTopicConfigs::default();
                                c.name = sb(e.name);
                                c.value = Some(sb(e.value));
                                c.read_only = e.read_only;
                                c.config_source = e.source as i8;
                                c.is_sensitive = false;
                                c
                            })
                            .collect(),
                    );
                }
            }
            Err(e) => {
                result.error_code = e.code();
                if version >= 1 {
                    result.error_message = e.message.map(sb);
                }
                if version >= 5 {
                    result.num_partitions = -1;
                    result.replication_factor = -1;
                }
            }
        }
        r.topics.push(result);
    }
    if version >= 2 {
        r.throttle_time_ms = super::throttle::MutationQuota::throttle_time_ms(&quota);
    }
    Some(r)
}

fn to_new_topic(topic: CreatableTopic, broker: &Broker) -> Result<NewTopic, KafkaError> {
    let mut configs = BTreeMap::new();
    for c in &topic.configs {
        let Some(value) = &c.value else {
            return Err(KafkaError::new(
                ResponseError::InvalidConfig,
                format!("Null value not supported for topic configs: {}", &*c.name),
            ));
        };
        configs.insert(c.name.to_string(), value.to_string());
    }
    let (num_partitions, replication_factor) = if topic.assignments.is_empty() {
        let partitions = if topic.num_partitions == -1 {
            broker.config.num_partitions
        } else {
            topic.num_partitions
        };
        let rf = if topic.replication_factor == -1 {
            1
        } else {
            topic.replication_factor
        };
        (partitions, rf)
    } else {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return Err(KafkaError::new(
                ResponseError::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
            ));
        }
        let mut indexes: Vec<i32> = topic
            .assignments
            .iter()
            .map(|a| a.partition_index)
            .collect();
        indexes.sort_unstable();
        if indexes.iter().enumerate().any(|(i, p)| *p != i as i32) {
            return Err(KafkaError::new(
                ResponseError::InvalidReplicaAssignment,
                "Partitions should be a consecutive 0-based integer sequence",
            ));
        }
        let node = broker.config.node_id;
        for a in &topic.assignments {
            if a.broker_ids.iter().any(|b| b.0 != node) {
                return Err(KafkaError::new(
                    ResponseError::InvalidReplicaAssignment,
                    format!("Unknown broker in replica assignment {:?}; this cluster has only broker {node}", a.broker_ids.iter().map(|b| b.0).collect::<Vec<_>>()),
                ));
            }
        }
        let rf = topic.assignments[0].broker_ids.len() as i16;
        (topic.assignments.len() as i32, rf)
    };
    Ok(NewTopic {
        name: topic.name.to_string(),
        num_partitions,
        replication_factor,
        configs,
    })
}
