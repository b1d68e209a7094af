//! Every ACL check the broker makes, in one place: which (operation, resource) each
//! request needs, as Kafka's request handler (`KafkaApis`, `AclApis`) checks it, and
//! the error code a refusal carries.
//!
//! [`before`] runs before a handler: it refuses a whole request (an error answer the
//! handler never sees), or takes out of the request the topics, groups or resources the
//! principal may not touch, so the handler never acts on them. [`after`] runs on the
//! handler's answer: it puts back those entries with Kafka's authorization error, and
//! filters what the principal may not see (Metadata, ListGroups, OffsetFetch, ...) and
//! fills the authorized-operations fields. Handlers themselves know nothing of ACLs.
//! With no authorizer configured both steps do nothing.
//!
//! The rules (op = operation on resource; T topic, G group, X transactional id, C the
//! cluster; "filter" = the entry is left out of the answer, "per entry" = that entry
//! gets the error, "whole" = the whole answer carries it):
//!
//! | API | needs |
//! |---|---|
//! | Produce | X WRITE if transactional (whole); T WRITE per topic; a topic that does not exist needs C or T CREATE to be auto-created, else UNKNOWN_TOPIC_OR_PARTITION |
//! | Fetch (consumer) | T READ per topic |
//! | Metadata | T DESCRIBE: filter for all topics, per entry when named; auto-creation needs C or T CREATE (per entry); cluster/topic authorized operations |
//! | ListOffsets, OffsetForLeaderEpoch | T DESCRIBE per topic |
//! | OffsetCommit | G READ (whole), T READ per topic |
//! | OffsetFetch | G DESCRIBE (per group), T DESCRIBE (per entry when named, filter for all) |
//! | JoinGroup, SyncGroup, Heartbeat, LeaveGroup | G READ (whole) |
//! | ConsumerGroupHeartbeat | G READ (whole); T DESCRIBE on every subscribed topic (whole, TOPIC_AUTHORIZATION_FAILED) |
//! | FindCoordinator | G DESCRIBE or X DESCRIBE per key |
//! | DescribeGroups, ConsumerGroupDescribe | G DESCRIBE per group; authorized operations |
//! | ListGroups | C DESCRIBE lists all, else filter by G DESCRIBE |
//! | DeleteGroups | G DELETE per group |
//! | OffsetDelete | G DELETE (whole), T READ per topic |
//! | CreateTopics | C CREATE or T CREATE per topic; T DESCRIBE_CONFIGS for the configs in the answer |
//! | DeleteTopics | T DELETE per topic (and T DESCRIBE when named by id) |
//! | CreatePartitions | T ALTER per topic |
//! | DeleteRecords | T DELETE per topic |
//! | DescribeConfigs | DESCRIBE_CONFIGS on the topic, group or cluster (broker, client metrics), per resource |
//! | AlterConfigs, IncrementalAlterConfigs | ALTER_CONFIGS likewise, per resource |
//! | InitProducerId | X WRITE (whole); without a transactional id C IDEMPOTENT_WRITE or WRITE on some topic, else CLUSTER_AUTHORIZATION_FAILED |
//! | AddPartitionsToTxn (v0-3) | X WRITE (whole); T WRITE per topic, the others OPERATION_NOT_ATTEMPTED; v4+ C CLUSTER_ACTION |
//! | AddOffsetsToTxn | X WRITE, then G READ (whole) |
//! | EndTxn | X WRITE (whole) |
//! | TxnOffsetCommit | X WRITE, then G READ (whole); T READ per topic |
//! | DescribeProducers | T READ per topic |
//! | DescribeTransactions | X DESCRIBE per id; its partitions filtered by T DESCRIBE |
//! | ListTransactions | filter by X DESCRIBE |
//! | DescribeTopicPartitions | T DESCRIBE (per entry when named, filter otherwise) |
//! | DescribeCluster | authorized operations only (C DESCRIBE to see them) |
//! | DescribeLogDirs, ListPartitionReassignments, DescribeQuorum, DescribeUserScramCredentials, DescribeAcls | C DESCRIBE (whole) |
//! | ElectLeaders, AlterPartitionReassignments, AlterUserScramCredentials, CreateAcls, DeleteAcls | C ALTER (whole) |
//! | AlterReplicaLogDirs | C ALTER (every partition CLUSTER_AUTHORIZATION_FAILED) |
//! | DescribeClientQuotas | C DESCRIBE_CONFIGS (whole) |
//! | AlterClientQuotas | C ALTER_CONFIGS (whole) |
//! | ShareGroupHeartbeat | G READ (whole); T DESCRIBE on every subscribed topic (whole) |
//! | ShareFetch, ShareAcknowledge | G READ (whole); T READ per topic (a refused topic's partitions TOPIC_AUTHORIZATION_FAILED, the rest served) |
//! | ShareGroupDescribe, DescribeShareGroupOffsets | G DESCRIBE (and T DESCRIBE on the named topics) per group |
//! | AlterShareGroupOffsets | G READ, T READ per topic (whole) |
//! | DeleteShareGroupOffsets | G DELETE, T READ per topic (whole) |
//! | UpdateFeatures | C ALTER (whole) |
//! | ListConfigResources | C DESCRIBE_CONFIGS (whole) |
//! | CreateDelegationToken | for another owner (v3): U CREATE_TOKENS on that owner (whole) |
//! | RenewDelegationToken, ExpireDelegationToken | nothing here: owner or renewer, checked by the token store as Kafka checks it |
//! | DescribeDelegationToken | filter: own tokens (owner, renewer or requester), else D DESCRIBE on the token id or U DESCRIBE_TOKENS on its owner |
//! | ApiVersions, SaslHandshake, SaslAuthenticate, GetTelemetrySubscriptions, PushTelemetry | nothing |

