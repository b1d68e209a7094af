//! Consumer groups at scale, as a load generator (issue 15, item 6): `--groups` KIP-848
//! consumer groups of `--members` members each, every member heartbeating at the interval
//! the broker asks for and committing its assigned partitions' offsets once a second, over
//! `--connections` shared connections. It prints what the broker made of it: commits per
//! second, commit and heartbeat latency percentiles, and every error code by name.
//!
//! Figures only, never a pass/fail check: `scripts/bench-groups-scale.sh` runs it against
//! a fresh release broker with the machine's references. Members speak the consumer
//! protocol (ConsumerGroupHeartbeat v1 with a client-chosen member id, OffsetCommit v9 with
//! the member epoch) because it never blocks a connection the way a classic JoinGroup does,
//! so many members can share one connection as real clients share a process's.
//!
//!     cargo run --release --example groups_load -- --bootstrap 127.0.0.1:9092 \
//!         --groups 1000 --members 10 --seconds 30

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, CreateTopicsRequest, GroupId, OffsetCommitRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice::cli::client::{error_name, Connection};
use sluice::error::ResponseError;

#[derive(Parser)]
struct Args {
    /// The broker (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    #[arg(long, default_value_t = 100)]
    groups: usize,
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// Partitions of the topic every group subscribes to (one per member by default).
    #[arg(long)]
    partitions: Option<i32>,
    #[arg(long, default_value = "groups-load")]
    topic: String,
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Measured time, after the warm-up.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Time for every group to form and settle before anything is measured.
    #[arg(long, default_value_t = 10)]
    warmup_seconds: u64,
}

/// One member's view of its group.
struct Member {
    group: GroupId,
    member_id: StrBytes,
    epoch: i32,
    assigned: Vec<(uuid::Uuid, Vec<i32>)>,
    /// The assignment changed since the last heartbeat: the next one reports it (acks it).
    unacknowledged: bool,
    heartbeat_interval: Duration,
    next_heartbeat: Instant,
    next_commit: Instant,
    committed_offset: i64,
}

#[derive(Default)]
struct Stats {
    commit_us: Vec<u32>,
    heartbeat_us: Vec<u32>,
    commits: u64,
    errors: BTreeMap<String, u64>,
}

impl Stats {
    fn error(&mut self, what: &str, code: i16) {
        let name = ResponseError::try_from_code(code)
            .map(error_name)
            .unwrap_or_else(|| format!("code {code}"));
        *self.errors.entry(format!("{what} {name}")).or_default() += 1;
    }

    fn merge(&mut self, other: Stats) {
        self.commit_us.extend(other.commit_us);
        self.heartbeat_us.extend(other.heartbeat_us);
        self.commits += other.commits;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let partitions = args.partitions.unwrap_or(args.members as i32);
    create_topic(&args.bootstrap, &args.topic, partitions).await?;

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_seconds);
    let end = measure_from + Duration::from_secs(args.seconds);
    let connections = args.connections.max(1);
    let mut slices: Vec<Vec<Member>> = (0..connections).map(|_| Vec::new()).collect();
    for g in 0..args.groups {
        for m in 0..args.members {
            let i = g * args.members + m;
            // Commits spread over the second, as independent clients' would be.
            let phase = Duration::from_micros((i as u64 * 7919) % 1_000_000);
            slices[i % connections].push(Member {
                group: GroupId(s(&format!("load-{g}"))),
                member_id: s(&uuid::Uuid::new_v4().to_string()),
                epoch: 0,
                assigned: Vec::new(),
                unacknowledged: false,
                heartbeat_interval: Duration::from_secs(5),
                next_heartbeat: start,
                next_commit: measure_from.min(start + Duration::from_secs(1)) + phase,
                committed_offset: 0,
            });
        }
    }
    let mut tasks = Vec::new();
    for members in slices {
        let (addr, topic) = (args.bootstrap.clone(), args.topic.clone());
        tasks.push(tokio::spawn(async move {
            run_connection(&addr, &topic, members, measure_from, end).await
        }));
    }
    let mut stats = Stats::default();
    for t in tasks {
        stats.merge(t.await??);
    }

    let members = args.groups * args.members;
    println!(
        "groups {} x {} members ({members} members) on {connections} connections, topic of \
         {partitions} partitions; {} s measured after {} s warm-up",
        args.groups, args.members, args.seconds, args.warmup_seconds
    );
    println!(
        "commits: {} ({:.0}/s, {:.2} per member per second)",
        stats.commits,
        stats.commits as f64 / args.seconds as f64,
        stats.commits as f64 / args.seconds as f64 / members as f64
    );
    println!("commit latency ms: {}", percentiles(&mut stats.commit_us));
    println!(
        "heartbeat latency ms: {}",
        percentiles(&mut stats.heartbeat_us)
    );
    if stats.errors.is_empty() {
        println!("errors: none");
    }
    for (what, n) in &stats.errors {
        println!("errors: {what}: {n}");
    }
    Ok(())
}

async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
    let mut conn = Connection::connect(bootstrap).await?;
    let request = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(topic)))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(30_000);
    let answer = conn.send(&request, 7).await?;
    let code = answer.topics.first().map_or(0, |t| t.error_code);
    if code != 0 && ResponseError::try_from_code(code) != Some(ResponseError::TopicAlreadyExists) {
        bail!("cannot create {topic}: error code {code}");
    }
    Ok(())
}

