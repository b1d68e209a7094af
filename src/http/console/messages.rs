//! `/api/topics/{topic}/messages` and `/tail`: the message browser, the key search, the
//! produce form and the live tail, all through Fetch, ListOffsets and Produce.
//!
//! Records are decoded with [`crate::log::records`], which keeps every header in order
//! (repeated keys too); keys, values and header values travel as base64 and the page
//! renders them as text, JSON or hex. Every read is bounded in records, bytes and
//! Fetch rounds ([`super::limits`]).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::TimestampType;
use kafka_protocol::ResponseError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{call, limits, no_answer, ApiError, ApiResult, S};
use crate::api::sb;
use crate::broker::Broker;
use crate::confluent_framing::{framed_id, Decoded, Writer};
use crate::log::records::{decode_batch, encode_batch, OutRecord, Producer, Record};
use crate::log::BatchHeader;
use crate::topics::Topic;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Fetch rounds one page may take (each reads up to the page's byte budget).
const MAX_FETCH_ROUNDS: usize = 64;

fn topic_partition(broker: &Broker, topic: &str, partition: i32) -> Result<Arc<Topic>, ApiError> {
    let unknown =
        |what: String| ApiError::kafka(ResponseError::UnknownTopicOrPartition.code(), Some(what));
    let t = broker
        .topics
        .get(topic)
        .ok_or_else(|| unknown(format!("no topic {topic}")))?;
    if t.partition(partition).is_none() {
        return Err(unknown(format!(
            "topic {topic} has no partition {partition} (it has {})",
            t.partitions.len()
        )));
    }
    Ok(t)
}

/// One Fetch of `partition` from `offset` reading at most `max_bytes`: the data
/// records of the whole batches returned, and the offset after the last batch read.
async fn fetch_once(
    broker: &Arc<Broker>,
    topic: &str,
    partition: i32,
    offset: i64,
    max_bytes: i32,
) -> Result<(Vec<Record>, i64, usize), ApiError> {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = max_bytes;
    p.log_start_offset = -1;
    let mut t = FetchTopic::default();
    t.topic = TopicName(sb(topic));
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.replica_id = BrokerId(-1);
    request.max_wait_ms = 0;
    request.min_bytes = 0;
    request.max_bytes = max_bytes;
    request.session_epoch = -1;
    request.topics = vec![t];
    let r = call!(Fetch, request, 12, broker).ok_or_else(|| no_answer("Fetch"))?;
    ApiError::check(r.error_code, None)?;
    let part = r
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| no_answer("Fetch"))?;
    ApiError::check(part.error_code, None)?;
    let data = part.records.clone().unwrap_or_default();
    let (mut records, mut next, mut pos) = (Vec::new(), offset, 0usize);
    while let Some(h) = BatchHeader::parse(&data[pos..]) {
        let size = h.total_size();
        if size == 0 || pos + size > data.len() {
            break; // a partial batch at the end of the answer
        }
        if !h.is_control() {
            let batch = data.slice(pos..pos + size);
            let decoded = decode_batch(&batch, &h).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("undecodable batch: {e}"),
                )
            })?;
            records.extend(decoded.into_iter().filter(|r| r.offset >= offset));
        }
        next = next.max(h.last_offset() + 1);
        pos += size;
    }
    Ok((records, next, pos))
}

fn record_json(partition: i32, r: &Record) -> Value {
    record_json_decoded(partition, r, None)
}

/// A record as the API shows it; `decoded` is its value decoded with its writer's
/// schema (Confluent framing, the broker's own registry), when it has one.
fn record_json_decoded(partition: i32, r: &Record, decoded: Option<Decoded>) -> Value {
    let b64 = |b: &Option<Bytes>| b.as_ref().map(|b| B64.encode(b));
    let decoded =
        decoded.map(|d| json!({"schema_id": d.schema_id, "format": d.format, "value": d.value}));
    json!({
        "value_decoded": decoded,
        "partition": partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "timestamp_type": match r.timestamp_type {
            TimestampType::LogAppend => "LogAppendTime",
            TimestampType::Creation => "CreateTime",
        },
        "key": b64(&r.key),
        "value": b64(&r.value),
        "headers": r.headers.iter().map(|(k, v)| json!({"key": k, "value": b64(v)})).collect::<Vec<_>>(),
    })
}

