//! `sluice mirror --from A --to B --topics REGEX [--groups REGEX] [--once]`: copies
//! topics from one Kafka-protocol cluster to another and translates the committed
//! offsets of consumer groups, so applications can move from A to B.
//!
//! Topics: every non-internal topic of A whose whole name matches `--topics` is created
//! on B with A's partition count and the configs set explicitly on it (DescribeConfigs
//! source TOPIC_CONFIG), grown with CreatePartitions if B has fewer partitions. Config
//! changes on A after that are not followed. Records keep their partition, key, value,
//! headers and timestamp (as CreateTime).
//!
//! Exactly once, resumable: one transactional producer on B (`txn_producer.rs`) whose
//! id and progress group are `sluice-mirror-...` (from A, B and the topic pattern, or
//! `--id`). Each transaction commits, with the records, the next source offset of
//! every partition it wrote as that group's offset on B, and as its metadata `dst=<n>`,
//! the offset on B after the last record written. A mirror killed at any point (or that
//! lost A or B) starts over from those positions: InitProducerId aborts the open
//! transaction, and nothing is copied twice. On a lost connection it reconnects by
//! itself (unless `--once`).
//!
//! Offsets: a source offset maps to a destination offset through anchors (S, D) -
//! "records of A before S are on B before D, those from S on are at D or later" - one
//! per record copied by this run, and, kept on B in the topic `<id>.offset-syncs`
//! (written in the same transactions as the records, read back at start, like
//! MirrorMaker 2's offset-syncs topic), one per batch and one per transaction end. A group's committed offset c is translated
//! to the D of the greatest anchor with S <= c, so a consumer moved to B may re-read a
//! few records but never skips one (MirrorMaker 2's rule). Offsets are copied with a
//! plain OffsetCommit, which Kafka refuses while the group has members on B: a group is
//! synced while its consumers still run on A. An offset ahead of what was copied waits
//! for the copy. Groups are read and synced every `--poll-ms`.
//!
//! It owns the topic creation on B, the copy loop and the offset translation. It must
//! never write to A, never write a record to B outside a transaction that also commits
//! its source position, and never commit a group offset on B that is past records the
//! group has not consumed on A.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use clap::Args;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DescribeConfigsRequest, GroupId,
    ListGroupsRequest, OffsetCommitRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use regex::Regex;

use super::client::{check_code, error_name};
use super::cluster::{Cluster, TopicInfo, LATEST};
use super::group::committed_offsets;
use super::import::ensure_topic;
use super::output::now_ms;
use super::range_reader::{From, RangeReader, To};
use super::txn_producer::{committed_position, copy_id, OutRecord, TxnProducer};

/// Per-record anchors kept per partition (older ones are dropped; the coarser ones
/// from commits remain).
const MAX_ANCHORS: usize = 100_000;

#[derive(Args, Debug)]
pub struct MirrorArgs {
    /// Source cluster (bootstrap HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub from: String,
    /// Destination cluster (bootstrap HOST:PORT).
    #[arg(long = "to", value_name = "HOST:PORT")]
    pub to_cluster: String,
    /// Client security settings, for both clusters.
    #[command(flatten)]
    pub security: super::security::SecurityArgs,
    /// Topics to copy: a regular expression the whole topic name must match.
    #[arg(long, value_name = "REGEX")]
    pub topics: String,
    /// Consumer groups whose committed offsets are translated (whole-name regex).
    #[arg(long, value_name = "REGEX")]
    pub groups: Option<String>,
    /// Copy what is there now, sync the groups once, and exit.
    #[arg(long)]
    pub once: bool,
    /// Names this mirror's transactional id and progress group [default: from the
    /// clusters and the topic pattern].
    #[arg(long)]
    pub id: Option<String>,
    /// How long to wait when there was nothing new (ms).
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub poll_ms: u64,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Source -> destination offset anchors of one partition.
#[derive(Default, Debug)]
pub struct Anchors {
    points: BTreeMap<i64, i64>,
}

impl Anchors {
    pub fn add(&mut self, src: i64, dst: i64) {
        self.points.insert(src, dst);
        while self.points.len() > MAX_ANCHORS {
            self.points.pop_first();
        }
    }

