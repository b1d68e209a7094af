//! Error types of the log. They carry Kafka's error names so the API layer can map
//! them one-to-one onto protocol error codes; this module must never depend on
//! protocol types itself.

/// Why an append was refused. Nothing was written when any of these is returned
/// (except `Storage`, where a partial write may have reached the file; it is cut
/// back before the error is returned when possible).
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Kafka CORRUPT_MESSAGE: the bytes are damaged (CRC mismatch, a batch length
    /// too small to be a batch, an unknown magic).
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    /// Kafka INVALID_RECORD: well-formed bytes that are not a valid v2 batch (old magic
    /// 0/1, a batch length past the payload, record counts or record lengths that do
    /// not add up, an empty payload). Kafka answers these with INVALID_RECORD, which
    /// producers do not retry, rather than the retriable CORRUPT_MESSAGE.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Kafka INVALID_TIMESTAMP: a record's CreateTime timestamp lies outside the
    /// topic's `message.timestamp.before.max.ms`/`after.max.ms` window.
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// Kafka OUT_OF_ORDER_SEQUENCE_NUMBER: an idempotent producer skipped sequence
    /// numbers (or started a new epoch at a sequence other than 0).
    #[error("out of order sequence: {0}")]
    OutOfOrderSequence(String),
    /// Kafka INVALID_PRODUCER_EPOCH: a batch from an older epoch of a producer.
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// Kafka MESSAGE_TOO_LARGE: one batch exceeds `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: u32 },
    /// Kafka POLICY_VIOLATION: the batch would make the partition remember more
    /// producers, or hold more open transactions, than its producer-state bounds
    /// (`sluice.producer.state.max.producers`, `...max.ongoing.transactions`) allow.
    #[error("producer state limit: {0}")]
    ProducerStateLimit(String),
    /// Kafka KAFKA_STORAGE_ERROR: the file system failed (ENOSPC, EIO, ...).
    #[error("storage error: {0}")]
    Storage(#[from] std::io::Error),
}

/// Errors of reads, lookups and `open`.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Kafka OFFSET_OUT_OF_RANGE.
    #[error("offset {requested} out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        requested: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// Kafka KAFKA_STORAGE_ERROR.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Data on disk that cannot be interpreted (and cannot be repaired safely).
    #[error("corrupt log: {0}")]
    Corrupt(String),
}