/// `records` as the API shows them, values framed with a schema id of the broker's
/// registry decoded (each schema looked up once). With the registry off, or for a value
/// that is not framed, whose schema has references or that does not decode,
/// `value_decoded` is null and the value is shown as it is.
async fn decoded_records(broker: &Broker, partition: i32, records: &[Record]) -> Vec<Value> {
    let registry_on = !broker.config.schema_registry_listen.is_empty();
    let mut writers: HashMap<i32, Option<Writer>> = HashMap::new();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let framed = registry_on
            .then(|| r.value.as_deref().and_then(framed_id))
            .flatten();
        let mut decoded = None;
        if let Some(id) = framed {
            if let std::collections::hash_map::Entry::Vacant(slot) = writers.entry(id) {
                let writer = match broker.schema_registry.schema_by_id(id).await {
                    Ok(s) => Writer::from_schema(
                        Some(s.schema_type.as_str()),
                        &s.schema,
                        !s.references.is_empty(),
                    )
                    .ok(),
                    Err(_) => None,
                };
                slot.insert(writer);
            }
            if let (Some(Some(writer)), Some(value)) = (writers.get(&id), r.value.as_deref()) {
                decoded = crate::confluent_framing::decode(value, writer);
            }
        }
        out.push(record_json_decoded(partition, r, decoded));
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseQuery {
    partition: Option<i32>,
    offset: Option<i64>,
    timestamp: Option<i64>,
    order: Option<String>,
    limit: Option<u32>,
    max_bytes: Option<u32>,
    key: Option<String>,
    search_records: Option<u32>,
}

/// The first offset whose timestamp is at least `timestamp` (ListOffsets), or the
/// high watermark when there is none.
pub(super) async fn offset_for_timestamp(
    broker: &Arc<Broker>,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<i64, ApiError> {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
    p.current_leader_epoch = -1;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(sb(topic));
    t.partitions = vec![p];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = BrokerId(-1);
    request.topics = vec![t];
    let r = call!(ListOffsets, request, 7, broker).ok_or_else(|| no_answer("ListOffsets"))?;
    let p = r
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| no_answer("ListOffsets"))?;
    ApiError::check(p.error_code, None)?;
    if p.offset >= 0 {
        return Ok(p.offset);
    }
    // No record at or after the time: Kafka answers -1; the position is the log end.
    Ok(broker
        .topics
        .get(topic)
        .and_then(|t| {
            t.partition(partition)
                .map(|p| p.watermarks().high_watermark)
        })
        .unwrap_or(0))
}

pub async fn browse(
    State(state): State<S>,
    ApiPath(topic): ApiPath<String>,
    ApiQuery(q): ApiQuery<BrowseQuery>,
) -> ApiResult {
    let broker = state.broker()?;
    let partition = q.partition.unwrap_or(0);
    let t = topic_partition(broker, &topic, partition)?;
    let newest_first = match q.order.as_deref() {
        None | Some("newest") => true,
        Some("oldest") => false,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "order must be newest or oldest, not {other}"
            )))
        }
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > state.limits.max_messages {
        return Err(ApiError::bad(format!(
            "limit must be 1..={}",
            state.limits.max_messages
        )));
    }
    let max_bytes = q.max_bytes.unwrap_or(1 << 20);
    if max_bytes == 0 || max_bytes > state.limits.max_read_bytes {
        return Err(ApiError::bad(format!(
            "max_bytes must be 1..={}",
            state.limits.max_read_bytes
        )));
    }
    let search_cap = q.search_records.unwrap_or(1000);
    if search_cap == 0 || search_cap > state.limits.max_search_records {
        return Err(ApiError::bad(format!(
            "search_records must be 1..={}",
            state.limits.max_search_records
        )));
    }
    if q.offset.is_some() && q.timestamp.is_some() {
        return Err(ApiError::bad("give offset or timestamp, not both"));
    }
    if q.offset.is_some_and(|o| o < 0) || q.timestamp.is_some_and(|t| t < 0) {
        return Err(ApiError::bad("offset and timestamp must be >= 0"));
    }
    let marks = t.partition(partition).expect("checked").watermarks();
    let (start, end) = (marks.log_start_offset, marks.high_watermark);
    let position = match (q.offset, q.timestamp) {
        (Some(o), _) => Some(o),
        (None, Some(ts)) => Some(offset_for_timestamp(broker, &topic, partition, ts).await?),
        _ => None,
    };
    let key = q.key.as_ref().map(|k| k.as_bytes().to_vec());
    let wanted = |r: &Record| {
        key.as_ref()
            .is_none_or(|k| r.key.as_deref() == Some(&k[..]))
    };
    // Without a key every record read is shown, so the scan stops at the page size.
    let scan_cap = if key.is_some() {
        search_cap as usize
    } else {
        limit as usize
    };
    let mut budget = max_bytes as usize;
    let (mut shown, mut scanned, mut rounds) = (Vec::new(), 0usize, 0usize);
    let next_offset;
    if !newest_first {
        // Oldest first: forward from the offset (inclusive), or the log start.
        let mut at = position.unwrap_or(start).clamp(start, end);
        while at < end
            && shown.len() < limit as usize
            && scanned < scan_cap
            && budget > 0
            && rounds < MAX_FETCH_ROUNDS
        {
            rounds += 1;
            let (records, next, read) =
                fetch_once(broker, &topic, partition, at, budget as i32).await?;
            budget = budget.saturating_sub(read.max(1));
            for r in records {
                if shown.len() >= limit as usize || scanned >= scan_cap {
                    break;
                }
                scanned += 1;
                at = r.offset + 1;
                if wanted(&r) {
                    shown.push(r);
                }
            }
            if read == 0 || (scanned < scan_cap && shown.len() < limit as usize) {
                at = at.max(next);
            }
            if read == 0 {
                break;
            }
        }
        next_offset = Some(at);
    } else {
        // Newest first: windows read forward, taken backwards, below the offset
        // (inclusive) or the timestamp's offset (exclusive), or the high watermark.
        let mut upper = match (q.offset, position) {
            (Some(o), _) => o.saturating_add(1),
            (None, Some(p)) => p,
            _ => end,
        }
        .clamp(start, end);
        while upper > start
            && shown.len() < limit as usize
            && scanned < scan_cap
            && budget > 0
            && rounds < MAX_FETCH_ROUNDS
        {
            let step = (scan_cap - scanned).min(limit as usize).max(1) as i64;
            let from = (upper - step).max(start);
            let mut window = Vec::new();
            let mut at = from;
            while at < upper && budget > 0 && rounds < MAX_FETCH_ROUNDS {
                rounds += 1;
                let (records, next, read) =
                    fetch_once(broker, &topic, partition, at, budget as i32).await?;
                budget = budget.saturating_sub(read.max(1));
                window.extend(records.into_iter().filter(|r| r.offset < upper));
                if read == 0 {
                    break;
                }
                at = next;
            }
            for r in window.into_iter().rev() {
                if shown.len() >= limit as usize || scanned >= scan_cap {
                    break;
                }
                scanned += 1;
                upper = r.offset;
                if wanted(&r) {
                    shown.push(r);
                }
            }
            if scanned < scan_cap && shown.len() < limit as usize {
                upper = from;
            }
        }
        next_offset = (upper > start).then(|| upper - 1);
    }
    Ok(Json(json!({
        "topic": topic,
        "partition": partition,
        "order": if newest_first { "newest" } else { "oldest" },
        "log_start_offset": start,
        "high_watermark": end,
        "last_stable_offset": marks.last_stable_offset,
        "scanned": scanned,
        "next_offset": next_offset,
        "messages": decoded_records(broker, partition, &shown).await,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderIn {
    key: String,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceBody {
    partition: Option<i32>,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<HeaderIn>,
    /// `text` (default: UTF-8 as given) or `base64`, for key, value and header values.
    encoding: Option<String>,
}

/// Kafka's default partitioner for a keyed record: murmur2 of the key, positive, modulo
/// the partition count (`Utils.murmur2` / `BuiltInPartitioner.partitionForKey`).
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    let (seed, m, r) = (0x9747_b28c_u32, 0x5bd1_e995_u32, 24);
    let len = key.len();
    let mut h = seed ^ len as u32;
    let chunks = key.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(m);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    ((h as i32 & 0x7fff_ffff) as usize % partitions.max(1)) as i32
}

pub async fn produce(
    State(state): State<S>,
    ApiPath(topic): ApiPath<String>,
    ApiJson(body): ApiJson<ProduceBody>,
) -> ApiResult {
    let broker = state.broker()?;
    let t = broker.topics.get(&topic).ok_or_else(|| {
        ApiError::kafka(
            ResponseError::UnknownTopicOrPartition.code(),
            Some(format!("no topic {topic}")),
        )
    })?;
    let base64 = match body.encoding.as_deref() {
        None | Some("text") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "encoding must be text or base64, not {other}"
            )))
        }
    };
    let decode = |what: &str, s: &Option<String>| -> Result<Option<Bytes>, ApiError> {
        match s {
            None => Ok(None),
            Some(s) if base64 => B64
                .decode(s)
                .map(|b| Some(Bytes::from(b)))
                .map_err(|e| ApiError::bad(format!("{what} is not base64: {e}"))),
            Some(s) => Ok(Some(Bytes::copy_from_slice(s.as_bytes()))),
        }
    };
    let key = decode("key", &body.key)?;
    let value = decode("value", &body.value)?;
    let mut headers = Vec::with_capacity(body.headers.len());
    for h in &body.headers {
        headers.push((h.key.clone(), decode("a header value", &h.value)?));
    }
    let partition = match body.partition {
        Some(p) => {
            topic_partition(broker, &topic, p)?;
            p
        }
        None => match &key {
            Some(k) => partition_for_key(k, t.partitions.len()),
            None => {
                (broker
                    .clock
                    .now_ms()
                    .rem_euclid(t.partitions.len().max(1) as i64)) as i32
            }
        },
    };
    let record = OutRecord {
        key,
        value,
        headers,
        timestamp: broker.clock.now_ms(),
    };
    let mut batch = BytesMut::new();
    let plain = Producer {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        transactional: false,
    };
    encode_batch(&mut batch, &[record], plain).map_err(|e| ApiError::bad(e.to_string()))?;
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(batch.freeze());
    let mut td = TopicProduceData::default();
    td.name = TopicName(sb(topic.clone()));
    td.partition_data = vec![p];
    let mut request = ProduceRequest::default();
    request.acks = -1;
    request.timeout_ms = 30_000;
    request.topic_data = vec![td];
    let r = call!(Produce, request, 9, broker).ok_or_else(|| no_answer("Produce"))?;
    let pr = r
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .ok_or_else(|| no_answer("Produce"))?;
    ApiError::check(pr.error_code, pr.error_message.as_ref())?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"topic": topic, "partition": partition, "offset": pr.base_offset})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailQuery {
    window_ms: Option<u64>,
    top: Option<usize>,
}

