//! The `.sluice` export archive: a topic's committed records in zstd-compressed,
//! checksummed blocks. storage-format.md ("Export archive") specifies every byte;
//! `archive_doc_test.rs` keeps that section and this code from drifting apart.
//!
//! It owns the encoding and decoding of archives and nothing else: it never talks to a
//! broker and never decides which records go in (that is `export.rs`). A reader must
//! never hand out a record it has not checked: each block is verified (CRC-32C over
//! its header fields and compressed bytes, exact decompressed length, exact record
//! count) before any of its records is returned, and an archive that ends without its
//! end block is reported as truncated, never as a shorter history.

use std::fmt;
use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::records::TimestampType;

use super::records::Header;
use crate::log::batch::{put_varint, put_varlong, read_varint, read_varlong};

/// First 8 bytes of every archive.
pub const MAGIC: &[u8; 8] = b"SLUICEAR";
/// The only version this code writes and reads.
pub const VERSION: u16 = 1;
/// First 4 bytes of a data block.
pub const BLOCK_MAGIC: &[u8; 4] = b"SLBK";
/// First 4 bytes of the end block.
pub const END_MAGIC: &[u8; 4] = b"SLND";
/// Size of a data block's header (magic, record count, two lengths, CRC).
pub const BLOCK_HEADER_BYTES: usize = 20;
/// Size of the end block (magic, total record count, CRC).
pub const END_BLOCK_BYTES: usize = 16;
/// A writer closes a block once its uncompressed records reach this size.
pub const TARGET_BLOCK_BYTES: usize = 1 << 20;
/// Largest uncompressed block a reader accepts (bounds the memory one block takes; a
/// single record larger than this cannot be archived).
pub const MAX_BLOCK_BYTES: usize = 64 << 20;
/// Longest topic name Kafka allows.
pub const MAX_TOPIC_NAME_BYTES: usize = 249;
/// zstd level of the blocks (zstd's default: a good ratio at a small cost).
const ZSTD_LEVEL: i32 = 3;

/// One record as an archive keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_type: TimestampType,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// In the record's order, repeated keys included.
    pub headers: Vec<Header>,
}

/// What the file header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveHeader {
    pub topic: String,
    pub partition_count: i32,
}

