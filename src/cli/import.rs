//! `sluice import FILE --topic T`: produces the records of an export (a `.sluice`
//! archive or a `.jsonl` file) into a topic, exactly once.
//!
//! ## Why a rerun never duplicates a record
//! An import has an identity: the destination topic and the file's content (its length
//! and two independent 32-bit checksums of every byte, read before anything is
//! written). From it come a transactional id and a consumer-group name, both
//! `sluice-import-<topic>-<hash>`. Records go out in transactions of
//! `--transaction-records` records (`txn_producer.rs`); each transaction also commits,
//! as that group's offset for partition 0 of the destination topic, the index in the
//! file of the next record to import. Data and position become visible together or
//! not at all. A run killed at any point (kill -9 included) leaves at most one open
//! transaction; the next run's InitProducerId with the same transactional id aborts
//! it, then OffsetFetch (require_stable) returns the position of the last committed
//! transaction, and the import skips exactly that many records of the file. A second
//! run of a finished import finds the position at the end and writes nothing. A
//! different file, or the same file into another topic, is a different import.
//!
//! Readers of the destination must read committed data (read_committed), as with any
//! transactional producer: the records of an aborted attempt stay in the log, marked
//! aborted.
//!
//! It owns reading and verifying the input file, the topic's creation and the mapping
//! of records to partitions and timestamps. It must never start writing before the
//! whole file was verified (a truncated or corrupt file is refused as a whole).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::Args;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{CreateTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::TimestampType;
use serde_json::Value;

use super::archive::{ArchiveReader, ArchiveRecord};
use super::client::check_code;
use super::cluster::{Cluster, TopicInfo};
use super::export::{format_for, Format};
use super::output::{base64_decode, now_ms, Progress};
use super::produce::partition_for_key;
use super::records::payload_bytes;
use super::txn_producer::{check_partitions, committed_position, copy_id, OutRecord, TxnProducer};
use super::BootstrapArgs;

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// The export to import (.sluice archive or .jsonl).
    pub file: PathBuf,
    /// Topic to produce to; created with the export's partition count if missing.
    #[arg(short, long)]
    pub topic: String,
    /// jsonl or archive [default: from the extension].
    #[arg(long, value_parser = ["jsonl", "archive"])]
    pub format: Option<String>,
    /// Put each record in the partition it was exported from [default: by key with
    /// Kafka's default partitioner, records without a key spread round robin].
    #[arg(long)]
    pub preserve_partitions: bool,
    /// Keep each record's timestamp (as CreateTime) [default: the time of the import].
    #[arg(long)]
    pub preserve_timestamps: bool,
    /// Records per transaction (each commits the import's position with its data; a
    /// transaction also ends at 16 MiB of keys, values and headers).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub transaction_records: usize,
}

/// Reads either format record by record.
enum Source {
    Archive {
        reader: ArchiveReader<BufReader<File>>,
        block: std::vec::IntoIter<ArchiveRecord>,
    },
    Jsonl {
        lines: std::io::Lines<BufReader<File>>,
        line: u64,
    },
}

impl Source {
    fn open(path: &Path, format: Format) -> Result<(Source, Option<i32>)> {
        let file = File::open(path).with_context(|| format!("opening `{}`", path.display()))?;
        let input = BufReader::with_capacity(1 << 20, file);
        Ok(match format {
            Format::Archive => {
                let reader =
                    ArchiveReader::open(input).with_context(|| format!("`{}`", path.display()))?;
                let count = reader.header().partition_count;
                (
                    Source::Archive {
                        reader,
                        block: Vec::new().into_iter(),
                    },
                    Some(count),
                )
            }
            Format::Jsonl => (
                Source::Jsonl {
                    lines: input.lines(),
                    line: 0,
                },
                None,
            ),
        })
    }

    fn next(&mut self) -> Result<Option<ArchiveRecord>> {
        match self {
            Source::Archive { reader, block } => loop {
                if let Some(r) = block.next() {
                    return Ok(Some(r));
                }
                match reader.next_block()? {
                    Some(b) => *block = b.into_iter(),
                    None => return Ok(None),
                }
            },
            Source::Jsonl { lines, line } => loop {
                let Some(text) = lines.next() else {
                    return Ok(None);
                };
                *line += 1;
                let text = text.with_context(|| format!("line {line}"))?;
                if text.trim().is_empty() {
                    continue;
                }
                return parse_json_record(&text)
                    .map(Some)
                    .map_err(|e| anyhow!("line {line}: {e}"));
            },
        }
    }
}

/// A transaction ends once its records hold this many bytes (bounds the memory an
/// import holds and the work a killed run loses).
pub const MAX_TXN_BYTES: usize = 16 << 20;

