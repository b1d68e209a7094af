//! The CLI's view of a cluster: the bootstrap connection, Metadata, connections to
//! partition leaders and group coordinators, and the ListOffsets look-ups several
//! commands share.
//!
//! It owns routing (which broker to ask) and nothing else: it never formats output and
//! never decides what a command does with an answer. Against a one-broker cluster
//! (Sluice) every request goes over the bootstrap connection, so an advertised address
//! that differs from the one the user typed still works.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, Context, Result};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FindCoordinatorRequest, ListOffsetsRequest, MetadataRequest,
    MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{check_code, Connection};

/// ListOffsets' special timestamps.
pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

/// Where one partition lives.
#[derive(Clone, Debug)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub error_code: i16,
}

/// One topic as Metadata describes it.
#[derive(Clone, Debug)]
pub struct TopicInfo {
    pub name: String,
    pub topic_id: uuid::Uuid,
    pub internal: bool,
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// One Fetch (up to 16 MiB) of `partitions` of this topic, each from its position in
    /// `positions`: what the CLI's readers send to each leader.
    pub fn fetch_request(
        &self,
        partitions: &[i32],
        positions: &BTreeMap<i32, i64>,
        max_wait_ms: i32,
        isolation_level: i8,
        partition_max_bytes: i32,
    ) -> FetchRequest {
        FetchRequest::default()
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(16 << 20)
            .with_isolation_level(isolation_level)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(self.name.clone())))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(*p)
                                .with_fetch_offset(positions[p])
                                .with_partition_max_bytes(partition_max_bytes)
                        })
                        .collect(),
                )])
    }

    /// `partitions` grouped by their leader's node id, so each leader gets one request.
    pub fn by_leader(
        &self,
        partitions: impl IntoIterator<Item = i32>,
    ) -> Result<BTreeMap<i32, Vec<i32>>> {
        let mut out: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in partitions {
            let leader = self
                .partitions
                .iter()
                .find(|i| i.partition == p)
                .map(|i| i.leader)
                .ok_or_else(|| anyhow!("topic `{}` has no partition {p}", self.name))?;
            out.entry(leader).or_default().push(p);
        }
        Ok(out)
    }
}

pub struct Cluster {
    bootstrap: Connection,
    /// node id -> HOST:PORT, from the last Metadata answer.
    brokers: BTreeMap<i32, String>,
    /// Connections to brokers other than the bootstrap one.
    others: HashMap<i32, Connection>,
}

impl Cluster {
    pub async fn connect(bootstrap: &str) -> Result<Cluster> {
        let conn = Connection::connect(bootstrap).await?;
        Ok(Cluster {
            bootstrap: conn,
            brokers: BTreeMap::new(),
            others: HashMap::new(),
        })
    }

    /// The bootstrap connection (for cluster-wide requests such as CreateTopics).
    pub fn any(&mut self) -> &mut Connection {
        &mut self.bootstrap
    }

