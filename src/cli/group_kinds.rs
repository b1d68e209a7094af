//! `sluice group describe` for the group kinds beyond classic groups: consumer groups
//! of KIP-848 (ConsumerGroupDescribe: members, member epochs, current and target
//! assignments) and share groups of KIP-932 (ShareGroupDescribe for members, member
//! epochs and assignments; DescribeShareGroupOffsets for each share-partition's start
//! offset, with the log end offset and the records between them still to deliver).
//!
//! Which kind a group is comes from ListGroups v5's group type. Read-only: it never
//! joins a group. The in-flight state of single records (acquired, delivery counts) is
//! not in any Kafka API answer: `share_in_flight.rs` reads it from the admin HTTP side.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, DescribeShareGroupOffsetsRequest, GroupId, ListGroupsRequest,
    ShareGroupDescribeRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{check_code, Connection};
use super::cluster::{Cluster, LATEST};
use super::output::table;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// The group's type as ListGroups v5 names it (`classic`, `consumer`, `share`), or
/// `None` when the broker does not list it (unknown, or a broker before v5).
pub async fn group_type(conn: &mut Connection, group: &str) -> Result<Option<String>> {
    let Ok(version) = conn.version::<ListGroupsRequest>(5) else {
        return Ok(None);
    };
    if version < 5 {
        return Ok(None);
    }
    let answer = conn
        .send_raw(&ListGroupsRequest::default(), version)
        .await?;
    check_code(answer.error_code, None, "ListGroups")?;
    Ok(answer
        .groups
        .into_iter()
        .find(|g| g.group_id.as_str() == group)
        .map(|g| g.group_type.to_string()))
}

fn partitions_text(assigned: &BTreeMap<String, Vec<i32>>) -> String {
    if assigned.is_empty() {
        return "-".to_string();
    }
    assigned
        .iter()
        .map(|(t, ps)| {
            let ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
            format!("{t}:{}", ps.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints a KIP-848 consumer group's members; returns (topic, partition) -> owner
/// (member id, host, client id) for the offsets table.
pub async fn describe_consumer(
    conn: &mut Connection,
    group: &str,
) -> Result<BTreeMap<(String, i32), (String, String, String)>> {
    let request = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(sb(group))]);
    let answer = conn.send(&request, 1).await?;
    let Some(g) = answer.groups.into_iter().next() else {
        bail!("ConsumerGroupDescribe answered nothing for group `{group}`");
    };
    check_code(
        g.error_code,
        g.error_message.as_ref(),
        &format!("group `{group}`"),
    )?;
    println!("Group: {group}");
    println!("Type: consumer");
    println!("State: {}", g.group_state);
    println!(
        "Group epoch: {}  Assignment epoch: {}  Assignor: {}",
        g.group_epoch, g.assignment_epoch, g.assignor_name
    );
    println!("Members: {}", g.members.len());
    let mut owner = BTreeMap::new();
    for m in &g.members {
        let named = |tps: &[kafka_protocol::messages::consumer_group_describe_response::TopicPartitions]| {
            let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for tp in tps {
                out.entry(tp.topic_name.to_string())
                    .or_default()
                    .extend(&tp.partitions);
            }
            out
        };
        let current = named(&m.assignment.topic_partitions);
        let target = named(&m.target_assignment.topic_partitions);
        println!(
            "  {} epoch={} client-id={} host={} assignment={} target={}",
            m.member_id,
            m.member_epoch,
            m.client_id,
            m.client_host,
            partitions_text(&current),
            partitions_text(&target)
        );
        for (t, ps) in current {
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
    Ok(owner)
}

/// Prints a share group: members with their epochs and assignments, then each
/// share-partition's start offset, log end offset and the records between them.
pub async fn describe_share(
    cluster: &mut Cluster,
    conn: &mut Connection,
    group: &str,
) -> Result<()> {
    let request = ShareGroupDescribeRequest::default().with_group_ids(vec![GroupId(sb(group))]);
    let answer = conn.send(&request, 1).await?;
    let Some(g) = answer.groups.into_iter().next() else {
        bail!("ShareGroupDescribe answered nothing for group `{group}`");
    };
    check_code(
        g.error_code,
        g.error_message.as_ref(),
        &format!("share group `{group}`"),
    )?;
    println!("Group: {group}");
    println!("Type: share");
    println!("State: {}", g.group_state);
    println!(
        "Group epoch: {}  Assignment epoch: {}  Assignor: {}",
        g.group_epoch, g.assignment_epoch, g.assignor_name
    );
    println!("Members: {}", g.members.len());
    for m in &g.members {
        let mut assigned: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for tp in &m.assignment.topic_partitions {
            assigned
                .entry(tp.topic_name.to_string())
                .or_default()
                .extend(&tp.partitions);
        }
        println!(
            "  {} epoch={} client-id={} host={} assignment={}",
            m.member_id,
            m.member_epoch,
            m.client_id,
            m.client_host,
            partitions_text(&assigned)
        );
    }
    let mut g_req = DescribeShareGroupOffsetsRequestGroup::default();
    g_req.group_id = GroupId(sb(group));
    g_req.topics = None;
    let request = DescribeShareGroupOffsetsRequest::default().with_groups(vec![g_req]);
    let answer = conn.send(&request, 0).await?;
    let mut starts: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for g in answer.groups {
        check_code(
            g.error_code,
            g.error_message.as_ref(),
            &format!("share group `{group}` offsets"),
        )?;
        for t in g.topics {
            for p in t.partitions {
                if p.error_code == 0 && p.start_offset >= 0 {
                    starts.insert(
                        (t.topic_name.to_string(), p.partition_index),
                        p.start_offset,
                    );
                }
            }
        }
    }
    if starts.is_empty() {
        println!("Share-partitions: (none started)");
        return Ok(());
    }
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let topics: Vec<String> = starts.keys().map(|(t, _)| t.clone()).collect();
    for t in topics {
        if ends.keys().any(|(n, _)| *n == t) {
            continue;
        }
        let Ok(info) = cluster.topic(&t).await else {
            continue;
        };
        let parts: Vec<i32> = starts
            .keys()
            .filter(|(n, _)| *n == t)
            .map(|(_, p)| *p)
            .collect();
        for (p, (o, _)) in cluster.list_offsets(&info, &parts, LATEST, false).await? {
            ends.insert((t.clone(), p), o);
        }
    }
    let rows: Vec<Vec<String>> = starts
        .iter()
        .map(|(k, start)| {
            let end = ends.get(k);
            vec![
                k.0.clone(),
                k.1.to_string(),
                start.to_string(),
                end.map_or_else(|| "-".to_string(), |e| e.to_string()),
                end.map_or_else(|| "-".to_string(), |e| (e - start).max(0).to_string()),
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
                "START-OFFSET",
                "LOG-END-OFFSET",
                "LAG"
            ],
            &rows
        )
    );
    Ok(())
}
