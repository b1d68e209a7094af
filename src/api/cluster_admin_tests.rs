//! Handler tests for the cluster-management keys a single node answers itself:
//! DescribeTopicPartitions, ElectLeaders, the partition-reassignment keys and
//! DescribeQuorum.

use std::sync::Arc;

use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::*;

use super::tests::{broker, ctx};
use super::*;
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::topics::NewTopic;

fn create(b: &Arc<Broker>, name: &str, partitions: i32) {
    b.topics
        .create(
            NewTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: 1,
                configs: Default::default(),
            },
            false,
        )
        .unwrap();
}

fn dtp_request(
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> DescribeTopicPartitionsRequest {
    let mut r = DescribeTopicPartitionsRequest::default();
    r.topics = topics
        .iter()
        .map(|t| {
            let mut tr = TopicRequest::default();
            tr.name = TopicName(sb(*t));
            tr
        })
        .collect();
    r.response_partition_limit = limit;
    r.cursor = cursor.map(|(t, p)| {
        let mut c = Cursor::default();
        c.topic_name = TopicName(sb(t));
        c.partition_index = p;
        c
    });
    r
}

/// (topic, error, partition indexes) of each topic, and the next cursor.
type Page = (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>);

async fn dtp(b: &Arc<Broker>, request: DescribeTopicPartitionsRequest) -> Page {
    let r = describe_topic_partitions::handle(request, &ctx(0), b)
        .await
        .unwrap();
    let topics = r
        .topics
        .iter()
        .map(|t| {
            (
                t.name.as_ref().unwrap().to_string(),
                t.error_code,
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    let next = r
        .next_cursor
        .map(|c| (c.topic_name.to_string(), c.partition_index));
    (topics, next)
}

fn owned(entries: &[(&str, i16, &[i32])]) -> Vec<(String, i16, Vec<i32>)> {
    entries
        .iter()
        .map(|(n, e, p)| (n.to_string(), *e, p.to_vec()))
        .collect()
}

#[tokio::test]
async fn describe_topic_partitions_pages_with_a_cursor_as_kafka_does() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    create(&b, "a", 3);
    create(&b, "b", 2);
    create(&b, "c", 1);
    let unknown = ResponseError::UnknownTopicOrPartition.code();

    // All topics, sorted, in pages of 2: the cursor names the first partition left out.
    let (topics, next) = dtp(&b, dtp_request(&[], 2, None)).await;
    assert_eq!(topics, owned(&[("a", 0, &[0, 1])]));
    assert_eq!(next, Some(("a".into(), 2)));
    let (topics, next) = dtp(&b, dtp_request(&[], 2, Some(("a", 2)))).await;
    // "a" ends within the limit, "b" is cut: the page ends there.
    assert_eq!(topics, owned(&[("a", 0, &[2]), ("b", 0, &[0])]));
    assert_eq!(next, Some(("b".into(), 1)));
    let (topics, next) = dtp(&b, dtp_request(&[], 2, Some(("b", 1)))).await;
    assert_eq!(topics, owned(&[("b", 0, &[1]), ("c", 0, &[0])]));
    assert_eq!(next, None);

    // A limit used up exactly at a topic's end points at the next topic's start.
    let (topics, next) = dtp(&b, dtp_request(&[], 3, None)).await;
    assert_eq!(topics, owned(&[("a", 0, &[0, 1, 2])]));
    assert_eq!(next, Some(("b".into(), 0)));

    // Named topics: duplicates collapse, unknown and illegal names get their errors,
    // names before the cursor's topic are left out.
    let (topics, next) = dtp(
        &b,
        dtp_request(&["c", "nope", "a", "c", "bad/name"], 100, None),
    )
    .await;
    assert_eq!(
        topics,
        owned(&[
            ("a", 0, &[0, 1, 2]),
            ("bad/name", ResponseError::InvalidTopicException.code(), &[]),
            ("c", 0, &[0]),
            ("nope", unknown, &[]),
        ])
    );
    assert_eq!(next, None);
    assert!(b.topics.get("nope").is_none(), "never auto-creates");
    let (topics, _) = dtp(&b, dtp_request(&["a", "c"], 100, Some(("c", 0)))).await;
    assert_eq!(topics, owned(&[("c", 0, &[0])]));

    // The limit is at least 1 and at most max.request.partition.size.limit.
    let (topics, next) = dtp(&b, dtp_request(&["a"], 0, None)).await;
    assert_eq!(topics, owned(&[("a", 0, &[0])]));
    assert_eq!(next, Some(("a".into(), 1)));
}

#[tokio::test]
async fn describe_topic_partitions_limit_setting_and_bad_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("max.request.partition.size.limit", "2")]);
    create(&b, "a", 5);
    let (topics, next) = dtp(&b, dtp_request(&["a"], 2000, None)).await;
    assert_eq!(topics, owned(&[("a", 0, &[0, 1])]));
    assert_eq!(next, Some(("a".into(), 2)));

    let invalid = ResponseError::InvalidRequest.code();
    // The cursor's topic must be among the named topics.
    let (topics, next) = dtp(&b, dtp_request(&["a"], 10, Some(("b", 0)))).await;
    assert_eq!(topics, owned(&[("a", invalid, &[])]));
    assert_eq!(next, None);
    // Its partition index may not be negative.
    let (topics, _) = dtp(&b, dtp_request(&["a"], 10, Some(("a", -1)))).await;
    assert_eq!(topics, owned(&[("a", invalid, &[])]));
    // A cursor past the topic's end describes no partition of it.
    let (topics, next) = dtp(&b, dtp_request(&["a"], 10, Some(("a", 9)))).await;
    assert_eq!(topics, owned(&[("a", 0, &[])]));
    assert_eq!(next, None);

    let r = describe_topic_partitions::handle(dtp_request(&["a"], 1, None), &ctx(0), &b)
        .await
        .unwrap();
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.leader_id, BrokerId(1));
    assert_eq!(p.replica_nodes, vec![BrokerId(1)]);
    assert_eq!(p.isr_nodes, vec![BrokerId(1)]);
    assert_eq!(p.eligible_leader_replicas, Some(vec![]));
    assert_eq!(r.topics[0].topic_id, b.topics.get("a").unwrap().id);
}