    /// Metadata for `topics` (all topics with `None`). Never auto-creates.
    pub async fn metadata(&mut self, topics: Option<&[String]>) -> Result<MetadataResponse> {
        let request = MetadataRequest::default()
            .with_topics(topics.map(|names| {
                names
                    .iter()
                    .map(|n| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(n.clone()))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let answer = self.bootstrap.send(&request, 12).await?;
        self.brokers = answer
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        Ok(answer)
    }

    /// Every topic (sorted by name), or the named ones; an unknown named topic is an error.
    pub async fn topics(&mut self, names: Option<&[String]>) -> Result<Vec<TopicInfo>> {
        let answer = self.metadata(names).await?;
        let mut out = Vec::new();
        for t in answer.topics {
            let name = t.name.map(|n| n.0.to_string()).unwrap_or_default();
            check_code(t.error_code, None, &format!("topic `{name}`"))?;
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    error_code: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            out.push(TopicInfo {
                name,
                topic_id: t.topic_id,
                internal: t.is_internal,
                partitions,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The one named topic.
    pub async fn topic(&mut self, name: &str) -> Result<TopicInfo> {
        let mut topics = self.topics(Some(&[name.to_string()])).await?;
        topics
            .pop()
            .ok_or_else(|| anyhow!("topic `{name}`: not in the broker's metadata"))
    }

    /// The connection to broker `node` (the bootstrap one on a one-broker cluster).
    pub async fn node(&mut self, node: i32) -> Result<&mut Connection> {
        if self.brokers.len() <= 1 || node < 0 {
            return Ok(&mut self.bootstrap);
        }
        let Some(addr) = self.brokers.get(&node).cloned() else {
            bail!("broker {node} is not in the cluster's metadata");
        };
        if addr == self.bootstrap.addr() {
            return Ok(&mut self.bootstrap);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.others.entry(node) {
            let conn = Connection::connect(&addr)
                .await
                .with_context(|| format!("connecting to broker {node}"))?;
            slot.insert(conn);
        }
        Ok(self.others.get_mut(&node).expect("just inserted"))
    }

    /// The node id and HOST:PORT of the coordinator of consumer group `group` (the
    /// bootstrap address on a one-broker cluster).
    pub async fn coordinator(&mut self, group: &str) -> Result<(i32, String)> {
        self.find_coordinator(0, group).await
    }

    /// Like [`coordinator`](Self::coordinator) for any key type: 0 a consumer group,
    /// 1 a transactional id.
    pub async fn find_coordinator(&mut self, key_type: i8, key: &str) -> Result<(i32, String)> {
        let version = self.bootstrap.version::<FindCoordinatorRequest>(6)?;
        let mut request = FindCoordinatorRequest::default().with_key_type(key_type);
        if version >= 4 {
            request.coordinator_keys = vec![StrBytes::from_string(key.to_string())];
        } else {
            request.key = StrBytes::from_string(key.to_string());
        }
        let answer = self.bootstrap.send_raw(&request, version).await?;
        let what = match key_type {
            0 => format!("coordinator of group `{key}`"),
            _ => format!("coordinator of transactional id `{key}`"),
        };
        let (node, host, port) = if version >= 4 {
            let c = answer
                .coordinators
                .first()
                .ok_or_else(|| anyhow!("FindCoordinator answered no coordinator"))?;
            check_code(c.error_code, c.error_message.as_ref(), &what)?;
            (c.node_id.0, c.host.to_string(), c.port)
        } else {
            check_code(answer.error_code, answer.error_message.as_ref(), &what)?;
            (answer.node_id.0, answer.host.to_string(), answer.port)
        };
        if self.brokers.is_empty() {
            self.metadata(Some(&[])).await?;
        }
        if self.brokers.len() <= 1 {
            return Ok((node, self.bootstrap.addr().to_string()));
        }
        Ok((node, format!("{host}:{port}")))
    }

    /// ListOffsets for the partitions of `topic` at `timestamp` (EARLIEST, LATEST or a
    /// time in ms), asked of each partition's leader. Returns partition -> (offset,
    /// timestamp); offset -1 means no record at or after a given time. `committed`
    /// asks for read_committed (LATEST is then the last stable offset).
    pub async fn list_offsets(
        &mut self,
        topic: &TopicInfo,
        partitions: &[i32],
        timestamp: i64,
        committed: bool,
    ) -> Result<BTreeMap<i32, (i64, i64)>> {
        let mut out = BTreeMap::new();
        for (leader, parts) in topic.by_leader(partitions.iter().copied())? {
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(committed as i8)
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.name.clone())))
                    .with_partitions(
                        parts
                            .iter()
                            .map(|p| {
                                ListOffsetsPartition::default()
                                    .with_partition_index(*p)
                                    .with_current_leader_epoch(-1)
                                    .with_timestamp(timestamp)
                            })
                            .collect(),
                    )]);
            let conn = self.node(leader).await?;
            let answer = conn.send(&request, 10).await?;
            for t in answer.topics {
                for p in t.partitions {
                    check_code(
                        p.error_code,
                        None,
                        &format!("ListOffsets {}-{}", topic.name, p.partition_index),
                    )?;
                    out.insert(p.partition_index, (p.offset, p.timestamp));
                }
            }
        }
        for p in partitions {
            if !out.contains_key(p) {
                bail!("ListOffsets answered nothing for {}-{p}", topic.name);
            }
        }
        Ok(out)
    }
}
