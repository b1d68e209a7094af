//! What the fuzz targets in `fuzz/` run, kept in the library so that the regression
//! test below runs every saved crash and seed through exactly the same code.
//!
//! Each entry takes arbitrary bytes and must never panic, hang or abort for any input:
//! - [`connection`]: the bytes a client sends on a connection (framing, request
//!   header, every served API's request decoding and its handler, SASL before
//!   authentication), run through the real [`Connection`] against one in-memory broker
//!   per process;
//! - [`record_batch`]: the bytes of a produced batch, through the log's validator
//!   under several topic configurations, and the record walkers that read what it
//!   accepts;
//! - [`sasl`]: SCRAM client messages through the SCRAM server exchange, PLAIN and JAAS
//!   parsing.
//!
//! A panic anywhere, also in a task the connection spawns, is a finding. This module
//! owns no behaviour of its own: it only drives the broker's code. It is compiled for
//! tests and with the `fuzzing` feature (which the fuzz crate turns on), never into
//! the released binary.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::broker::Broker;
use crate::config::{BrokerConfig, Overrides};
use crate::log::{AppendOrigin, LogValidator, ValidationConfig};
use crate::security::{ListenerSecurity, Session};
use crate::server::connection::Connection;

/// How long one input may keep its connection busy: a long poll or a join that waits
/// for a rebalance is cut here (the fuzzer wants many inputs a second, not their
/// answers).
const INPUT_BUDGET: Duration = Duration::from_millis(300);

/// The PLAIN user the SASL listener knows.
const PLAIN_USER: (&str, &str) = ("alice", "alice-secret");

struct Target {
    runtime: tokio::runtime::Runtime,
    broker: Arc<Broker>,
    plaintext: Arc<ListenerSecurity>,
    sasl: Arc<ListenerSecurity>,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let jaas = format!(
            "org.apache.kafka.common.security.plain.PlainLoginModule required user_{}=\"{}\";",
            PLAIN_USER.0, PLAIN_USER.1
        );
        let overrides = Overrides {
            listen: None,
            advertised_listener: None,
            data_dir: None,
            sets: vec![
                (
                    "listeners".into(),
                    "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0".into(),
                ),
                ("sasl.jaas.config".into(), jaas),
                ("sluice.http.listen".into(), String::new()),
                ("sluice.schema.registry.listen".into(), String::new()),
                // Deletion and creation stay cheap: a fuzzer creates many topics.
                ("num.partitions".into(), "1".into()),
            ],
        };
        let mut config = BrokerConfig::load(None, &overrides).expect("fuzz broker config");
        config.in_memory = true;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("fuzz runtime");
        let listener = |name: &str| {
            let l = config
                .listeners
                .iter()
                .find(|l| l.name == name)
                .unwrap_or_else(|| panic!("listener {name}"))
                .clone();
            Arc::new(ListenerSecurity::new(l).expect("listener security"))
        };
        let (plaintext, sasl) = (listener("PLAINTEXT"), listener("SASL_PLAINTEXT"));
        let broker = Broker::open(config).expect("in-memory broker");
        runtime.block_on(broker.complete_recovery());
        Target {
            runtime,
            broker,
            plaintext,
            sasl,
        }
    })
}

/// One client connection's bytes. The first byte picks the listener (even: PLAINTEXT,
/// authenticated as `User:ANONYMOUS`; odd: SASL_PLAINTEXT, unauthenticated), the rest
/// is written to the connection as it is, then the client's side closes. Returns
/// whether the connection's task panicked (the fuzz target aborts on it; the
/// regression test fails on it).
pub fn connection(data: &[u8]) -> Result<(), String> {
    let Some((&selector, bytes)) = data.split_first() else {
        return Ok(());
    };
    let t = target();
    let listener = if selector % 2 == 0 {
        t.plaintext.clone()
    } else {
        t.sasl.clone()
    };
    let session = Arc::new(Session::new(listener, None));
    let peer: SocketAddr = "127.0.0.1:1".parse().expect("address");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let broker = t.broker.clone();
    let bytes = bytes.to_vec();
    t.runtime.block_on(async move {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let task =
            tokio::spawn(Connection::with_session(0, peer, server, broker, stop_rx, session).run());
        let drive = async {
            // A connection closed early (a refused request) stops reading: that is
            // an answer, not a failure.
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink).await;
        };
        let _ = tokio::time::timeout(INPUT_BUDGET, drive).await;
        let _ = stop_tx.send(true);
        match tokio::time::timeout(INPUT_BUDGET * 10, task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.is_panic() => Err(format!("the connection panicked: {e}")),
            Ok(Err(e)) => Err(format!("the connection task failed: {e}")),
            Err(_) => Err("the connection did not stop when told to".into()),
        }
    })
}

