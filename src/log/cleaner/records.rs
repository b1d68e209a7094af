//! Record-level access for the cleaner: walking the records of a stored batch
//! (decompressing it if needed), and rebuilding a batch that keeps only some of them.
//!
//! A rebuilt batch keeps the original header's base offset, last offset delta, base
//! timestamp, attributes (codec, timestamp type, transactional, control) and producer
//! id/epoch/base sequence, as Kafka's cleaner does; only the record count, the max
//! timestamp (CreateTime), the length and the CRC change. Kept records are copied byte
//! for byte: their offset and timestamp deltas stay valid because the base offset and
//! base timestamp do not move. This module must never touch files or the partition's
//! state, and never re-encode a record it keeps.

use bytes::{Bytes, BytesMut};

use crate::log::batch::{
    read_varint, read_varlong, take, BatchHeader, BATCH_LENGTH_OFFSET, CRC_OFFSET, LOG_OVERHEAD,
    MAX_TIMESTAMP_OFFSET, RECORDS_COUNT_OFFSET, RECORD_BATCH_OVERHEAD,
};
use crate::log::TimestampType;

/// One record of a batch, borrowed from the (decompressed) records buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawRecord<'a> {
    /// The whole record, length prefix included.
    pub raw: &'a [u8],
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    /// False for a tombstone (null value).
    pub has_value: bool,
}

fn parse_record<'a>(buf: &mut &'a [u8]) -> Option<RawRecord<'a>> {
    let start = *buf;
    let len = read_varint(buf)?;
    let body_start = start.len() - buf.len();
    let mut body = take(buf, usize::try_from(len).ok()?)?;
    let raw = &start[..body_start + len as usize];
    take(&mut body, 1)?; // attributes
    let timestamp_delta = read_varlong(&mut body)?;
    let offset_delta = read_varint(&mut body)?;
    let key_len = read_varint(&mut body)?;
    let key = if key_len >= 0 {
        Some(take(&mut body, key_len as usize)?)
    } else {
        None
    };
    let value_len = read_varint(&mut body)?;
    if value_len >= 0 {
        take(&mut body, value_len as usize)?;
    }
    Some(RawRecord {
        raw,
        offset_delta,
        timestamp_delta,
        key,
        has_value: value_len >= 0,
    })
}

/// The `count` records of an uncompressed records buffer.
pub fn walk(mut body: &[u8], count: i32) -> Result<Vec<RawRecord<'_>>, String> {
    let mut out = Vec::with_capacity(count.max(0) as usize);
    for i in 0..count {
        out.push(parse_record(&mut body).ok_or_else(|| format!("record {i} is malformed"))?);
    }
    Ok(out)
}

macro_rules! with_codec {
    ($codec:expr, $c:ident => $body:expr) => {{
        use kafka_protocol::compression::{Gzip, Lz4, Snappy, Zstd};
        match $codec {
            1 => {
                type $c = Gzip;
                $body
            }
            2 => {
                type $c = Snappy;
                $body
            }
            3 => {
                type $c = Lz4;
                $body
            }
            4 => {
                type $c = Zstd;
                $body
            }
            other => Err(format!("unknown compression codec {other}")),
        }
    }};
}

/// The records buffer of a whole stored batch, decompressed if needed (zero-copy for
/// an uncompressed batch).
pub fn records_of(batch: &Bytes, h: &BatchHeader) -> Result<Bytes, String> {
    use kafka_protocol::compression::Decompressor;
    let mut body = batch.slice(RECORD_BATCH_OVERHEAD..h.total_size());
    if h.compression() == 0 {
        return Ok(body);
    }
    with_codec!(h.compression(), C => {
        <C as Decompressor<Bytes>>::decompress(&mut body, |b: &mut Bytes| Ok(b.clone()))
            .map_err(|e| format!("cannot decompress batch at offset {}: {e:#}", h.base_offset))
    })
}

/// `plain` (an uncompressed records buffer) compressed with codec id `codec`
/// (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), as the records part of a v2 batch.
pub fn compress(codec: u8, plain: &[u8]) -> Result<Vec<u8>, String> {
    use kafka_protocol::compression::Compressor;
    if codec == 0 {
        return Ok(plain.to_vec());
    }
    let mut out = BytesMut::new();
    with_codec!(codec, C => {
        <C as Compressor<BytesMut>>::compress(&mut out, |tmp: &mut BytesMut| {
            tmp.extend_from_slice(plain);
            Ok(())
        })
        .map_err(|e| format!("cannot compress records with codec {codec}: {e:#}"))
    })?;
    Ok(out.to_vec())
}

/// A copy of `batch` (one whole stored batch with header `h`) keeping only `kept`
/// (records of that batch, in order, at least one).
pub fn rebuild(batch: &[u8], h: &BatchHeader, kept: &[RawRecord<'_>]) -> Result<Vec<u8>, String> {
    let mut plain = Vec::with_capacity(kept.iter().map(|r| r.raw.len()).sum());
    for r in kept {
        plain.extend_from_slice(r.raw);
    }
    let body = compress(h.compression(), &plain)
        .map_err(|e| format!("batch at offset {}: {e}", h.base_offset))?;
    let mut b = Vec::with_capacity(RECORD_BATCH_OVERHEAD + body.len());
    b.extend_from_slice(&batch[..RECORD_BATCH_OVERHEAD]);
    b.extend_from_slice(&body);
    let batch_length = (b.len() - LOG_OVERHEAD) as i32;
    b[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&batch_length.to_be_bytes());
    b[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4]
        .copy_from_slice(&(kept.len() as i32).to_be_bytes());
    if h.timestamp_type() == TimestampType::CreateTime {
        let max = kept
            .iter()
            .map(|r| h.base_timestamp.saturating_add(r.timestamp_delta))
            .max()
            .unwrap_or(h.max_timestamp);
        b[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&max.to_be_bytes());
    }
    let crc = BatchHeader::compute_crc(&b);
    b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(b)
}
