//! `sluice consume TOPIC`: fetches records and prints them as raw values or JSON lines.
//!
//! It owns the start position (beginning, offset, timestamp via ListOffsets, or end),
//! the fetch loop (one Fetch per leader, long-polled), decoding of v2 batches with
//! `records.rs` (every header kept, repeated keys included), read_committed filtering of aborted
//! transactions, the stop conditions and the output format. Consumer-group membership
//! lives in `consume_group.rs`; this file only asks it for an assignment, committed
//! offsets and whether to rejoin. Share-group consumption is `consume_share.rs`. It must never write to the topic or commit offsets
//! outside a group.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Args;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::FetchRequest;
use kafka_protocol::records::TimestampType;

use super::client::error_name;
use super::cluster::{Cluster, TopicInfo, EARLIEST, LATEST};
use super::consume_group::GroupMember;
use super::output::{json_string, push_bytes_field, Progress};
use super::records::{decode_batch, Record};
use super::schema_decode::{Decoded, SchemaDecoder};
use super::BootstrapArgs;
use crate::log::batch::control_record_type;
use crate::log::batch::ControlType;
use crate::log::{BatchHeader, RECORD_BATCH_OVERHEAD};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// Topic to consume.
    pub topic: String,
    /// Start at the first record still in the log.
    #[arg(long, conflicts_with_all = ["offset", "timestamp"])]
    pub from_beginning: bool,
    /// Start at this offset (in every consumed partition).
    #[arg(short, long, conflicts_with = "timestamp")]
    pub offset: Option<i64>,
    /// Start at the first record whose timestamp is at or after MS (ms since the epoch).
    #[arg(long, value_name = "MS")]
    pub timestamp: Option<i64>,
    /// Consume only this partition [default: all].
    #[arg(short, long, conflicts_with = "group")]
    pub partition: Option<i32>,
    /// Consume as a member of consumer group G: partitions are assigned by the group,
    /// offsets are committed, and the start flags apply only where G has no offset.
    #[arg(short, long, value_name = "G")]
    pub group: Option<String>,
    /// Consume as a member of share group G (KIP-932): records are acquired from the
    /// group and acknowledged, ACCEPT unless --release or --reject (`consume_share.rs`).
    #[arg(long, value_name = "G", conflicts_with_all = [
        "group", "partition", "from_beginning", "offset", "timestamp", "exit_at_end",
        "read_uncommitted", "schema_registry",
    ])]
    pub share_group: Option<String>,
    /// With --share-group: acknowledge each record with RELEASE (delivered again).
    #[arg(long, requires = "share_group")]
    pub release: bool,
    /// With --share-group: acknowledge each record with REJECT (never delivered again).
    #[arg(long, requires = "share_group", conflicts_with = "release")]
    pub reject: bool,
    /// Stop after N records.
    #[arg(short = 'n', long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Stop when no record arrived for MS milliseconds.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Stop once every partition was read to its end (as of that moment).
    #[arg(short = 'e', long)]
    pub exit_at_end: bool,
    /// Output: raw (values, one per line) or json (one object per record).
    #[arg(short, long, default_value = "raw", value_parser = ["raw", "json"])]
    pub format: String,
    /// In raw output, print the key, then SEP, then the value.
    #[arg(short = 'K', long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Also show records of open and aborted transactions (read_uncommitted).
    #[arg(long)]
    pub read_uncommitted: bool,
    /// With --format json: decode values framed by a Confluent serializer (Avro, JSON
    /// Schema, Protobuf) with their schema from this registry (`schema_decode.rs`).
    #[arg(long, value_name = "URL")]
    pub schema_registry: Option<String>,
}

/// Where a partition without a committed offset starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Start {
    Beginning,
    End,
    Offset(i64),
    Timestamp(i64),
}

impl ConsumeArgs {
    fn start(&self) -> Start {
        if self.from_beginning {
            Start::Beginning
        } else if let Some(o) = self.offset {
            Start::Offset(o)
        } else if let Some(t) = self.timestamp {
            Start::Timestamp(t)
        } else {
            Start::End
        }
    }
}