/// One produced batch (the bytes of a partition's `records` field), validated as a
/// client's under several topic configurations; whatever is accepted is walked
/// record by record as the cleaner walks stored batches.
pub fn record_batch(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let now_ms = 1_700_000_000_000;
    let configs = [
        ValidationConfig::default(),
        ValidationConfig {
            compacted_topic: true,
            ..ValidationConfig::default()
        },
        ValidationConfig {
            target_compression: Some(kafka_protocol::records::Compression::Zstd),
            ..ValidationConfig::default()
        },
        ValidationConfig {
            target_compression: Some(kafka_protocol::records::Compression::None),
            max_message_bytes: 1024,
            ..ValidationConfig::default()
        },
    ];
    for config in configs {
        let Ok(validated) =
            LogValidator::new(config, now_ms, AppendOrigin::Client).validate(bytes.clone())
        else {
            continue;
        };
        for batch in validated.batches() {
            let end = batch.start + batch.header.total_size();
            let stored = validated.records().slice(batch.start..end);
            if let Ok(body) = crate::log::cleaner::records::records_of(&stored, &batch.header) {
                let _ = crate::log::cleaner::records::walk(&body, batch.header.record_count);
            }
        }
    }
}

/// SASL messages: the first byte picks what the rest is. SCRAM-SHA-256 or -512: split
/// at the first 0xFF into a client-first and a client-final message for the server
/// exchange; otherwise one JAAS line. (PLAIN tokens go through [`connection`]'s SASL
/// listener.)
pub fn sasl(data: &[u8]) {
    use crate::security::scram::{ScramMechanism, ScramServer};
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (first, last) = match rest.iter().position(|&b| b == 0xFF) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    match selector % 4 {
        0 | 1 => {
            let mechanism = if selector % 4 == 0 {
                ScramMechanism::Sha256
            } else {
                ScramMechanism::Sha512
            };
            let credential = crate::security::scram::ScramCredential::from_salted_password(
                mechanism,
                b"salt",
                &mechanism.salted_password(b"secret", b"salt", 4096),
                4096,
            );
            let mut server = ScramServer::with_nonce(mechanism, "servernonce".into());
            if server.step(first, |_| Some(credential.clone())).is_ok() {
                let _ = server.step(last, |_| Some(credential));
            }
        }
        _ => {
            if let Ok(line) = std::str::from_utf8(rest) {
                let _ = crate::security::jaas::parse(line);
                let _ = crate::security::jaas::plain_users(line);
            }
        }
    }
}

/// Seed inputs for [`connection`]: for every API key the broker serves and every
/// version it serves, one frame holding that request with default fields (so the
/// fuzzer starts from each API's wire layout rather than finding it), plus a few
/// realistic sequences (metadata, create topics, produce then fetch, a SASL PLAIN
/// login). Names are `<api>-v<version>` and `seq-<what>`.
pub fn connection_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for key in ApiKey::iter() {
        let Some(range) = crate::api::supported_versions(key) else {
            continue;
        };
        for version in range.min..=range.max {
            let Some(frame) = default_request_frame(key, version) else {
                continue;
            };
            let mut input = vec![
                if matches!(key, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate) {
                    1
                } else {
                    0
                },
            ];
            input.extend_from_slice(&frame);
            seeds.push((format!("{key:?}-v{version}"), input));
        }
    }
    seeds
}

/// Realistic multi-request inputs for [`connection`]: a SASL PLAIN login followed by
/// Metadata, and CreateTopics + Produce + Fetch + ListOffsets on one topic.
pub fn connection_sequences() -> Vec<(String, Vec<u8>)> {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::*;
    let topic = || TopicName(StrBytes::from_static_str("fuzzed"));
    let mut login = vec![1];
    login.extend(frame_of(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
    ));
    login.extend(frame_of(
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default()
            .with_auth_bytes(Bytes::from(format!("\0{}\0{}", PLAIN_USER.0, PLAIN_USER.1))),
    ));
    login.extend(frame_of(ApiKey::Metadata, 12, &MetadataRequest::default()));

    let mut data = vec![0];
    data.extend(frame_of(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_timeout_ms(1000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic())
                .with_num_partitions(1)
                .with_replication_factor(1)]),
    ));
    data.extend(frame_of(
        ApiKey::Produce,
        9,
        &ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic())
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(sample_batch(
                        kafka_protocol::records::Compression::None,
                    )))])]),
    ));
    data.extend(frame_of(
        ApiKey::Fetch,
        12,
        &FetchRequest::default()
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic())
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)])]),
    ));
    vec![
        ("seq-sasl-plain-login".into(), login),
        ("seq-create-produce-fetch".into(), data),
    ]
}

