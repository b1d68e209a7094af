//! Kafka APIs: one file per API, behind the [`Command`] enum.
//!
//! `Command::decode` turns a request body into the typed request for its (API key,
//! version); `Command::apply` runs the API's handler against the broker state and
//! returns the typed answer (`None` when Kafka sends none, as for acks=0 produce).
//! `Command::start` is what a connection calls: the same, except that a Produce waiting
//! only for its fsync hands that wait back as an [`Answer::Deferred`], so the
//! connection can handle later requests meanwhile.
//! Handlers translate between wire types and the broker's parts (`crate::broker::Broker`
//! holds the topic registry, the coordinators and the fetch sessions); they never touch
//! sockets, files or a partition's locked log. Adding an API means adding a file and
//! one line to `commands!`.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod alter_replica_log_dirs;
pub mod alter_share_group_offsets;
pub mod alter_user_scram_credentials;
pub mod api_versions;
pub mod authorize;
pub mod client_metrics_configs;
pub mod codec_4_2;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_share_group_offsets;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_share_group_offsets;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod get_telemetry_subscriptions;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_config_resources;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod produce_txn;
pub mod push_telemetry;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod share_acknowledge;
pub mod share_fetch;
pub mod share_group_configs;
pub mod share_group_describe;
pub mod share_group_heartbeat;
mod share_request;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod update_features;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Decodable, Encodable, VersionRange};

use crate::broker::Broker;
use crate::security::{KafkaPrincipal, Session};

/// Who sent a request, for handlers and log lines.
#[derive(Debug)]
pub struct RequestContext {
    pub connection_id: u64,
    pub peer: SocketAddr,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    /// The connection's listener and authentication: the principal handlers authorize
    /// (`principal()`), the state the SASL handlers drive, the advertised address.
    pub session: Arc<Session>,
    /// Set by a handler that needs the connection closed after this request, as Kafka
    /// closes it when an acks=0 produce fails (the client gets no answer to notice).
    close_reason: parking_lot::Mutex<Option<String>>,
    /// Set by a handler whose answer must be written before the connection closes
    /// (a failed SASL authentication).
    close_after: parking_lot::Mutex<Option<String>>,
}

impl RequestContext {
    pub fn new(
        connection_id: u64,
        peer: SocketAddr,
        api_version: i16,
        correlation_id: i32,
        client_id: Option<String>,
    ) -> RequestContext {
        RequestContext::on_connection(
            connection_id,
            peer,
            api_version,
            correlation_id,
            client_id,
            Arc::new(Session::unauthenticated_default()),
        )
    }

    /// A request on a connection whose listener and authentication are `session`.
    pub fn on_connection(
        connection_id: u64,
        peer: SocketAddr,
        api_version: i16,
        correlation_id: i32,
        client_id: Option<String>,
        session: Arc<Session>,
    ) -> RequestContext {
        RequestContext {
            connection_id,
            peer,
            api_version,
            correlation_id,
            client_id,
            session,
            close_reason: parking_lot::Mutex::new(None),
            close_after: parking_lot::Mutex::new(None),
        }
    }

    /// Who sent the request (`User:ANONYMOUS` on a PLAINTEXT listener).
    pub fn principal(&self) -> KafkaPrincipal {
        self.session.principal()
    }

    /// The host and port to tell this client about: its listener's advertised address
    /// (the broker-wide first listener's outside a connection).
    pub fn advertised<'a>(&'a self, config: &'a crate::config::BrokerConfig) -> (&'a str, i32) {
        let l = &self.session.listener.config;
        if l.advertised_host.is_empty() {
            (&config.advertised_host, config.advertised_port)
        } else {
            (&l.advertised_host, l.advertised_port)
        }
    }

    /// The name of the listener the request came in on (`PLAINTEXT` by default).
    pub fn listener_name(&self) -> &str {
        &self.session.listener.config.name
    }

    pub fn close_connection(&self, reason: String) {
        *self.close_reason.lock() = Some(reason);
    }

    pub fn close_after_answer(&self, reason: String) {
        *self.close_after.lock() = Some(reason);
    }

    pub fn take_close_after_answer(&self) -> Option<String> {
        self.close_after.lock().take()
    }

    pub fn take_close_reason(&self) -> Option<String> {
        self.close_reason.lock().take()
    }
}