/// Resolves `start` to an offset for each of `partitions`.
pub async fn start_offsets(
    cluster: &mut Cluster,
    topic: &TopicInfo,
    partitions: &[i32],
    start: Start,
    committed: bool,
) -> Result<BTreeMap<i32, i64>> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(match start {
        Start::Offset(o) => partitions.iter().map(|p| (*p, o)).collect(),
        Start::Beginning => pick(
            cluster
                .list_offsets(topic, partitions, EARLIEST, committed)
                .await?,
        ),
        Start::End => pick(
            cluster
                .list_offsets(topic, partitions, LATEST, committed)
                .await?,
        ),
        Start::Timestamp(ts) => {
            let found = cluster
                .list_offsets(topic, partitions, ts, committed)
                .await?;
            let end = cluster
                .list_offsets(topic, partitions, LATEST, committed)
                .await?;
            found
                .into_iter()
                .map(|(p, (o, _))| (p, if o < 0 { end[&p].0 } else { o }))
                .collect()
        }
    })
}

fn pick(m: BTreeMap<i32, (i64, i64)>) -> BTreeMap<i32, i64> {
    m.into_iter().map(|(p, (o, _))| (p, o)).collect()
}

/// Prints records in the chosen format.
pub struct Printer {
    json: bool,
    key_separator: Option<Vec<u8>>,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Printer {
    pub fn new(json: bool, key_separator: Option<&str>) -> Printer {
        Printer {
            json,
            key_separator: key_separator.map(|s| s.as_bytes().to_vec()),
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    pub fn print(
        &mut self,
        topic: &str,
        partition: i32,
        r: &Record,
        decoded: Option<&Decoded>,
    ) -> Result<()> {
        if self.json {
            let line = json_line_with(topic, partition, r, decoded);
            self.out.write_all(line.as_bytes())?;
        } else {
            if let Some(sep) = &self.key_separator {
                self.out.write_all(r.key.as_deref().unwrap_or(b""))?;
                self.out.write_all(sep)?;
            }
            self.out.write_all(r.value.as_deref().unwrap_or(b""))?;
        }
        self.out.write_all(b"\n")?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().context("writing stdout")
    }
}

/// One record as a JSON object (no trailing newline).
pub fn json_line(topic: &str, partition: i32, r: &Record) -> String {
    json_line_with(topic, partition, r, None)
}

/// [`json_line`], with the value `decoded` with its schema when it was: then `value` is
/// the decoded JSON, `value_encoding` the schema's format and `value_schema_id` its id.
pub fn json_line_with(
    topic: &str,
    partition: i32,
    r: &Record,
    decoded: Option<&Decoded>,
) -> String {
    let mut s = String::with_capacity(128);
    let _ = write!(
        s,
        "{{\"topic\":{},\"partition\":{partition},\"offset\":{},\"timestamp\":{},\"timestamp_type\":\"{}\",",
        json_string(topic),
        r.offset,
        r.timestamp,
        match r.timestamp_type {
            TimestampType::Creation => "CreateTime",
            TimestampType::LogAppend => "LogAppendTime",
        }
    );
    push_bytes_field(&mut s, "key", r.key.as_deref());
    s.push(',');
    match decoded {
        Some(d) => {
            let _ = write!(
                s,
                "\"value\":{},\"value_encoding\":\"{}\",\"value_schema_id\":{}",
                d.value, d.format, d.schema_id
            );
        }
        None => push_bytes_field(&mut s, "value", r.value.as_deref()),
    }
    s.push_str(",\"headers\":[");
    for (i, (k, v)) in r.headers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"key\":{},", json_string(k));
        push_bytes_field(&mut s, "value", v.as_deref());
        s.push('}');
    }
    s.push_str("]}");
    s
}

/// The records of one fetched partition that a consumer should see, from `position` on,
/// and the position after them. With `aborted` (read_committed), records of aborted
/// transactions are dropped (Kafka's Fetcher algorithm); control batches never show.
pub fn decode_partition(
    records: &Bytes,
    position: i64,
    aborted: Option<&[(i64, i64)]>,
) -> Result<(Vec<Record>, i64)> {
    let mut out = Vec::new();
    let mut next = position;
    let mut pos = 0usize;
    let mut aborted: Vec<(i64, i64)> = aborted.map(|a| a.to_vec()).unwrap_or_default();
    aborted.sort_by_key(|&(_, first)| std::cmp::Reverse(first));
    let mut aborting: HashSet<i64> = HashSet::new();
    while pos + RECORD_BATCH_OVERHEAD <= records.len() {
        let h = BatchHeader::parse(&records[pos..]).expect("header length checked");
        let end = pos + h.total_size();
        if h.batch_length < 0 || end > records.len() {
            break; // a partial batch at the end of a size-limited answer
        }
        if h.magic != 2 {
            bail!(
                "batch at offset {} has magic {} (only v2 record batches are supported)",
                h.base_offset,
                h.magic
            );
        }
        let batch = records.slice(pos..end);
        pos = end;
        if h.last_offset() < next {
            continue;
        }
        while aborted
            .last()
            .is_some_and(|&(_, first)| first <= h.last_offset())
        {
            let (pid, _) = aborted.pop().expect("checked");
            aborting.insert(pid);
        }
        next = h.last_offset() + 1;
        if h.is_control() {
            if let Some((ControlType::Abort, _)) = control_record_type(&batch) {
                aborting.remove(&h.producer_id);
            }
            continue;
        }
        if h.is_transactional() && aborting.contains(&h.producer_id) {
            continue;
        }
        let records = decode_batch(&batch, &h)
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("decoding the batch at offset {}", h.base_offset))?;
        out.extend(records.into_iter().filter(|r| r.offset >= position));
    }
    Ok((out, next))
}