/// A v2 batch of three keyed records with a header, for seeds.
pub fn sample_batch(compression: kafka_protocol::records::Compression) -> Bytes {
    use kafka_protocol::records::*;
    let records: Vec<Record> = (0..3)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            // The encoder keeps records with a constant offset - sequence in one
            // batch and takes the first record's sequence (-1: no producer) as base.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(format!("value-{i}"))),
            headers: [(
                StrBytes::from_static_str("h"),
                Some(Bytes::from_static(b"v")),
            )]
            .into_iter()
            .collect(),
        })
        .collect();
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut out,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encoding a sample batch");
    out.freeze()
}

/// One request frame (size prefix included).
fn frame_of<R: Encodable>(key: ApiKey, version: i16, request: &R) -> Vec<u8> {
    let mut header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1);
    header.client_id = Some(StrBytes::from_static_str("fuzz"));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, key.request_header_version(version))
        .expect("header");
    request.encode(&mut body, version).expect("request");
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    frame
}

/// Seeds for [`record_batch`] and [`sasl`].
pub fn other_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use kafka_protocol::records::Compression;
    let mut out = Vec::new();
    for (name, c) in [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        out.push((
            "record_batch",
            format!("batch-{name}"),
            sample_batch(c).to_vec(),
        ));
    }
    let mut scram = vec![0];
    scram.extend_from_slice(b"n,,n=alice,r=clientnonce");
    scram.push(0xFF);
    scram.extend_from_slice(
        b"c=biws,r=clientnonceservernonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    out.push(("sasl", "scram-sha-256".into(), scram.clone()));
    scram[0] = 1;
    out.push(("sasl", "scram-sha-512".into(), scram));
    let mut jaas = vec![3];
    jaas.extend_from_slice(
        b"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\" username=\"admin\";",
    );
    out.push(("sasl", "jaas".into(), jaas));
    out
}

/// One request frame (size prefix included) of `key` at `version` with default fields.
pub fn default_request_frame(key: ApiKey, version: i16) -> Option<Vec<u8>> {
    let mut header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(7);
    header.client_id = Some(StrBytes::from_static_str("fuzz"));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, key.request_header_version(version))
        .ok()?;
    encode_default_request(key, version, &mut body)?.ok()?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    Some(frame)
}

