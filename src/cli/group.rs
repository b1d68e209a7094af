//! `sluice group list|describe`: consumer groups as the coordinator sees them
//! (ListGroups, DescribeGroups, OffsetFetch) with lag per partition (log end offset
//! from ListOffsets minus the committed offset), like `kafka-consumer-groups --describe`.
//! KIP-848 consumer groups and share groups are described by `group_kinds.rs`.
//!
//! Also owns the small codecs both this file and `consume_group.rs` need: the consumer
//! protocol's subscription/assignment bytes and OffsetFetch. It must never join a group
//! or commit offsets (that is `consume_group.rs`), so describing a group never disturbs it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use clap::{Args, Subcommand};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, DescribeGroupsRequest, GroupId,
    ListGroupsRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::client::{check_code, Connection};
use super::cluster::{Cluster, LATEST};
use super::output::table;
use super::BootstrapArgs;

#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// List consumer groups: id, state and protocol type.
    List,
    /// Show a group's state, members, assignments, and committed offsets with lag; for
    /// a share group also what is in flight (acquired records, delivery counts), read
    /// from the broker's admin HTTP side.
    Describe {
        group: String,
        /// The broker's admin HTTP side (sluice.http.listen), for a share group's
        /// in-flight records [default: the bootstrap host, port 9644].
        #[arg(long, value_name = "HOST:PORT")]
        http: Option<String>,
    },
}

pub async fn run(args: GroupArgs) -> Result<()> {
    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    match args.command {
        GroupCommand::List => list(&mut cluster).await,
        GroupCommand::Describe { group, http } => {
            let http =
                super::share_in_flight::http_address(http.as_deref(), &args.bootstrap.bootstrap);
            describe(&mut cluster, &group, &http).await
        }
    }
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Encodes a consumer-protocol subscription (version 0: topics, no user data).
pub fn encode_subscription(topics: &[String]) -> Result<Bytes> {
    let s = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| str_bytes(t)).collect());
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    s.encode(&mut buf, 0)?;
    Ok(buf.freeze())
}

/// The topics of a consumer-protocol subscription.
pub fn decode_subscription(mut bytes: Bytes) -> Result<Vec<String>> {
    if bytes.remaining() < 2 {
        bail!("empty subscription");
    }
    let version = bytes.get_i16().clamp(0, 3);
    let s = ConsumerProtocolSubscription::decode(&mut bytes, version)?;
    Ok(s.topics.iter().map(|t| t.to_string()).collect())
}