/// Serves every member of one connection: the next due heartbeat or commit, in time order.
async fn run_connection(
    addr: &str,
    topic: &str,
    mut members: Vec<Member>,
    measure_from: Instant,
    end: Instant,
) -> Result<Stats> {
    let mut stats = Stats::default();
    if members.is_empty() {
        return Ok(stats);
    }
    let mut conn = Connection::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    loop {
        let (i, due, is_heartbeat) = members
            .iter()
            .enumerate()
            .flat_map(|(i, m)| [(i, m.next_heartbeat, true), (i, m.next_commit, false)])
            .min_by_key(|(_, due, _)| *due)
            .expect("members is not empty");
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let measured = Instant::now() >= measure_from;
        let m = &mut members[i];
        if is_heartbeat {
            heartbeat(&mut conn, topic, m, measured, &mut stats).await?;
        } else {
            m.next_commit += Duration::from_secs(1);
            commit(&mut conn, topic, m, measured, &mut stats).await?;
        }
    }
    // Leave, so a rerun against the same broker starts from empty groups.
    for m in &mut members {
        m.epoch = -1;
        heartbeat(&mut conn, topic, m, false, &mut stats).await?;
    }
    Ok(stats)
}

async fn heartbeat(
    conn: &mut Connection,
    topic: &str,
    m: &mut Member,
    measured: bool,
    stats: &mut Stats,
) -> Result<()> {
    let mut request = ConsumerGroupHeartbeatRequest::default();
    request.group_id = m.group.clone();
    request.member_id = m.member_id.clone();
    request.member_epoch = m.epoch;
    // As the clients do: the whole subscription when joining, afterwards only what
    // changed (the owned partitions once a new assignment arrived, which acknowledges
    // it); a full request every time would get the assignment back every time.
    let joining = m.epoch == 0;
    request.rebalance_timeout_ms = if joining { 30_000 } else { -1 };
    request.subscribed_topic_names = joining.then(|| vec![TopicName(s(topic))]);
    request.topic_partitions = (joining || m.unacknowledged).then(|| {
        m.assigned
            .iter()
            .map(|(id, parts)| {
                let mut t = TopicPartitions::default();
                t.topic_id = *id;
                t.partitions = parts.clone();
                t
            })
            .collect()
    });
    m.unacknowledged = false;
    let sent = Instant::now();
    let answer = conn.send(&request, 1).await?;
    if measured {
        stats.heartbeat_us.push(micros(sent));
    }
    m.next_heartbeat = Instant::now() + m.heartbeat_interval;
    if m.epoch < 0 {
        return Ok(());
    }
    if answer.error_code != 0 {
        stats.error("heartbeat", answer.error_code);
        // Fenced or unknown: rejoin as a new member, as a client would.
        m.epoch = 0;
        m.assigned.clear();
        return Ok(());
    }
    m.epoch = answer.member_epoch;
    if answer.heartbeat_interval_ms > 0 {
        m.heartbeat_interval = Duration::from_millis(answer.heartbeat_interval_ms as u64);
    }
    if let Some(assignment) = answer.assignment {
        let assigned: Vec<(uuid::Uuid, Vec<i32>)> = assignment
            .topic_partitions
            .into_iter()
            .map(|t| (t.topic_id, t.partitions))
            .collect();
        if assigned != m.assigned {
            m.assigned = assigned;
            // Acknowledge the new assignment at once rather than at the next interval.
            m.unacknowledged = true;
            m.next_heartbeat = Instant::now();
        }
    }
    Ok(())
}

async fn commit(
    conn: &mut Connection,
    topic: &str,
    m: &mut Member,
    measured: bool,
    stats: &mut Stats,
) -> Result<()> {
    let partitions: Vec<i32> = m.assigned.iter().flat_map(|(_, p)| p.clone()).collect();
    if partitions.is_empty() || m.epoch <= 0 {
        return Ok(());
    }
    m.committed_offset += 1;
    let mut request = OffsetCommitRequest::default();
    request.group_id = m.group.clone();
    request.member_id = m.member_id.clone();
    request.generation_id_or_member_epoch = m.epoch;
    let mut t = OffsetCommitRequestTopic::default();
    t.name = TopicName(s(topic));
    t.partitions = partitions
        .iter()
        .map(|p| {
            let mut c = OffsetCommitRequestPartition::default();
            c.partition_index = *p;
            c.committed_offset = m.committed_offset;
            c
        })
        .collect();
    request.topics = vec![t];
    let sent = Instant::now();
    let answer = conn.send(&request, 9).await?;
    let failed = answer
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.error_code)
        .find(|code| *code != 0);
    if !measured {
        return Ok(());
    }
    match failed {
        None => {
            stats.commits += 1;
            stats.commit_us.push(micros(sent));
        }
        Some(code) => stats.error("commit", code),
    }
    Ok(())
}

fn micros(since: Instant) -> u32 {
    since.elapsed().as_micros().min(u32::MAX as u128) as u32
}

fn percentiles(us: &mut [u32]) -> String {
    if us.is_empty() {
        return "no samples".into();
    }
    us.sort_unstable();
    let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    format!(
        "p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  ({} samples)",
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0),
        us.len()
    )
}