/// Why an archive cannot be read.
#[derive(Debug)]
pub enum ArchiveError {
    /// The file ends before its end block: an export that did not finish, or a copy
    /// cut short. `records` complete, verified records precede the tear.
    Truncated {
        at: u64,
        records: u64,
    },
    /// Bytes that are not what the format says (wrong magic, CRC mismatch, bad
    /// lengths, bytes after the end block...).
    Corrupt {
        at: u64,
        why: String,
    },
    Io(std::io::Error),
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::Truncated { at, records } => write!(
                f,
                "the archive is truncated at byte {at} (after {records} complete records, \
                 without its end block): the export that wrote it did not finish"
            ),
            ArchiveError::Corrupt { at, why } => {
                write!(f, "the archive is corrupt at byte {at}: {why}")
            }
            ArchiveError::Io(e) => write!(f, "reading the archive: {e}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

fn corrupt(at: u64, why: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt {
        at,
        why: why.into(),
    }
}

/// The file header's bytes.
pub fn encode_header(h: &ArchiveHeader) -> Vec<u8> {
    let mut b = Vec::with_capacity(22 + h.topic.len());
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&h.partition_count.to_be_bytes());
    b.extend_from_slice(&(h.topic.len() as u16).to_be_bytes());
    b.extend_from_slice(h.topic.as_bytes());
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    b
}

/// Appends one record's bytes (the layout inside a block's decompressed payload).
pub fn encode_record(buf: &mut BytesMut, r: &ArchiveRecord) {
    fn put_bytes(buf: &mut BytesMut, b: Option<&[u8]>) {
        match b {
            None => put_varint(buf, -1),
            Some(b) => {
                put_varint(buf, b.len() as i32);
                buf.put_slice(b);
            }
        }
    }
    put_varint(buf, r.partition);
    put_varlong(buf, r.offset);
    buf.put_u8(match r.timestamp_type {
        TimestampType::Creation => 0,
        TimestampType::LogAppend => 1,
    });
    put_varlong(buf, r.timestamp);
    put_bytes(buf, r.key.as_deref());
    put_bytes(buf, r.value.as_deref());
    put_varint(buf, r.headers.len() as i32);
    for (k, v) in &r.headers {
        put_bytes(buf, Some(k.as_bytes()));
        put_bytes(buf, v.as_deref());
    }
}

/// Decodes the records of one block's decompressed payload; exactly `count` records
/// must fill it.
pub fn decode_records(payload: Bytes, count: u32) -> Result<Vec<ArchiveRecord>, String> {
    const EARLY: &str = "a record ends early";
    let mut cur: &[u8] = &payload;
    // Zero-copy slices of `payload` for keys and values.
    let get_bytes = |cur: &mut &[u8]| -> Result<Option<Bytes>, String> {
        let len = read_varint(cur).ok_or(EARLY)?;
        if len < -1 {
            return Err(format!("bad length {len}"));
        }
        if len == -1 {
            return Ok(None);
        }
        if len as usize > cur.len() {
            return Err(format!("a length of {len} runs past the block"));
        }
        let at = payload.len() - cur.len();
        *cur = &cur[len as usize..];
        Ok(Some(payload.slice(at..at + len as usize)))
    };
    let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let partition = read_varint(&mut cur).ok_or(EARLY)?;
        let offset = read_varlong(&mut cur).ok_or(EARLY)?;
        if partition < 0 || offset < 0 {
            return Err(format!("negative partition {partition} or offset {offset}"));
        }
        let (&t, rest) = cur.split_first().ok_or(EARLY)?;
        cur = rest;
        let timestamp_type = match t {
            0 => TimestampType::Creation,
            1 => TimestampType::LogAppend,
            t => return Err(format!("unknown timestamp type {t}")),
        };
        let timestamp = read_varlong(&mut cur).ok_or(EARLY)?;
        let key = get_bytes(&mut cur)?;
        let value = get_bytes(&mut cur)?;
        let n = read_varint(&mut cur).ok_or(EARLY)?;
        if n < 0 || n as usize > cur.len() {
            return Err(format!("bad header count {n}"));
        }
        let mut headers = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let k = get_bytes(&mut cur)?.ok_or("a header key is null")?;
            let k = String::from_utf8(k.to_vec()).map_err(|_| "a header key is not UTF-8")?;
            headers.push((k, get_bytes(&mut cur)?));
        }
        out.push(ArchiveRecord {
            partition,
            offset,
            timestamp_type,
            timestamp,
            key,
            value,
            headers,
        });
    }
    if !cur.is_empty() {
        return Err(format!(
            "{} bytes left after the block's {count} records",
            cur.len()
        ));
    }
    Ok(out)
}

/// Writes an archive: the header at once, records in blocks, the end block at
/// [`finish`](Self::finish). Without `finish` the file reads as truncated.
pub struct ArchiveWriter<W: Write> {
    out: W,
    block: BytesMut,
    in_block: u32,
    total: u64,
}

impl<W: Write> ArchiveWriter<W> {
    pub fn new(mut out: W, header: &ArchiveHeader) -> std::io::Result<ArchiveWriter<W>> {
        out.write_all(&encode_header(header))?;
        Ok(ArchiveWriter {
            out,
            block: BytesMut::with_capacity(TARGET_BLOCK_BYTES + 4096),
            in_block: 0,
            total: 0,
        })
    }