/// A tail's state between events: where each partition is read from, and the keys
/// seen in the sliding window.
struct Tail {
    state: S,
    broker: Arc<Broker>,
    topic: String,
    /// Who opened the tail: its later fetches run as this caller.
    caller: Option<super::login::Caller>,
    next: Vec<(i32, i64)>,
    window: Duration,
    top: usize,
    /// (when seen, key) oldest first; at most `MAX_TAIL_WINDOW_RECORDS`, the oldest
    /// dropped first (a very busy topic's window is then shorter than asked).
    seen: VecDeque<(Instant, Option<Bytes>)>,
    counts: HashMap<Option<Bytes>, u64>,
    first: bool,
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.state.tails.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Tail {
    async fn step(&mut self) -> Vec<Event> {
        if !self.first {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.first = false;
        let mut records = Vec::new();
        for (partition, at) in self.next.iter_mut() {
            // A deleted or shrunk topic ends nothing: the tail just stops finding data.
            let fetch = fetch_once(&self.broker, &self.topic, *partition, *at, 1 << 20);
            match super::login::as_caller(self.caller.clone(), fetch).await {
                Ok((rs, next, _)) => {
                    *at = next.max(*at);
                    records.extend(rs.into_iter().map(|r| (*partition, r)));
                }
                Err(_) => continue,
            }
        }
        let now = Instant::now();
        for (_, r) in &records {
            // A copy: a slice would pin the whole fetched batch for the window's length.
            let key = r
                .key
                .as_ref()
                .map(|k| Bytes::copy_from_slice(&k[..k.len().min(limits::MAX_TAIL_KEY_BYTES)]));
            if !self.counts.contains_key(&key) && self.counts.len() >= limits::MAX_TAIL_KEYS {
                continue; // beyond the distinct-key cap: not ranked
            }
            *self.counts.entry(key.clone()).or_default() += 1;
            self.seen.push_back((now, key));
        }
        while let Some((when, _)) = self.seen.front() {
            if now.duration_since(*when) <= self.window
                && self.seen.len() <= limits::MAX_TAIL_WINDOW_RECORDS
            {
                break;
            }
            let (_, key) = self.seen.pop_front().expect("front exists");
            if let Some(c) = self.counts.get_mut(&key) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&key);
                }
            }
        }
        let mut top: Vec<(&Option<Bytes>, &u64)> = self.counts.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let secs = self.window.as_secs_f64();
        let keys: Vec<Value> = top
            .into_iter()
            .take(self.top)
            .map(|(k, c)| {
                json!({
                    "key": k.as_ref().map(|k| B64.encode(k)),
                    "count": c,
                    "rate_per_sec": *c as f64 / secs,
                })
            })
            .collect();
        let mut events = Vec::new();
        if !records.is_empty() {
            let skip = records.len().saturating_sub(limits::MAX_TAIL_EVENT_RECORDS);
            let shown: Vec<Value> = records[skip..]
                .iter()
                .map(|(p, r)| record_json(*p, r))
                .collect();
            events.push(
                Event::default()
                    .event("records")
                    .json_data(json!({"count": records.len(), "messages": shown}))
                    .unwrap_or_default(),
            );
        }
        events.push(
            Event::default()
                .event("top_keys")
                .json_data(json!({"window_ms": self.window.as_millis() as u64, "in_window": self.seen.len(), "keys": keys}))
                .unwrap_or_default(),
        );
        events
    }
}

