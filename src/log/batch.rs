//! Kafka v2 record-batch headers: parsing, the structure and CRC check of a stored
//! batch (recovery, the cleaner, `dump-log --verify`), the few in-place rewrites the
//! broker is allowed to do (base offset, partition leader epoch, LogAppendTime
//! timestamps + CRC), end-transaction marker batches, and the varint readers record
//! walks share.
//!
//! This module only ever looks at the fixed 61-byte header, the CRC and the one
//! record of a control batch; it must never decompress or walk a batch's records.
//! Deciding whether a produced payload may be appended is the validator's job
//! (`crate::log::validator`); reading records lazily is `kafka_protocol`'s.

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

/// The kind of an end-transaction marker (Kafka's `ControlRecordType`), as the key of
/// a control batch's one record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
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
/// validator's and the cleaner's record walks).
pub(crate) fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

pub(crate) fn put_varint(buf: &mut bytes::BytesMut, v: i32) {
    put_varlong(buf, v as i64);
}

/// Kafka's zigzag varint (the record format's): 7 bits at a time, low first. A value
/// that fits an i32 takes the same bytes as a 32-bit varint.
pub(crate) fn put_varlong(buf: &mut bytes::BytesMut, v: i64) {
    let mut raw = ((v << 1) ^ (v >> 63)) as u64;
    while raw >= 0x80 {
        bytes::BufMut::put_u8(buf, (raw as u8) | 0x80);
        raw >>= 7;
    }
    bytes::BufMut::put_u8(buf, raw as u8);
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