    pub fn write(&mut self, r: &ArchiveRecord) -> std::io::Result<()> {
        let before = self.block.len();
        encode_record(&mut self.block, r);
        if self.block.len() > MAX_BLOCK_BYTES {
            return Err(std::io::Error::other(format!(
                "record {}-{} takes {} bytes, more than an archive block holds ({MAX_BLOCK_BYTES})",
                r.partition,
                r.offset,
                self.block.len() - before
            )));
        }
        self.in_block += 1;
        self.total += 1;
        if self.block.len() >= TARGET_BLOCK_BYTES {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> std::io::Result<()> {
        if self.in_block == 0 {
            return Ok(());
        }
        let compressed = zstd::bulk::compress(&self.block, ZSTD_LEVEL)?;
        self.out
            .write_all(&block_header(self.in_block, self.block.len(), &compressed))?;
        self.out.write_all(&compressed)?;
        self.block.clear();
        self.in_block = 0;
        Ok(())
    }

    /// Closes the last block and writes the end block; returns the writer and the
    /// number of records written.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.flush_block()?;
        let mut end = Vec::with_capacity(END_BLOCK_BYTES);
        end.extend_from_slice(END_MAGIC);
        end.extend_from_slice(&self.total.to_be_bytes());
        let crc = crc32c::crc32c(&end);
        end.extend_from_slice(&crc.to_be_bytes());
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok((self.out, self.total))
    }
}

/// A data block's 20-byte header for `compressed` (holding `count` records whose
/// uncompressed bytes number `raw_len`).
pub fn block_header(count: u32, raw_len: usize, compressed: &[u8]) -> [u8; BLOCK_HEADER_BYTES] {
    let mut h = [0u8; BLOCK_HEADER_BYTES];
    h[0..4].copy_from_slice(BLOCK_MAGIC);
    h[4..8].copy_from_slice(&count.to_be_bytes());
    h[8..12].copy_from_slice(&(raw_len as u32).to_be_bytes());
    h[12..16].copy_from_slice(&(compressed.len() as u32).to_be_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[4..16]), compressed);
    h[16..20].copy_from_slice(&crc.to_be_bytes());
    h
}