use std::collections::HashSet;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{sb, Command, RequestContext, Response};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::acl::{AclOperation as Op, ResourceType as Rt, CLUSTER_NAME};
use crate::security::KafkaPrincipal;

mod after;
mod before;

pub use after::after;
pub use before::before;

const TOPIC_DENIED: i16 = 29;
const GROUP_DENIED: i16 = 30;
const CLUSTER_DENIED: i16 = 31;
const TXN_DENIED: i16 = 53;

/// DescribeConfigs/AlterConfigs resource types (Kafka's `ConfigResource.Type`).
const CONFIG_TOPIC: i8 = 2;
const CONFIG_BROKER: i8 = 4;
const CONFIG_BROKER_LOGGER: i8 = 8;
const CONFIG_CLIENT_METRICS: i8 = 16;
const CONFIG_GROUP: i8 = 32;

/// The principal and host of one request, checked against the broker's authorizer.
pub struct Auth<'a> {
    broker: &'a Broker,
    principal: KafkaPrincipal,
    host: String,
}

impl<'a> Auth<'a> {
    pub fn new(ctx: &RequestContext, broker: &'a Broker) -> Auth<'a> {
        Auth {
            broker,
            principal: ctx.principal(),
            host: ctx.peer.ip().to_canonical().to_string(),
        }
    }

    pub fn allows(&self, op: Op, rt: Rt, name: &str) -> bool {
        self.broker
            .authorizer
            .authorize(&self.principal, &self.host, op, rt, name)
    }

    fn topic(&self, op: Op, name: &str) -> bool {
        self.allows(op, Rt::Topic, name)
    }

    fn group(&self, op: Op, name: &str) -> bool {
        self.allows(op, Rt::Group, name)
    }

    fn txn(&self, op: Op, id: &str) -> bool {
        self.allows(op, Rt::TransactionalId, id)
    }

    fn cluster(&self, op: Op) -> bool {
        self.allows(op, Rt::Cluster, CLUSTER_NAME)
    }

    fn operations(&self, rt: Rt, name: &str) -> i32 {
        self.broker
            .authorizer
            .authorized_operations(&self.principal, &self.host, rt, name)
    }

    /// Whether a topic that does not exist may be auto-created (CREATE on the cluster or
    /// on the topic).
    fn may_create(&self, name: &str) -> bool {
        self.cluster(Op::Create) || self.topic(Op::Create, name)
    }

    fn config_resource(&self, op: Op, resource_type: i8, name: &str) -> Result<(), i16> {
        match resource_type {
            CONFIG_TOPIC if !self.topic(op, name) => Err(TOPIC_DENIED),
            CONFIG_GROUP if !self.group(op, name) => Err(GROUP_DENIED),
            CONFIG_BROKER | CONFIG_BROKER_LOGGER | CONFIG_CLIENT_METRICS if !self.cluster(op) => {
                Err(CLUSTER_DENIED)
            }
            _ => Ok(()),
        }
    }
}

/// What [`after`] must do to the handler's answer.
pub enum After {
    Nothing,
    /// Partitions taken out of the request, with their error.
    Produce(Vec<(TopicName, Vec<(i32, i16)>)>),
    Fetch,
    Metadata {
        /// The named topics left in the request (`None`: all topics were asked for).
        named: Option<HashSet<String>>,
        errors: Vec<metadata_response::MetadataResponseTopic>,
        topic_ops: bool,
        cluster_ops: bool,
    },
    ListOffsets(Vec<(TopicName, Vec<i32>)>),
    OffsetForLeaderEpoch,
    OffsetCommit(Vec<(TopicName, Uuid, Vec<i32>)>),
    TxnOffsetCommit(Vec<(TopicName, Vec<i32>)>),
    OffsetDelete(Vec<(TopicName, Vec<i32>)>),
    DeleteRecords(Vec<(TopicName, Vec<i32>)>),
    OffsetFetch {
        /// Per group (v8+) or for the one group (v0-7): whether all topics were asked.
        all_topics: Vec<bool>,
    },
    CreateTopics(Vec<TopicName>),
    DeleteTopics(Vec<delete_topics_response::DeletableTopicResult>),
    CreatePartitions(Vec<TopicName>),
    AlterConfigs(Vec<(i8, StrBytes, i16)>),
    IncrementalAlterConfigs(Vec<(i8, StrBytes, i16)>),
    DeleteGroups(Vec<GroupId>),
    FindCoordinator(Vec<find_coordinator_response::Coordinator>),
    DescribeConfigs,
    DescribeGroups(bool),
    ConsumerGroupDescribe(bool),
    ListGroups,
    DescribeProducers,
    DescribeTransactions,
    ListTransactions,
    DescribeTopicPartitions {
        all: bool,
    },
    DescribeCluster(bool),
    /// Share groups taken out of the request.
    ShareGroupDescribe(Vec<GroupId>),
    DescribeShareGroupOffsets(Vec<(GroupId, i16)>),
    /// Topics (id, partitions with whether they carried acknowledgements) taken out of
    /// a ShareFetch or ShareAcknowledge for want of READ.
    ShareFetch(Vec<(Uuid, Vec<(i32, bool)>)>),
    ShareAcknowledge(Vec<(Uuid, Vec<(i32, bool)>)>),
    DescribeDelegationToken,
}

/// Uuid as the codec names it.
type Uuid = uuid::Uuid;

fn cluster_or(a: &Auth, op: Op, refuse: impl FnOnce() -> Response) -> Result<After, Box<Response>> {
    if a.cluster(op) {
        Ok(After::Nothing)
    } else {
        Err(Box::new(refuse()))
    }
}

/// The name of a topic a request names by name or (newer versions) by id.
/// What a group heartbeat (consumer or share) needs: READ on the group, then DESCRIBE
/// on every subscribed topic; the error code of the first refusal.
fn heartbeat_refusal(
    a: &Auth,
    group_id: &GroupId,
    subscribed: Option<&[TopicName]>,
) -> Option<i16> {
    if !a.group(Op::Read, group_id) {
        return Some(GROUP_DENIED);
    }
    let refused = subscribed
        .unwrap_or_default()
        .iter()
        .any(|t| !a.topic(Op::Describe, t));
    refused.then_some(TOPIC_DENIED)
}

/// Takes out of a ShareFetch's or ShareAcknowledge's `topics` those the principal may
/// not READ (topics unknown here stay: their handler answers UNKNOWN_TOPIC_ID), returning
/// each with its partitions and whether a partition carried acknowledgements.
fn split_share_topics<T>(
    a: &Auth,
    broker: &Broker,
    topics: &mut Vec<T>,
    describe: impl Fn(&T) -> (Uuid, Vec<(i32, bool)>),
    topic_id: impl Fn(&T) -> Uuid,
) -> Vec<(Uuid, Vec<(i32, bool)>)> {
    let readable = |t: &T| {
        broker
            .topics
            .get_by_id(&topic_id(t))
            .is_none_or(|topic| a.topic(Op::Read, &topic.name))
    };
    let denied = topics
        .iter()
        .filter(|t| !readable(t))
        .map(&describe)
        .collect();
    topics.retain(readable);
    denied
}

fn topic_name(broker: &Broker, name: &TopicName, id: &Uuid) -> Option<String> {
    if !name.is_empty() {
        return Some(name.to_string());
    }
    broker.topics.get_by_id(id).map(|t| t.name.to_string())
}

/// Takes out of `topics` those `keep` refuses, returning their (name, partitions).
fn split_topics<T>(
    topics: &mut Vec<T>,
    describe: impl Fn(&T) -> (TopicName, Vec<i32>),
    keep: impl Fn(&T) -> bool,
) -> Vec<(TopicName, Vec<i32>)> {
    let mut denied = Vec::new();
    topics.retain(|t| {
        let ok = keep(t);
        if !ok {
            denied.push(describe(t));
        }
        ok
    });
    denied
}

fn offset_commit_topic(
    name: TopicName,
    id: Uuid,
    partitions: Vec<i32>,
    code: i16,
) -> offset_commit_response::OffsetCommitResponseTopic {
    let mut t = offset_commit_response::OffsetCommitResponseTopic::default();
    t.name = name;
    t.topic_id = id;
    t.partitions = partitions
        .into_iter()
        .map(|p| {
            let mut r = offset_commit_response::OffsetCommitResponsePartition::default();
            r.partition_index = p;
            r.error_code = code;
            r
        })
        .collect();
    t
}

fn txn_offset_commit_topics(
    topics: Vec<(TopicName, Vec<i32>)>,
    code: i16,
) -> Vec<txn_offset_commit_response::TxnOffsetCommitResponseTopic> {
    topics
        .into_iter()
        .map(|(name, parts)| {
            let mut t = txn_offset_commit_response::TxnOffsetCommitResponseTopic::default();
            t.name = name;
            t.partitions = parts
                .into_iter()
                .map(|p| {
                    let mut r =
                        txn_offset_commit_response::TxnOffsetCommitResponsePartition::default();
                    r.partition_index = p;
                    r.error_code = code;
                    r
                })
                .collect();
            t
        })
        .collect()
}

/// OffsetFetch v0-7 names one group: refused whole without DESCRIBE on it.
fn offset_fetch_group(a: &Auth, request: &OffsetFetchRequest, version: i16) -> Option<Response> {
    if a.group(Op::Describe, &request.group_id) {
        return None;
    }
    let mut resp = OffsetFetchResponse::default();
    resp.error_code = GROUP_DENIED;
    if version < 2 {
        // v0-1 have no top-level code: every requested partition carries it.
        resp.topics = request
            .topics
            .iter()
            .flatten()
            .map(|t| {
                let mut rt = offset_fetch_response::OffsetFetchResponseTopic::default();
                rt.name = t.name.clone();
                rt.partitions = t
                    .partition_indexes
                    .iter()
                    .map(|p| {
                        let mut pr = offset_fetch_response::OffsetFetchResponsePartition::default();
                        pr.partition_index = *p;
                        pr.committed_offset = -1;
                        pr.metadata = Some(sb(""));
                        pr.error_code = GROUP_DENIED;
                        pr
                    })
                    .collect();
                rt
            })
            .collect();
    }
    Some(Response::OffsetFetch(resp))
}

/// `StrBytes` and `TopicName` compare as strings here.
trait AsStr {
    fn as_str(&self) -> &str;
}

impl AsStr for TopicName {
    fn as_str(&self) -> &str {
        &self.0
    }
}
