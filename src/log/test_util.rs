//! Test helpers: build valid v2 record batches with `kafka_protocol`'s encoder and
//! small configs. Test-only; never used by the log itself.

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType as KTs,
};

use crate::log::config::LogConfig;

/// One batch of `n` records; record `i` has timestamp `timestamps[i]` (or `first_ts + i`).
pub fn batch_with_timestamps(
    timestamps: &[i64],
    value_len: usize,
    compression: Compression,
) -> Vec<u8> {
    let records: Vec<Record> = timestamps
        .iter()
        .enumerate()
        .map(|(i, &ts)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KTs::Creation,
            offset: i as i64,
            // offset - sequence must be constant for the encoder to keep one batch.
            sequence: i as i32 - 1,
            timestamp: ts,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'a' + (i % 26) as u8; value_len])),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode");
    buf.to_vec()
}

pub fn batch(n: usize, first_ts: i64, value_len: usize) -> Vec<u8> {
    let ts: Vec<i64> = (0..n as i64).map(|i| first_ts + i).collect();
    batch_with_timestamps(&ts, value_len, Compression::None)
}

pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        segment_index_bytes: 4096,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

/// Compares two batches ignoring the fields the broker rewrites (base offset,
/// partition leader epoch).
pub fn same_batch_modulo_broker_fields(stored: &[u8], sent: &[u8]) -> bool {
    stored.len() == sent.len() && stored[16..] == sent[16..] && stored[8..12] == sent[8..12]
}

/// Splits a buffer of whole batches into (base offset, bytes) pairs.
pub fn split_batches(mut b: &[u8]) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let h = crate::log::BatchHeader::parse(b).expect("header");
        out.push((h.base_offset, b[..h.total_size()].to_vec()));
        b = &b[h.total_size()..];
    }
    out
}

/// One batch of `n` records of a transactional producer (`pid`, `epoch`), its first
/// record at sequence `seq`.
pub fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize, ts: i64) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: KTs::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            timestamp: ts,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'v'; 40])),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    buf.to_vec()
}

/// A scratch directory for a test: on disk, or the root of a memory volume. The log's
/// tests run once per storage (`tests` and `tests_in_memory` are the same file), so
/// both keep the same semantics; [`test_dir!`] picks the storage from the module the
/// test was compiled into.
pub enum TestDir {
    Disk(tempfile::TempDir),
    Memory(crate::log::storage::MemoryVolume),
}

impl TestDir {
    pub fn new(module_path: &str) -> TestDir {
        if module_path.contains("in_memory") {
            TestDir::Memory(crate::log::storage::MemoryVolume::new())
        } else {
            TestDir::Disk(tempfile::tempdir().expect("temporary directory"))
        }
    }

    pub fn path(&self) -> &std::path::Path {
        match self {
            TestDir::Disk(d) => d.path(),
            TestDir::Memory(v) => v.root(),
        }
    }
}

/// A [`TestDir`] for the storage the calling test module runs on.
macro_rules! test_dir {
    () => {
        $crate::log::test_util::TestDir::new(module_path!())
    };
}
pub(crate) use test_dir;

/// The `.log` files of a partition directory, oldest segment first.
pub fn log_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = crate::log::storage::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}