/// Encodes a request of `key` with default fields (a few carry a value that makes the
/// request meaningful) at `version`; `None` for a key without a seed here.
fn encode_default_request(
    key: ApiKey,
    version: i16,
    buf: &mut BytesMut,
) -> Option<anyhow::Result<()>> {
    use kafka_protocol::messages::*;
    Some(match key {
        ApiKey::Produce => ProduceRequest::default().encode(buf, version),
        ApiKey::Fetch => FetchRequest::default().encode(buf, version),
        // v11 is v10 on the wire (crate::api::codec_4_2).
        ApiKey::ListOffsets => ListOffsetsRequest::default().encode(buf, version.min(10)),
        ApiKey::Metadata => MetadataRequest::default().encode(buf, version),
        ApiKey::OffsetCommit if version >= 10 => {
            crate::api::codec_4_2::encode_offset_commit_v10(&OffsetCommitRequest::default(), buf)
        }
        ApiKey::OffsetCommit => OffsetCommitRequest::default().encode(buf, version),
        ApiKey::OffsetFetch if version >= 10 => {
            crate::api::codec_4_2::encode_offset_fetch_v10(&OffsetFetchRequest::default(), buf)
        }
        ApiKey::OffsetFetch => OffsetFetchRequest::default().encode(buf, version),
        ApiKey::FindCoordinator => FindCoordinatorRequest::default().encode(buf, version),
        ApiKey::JoinGroup => JoinGroupRequest::default().encode(buf, version),
        ApiKey::Heartbeat => HeartbeatRequest::default().encode(buf, version),
        ApiKey::LeaveGroup => LeaveGroupRequest::default().encode(buf, version),
        ApiKey::SyncGroup => SyncGroupRequest::default().encode(buf, version),
        ApiKey::DescribeGroups => DescribeGroupsRequest::default().encode(buf, version),
        ApiKey::ListGroups => ListGroupsRequest::default().encode(buf, version),
        ApiKey::SaslHandshake => SaslHandshakeRequest::default()
            .with_mechanism(StrBytes::from_static_str("PLAIN"))
            .encode(buf, version),
        ApiKey::ApiVersions => ApiVersionsRequest::default().encode(buf, version),
        ApiKey::CreateTopics => CreateTopicsRequest::default().encode(buf, version),
        ApiKey::DeleteTopics => DeleteTopicsRequest::default().encode(buf, version),
        ApiKey::DeleteRecords => DeleteRecordsRequest::default().encode(buf, version),
        ApiKey::InitProducerId => InitProducerIdRequest::default().encode(buf, version),
        ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest::default().encode(buf, version),
        ApiKey::AddPartitionsToTxn => AddPartitionsToTxnRequest::default().encode(buf, version),
        ApiKey::AddOffsetsToTxn => AddOffsetsToTxnRequest::default().encode(buf, version),
        ApiKey::EndTxn => EndTxnRequest::default().encode(buf, version),
        ApiKey::TxnOffsetCommit => TxnOffsetCommitRequest::default().encode(buf, version),
        ApiKey::DescribeConfigs => DescribeConfigsRequest::default().encode(buf, version),
        ApiKey::AlterConfigs => AlterConfigsRequest::default().encode(buf, version),
        ApiKey::DescribeLogDirs => DescribeLogDirsRequest::default().encode(buf, version),
        ApiKey::AlterReplicaLogDirs => AlterReplicaLogDirsRequest::default().encode(buf, version),
        ApiKey::SaslAuthenticate => SaslAuthenticateRequest::default()
            .with_auth_bytes(Bytes::from_static(b"\0alice\0alice-secret"))
            .encode(buf, version),
        ApiKey::CreatePartitions => CreatePartitionsRequest::default().encode(buf, version),
        ApiKey::DeleteGroups => DeleteGroupsRequest::default().encode(buf, version),
        ApiKey::ElectLeaders => ElectLeadersRequest::default().encode(buf, version),
        ApiKey::IncrementalAlterConfigs => {
            IncrementalAlterConfigsRequest::default().encode(buf, version)
        }
        ApiKey::AlterPartitionReassignments => {
            AlterPartitionReassignmentsRequest::default().encode(buf, version)
        }
        ApiKey::ListPartitionReassignments => {
            ListPartitionReassignmentsRequest::default().encode(buf, version)
        }
        ApiKey::OffsetDelete => OffsetDeleteRequest::default().encode(buf, version),
        ApiKey::DescribeClientQuotas => DescribeClientQuotasRequest::default().encode(buf, version),
        ApiKey::DescribeUserScramCredentials => {
            DescribeUserScramCredentialsRequest::default().encode(buf, version)
        }
        ApiKey::AlterUserScramCredentials => {
            AlterUserScramCredentialsRequest::default().encode(buf, version)
        }
        ApiKey::DescribeQuorum => DescribeQuorumRequest::default().encode(buf, version),
        ApiKey::DescribeCluster => DescribeClusterRequest::default().encode(buf, version),
        ApiKey::DescribeProducers => DescribeProducersRequest::default().encode(buf, version),
        ApiKey::DescribeTransactions => DescribeTransactionsRequest::default().encode(buf, version),
        ApiKey::ListTransactions => ListTransactionsRequest::default().encode(buf, version),
        ApiKey::ConsumerGroupHeartbeat => {
            ConsumerGroupHeartbeatRequest::default().encode(buf, version)
        }
        ApiKey::ConsumerGroupDescribe => {
            ConsumerGroupDescribeRequest::default().encode(buf, version)
        }
        ApiKey::DescribeTopicPartitions => {
            DescribeTopicPartitionsRequest::default().encode(buf, version)
        }
        ApiKey::UpdateFeatures => UpdateFeaturesRequest::default().encode(buf, version),
        ApiKey::ShareGroupHeartbeat => ShareGroupHeartbeatRequest::default().encode(buf, version),
        ApiKey::ShareGroupDescribe => ShareGroupDescribeRequest::default().encode(buf, version),
        ApiKey::ShareFetch => {
            crate::api::codec_4_2::ShareFetchRequest::default().encode(buf, version)
        }
        ApiKey::ShareAcknowledge => {
            crate::api::codec_4_2::ShareAcknowledgeRequest::default().encode(buf, version)
        }
        // v1 is v0 on the wire (crate::api::codec_4_2).
        ApiKey::DescribeShareGroupOffsets => {
            DescribeShareGroupOffsetsRequest::default().encode(buf, version.min(0))
        }
        ApiKey::AlterShareGroupOffsets => {
            AlterShareGroupOffsetsRequest::default().encode(buf, version)
        }
        ApiKey::DeleteShareGroupOffsets => {
            DeleteShareGroupOffsetsRequest::default().encode(buf, version)
        }
        ApiKey::DescribeAcls => DescribeAclsRequest::default().encode(buf, version),
        ApiKey::CreateAcls => CreateAclsRequest::default().encode(buf, version),
        ApiKey::DeleteAcls => DeleteAclsRequest::default().encode(buf, version),
        ApiKey::GetTelemetrySubscriptions => {
            GetTelemetrySubscriptionsRequest::default().encode(buf, version)
        }
        ApiKey::PushTelemetry => PushTelemetryRequest::default().encode(buf, version),
        ApiKey::ListConfigResources => ListConfigResourcesRequest::default().encode(buf, version),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn fuzz_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
    }

    /// Every file under `fuzz/<dir>/<target>/`, sorted.
    fn inputs(dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out: Vec<_> = std::fs::read_dir(fuzz_dir().join(dir).join(target))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_else(|_| Vec::new());
        out.sort();
        out.into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect()
    }

    /// The seed corpus and every saved finding (`fuzz/regressions/<target>/`) run
    /// through the same entries the fuzzers run, without a panic or a stuck connection.
    #[test]
    fn every_seed_and_saved_finding_runs_cleanly() {
        let mut ran = 0;
        for dir in ["corpus", "regressions"] {
            for (path, bytes) in inputs(dir, "connection") {
                connection(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                ran += 1;
            }
            for (_, bytes) in inputs(dir, "record_batch") {
                record_batch(&bytes);
                ran += 1;
            }
            for (_, bytes) in inputs(dir, "sasl") {
                sasl(&bytes);
                ran += 1;
            }
        }
        assert!(ran > 0, "no seeds found under {}", fuzz_dir().display());
    }

    /// The committed connection seeds are what `connection_seeds` makes today, so a
    /// newly served API or version gets its seed (regenerate with
    /// `scripts/fuzz.sh --seeds`).
    #[test]
    fn connection_seeds_cover_every_served_version() {
        let committed: std::collections::BTreeSet<String> = inputs("corpus", "connection")
            .into_iter()
            .filter_map(|(p, _)| Some(p.file_name()?.to_str()?.to_string()))
            .collect();
        let missing: Vec<String> = connection_seeds()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !committed.contains(name))
            .collect();
        assert!(
            missing.is_empty(),
            "seeds missing from fuzz/corpus/connection (run scripts/fuzz.sh --seeds): {missing:?}"
        );
        // A newly served key needs its line in encode_default_request.
        let unseeded: Vec<ApiKey> = ApiKey::iter()
            .filter(|key| {
                crate::api::supported_versions(*key)
                    .is_some_and(|r| default_request_frame(*key, r.max).is_none())
            })
            .collect();
        assert!(
            unseeded.is_empty(),
            "served keys without a seed: {unseeded:?}"
        );
    }

    /// Writes the seed corpus into `fuzz/corpus/<target>/` (`scripts/fuzz.sh --seeds`).
    #[test]
    #[ignore]
    fn write_seed_corpus() {
        let mut files: Vec<(&str, String, Vec<u8>)> = connection_seeds()
            .into_iter()
            .chain(connection_sequences())
            .map(|(name, bytes)| ("connection", name, bytes))
            .collect();
        files.extend(other_seeds());
        for (target, name, bytes) in files {
            let dir = fuzz_dir().join("corpus").join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    /// The connection entry really reaches the handlers: the produce sequence creates
    /// its topic.
    #[test]
    fn the_produce_sequence_creates_its_topic() {
        let (_, bytes) = connection_sequences()
            .into_iter()
            .find(|(name, _)| name == "seq-create-produce-fetch")
            .unwrap();
        connection(&bytes).unwrap();
        let topic = target().broker.topics.get("fuzzed").expect("topic created");
        assert!(topic.partitions[0].watermarks().high_watermark >= 3);
    }

    #[test]
    fn a_default_metadata_request_gets_an_answer() {
        let frame = default_request_frame(ApiKey::Metadata, 12).unwrap();
        let mut input = vec![0];
        input.extend(frame);
        connection(&input).unwrap();
    }
}