macro_rules! commands {
    ($($variant:ident($request:ty => $response:ty) = $handler:path;)*) => {
        /// A decoded request of one of the APIs this broker serves.
        #[derive(Debug)]
        pub enum Command {
            $($variant($request),)*
        }

        /// The answer to a [`Command`].
        #[derive(Debug)]
        pub enum Response {
            $($variant($response),)*
        }

        impl Command {
            /// Decodes a request body. Fails on malformed input and on versions the
            /// codec does not know.
            pub fn decode(key: ApiKey, version: i16, body: &mut Bytes) -> anyhow::Result<Command> {
                if let Some(command) = codec_4_2::decode_request(key, version, body) {
                    return command;
                }
                match key {
                    $(ApiKey::$variant => Ok(Command::$variant(<$request>::decode(body, version)?)),)*
                    other => anyhow::bail!("{other:?} is not served"),
                }
            }

            /// Runs the handler, between the ACL checks of [`authorize`]. `None` means
            /// no answer is sent.
            pub async fn apply(mut self, ctx: &RequestContext, broker: &Arc<Broker>) -> Option<Response> {
                let checked = match authorize::before(&mut self, ctx, broker) {
                    Ok(checked) => checked,
                    Err(refused) => return Some(*refused),
                };
                let mut response = match self {
                    $(Command::$variant(request) => $handler(request, ctx, broker).await.map(Response::$variant),)*
                }?;
                authorize::after(checked, &mut response, ctx, broker);
                Some(response)
            }
        }

        impl Response {
            pub fn encode<B: ByteBufMut>(&self, buf: &mut B, version: i16) -> anyhow::Result<()> {
                if let Some(done) = codec_4_2::encode_response(self, buf, version) {
                    return done;
                }
                match self {
                    $(Response::$variant(r) => r.encode(buf, version),)*
                }
            }
        }

        /// Every API key served, for ApiVersions.
        pub const SERVED_APIS: &[ApiKey] = &[$(ApiKey::$variant,)*];

        /// The body of a request with every field at its default, for tests that
        /// check each advertised version really decodes and gets an answer.
        #[cfg(test)]
        pub(crate) fn default_request_body(key: ApiKey, version: i16) -> anyhow::Result<bytes::BytesMut> {
            let mut buf = bytes::BytesMut::new();
            if let Some(done) = codec_4_2::encode_default_request(key, version, &mut buf) {
                return done.map(|()| buf);
            }
            match key {
                $(ApiKey::$variant => <$request>::default().encode(&mut buf, version)?,)*
                other => anyhow::bail!("{other:?} is not served"),
            }
            Ok(buf)
        }
    };
}

