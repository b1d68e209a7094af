//! `sluice replay SRC --to DST --from-timestamp T1 [--to-timestamp T2] [--speed S]`:
//! re-publishes the committed records of SRC whose timestamps are in [T1, T2) into DST,
//! keeping keys, values, headers, the order of each source partition and, at the given
//! speed, the records' relative timing.
//!
//! Records of all source partitions are merged by timestamp (each partition is read in
//! offset order, the partition whose next record is oldest goes first). A record is
//! sent when `(its timestamp - the first record's) / speed` has passed since the replay
//! started, and carries that moment as its CreateTime. Keyed records go to the DST
//! partition Kafka's default partitioner picks, the others to the source partition's
//! number modulo DST's partition count.
//!
//! Exactly once into DST, as `import.rs` does: a transactional producer whose id and
//! consumer group come from the replay's identity (SRC, DST, T1, T2, or `--id`)
//! commits, with each transaction, the source offsets after the records it sent as that
//! group's offsets of SRC. A replay killed and run again resumes after the last
//! committed record; a finished replay run again sends nothing (pass another `--id` to
//! replay the same range once more). Transactions are committed at least every
//! [`TXN_MAX_MS`] ms so DST's read_committed consumers see the records about when they
//! are sent.
//!
//! It owns the merge, the pacing and progress on stderr. It must never send a record
//! outside the range, nor one a read_committed consumer of SRC would not see.

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;

use super::cluster::Cluster;
use super::import::{ensure_topic, MAX_TXN_BYTES};
use super::output::now_ms;
use super::produce::partition_for_key;
use super::range_reader::{From, RangeReader, To};
use super::records::{payload_bytes, Record};
use super::txn_producer::{committed_position, copy_id, OutRecord, TxnProducer};
use super::BootstrapArgs;

/// Longest a sent record waits for its transaction's commit.
const TXN_MAX_MS: u64 = 100;
/// Most records in one transaction (it also ends at `import::MAX_TXN_BYTES`).
const TXN_MAX_RECORDS: usize = 10_000;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// Topic to read.
    pub source: String,
    /// Topic to write (created with SRC's partition count if missing).
    #[arg(long, value_name = "DST")]
    pub to: String,
    /// First timestamp replayed (ms since the epoch, inclusive).
    #[arg(long, value_name = "MS")]
    pub from_timestamp: i64,
    /// End of the range (ms since the epoch, exclusive) [default: what SRC holds at
    /// the start].
    #[arg(long, value_name = "MS")]
    pub to_timestamp: Option<i64>,
    /// 1x keeps the original pace, 10x is ten times faster, max sends without waiting.
    #[arg(long, default_value = "1x")]
    pub speed: String,
    /// Names this replay (its transactional id and progress group) instead of SRC, DST
    /// and the range: a new id replays a range that was replayed already.
    #[arg(long)]
    pub id: Option<String>,
}

/// `1x`, `10x`, `0.5x` -> the factor; `max` -> `None`.
pub fn parse_speed(s: &str) -> Result<Option<f64>> {
    if s == "max" {
        return Ok(None);
    }
    let n = s.strip_suffix('x').unwrap_or(s);
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(Some(f)),
        _ => bail!("--speed must be like 1x, 10x, 0.5x or max, got `{s}`"),
    }
}

/// The pace: when a record is due, and the CreateTime it gets.
struct Pace {
    speed: Option<f64>,
    /// (source timestamp, Instant, epoch ms) of the first record sent.
    origin: Option<(i64, Instant, i64)>,
}

impl Pace {
    /// How long after the origin the record with `timestamp` is due.
    fn offset(&mut self, timestamp: i64) -> Option<Duration> {
        let speed = self.speed?;
        let (t0, _, _) = *self
            .origin
            .get_or_insert_with(|| (timestamp, Instant::now(), now_ms()));
        let ms = (timestamp - t0).max(0) as f64 / speed;
        Some(Duration::from_micros((ms * 1000.0) as u64))
    }

    fn due(&mut self, timestamp: i64) -> Option<Instant> {
        let offset = self.offset(timestamp)?;
        Some(self.origin.expect("set by offset").1 + offset)
    }

    fn new_timestamp(&mut self, timestamp: i64) -> i64 {
        match self.offset(timestamp) {
            Some(offset) => self.origin.expect("set").2 + offset.as_millis() as i64,
            None => now_ms(),
        }
    }
}