fn elect_request(election_type: i8, topics: Option<&[(&str, &[i32])]>) -> ElectLeadersRequest {
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    let mut r = ElectLeadersRequest::default();
    r.election_type = election_type;
    r.topic_partitions = topics.map(|ts| {
        ts.iter()
            .map(|(t, ps)| {
                let mut tp = TopicPartitions::default();
                tp.topic = TopicName(sb(*t));
                tp.partitions = ps.to_vec();
                tp
            })
            .collect()
    });
    r
}

/// (topic, [(partition, error)]) of an ElectLeaders answer.
fn elect_outcomes(r: &ElectLeadersResponse) -> Vec<(String, Vec<(i32, i16)>)> {
    r.replica_election_results
        .iter()
        .map(|t| {
            (
                t.topic.to_string(),
                t.partition_result
                    .iter()
                    .map(|p| (p.partition_id, p.error_code))
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn elect_leaders_is_never_needed_on_a_single_node() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    create(&b, "a", 2);
    create(&b, "b", 1);
    let not_needed = ResponseError::ElectionNotNeeded.code();
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    for version in 0..=2 {
        for election_type in [0, 1] {
            let r = elect_leaders::handle(
                elect_request(election_type, Some(&[("a", &[0, 1, 7]), ("zz", &[0])])),
                &ctx(version),
                &b,
            )
            .await
            .unwrap();
            assert_eq!(r.error_code, 0);
            assert_eq!(
                elect_outcomes(&r),
                vec![
                    (
                        "a".into(),
                        vec![(0, not_needed), (1, not_needed), (7, unknown)]
                    ),
                    ("zz".into(), vec![(0, unknown)]),
                ]
            );
        }
    }
    // Null partitions: every topic, without the partitions that need no election.
    let r = elect_leaders::handle(elect_request(0, None), &ctx(2), &b)
        .await
        .unwrap();
    assert_eq!(
        elect_outcomes(&r),
        vec![("a".into(), vec![]), ("b".into(), vec![])]
    );
    // An unknown election type is a bad request.
    let r = elect_leaders::handle(elect_request(5, Some(&[("a", &[0])])), &ctx(2), &b)
        .await
        .unwrap();
    let invalid = ResponseError::InvalidRequest.code();
    assert_eq!(r.error_code, invalid);
    assert_eq!(elect_outcomes(&r), vec![("a".into(), vec![(0, invalid)])]);
}

fn reassign_request(
    allow_rf_change: bool,
    partitions: &[(&str, i32, Option<&[i32]>)],
) -> AlterPartitionReassignmentsRequest {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    let mut r = AlterPartitionReassignmentsRequest::default();
    r.allow_replication_factor_change = allow_rf_change;
    for (topic, index, replicas) in partitions {
        let mut p = ReassignablePartition::default();
        p.partition_index = *index;
        p.replicas = replicas.map(|rs| rs.iter().map(|id| BrokerId(*id)).collect());
        let mut t = ReassignableTopic::default();
        t.name = TopicName(sb(*topic));
        t.partitions = vec![p];
        r.topics.push(t);
    }
    r
}

#[tokio::test]
async fn reassignments_to_this_node_are_no_ops_and_nothing_is_ever_ongoing() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    create(&b, "a", 2);
    let request = reassign_request(
        true,
        &[
            ("a", 0, Some(&[1])),
            ("a", 1, Some(&[2])),
            ("a", 1, Some(&[])),
            ("a", 1, Some(&[1, 1])),
            ("a", 0, None),
            ("a", 9, Some(&[1])),
            ("nope", 0, Some(&[1])),
        ],
    );
    let r = alter_partition_reassignments::handle(request, &ctx(1), &b)
        .await
        .unwrap();
    let codes: Vec<i16> = r
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    let invalid = ResponseError::InvalidReplicaAssignment.code();
    assert_eq!(
        codes,
        vec![
            0,
            invalid,
            invalid,
            invalid,
            ResponseError::NoReassignmentInProgress.code(),
            ResponseError::UnknownTopicOrPartition.code(),
            ResponseError::UnknownTopicOrPartition.code(),
        ]
    );
    assert_eq!(r.error_code, 0);
    // v1 without permission to change the replication factor.
    let r = alter_partition_reassignments::handle(
        reassign_request(false, &[("a", 0, Some(&[1, 2])), ("a", 0, Some(&[1]))]),
        &ctx(1),
        &b,
    )
    .await
    .unwrap();
    let codes: Vec<i16> = r
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![ResponseError::InvalidReplicationFactor.code(), 0]
    );
    assert!(!r.allow_replication_factor_change);

    let r = list_partition_reassignments::handle(
        ListPartitionReassignmentsRequest::default(),
        &ctx(0),
        &b,
    )
    .await
    .unwrap();
    assert_eq!(r.error_code, 0);
    assert!(r.topics.is_empty());
}

#[tokio::test]
async fn describe_quorum_names_this_node_as_the_single_voter_and_leader() {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let request = |topic: &str, partition: i32| {
        let mut p = PartitionData::default();
        p.partition_index = partition;
        let mut t = TopicData::default();
        t.topic_name = TopicName(sb(topic));
        t.partitions = vec![p];
        let mut r = DescribeQuorumRequest::default();
        r.topics = vec![t];
        r
    };
    for version in 0..=2 {
        let r = describe_quorum::handle(request("__cluster_metadata", 0), &ctx(version), &b)
            .await
            .unwrap();
        assert_eq!(r.error_code, 0);
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        assert_eq!(p.leader_id, BrokerId(1));
        assert_eq!(p.current_voters.len(), 1);
        assert_eq!(p.current_voters[0].replica_id, BrokerId(1));
        assert!(p.observers.is_empty());
        assert_eq!(r.nodes.len(), usize::from(version >= 2));
    }
    let r = describe_quorum::handle(request("other", 0), &ctx(2), &b)
        .await
        .unwrap();
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ResponseError::UnknownTopicOrPartition.code()
    );
}