struct Consumer {
    cluster: Cluster,
    topic: TopicInfo,
    positions: BTreeMap<i32, i64>,
    /// Partition -> end (high watermark, or last stable offset) seen in the last fetch.
    ends: BTreeMap<i32, i64>,
    committed: bool,
    reset: Start,
}

impl Consumer {
    /// One Fetch per leader for every assigned partition; returns the records.
    async fn fetch(&mut self, wait: Duration) -> Result<Vec<(i32, Record)>> {
        let by_leader = self.topic.by_leader(self.positions.keys().copied())?;
        let mut out = Vec::new();
        let mut refresh = false;
        for (leader, parts) in by_leader {
            let request = self.topic.fetch_request(
                &parts,
                &self.positions,
                wait.as_millis() as i32,
                self.committed as i8,
                1 << 20,
            );
            let conn = self.cluster.node(leader).await?;
            let version = conn.version::<FetchRequest>(12)?;
            let limit = conn.request_timeout + wait;
            let answer = conn.send_raw_timeout(&request, version, limit).await?;
            if let Some(e) = ResponseError::try_from_code(answer.error_code) {
                bail!("fetch from {}: {}", self.topic.name, error_name(e));
            }
            for t in answer.responses {
                for pd in t.partitions {
                    refresh |= self.partition(pd, &mut out).await?;
                }
            }
        }
        if refresh {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.topic = self.cluster.topic(&self.topic.name).await?;
        }
        Ok(out)
    }