/// The bytes of a record's key, value and headers.
pub fn record_bytes(r: &ArchiveRecord) -> usize {
    payload_bytes(r.key.as_ref(), r.value.as_ref(), &r.headers)
}

/// One line of a jsonl export (`consume::json_line`'s shape) back as a record.
pub fn parse_json_record(line: &str) -> Result<ArchiveRecord> {
    let v: Value = serde_json::from_str(line).context("not a JSON object")?;
    let int = |name: &str| -> Result<i64> {
        v.get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow!("`{name}` is missing or not an integer"))
    };
    fn bytes_field(obj: &Value, name: &str) -> Result<Option<Bytes>> {
        let enc = format!("{name}_encoding");
        match (obj.get(name), obj.get(&enc).and_then(Value::as_str)) {
            (None | Some(Value::Null), _) => Ok(None),
            (Some(Value::String(s)), Some("utf8") | None) => Ok(Some(Bytes::from(s.clone()))),
            (Some(Value::String(s)), Some("base64")) => base64_decode(s)
                .map(|b| Some(Bytes::from(b)))
                .ok_or_else(|| anyhow!("`{name}` is not valid base64")),
            (Some(_), e) => bail!("`{name}` is not a string (encoding {e:?})"),
        }
    }
    let partition = i32::try_from(int("partition")?).map_err(|_| anyhow!("bad partition"))?;
    let offset = int("offset")?;
    if partition < 0 || offset < 0 {
        bail!("negative partition or offset");
    }
    let timestamp_type = match v.get("timestamp_type").and_then(Value::as_str) {
        Some("CreateTime") | None => TimestampType::Creation,
        Some("LogAppendTime") => TimestampType::LogAppend,
        Some(t) => bail!("unknown timestamp_type `{t}`"),
    };
    let mut headers = Vec::new();
    if let Some(hs) = v.get("headers") {
        let hs = hs
            .as_array()
            .ok_or_else(|| anyhow!("`headers` is not an array"))?;
        for h in hs {
            let key = h
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("a header has no string `key`"))?;
            headers.push((key.to_string(), bytes_field(h, "value")?));
        }
    }
    Ok(ArchiveRecord {
        partition,
        offset,
        timestamp_type,
        timestamp: int("timestamp")?,
        key: bytes_field(&v, "key")?,
        value: bytes_field(&v, "value")?,
        headers,
    })
}