    /// The destination offset for source offset `c`, if an anchor at or below it is
    /// known.
    pub fn translate(&self, c: i64) -> Option<i64> {
        self.points.range(..=c).next_back().map(|(_, d)| *d)
    }

    /// The source offset after everything copied (the highest anchor).
    pub fn copied_to(&self) -> Option<i64> {
        self.points.keys().next_back().copied()
    }
}

/// What outlives a reconnect.
#[derive(Default)]
struct State {
    anchors: BTreeMap<(String, i32), Anchors>,
    /// Next source offset per partition as far as this process read (past markers and
    /// aborted records that need no commit).
    positions: BTreeMap<(String, i32), i64>,
    /// (group, topic, partition) -> destination offset last committed on B.
    synced: BTreeMap<(String, String, i32), i64>,
    mirrored: BTreeSet<String>,
    groups_synced: u64,
}

pub async fn run(args: MirrorArgs) -> Result<()> {
    let topics = Regex::new(&format!("^(?:{})$", args.topics)).context("--topics")?;
    let groups = args
        .groups
        .as_ref()
        .map(|g| Regex::new(&format!("^(?:{g})$")))
        .transpose()
        .context("--groups")?;
    let id = match &args.id {
        Some(id) => format!("sluice-mirror-{id}"),
        None => copy_id(
            "sluice-mirror",
            "",
            &format!("{}:{}:{}", args.from, args.to_cluster, args.topics),
        ),
    };
    let mut state = State::default();
    loop {
        match session(&args, &topics, groups.as_ref(), &id, &mut state).await {
            Ok(()) => return Ok(()),
            Err(e) if args.once => return Err(e),
            Err(e) => {
                eprintln!("sluice: mirror {id}: {e:#}; reconnecting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn session(
    args: &MirrorArgs,
    topics: &Regex,
    groups: Option<&Regex>,
    id: &str,
    state: &mut State,
) -> Result<()> {
    let mut src = Cluster::connect(&args.from)
        .await
        .context("source cluster")?;
    let mut dst = Cluster::connect(&args.to_cluster)
        .await
        .context("destination cluster")?;
    let mut producer = TxnProducer::init(&mut dst, id, 60_000).await?;
    let syncs = ensure_topic(&mut dst, &format!("{id}.offset-syncs"), 1).await?;
    load_syncs(&mut dst, syncs.clone(), state).await?;
    let mut ready: BTreeSet<String> = BTreeSet::new();
    let mut total = 0u64;
    loop {
        let selected: Vec<TopicInfo> = src
            .topics(None)
            .await?
            .into_iter()
            .filter(|t| !t.internal && topics.is_match(&t.name))
            .collect();
        let mut copied = 0u64;
        for t in &selected {
            if !ready.contains(&t.name) {
                mirror_topic(&mut src, &mut dst, t).await?;
                ready.insert(t.name.clone());
                if state.mirrored.insert(t.name.clone()) {
                    eprintln!("mirroring {} ({} partitions)", t.name, t.partitions.len());
                }
            }
            let dt = dst.topic(&t.name).await?;
            copied += copy_topic(
                &mut src,
                &mut dst,
                &mut producer,
                id,
                t.clone(),
                (&dt, &syncs),
                state,
            )
            .await
            .with_context(|| format!("copying {}", t.name))?;
        }
        total += copied;
        if let Some(g) = groups {
            let names: BTreeSet<&str> = selected.iter().map(|t| t.name.as_str()).collect();
            sync_groups(&mut src, &mut dst, g, &names, state).await?;
        }
        if args.once {
            eprintln!(
                "mirrored {total} records of {} topics; {} group offsets synced (mirror {id})",
                selected.len(),
                state.groups_synced
            );
            return Ok(());
        }
        if copied == 0 {
            tokio::time::sleep(Duration::from_millis(args.poll_ms)).await;
        }
    }
}

/// Creates `t` on the destination with its partition count and explicit configs, or
/// grows it to that partition count.
async fn mirror_topic(src: &mut Cluster, dst: &mut Cluster, t: &TopicInfo) -> Result<()> {
    let request =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(sb(&t.name))
            .with_configuration_keys(None)]);
    let answer = src.any().send(&request, 4).await?;
    let mut configs = Vec::new();
    for r in &answer.results {
        check_code(
            r.error_code,
            r.error_message.as_ref(),
            &format!("configs of `{}`", t.name),
        )?;
        for c in &r.configs {
            // Source 1 is TOPIC_CONFIG: set on the topic itself.
            if c.config_source == 1 && !c.is_sensitive {
                configs.push(
                    CreatableTopicConfig::default()
                        .with_name(c.name.clone())
                        .with_value(c.value.clone()),
                );
            }
        }
    }
    let count = t.partitions.len() as i32;
    let meta = dst.metadata(Some(std::slice::from_ref(&t.name))).await?;
    let existing = meta.topics.iter().find(|x| {
        ResponseError::try_from_code(x.error_code) != Some(ResponseError::UnknownTopicOrPartition)
    });
    match existing {
        None => {
            let request = CreateTopicsRequest::default()
                .with_timeout_ms(30_000)
                .with_topics(vec![CreatableTopic::default()
                    .with_name(TopicName(sb(&t.name)))
                    .with_num_partitions(count)
                    .with_replication_factor(-1)
                    .with_configs(configs)]);
            let answer = dst.any().send(&request, 7).await?;
            for r in &answer.topics {
                if ResponseError::try_from_code(r.error_code)
                    != Some(ResponseError::TopicAlreadyExists)
                {
                    check_code(
                        r.error_code,
                        r.error_message.as_ref(),
                        &format!("creating `{}` on the destination", t.name),
                    )?;
                }
            }
        }
        Some(x) if (x.partitions.len() as i32) < count => {
            let request = CreatePartitionsRequest::default()
                .with_timeout_ms(30_000)
                .with_topics(vec![CreatePartitionsTopic::default()
                    .with_name(TopicName(sb(&t.name)))
                    .with_count(count)
                    .with_assignments(None)]);
            let answer = dst.any().send(&request, 3).await?;
            for r in &answer.results {
                check_code(
                    r.error_code,
                    r.error_message.as_ref(),
                    &format!("growing `{}` on the destination", t.name),
                )?;
            }
        }
        Some(_) => {}
    }
    for _ in 0..50 {
        if let Ok(d) = dst.topic(&t.name).await {
            if d.partitions.len() as i32 >= count && d.partitions.iter().all(|p| p.leader >= 0) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow!(
        "topic `{}` did not appear on the destination",
        t.name
    ))
}

/// Copies what `t` holds beyond the committed positions; returns the records copied.
async fn copy_topic(
    src: &mut Cluster,
    dst: &mut Cluster,
    producer: &mut TxnProducer,
    group: &str,
    t: TopicInfo,
    (dt, syncs): (&TopicInfo, &TopicInfo),
    state: &mut State,
) -> Result<u64> {
    let name = t.name.clone();
    let parts: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
    let committed = committed_position(dst, group, &name, &parts).await?;
    let mut reader = RangeReader::new(src, t, None, From::Beginning, To::End).await?;
    let fresh: Vec<i32> = parts
        .iter()
        .copied()
        .filter(|p| !committed.contains_key(p) && !state.anchors.contains_key(&(name.clone(), *p)))
        .collect();
    if !fresh.is_empty() {
        // Nothing copied yet: the first record read lands at the destination's end.
        let ends = dst.list_offsets(dt, &fresh, LATEST, true).await?;
        for p in &fresh {
            let start = reader.positions()[p];
            state
                .anchors
                .entry((name.clone(), *p))
                .or_default()
                .add(start, ends[p].0);
        }
    }
    for (p, (offset, metadata)) in &committed {
        reader.skip_to(*p, *offset);
        let anchors = state.anchors.entry((name.clone(), *p)).or_default();
        if let Some(d) = metadata.as_deref().and_then(|m| m.strip_prefix("dst=")) {
            if let Ok(d) = d.parse::<i64>() {
                if anchors.copied_to().is_none_or(|c| c < *offset) {
                    anchors.add(*offset, d);
                }
            }
        }
    }
    for ((t, p), pos) in &state.positions {
        if *t == name {
            reader.skip_to(*p, *pos);
        }
    }
    let mut copied = 0u64;
    while !reader.done() {
        let records = reader.next(src, None).await?;
        if records.is_empty() {
            // Only markers or aborted records were passed: no commit needed for them.
            for (p, pos) in reader.positions() {
                state.positions.insert((name.clone(), *p), *pos);
            }
            continue;
        }
        let mut out: BTreeMap<i32, Vec<OutRecord>> = BTreeMap::new();
        let mut src_offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for (p, r) in records {
            src_offsets.entry(p).or_default().push(r.offset);
            out.entry(p).or_default().push(OutRecord {
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp: r.timestamp,
            });
        }
        let written = producer.send_with_offsets(dst, dt, out).await?;
        let mut offsets = BTreeMap::new();
        let mut new_anchors = Vec::new();
        let mut sync_records = Vec::new();
        for (p, batches) in &written {
            let srcs = &src_offsets[p];
            let mut i = 0;
            let mut next_dst = None;
            for (base, n) in batches {
                if *base >= 0 {
                    sync_records.push(sync_record(&name, *p, srcs[i], *base));
                }
                for k in 0..*n {
                    if *base >= 0 {
                        new_anchors.push((*p, srcs[i], base + k as i64));
                        next_dst = Some(base + k as i64 + 1);
                    }
                    i += 1;
                }
            }
            let position = reader.positions()[p];
            let meta = next_dst.map(|d| format!("dst={d}")).unwrap_or_default();
            offsets.insert((name.clone(), *p), (position, meta.clone()));
            if let Some(d) = next_dst {
                new_anchors.push((*p, position, d));
                sync_records.push(sync_record(&name, *p, position, d));
            }
            copied += srcs.len() as u64;
        }
        producer
            .send(dst, syncs, BTreeMap::from([(0, sync_records)]))
            .await?;
        producer.commit_with_metadata(dst, group, &offsets).await?;
        for (p, pos) in reader.positions() {
            state.positions.insert((name.clone(), *p), *pos);
        }
        // Only anchors of committed records: an aborted attempt's offsets mean nothing.
        for (p, s, d) in new_anchors {
            state
                .anchors
                .entry((name.clone(), p))
                .or_default()
                .add(s, d);
        }
    }
    Ok(copied)
}

/// One anchor as a record of the offset-syncs topic: key `topic/partition`, value
/// `source destination` (decimal).
fn sync_record(topic: &str, p: i32, src: i64, dst: i64) -> OutRecord {
    OutRecord {
        key: Some(Bytes::from(format!("{topic}/{p}"))),
        value: Some(Bytes::from(format!("{src} {dst}"))),
        headers: Default::default(),
        timestamp: now_ms(),
    }
}

/// Reads the committed anchors of the offset-syncs topic back into `state`.
async fn load_syncs(dst: &mut Cluster, syncs: TopicInfo, state: &mut State) -> Result<()> {
    let mut reader = RangeReader::new(dst, syncs, None, From::Beginning, To::End).await?;
    while !reader.done() {
        for (_, r) in reader.next(dst, None).await? {
            let parsed = (|| {
                let key = std::str::from_utf8(r.key.as_deref()?).ok()?;
                let (topic, p) = key.rsplit_once('/')?;
                let value = std::str::from_utf8(r.value.as_deref()?).ok()?;
                let (s, d) = value.split_once(' ')?;
                Some((
                    topic.to_string(),
                    p.parse().ok()?,
                    s.parse().ok()?,
                    d.parse().ok()?,
                ))
            })();
            match parsed {
                Some((topic, p, s, d)) => state.anchors.entry((topic, p)).or_default().add(s, d),
                None => tracing::warn!(offset = r.offset, "unreadable offset-sync record"),
            }
        }
    }
    Ok(())
}

/// Translates the committed offsets of A's groups matching `pattern` for the mirrored
/// topics, and commits the changed ones on B.
async fn sync_groups(
    src: &mut Cluster,
    dst: &mut Cluster,
    pattern: &Regex,
    topics: &BTreeSet<&str>,
    state: &mut State,
) -> Result<()> {
    // Each broker lists the groups it coordinates (one broker for Sluice).
    let meta = src.metadata(Some(&[])).await?;
    let mut nodes: Vec<i32> = meta.brokers.iter().map(|b| b.node_id.0).collect();
    if nodes.is_empty() {
        nodes.push(-1);
    }
    let mut listed = Vec::new();
    for node in nodes {
        let answer = src
            .node(node)
            .await?
            .send(&ListGroupsRequest::default(), 4)
            .await?;
        check_code(answer.error_code, None, "ListGroups on the source")?;
        listed.extend(answer.groups);
    }
    for g in listed {
        let group = g.group_id.0.to_string();
        if !pattern.is_match(&group)
            || !(g.protocol_type.is_empty() || g.protocol_type.as_str() == "consumer")
        {
            continue;
        }
        let (node, _) = src.find_coordinator(0, &group).await?;
        let offsets = committed_offsets(src.node(node).await?, &group, None).await?;
        let mut by_topic: BTreeMap<String, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        let mut changed = Vec::new();
        for ((topic, p), c) in offsets {
            if !topics.contains(topic.as_str()) {
                continue;
            }
            let Some(anchors) = state.anchors.get(&(topic.clone(), p)) else {
                continue;
            };
            // Ahead of the copy: wait until the records before c are on B.
            if anchors.copied_to().is_none_or(|to| c > to) {
                continue;
            }
            let Some(d) = anchors.translate(c) else {
                continue;
            };
            let key = (group.clone(), topic.clone(), p);
            if state.synced.get(&key) == Some(&d) {
                continue;
            }
            by_topic.entry(topic.clone()).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(p)
                    .with_committed_offset(d)
                    .with_committed_leader_epoch(-1),
            );
            changed.push((key, d));
        }
        if changed.is_empty() {
            continue;
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(sb(&group)))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(StrBytes::default())
            .with_retention_time_ms(-1)
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(t, parts)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(TopicName(sb(&t)))
                            .with_partitions(parts)
                    })
                    .collect(),
            );
        let (node, _) = dst.find_coordinator(0, &group).await?;
        let answer = dst.node(node).await?.send(&request, 8).await?;
        let mut refused = None;
        for t in &answer.topics {
            for p in &t.partitions {
                if let Some(e) = ResponseError::try_from_code(p.error_code) {
                    refused = Some(e);
                }
            }
        }
        match refused {
            None => {
                state.groups_synced += changed.len() as u64;
                state.synced.extend(changed);
            }
            // The group is active on B (its consumers moved): B's offsets are theirs.
            Some(e) => tracing::info!(group, error = %error_name(e), "group offsets not synced"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_never_skips_a_record() {
        let mut a = Anchors::default();
        assert_eq!(a.translate(5), None);
        // Source records 10, 11, 13 (12 is a marker) at destination 0, 1, 2; the commit
        // after them: source 14 -> destination 3.
        a.add(10, 0);
        a.add(11, 1);
        a.add(13, 2);
        a.add(14, 3);
        assert_eq!(a.translate(9), None);
        assert_eq!(a.translate(10), Some(0));
        assert_eq!(a.translate(11), Some(1));
        // Consumed up to the marker: resume at record 13's copy or before it.
        assert_eq!(a.translate(12), Some(1));
        assert_eq!(a.translate(14), Some(3));
        assert_eq!(a.copied_to(), Some(14));
    }
}
