//! Kafka v2 record-batch headers: parsing, validation on append, and the few
//! in-place rewrites the broker is allowed to do (base offset, partition leader
//! epoch, LogAppendTime timestamps + CRC).
//!
//! This module only ever looks at the fixed 61-byte header and the CRC; it must
//! never decompress or decode records (that is done once, lazily, by timestamp
//! lookups through `kafka_protocol`).

use crate::log::error::AppendError;

/// Size of the v2 batch header (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`).
pub const RECORD_BATCH_OVERHEAD: usize = 61;
/// Bytes before the part counted by `batchLength` (`LOG_OVERHEAD`: baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
/// Smallest legal `batchLength` (header minus `LOG_OVERHEAD`).
pub const MIN_BATCH_LENGTH: i32 = (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i32;

pub const BASE_OFFSET_OFFSET: usize = 0;
pub const BATCH_LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PRODUCER_ID_OFFSET: usize = 43;
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
pub const BASE_SEQUENCE_OFFSET: usize = 53;
pub const RECORDS_COUNT_OFFSET: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_MASK: i16 = 0x08;
const TRANSACTIONAL_MASK: i16 = 0x10;
const CONTROL_MASK: i16 = 0x20;

/// Kafka's `message.timestamp.type` / batch attribute bit 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// A decoded copy of a v2 batch header (all fields are `Copy`, so "zero-copy" here
/// means the record bytes are never touched, only the 61 header bytes are read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

impl BatchHeader {
    /// Parses the 61-byte header at the start of `buf`. Returns `None` if `buf` is
    /// shorter than the header. No field is validated here.
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        if buf.len() < RECORD_BATCH_OVERHEAD {
            return None;
        }
        Some(BatchHeader {
            base_offset: be_i64(buf, BASE_OFFSET_OFFSET),
            batch_length: be_i32(buf, BATCH_LENGTH_OFFSET),
            partition_leader_epoch: be_i32(buf, PARTITION_LEADER_EPOCH_OFFSET),
            magic: buf[MAGIC_OFFSET] as i8,
            crc: be_i32(buf, CRC_OFFSET) as u32,
            attributes: be_i16(buf, ATTRIBUTES_OFFSET),
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: be_i64(buf, BASE_TIMESTAMP_OFFSET),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_OFFSET),
            producer_id: be_i64(buf, PRODUCER_ID_OFFSET),
            producer_epoch: be_i16(buf, PRODUCER_EPOCH_OFFSET),
            base_sequence: be_i32(buf, BASE_SEQUENCE_OFFSET),
            record_count: be_i32(buf, RECORDS_COUNT_OFFSET),
        })
    }

    /// Whole batch size on disk: `LOG_OVERHEAD + batchLength`.
    pub fn total_size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_MASK != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_MASK != 0
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_MASK != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// CRC-32C of a whole batch as Kafka computes it: from `attributes` to the end.
    /// `batch` must be at least `ATTRIBUTES_OFFSET` bytes long.
    pub fn compute_crc(batch: &[u8]) -> u32 {
        crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
    }
}

/// Why a stored batch failed the recovery check; recovery only needs to know it
/// stops being trustworthy there.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanStop {
    /// Fewer bytes than a header or than `batchLength` promises (a torn write).
    Truncated,
    /// Length, magic, offset delta or CRC is wrong.
    Invalid(String),
}

/// Checks one stored batch at the start of `buf` (recovery's view: only
/// structure and CRC, no size limits). Returns the header on success.
pub fn check_stored_batch(buf: &[u8]) -> Result<BatchHeader, ScanStop> {
    check_batch(buf, false)
}

/// Recovery's check of a stored batch in a segment that may have been cleaned: like
/// [`check_stored_batch`], except that a batch may hold fewer records than its offset
/// span (`lastOffsetDelta >= recordCount - 1`), as a batch the cleaner filtered does.
pub fn check_cleaned_batch(buf: &[u8]) -> Result<BatchHeader, ScanStop> {
    check_batch(buf, true)
}

