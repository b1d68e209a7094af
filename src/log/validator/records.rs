//! The record walk of the validator: what Kafka's `LogValidator` checks of each record
//! of a batch beyond the batch header, uncompressed in place or after one
//! decompression, and the per-record errors (KIP-467) of a refusal.
//!
//! The walk reads records by their length prefixes without copying or allocating; only
//! a compressed batch costs a decompression, and only a refusal decodes records (to name
//! each one that breaks the rule). Nothing here knows about partitions or locks.

use bytes::Bytes;
use kafka_protocol::records::{Record, RecordBatchDecoder};

use super::schema_ids::SchemaCheck;
use super::RecordError;
use crate::log::batch::{read_varint, read_varlong, take, BatchHeader, RECORD_BATCH_OVERHEAD};
use crate::log::error::AppendError;

/// Kafka's refusal of a keyless record in a compacted topic (`LogValidator`).
pub const COMPACTED_TOPIC_NEEDS_KEY: &str = "Compacted topic cannot accept message without key";

/// What Kafka's `LogValidator` checks of each record of a client's batch beyond its
/// framing, from the topic's configs at the time of the produce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordRules {
    /// A compacted topic: every record must have a key.
    pub require_key: bool,
    /// A CreateTime topic with `message.timestamp.before.max.ms` /
    /// `message.timestamp.after.max.ms` set: the allowed `[earliest, latest]` record
    /// timestamp (KIP-937). `None` when both are unbounded.
    pub timestamp_range: Option<(i64, i64)>,
}

impl RecordRules {
    /// The rules for a topic: `before_max_ms`/`after_max_ms` are its
    /// `message.timestamp.before.max.ms`/`after.max.ms`; they apply only to CreateTime.
    pub fn new(
        require_key: bool,
        create_time: bool,
        before_max_ms: i64,
        after_max_ms: i64,
        now_ms: i64,
    ) -> RecordRules {
        let bounded = before_max_ms != i64::MAX || after_max_ms != i64::MAX;
        RecordRules {
            require_key,
            timestamp_range: (create_time && bounded).then(|| {
                (
                    now_ms.saturating_sub(before_max_ms.max(0)),
                    now_ms.saturating_add(after_max_ms.max(0)),
                )
            }),
        }
    }

    /// Kafka's message for a record timestamp outside the range, if it is.
    pub fn timestamp_error(&self, timestamp: i64, offset_delta: i32) -> Option<String> {
        let (earliest, latest) = self.timestamp_range?;
        // -1 means "no timestamp" (Kafka's RecordBatch.NO_TIMESTAMP), never refused.
        (timestamp != -1 && !(earliest..=latest).contains(&timestamp)).then(|| {
            format!(
                "Timestamp {timestamp} of message with offset delta {offset_delta} is out of range. \
                 The timestamp should be within [{earliest}, {latest}]"
            )
        })
    }
}

/// Why a record walk refused a batch.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordProblem {
    /// Kafka INVALID_RECORD: framing, counts or lengths.
    Invalid(String),
    /// Kafka INVALID_RECORD: a keyless record in a compacted topic
    /// ([`COMPACTED_TOPIC_NEEDS_KEY`]); the refusal names every keyless record.
    MissingKey(String),
    /// Kafka INVALID_TIMESTAMP: a record timestamp outside
    /// [`RecordRules::timestamp_range`]; the refusal names every record outside it.
    Timestamp(String),
    /// Kafka INVALID_RECORD: a key or value without a schema id registered for the
    /// topic ([`super::schema_ids`]); the validator names every such record.
    Schema(String),
}

impl From<String> for RecordProblem {
    fn from(why: String) -> Self {
        RecordProblem::Invalid(why)
    }
}

impl From<&str> for RecordProblem {
    fn from(why: &str) -> Self {
        RecordProblem::Invalid(why.to_string())
    }
}

impl RecordProblem {
    /// The matching append error; `context` says which batch.
    pub fn into_append_error(self, context: &str) -> AppendError {
        match self {
            RecordProblem::Invalid(why)
            | RecordProblem::MissingKey(why)
            | RecordProblem::Schema(why) => AppendError::InvalidRecord(format!("{context}{why}")),
            RecordProblem::Timestamp(why) => AppendError::InvalidTimestamp(why),
        }
    }

