//! `sluice consume TOPIC --share-group G`: consumes as a member of share group G
//! (KIP-932) over the real protocol: ShareGroupHeartbeat to join and keep the
//! assignment, ShareFetch in a share session per partition leader, and an
//! acknowledgement of every record delivered (ACCEPT, or RELEASE / REJECT with
//! `--release` / `--reject`), piggy-backed on the next ShareFetch and sent with
//! ShareAcknowledge when the command stops. Only the records the broker acquired for
//! this member are printed (a fetched batch may hold others). Records acquired past
//! `--max-messages` are released, so they go to another member at once.
//!
//! It owns nothing else: printing is `consume.rs`'s [`Printer`]. Never commits
//! offsets and never writes to a topic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatchA,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch as AckBatchF, FetchPartition, FetchTopic,
};
use kafka_protocol::messages::{
    GroupId, ShareAcknowledgeRequest, ShareFetchRequest, ShareGroupHeartbeatRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{check_code, Connection};
use super::cluster::{Cluster, TopicInfo};
use super::consume::{decode_partition, ConsumeArgs, Printer};
use super::output::Progress;

/// Kafka's AcknowledgeType ids.
const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;
const REJECT: i8 = 3;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A share group member of one topic.
struct Member {
    group: String,
    member_id: String,
    epoch: i32,
    interval: Duration,
    next_heartbeat: Instant,
    assigned: Vec<i32>,
}

impl Member {
    async fn heartbeat(&mut self, conn: &mut Connection, topic: &TopicInfo) -> Result<()> {
        let mut r = ShareGroupHeartbeatRequest::default();
        r.group_id = GroupId(sb(&self.group));
        r.member_id = sb(&self.member_id);
        r.member_epoch = self.epoch;
        if self.epoch == 0 {
            r.subscribed_topic_names = Some(vec![TopicName(sb(&topic.name))]);
        }
        let a = conn.send(&r, 1).await?;
        check_code(
            a.error_code,
            a.error_message.as_ref(),
            &format!("share group `{}` heartbeat", self.group),
        )?;
        self.epoch = a.member_epoch;
        self.interval = Duration::from_millis(a.heartbeat_interval_ms.clamp(100, 60_000) as u64);
        self.next_heartbeat = Instant::now() + self.interval;
        if let Some(assignment) = a.assignment {
            self.assigned = assignment
                .topic_partitions
                .iter()
                .filter(|t| t.topic_id == topic.topic_id)
                .flat_map(|t| t.partitions.iter().copied())
                .collect();
            self.assigned.sort_unstable();
        }
        Ok(())
    }

    async fn leave(&mut self, conn: &mut Connection) -> Result<()> {
        let mut r = ShareGroupHeartbeatRequest::default();
        r.group_id = GroupId(sb(&self.group));
        r.member_id = sb(&self.member_id);
        r.member_epoch = -1;
        let a = conn.send(&r, 1).await?;
        check_code(
            a.error_code,
            a.error_message.as_ref(),
            "leaving the share group",
        )
    }
}

/// Acknowledgements not yet sent: partition -> (first, last, type) runs.
type Pending = BTreeMap<i32, Vec<(i64, i64, i8)>>;

fn add_ack(pending: &mut Pending, partition: i32, offset: i64, ty: i8) {
    let runs = pending.entry(partition).or_default();
    match runs.last_mut() {
        Some(r) if r.1 + 1 == offset && r.2 == ty => r.1 = offset,
        _ => runs.push((offset, offset, ty)),
    }
}

pub async fn run(args: &ConsumeArgs, group: &str) -> Result<()> {
    let ack_type = match (args.release, args.reject) {
        (true, true) => bail!("--release and --reject exclude each other"),
        (true, false) => RELEASE,
        (false, true) => REJECT,
        (false, false) => ACCEPT,
    };
    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    let topic = cluster.topic(&args.topic).await?;
    let (_, addr) = cluster.coordinator(group).await?;
    let mut coordinator = Connection::connect(&addr).await?;
    let mut member = Member {
        group: group.to_string(),
        member_id: uuid::Uuid::new_v4().to_string(),
        epoch: 0,
        interval: Duration::from_secs(5),
        next_heartbeat: Instant::now(),
        assigned: Vec::new(),
    };
    member.heartbeat(&mut coordinator, &topic).await?;
    // One share session per leader: node -> next session epoch.
    let mut sessions: BTreeMap<i32, i32> = BTreeMap::new();
    let mut pending: Pending = BTreeMap::new();
    let mut printer = Printer::new(args.format == "json", args.key_separator.as_deref());
    let mut progress = Progress::new();
    let mut count = 0u64;
    let mut last_record = Instant::now();
    let outcome: Result<()> = async {
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            if args.max_messages.is_some_and(|n| count >= n) {
                return Ok(());
            }
            if Instant::now() >= member.next_heartbeat {
                member.heartbeat(&mut coordinator, &topic).await?;
            }
            let mut wait = Duration::from_millis(500);
            if let Some(t) = args.timeout_ms {
                let left = Duration::from_millis(t).saturating_sub(last_record.elapsed());
                if left.is_zero() {
                    return Ok(());
                }
                wait = wait.min(left);
            }
            if member.assigned.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut interrupted => return Ok(()),
                }
                continue;
            }
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for p in &member.assigned {
                let leader = topic
                    .partitions
                    .iter()
                    .find(|i| i.partition == *p)
                    .map_or(-1, |i| i.leader);
                by_leader.entry(leader).or_default().push(*p);
            }
            for (leader, parts) in by_leader {
                let epoch = *sessions.entry(leader).or_insert(0);
                let mut t = FetchTopic::default();
                t.topic_id = topic.topic_id;
                t.partitions = parts
                    .iter()
                    .map(|p| {
                        let mut fp = FetchPartition::default();
                        fp.partition_index = *p;
                        if epoch != 0 {
                            fp.acknowledgement_batches = pending
                                .remove(p)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|(f, l, ty)| {
                                    let mut b = AckBatchF::default();
                                    b.first_offset = f;
                                    b.last_offset = l;
                                    b.acknowledge_types = vec![ty];
                                    b
                                })
                                .collect();
                        }
                        fp
                    })
                    .collect();
                let mut r = ShareFetchRequest::default();
                r.group_id = Some(GroupId(sb(group)));
                r.member_id = Some(sb(&member.member_id));
                r.share_session_epoch = epoch;
                r.max_wait_ms = wait.as_millis() as i32;
                r.min_bytes = 1;
                r.max_bytes = 8 << 20;
                r.max_records = 500;
                r.batch_size = 500;
                r.topics = vec![t];
                let conn = cluster.node(leader).await?;
                let a = tokio::select! {
                    a = conn.send(&r, 1) => a?,
                    _ = &mut interrupted => return Ok(()),
                };
                check_code(a.error_code, a.error_message.as_ref(), "ShareFetch")?;
                sessions.insert(leader, if epoch == i32::MAX { 1 } else { epoch + 1 });
                for t in a.responses {
                    for pd in t.partitions {
                        let p = pd.partition_index;
                        check_code(
                            pd.error_code,
                            pd.error_message.as_ref(),
                            &format!("{}-{p}", topic.name),
                        )?;
                        check_code(
                            pd.acknowledge_error_code,
                            pd.acknowledge_error_message.as_ref(),
                            &format!("acknowledgement of {}-{p}", topic.name),
                        )?;
                        let records = pd.records.unwrap_or_default();
                        let (recs, _) = decode_partition(&records, 0, None)
                            .with_context(|| format!("{}-{p}", topic.name))?;
                        let acquired = |o: i64| {
                            pd.acquired_records
                                .iter()
                                .any(|a| a.first_offset <= o && o <= a.last_offset)
                        };
                        // The request asked for at most 500 records: a range far
                        // beyond that is a broker fault, not something to enumerate.
                        if pd.acquired_records.iter().any(|a| {
                            a.last_offset < a.first_offset
                                || a.last_offset - a.first_offset > 1 << 20
                        }) {
                            bail!(
                                "{}-{p}: the broker answered an impossible acquired range",
                                topic.name
                            );
                        }
                        let mut held: Vec<i64> = pd
                            .acquired_records
                            .iter()
                            .flat_map(|a| a.first_offset..=a.last_offset)
                            .collect();
                        let delivered: std::collections::HashSet<i64> =
                            recs.iter().map(|r| r.offset).collect();
                        held.retain(|o| !delivered.contains(o));
                        for r in recs.iter().filter(|r| acquired(r.offset)) {
                            if args.max_messages.is_some_and(|n| count >= n) {
                                add_ack(&mut pending, p, r.offset, RELEASE);
                                continue;
                            }
                            printer.print(&topic.name, p, r, None)?;
                            count += 1;
                            last_record = Instant::now();
                            add_ack(&mut pending, p, r.offset, ack_type);
                        }
                        // Acquired offsets with no record in the answer (removed by
                        // compaction) are gaps: acknowledged as such.
                        for o in held {
                            add_ack(&mut pending, p, o, 0);
                        }
                        if let Some(runs) = pending.get_mut(&p) {
                            runs.sort_unstable();
                        }
                    }
                }
            }
            printer.flush()?;
            progress.update(|| format!("consumed {count} records from {}", args.topic));
        }
    }
    .await;
    progress.finish();
    let closed = close(&mut cluster, &topic, group, &member, &sessions, pending).await;
    let left = member.leave(&mut coordinator).await;
    outcome.and(closed).and(left)
}

