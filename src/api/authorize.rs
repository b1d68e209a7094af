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
//! | DescribeConfigs | DESCRIBE_CONFIGS on the topic, group or cluster (broker), per resource |
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
//! | ShareGroupHeartbeat | G READ (whole); T DESCRIBE on every subscribed topic (whole) |
//! | ShareFetch, ShareAcknowledge | G READ, T READ on every topic (whole: per topic is still to do) |
//! | ShareGroupDescribe, DescribeShareGroupOffsets | G DESCRIBE (and T DESCRIBE on the named topics) per group |
//! | AlterShareGroupOffsets | G READ, T READ per topic (whole) |
//! | DeleteShareGroupOffsets | G DELETE, T READ per topic (whole) |
//! | UpdateFeatures | C ALTER (whole) |
//! | ApiVersions, SaslHandshake, SaslAuthenticate | nothing |

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{sb, Command, RequestContext, Response};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::acl::{AclOperation as Op, ResourceType as Rt, CLUSTER_NAME};
use crate::security::KafkaPrincipal;

const TOPIC_DENIED: i16 = 29;
const GROUP_DENIED: i16 = 30;
const CLUSTER_DENIED: i16 = 31;
const TXN_DENIED: i16 = 53;

/// DescribeConfigs/AlterConfigs resource types (Kafka's `ConfigResource.Type`).
const CONFIG_TOPIC: i8 = 2;
const CONFIG_BROKER: i8 = 4;
const CONFIG_BROKER_LOGGER: i8 = 8;
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
            CONFIG_BROKER | CONFIG_BROKER_LOGGER if !self.cluster(op) => Err(CLUSTER_DENIED),
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
}

/// Uuid as the codec names it.
type Uuid = uuid::Uuid;