/// Encodes a consumer-protocol assignment (version 0).
pub fn encode_assignment(assigned: &BTreeMap<String, Vec<i32>>) -> Result<Bytes> {
    let a = ConsumerProtocolAssignment::default().with_assigned_partitions(
        assigned
            .iter()
            .map(|(t, ps)| {
                TopicPartition::default()
                    .with_topic(TopicName(str_bytes(t)))
                    .with_partitions(ps.clone())
            })
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    a.encode(&mut buf, 0)?;
    Ok(buf.freeze())
}

/// Topic -> partitions of a consumer-protocol assignment (empty bytes: nothing).
pub fn decode_assignment(mut bytes: Bytes) -> Result<BTreeMap<String, Vec<i32>>> {
    if bytes.remaining() < 2 {
        return Ok(BTreeMap::new());
    }
    let version = bytes.get_i16().clamp(0, 3);
    let a = ConsumerProtocolAssignment::decode(&mut bytes, version)?;
    Ok(a.assigned_partitions
        .into_iter()
        .map(|tp| (tp.topic.0.to_string(), tp.partitions))
        .collect())
}

/// The group's committed offsets: all of them with `topics` = None, else for those
/// partitions. Partitions without a committed offset are left out.
pub async fn committed_offsets(
    conn: &mut Connection,
    group: &str,
    topics: Option<&BTreeMap<String, Vec<i32>>>,
) -> Result<BTreeMap<(String, i32), i64>> {
    let version = conn.version::<OffsetFetchRequest>(7)?;
    if topics.is_none() && version < 2 {
        bail!("the broker's OffsetFetch (v{version}) cannot list all of a group's offsets");
    }
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_topics(topics.map(|t| {
            t.iter()
                .map(|(name, parts)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(TopicName(str_bytes(name)))
                        .with_partition_indexes(parts.clone())
                })
                .collect()
        }));
    let answer = conn.send_raw(&request, version).await?;
    check_code(
        answer.error_code,
        None,
        &format!("offsets of group `{group}`"),
    )?;
    let mut out = BTreeMap::new();
    for t in answer.topics {
        for p in t.partitions {
            check_code(
                p.error_code,
                None,
                &format!(
                    "offset of group `{group}` for {}-{}",
                    t.name.0, p.partition_index
                ),
            )?;
            if p.committed_offset >= 0 {
                out.insert(
                    (t.name.0.to_string(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
    }
    Ok(out)
}

async fn coordinator(cluster: &mut Cluster, group: &str) -> Result<Connection> {
    let (_, addr) = cluster.coordinator(group).await?;
    Connection::connect(&addr).await
}

async fn list(cluster: &mut Cluster) -> Result<()> {
    // Every broker coordinates some groups; ask each one (just the bootstrap one for
    // Sluice).
    let meta = cluster.metadata(Some(&[])).await?;
    let mut nodes: Vec<i32> = meta.brokers.iter().map(|b| b.node_id.0).collect();
    if nodes.is_empty() {
        nodes.push(-1);
    }
    let mut rows = Vec::new();
    for node in nodes {
        let conn = cluster.node(node).await?;
        let answer = conn.send(&ListGroupsRequest::default(), 5).await?;
        check_code(answer.error_code, None, "ListGroups")?;
        for g in answer.groups {
            let state = if g.group_state.is_empty() {
                "-".to_string()
            } else {
                g.group_state.to_string()
            };
            rows.push(vec![
                g.group_id.0.to_string(),
                state,
                g.protocol_type.to_string(),
            ]);
        }
    }
    rows.sort();
    rows.dedup();
    print!("{}", table(&["GROUP", "STATE", "PROTOCOL-TYPE"], &rows));
    Ok(())
}

async fn describe(cluster: &mut Cluster, group: &str, http: &str) -> Result<()> {
    let mut conn = coordinator(cluster, group).await?;
    match super::group_kinds::group_type(&mut conn, group)
        .await?
        .as_deref()
    {
        Some("share") => {
            super::group_kinds::describe_share(cluster, &mut conn, group).await?;
            super::share_in_flight::print(http, group).await;
            return Ok(());
        }
        Some("consumer") => {
            let owner = super::group_kinds::describe_consumer(&mut conn, group).await?;
            return offsets_table(cluster, &mut conn, group, owner).await;
        }
        _ => {}
    }
    let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes(group))]);
    let answer = conn.send(&request, 5).await?;
    let Some(g) = answer.groups.into_iter().next() else {
        bail!("DescribeGroups answered nothing for group `{group}`");
    };
    check_code(
        g.error_code,
        g.error_message.as_ref(),
        &format!("group `{group}`"),
    )?;
    println!("Group: {group}");
    println!("State: {}", g.group_state);
    if !g.protocol_type.is_empty() {
        let line = format!("Protocol: {} {}", g.protocol_type, g.protocol_data);
        println!("{}", line.trim_end());
    }
    println!("Members: {}", g.members.len());
    // (topic, partition) -> (member id, host, client id)
    let mut owner: BTreeMap<(String, i32), (String, String, String)> = BTreeMap::new();
    let consumer = g.protocol_type.as_str() == "consumer";
    for m in &g.members {
        let assigned = if consumer {
            decode_assignment(m.member_assignment.clone()).unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        let text: Vec<String> = assigned
            .iter()
            .map(|(t, ps)| {
                let ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
                format!("{t}:{}", ps.join(","))
            })
            .collect();
        println!(
            "  {} client-id={} host={} assignment={}",
            m.member_id,
            m.client_id,
            m.client_host,
            if text.is_empty() {
                "-".to_string()
            } else {
                text.join(" ")
            }
        );
        for (t, ps) in assigned {
            for p in ps {
                owner.insert(
                    (t.clone(), p),
                    (
                        m.member_id.to_string(),
                        m.client_host.to_string(),
                        m.client_id.to_string(),
                    ),
                );
            }
        }
    }
    offsets_table(cluster, &mut conn, group, owner).await
}

/// The committed offset, log end offset and lag of every partition the group committed
/// or owns, with its owner: (topic, partition) -> (member id, host, client id).
async fn offsets_table(
    cluster: &mut Cluster,
    conn: &mut Connection,
    group: &str,
    owner: BTreeMap<(String, i32), (String, String, String)>,
) -> Result<()> {
    let committed = committed_offsets(conn, group, None).await?;
    let keys: BTreeSet<(String, i32)> = committed.keys().chain(owner.keys()).cloned().collect();
    if keys.is_empty() {
        println!("Offsets: (none committed)");
        return Ok(());
    }
    let topics: BTreeSet<String> = keys.iter().map(|(t, _)| t.clone()).collect();
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for t in topics {
        let Ok(info) = cluster.topic(&t).await else {
            continue; // deleted since the commit
        };
        let parts: Vec<i32> = keys
            .iter()
            .filter(|(n, p)| *n == t && info.partitions.iter().any(|i| i.partition == *p))
            .map(|(_, p)| *p)
            .collect();
        for (p, (o, _)) in cluster.list_offsets(&info, &parts, LATEST, false).await? {
            ends.insert((t.clone(), p), o);
        }
    }
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let current = committed.get(k);
            let end = ends.get(k);
            let lag = match (current, end) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => dash(),
            };
            let (member, host, client) = owner
                .get(k)
                .cloned()
                .unwrap_or_else(|| (dash(), dash(), dash()));
            vec![
                k.0.clone(),
                k.1.to_string(),
                current.map_or_else(dash, |c| c.to_string()),
                end.map_or_else(dash, |e| e.to_string()),
                lag,
                member,
                host,
                client,
            ]
        })
        .collect();
    println!();
    print!(
        "{}",
        table(
            &[
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "CONSUMER-ID",
                "HOST",
                "CLIENT-ID"
            ],
            &rows
        )
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_protocol_round_trips() {
        let topics = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            decode_subscription(encode_subscription(&topics).unwrap()).unwrap(),
            topics
        );
        let mut assigned = BTreeMap::new();
        assigned.insert("a".to_string(), vec![0, 2]);
        assigned.insert("b".to_string(), vec![1]);
        assert_eq!(
            decode_assignment(encode_assignment(&assigned).unwrap()).unwrap(),
            assigned
        );
        assert!(decode_assignment(Bytes::new()).unwrap().is_empty());
    }
}