    /// KIP-467: every record of `payload` the refusal is about, by its index among the
    /// payload's records (as Kafka's `LogValidator` reports them). Runs only on the
    /// error path: it decodes the records. Empty for framing problems.
    pub fn record_errors(&self, payload: &Bytes, rules: RecordRules) -> Vec<RecordError> {
        match self {
            // Schema refusals are named by the validator, which holds the check.
            RecordProblem::Invalid(_) | RecordProblem::Schema(_) => Vec::new(),
            RecordProblem::MissingKey(_) => record_errors(payload, |r| {
                r.key
                    .is_none()
                    .then(|| COMPACTED_TOPIC_NEEDS_KEY.to_string())
            }),
            RecordProblem::Timestamp(_) => record_errors(payload, |r| {
                rules.timestamp_error(r.timestamp, r.offset as i32)
            }),
        }
    }
}

/// The index and message of every record of `payload` that `refuse` names; nothing if
/// the payload does not decode.
fn record_errors(payload: &Bytes, refuse: impl Fn(&Record) -> Option<String>) -> Vec<RecordError> {
    let mut buf = payload.clone();
    let Ok(sets) = RecordBatchDecoder::decode_all(&mut buf) else {
        return Vec::new();
    };
    sets.iter()
        .flat_map(|set| set.records.iter())
        .enumerate()
        .filter_map(|(i, r)| {
            refuse(r).map(|message| RecordError {
                batch_index: i as i32,
                message,
            })
        })
        .collect()
}

/// Walks `record_count` uncompressed records by their length prefixes, without copying
/// or allocating, and checks that they are exactly that many records whose fields fit
/// their lengths, with offset deltas 0, 1, 2, ... (what Kafka's `DefaultRecord.readFrom`
/// and `LogValidator` check), under the topic's [`RecordRules`]. `base_timestamp` is the
/// batch header's, to which each record's timestamp delta is added.
pub fn check_records(
    mut records: &[u8],
    record_count: i32,
    base_timestamp: i64,
    rules: RecordRules,
) -> Result<(), RecordProblem> {
    for index in 0..record_count {
        let length = read_varint(&mut records).ok_or("truncated record length")?;
        if length < 0 || length as usize > records.len() {
            return Err(format!(
                "record {index} claims {length} bytes but {} remain",
                records.len()
            )
            .into());
        }
        let (mut body, rest) = records.split_at(length as usize);
        records = rest;
        let bad = |what: &str| format!("record {index}: {what} runs past its {length}-byte record");
        let _attributes = take(&mut body, 1).ok_or_else(|| bad("attributes"))?;
        let timestamp_delta = read_varlong(&mut body).ok_or_else(|| bad("timestamp delta"))?;
        let offset_delta = read_varint(&mut body).ok_or_else(|| bad("offset delta"))?;
        if offset_delta != index {
            return Err(format!("record {index} has offset delta {offset_delta}").into());
        }
        let timestamp = base_timestamp.wrapping_add(timestamp_delta);
        if let Some(why) = rules.timestamp_error(timestamp, offset_delta) {
            return Err(RecordProblem::Timestamp(why));
        }
        for field in ["key", "value"] {
            let len = read_varint(&mut body).ok_or_else(|| bad(field))?;
            if len >= 0 {
                take(&mut body, len as usize).ok_or_else(|| bad(field))?;
            } else if len == -1 && rules.require_key && field == "key" {
                return Err(RecordProblem::MissingKey(format!(
                    "record {index}: {COMPACTED_TOPIC_NEEDS_KEY}"
                )));
            } else if len != -1 {
                return Err(format!("record {index}: {field} length {len}").into());
            }
        }
        let headers = read_varint(&mut body).ok_or_else(|| bad("header count"))?;
        if headers < 0 {
            return Err(format!("record {index}: header count {headers}").into());
        }
        for _ in 0..headers {
            let key_len = read_varint(&mut body).ok_or_else(|| bad("header key"))?;
            if key_len < 0 {
                return Err(format!("record {index}: header key length {key_len}").into());
            }
            take(&mut body, key_len as usize).ok_or_else(|| bad("header key"))?;
            let value_len = read_varint(&mut body).ok_or_else(|| bad("header value"))?;
            if value_len >= 0 {
                take(&mut body, value_len as usize).ok_or_else(|| bad("header value"))?;
            }
        }
        if !body.is_empty() {
            return Err(format!(
                "record {index} has {} bytes left over after its fields",
                body.len()
            )
            .into());
        }
    }
    if !records.is_empty() {
        return Err(format!(
            "{} bytes follow the {record_count} records the header counts",
            records.len()
        )
        .into());
    }
    Ok(())
}

