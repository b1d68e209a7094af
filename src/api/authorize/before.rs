//! The checks that run before a handler (see the module doc of `api::authorize` for
//! the rules): a refusal of the whole request, or the entries taken out of it. It never
//! changes a handler's answer; `after` does that.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::messages::*;

use super::*;

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
            match heartbeat_refusal(a, &r.group_id, r.subscribed_topic_names.as_deref()) {
                None => Ok(After::Nothing),
                Some(code) => {
                    let mut resp = ConsumerGroupHeartbeatResponse::default();
                    resp.error_code = code;
                    Err(Box::new(Response::ConsumerGroupHeartbeat(resp)))
                }
            }
        }
        // Share groups (KIP-932).
        Command::ShareGroupHeartbeat(r) => {
            match heartbeat_refusal(a, &r.group_id, r.subscribed_topic_names.as_deref()) {
                None => Ok(After::Nothing),
                Some(code) => {
                    let mut resp = ShareGroupHeartbeatResponse::default();
                    resp.error_code = code;
                    Err(Box::new(Response::ShareGroupHeartbeat(resp)))
                }
            }
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
        // Kafka's handleShareFetchRequest/handleShareAcknowledgeRequest: without READ on
        // the group the whole request is refused; a topic without READ is taken out and
        // answered TOPIC_AUTHORIZATION_FAILED per partition while the others are served.
        Command::ShareFetch(r) => {
            let r = &mut r.request;
            if r.group_id.as_ref().is_some_and(|g| !a.group(Op::Read, g)) {
                let mut resp = super::super::codec_4_2::ShareFetchResponse::default();
                resp.response.error_code = GROUP_DENIED;
                return Err(Box::new(Response::ShareFetch(resp)));
            }
            let denied = split_share_topics(
                a,
                broker,
                &mut r.topics,
                |t| {
                    let parts = t.partitions.iter();
                    (
                        t.topic_id,
                        parts
                            .map(|p| (p.partition_index, !p.acknowledgement_batches.is_empty()))
                            .collect(),
                    )
                },
                |t| t.topic_id,
            );
            Ok(After::ShareFetch(denied))
        }
        Command::ShareAcknowledge(r) => {
            let r = &mut r.request;
            if r.group_id.as_ref().is_some_and(|g| !a.group(Op::Read, g)) {
                let mut resp = super::super::codec_4_2::ShareAcknowledgeResponse::default();
                resp.response.error_code = GROUP_DENIED;
                return Err(Box::new(Response::ShareAcknowledge(resp)));
            }
            let denied = split_share_topics(
                a,
                broker,
                &mut r.topics,
                |t| {
                    (
                        t.topic_id,
                        t.partitions
                            .iter()
                            .map(|p| (p.partition_index, true))
                            .collect(),
                    )
                },
                |t| t.topic_id,
            );
            Ok(After::ShareAcknowledge(denied))
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
        Command::AlterReplicaLogDirs(r) => cluster_or(a, Op::Alter, || {
            Response::AlterReplicaLogDirs(super::super::alter_replica_log_dirs::refuse_all(
                r,
                CLUSTER_DENIED,
            ))
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
        Command::DescribeClientQuotas(_) => cluster_or(a, Op::DescribeConfigs, || {
            let mut resp = DescribeClientQuotasResponse::default();
            resp.error_code = CLUSTER_DENIED;
            resp.error_message = Some(sb("Cluster authorization failed."));
            Response::DescribeClientQuotas(resp)
        }),
        Command::AlterClientQuotas(r) => {
            let entities: Vec<Vec<alter_client_quotas_response::EntityData>> = r
                .entries
                .iter()
                .map(|e| {
                    e.entity
                        .iter()
                        .map(|d| {
                            let mut out = alter_client_quotas_response::EntityData::default();
                            out.entity_type = d.entity_type.clone();
                            out.entity_name = d.entity_name.clone();
                            out
                        })
                        .collect()
                })
                .collect();
            cluster_or(a, Op::AlterConfigs, || {
                let mut resp = AlterClientQuotasResponse::default();
                resp.entries = entities
                    .into_iter()
                    .map(|entity| {
                        let mut e = alter_client_quotas_response::EntryData::default();
                        e.entity = entity;
                        e.error_code = CLUSTER_DENIED;
                        e.error_message = Some(sb("Cluster authorization failed."));
                        e
                    })
                    .collect();
                Response::AlterClientQuotas(resp)
            })
        }
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
        Command::ListConfigResources(_) => cluster_or(a, Op::DescribeConfigs, || {
            let mut resp = ListConfigResourcesResponse::default();
            resp.error_code = CLUSTER_DENIED;
            Response::ListConfigResources(resp)
        }),
        Command::CreateDelegationToken(r) => {
            let owner = match &r.owner_principal_name {
                Some(name) if !name.is_empty() => format!(
                    "{}:{name}",
                    r.owner_principal_type
                        .as_ref()
                        .map_or("User", |t| t.as_str())
                ),
                _ => return Ok(After::Nothing),
            };
            if owner == a.principal.to_string() || a.allows(Op::CreateTokens, Rt::User, &owner) {
                return Ok(After::Nothing);
            }
            let mut resp = CreateDelegationTokenResponse::default();
            resp.error_code = ResponseError::DelegationTokenAuthorizationFailed.code();
            if let (Some(t), Some(n)) = (&r.owner_principal_type, &r.owner_principal_name) {
                resp.principal_type = t.clone();
                resp.principal_name = n.clone();
            }
            if ctx.api_version >= 3 {
                resp.token_requester_principal_type = sb(a.principal.principal_type.clone());
                resp.token_requester_principal_name = sb(a.principal.name.clone());
            }
            Err(Box::new(Response::CreateDelegationToken(resp)))
        }
        Command::RenewDelegationToken(_) | Command::ExpireDelegationToken(_) => Ok(After::Nothing),
        Command::DescribeDelegationToken(_) => Ok(After::DescribeDelegationToken),
        // Kafka checks no ACL for client telemetry.
        Command::ApiVersions(_)
        | Command::SaslHandshake(_)
        | Command::SaslAuthenticate(_)
        | Command::GetTelemetrySubscriptions(_)
        | Command::PushTelemetry(_) => Ok(After::Nothing),
    }
}
