//! DescribeQuorum (key 55): the KRaft metadata quorum, as a one-node cluster in
//! combined mode (broker and controller in one process) describes it.
//!
//! This node is the single voter and the leader of `__cluster_metadata` partition 0,
//! with no observers. Kafka answers UNKNOWN_TOPIC_OR_PARTITION for each partition when
//! the request names anything but exactly that partition (KafkaRaftClient).
//!
//! What is not like Kafka: Sluice keeps no metadata log (topics and their settings live
//! in small files, see storage-format.md). The high watermark (and the voter's log end
//! offset, the same thing on a single voter) is the count of metadata changes this
//! data directory has committed (`metadata.changes`: topics created, deleted, grown or
//! reconfigured), one per change where Kafka's log has one offset per record; it only
//! grows, across restarts too. The fetch and caught-up timestamps are the time of the
//! answer, as Kafka reports them for the leader itself. The leader epoch is 1 and never
//! changes (there is never an election). From v2 the voter's directory id is the zero
//! id and its endpoint is the broker's advertised listener, since there is no separate
//! controller listener.

use std::sync::Arc;

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use uuid::Uuid;

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

/// Kafka's metadata log partition.
const METADATA_TOPIC: &str = "__cluster_metadata";
/// The epoch of the only leader this quorum ever has.
const QUORUM_EPOCH: i32 = 1;

pub async fn handle(
    request: DescribeQuorumRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeQuorumResponse> {
    let mut r = DescribeQuorumResponse::default();
    let valid = request.topics.len() == 1
        && &*request.topics[0].topic_name == METADATA_TOPIC
        && request.topics[0].partitions.len() == 1
        && request.topics[0].partitions[0].partition_index == 0;
    if !valid {
        r.topics = request
            .topics
            .iter()
            .map(|t| {
                let mut td = TopicData::default();
                td.topic_name = t.topic_name.clone();
                td.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut pd = PartitionData::default();
                        pd.partition_index = p.partition_index;
                        pd.error_code = ResponseError::UnknownTopicOrPartition.code();
                        pd
                    })
                    .collect();
                td
            })
            .collect();
        return Some(r);
    }
    let node = BrokerId(broker.config.node_id);
    let now = broker.clock.now_ms();
    let mut voter = ReplicaState::default();
    voter.replica_id = node;
    voter.replica_directory_id = Uuid::nil();
    let high_watermark = broker.topics.metadata_changes();
    voter.log_end_offset = high_watermark;
    voter.last_fetch_timestamp = now;
    voter.last_caught_up_timestamp = now;
    let mut pd = PartitionData::default();
    pd.partition_index = 0;
    pd.leader_id = node;
    pd.leader_epoch = QUORUM_EPOCH;
    pd.high_watermark = high_watermark;
    pd.current_voters = vec![voter];
    let mut td = TopicData::default();
    td.topic_name = TopicName(sb(METADATA_TOPIC));
    td.partitions = vec![pd];
    r.topics = vec![td];
    if ctx.api_version >= 2 {
        let mut listener = Listener::default();
        // The listener the request came in on, as Metadata answers.
        let (host, port) = ctx.advertised(&broker.config);
        listener.name = sb(ctx.listener_name());
        listener.host = sb(host);
        listener.port = u16::try_from(port).unwrap_or(0);
        let mut n = Node::default();
        n.node_id = node;
        n.listeners = vec![listener];
        r.nodes = vec![n];
    }
    Some(r)
}