/// Reads `inner` while checksumming every byte.
struct Hashing<R> {
    inner: R,
    crc32c: u32,
    crc32: crc32fast::Hasher,
    len: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc32c = crc32c::crc32c_append(self.crc32c, &buf[..n]);
        self.crc32.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// What the verification pass learned about the file.
struct Verified {
    identity: String,
    records: u64,
    /// Highest partition number in the file + 1 (at least 1).
    partitions_used: i32,
}

/// Reads the whole file once: every record must decode (every archive block verify),
/// and the file's checksums name the import.
fn verify(path: &Path, format: Format) -> Result<Verified> {
    let file = File::open(path).with_context(|| format!("opening `{}`", path.display()))?;
    let mut hashing = Hashing {
        inner: BufReader::with_capacity(1 << 20, file),
        crc32c: 0,
        crc32: crc32fast::Hasher::new(),
        len: 0,
    };
    let mut records = 0u64;
    let mut max_partition = 0i32;
    match format {
        Format::Archive => {
            let mut reader = ArchiveReader::open(&mut hashing)?;
            while let Some(block) = reader.next_block()? {
                records += block.len() as u64;
                max_partition = block
                    .iter()
                    .map(|r| r.partition)
                    .fold(max_partition, i32::max);
            }
        }
        Format::Jsonl => {
            for (i, line) in BufReader::new(&mut hashing).lines().enumerate() {
                let n = i + 1;
                let line = line.with_context(|| format!("line {n}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                let r = parse_json_record(&line).map_err(|e| anyhow!("line {n}: {e}"))?;
                records += 1;
                max_partition = max_partition.max(r.partition);
            }
        }
    }
    // Anything the BufReader above left unread still counts towards the identity.
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    Ok(Verified {
        identity: format!(
            "{}:{:08x}:{:08x}",
            hashing.len,
            hashing.crc32c,
            hashing.crc32.clone().finalize()
        ),
        records,
        partitions_used: max_partition + 1,
    })
}

/// The topic, created with `partitions` partitions if it does not exist.
pub async fn ensure_topic(cluster: &mut Cluster, name: &str, partitions: i32) -> Result<TopicInfo> {
    let answer = cluster.metadata(Some(&[name.to_string()])).await?;
    let missing = answer.topics.iter().any(|t| {
        ResponseError::try_from_code(t.error_code) == Some(ResponseError::UnknownTopicOrPartition)
    });
    if missing {
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_num_partitions(partitions)
                .with_replication_factor(-1)]);
        let answer = cluster.any().send(&request, 7).await?;
        for t in &answer.topics {
            if ResponseError::try_from_code(t.error_code) == Some(ResponseError::TopicAlreadyExists)
            {
                continue; // created meanwhile (a concurrent import): fine
            }
            check_code(
                t.error_code,
                t.error_message.as_ref(),
                &format!("cannot create topic `{name}`"),
            )?;
        }
        eprintln!("created topic {name} with {partitions} partitions");
    }
    // Metadata may lag a creation by a moment.
    for _ in 0..50 {
        if let Ok(t) = cluster.topic(name).await {
            if !t.partitions.is_empty() && t.partitions.iter().all(|p| p.leader >= 0) {
                return Ok(t);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    cluster.topic(name).await
}

pub async fn run(args: ImportArgs) -> Result<()> {
    let format = format_for(&args.file, args.format.as_deref())?;
    let verified = verify(&args.file, format)
        .with_context(|| format!("`{}` cannot be imported", args.file.display()))?;
    let (mut source, header_partitions) = Source::open(&args.file, format)?;
    let partition_count = header_partitions.unwrap_or(0).max(verified.partitions_used);

    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    let topic = ensure_topic(&mut cluster, &args.topic, partition_count).await?;
    let dst_partitions = topic.partitions.len() as i32;
    if args.preserve_partitions && verified.records > 0 {
        check_partitions(&topic, 0..verified.partitions_used)
            .context("--preserve-partitions needs every partition of the export")?;
    }

    let identity = format!("{}:{}", args.topic, verified.identity);
    let id = copy_id("sluice-import", &args.topic, &identity);
    let mut producer = TxnProducer::init(&mut cluster, &id, 60_000).await?;
    let position = committed_position(&mut cluster, &id, &args.topic, &[0]).await?;
    let (start, metadata) = position.get(&0).cloned().unwrap_or((0, None));
    if let Some(m) = &metadata {
        if !m.is_empty() && m != &identity {
            bail!("group `{id}` holds the position of another import ({m})");
        }
    }
    let start = start.max(0) as u64;

    let per_txn = args.transaction_records.max(1);
    let mut progress = Progress::new();
    let mut index = 0u64;
    let mut imported = 0u64;
    let mut pending: BTreeMap<i32, Vec<OutRecord>> = BTreeMap::new();
    let mut in_txn = 0usize;
    let mut in_txn_bytes = 0usize;
    let mut offsets = BTreeMap::new();
    loop {
        let next = source.next()?;
        if let Some(r) = next.as_ref() {
            index += 1;
            if index > start {
                let p = if args.preserve_partitions {
                    r.partition
                } else {
                    match &r.key {
                        Some(k) => partition_for_key(k, dst_partitions),
                        None => ((index - 1) % dst_partitions as u64) as i32,
                    }
                };
                pending.entry(p).or_default().push(OutRecord {
                    key: r.key.clone(),
                    value: r.value.clone(),
                    headers: r.headers.clone(),
                    timestamp: if args.preserve_timestamps {
                        r.timestamp
                    } else {
                        now_ms()
                    },
                });
                in_txn += 1;
                in_txn_bytes += record_bytes(r);
            }
        }
        if in_txn > 0 && (in_txn >= per_txn || in_txn_bytes >= MAX_TXN_BYTES || next.is_none()) {
            imported += producer
                .send(&mut cluster, &topic, std::mem::take(&mut pending))
                .await?;
            offsets.insert((args.topic.clone(), 0), index as i64);
            producer
                .commit(&mut cluster, &id, &offsets, &identity)
                .await?;
            in_txn = 0;
            in_txn_bytes = 0;
            progress.update(|| {
                format!(
                    "imported {imported} records into {} ({index}/{} of the file)",
                    args.topic, verified.records
                )
            });
        }
        if next.is_none() {
            break;
        }
    }
    progress.finish();
    if index != verified.records {
        bail!(
            "`{}` changed while it was imported ({index} records now, {} before)",
            args.file.display(),
            verified.records
        );
    }
    if start >= verified.records {
        eprintln!(
            "nothing to import: all {} records of {} are already in {} (import {id})",
            verified.records,
            args.file.display(),
            args.topic
        );
    } else {
        eprintln!(
            "imported {imported} records into {}{} (import {id})",
            args.topic,
            if start > 0 {
                format!(", resuming after the {start} an earlier run committed")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
