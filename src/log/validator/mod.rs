//! Produce validation, Kafka's `LogValidator`: the one place that decides whether a
//! payload of record batches for one partition may be appended, and in what form.
//!
//! It owns, in the order they run:
//! - for a client's payload, Kafka's rule of exactly one record batch per partition
//!   (Produce v3+, `ProduceRequest.validateRecords`);
//! - each batch's framing, v2 header (magic 2 only), CRC-32C and `max.message.bytes`;
//! - the record walk of every batch ([`records`]), uncompressed in place, compressed after
//!   one decompression: record framing and counts, a compacted topic's refusal of keyless
//!   records, a CreateTime topic's `message.timestamp.before/after.max.ms` window, and the
//!   per-record errors (KIP-467) naming every record such a refusal is about;
//! - for a client's payload to a topic with `confluent.key.schema.validation` or
//!   `confluent.value.schema.validation` on, the schema id prefix of every key or value
//!   ([`schema_ids`]), on the same in-place or decompressed records as the walk;
//! - a topic's `compression.type`: a client batch with another codec is rebuilt
//!   ([`recompress`]) from the batch as sent, and only once it has passed every check
//!   above, so a rebuild never launders a corrupt batch.
//!
//! Its result, [`ValidatedRecords`], can only be made here; the partition log appends it
//! without looking at a record again (it assigns offsets and, for LogAppendTime topics,
//! the append time).
//!
//! It must never see Kafka request or response types or sockets: callers hand it the
//! records bytes and map its [`AppendError`]s to protocol error codes. It never takes a
//! partition lock and never touches the log's files or state: the partition reads a
//! [`ValidationConfig`] under its lock, validation (the decompression, the rebuild) runs
//! without it, and the lock is taken again only to write.

use bytes::Bytes;
use kafka_protocol::records::Compression;

use crate::log::batch::{
    BatchHeader, TimestampType, MAGIC_OFFSET, MIN_BATCH_LENGTH, RECORD_BATCH_OVERHEAD,
};
use crate::log::config::LogConfig;
use crate::log::error::AppendError;

pub mod recompress;
pub mod records;
pub mod schema_ids;

#[cfg(test)]
mod tests;

pub use recompress::target_codec;
pub use records::{RecordRules, COMPACTED_TOPIC_NEEDS_KEY};

use records::{
    check_compressed_records, check_records, check_schema_ids, CompressedProblem, RecordProblem,
};
use schema_ids::{no_registry_message, SchemaCheck, SchemaIds, SchemaValidation};

/// Kafka's message for a Produce payload holding more than one batch for a partition.
pub const ONE_BATCH_PER_PARTITION: &str = "Produce requests with version 3 or above are only allowed to contain exactly one record batch per partition";

/// Kafka's message for a client's control batch (its `LogValidator` refuses them).
pub const CLIENT_CONTROL_BATCH: &str = "Clients are not allowed to write control records";

/// Who wrote a payload (Kafka's `AppendOrigin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer, through Produce (v3+): exactly one batch per partition, rebuilt
    /// when the topic's `compression.type` names another codec.
    Client,
    /// The broker itself (the group and transaction coordinators, transaction markers):
    /// any number of batches, stored as the coordinator built them.
    Coordinator,
}

