//! Per-partition log configuration (Kafka's topic-level `segment.*`, `retention.*`,
//! `flush.*`, `cleanup.policy` and compaction settings). Plain data only: it must never read files or the environment.

use std::sync::Arc;

use crate::log::batch::TimestampType;
use crate::log::file_cache::{self, FileCache};
use crate::log::validator::schema_ids::SubjectNameStrategy;

/// Topic-level storage settings, named after Kafka's topic configs.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is older than this.
    pub segment_ms: i64,
    /// `segment.index.bytes`: preallocated size of each `.index`/`.timeindex`.
    pub segment_index_bytes: u32,
    /// `index.interval.bytes`: log bytes between two `.index` entries.
    pub index_interval_bytes: u32,
    /// `retention.ms`: delete closed segments whose newest record is older; -1 = forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is bigger; -1 = unlimited.
    pub retention_bytes: i64,
    /// `max.message.bytes`: largest record batch accepted.
    pub max_message_bytes: u32,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `compression.type`: the codec batches are stored with; `None` (`producer`) keeps
    /// the producer's.
    pub compression_type: Option<kafka_protocol::records::Compression>,
    /// `message.timestamp.before.max.ms`: CreateTime records older than now minus this
    /// are refused with INVALID_TIMESTAMP (`i64::MAX`: never).
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: CreateTime records newer than now plus this
    /// are refused with INVALID_TIMESTAMP (`i64::MAX`: never).
    pub message_timestamp_after_max_ms: i64,
    /// `flush.messages`: ask for an fsync after this many unflushed messages.
    pub flush_messages: i64,
    /// `flush.ms`: housekeeping fsyncs data that has been unflushed this long.
    pub flush_ms: i64,
    /// `preallocate`: the active segment's `.log` grows ahead of its appends with
    /// written zeros (`crate::log::preallocate`).
    pub preallocate: bool,
    /// `sluice.acks.all.concurrent.fsyncs` (a broker setting): how many group-commit
    /// fdatasyncs of this log may be in flight at once.
    pub concurrent_fsyncs: usize,
    /// `log.flush.offset.checkpoint.interval.ms` (a broker setting): the least time
    /// between two periodic recovery-point checkpoints of this log.
    pub recovery_point_checkpoint_interval_ms: i64,
    /// `producer.id.expiration.ms` (a broker setting): forget an idempotent producer
    /// whose last batch is older than this.
    pub producer_id_expiration_ms: i64,
    /// `sluice.producer.state.max.producers` (a broker setting): the most producers the
    /// partition remembers; a batch from one more is refused.
    pub max_producers: usize,
    /// `sluice.producer.state.max.ongoing.transactions` (a broker setting): the most
    /// transactions open at once here; a batch opening one more is refused.
    pub max_ongoing_transactions: usize,
    /// `sluice.log.aborted.txn.memory.entries` (a broker setting): how many of the newest
    /// aborted transactions stay in memory; older ones are read from `.txnindex` files.
    pub aborted_txns_in_memory: usize,
    /// `cleanup.policy` contains `delete`: retention (time/size) deletes old segments.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`: the log cleaner keeps the latest record per
    /// key, and produce refuses records without a key.
    pub cleanup_compact: bool,
    /// `min.cleanable.dirty.ratio`: clean when dirty bytes / all cleanable bytes >= this.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: a segment whose newest record is younger is not cleaned.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: clean whatever the dirty ratio once the oldest dirty
    /// segment's newest record is older than this.
    pub max_compaction_lag_ms: i64,
    /// `delete.retention.ms`: how long tombstones (and removable transaction markers)
    /// are kept by the cleaner, measured from their record timestamp.
    pub delete_retention_ms: i64,
    /// `confluent.key.schema.validation` on: client keys need a schema id registered
    /// under the subject `confluent.key.subject.name.strategy` gives; `None` when off.
    pub key_schema_validation: Option<SubjectNameStrategy>,
    /// The same for values (`confluent.value.*`).
    pub value_schema_validation: Option<SubjectNameStrategy>,
    /// The budget of descriptors and maps closed segments' files are opened under
    /// (`sluice.log.max.open.files`, `sluice.log.max.mmaps`): the process-wide one
    /// unless a test brings its own. A handle, not a setting.
    pub file_cache: Arc<FileCache>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1073741824,
            segment_ms: 604800000,
            segment_index_bytes: 10485760,
            index_interval_bytes: 4096,
            retention_ms: 604800000,
            retention_bytes: -1,
            max_message_bytes: 1048588,
            message_timestamp_type: TimestampType::CreateTime,
            compression_type: None,
            message_timestamp_before_max_ms: i64::MAX,
            message_timestamp_after_max_ms: i64::MAX,
            flush_messages: i64::MAX,
            flush_ms: 1000,
            preallocate: false,
            recovery_point_checkpoint_interval_ms: 60000,
            concurrent_fsyncs: 1,
            producer_id_expiration_ms: 86400000,
            max_producers: 100_000,
            max_ongoing_transactions: 10_000,
            aborted_txns_in_memory: 10_000,
            cleanup_delete: true,
            cleanup_compact: false,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 86400000,
            key_schema_validation: None,
            value_schema_validation: None,
            file_cache: file_cache::global().clone(),
        }
    }
}