pub async fn run(args: ReplayArgs) -> Result<()> {
    let speed = parse_speed(&args.speed)?;
    if args
        .to_timestamp
        .is_some_and(|t2| t2 <= args.from_timestamp)
    {
        bail!("--to-timestamp must be after --from-timestamp");
    }
    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    let src = cluster.topic(&args.source).await?;
    let dst = ensure_topic(&mut cluster, &args.to, src.partitions.len() as i32).await?;
    let dst_count = dst.partitions.len() as i32;
    let to = args.to_timestamp.map_or(To::End, To::Timestamp);
    let mut reader = RangeReader::new(
        &mut cluster,
        src,
        None,
        From::Timestamp(args.from_timestamp),
        to,
    )
    .await?;

    let identity = format!(
        "{}:{}:{}:{}",
        args.source,
        args.to,
        args.from_timestamp,
        args.to_timestamp
            .map_or("end".to_string(), |t| t.to_string())
    );
    let id = match &args.id {
        Some(id) => format!("sluice-replay-{id}"),
        None => copy_id(
            "sluice-replay",
            &format!("{}-{}", args.source, args.to),
            &identity,
        ),
    };
    let mut producer = TxnProducer::init(&mut cluster, &id, 60_000).await?;
    let parts: Vec<i32> = reader.positions().keys().copied().collect();
    let resumed = committed_position(&mut cluster, &id, &args.source, &parts).await?;
    for (p, (offset, _)) in &resumed {
        reader.skip_to(*p, *offset);
    }
    if !resumed.is_empty() {
        eprintln!("resuming replay {id} after the positions an earlier run committed");
    }

    let mut buffers: BTreeMap<i32, VecDeque<Record>> =
        parts.iter().map(|p| (*p, VecDeque::new())).collect();
    // Source offset after the last record sent, per partition.
    let mut sent_pos: BTreeMap<i32, i64> = BTreeMap::new();
    let mut pending: BTreeMap<i32, Vec<OutRecord>> = BTreeMap::new();
    let mut pending_count = 0usize;
    let mut pending_bytes = 0usize;
    let mut pending_since: Option<Instant> = None;
    let mut pace = Pace {
        speed,
        origin: None,
    };
    let started = Instant::now();
    let mut replayed = 0u64;
    let mut last_report = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let group = id.clone();

    loop {
        // Every partition that still has records in range gets at least one buffered,
        // so the merge knows which is oldest.
        loop {
            let empty: Vec<i32> = buffers
                .iter()
                .filter(|(p, b)| b.is_empty() && !reader.partition_done(**p))
                .map(|(p, _)| *p)
                .collect();
            if empty.is_empty() {
                break;
            }
            for (p, r) in reader.next(&mut cluster, Some(&empty)).await? {
                buffers.get_mut(&p).expect("read partition").push_back(r);
            }
        }
        let next = buffers
            .iter()
            .filter_map(|(p, b)| b.front().map(|r| (r.timestamp, *p)))
            .min();
        let flush_now = pending_count >= TXN_MAX_RECORDS
            || pending_bytes >= MAX_TXN_BYTES
            || pending_since.is_some_and(|t| t.elapsed() >= Duration::from_millis(TXN_MAX_MS))
            || next.is_none();
        let wait = next
            .and_then(|(ts, _)| pace.due(ts))
            .map(|due| due.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        if pending_count > 0 && (flush_now || !wait.is_zero()) {
            producer
                .send(&mut cluster, &dst, std::mem::take(&mut pending))
                .await?;
            let mut offsets: BTreeMap<(String, i32), i64> = sent_pos
                .iter()
                .map(|(p, o)| ((args.source.clone(), *p), *o))
                .collect();
            if next.is_none() {
                // Done: the end of each partition's range, so a rerun reads nothing.
                for (p, pos) in reader.positions() {
                    offsets.insert((args.source.clone(), *p), *pos);
                }
            }
            producer
                .commit(&mut cluster, &group, &offsets, &identity)
                .await?;
            replayed += pending_count as u64;
            pending_count = 0;
            pending_bytes = 0;
            pending_since = None;
        }
        if last_report.elapsed() >= Duration::from_secs(if terminal { 1 } else { 5 }) {
            last_report = Instant::now();
            eprintln!(
                "replayed {replayed} records from {} to {} in {:.1} s{}",
                args.source,
                args.to,
                started.elapsed().as_secs_f64(),
                next.map(|(ts, _)| format!(", at source time {ts}"))
                    .unwrap_or_default()
            );
        }
        let Some((_, p)) = next else {
            break;
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait.min(Duration::from_millis(TXN_MAX_MS))).await;
            continue;
        }
        let r = buffers
            .get_mut(&p)
            .expect("chosen")
            .pop_front()
            .expect("non-empty");
        let dst_partition = match &r.key {
            Some(k) => partition_for_key(k, dst_count),
            None => p % dst_count,
        };
        sent_pos.insert(p, r.offset + 1);
        pending_bytes += payload_bytes(r.key.as_ref(), r.value.as_ref(), &r.headers);
        pending.entry(dst_partition).or_default().push(OutRecord {
            timestamp: pace.new_timestamp(r.timestamp),
            key: r.key,
            value: r.value,
            headers: r.headers,
        });
        pending_count += 1;
        pending_since.get_or_insert_with(Instant::now);
    }
    if replayed == 0 && !resumed.is_empty() {
        eprintln!(
            "nothing to replay: replay {id} already finished (pass another --id to replay again)"
        );
    } else {
        eprintln!(
            "replayed {replayed} records from {} to {} in {:.1} s (replay {id})",
            args.source,
            args.to,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("1x").unwrap(), Some(1.0));
        assert_eq!(parse_speed("10x").unwrap(), Some(10.0));
        assert_eq!(parse_speed("0.5x").unwrap(), Some(0.5));
        assert_eq!(parse_speed("max").unwrap(), None);
        for bad in ["0x", "-1x", "fast", "NaNx", "infx"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pace_spreads_records_by_their_timestamps() {
        let mut pace = Pace {
            speed: Some(10.0),
            origin: None,
        };
        let first = pace.due(1_000).unwrap();
        let later = pace.due(3_000).unwrap();
        assert_eq!(later - first, Duration::from_millis(200));
        // Out-of-order timestamps are due at once, never before the origin.
        assert_eq!(pace.due(500).unwrap(), first);
        let t = pace.new_timestamp(2_000);
        assert_eq!(t - pace.origin.unwrap().2, 100);
    }
}