pub async fn tail(
    State(state): State<S>,
    ApiPath(topic): ApiPath<String>,
    ApiQuery(q): ApiQuery<TailQuery>,
) -> Result<Response, ApiError> {
    let broker = state.broker()?.clone();
    let window_ms = q.window_ms.unwrap_or(60_000);
    if window_ms == 0 || window_ms > limits::MAX_TAIL_WINDOW_MS {
        return Err(ApiError::bad(format!(
            "window_ms must be 1..={}",
            limits::MAX_TAIL_WINDOW_MS
        )));
    }
    let top = q.top.unwrap_or(10);
    if top == 0 || top > limits::MAX_TAIL_TOP {
        return Err(ApiError::bad(format!(
            "top must be 1..={}",
            limits::MAX_TAIL_TOP
        )));
    }
    super::topic_allowed(&broker, crate::security::acl::AclOperation::Read, &topic)?;
    let t = topic_partition(&broker, &topic, 0)?;
    if state.tails.fetch_add(1, Ordering::AcqRel) >= state.limits.max_tail_streams {
        state.tails.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} live tails are open already",
                state.limits.max_tail_streams
            ),
        ));
    }
    let tail = Tail {
        state: state.clone(),
        next: t
            .partitions
            .iter()
            .map(|p| (p.index, p.watermarks().high_watermark))
            .collect(),
        broker,
        topic,
        caller: super::login::current(),
        window: Duration::from_millis(window_ms),
        top,
        seen: VecDeque::new(),
        counts: HashMap::new(),
        first: true,
    };
    let stream = futures::stream::unfold(tail, |mut tail| async move {
        let events = tail.step().await;
        Some((
            futures::stream::iter(events.into_iter().map(Ok::<_, Infallible>)),
            tail,
        ))
    });
    let stream = futures::StreamExt::flatten(stream);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