/// Sends what is left to acknowledge and closes every share session (epoch -1).
async fn close(
    cluster: &mut Cluster,
    topic: &TopicInfo,
    group: &str,
    member: &Member,
    sessions: &BTreeMap<i32, i32>,
    mut pending: Pending,
) -> Result<()> {
    for (&leader, &epoch) in sessions {
        if epoch == 0 {
            continue;
        }
        let parts: Vec<i32> = topic
            .partitions
            .iter()
            .filter(|i| i.leader == leader)
            .map(|i| i.partition)
            .collect();
        let mut t = AcknowledgeTopic::default();
        t.topic_id = topic.topic_id;
        for p in parts {
            let Some(runs) = pending.remove(&p) else {
                continue;
            };
            let mut ap = AcknowledgePartition::default();
            ap.partition_index = p;
            ap.acknowledgement_batches = runs
                .into_iter()
                .map(|(f, l, ty)| {
                    let mut b = AckBatchA::default();
                    b.first_offset = f;
                    b.last_offset = l;
                    b.acknowledge_types = vec![ty];
                    b
                })
                .collect();
            t.partitions.push(ap);
        }
        let mut r = ShareAcknowledgeRequest::default();
        r.group_id = Some(GroupId(sb(group)));
        r.member_id = Some(sb(&member.member_id));
        r.share_session_epoch = -1;
        if !t.partitions.is_empty() {
            r.topics = vec![t];
        }
        let conn = cluster.node(leader).await?;
        let a = conn.send(&r, 1).await?;
        check_code(a.error_code, a.error_message.as_ref(), "ShareAcknowledge")?;
        for t in &a.responses {
            for p in &t.partitions {
                check_code(
                    p.error_code,
                    p.error_message.as_ref(),
                    &format!("acknowledgement of {}-{}", topic.name, p.partition_index),
                )?;
            }
        }
    }
    Ok(())
}
