//! `sluice produce TOPIC`: reads lines from stdin and produces them as records, one v2
//! record batch per partition per Produce request, built by `super::records` (which
//! keeps repeated header keys, as `--header` may give them) and compressed by the log's
//! byte-exact re-compression.
//!
//! It owns line splitting (key separator, headers), partition choice (Kafka's murmur2
//! partitioner for keyed records, sticky round robin otherwise) and batching. It must
//! never produce idempotently or transactionally (no producer id: batches carry
//! producer id, epoch and base sequence -1, like a plain Kafka producer) and never
//! reorder the lines of one partition.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use clap::Args;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use std::io::BufRead;

use super::client::error_name;
use super::cluster::{Cluster, TopicInfo};
use super::output::{now_ms, Progress};
use super::records::{self, Header, OutRecord};
use super::topic::parse_pairs;
use super::BootstrapArgs;

#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// Topic to produce to (it must exist).
    pub topic: String,
    /// Split each line at the first occurrence of SEP into key and value (a line without
    /// SEP gets no key).
    #[arg(short = 'K', long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header added to every record, e.g. --header source=cli. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Produce every record to this partition [default: murmur2 of the key, like Kafka's
    /// default partitioner; round robin per batch for records without a key].
    #[arg(short, long)]
    pub partition: Option<i32>,
    /// Acknowledgements: 0, 1 or all (-1).
    #[arg(long, default_value = "all")]
    pub acks: String,
    /// Compression codec: none, gzip, snappy, lz4 or zstd.
    #[arg(short = 'z', long, default_value = "none")]
    pub compression: String,
    /// Most records per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch_records: usize,
}

fn parse_acks(s: &str) -> Result<i16> {
    match s {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        _ => bail!("--acks must be 0, 1 or all, got `{s}`"),
    }
}

pub fn parse_compression(s: &str) -> Result<Compression> {
    Ok(match s {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => bail!("--compression must be none, gzip, snappy, lz4 or zstd, got `{s}`"),
    })
}

/// Kafka's `Utils.murmur2` (the Java client's default partitioner hash).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ len as u32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= (tail[2] as u32) << 16;
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= tail[0] as u32;
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner picks for `key`.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// One line split into key and value.
pub fn split_line(line: &[u8], separator: Option<&[u8]>) -> (Option<Bytes>, Bytes) {
    if let Some(sep) = separator.filter(|s| !s.is_empty()) {
        if let Some(at) = line.windows(sep.len()).position(|w| w == sep) {
            return (
                Some(Bytes::copy_from_slice(&line[..at])),
                Bytes::copy_from_slice(&line[at + sep.len()..]),
            );
        }
    }
    (None, Bytes::copy_from_slice(line))
}

/// Encodes `records` (key, value) as exactly one v2 batch without a producer id, every
/// record carrying `headers` in order (a key may repeat).
pub fn encode_batch(
    records: &[(Option<Bytes>, Bytes)],
    headers: &[Header],
    timestamp: i64,
    compression: Compression,
) -> Result<Bytes> {
    let out: Vec<OutRecord> = records
        .iter()
        .map(|(key, value)| OutRecord {
            key: key.clone(),
            value: Some(value.clone()),
            headers: headers.to_vec(),
            timestamp,
        })
        .collect();
    let mut buf = BytesMut::new();
    records::encode_batch(
        &mut buf,
        &out,
        records::Producer {
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
        },
    )?;
    let batch = buf.freeze();
    if compression == Compression::None {
        return Ok(batch);
    }
    crate::log::validator::recompress::recompress(&batch, compression)
        .map_err(|e| anyhow::anyhow!("cannot compress the batch: {e}"))
}

struct Producer {
    cluster: Cluster,
    topic: TopicInfo,
    acks: i16,
    compression: Compression,
    headers: Vec<Header>,
    sent: u64,
}

impl Producer {
    /// Sends one batch per partition; retries retriable errors a few times.
    async fn send(
        &mut self,
        by_partition: BTreeMap<i32, Vec<(Option<Bytes>, Bytes)>>,
    ) -> Result<()> {
        let timestamp = now_ms();
        let mut pending: BTreeMap<i32, Bytes> = BTreeMap::new();
        let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
        for (p, recs) in &by_partition {
            pending.insert(
                *p,
                encode_batch(recs, &self.headers, timestamp, self.compression)?,
            );
            counts.insert(*p, recs.len());
        }
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let by_leader = self.topic.by_leader(pending.keys().copied())?;
            let mut retry: Option<String> = None;
            for (leader, parts) in by_leader {
                let request = ProduceRequest::default()
                    .with_acks(self.acks)
                    .with_timeout_ms(30_000)
                    .with_topic_data(vec![TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(self.topic.name.clone())))
                        .with_partition_data(
                            parts
                                .iter()
                                .map(|p| {
                                    PartitionProduceData::default()
                                        .with_index(*p)
                                        .with_records(Some(pending[p].clone()))
                                })
                                .collect(),
                        )]);
                let conn = self.cluster.node(leader).await?;
                let version = conn.version::<ProduceRequest>(12)?;
                if self.acks == 0 {
                    conn.send_no_answer(&request, version).await?;
                    for p in &parts {
                        self.sent += counts[p] as u64;
                        pending.remove(p);
                    }
                    continue;
                }
                let answer = conn.send_raw(&request, version).await?;
                for t in answer.responses {
                    for r in t.partition_responses {
                        let p = r.index;
                        match ResponseError::try_from_code(r.error_code) {
                            None => {
                                self.sent += counts.get(&p).copied().unwrap_or(0) as u64;
                                pending.remove(&p);
                            }
                            Some(e) if e.is_retriable() && attempt < 5 => {
                                retry = Some(error_name(e));
                            }
                            Some(e) => {
                                let detail = r
                                    .error_message
                                    .as_deref()
                                    .map(|m| format!(" ({m})"))
                                    .or_else(|| {
                                        r.record_errors.first().and_then(|x| {
                                            x.batch_index_error_message
                                                .as_deref()
                                                .map(|m| format!(" ({m})"))
                                        })
                                    })
                                    .unwrap_or_default();
                                bail!(
                                    "produce to {}-{p} failed: {}{detail}",
                                    self.topic.name,
                                    error_name(e)
                                );
                            }
                        }
                    }
                }
            }
            if let Some(why) = retry {
                tracing::debug!(%why, attempt, "retrying produce");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                self.topic = self.cluster.topic(&self.topic.name).await?;
            } else if !pending.is_empty() {
                bail!(
                    "the broker did not answer for partitions {:?} of {}",
                    pending.keys().collect::<Vec<_>>(),
                    self.topic.name
                );
            }
        }
        Ok(())
    }
}