commands! {
    Produce(ProduceRequest => ProduceResponse) = produce::handle;
    Fetch(FetchRequest => FetchResponse) = fetch::handle;
    ListOffsets(ListOffsetsRequest => ListOffsetsResponse) = list_offsets::handle;
    Metadata(MetadataRequest => MetadataResponse) = metadata::handle;
    FindCoordinator(FindCoordinatorRequest => FindCoordinatorResponse) = find_coordinator::handle;
    ApiVersions(ApiVersionsRequest => ApiVersionsResponse) = api_versions::handle;
    CreateTopics(CreateTopicsRequest => CreateTopicsResponse) = create_topics::handle;
    DeleteTopics(DeleteTopicsRequest => DeleteTopicsResponse) = delete_topics::handle;
    OffsetForLeaderEpoch(OffsetForLeaderEpochRequest => OffsetForLeaderEpochResponse) = offset_for_leader_epoch::handle;
    DescribeConfigs(DescribeConfigsRequest => DescribeConfigsResponse) = describe_configs::handle;
    DescribeCluster(DescribeClusterRequest => DescribeClusterResponse) = describe_cluster::handle;
    InitProducerId(InitProducerIdRequest => InitProducerIdResponse) = init_producer_id::handle;
    DescribeProducers(DescribeProducersRequest => DescribeProducersResponse) = describe_producers::handle;
    AddPartitionsToTxn(AddPartitionsToTxnRequest => AddPartitionsToTxnResponse) = add_partitions_to_txn::handle;
    AddOffsetsToTxn(AddOffsetsToTxnRequest => AddOffsetsToTxnResponse) = add_offsets_to_txn::handle;
    EndTxn(EndTxnRequest => EndTxnResponse) = end_txn::handle;
    DescribeTransactions(DescribeTransactionsRequest => DescribeTransactionsResponse) = describe_transactions::handle;
    ListTransactions(ListTransactionsRequest => ListTransactionsResponse) = list_transactions::handle;
    TxnOffsetCommit(TxnOffsetCommitRequest => TxnOffsetCommitResponse) = txn_offset_commit::handle;
    DeleteRecords(DeleteRecordsRequest => DeleteRecordsResponse) = delete_records::handle;
    DescribeLogDirs(DescribeLogDirsRequest => DescribeLogDirsResponse) = describe_log_dirs::handle;
    AlterReplicaLogDirs(AlterReplicaLogDirsRequest => AlterReplicaLogDirsResponse) = alter_replica_log_dirs::handle;
    CreatePartitions(CreatePartitionsRequest => CreatePartitionsResponse) = create_partitions::handle;
    AlterConfigs(AlterConfigsRequest => AlterConfigsResponse) = alter_configs::handle;
    IncrementalAlterConfigs(IncrementalAlterConfigsRequest => IncrementalAlterConfigsResponse) = incremental_alter_configs::handle;
    OffsetCommit(OffsetCommitRequest => OffsetCommitResponse) = offset_commit::handle;
    OffsetFetch(OffsetFetchRequest => OffsetFetchResponse) = offset_fetch::handle;
    JoinGroup(JoinGroupRequest => JoinGroupResponse) = join_group::handle;
    Heartbeat(HeartbeatRequest => HeartbeatResponse) = heartbeat::handle;
    LeaveGroup(LeaveGroupRequest => LeaveGroupResponse) = leave_group::handle;
    SyncGroup(SyncGroupRequest => SyncGroupResponse) = sync_group::handle;
    DescribeGroups(DescribeGroupsRequest => DescribeGroupsResponse) = describe_groups::handle;
    ListGroups(ListGroupsRequest => ListGroupsResponse) = list_groups::handle;
    DeleteGroups(DeleteGroupsRequest => DeleteGroupsResponse) = delete_groups::handle;
    OffsetDelete(OffsetDeleteRequest => OffsetDeleteResponse) = offset_delete::handle;
    DescribeTopicPartitions(DescribeTopicPartitionsRequest => DescribeTopicPartitionsResponse) = describe_topic_partitions::handle;
    ElectLeaders(ElectLeadersRequest => ElectLeadersResponse) = elect_leaders::handle;
    AlterPartitionReassignments(AlterPartitionReassignmentsRequest => AlterPartitionReassignmentsResponse) = alter_partition_reassignments::handle;
    ListPartitionReassignments(ListPartitionReassignmentsRequest => ListPartitionReassignmentsResponse) = list_partition_reassignments::handle;
    DescribeQuorum(DescribeQuorumRequest => DescribeQuorumResponse) = describe_quorum::handle;
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest => ConsumerGroupHeartbeatResponse) = consumer_group_heartbeat::handle;
    ConsumerGroupDescribe(ConsumerGroupDescribeRequest => ConsumerGroupDescribeResponse) = consumer_group_describe::handle;
    ShareGroupHeartbeat(ShareGroupHeartbeatRequest => ShareGroupHeartbeatResponse) = share_group_heartbeat::handle;
    ShareGroupDescribe(ShareGroupDescribeRequest => ShareGroupDescribeResponse) = share_group_describe::handle;
    ShareFetch(codec_4_2::ShareFetchRequest => codec_4_2::ShareFetchResponse) = share_fetch::handle;
    ShareAcknowledge(codec_4_2::ShareAcknowledgeRequest => codec_4_2::ShareAcknowledgeResponse) = share_acknowledge::handle;
    DescribeShareGroupOffsets(DescribeShareGroupOffsetsRequest => codec_4_2::DescribeShareGroupOffsetsResponse) = describe_share_group_offsets::handle;
    AlterShareGroupOffsets(AlterShareGroupOffsetsRequest => AlterShareGroupOffsetsResponse) = alter_share_group_offsets::handle;
    DeleteShareGroupOffsets(DeleteShareGroupOffsetsRequest => DeleteShareGroupOffsetsResponse) = delete_share_group_offsets::handle;
    SaslHandshake(SaslHandshakeRequest => SaslHandshakeResponse) = sasl_handshake::handle;
    SaslAuthenticate(SaslAuthenticateRequest => SaslAuthenticateResponse) = sasl_authenticate::handle;
    DescribeUserScramCredentials(DescribeUserScramCredentialsRequest => DescribeUserScramCredentialsResponse) = describe_user_scram_credentials::handle;
    AlterUserScramCredentials(AlterUserScramCredentialsRequest => AlterUserScramCredentialsResponse) = alter_user_scram_credentials::handle;
    UpdateFeatures(UpdateFeaturesRequest => UpdateFeaturesResponse) = update_features::handle;
    DescribeAcls(DescribeAclsRequest => DescribeAclsResponse) = describe_acls::handle;
    CreateAcls(CreateAclsRequest => CreateAclsResponse) = create_acls::handle;
    DeleteAcls(DeleteAclsRequest => DeleteAclsResponse) = delete_acls::handle;
    GetTelemetrySubscriptions(GetTelemetrySubscriptionsRequest => GetTelemetrySubscriptionsResponse) = get_telemetry_subscriptions::handle;
    PushTelemetry(PushTelemetryRequest => PushTelemetryResponse) = push_telemetry::handle;
    ListConfigResources(ListConfigResourcesRequest => ListConfigResourcesResponse) = list_config_resources::handle;
}