/// [`SchemaCheck::check`] as a record walk's refusal.
pub fn check_schema_ids(
    check: &SchemaCheck<'_>,
    records: &[u8],
    record_count: i32,
) -> Result<(), RecordProblem> {
    check
        .check(records, record_count)
        .map_err(|(index, why)| RecordProblem::Schema(format!("record {index}: {why}")))
}

/// Why a compressed batch was refused: its records, or its compression.
pub enum CompressedProblem {
    Records(RecordProblem),
    /// Unknown codec (CORRUPT_MESSAGE) or records that do not decompress (INVALID_RECORD).
    Batch(AppendError),
}

/// Decompresses a compressed batch's records and walks them like [`check_records`], so
/// a batch that no consumer could read is refused at produce time, as Kafka's
/// `LogValidator` refuses it. `batch` is one whole batch whose header passed the
/// validator's checks. It costs a decompression: callers run it outside the partition
/// lock. An uncompressed batch passes untouched (its records are walked in place).
pub fn check_compressed_records(
    batch: &Bytes,
    header: &BatchHeader,
    rules: RecordRules,
    schema: Option<&SchemaCheck<'_>>,
) -> Result<(), CompressedProblem> {
    use kafka_protocol::compression::{Decompressor, Gzip, Lz4, Snappy, Zstd};
    let end = header.total_size().min(batch.len());
    if end < RECORD_BATCH_OVERHEAD {
        return Err(CompressedProblem::Batch(AppendError::InvalidRecord(
            "truncated batch".into(),
        )));
    }
    let mut body = batch.slice(RECORD_BATCH_OVERHEAD..end);
    let count = header.record_count;
    let base_timestamp = header.base_timestamp;
    // The schema ids are read from the same decompressed records, once they frame.
    let walk = |records: &mut Bytes| -> anyhow::Result<Result<(), RecordProblem>> {
        Ok(
            check_records(records, count, base_timestamp, rules).and_then(|()| match schema {
                Some(check) => check_schema_ids(check, records, count),
                None => Ok(()),
            }),
        )
    };
    let outcome = match header.compression() {
        0 => return Ok(()),
        1 => Gzip::decompress(&mut body, walk),
        2 => Snappy::decompress(&mut body, walk),
        3 => Lz4::decompress(&mut body, walk),
        4 => Zstd::decompress(&mut body, walk),
        other => {
            return Err(CompressedProblem::Batch(AppendError::CorruptMessage(
                format!("unknown compression codec {other}"),
            )))
        }
    };
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(problem)) => Err(CompressedProblem::Records(problem)),
        Err(e) => Err(CompressedProblem::Batch(AppendError::InvalidRecord(
            format!("cannot decompress the batch's records: {e:#}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_window_applies_to_create_time_topics_only() {
        let now = 10_000_000;
        assert_eq!(
            RecordRules::new(false, true, i64::MAX, i64::MAX, now).timestamp_range,
            None
        );
        assert_eq!(
            RecordRules::new(false, false, 1000, 1000, now).timestamp_range,
            None
        );
        let rules = RecordRules::new(false, true, 1000, 50, now);
        assert_eq!(rules.timestamp_range, Some((now - 1000, now + 50)));
        assert!(rules.timestamp_error(now - 1000, 0).is_none());
        assert!(rules.timestamp_error(now + 50, 0).is_none());
        assert!(rules.timestamp_error(now - 1001, 0).is_some());
        assert!(rules
            .timestamp_error(now + 51, 3)
            .unwrap()
            .contains("offset delta 3"));
        // -1 is "no timestamp", never refused; i64::MAX windows do not overflow.
        assert!(rules.timestamp_error(-1, 0).is_none());
        let wide = RecordRules::new(false, true, i64::MAX, 0, now);
        assert_eq!(wide.timestamp_range, Some((now - i64::MAX, now)));
    }
}
