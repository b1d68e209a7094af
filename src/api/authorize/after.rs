//! The checks that run on a handler's answer (see the module doc of `api::authorize`):
//! entries taken out by `before` put back with Kafka's authorization error, answers
//! filtered to what the principal may describe, authorized operations filled in. It
//! never refuses a request itself; `before` does that.

use std::sync::Arc;

use kafka_protocol::messages::*;

use super::*;

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
        (After::ShareFetch(denied), Response::ShareFetch(r)) => {
            for (topic_id, parts) in denied {
                let mut t = share_fetch_response::ShareFetchableTopicResponse::default();
                t.topic_id = topic_id;
                t.partitions = parts
                    .into_iter()
                    .map(|(index, acknowledged)| {
                        let mut p = share_fetch_response::PartitionData::default();
                        p.partition_index = index;
                        p.error_code = TOPIC_DENIED;
                        if acknowledged {
                            p.acknowledge_error_code = TOPIC_DENIED;
                        }
                        p
                    })
                    .collect();
                r.response.responses.push(t);
            }
        }
        (After::ShareAcknowledge(denied), Response::ShareAcknowledge(r)) => {
            for (topic_id, parts) in denied {
                let mut t = share_acknowledge_response::ShareAcknowledgeTopicResponse::default();
                t.topic_id = topic_id;
                t.partitions = parts
                    .into_iter()
                    .map(|(index, _)| {
                        let mut p = share_acknowledge_response::PartitionData::default();
                        p.partition_index = index;
                        p.error_code = TOPIC_DENIED;
                        p
                    })
                    .collect();
                r.response.responses.push(t);
            }
        }
        (After::DescribeShareGroupOffsets(denied), Response::DescribeShareGroupOffsets(r)) => {
            for (g, code) in denied {
                let mut out = describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup::default();
                out.group_id = g;
                out.error_code = code;
                r.response.groups.push(out);
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
        (After::DescribeDelegationToken, Response::DescribeDelegationToken(r)) => {
            let me = &a.principal;
            let is_me = |t: &StrBytes, n: &StrBytes| {
                t.as_str() == me.principal_type && n.as_str() == me.name
            };
            r.tokens.retain(|t| {
                let owner = format!("{}:{}", t.principal_type, t.principal_name);
                is_me(&t.principal_type, &t.principal_name)
                    || is_me(
                        &t.token_requester_principal_type,
                        &t.token_requester_principal_name,
                    )
                    || t.renewers
                        .iter()
                        .any(|rn| is_me(&rn.principal_type, &rn.principal_name))
                    || a.allows(Op::Describe, Rt::DelegationToken, &t.token_id)
                    || a.allows(Op::DescribeTokens, Rt::User, &owner)
            });
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