/// The topic configs validation depends on, read under the partition lock in one go
/// ([`PartitionLog::validation_config`](crate::log::PartitionLog::validation_config)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationConfig {
    /// `max.message.bytes`: the largest batch accepted, as sent and as rebuilt.
    pub max_message_bytes: u32,
    /// `cleanup.policy` contains `compact`: every record needs a key.
    pub compacted_topic: bool,
    /// `message.timestamp.type`: the timestamp window applies to CreateTime only.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms` (`i64::MAX`: unbounded).
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms` (`i64::MAX`: unbounded).
    pub timestamp_after_max_ms: i64,
    /// `compression.type`: the codec client batches are stored with; `None`
    /// (`producer`) keeps the producer's.
    pub target_compression: Option<Compression>,
    /// `confluent.{key,value}.schema.validation` with their subject name strategies.
    pub schema_validation: SchemaValidation,
}

impl ValidationConfig {
    pub fn new(config: &LogConfig) -> ValidationConfig {
        ValidationConfig {
            max_message_bytes: config.max_message_bytes,
            compacted_topic: config.cleanup_compact,
            timestamp_type: config.message_timestamp_type,
            timestamp_before_max_ms: config.message_timestamp_before_max_ms,
            timestamp_after_max_ms: config.message_timestamp_after_max_ms,
            target_compression: config.compression_type,
            schema_validation: SchemaValidation {
                key: config.key_schema_validation,
                value: config.value_schema_validation,
            },
        }
    }

    /// The per-record rules these configs set for an append at `now_ms`.
    pub fn record_rules(&self, now_ms: i64) -> RecordRules {
        RecordRules::new(
            self.compacted_topic,
            self.timestamp_type == TimestampType::CreateTime,
            self.timestamp_before_max_ms,
            self.timestamp_after_max_ms,
            now_ms,
        )
    }
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig::new(&LogConfig::default())
    }
}

/// One batch of a validated payload.
#[derive(Clone, Copy, Debug)]
pub struct ValidBatch {
    /// Byte offset of the batch inside the payload.
    pub start: usize,
    pub header: BatchHeader,
}

/// A record a refusal is about (Kafka's `ProduceResponse.RecordError`, KIP-467), by its
/// index among the records of the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    pub batch_index: i32,
    pub message: String,
}

/// A refused payload: why, and, when a record rule refused it (a keyless record in a
/// compacted topic, a timestamp outside the window), every record that breaks the rule
/// (Kafka's `RecordValidationException`). Nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ValidationError {
    pub error: AppendError,
    pub record_errors: Vec<RecordError>,
}

impl From<AppendError> for ValidationError {
    fn from(error: AppendError) -> Self {
        ValidationError {
            error,
            record_errors: Vec::new(),
        }
    }
}

impl From<ValidationError> for AppendError {
    fn from(e: ValidationError) -> Self {
        e.error
    }
}

/// A payload that passed [`LogValidator::validate`], in the form to store. Only the
/// validator makes one, so holding one proves the checks ran.
#[derive(Clone, Debug)]
pub struct ValidatedRecords {
    /// What to store: the payload as sent, or its rebuild for `compression.type`.
    records: Bytes,
    /// Every batch of `records`, in order.
    batches: Vec<ValidBatch>,
    /// The payload as sent (the same bytes as `records` unless rebuilt, never a copy).
    source: Bytes,
    /// The configs, time and origin it was validated with.
    validator: LogValidator,
}

impl ValidatedRecords {
    /// The bytes to store.
    pub fn records(&self) -> &Bytes {
        &self.records
    }

    /// The batches of [`ValidatedRecords::records`], in order; never empty.
    pub fn batches(&self) -> &[ValidBatch] {
        &self.batches
    }

    /// The configs these records were validated with.
    pub fn config(&self) -> &ValidationConfig {
        &self.validator.config
    }

    /// The records were rebuilt for the topic's `compression.type`.
    pub fn rebuilt(&self) -> bool {
        self.records.as_ptr() != self.source.as_ptr() || self.records.len() != self.source.len()
    }

    /// The same payload validated again with `config` (the topic's configs changed
    /// between the validation and the append), from the bytes as sent, at the same time
    /// and for the same origin.
    pub fn revalidate(self, config: ValidationConfig) -> Result<ValidatedRecords, ValidationError> {
        LogValidator {
            config,
            ..self.validator
        }
        .validate(self.source)
    }
}

/// Validates a payload for one partition against a snapshot of its topic's configs at
/// one point in time (Kafka's `LogValidator`).
#[derive(Clone, Debug)]
pub struct LogValidator {
    config: ValidationConfig,
    now_ms: i64,
    origin: AppendOrigin,
    /// Where a client's schema ids are checked (see [`LogValidator::with_schema_ids`]).
    schema_ids: Option<SchemaIds>,
}

impl LogValidator {
    /// A validator for appends at `now_ms` (the timestamp window is measured from it).
    pub fn new(config: ValidationConfig, now_ms: i64, origin: AppendOrigin) -> LogValidator {
        LogValidator {
            config,
            now_ms,
            origin,
            schema_ids: None,
        }
    }

    /// The topic and schema registry a client's schema ids are checked against when
    /// the topic validates them. Without it (or without a registry), a client's payload
    /// to such a topic is refused: nothing unvalidated gets in.
    pub fn with_schema_ids(mut self, schema_ids: SchemaIds) -> LogValidator {
        self.schema_ids = Some(schema_ids);
        self
    }

    pub fn config(&self) -> &ValidationConfig {
        &self.config
    }

    /// Checks `records` and brings them into the form to store (see the module doc for
    /// what is checked, in which order). Uncompressed records are walked in place, a
    /// compressed batch is decompressed once, and a batch is rebuilt only for a client's
    /// payload whose codec is not the topic's `compression.type`; on the uncompressed
    /// path nothing is copied or allocated per record.
    pub fn validate(&self, records: Bytes) -> Result<ValidatedRecords, ValidationError> {
        if self.origin == AppendOrigin::Client {
            check_one_batch(&records)?;
        }
        let rules = self.config.record_rules(self.now_ms);
        let schema = self.schema_check()?;
        let schema = schema.as_ref();
        let batches = self.check_batches(&records, Some((rules, schema)))?;
        for vb in &batches {
            if vb.header.compression() != 0 {
                let batch = records.slice(vb.start..vb.start + vb.header.total_size());
                check_compressed_records(&batch, &vb.header, rules, schema).map_err(
                    |p| match p {
                        CompressedProblem::Records(p) => {
                            self.refuse(p, "", &records, rules, schema)
                        }
                        CompressedProblem::Batch(e) => e.into(),
                    },
                )?;
            }
        }
        let Some(codec) = self.rebuild_codec(&batches) else {
            return Ok(ValidatedRecords {
                records: records.clone(),
                batches,
                source: records,
                validator: self.clone(),
            });
        };
        let rebuilt = recompress::recompress(&records, codec)?;
        let rebuilt_batches = self.check_batches(&rebuilt, None)?;
        debug_assert_eq!(
            record_count(&rebuilt_batches),
            record_count(&batches),
            "a rebuild keeps every record"
        );
        Ok(ValidatedRecords {
            records: rebuilt,
            batches: rebuilt_batches,
            source: records,
            validator: self.clone(),
        })
    }

    /// The schema id check a client's payload needs, if its topic validates ids; a
    /// refusal if there is no registry to check them against.
    fn schema_check(&self) -> Result<Option<SchemaCheck<'_>>, ValidationError> {
        let rules = self.config.schema_validation;
        if self.origin != AppendOrigin::Client || !rules.is_on() {
            return Ok(None);
        }
        match &self.schema_ids {
            Some(SchemaIds {
                topic,
                lookup: Some(lookup),
            }) => Ok(Some(SchemaCheck::new(rules, topic, lookup.as_ref()))),
            Some(SchemaIds {
                topic,
                lookup: None,
            }) => Err(AppendError::InvalidRecord(no_registry_message(topic)).into()),
            None => Err(AppendError::InvalidRecord(no_registry_message("(unnamed)")).into()),
        }
    }

    /// The codec to rebuild a client's payload with, if the topic's `compression.type`
    /// asks for one that some batch does not use.
    fn rebuild_codec(&self, batches: &[ValidBatch]) -> Option<Compression> {
        if self.origin != AppendOrigin::Client {
            return None;
        }
        self.config.target_compression.filter(|codec| {
            batches
                .iter()
                .any(|vb| recompress::needs_recompression(&vb.header, *codec))
        })
    }

    /// Checks every batch of `payload`: framing, magic, length, `max.message.bytes`,
    /// CRC-32C, record count and offset span, then, with `walk`, the records of an
    /// uncompressed batch under those rules. Without `walk` (a rebuild, made by our
    /// encoder from records that passed every check) neither the CRC nor the records are
    /// checked again, only that the bytes frame into batches that fit the limit (a rebuild
    /// can grow a batch; Kafka checks the size again too); the CRC is debug-asserted.
    fn check_batches(
        &self,
        payload: &Bytes,
        walk: Option<(RecordRules, Option<&SchemaCheck<'_>>)>,
    ) -> Result<Vec<ValidBatch>, ValidationError> {
        if payload.is_empty() {
            return Err(AppendError::InvalidRecord(
                "a produce must carry at least one record batch".into(),
            )
            .into());
        }
        let max_message_bytes = self.config.max_message_bytes;
        let mut out = Vec::with_capacity(1);
        let mut pos = 0usize;
        while pos < payload.len() {
            let rest = &payload[pos..];
            if rest.len() <= MAGIC_OFFSET {
                return Err(AppendError::InvalidRecord(format!(
                    "{} trailing bytes at position {pos} are not a record batch",
                    rest.len()
                ))
                .into());
            }
            let magic = rest[MAGIC_OFFSET] as i8;
            if magic == 0 || magic == 1 {
                return Err(AppendError::InvalidRecord(format!(
                    "record batches with magic {magic} are not accepted; only magic 2 (Kafka 0.11+) is"
                ))
                .into());
            }
            if magic != 2 {
                return Err(AppendError::CorruptMessage(format!(
                    "unknown magic {magic} at position {pos}"
                ))
                .into());
            }
            let h = BatchHeader::parse(rest).ok_or_else(|| {
                AppendError::InvalidRecord(format!("truncated batch header at position {pos}"))
            })?;
            if h.batch_length < MIN_BATCH_LENGTH {
                return Err(AppendError::CorruptMessage(format!(
                    "batch length {} below minimum {MIN_BATCH_LENGTH} at position {pos}",
                    h.batch_length
                ))
                .into());
            }
            let size = h.total_size();
            if size > rest.len() {
                return Err(AppendError::InvalidRecord(format!(
                    "batch length {} runs past the end of the payload at position {pos}",
                    h.batch_length
                ))
                .into());
            }
            if size > max_message_bytes as usize {
                return Err(AppendError::MessageTooLarge {
                    size,
                    max: max_message_bytes,
                }
                .into());
            }
            let crc = || BatchHeader::compute_crc(&rest[..size]);
            if walk.is_some() && crc() != h.crc {
                return Err(AppendError::CorruptMessage(format!(
                    "record batch crc {:08x} does not match stored {:08x}",
                    crc(),
                    h.crc
                ))
                .into());
            }
            debug_assert!(walk.is_some() || crc() == h.crc, "rebuilt batch CRC");
            // Kafka's LogValidator rejects client batches with no records: a batch must
            // occupy at least one offset, otherwise offsets would not be contiguous.
            if h.record_count <= 0 {
                return Err(AppendError::InvalidRecord(format!(
                    "invalid record count {}",
                    h.record_count
                ))
                .into());
            }
            if h.last_offset_delta != h.record_count - 1 {
                return Err(AppendError::InvalidRecord(format!(
                    "last offset delta {} inconsistent with record count {}",
                    h.last_offset_delta, h.record_count
                ))
                .into());
            }
            // Transaction markers are the coordinators' to write: a client's control
            // batch could commit or abort another producer's transaction.
            if h.is_control() && self.origin == AppendOrigin::Client {
                return Err(AppendError::InvalidRecord(CLIENT_CONTROL_BATCH.into()).into());
            }
            if let (Some((rules, schema)), 0) = (walk, h.compression()) {
                // Control batches (transaction markers, written by the coordinators, never
                // by clients) always carry their key and the coordinator's clock.
                let rules = if h.is_control() {
                    RecordRules::default()
                } else {
                    rules
                };
                let body = &rest[RECORD_BATCH_OVERHEAD..size];
                check_records(body, h.record_count, h.base_timestamp, rules)
                    .and_then(|()| match schema {
                        Some(check) => check_schema_ids(check, body, h.record_count),
                        None => Ok(()),
                    })
                    .map_err(|p| {
                        let context = format!("batch at position {pos}: ");
                        self.refuse(p, &context, payload, rules, schema)
                    })?;
            }
            out.push(ValidBatch {
                start: pos,
                header: h,
            });
            pos += size;
        }
        Ok(out)
    }

    /// The error for a record walk's refusal of `payload`, naming the records.
    fn refuse(
        &self,
        problem: RecordProblem,
        context: &str,
        payload: &Bytes,
        rules: RecordRules,
        schema: Option<&SchemaCheck<'_>>,
    ) -> ValidationError {
        let record_errors = match (&problem, schema) {
            (RecordProblem::Schema(_), Some(check)) => check.record_errors(payload),
            _ => problem.record_errors(payload, rules),
        };
        ValidationError {
            error: problem.into_append_error(context),
            record_errors,
        }
    }
}

/// Kafka (`ProduceRequest.validateRecords`) accepts exactly one batch per partition from
/// Produce v3 on; every client sends one. Like Kafka's batch iterator, only a remainder
/// long enough to hold a batch header up to its magic byte counts as a second batch;
/// anything else is left to the batch checks.
fn check_one_batch(records: &[u8]) -> Result<(), AppendError> {
    let Some(header) = BatchHeader::parse(records) else {
        return Ok(());
    };
    let rest = records.len().saturating_sub(header.total_size());
    if header.batch_length >= MIN_BATCH_LENGTH && rest > MAGIC_OFFSET {
        return Err(AppendError::InvalidRecord(ONE_BATCH_PER_PARTITION.into()));
    }
    Ok(())
}

fn record_count(batches: &[ValidBatch]) -> i64 {
    batches.iter().map(|vb| vb.header.record_count as i64).sum()
}