pub async fn run(args: ProduceArgs) -> Result<()> {
    let acks = parse_acks(&args.acks)?;
    let compression = parse_compression(&args.compression)?;
    let headers: Vec<Header> = parse_pairs(&args.headers, "--header")?
        .into_iter()
        .map(|(k, v)| (k, Some(Bytes::from(v))))
        .collect();
    let batch_records = args.batch_records.max(1);
    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    let topic = cluster.topic(&args.topic).await?;
    let count = topic.partitions.len() as i32;
    if count == 0 {
        bail!("topic `{}` has no partitions", args.topic);
    }
    if let Some(p) = args.partition {
        if !(0..count).contains(&p) {
            bail!(
                "topic `{}` has partitions 0..{}, not {p}",
                args.topic,
                count - 1
            );
        }
    }
    let mut producer = Producer {
        cluster,
        topic,
        acks,
        compression,
        headers,
        sent: 0,
    };
    let separator = args.key_separator.as_deref().map(str::as_bytes);
    // Blocking reads are fine: the runtime is single-threaded and has nothing else to
    // do while waiting for input.
    let mut stdin = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let mut progress = Progress::new();
    let mut sticky = (now_ms() as u64 % count as u64) as i32;
    let mut batch: BTreeMap<i32, Vec<(Option<Bytes>, Bytes)>> = BTreeMap::new();
    let mut in_batch = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = stdin
            .read_until(b'\n', &mut line)
            .context("reading stdin")?;
        if n > 0 {
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            let (key, value) = split_line(&line, separator);
            let p = match (args.partition, &key) {
                (Some(p), _) => p,
                (None, Some(k)) => partition_for_key(k, count),
                (None, None) => sticky,
            };
            batch.entry(p).or_default().push((key, value));
            in_batch += 1;
        }
        // Send when the batch is full, at end of input, or when stdin has nothing
        // buffered (an interactive producer sends each line as it is typed).
        let eof = n == 0;
        if in_batch > 0 && (eof || in_batch >= batch_records || stdin.buffer().is_empty()) {
            producer.send(std::mem::take(&mut batch)).await?;
            in_batch = 0;
            sticky = (sticky + 1) % count;
            let sent = producer.sent;
            progress.update(|| format!("produced {sent} records to {}", args.topic));
        }
        if eof {
            break;
        }
    }
    progress.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_partitioner() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn lines_split_at_the_first_separator() {
        assert_eq!(
            split_line(b"k:v:w", Some(b":")),
            (Some(Bytes::from_static(b"k")), Bytes::from_static(b"v:w"))
        );
        assert_eq!(
            split_line(b"nokey", Some(b":")),
            (None, Bytes::from_static(b"nokey"))
        );
        assert_eq!(split_line(b"a:b", None), (None, Bytes::from_static(b"a:b")));
    }

    #[test]
    fn batches_are_one_valid_v2_batch_without_producer() {
        let headers: Vec<Header> = vec![
            ("h".to_string(), Some(Bytes::from_static(b"1"))),
            ("h".to_string(), Some(Bytes::from_static(b"2"))),
            ("".to_string(), None),
        ];
        for compression in [Compression::None, Compression::Gzip, Compression::Lz4] {
            let recs = vec![
                (Some(Bytes::from_static(b"k0")), Bytes::from_static(b"a")),
                (None, Bytes::from_static(b"b")),
                (Some(Bytes::from_static(b"k2")), Bytes::from_static(b"")),
            ];
            let batch = encode_batch(&recs, &headers, 1_700_000_000_000, compression).unwrap();
            // The broker's own validation accepts it as exactly one batch.
            let validator = crate::log::LogValidator::new(
                crate::log::ValidationConfig::default(),
                1_700_000_000_000,
                crate::log::AppendOrigin::Client,
            );
            let validated = validator.validate(batch.clone()).unwrap();
            assert_eq!(validated.batches().len(), 1);
            let h = validated.batches()[0].header;
            assert_eq!(h.record_count, 3);
            assert_eq!(h.producer_id, -1);
            assert_eq!(h.base_sequence, -1);
            assert_eq!(h.compression(), compression as u8);
            let decoded = records::decode_batch(&batch, &h).unwrap();
            let values: Vec<_> = decoded.iter().map(|r| r.value.clone().unwrap()).collect();
            assert_eq!(values, vec!["a", "b", ""]);
            assert_eq!(decoded[1].key, None);
            assert!(decoded.iter().all(|r| r.headers == headers));
            assert_eq!(decoded[2].offset, 2);
        }
    }
}