/// Checks a request before its handler runs (module doc): `Err` is the whole answer.
pub fn before(
    cmd: &mut Command,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Result<After, Box<Response>> {
    if !broker.authorizer.enabled() {
        return Ok(After::Nothing);
    }
    let auth = Auth::new(ctx, broker);
    let a = &auth;
    match cmd {
        Command::Produce(r) => {
            if let Some(id) = &r.transactional_id {
                if !a.txn(Op::Write, id) {
                    let denied = r
                        .topic_data
                        .iter()
                        .map(|t| {
                            let parts = t.partition_data.iter().map(|p| (p.index, TXN_DENIED));
                            (t.name.clone(), parts.collect())
                        })
                        .collect();
                    if r.acks == 0 {
                        ctx.close_connection("transactional id not authorized".into());
                    }
                    r.topic_data.clear();
                    return Ok(After::Produce(denied));
                }
            }
            let mut denied = Vec::new();
            r.topic_data.retain(|t| {
                let code = if !a.topic(Op::Write, &t.name) {
                    TOPIC_DENIED
                } else if broker.topics.get(&t.name).is_none() && !a.may_create(&t.name) {
                    ResponseError::UnknownTopicOrPartition.code()
                } else {
                    return true;
                };
                let parts = t.partition_data.iter().map(|p| (p.index, code)).collect();
                denied.push((t.name.clone(), parts));
                false
            });
            if r.acks == 0 && !denied.is_empty() {
                // No answer carries the error: Kafka closes the connection.
                ctx.close_connection("produce to a topic not authorized".into());
            }
            Ok(After::Produce(denied))
        }
        Command::Fetch(r) => {
            if r.replica_id.0 >= 0 || r.replica_state.replica_id.0 >= 0 {
                // A follower's fetch: needs CLUSTER_ACTION, as in Kafka.
                if !a.cluster(Op::ClusterAction) {
                    let mut resp = FetchResponse::default();
                    resp.error_code = CLUSTER_DENIED;
                    return Err(Box::new(Response::Fetch(resp)));
                }
                return Ok(After::Nothing);
            }
            let all_denied = !r.topics.is_empty()
                && r.topics
                    .iter()
                    .all(|t| match topic_name(broker, &t.topic, &t.topic_id) {
                        Some(name) => !a.topic(Op::Read, &name),
                        None => false,
                    });
            if all_denied {
                // Nothing to wait for: answer at once, as Kafka does.
                r.max_wait_ms = 0;
            }
            Ok(After::Fetch)
        }
        Command::Metadata(r) => {
            let topic_ops = ctx.api_version >= 8 && r.include_topic_authorized_operations;
            let cluster_ops =
                (8..=10).contains(&ctx.api_version) && r.include_cluster_authorized_operations;
            let auto_create = (ctx.api_version < 4 || r.allow_auto_topic_creation)
                && broker.config.auto_create_topics_enable;
            let Some(topics) = r.topics.as_mut().filter(|t| !t.is_empty()) else {
                return Ok(After::Metadata {
                    named: None,
                    errors: Vec::new(),
                    topic_ops,
                    cluster_ops,
                });
            };
            let mut named = HashSet::new();
            let mut errors = Vec::new();
            topics.retain(|t| {
                let name = match &t.name {
                    Some(n) => Some(n.to_string()),
                    None => broker
                        .topics
                        .get_by_id(&t.topic_id)
                        .map(|t| t.name.to_string()),
                };
                let Some(name) = name else { return true };
                let mut e = metadata_response::MetadataResponseTopic::default();
                e.error_code = TOPIC_DENIED;
                e.topic_authorized_operations = i32::MIN;
                if !a.topic(Op::Describe, &name) {
                    // Not even whether it exists is disclosed; by id, the id is echoed.
                    match &t.name {
                        Some(n) => e.name = Some(n.clone()),
                        None => e.topic_id = t.topic_id,
                    }
                    errors.push(e);
                    return false;
                }
                if auto_create && broker.topics.get(&name).is_none() && !a.may_create(&name) {
                    e.name = Some(TopicName(sb(name)));
                    errors.push(e);
                    return false;
                }
                named.insert(name);
                true
            });
            Ok(After::Metadata {
                named: Some(named),
                errors,
                topic_ops,
                cluster_ops,
            })
        }
        Command::ListOffsets(r) => {
            let mut denied = Vec::new();
            r.topics.retain(|t| {
                let ok = a.topic(Op::Describe, &t.name);
                if !ok {
                    let parts = t.partitions.iter().map(|p| p.partition_index).collect();
                    denied.push((t.name.clone(), parts));
                }
                ok
            });
            Ok(After::ListOffsets(denied))
        }
        Command::OffsetForLeaderEpoch(_) => Ok(After::OffsetForLeaderEpoch),
        Command::OffsetCommit(r) => {
            if !a.group(Op::Read, &r.group_id) {
                let mut resp = OffsetCommitResponse::default();
                resp.topics = r
                    .topics
                    .iter()
                    .map(|t| {
                        let parts = t.partitions.iter().map(|p| p.partition_index).collect();
                        offset_commit_topic(t.name.clone(), t.topic_id, parts, GROUP_DENIED)
                    })
                    .collect();
                return Err(Box::new(Response::OffsetCommit(resp)));
            }
            let mut denied = Vec::new();
            r.topics.retain(|t| {
                let ok = match topic_name(broker, &t.name, &t.topic_id) {
                    Some(name) => a.topic(Op::Read, &name),
                    None => true,
                };
                if !ok {
                    let parts = t.partitions.iter().map(|p| p.partition_index).collect();
                    denied.push((t.name.clone(), t.topic_id, parts));
                }
                ok
            });
            Ok(After::OffsetCommit(denied))
        }
        Command::TxnOffsetCommit(r) => {
            let whole = if !a.txn(Op::Write, &r.transactional_id) {
                Some(TXN_DENIED)
            } else if !a.group(Op::Read, &r.group_id) {
                Some(GROUP_DENIED)
            } else {
                None
            };
            let denied = split_topics(
                &mut r.topics,
                |t| {
                    (
                        t.name.clone(),
                        t.partitions.iter().map(|p| p.partition_index).collect(),
                    )
                },
                |t| whole.is_none() && a.topic(Op::Read, &t.name),
            );
            if let Some(code) = whole {
                let mut resp = TxnOffsetCommitResponse::default();
                resp.topics = txn_offset_commit_topics(denied, code);
                return Err(Box::new(Response::TxnOffsetCommit(resp)));
            }
            Ok(After::TxnOffsetCommit(denied))
        }
        Command::OffsetDelete(r) => {
            if !a.group(Op::Delete, &r.group_id) {
                let mut resp = OffsetDeleteResponse::default();
                resp.error_code = GROUP_DENIED;
                return Err(Box::new(Response::OffsetDelete(resp)));
            }
            let denied = split_topics(
                &mut r.topics,
                |t| {
                    (
                        t.name.clone(),
                        t.partitions.iter().map(|p| p.partition_index).collect(),
                    )
                },
                |t| a.topic(Op::Read, &t.name),
            );
            Ok(After::OffsetDelete(denied))
        }
        Command::DeleteRecords(r) => {
            let denied = split_topics(
                &mut r.topics,
                |t| {
                    (
                        t.name.clone(),
                        t.partitions.iter().map(|p| p.partition_index).collect(),
                    )
                },
                |t| a.topic(Op::Delete, &t.name),
            );
            Ok(After::DeleteRecords(denied))
        }
        Command::OffsetFetch(r) => {
            if ctx.api_version >= 8 {
                Ok(After::OffsetFetch {
                    all_topics: r.groups.iter().map(|g| g.topics.is_none()).collect(),
                })
            } else {
                if let Some(refused) = offset_fetch_group(a, r, ctx.api_version) {
                    return Err(Box::new(refused));
                }
                Ok(After::OffsetFetch {
                    all_topics: vec![r.topics.is_none()],
                })
            }
        }
        Command::JoinGroup(r) => match a.group(Op::Read, &r.group_id) {
            true => Ok(After::Nothing),
            false => {
                let mut resp = JoinGroupResponse::default();
                resp.error_code = GROUP_DENIED;
                resp.generation_id = -1;
                Err(Box::new(Response::JoinGroup(resp)))
            }
        },
        Command::SyncGroup(r) => match a.group(Op::Read, &r.group_id) {
            true => Ok(After::Nothing),
            false => {
                let mut resp = SyncGroupResponse::default();
                resp.error_code = GROUP_DENIED;
                Err(Box::new(Response::SyncGroup(resp)))
            }
        },
        Command::Heartbeat(r) => match a.group(Op::Read, &r.group_id) {
            true => Ok(After::Nothing),
            false => {
                let mut resp = HeartbeatResponse::default();
                resp.error_code = GROUP_DENIED;
                Err(Box::new(Response::Heartbeat(resp)))
            }
        },
        Command::LeaveGroup(r) => match a.group(Op::Read, &r.group_id) {
            true => Ok(After::Nothing),
            false => {
                let mut resp = LeaveGroupResponse::default();
                resp.error_code = GROUP_DENIED;
                Err(Box::new(Response::LeaveGroup(resp)))
            }
        },
        Command::ConsumerGroupHeartbeat(r) => {
            let code = if !a.group(Op::Read, &r.group_id) {
                GROUP_DENIED
            } else if r
                .subscribed_topic_names
                .iter()
                .flatten()
                .any(|t| !a.topic(Op::Describe, t))
            {
                TOPIC_DENIED
            } else {
                return Ok(After::Nothing);
            };
            let mut resp = ConsumerGroupHeartbeatResponse::default();
            resp.error_code = code;
            Err(Box::new(Response::ConsumerGroupHeartbeat(resp)))
        }
        // Share groups (KIP-932). ShareFetch and ShareAcknowledge are checked whole: a
        // refused topic answers the whole request (Kafka answers it per topic; to do).
        Command::ShareGroupHeartbeat(r) => {
            let code = if !a.group(Op::Read, &r.group_id) {
                GROUP_DENIED
            } else if r
                .subscribed_topic_names
                .iter()
                .flatten()
                .any(|t| !a.topic(Op::Describe, t))
            {
                TOPIC_DENIED
            } else {
                return Ok(After::Nothing);
            };
            let mut resp = ShareGroupHeartbeatResponse::default();
            resp.error_code = code;
            Err(Box::new(Response::ShareGroupHeartbeat(resp)))
        }
        Command::ShareGroupDescribe(r) => {
            let mut denied = Vec::new();
            r.group_ids.retain(|g| {
                let ok = a.group(Op::Describe, g);
                if !ok {
                    denied.push(g.clone());
                }
                ok
            });
            Ok(After::ShareGroupDescribe(denied))
        }
        Command::ShareFetch(r) => {
            let topics = r.topics.iter().map(|t| &t.topic_id);
            match share_read_refusal(a, broker, r.group_id.as_ref(), topics) {
                None => Ok(After::Nothing),
                Some(code) => {
                    let mut resp = ShareFetchResponse::default();
                    resp.error_code = code;
                    Err(Box::new(Response::ShareFetch(resp)))
                }
            }
        }
        Command::ShareAcknowledge(r) => {
            let topics = r.topics.iter().map(|t| &t.topic_id);
            match share_read_refusal(a, broker, r.group_id.as_ref(), topics) {
                None => Ok(After::Nothing),
                Some(code) => {
                    let mut resp = ShareAcknowledgeResponse::default();
                    resp.error_code = code;
                    Err(Box::new(Response::ShareAcknowledge(resp)))
                }
            }
        }
        Command::DescribeShareGroupOffsets(r) => {
            let mut denied = Vec::new();
            r.groups.retain(|g| {
                let code = if !a.group(Op::Describe, &g.group_id) {
                    GROUP_DENIED
                } else if g
                    .topics
                    .iter()
                    .flatten()
                    .any(|t| !a.topic(Op::Describe, &t.topic_name))
                {
                    TOPIC_DENIED
                } else {
                    return true;
                };
                denied.push((g.group_id.clone(), code));
                false
            });
            Ok(After::DescribeShareGroupOffsets(denied))
        }
        Command::AlterShareGroupOffsets(r) => {
            let code = if !a.group(Op::Read, &r.group_id) {
                GROUP_DENIED
            } else if r.topics.iter().any(|t| !a.topic(Op::Read, &t.topic_name)) {
                TOPIC_DENIED
            } else {
                return Ok(After::Nothing);
            };
            let mut resp = AlterShareGroupOffsetsResponse::default();
            resp.error_code = code;
            Err(Box::new(Response::AlterShareGroupOffsets(resp)))
        }
        Command::DeleteShareGroupOffsets(r) => {
            let code = if !a.group(Op::Delete, &r.group_id) {
                GROUP_DENIED
            } else if r.topics.iter().any(|t| !a.topic(Op::Read, &t.topic_name)) {
                TOPIC_DENIED
            } else {
                return Ok(After::Nothing);
            };
            let mut resp = DeleteShareGroupOffsetsResponse::default();
            resp.error_code = code;
            Err(Box::new(Response::DeleteShareGroupOffsets(resp)))
        }
        Command::UpdateFeatures(_) => cluster_or(a, Op::Alter, || {
            let mut resp = UpdateFeaturesResponse::default();
            resp.error_code = CLUSTER_DENIED;
            Response::UpdateFeatures(resp)
        }),
        Command::FindCoordinator(r) => {
            let (rt, code) = match r.key_type {
                1 => (Rt::TransactionalId, TXN_DENIED),
                _ => (Rt::Group, GROUP_DENIED),
            };
            if ctx.api_version < 4 {
                if a.allows(Op::Describe, rt, &r.key) {
                    return Ok(After::Nothing);
                }
                let mut resp = FindCoordinatorResponse::default();
                resp.error_code = code;
                resp.node_id = (-1).into();
                resp.port = -1;
                return Err(Box::new(Response::FindCoordinator(resp)));
            }
            let mut denied = Vec::new();
            r.coordinator_keys.retain(|k| {
                let ok = a.allows(Op::Describe, rt, k);
                if !ok {
                    let mut c = find_coordinator_response::Coordinator::default();
                    c.key = k.clone();
                    c.node_id = (-1).into();
                    c.port = -1;
                    c.error_code = code;
                    denied.push(c);
                }
                ok
            });
            Ok(After::FindCoordinator(denied))
        }
        Command::DescribeGroups(r) => Ok(After::DescribeGroups(
            ctx.api_version >= 3 && r.include_authorized_operations,
        )),
        Command::ConsumerGroupDescribe(r) => Ok(After::ConsumerGroupDescribe(
            r.include_authorized_operations,
        )),
        Command::ListGroups(_) => Ok(After::ListGroups),
        Command::DeleteGroups(r) => {
            let mut denied = Vec::new();
            r.groups_names.retain(|g| {
                let ok = a.group(Op::Delete, g);
                if !ok {
                    denied.push(g.clone());
                }
                ok
            });
            Ok(After::DeleteGroups(denied))
        }
        Command::CreateTopics(r) => {
            let cluster = a.cluster(Op::Create);
            let mut denied = Vec::new();
            r.topics.retain(|t| {
                let ok = cluster || a.topic(Op::Create, &t.name);
                if !ok {
                    denied.push(t.name.clone());
                }
                ok
            });
            Ok(After::CreateTopics(denied))
        }
        Command::DeleteTopics(r) => {
            let mut denied = Vec::new();
            let mut refuse = |name: Option<TopicName>, id: Uuid| {
                let mut d = delete_topics_response::DeletableTopicResult::default();
                d.name = name;
                d.topic_id = id;
                d.error_code = TOPIC_DENIED;
                denied.push(d);
            };
            r.topic_names.retain(|n| {
                let ok = a.topic(Op::Delete, n);
                if !ok {
                    refuse(Some(n.clone()), Uuid::nil());
                }
                ok
            });
            r.topics.retain(|t| {
                let name = match &t.name {
                    Some(n) => Some(n.to_string()),
                    None => broker
                        .topics
                        .get_by_id(&t.topic_id)
                        .map(|x| x.name.to_string()),
                };
                let Some(name) = name else { return true };
                let by_id = t.name.is_none();
                let ok = (!by_id || a.topic(Op::Describe, &name)) && a.topic(Op::Delete, &name);
                if !ok {
                    let shown = (!by_id || a.topic(Op::Describe, &name))
                        .then(|| TopicName(sb(name.clone())));
                    refuse(shown, t.topic_id);
                }
                ok
            });
            Ok(After::DeleteTopics(denied))
        }
        Command::CreatePartitions(r) => {
            let mut denied = Vec::new();
            r.topics.retain(|t| {
                let ok = a.topic(Op::Alter, &t.name);
                if !ok {
                    denied.push(t.name.clone());
                }
                ok
            });
            Ok(After::CreatePartitions(denied))
        }
        Command::DescribeConfigs(_) => Ok(After::DescribeConfigs),
        Command::AlterConfigs(r) => {
            let mut denied = Vec::new();
            r.resources.retain(|res| {
                match a.config_resource(Op::AlterConfigs, res.resource_type, &res.resource_name) {
                    Ok(()) => true,
                    Err(code) => {
                        denied.push((res.resource_type, res.resource_name.clone(), code));
                        false
                    }
                }
            });
            Ok(After::AlterConfigs(denied))
        }
        Command::IncrementalAlterConfigs(r) => {
            let mut denied = Vec::new();
            r.resources.retain(|res| {
                match a.config_resource(Op::AlterConfigs, res.resource_type, &res.resource_name) {
                    Ok(()) => true,
                    Err(code) => {
                        denied.push((res.resource_type, res.resource_name.clone(), code));
                        false
                    }
                }
            });
            Ok(After::IncrementalAlterConfigs(denied))
        }
        Command::InitProducerId(r) => {
            let code = match &r.transactional_id {
                Some(id) if !a.txn(Op::Write, id) => TXN_DENIED,
                Some(_) => return Ok(After::Nothing),
                None if a.cluster(Op::IdempotentWrite)
                    || broker.authorizer.authorize_by_resource_type(
                        &a.principal,
                        &a.host,
                        Op::Write,
                        Rt::Topic,
                    ) =>
                {
                    return Ok(After::Nothing)
                }
                None => CLUSTER_DENIED,
            };
            let mut resp = InitProducerIdResponse::default();
            resp.error_code = code;
            resp.producer_id = (-1).into();
            resp.producer_epoch = -1;
            Err(Box::new(Response::InitProducerId(resp)))
        }
        Command::AddPartitionsToTxn(r) => {
            if ctx.api_version >= 4 {
                if a.cluster(Op::ClusterAction) {
                    return Ok(After::Nothing);
                }
                let mut resp = AddPartitionsToTxnResponse::default();
                resp.error_code = CLUSTER_DENIED;
                return Err(Box::new(Response::AddPartitionsToTxn(resp)));
            }
            let txn_ok = a.txn(Op::Write, &r.v3_and_below_transactional_id);
            let denied: HashSet<String> = r
                .v3_and_below_topics
                .iter()
                .filter(|t| txn_ok && !a.topic(Op::Write, &t.name))
                .map(|t| t.name.to_string())
                .collect();
            if txn_ok && denied.is_empty() {
                return Ok(After::Nothing);
            }
            let mut resp = AddPartitionsToTxnResponse::default();
            resp.results_by_topic_v3_and_below = r
                .v3_and_below_topics
                .iter()
                .map(|t| {
                    let code = if !txn_ok {
                        TXN_DENIED
                    } else if denied.contains(t.name.as_str()) {
                        TOPIC_DENIED
                    } else {
                        ResponseError::OperationNotAttempted.code()
                    };
                    let mut tr = add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default();
                    tr.name = t.name.clone();
                    tr.results_by_partition = t
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut pr = add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default();
                            pr.partition_index = *p;
                            pr.partition_error_code = code;
                            pr
                        })
                        .collect();
                    tr
                })
                .collect();
            Err(Box::new(Response::AddPartitionsToTxn(resp)))
        }
        Command::AddOffsetsToTxn(r) => {
            let code = if !a.txn(Op::Write, &r.transactional_id) {
                TXN_DENIED
            } else if !a.group(Op::Read, &r.group_id) {
                GROUP_DENIED
            } else {
                return Ok(After::Nothing);
            };
            let mut resp = AddOffsetsToTxnResponse::default();
            resp.error_code = code;
            Err(Box::new(Response::AddOffsetsToTxn(resp)))
        }
        Command::EndTxn(r) => match a.txn(Op::Write, &r.transactional_id) {
            true => Ok(After::Nothing),
            false => {
                let mut resp = EndTxnResponse::default();
                resp.error_code = TXN_DENIED;
                Err(Box::new(Response::EndTxn(resp)))
            }
        },
        Command::DescribeProducers(_) => Ok(After::DescribeProducers),
        Command::DescribeTransactions(_) => Ok(After::DescribeTransactions),
        Command::ListTransactions(_) => Ok(After::ListTransactions),
        Command::DescribeTopicPartitions(r) => Ok(After::DescribeTopicPartitions {
            all: r.topics.is_empty(),
        }),
        Command::DescribeCluster(r) => Ok(After::DescribeCluster(
            r.include_cluster_authorized_operations,
        )),
        Command::DescribeLogDirs(_) => cluster_or(a, Op::Describe, || {
            let mut resp = DescribeLogDirsResponse::default();
            resp.error_code = CLUSTER_DENIED;
            Response::DescribeLogDirs(resp)
        }),
        Command::ListPartitionReassignments(_) => cluster_or(a, Op::Describe, || {
            let mut resp = ListPartitionReassignmentsResponse::default();
            resp.error_code = CLUSTER_DENIED;
            Response::ListPartitionReassignments(resp)
        }),
        Command::DescribeQuorum(_) => cluster_or(a, Op::Describe, || {
            let mut resp = DescribeQuorumResponse::default();
            resp.error_code = CLUSTER_DENIED;
            Response::DescribeQuorum(resp)
        }),
        Command::DescribeUserScramCredentials(_) => cluster_or(a, Op::Describe, || {
            let mut resp = DescribeUserScramCredentialsResponse::default();
            resp.error_code = CLUSTER_DENIED;
            resp.error_message = Some(sb("Cluster authorization failed."));
            Response::DescribeUserScramCredentials(resp)
        }),
        Command::DescribeAcls(_) => cluster_or(a, Op::Describe, || {
            let mut resp = DescribeAclsResponse::default();
            resp.error_code = CLUSTER_DENIED;
            resp.error_message = Some(sb("Cluster authorization failed."));
            Response::DescribeAcls(resp)
        }),
        Command::ElectLeaders(_) => cluster_or(a, Op::Alter, || {
            let mut resp = ElectLeadersResponse::default();
            resp.error_code = CLUSTER_DENIED;
            Response::ElectLeaders(resp)
        }),
        Command::AlterPartitionReassignments(_) => cluster_or(a, Op::Alter, || {
            let mut resp = AlterPartitionReassignmentsResponse::default();
            resp.error_code = CLUSTER_DENIED;
            Response::AlterPartitionReassignments(resp)
        }),
        Command::AlterUserScramCredentials(r) => {
            let users: Vec<StrBytes> = r
                .deletions
                .iter()
                .map(|d| d.name.clone())
                .chain(r.upsertions.iter().map(|u| u.name.clone()))
                .collect();
            cluster_or(a, Op::Alter, || {
                let mut resp = AlterUserScramCredentialsResponse::default();
                let mut seen = HashSet::new();
                resp.results = users
                    .into_iter()
                    .filter(|u| seen.insert(u.clone()))
                    .map(|u| {
                        let mut res = alter_user_scram_credentials_response::AlterUserScramCredentialsResult::default();
                        res.user = u;
                        res.error_code = CLUSTER_DENIED;
                        res
                    })
                    .collect();
                Response::AlterUserScramCredentials(resp)
            })
        }
        Command::CreateAcls(r) => {
            let n = r.creations.len();
            cluster_or(a, Op::Alter, || {
                let mut resp = CreateAclsResponse::default();
                resp.results = (0..n)
                    .map(|_| {
                        let mut c = create_acls_response::AclCreationResult::default();
                        c.error_code = CLUSTER_DENIED;
                        c.error_message = Some(sb("Cluster authorization failed."));
                        c
                    })
                    .collect();
                Response::CreateAcls(resp)
            })
        }
        Command::DeleteAcls(r) => {
            let n = r.filters.len();
            cluster_or(a, Op::Alter, || {
                let mut resp = DeleteAclsResponse::default();
                resp.filter_results = (0..n)
                    .map(|_| {
                        let mut f = delete_acls_response::DeleteAclsFilterResult::default();
                        f.error_code = CLUSTER_DENIED;
                        f.error_message = Some(sb("Cluster authorization failed."));
                        f
                    })
                    .collect();
                Response::DeleteAcls(resp)
            })
        }
        Command::ApiVersions(_) | Command::SaslHandshake(_) | Command::SaslAuthenticate(_) => {
            Ok(After::Nothing)
        }
    }
}

