//! Metadata (key 3): brokers, cluster id, controller, and topics with their partitions.
//!
//! This broker is the leader (and only replica) of every partition. Requested topics
//! that do not exist are created when the request allows it (v4+ asks explicitly;
//! earlier versions always allow) and `auto.create.topics.enable` is on. Unlike Kafka,
//! whose creation is asynchronous and first answers LEADER_NOT_AVAILABLE, creation here
//! is synchronous, so the first answer already describes the new topic.
//!
//! A partition whose log went offline (a failed fsync or write, `crate::log::offline`)
//! is described as Kafka describes a partition whose only replica sits on a failed log
//! directory once the controller has reacted: LEADER_NOT_AVAILABLE, leader -1, the
//! broker still in the replicas and ISR and, from v5, in `offline_replicas`. Clients then
//! stop sending it produce and fetch requests (which would answer KAFKA_STORAGE_ERROR)
//! and partitioners pick the available partitions.

use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use uuid::Uuid;

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::topics::{Topic, LEADER_EPOCH};

/// Kafka's "authorized operations not requested" marker.
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;
/// Without ACLs every operation on a topic is allowed: READ, WRITE, CREATE, DELETE,
/// ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (Kafka's AclOperation codes).
pub(crate) const ALL_TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

pub async fn handle(
    request: MetadataRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<MetadataResponse> {
    let version = ctx.api_version;
    let config = &broker.config;
    let mut r = MetadataResponse::default();

    let mut b = MetadataResponseBroker::default();
    b.node_id = BrokerId(config.node_id);
    let (host, port) = ctx.advertised(config);
    b.host = sb(host);
    b.port = port;
    r.brokers = vec![b];
    if version >= 2 {
        r.cluster_id = Some(sb(broker.cluster_id.clone()));
    }
    if version >= 1 {
        r.controller_id = BrokerId(config.node_id);
    }
    let want_ops = version >= 8 && request.include_topic_authorized_operations;
    let allow_auto_create = version < 4 || request.allow_auto_topic_creation;

    let requested = match request.topics {
        None => None,
        // In v0 an empty list means every topic.
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    r.topics = match requested {
        None => broker
            .topics
            .list()
            .iter()
            .map(|t| describe(t, version, want_ops, config.node_id))
            .collect(),
        Some(wanted) => wanted
            .into_iter()
            .map(|w| match (w.name, w.topic_id) {
                (Some(name), _) => {
                    lookup_by_name(broker, &name, allow_auto_create, version, want_ops)
                }
                (None, id) => match broker.topics.get_by_id(&id) {
                    Some(t) => describe(&t, version, want_ops, config.node_id),
                    None => error_topic(None, id, ResponseError::UnknownTopicId),
                },
            })
            .collect(),
    };
    Some(r)
}

fn lookup_by_name(
    broker: &Broker,
    name: &TopicName,
    allow_auto_create: bool,
    version: i16,
    want_ops: bool,
) -> MetadataResponseTopic {
    let found = if allow_auto_create {
        broker.topics.get_or_auto_create(name)
    } else {
        Ok(broker.topics.get(name))
    };
    match found {
        Ok(Some(t)) => describe(&t, version, want_ops, broker.config.node_id),
        Ok(None) => error_topic(
            Some(name.clone()),
            Uuid::nil(),
            ResponseError::UnknownTopicOrPartition,
        ),
        Err(e) => error_topic(Some(name.clone()), Uuid::nil(), e.error),
    }
}

fn error_topic(name: Option<TopicName>, id: Uuid, error: ResponseError) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.error_code = error.code();
    t.name = name;
    t.topic_id = id;
    t
}

fn describe(topic: &Topic, version: i16, want_ops: bool, node_id: i32) -> MetadataResponseTopic {
    let node = BrokerId(node_id);
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(sb(topic.name.to_string())));
    t.topic_id = topic.id;
    t.is_internal = topic.is_internal();
    t.topic_authorized_operations = if want_ops {
        ALL_TOPIC_OPERATIONS
    } else {
        OPERATIONS_NOT_REQUESTED
    };
    t.partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = p.index;
            mp.leader_id = node;
            if version >= 7 {
                mp.leader_epoch = LEADER_EPOCH;
            }
            mp.replica_nodes = vec![node];
            mp.isr_nodes = vec![node];
            if p.is_offline() {
                mp.error_code = ResponseError::LeaderNotAvailable.code();
                mp.leader_id = BrokerId(-1);
                if version >= 5 {
                    mp.offline_replicas = vec![node];
                }
            }
            mp
        })
        .collect();
    t
}
