//! ElectLeaders (key 43): what a one-broker KRaft cluster answers to a leader election.
//!
//! This broker is the only replica, hence the preferred leader, of every partition, so
//! an election is never needed: ELECTION_NOT_NEEDED for each existing partition that
//! has its leader, as Kafka's controller answers (ReplicationControlManager), and
//! UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist. A
//! partition whose log went offline has no leader and no other replica to elect:
//! PREFERRED_LEADER_NOT_AVAILABLE (preferred election) or ELIGIBLE_LEADERS_NOT_AVAILABLE
//! (unclean). Null partitions mean every partition of every topic, and then, as in
//! Kafka, the partitions that need no election are left out of the answer (each topic
//! is still listed). Nothing is ever changed.

use std::sync::Arc;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

/// Kafka's ElectionType codes.
const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

pub async fn handle(
    request: ElectLeadersRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ElectLeadersResponse> {
    let mut r = ElectLeadersResponse::default();
    // v0 has no election type: it is always a preferred election.
    let election_type = if ctx.api_version >= 1 {
        request.election_type
    } else {
        PREFERRED
    };
    if election_type != PREFERRED && election_type != UNCLEAN {
        tracing::info!(
            connection = ctx.connection_id,
            "ElectLeaders refused: unknown election type {election_type}"
        );
        let error = ResponseError::InvalidRequest;
        r.error_code = error.code();
        r.replica_election_results = request
            .topic_partitions
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                let outcomes = t.partitions.into_iter().map(|p| {
                    let message = format!("Unknown election type {election_type}");
                    (p, Some((error, message)))
                });
                result(t.topic, outcomes)
            })
            .collect();
        return Some(r);
    }
    r.replica_election_results = match request.topic_partitions {
        None => {
            let mut topics = broker.topics.list();
            topics.sort_by(|a, b| a.name.cmp(&b.name));
            topics
                .iter()
                .map(|t| {
                    let outcomes = t
                        .partitions
                        .iter()
                        .map(|p| (p.index, elect(broker, &t.name, p.index, election_type)))
                        .filter(|(_, e)| !matches!(e, Some((ResponseError::ElectionNotNeeded, _))));
                    result(TopicName(sb(t.name.to_string())), outcomes)
                })
                .collect()
        }
        Some(wanted) => wanted
            .into_iter()
            .map(|t| {
                let outcomes: Vec<_> = t
                    .partitions
                    .iter()
                    .map(|p| (*p, elect(broker, &t.topic, *p, election_type)))
                    .collect();
                result(t.topic, outcomes)
            })
            .collect(),
    };
    Some(r)
}

/// The outcome of electing a leader for one partition, with Kafka's message; `None`
/// means success (which never happens here: there is never another replica to elect).
fn elect(
    broker: &Broker,
    topic: &str,
    partition: i32,
    election_type: i8,
) -> Option<(ResponseError, String)> {
    let Some(t) = broker.topics.get(topic) else {
        return Some((
            ResponseError::UnknownTopicOrPartition,
            format!("No such topic as {topic}"),
        ));
    };
    let Some(p) = t.partition(partition) else {
        return Some((
            ResponseError::UnknownTopicOrPartition,
            format!("No such partition as {topic}-{partition}"),
        ));
    };
    Some(match (p.is_offline(), election_type) {
        (false, _) => (
            ResponseError::ElectionNotNeeded,
            "Leader election not needed for topic partition.".into(),
        ),
        (true, PREFERRED) => (
            ResponseError::PreferredLeaderNotAvailable,
            "The preferred leader was not available.".into(),
        ),
        (true, _) => (
            ResponseError::EligibleLeadersNotAvailable,
            "Eligible topic partition leaders are not available.".into(),
        ),
    })
}

fn result(
    topic: TopicName,
    outcomes: impl IntoIterator<Item = (i32, Option<(ResponseError, String)>)>,
) -> ReplicaElectionResult {
    let mut t = ReplicaElectionResult::default();
    t.topic = topic;
    t.partition_result = outcomes
        .into_iter()
        .map(|(index, error)| {
            let mut p = PartitionResult::default();
            p.partition_id = index;
            if let Some((e, message)) = error {
                p.error_code = e.code();
                p.error_message = Some(sb(message));
            }
            p
        })
        .collect();
    t
}