/// Reads and verifies an archive block by block.
pub struct ArchiveReader<R: Read> {
    input: R,
    header: ArchiveHeader,
    /// Byte position of the next block.
    at: u64,
    records: u64,
    done: bool,
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> ArchiveReader<R> {
    /// Reads and checks the file header.
    pub fn open(mut input: R) -> Result<ArchiveReader<R>, ArchiveError> {
        let mut fixed = [0u8; 18];
        let n = read_full(&mut input, &mut fixed).map_err(ArchiveError::Io)?;
        if n >= 8 && &fixed[0..8] != MAGIC || n < 8 && fixed[..n] != MAGIC[..n] {
            return Err(corrupt(0, "not a Sluice archive (wrong magic)"));
        }
        if n < 18 {
            return Err(ArchiveError::Truncated { at: 0, records: 0 });
        }
        let version = u16::from_be_bytes([fixed[8], fixed[9]]);
        if version != VERSION {
            return Err(corrupt(
                8,
                format!("archive version {version} (this sluice reads version {VERSION})"),
            ));
        }
        let flags = u16::from_be_bytes([fixed[10], fixed[11]]);
        if flags != 0 {
            return Err(corrupt(10, format!("unknown flags {flags:#06x}")));
        }
        let partition_count = i32::from_be_bytes(fixed[12..16].try_into().expect("4 bytes"));
        let name_len = u16::from_be_bytes([fixed[16], fixed[17]]) as usize;
        if partition_count < 1 {
            return Err(corrupt(12, format!("partition count {partition_count}")));
        }
        if name_len == 0 || name_len > MAX_TOPIC_NAME_BYTES {
            return Err(corrupt(16, format!("topic name length {name_len}")));
        }
        let mut rest = vec![0u8; name_len + 4];
        let n = read_full(&mut input, &mut rest).map_err(ArchiveError::Io)?;
        if n < rest.len() {
            return Err(ArchiveError::Truncated { at: 0, records: 0 });
        }
        let crc = u32::from_be_bytes(rest[name_len..].try_into().expect("4 bytes"));
        let computed = crc32c::crc32c_append(crc32c::crc32c(&fixed), &rest[..name_len]);
        if crc != computed {
            return Err(corrupt(18 + name_len as u64, "file header CRC mismatch"));
        }
        let topic = String::from_utf8(rest[..name_len].to_vec())
            .map_err(|_| corrupt(18, "the topic name is not UTF-8"))?;
        Ok(ArchiveReader {
            input,
            header: ArchiveHeader {
                topic,
                partition_count,
            },
            at: (22 + name_len) as u64,
            records: 0,
            done: false,
        })
    }

    pub fn header(&self) -> &ArchiveHeader {
        &self.header
    }

    /// Verified records read so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// The next block's records, verified; `None` after the end block (and only when
    /// nothing follows it).
    pub fn next_block(&mut self) -> Result<Option<Vec<ArchiveRecord>>, ArchiveError> {
        if self.done {
            return Ok(None);
        }
        let truncated = ArchiveError::Truncated {
            at: self.at,
            records: self.records,
        };
        let mut magic = [0u8; 4];
        let n = read_full(&mut self.input, &mut magic).map_err(ArchiveError::Io)?;
        if n < 4 {
            return Err(truncated);
        }
        if &magic == END_MAGIC {
            let mut rest = [0u8; END_BLOCK_BYTES - 4];
            if read_full(&mut self.input, &mut rest).map_err(ArchiveError::Io)? < rest.len() {
                return Err(truncated);
            }
            let total = u64::from_be_bytes(rest[0..8].try_into().expect("8 bytes"));
            let crc = u32::from_be_bytes(rest[8..12].try_into().expect("4 bytes"));
            if crc != crc32c::crc32c_append(crc32c::crc32c(END_MAGIC), &rest[0..8]) {
                return Err(corrupt(self.at, "end block CRC mismatch"));
            }
            if total != self.records {
                return Err(corrupt(
                    self.at,
                    format!(
                        "the end block counts {total} records but the blocks hold {}",
                        self.records
                    ),
                ));
            }
            let mut extra = [0u8; 1];
            if read_full(&mut self.input, &mut extra).map_err(ArchiveError::Io)? != 0 {
                return Err(corrupt(
                    self.at + END_BLOCK_BYTES as u64,
                    "bytes after the end block",
                ));
            }
            self.done = true;
            return Ok(None);
        }
        if &magic != BLOCK_MAGIC {
            return Err(corrupt(self.at, "expected a block (wrong block magic)"));
        }
        let mut h = [0u8; BLOCK_HEADER_BYTES - 4];
        if read_full(&mut self.input, &mut h).map_err(ArchiveError::Io)? < h.len() {
            return Err(truncated);
        }
        let count = u32::from_be_bytes(h[0..4].try_into().expect("4 bytes"));
        let raw_len = u32::from_be_bytes(h[4..8].try_into().expect("4 bytes")) as usize;
        let comp_len = u32::from_be_bytes(h[8..12].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_be_bytes(h[12..16].try_into().expect("4 bytes"));
        if count == 0
            || raw_len > MAX_BLOCK_BYTES
            || comp_len > zstd::zstd_safe::compress_bound(MAX_BLOCK_BYTES)
        {
            return Err(corrupt(
                self.at,
                format!("block header out of bounds: {count} records, {raw_len} bytes, {comp_len} compressed"),
            ));
        }
        let mut compressed = vec![0u8; comp_len];
        if read_full(&mut self.input, &mut compressed).map_err(ArchiveError::Io)? < comp_len {
            return Err(truncated);
        }
        if crc != crc32c::crc32c_append(crc32c::crc32c(&h[0..12]), &compressed) {
            return Err(corrupt(self.at, "block CRC mismatch"));
        }
        let raw = zstd::bulk::decompress(&compressed, raw_len)
            .map_err(|e| corrupt(self.at, format!("block does not decompress: {e}")))?;
        if raw.len() != raw_len {
            return Err(corrupt(
                self.at,
                format!("block decompresses to {} bytes, not {raw_len}", raw.len()),
            ));
        }
        let records =
            decode_records(Bytes::from(raw), count).map_err(|why| corrupt(self.at, why))?;
        self.at += (BLOCK_HEADER_BYTES + comp_len) as u64;
        self.records += count as u64;
        Ok(Some(records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(i: i64) -> ArchiveRecord {
        ArchiveRecord {
            partition: (i % 3) as i32,
            offset: i,
            timestamp_type: TimestampType::Creation,
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![i as u8; (i % 100) as usize])),
            headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
        }
    }

    fn write_all(records: &[ArchiveRecord]) -> Vec<u8> {
        let header = ArchiveHeader {
            topic: "t".into(),
            partition_count: 3,
        };
        let mut w = ArchiveWriter::new(Vec::new(), &header).unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        w.finish().unwrap().0
    }

    fn read_all(bytes: &[u8]) -> Result<(ArchiveHeader, Vec<ArchiveRecord>), ArchiveError> {
        let mut r = ArchiveReader::open(bytes)?;
        let mut out = Vec::new();
        while let Some(block) = r.next_block()? {
            out.extend(block);
        }
        Ok((r.header().clone(), out))
    }

    fn arb_bytes() -> impl Strategy<Value = Option<Bytes>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from))
    }