fn check_batch(buf: &[u8], allow_gaps: bool) -> Result<BatchHeader, ScanStop> {
    let h = BatchHeader::parse(buf).ok_or(ScanStop::Truncated)?;
    if h.batch_length < MIN_BATCH_LENGTH {
        return Err(ScanStop::Invalid(format!(
            "batch length {}",
            h.batch_length
        )));
    }
    if h.total_size() > buf.len() {
        return Err(ScanStop::Truncated);
    }
    if h.magic != 2 {
        return Err(ScanStop::Invalid(format!("magic {}", h.magic)));
    }
    let span_ok = if allow_gaps {
        h.last_offset_delta >= h.record_count - 1
    } else {
        h.last_offset_delta == h.record_count - 1
    };
    if h.record_count <= 0 || !span_ok {
        return Err(ScanStop::Invalid(format!(
            "record count {} with last offset delta {}",
            h.record_count, h.last_offset_delta
        )));
    }
    let crc = BatchHeader::compute_crc(&buf[..h.total_size()]);
    if crc != h.crc {
        return Err(ScanStop::Invalid(format!(
            "crc {:08x} != stored {:08x}",
            crc, h.crc
        )));
    }
    Ok(h)
}

/// A batch of an incoming produce payload that passed validation.
#[derive(Clone, Copy, Debug)]
pub struct ValidBatch {
    /// Byte range inside the payload.
    pub start: usize,
    pub header: BatchHeader,
}

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
    /// Kafka INVALID_RECORD: framing, counts, lengths, or a keyless record in a
    /// compacted topic.
    Invalid(String),
    /// Kafka INVALID_TIMESTAMP: a record timestamp outside [`RecordRules::timestamp_range`].
    Timestamp(String),
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
            RecordProblem::Invalid(why) => AppendError::InvalidRecord(format!("{context}{why}")),
            RecordProblem::Timestamp(why) => AppendError::InvalidTimestamp(why),
        }
    }
}

/// Walks the records of an uncompressed batch by their length prefixes, without
/// copying or allocating, and checks that they are exactly `record_count` records whose
/// fields fit their lengths, with offset deltas 0, 1, 2, ... (what Kafka's
/// `DefaultRecord.readFrom` and `LogValidator` check). Compressed batches go through
/// [`check_compressed_records`], which decompresses them first.
pub fn check_uncompressed_records(records: &[u8], record_count: i32) -> Result<(), String> {
    match check_records(records, record_count, 0, RecordRules::default()) {
        Ok(()) => Ok(()),
        Err(RecordProblem::Invalid(why) | RecordProblem::Timestamp(why)) => Err(why),
    }
}

/// Kafka's refusal of a keyless record in a compacted topic (`LogValidator`).
pub const COMPACTED_TOPIC_NEEDS_KEY: &str = "Compacted topic cannot accept message without key";

/// The kind of an end-transaction marker (Kafka's `ControlRecordType`), as the key of
/// a control batch's one record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
}

/// [`check_uncompressed_records`] with the topic's [`RecordRules`]; `base_timestamp` is
/// the batch header's, to which each record's timestamp delta is added.
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
                return Err(format!("record {index}: {COMPACTED_TOPIC_NEEDS_KEY}").into());
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

/// Decompresses a compressed batch's records and walks them like
/// [`check_uncompressed_records`], so a batch that no consumer could read is refused at
/// produce time, as Kafka's `LogValidator` refuses it. `batch` is one whole batch.
/// Callers run this outside the partition lock: it costs a decompression.
pub fn check_compressed_records(batch: &bytes::Bytes) -> Result<(), AppendError> {
    check_compressed_records_with(batch, RecordRules::default())
}

/// [`check_compressed_records`] with the topic's [`RecordRules`].
pub fn check_compressed_records_with(
    batch: &bytes::Bytes,
    rules: RecordRules,
) -> Result<(), AppendError> {
    use kafka_protocol::compression::{Decompressor, Gzip, Lz4, Snappy, Zstd};
    let header = BatchHeader::parse(batch)
        .ok_or_else(|| AppendError::InvalidRecord("truncated batch header".into()))?;
    let end = header.total_size().min(batch.len());
    if end < RECORD_BATCH_OVERHEAD {
        return Err(AppendError::InvalidRecord("truncated batch".into()));
    }
    let mut body = batch.slice(RECORD_BATCH_OVERHEAD..end);
    let count = header.record_count;
    let base_timestamp = header.base_timestamp;
    let walk = |records: &mut bytes::Bytes| -> anyhow::Result<Result<(), RecordProblem>> {
        Ok(check_records(records, count, base_timestamp, rules))
    };
    let outcome = match header.compression() {
        0 => return Ok(()),
        1 => Gzip::decompress(&mut body, walk),
        2 => Snappy::decompress(&mut body, walk),
        3 => Lz4::decompress(&mut body, walk),
        4 => Zstd::decompress(&mut body, walk),
        other => {
            return Err(AppendError::CorruptMessage(format!(
                "unknown compression codec {other}"
            )))
        }
    };
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(problem)) => Err(problem.into_append_error("")),
        Err(e) => Err(AppendError::InvalidRecord(format!(
            "cannot decompress the batch's records: {e:#}"
        ))),
    }
}