    /// Handles one partition of a fetch answer; true if metadata should be refreshed.
    async fn partition(&mut self, pd: PartitionData, out: &mut Vec<(i32, Record)>) -> Result<bool> {
        let p = pd.partition_index;
        let Some(&position) = self.positions.get(&p) else {
            return Ok(false);
        };
        match ResponseError::try_from_code(pd.error_code) {
            None => {}
            Some(ResponseError::OffsetOutOfRange) => {
                let reset = match self.reset {
                    Start::Beginning => Start::Beginning,
                    _ => Start::End,
                };
                let to = start_offsets(&mut self.cluster, &self.topic, &[p], reset, self.committed)
                    .await?[&p];
                eprintln!(
                    "sluice: offset {position} is out of range for {}-{p}; resetting to {to}",
                    self.topic.name
                );
                self.positions.insert(p, to);
                return Ok(false);
            }
            Some(e) if e.is_retriable() => return Ok(true),
            Some(e) => bail!("fetch from {}-{p}: {}", self.topic.name, error_name(e)),
        }
        let end = if self.committed && pd.last_stable_offset >= 0 {
            pd.last_stable_offset
        } else {
            pd.high_watermark
        };
        self.ends.insert(p, end);
        let aborted: Option<Vec<(i64, i64)>> = if self.committed {
            Some(
                pd.aborted_transactions
                    .unwrap_or_default()
                    .iter()
                    .map(|a| (a.producer_id.0, a.first_offset))
                    .collect(),
            )
        } else {
            None
        };
        let records = pd.records.unwrap_or_default();
        let (recs, next) = decode_partition(&records, position, aborted.as_deref())
            .with_context(|| format!("{}-{p}", self.topic.name))?;
        self.positions.insert(p, next);
        out.extend(recs.into_iter().map(|r| (p, r)));
        Ok(false)
    }

    fn at_end(&self) -> bool {
        self.positions
            .iter()
            .all(|(p, pos)| self.ends.get(p).is_some_and(|end| pos >= end))
    }
}