/// What handling a request leaves for the connection to send.
pub enum Answer {
    /// Nothing is sent (acks=0 produce).
    None,
    Ready(Response),
    /// The answer once its data is durable. The request's side effects are done; the
    /// future owns what it needs (`'static`), so it can be polled after later requests.
    Deferred(BoxFuture<'static, Response>),
}

impl Command {
    /// Runs the handler like [`Command::apply`], but returns a Produce's wait for
    /// fsync instead of awaiting it.
    pub async fn start(self, ctx: &RequestContext, broker: &Arc<Broker>) -> Answer {
        match self {
            Command::Produce(request) => {
                let mut cmd = Command::Produce(request);
                let checked = match authorize::before(&mut cmd, ctx, broker) {
                    Ok(checked) => checked,
                    Err(refused) => return Answer::Ready(*refused),
                };
                let Command::Produce(request) = cmd else {
                    unreachable!()
                };
                match produce::prepare(request, ctx, broker).await {
                    produce::Prepared::Done(Some(r)) => {
                        let mut r = Response::Produce(r);
                        authorize::after(checked, &mut r, ctx, broker);
                        Answer::Ready(r)
                    }
                    produce::Prepared::Done(None) => Answer::None,
                    produce::Prepared::Durable(wait) => {
                        // The refused partitions are known now; the check needs no
                        // request context once the wait is over.
                        let mut refused = Response::Produce(ProduceResponse::default());
                        authorize::after(checked, &mut refused, ctx, broker);
                        Answer::Deferred(Box::pin(async move {
                            let mut r = wait.await;
                            if let Response::Produce(extra) = refused {
                                r.responses.extend(extra.responses);
                            }
                            Response::Produce(r)
                        }))
                    }
                }
            }
            other => match other.apply(ctx, broker).await {
                Some(r) => Answer::Ready(r),
                None => Answer::None,
            },
        }
    }
}

/// The version range advertised for an API, or `None` if it is not served.
///
/// The ranges are what the codec supports (Kafka 4.1's message definitions, and Kafka 4.2's
/// versions that codec_4_2 adds), with one
/// deliberate exception: Produce is advertised from v0, as Kafka 4.0 does, because
/// librdkafka before 2.12 enables gzip, snappy and lz4 only when the broker's Produce
/// range reaches down to v0 (rdkafka_msgset_writer.c). Produce v0-v2 requests (message
/// formats 0 and 1) are still refused, by closing the connection, as Kafka 4 does.
pub fn supported_versions(key: ApiKey) -> Option<VersionRange> {
    if !SERVED_APIS.contains(&key) {
        return None;
    }
    let range = key.valid_versions();
    Some(match key {
        // Up to the codec's (Kafka 4.1 and 4.2's) maximum, v13; from v0 (see above).
        ApiKey::Produce => VersionRange {
            min: 0,
            max: range.max,
        },
        // Kafka 4.2's versions the codec lacks are read and written by codec_4_2.
        ApiKey::ListOffsets => VersionRange {
            min: range.min,
            max: codec_4_2::LIST_OFFSETS_MAX,
        },
        ApiKey::OffsetCommit => VersionRange {
            min: range.min,
            max: codec_4_2::OFFSET_COMMIT_MAX,
        },
        ApiKey::OffsetFetch => VersionRange {
            min: range.min,
            max: codec_4_2::OFFSET_FETCH_MAX,
        },
        ApiKey::DescribeShareGroupOffsets => VersionRange {
            min: range.min,
            max: codec_4_2::DESCRIBE_SHARE_GROUP_OFFSETS_MAX,
        },
        ApiKey::ShareFetch => VersionRange {
            min: range.min,
            max: codec_4_2::SHARE_FETCH_MAX,
        },
        ApiKey::ShareAcknowledge => VersionRange {
            min: range.min,
            max: codec_4_2::SHARE_ACKNOWLEDGE_MAX,
        },
        // v6 is KIP-939's two-phase commit (Enable2Pc, KeepPreparedTxn), which Kafka
        // 4.2 still marks unstable and does not advertise; this broker ignores the
        // fields, so it must not advertise v6 either.
        ApiKey::InitProducerId => VersionRange {
            min: range.min,
            max: range.max.min(5),
        },
        _ => range,
    })
}

/// A `StrBytes` from any string.
pub(crate) fn sb(s: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.into())
}

#[cfg(test)]
mod api_versions_table_test;
#[cfg(test)]
mod authorize_tests;
#[cfg(test)]
mod cluster_admin_tests;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod produce_tests;
#[cfg(test)]
mod share_tests;
#[cfg(test)]
mod storage_failure_tests;
#[cfg(test)]
mod telemetry_tests;
/// Handler tests; their broker and batch builders serve the connection tests too.
#[cfg(test)]
pub(crate) mod tests;