/// The marker type and coordinator epoch of a control batch (Kafka's
/// `ControlRecordType` in the first record's key: version i16, type i16, 0 = ABORT,
/// 1 = COMMIT; the value holds version i16 and the coordinator epoch i32). Control
/// batches are never compressed. `None` for anything else.
pub fn control_record_type(batch: &[u8]) -> Option<(ControlType, i32)> {
    let h = BatchHeader::parse(batch)?;
    if !h.is_control() || h.compression() != 0 {
        return None;
    }
    let mut rec = batch.get(RECORD_BATCH_OVERHEAD..h.total_size().min(batch.len()))?;
    read_varint(&mut rec)?; // record length
    take(&mut rec, 1)?; // attributes
    read_varlong(&mut rec)?;
    read_varint(&mut rec)?;
    let key_len = read_varint(&mut rec)?;
    if key_len < 4 {
        return None;
    }
    let key = take(&mut rec, key_len as usize)?;
    let kind = match i16::from_be_bytes([key[2], key[3]]) {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        _ => return None,
    };
    let value_len = read_varint(&mut rec)?;
    let coordinator_epoch = match take(&mut rec, value_len.max(0) as usize) {
        Some(v) if v.len() >= 6 => i32::from_be_bytes([v[2], v[3], v[4], v[5]]),
        _ => -1,
    };
    Some((kind, coordinator_epoch))
}

/// An end-transaction marker batch as Kafka writes it: transactional + control
/// attributes, no sequence, one record whose key is (version 0, type) and whose value
/// is (version 0, coordinator epoch). Base offset 0; `append` assigns the real one.
pub fn end_txn_marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Vec<u8> {
    let mut record = vec![0u8, 0, 0]; // attributes, timestamp delta 0, offset delta 0
    record.push(8); // key length 4 (zigzag)
    record.extend_from_slice(&0i16.to_be_bytes());
    record.extend_from_slice(&(commit as i16).to_be_bytes());
    record.push(12); // value length 6 (zigzag)
    record.extend_from_slice(&0i16.to_be_bytes());
    record.extend_from_slice(&coordinator_epoch.to_be_bytes());
    record.push(0); // no headers
    let mut b = Vec::with_capacity(RECORD_BATCH_OVERHEAD + 1 + record.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    let batch_length = (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD + 1 + record.len()) as i32;
    b.extend_from_slice(&batch_length.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&[0; 4]); // crc, below
    b.extend_from_slice(&0x30i16.to_be_bytes()); // transactional | control
    b.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&producer_epoch.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&1i32.to_be_bytes()); // record count
    b.push((record.len() as u8) << 1); // record length (zigzag varint, < 64)
    b.extend_from_slice(&record);
    let crc = BatchHeader::compute_crc(&b);
    b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    b
}

/// The next `n` bytes of a record being walked (the record readers below serve the
/// produce checks here and the cleaner's record walk).
pub(crate) fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

/// Zigzag varint (Kafka's `ByteUtils.readVarint`), at most 5 bytes.
pub(crate) fn read_varint(buf: &mut &[u8]) -> Option<i32> {
    let raw = read_unsigned(buf, 5)?;
    let raw = u32::try_from(raw).ok()?;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Zigzag varlong, at most 10 bytes.
pub(crate) fn read_varlong(buf: &mut &[u8]) -> Option<i64> {
    let raw = read_unsigned(buf, 10)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn read_unsigned(buf: &mut &[u8], max_bytes: usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let byte = *buf.get(i)?;
        value |= ((byte & 0x7f) as u64) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Some(value);
        }
    }
    None
}

pub fn validate_payload(
    payload: &[u8],
    max_message_bytes: u32,
) -> Result<Vec<ValidBatch>, AppendError> {
    validate_payload_with(payload, max_message_bytes, RecordRules::default())
}