pub async fn run(args: ConsumeArgs) -> Result<()> {
    if let Some(g) = &args.share_group {
        return super::consume_share::run(&args, g).await;
    }
    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    let topic = cluster.topic(&args.topic).await?;
    let committed = !args.read_uncommitted;
    let start = args.start();
    let all: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
    let mut member = None;
    let partitions = match (&args.group, args.partition) {
        (Some(g), _) => {
            let (m, assigned) = GroupMember::join(&mut cluster, g, &topic).await?;
            member = Some(m);
            assigned
        }
        (None, Some(p)) if !all.contains(&p) => {
            bail!("topic `{}` has no partition {p}", topic.name)
        }
        (None, Some(p)) => vec![p],
        (None, None) => all,
    };
    let positions = match member.as_mut() {
        Some(m) => {
            m.positions(&mut cluster, &topic, &partitions, start, committed)
                .await?
        }
        None => start_offsets(&mut cluster, &topic, &partitions, start, committed).await?,
    };
    let mut consumer = Consumer {
        cluster,
        topic,
        positions,
        ends: BTreeMap::new(),
        committed,
        reset: start,
    };
    let mut decoder = match &args.schema_registry {
        Some(_) if args.format != "json" => {
            bail!("--schema-registry decodes values for --format json only")
        }
        Some(url) => Some(SchemaDecoder::new(url)?),
        None => None,
    };
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
            if let Some(m) = member.as_mut() {
                if let Some(assigned) = m.tick(&mut consumer.cluster, &consumer.positions).await? {
                    let start_at = m
                        .positions(
                            &mut consumer.cluster,
                            &consumer.topic,
                            &assigned,
                            start,
                            committed,
                        )
                        .await?;
                    consumer.positions = start_at;
                    consumer.ends.clear();
                }
            }
            let mut wait = Duration::from_millis(500);
            if let Some(t) = args.timeout_ms {
                let left = Duration::from_millis(t).saturating_sub(last_record.elapsed());
                if left.is_zero() {
                    return Ok(());
                }
                wait = wait.min(left);
            }
            let records = if consumer.positions.is_empty() {
                tokio::time::sleep(wait).await;
                Vec::new()
            } else {
                tokio::select! {
                    r = consumer.fetch(wait) => r?,
                    _ = &mut interrupted => return Ok(()),
                }
            };
            if !records.is_empty() {
                last_record = Instant::now();
            }
            if let Some(d) = decoder.as_mut() {
                for (_, r) in &records {
                    d.prepare(r.value.as_deref()).await?;
                }
            }
            for (p, r) in records {
                if args.max_messages.is_some_and(|n| count >= n) {
                    // Not printed: the next consumer of the group starts here.
                    let pos = consumer.positions.get_mut(&p).expect("assigned");
                    *pos = (*pos).min(r.offset);
                    continue;
                }
                let decoded = decoder.as_ref().and_then(|d| d.decode(r.value.as_deref()));
                printer.print(&consumer.topic.name, p, &r, decoded.as_ref())?;
                count += 1;
            }
            printer.flush()?;
            progress.update(|| format!("consumed {count} records from {}", args.topic));
            if args.exit_at_end && !consumer.positions.is_empty() && consumer.at_end() {
                return Ok(());
            }
        }
    }
    .await;
    progress.finish();
    if let Some(m) = member {
        let closed = m.close(&mut consumer.cluster, &consumer.positions).await;
        return outcome.and(closed);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::produce::encode_batch;
    use kafka_protocol::records::Compression;

    fn batch(base: i64, values: &[&str]) -> Vec<u8> {
        let recs: Vec<_> = values
            .iter()
            .map(|v| (None, Bytes::copy_from_slice(v.as_bytes())))
            .collect();
        let mut b = encode_batch(&recs, &[], 5, Compression::None)
            .unwrap()
            .to_vec();
        b[0..8].copy_from_slice(&base.to_be_bytes());
        b
    }

    #[test]
    fn decodes_from_the_position_and_skips_partial_batches() {
        let mut all = batch(0, &["a", "b"]);
        all.extend(batch(2, &["c"]));
        let third = batch(3, &["d"]);
        all.extend(&third[..third.len() - 3]);
        let (recs, next) = decode_partition(&Bytes::from(all), 1, None).unwrap();
        let values: Vec<_> = recs.iter().map(|r| r.value.clone().unwrap()).collect();
        assert_eq!(values, vec!["b", "c"]);
        assert_eq!(recs[0].offset, 1);
        assert_eq!(next, 3);
    }

    #[test]
    fn aborted_transactions_are_dropped() {
        // A transactional batch of producer 7 at offset 0, its ABORT marker at 1, then a
        // plain batch at 2.
        let mut txn = batch(0, &["aborted"]);
        txn[21..23].copy_from_slice(&0x10i16.to_be_bytes());
        txn[43..51].copy_from_slice(&7i64.to_be_bytes());
        let crc = BatchHeader::compute_crc(&txn);
        txn[17..21].copy_from_slice(&crc.to_be_bytes());
        let mut marker = crate::log::batch::end_txn_marker_batch(7, 0, false, 0, 5);
        marker[0..8].copy_from_slice(&1i64.to_be_bytes());
        let mut all = txn;
        all.extend(marker);
        all.extend(batch(2, &["kept"]));
        let all = Bytes::from(all);
        let (recs, next) = decode_partition(&all, 0, Some(&[(7, 0)])).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].value.as_deref(), Some(&b"kept"[..]));
        assert_eq!(next, 3);
        let (recs, _) = decode_partition(&all, 0, None).unwrap();
        assert_eq!(recs.len(), 2);
    }

    #[test]
    fn json_lines_carry_every_field() {
        let r = Record {
            timestamp_type: TimestampType::Creation,
            offset: 4,
            timestamp: 1000,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            headers: vec![
                ("h".into(), Some(Bytes::from_static(&[0xff]))),
                ("h".into(), None),
            ],
        };
        assert_eq!(
            json_line("t", 2, &r),
            r#"{"topic":"t","partition":2,"offset":4,"timestamp":1000,"timestamp_type":"CreateTime","key":"k","key_encoding":"utf8","value":null,"value_encoding":null,"headers":[{"key":"h","value":"/w==","value_encoding":"base64"},{"key":"h","value":null,"value_encoding":null}]}"#
        );
    }
}