#[tokio::test]
async fn the_quorum_high_watermark_counts_metadata_changes_across_restarts() {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    let dir = tempfile::tempdir().unwrap();
    let request = || {
        let mut t = TopicData::default();
        t.topic_name = TopicName(sb("__cluster_metadata"));
        t.partitions = vec![PartitionData::default()];
        let mut r = DescribeQuorumRequest::default();
        r.topics = vec![t];
        r
    };
    let high_watermark = |b: Arc<Broker>| async move {
        let r = describe_quorum::handle(request(), &ctx(2), &b)
            .await
            .unwrap();
        r.topics[0].partitions[0].high_watermark
    };
    {
        let b = broker(dir.path(), &[]);
        assert_eq!(high_watermark(b.clone()).await, 0);
        create(&b, "a", 1);
        b.topics.add_partitions("a", 2, false).unwrap();
        b.topics
            .set_topic_configs("a", [("retention.ms".into(), "1000".into())].into(), false)
            .unwrap();
        create(&b, "gone", 1);
        b.topics.delete("gone").unwrap();
        // Refused and validate-only changes change nothing.
        assert!(b.topics.add_partitions("a", 1, false).is_err());
        b.topics.add_partitions("a", 3, true).unwrap();
        assert_eq!(high_watermark(b.clone()).await, 5);
        b.topics.close_all();
    }
    let b = broker(dir.path(), &[]);
    assert_eq!(high_watermark(b.clone()).await, 5, "kept across a restart");
}
