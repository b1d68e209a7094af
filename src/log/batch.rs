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
    if h.record_count <= 0 || h.last_offset_delta != h.record_count - 1 {
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

/// Validates a produce payload without writing anything (Kafka's
/// `analyzeAndValidateRecords` + the v2 checks of `LogValidator`), so an append is
/// all-or-nothing. Checks in Kafka's order: framing, magic, size, CRC, counts.
pub fn validate_payload(
    payload: &[u8],
    max_message_bytes: u32,
) -> Result<Vec<ValidBatch>, AppendError> {
    if payload.is_empty() {
        return Err(AppendError::CorruptMessage("empty record set".into()));
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < payload.len() {
        let rest = &payload[pos..];
        if rest.len() <= MAGIC_OFFSET {
            return Err(AppendError::CorruptMessage(format!(
                "{} trailing bytes at position {pos} are not a record batch",
                rest.len()
            )));
        }
        let magic = rest[MAGIC_OFFSET] as i8;
        if magic == 0 || magic == 1 {
            return Err(AppendError::UnsupportedForMessageFormat(magic));
        }
        if magic != 2 {
            return Err(AppendError::CorruptMessage(format!(
                "unknown magic {magic} at position {pos}"
            )));
        }
        let h = BatchHeader::parse(rest).ok_or_else(|| {
            AppendError::CorruptMessage(format!("truncated batch header at position {pos}"))
        })?;
        if h.batch_length < MIN_BATCH_LENGTH {
            return Err(AppendError::CorruptMessage(format!(
                "batch length {} below minimum {MIN_BATCH_LENGTH} at position {pos}",
                h.batch_length
            )));
        }
        let size = h.total_size();
        if size > rest.len() {
            return Err(AppendError::CorruptMessage(format!(
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
            return Err(AppendError::CorruptMessage(format!(
                "invalid record count {}",
                h.record_count
            )));
        }
        if h.last_offset_delta != h.record_count - 1 {
            return Err(AppendError::CorruptMessage(format!(
                "last offset delta {} inconsistent with record count {}",
                h.last_offset_delta, h.record_count
            )));
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