fn cluster_or(a: &Auth, op: Op, refuse: impl FnOnce() -> Response) -> Result<After, Box<Response>> {
    if a.cluster(op) {
        Ok(After::Nothing)
    } else {
        Err(Box::new(refuse()))
    }
}

/// The name of a topic a request names by name or (newer versions) by id.
/// What ShareFetch and ShareAcknowledge need: READ on the group, then READ on every
/// topic they name (by id); the error code of the first refusal.
fn share_read_refusal<'t>(
    a: &Auth,
    broker: &Broker,
    group_id: Option<&GroupId>,
    mut topic_ids: impl Iterator<Item = &'t Uuid>,
) -> Option<i16> {
    if group_id.is_some_and(|g| !a.group(Op::Read, g)) {
        return Some(GROUP_DENIED);
    }
    let refused = topic_ids.any(|id| {
        broker
            .topics
            .get_by_id(id)
            .is_some_and(|topic| !a.topic(Op::Read, &topic.name))
    });
    refused.then_some(TOPIC_DENIED)
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

/// Completes the handler's answer (module doc).
pub fn after(after: After, response: &mut Response, ctx: &RequestContext, broker: &Arc<Broker>) {
    if matches!(after, After::Nothing) {
        return;
    }
    let auth = Auth::new(ctx, broker);
    let a = &auth;
    match (after, response) {
        (After::ShareGroupDescribe(denied), Response::ShareGroupDescribe(r)) => {
            for g in denied {
                let mut d = share_group_describe_response::DescribedGroup::default();
                d.group_id = g;
                d.error_code = GROUP_DENIED;
                d.authorized_operations = i32::MIN;
                r.groups.push(d);
            }
        }
        (After::DescribeShareGroupOffsets(denied), Response::DescribeShareGroupOffsets(r)) => {
            for (g, code) in denied {
                let mut out = describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup::default();
                out.group_id = g;
                out.error_code = code;
                r.groups.push(out);
            }
        }
        (After::Produce(denied), Response::Produce(r)) => {
            for (name, parts) in denied {
                let mut t = produce_response::TopicProduceResponse::default();
                t.name = name;
                t.partition_responses = parts
                    .into_iter()
                    .map(|(index, code)| {
                        let mut p = produce_response::PartitionProduceResponse::default();
                        p.index = index;
                        p.error_code = code;
                        p.base_offset = -1;
                        p.log_append_time_ms = -1;
                        p.log_start_offset = -1;
                        p
                    })
                    .collect();
                r.responses.push(t);
            }
        }
        (After::Fetch, Response::Fetch(r)) => {
            for t in &mut r.responses {
                let Some(name) = topic_name(broker, &t.topic, &t.topic_id) else {
                    continue;
                };
                if a.topic(Op::Read, &name) {
                    continue;
                }
                for p in &mut t.partitions {
                    let index = p.partition_index;
                    *p = fetch_response::PartitionData::default();
                    p.partition_index = index;
                    p.error_code = TOPIC_DENIED;
                    p.high_watermark = -1;
                    p.last_stable_offset = -1;
                    p.log_start_offset = -1;
                }
            }
        }
        (
            After::Metadata {
                named,
                errors,
                topic_ops,
                cluster_ops,
            },
            Response::Metadata(r),
        ) => {
            r.topics.retain(|t| {
                let Some(name) = &t.name else { return true };
                match &named {
                    Some(set) => set.contains(name.as_str()),
                    None => a.topic(Op::Describe, name),
                }
            });
            if topic_ops {
                for t in &mut r.topics {
                    if let (0, Some(name)) = (t.error_code, &t.name) {
                        t.topic_authorized_operations = a.operations(Rt::Topic, name);
                    }
                }
            }
            r.topics.extend(errors);
            if cluster_ops {
                r.cluster_authorized_operations = if a.cluster(Op::Describe) {
                    a.operations(Rt::Cluster, CLUSTER_NAME)
                } else {
                    0
                };
            }
        }
        (After::ListOffsets(denied), Response::ListOffsets(r)) => {
            for (name, parts) in denied {
                let mut t = list_offsets_response::ListOffsetsTopicResponse::default();
                t.name = name;
                t.partitions = parts
                    .into_iter()
                    .map(|p| {
                        let mut pr = list_offsets_response::ListOffsetsPartitionResponse::default();
                        pr.partition_index = p;
                        pr.error_code = TOPIC_DENIED;
                        pr.timestamp = -1;
                        pr.offset = -1;
                        pr.leader_epoch = -1;
                        pr
                    })
                    .collect();
                r.topics.push(t);
            }
        }
        (After::OffsetForLeaderEpoch, Response::OffsetForLeaderEpoch(r)) => {
            for t in &mut r.topics {
                if !a.topic(Op::Describe, &t.topic) {
                    for p in &mut t.partitions {
                        let index = p.partition;
                        *p = offset_for_leader_epoch_response::EpochEndOffset::default();
                        p.partition = index;
                        p.error_code = TOPIC_DENIED;
                        p.leader_epoch = -1;
                        p.end_offset = -1;
                    }
                }
            }
        }
        (After::OffsetCommit(denied), Response::OffsetCommit(r)) => {
            r.topics.extend(
                denied
                    .into_iter()
                    .map(|(n, id, parts)| offset_commit_topic(n, id, parts, TOPIC_DENIED)),
            );
        }
        (After::TxnOffsetCommit(denied), Response::TxnOffsetCommit(r)) => {
            r.topics
                .extend(txn_offset_commit_topics(denied, TOPIC_DENIED));
        }
        (After::OffsetDelete(denied), Response::OffsetDelete(r)) => {
            for (name, parts) in denied {
                let mut t = offset_delete_response::OffsetDeleteResponseTopic::default();
                t.name = name;
                t.partitions = parts
                    .into_iter()
                    .map(|p| {
                        let mut pr =
                            offset_delete_response::OffsetDeleteResponsePartition::default();
                        pr.partition_index = p;
                        pr.error_code = TOPIC_DENIED;
                        pr
                    })
                    .collect();
                r.topics.push(t);
            }
        }
        (After::DeleteRecords(denied), Response::DeleteRecords(r)) => {
            for (name, parts) in denied {
                let mut t = delete_records_response::DeleteRecordsTopicResult::default();
                t.name = name;
                t.partitions = parts
                    .into_iter()
                    .map(|p| {
                        let mut pr =
                            delete_records_response::DeleteRecordsPartitionResult::default();
                        pr.partition_index = p;
                        pr.error_code = TOPIC_DENIED;
                        pr.low_watermark = -1;
                        pr
                    })
                    .collect();
                r.topics.push(t);
            }
        }
        (After::OffsetFetch { all_topics }, Response::OffsetFetch(r)) => {
            if ctx.api_version >= 8 {
                for (g, all) in r.groups.iter_mut().zip(all_topics) {
                    if !a.group(Op::Describe, &g.group_id) {
                        g.topics.clear();
                        g.error_code = GROUP_DENIED;
                        continue;
                    }
                    if all {
                        g.topics.retain(|t| a.topic(Op::Describe, &t.name));
                    } else {
                        for t in &mut g.topics {
                            if !t.name.is_empty() && !a.topic(Op::Describe, &t.name) {
                                for p in &mut t.partitions {
                                    p.committed_offset = -1;
                                    p.committed_leader_epoch = -1;
                                    p.metadata = Some(sb(""));
                                    p.error_code = TOPIC_DENIED;
                                }
                            }
                        }
                    }
                }
            } else {
                // The group was checked on the request (`offset_fetch_group`).
                let all = all_topics.first().copied().unwrap_or(false);
                if all {
                    r.topics.retain(|t| a.topic(Op::Describe, &t.name));
                } else {
                    for t in &mut r.topics {
                        if !a.topic(Op::Describe, &t.name) {
                            for p in &mut t.partitions {
                                p.committed_offset = -1;
                                p.committed_leader_epoch = -1;
                                p.metadata = Some(sb(""));
                                p.error_code = TOPIC_DENIED;
                            }
                        }
                    }
                }
            }
        }
        (After::CreateTopics(denied), Response::CreateTopics(r)) => {
            for t in &mut r.topics {
                if t.error_code == 0 && !a.topic(Op::DescribeConfigs, &t.name) {
                    t.topic_config_error_code = TOPIC_DENIED;
                    t.configs = None;
                    t.num_partitions = -1;
                    t.replication_factor = -1;
                }
            }
            for name in denied {
                let mut t = create_topics_response::CreatableTopicResult::default();
                t.name = name;
                t.error_code = TOPIC_DENIED;
                t.error_message = Some(sb("Authorization failed."));
                t.num_partitions = -1;
                t.replication_factor = -1;
                t.topic_config_error_code = TOPIC_DENIED;
                r.topics.push(t);
            }
        }
        (After::DeleteTopics(denied), Response::DeleteTopics(r)) => {
            r.responses.extend(denied);
        }
        (After::CreatePartitions(denied), Response::CreatePartitions(r)) => {
            for name in denied {
                let mut t = create_partitions_response::CreatePartitionsTopicResult::default();
                t.name = name;
                t.error_code = TOPIC_DENIED;
                t.error_message = Some(sb("The topic authorization is failed."));
                r.results.push(t);
            }
        }
        (After::AlterConfigs(denied), Response::AlterConfigs(r)) => {
            for (rt, name, code) in denied {
                let mut x = alter_configs_response::AlterConfigsResourceResponse::default();
                x.resource_type = rt;
                x.resource_name = name;
                x.error_code = code;
                r.responses.push(x);
            }
        }
        (After::IncrementalAlterConfigs(denied), Response::IncrementalAlterConfigs(r)) => {
            for (rt, name, code) in denied {
                let mut x =
                    incremental_alter_configs_response::AlterConfigsResourceResponse::default();
                x.resource_type = rt;
                x.resource_name = name;
                x.error_code = code;
                r.responses.push(x);
            }
        }
        (After::DeleteGroups(denied), Response::DeleteGroups(r)) => {
            for g in denied {
                let mut x = delete_groups_response::DeletableGroupResult::default();
                x.group_id = g;
                x.error_code = GROUP_DENIED;
                r.results.push(x);
            }
        }
        (After::FindCoordinator(denied), Response::FindCoordinator(r)) => {
            r.coordinators.extend(denied);
        }
        (After::DescribeConfigs, Response::DescribeConfigs(r)) => {
            for res in &mut r.results {
                if let Err(code) =
                    a.config_resource(Op::DescribeConfigs, res.resource_type, &res.resource_name)
                {
                    res.configs.clear();
                    res.error_code = code;
                    res.error_message = None;
                }
            }
        }
        (After::DescribeGroups(ops), Response::DescribeGroups(r)) => {
            for g in &mut r.groups {
                if !a.group(Op::Describe, &g.group_id) {
                    let id = g.group_id.clone();
                    *g = describe_groups_response::DescribedGroup::default();
                    g.group_id = id;
                    g.error_code = GROUP_DENIED;
                    g.authorized_operations = i32::MIN;
                } else if ops {
                    g.authorized_operations = a.operations(Rt::Group, &g.group_id);
                }
            }
        }
        (After::ConsumerGroupDescribe(ops), Response::ConsumerGroupDescribe(r)) => {
            for g in &mut r.groups {
                if !a.group(Op::Describe, &g.group_id) {
                    let id = g.group_id.clone();
                    *g = consumer_group_describe_response::DescribedGroup::default();
                    g.group_id = id;
                    g.error_code = GROUP_DENIED;
                    g.authorized_operations = i32::MIN;
                } else if ops {
                    g.authorized_operations = a.operations(Rt::Group, &g.group_id);
                }
            }
        }
        (After::ListGroups, Response::ListGroups(r)) if !a.cluster(Op::Describe) => {
            r.groups.retain(|g| a.group(Op::Describe, &g.group_id));
        }
        (After::DescribeProducers, Response::DescribeProducers(r)) => {
            for t in &mut r.topics {
                if !a.topic(Op::Read, &t.name) {
                    for p in &mut t.partitions {
                        p.active_producers.clear();
                        p.error_code = TOPIC_DENIED;
                        p.error_message = None;
                    }
                }
            }
        }
        (After::DescribeTransactions, Response::DescribeTransactions(r)) => {
            for s in &mut r.transaction_states {
                if !a.txn(Op::Describe, &s.transactional_id) {
                    let id = s.transactional_id.clone();
                    *s = describe_transactions_response::TransactionState::default();
                    s.transactional_id = id;
                    s.error_code = TXN_DENIED;
                    s.producer_id = (-1).into();
                    s.producer_epoch = -1;
                    s.transaction_timeout_ms = -1;
                    s.transaction_start_time_ms = -1;
                } else {
                    s.topics.retain(|t| a.topic(Op::Describe, &t.topic));
                }
            }
        }
        (After::ListTransactions, Response::ListTransactions(r)) => {
            r.transaction_states
                .retain(|s| a.txn(Op::Describe, &s.transactional_id));
        }
        (After::DescribeTopicPartitions { all }, Response::DescribeTopicPartitions(r)) => {
            r.topics.retain_mut(|t| {
                let Some(name) = t.name.as_ref().map(|n| n.to_string()) else {
                    return true;
                };
                if a.topic(Op::Describe, &name) {
                    t.topic_authorized_operations = a.operations(Rt::Topic, &name);
                    return true;
                }
                if all {
                    return false;
                }
                t.partitions.clear();
                t.error_code = TOPIC_DENIED;
                t.topic_id = Uuid::nil();
                t.topic_authorized_operations = i32::MIN;
                true
            });
        }
        (After::DescribeCluster(true), Response::DescribeCluster(r)) => {
            r.cluster_authorized_operations = if a.cluster(Op::Describe) {
                a.operations(Rt::Cluster, CLUSTER_NAME)
            } else {
                0
            };
        }
        _ => {}
    }
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