    fn arb_record() -> impl Strategy<Value = ArchiveRecord> {
        (
            0..i32::MAX,
            0..i64::MAX,
            any::<bool>(),
            any::<i64>(),
            arb_bytes(),
            arb_bytes(),
            proptest::collection::vec((".{0,8}", arb_bytes()), 0..4),
        )
            .prop_map(
                |(partition, offset, log_append, timestamp, key, value, headers)| ArchiveRecord {
                    partition,
                    offset,
                    timestamp_type: if log_append {
                        TimestampType::LogAppend
                    } else {
                        TimestampType::Creation
                    },
                    timestamp,
                    key,
                    value,
                    headers,
                },
            )
    }

    proptest! {
        #[test]
        fn archives_round_trip(records in proptest::collection::vec(arb_record(), 0..60)) {
            let bytes = write_all(&records);
            let (header, back) = read_all(&bytes).unwrap();
            prop_assert_eq!(header.topic, "t");
            prop_assert_eq!(header.partition_count, 3);
            prop_assert_eq!(back, records);
        }

        #[test]
        fn any_torn_tail_is_reported_never_read_as_shorter(cut in 0usize..10_000) {
            let records: Vec<_> = (0..50).map(record).collect();
            let bytes = write_all(&records);
            let cut = cut % bytes.len();
            match read_all(&bytes[..cut]) {
                Err(ArchiveError::Truncated { .. }) => {}
                // A cut inside the magic cannot be told from another file's bytes.
                Err(ArchiveError::Corrupt { at: 0, .. }) if cut < 8 => {}
                other => prop_assert!(false, "cut at {} read as {:?}", cut, other.map(|r| r.1.len())),
            }
        }
    }

    #[test]
    fn many_blocks_and_a_tear_between_them() {
        // Values big enough for several 1 MiB blocks.
        let records: Vec<_> = (0..40)
            .map(|i| ArchiveRecord {
                value: Some(Bytes::from(
                    (0..100_000u32)
                        .map(|x| (x.wrapping_mul(2654435761) >> 13) as u8 ^ i as u8)
                        .collect::<Vec<u8>>(),
                )),
                ..record(i)
            })
            .collect();
        let bytes = write_all(&records);
        assert_eq!(read_all(&bytes).unwrap().1, records);
        // Cut right after the first block: the reader counts its records and stops.
        let header_len = encode_header(&ArchiveHeader {
            topic: "t".into(),
            partition_count: 3,
        })
        .len();
        let first_len =
            u32::from_be_bytes(bytes[header_len + 12..header_len + 16].try_into().unwrap());
        let cut = header_len + BLOCK_HEADER_BYTES + first_len as usize;
        let mut r = ArchiveReader::open(&bytes[..cut]).unwrap();
        let first = r.next_block().unwrap().unwrap();
        assert!(!first.is_empty() && first.len() < records.len());
        match r.next_block() {
            Err(ArchiveError::Truncated { at, records }) => {
                assert_eq!(at, cut as u64);
                assert_eq!(records, first.len() as u64);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flipped_bytes_and_trailing_garbage_are_corrupt() {
        let records: Vec<_> = (0..20).map(record).collect();
        let bytes = write_all(&records);
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x40;
            // A flipped length may also send the reader past the end (truncated).
            assert!(read_all(&b).is_err(), "flip at {at} not detected");
        }
        let mut b = bytes.clone();
        b.push(0);
        assert!(matches!(read_all(&b), Err(ArchiveError::Corrupt { .. })));
        let e = read_all(b"hello world, not an archive").unwrap_err();
        assert!(e.to_string().contains("not a Sluice archive"), "{e}");
    }
}