/// [`validate_payload`] with the topic's [`RecordRules`] for the records of
/// uncompressed batches (compressed batches are checked by
/// [`check_compressed_records_with`] before the partition lock is taken).
pub fn validate_payload_with(
    payload: &[u8],
    max_message_bytes: u32,
    rules: RecordRules,
) -> Result<Vec<ValidBatch>, AppendError> {
    if payload.is_empty() {
        return Err(AppendError::InvalidRecord(
            "a produce must carry at least one record batch".into(),
        ));
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < payload.len() {
        let rest = &payload[pos..];
        if rest.len() <= MAGIC_OFFSET {
            return Err(AppendError::InvalidRecord(format!(
                "{} trailing bytes at position {pos} are not a record batch",
                rest.len()
            )));
        }
        let magic = rest[MAGIC_OFFSET] as i8;
        if magic == 0 || magic == 1 {
            return Err(AppendError::InvalidRecord(format!(
                "record batches with magic {magic} are not accepted; only magic 2 (Kafka 0.11+) is"
            )));
        }
        if magic != 2 {
            return Err(AppendError::CorruptMessage(format!(
                "unknown magic {magic} at position {pos}"
            )));
        }
        let h = BatchHeader::parse(rest).ok_or_else(|| {
            AppendError::InvalidRecord(format!("truncated batch header at position {pos}"))
        })?;
        if h.batch_length < MIN_BATCH_LENGTH {
            return Err(AppendError::CorruptMessage(format!(
                "batch length {} below minimum {MIN_BATCH_LENGTH} at position {pos}",
                h.batch_length
            )));
        }
        let size = h.total_size();
        if size > rest.len() {
            return Err(AppendError::InvalidRecord(format!(
                "batch length {} runs past the end of the payload at position {pos}",
                h.batch_length
            )));
        }
        if size > max_message_bytes as usize {
            return Err(AppendError::MessageTooLarge {
                size,
                max: max_message_bytes,
            });
        }
        let crc = BatchHeader::compute_crc(&rest[..size]);
        if crc != h.crc {
            return Err(AppendError::CorruptMessage(format!(
                "record batch crc {crc:08x} does not match stored {:08x}",
                h.crc
            )));
        }
        // Kafka's LogValidator rejects client batches with no records: a batch must
        // occupy at least one offset, otherwise offsets would not be contiguous.
        if h.record_count <= 0 {
            return Err(AppendError::InvalidRecord(format!(
                "invalid record count {}",
                h.record_count
            )));
        }
        if h.last_offset_delta != h.record_count - 1 {
            return Err(AppendError::InvalidRecord(format!(
                "last offset delta {} inconsistent with record count {}",
                h.last_offset_delta, h.record_count
            )));
        }
        if h.compression() == 0 {
            // Control batches (transaction markers, written by the coordinators, never
            // by clients) always carry their key and the coordinator's clock.
            let rules = if h.is_control() {
                RecordRules::default()
            } else {
                rules
            };
            check_records(
                &rest[RECORD_BATCH_OVERHEAD..size],
                h.record_count,
                h.base_timestamp,
                rules,
            )
            .map_err(|p| p.into_append_error(&format!("batch at position {pos}: ")))?;
        }
        out.push(ValidBatch {
            start: pos,
            header: h,
        });
        pos += size;
    }
    Ok(out)
}

/// Rewrites the broker-owned fields of a batch copy in `buf` (one whole batch).
/// `base_offset` and the leader epoch are outside the CRC; a LogAppendTime
/// rewrite changes covered fields, so the CRC is recomputed then.
pub fn assign_offset_and_time(buf: &mut [u8], base_offset: i64, log_append_time: Option<i64>) {
    buf[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
    buf[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&0i32.to_be_bytes());
    if let Some(now) = log_append_time {
        let attrs = be_i16(buf, ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_MASK;
        buf[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attrs.to_be_bytes());
        buf[BASE_TIMESTAMP_OFFSET..BASE_TIMESTAMP_OFFSET + 8].copy_from_slice(&now.to_be_bytes());
        buf[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&now.to_be_bytes());
        let crc = BatchHeader::compute_crc(buf);
        buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }
}

#[cfg(test)]
mod record_rules_tests {
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
