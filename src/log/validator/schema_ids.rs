//! Broker-side schema id validation (Confluent Server's `confluent.key.schema.validation`
//! / `confluent.value.schema.validation`): every non-null key or value of a client's
//! batch must start with Confluent's wire-format prefix (magic byte 0, then a 4-byte
//! big-endian schema id) whose id is registered under a subject the topic's
//! `confluent.*.subject.name.strategy` can produce.
//!
//! Only the 5-byte prefix is read; the walk runs over records the structural walk
//! ([`super::records`]) already accepted, in place or on the same decompressed buffer.
//! Ids are looked up through [`SchemaIdLookup`], the seam the schema registry (a layer
//! above) implements; the lookup is an in-memory read, and an id accepted once is not
//! looked up again for the rest of the batch. This module never knows what a subject's
//! versions are or where they are stored; it only asks.

use std::cell::Cell;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::RecordError;
use crate::log::batch::{read_varint, read_varlong, take};

/// Confluent's class names for the subject name strategies, as the topic configs take
/// them.
pub const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
pub const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
pub const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";

/// How a topic's records map to subjects (Confluent's `SubjectNameStrategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value`.
    #[default]
    TopicName,
    /// The record's fully-qualified name, whatever the topic.
    RecordName,
    /// `<topic>-<record name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// The strategy a config value names: Confluent's class name, or its simple name.
    pub fn parse(value: &str) -> Option<SubjectNameStrategy> {
        let simple = value.trim().rsplit('.').next().unwrap_or("");
        match simple {
            "TopicNameStrategy" => Some(SubjectNameStrategy::TopicName),
            "RecordNameStrategy" => Some(SubjectNameStrategy::RecordName),
            "TopicRecordNameStrategy" => Some(SubjectNameStrategy::TopicRecordName),
            _ => None,
        }
    }
}

/// Which subjects may carry an id for a record to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subjects<'a> {
    /// Exactly this subject (TopicNameStrategy).
    Exact(&'a str),
    /// Any subject `<prefix><non-empty rest>` (TopicRecordNameStrategy: `<topic>-`).
    Prefix(&'a str),
    /// Any subject (RecordNameStrategy: the record name lies past the 5-byte prefix).
    Any,
}

/// What the broker asks the schema registry. Implementations answer from memory.
pub trait SchemaIdLookup: Send + Sync {
    /// Whether `id` is the id of a version (not soft-deleted) of a subject `subjects`
    /// admits.
    fn registered_under(&self, id: i32, subjects: Subjects<'_>) -> bool;
    /// Whether `id` exists at all (to say why a record was refused).
    fn exists(&self, id: i32) -> bool;
}

/// The key and value rules of a topic: `None` where validation is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchemaValidation {
    pub key: Option<SubjectNameStrategy>,
    pub value: Option<SubjectNameStrategy>,
}

impl SchemaValidation {
    pub fn is_on(&self) -> bool {
        self.key.is_some() || self.value.is_some()
    }
}

/// Where a validator finds ids: the topic its records go to and the registry, if the
/// broker runs one.
#[derive(Clone)]
pub struct SchemaIds {
    pub topic: Arc<str>,
    pub lookup: Option<Arc<dyn SchemaIdLookup>>,
}

impl std::fmt::Debug for SchemaIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaIds")
            .field("topic", &self.topic)
            .field("lookup", &self.lookup.is_some())
            .finish()
    }
}

/// The refusal of a topic that validates with no registry to validate against.
pub fn no_registry_message(topic: &str) -> String {
    format!(
        "topic {topic} has confluent.key.schema.validation or confluent.value.schema.validation \
         set, but this broker runs no schema registry (sluice.schema.registry.listen is empty): \
         records cannot be validated"
    )
}

/// One batch's check: the rules, where ids are looked up, and the ids already accepted.
pub struct SchemaCheck<'a> {
    rules: SchemaValidation,
    topic: &'a str,
    lookup: &'a dyn SchemaIdLookup,
    /// The last id accepted for keys and for values: most batches carry one schema.
    accepted: [Cell<Option<i32>>; 2],
}

#[derive(Clone, Copy)]
enum Side {
    Key = 0,
    Value = 1,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }
}

impl<'a> SchemaCheck<'a> {
    pub fn new(
        rules: SchemaValidation,
        topic: &'a str,
        lookup: &'a dyn SchemaIdLookup,
    ) -> SchemaCheck<'a> {
        SchemaCheck {
            rules,
            topic,
            lookup,
            accepted: [Cell::new(None), Cell::new(None)],
        }
    }

    /// Why `field` (a record's key or value) is refused, if it is. A null field passes,
    /// as in Confluent Server (tombstones stay possible on a validating topic).
    fn field_error(&self, side: Side, field: Option<&[u8]>) -> Option<String> {
        let strategy = match side {
            Side::Key => self.rules.key,
            Side::Value => self.rules.value,
        }?;
        let bytes = field?;
        let name = side.name();
        if bytes.len() < 5 || bytes[0] != 0 {
            return Some(format!(
                "its {name} does not start with the schema registry's magic byte 0 and a 4-byte schema id"
            ));
        }
        let id = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        if self.accepted[side as usize].get() == Some(id) {
            return None;
        }
        let subject;
        let subjects = match strategy {
            SubjectNameStrategy::TopicName => {
                subject = format!("{}-{name}", self.topic);
                Subjects::Exact(&subject)
            }
            SubjectNameStrategy::TopicRecordName => {
                subject = format!("{}-", self.topic);
                Subjects::Prefix(&subject)
            }
            SubjectNameStrategy::RecordName => Subjects::Any,
        };
        if self.lookup.registered_under(id, subjects) {
            self.accepted[side as usize].set(Some(id));
            return None;
        }
        let wanted = match subjects {
            Subjects::Exact(s) => format!("subject {s}"),
            Subjects::Prefix(p) => format!("any subject {p}<record name>"),
            Subjects::Any => "any subject".to_string(),
        };
        Some(if self.lookup.exists(id) {
            format!("its {name}'s schema id {id} is not registered under {wanted}")
        } else {
            format!("its {name}'s schema id {id} is not a registered schema")
        })
    }

    fn record_error(&self, key: Option<&[u8]>, value: Option<&[u8]>) -> Option<String> {
        self.field_error(Side::Key, key)
            .or_else(|| self.field_error(Side::Value, value))
    }

    /// Checks `record_count` records that passed the structural walk; the first refused
    /// one's index and reason.
    pub fn check(&self, mut records: &[u8], record_count: i32) -> Result<(), (i32, String)> {
        for index in 0..record_count {
            let Some((key, value)) = key_and_value(&mut records) else {
                // The structural walk accepted these records; nothing to add.
                return Ok(());
            };
            if let Some(why) = self.record_error(key, value) {
                return Err((index, why));
            }
        }
        Ok(())
    }

    /// KIP-467: every record of `payload` this check refuses, by its index among the
    /// payload's records. Runs only on the error path: it decodes the records.
    pub fn record_errors(&self, payload: &Bytes) -> Vec<RecordError> {
        let mut buf = payload.clone();
        let Ok(sets) = RecordBatchDecoder::decode_all(&mut buf) else {
            return Vec::new();
        };
        sets.iter()
            .flat_map(|set| set.records.iter())
            .enumerate()
            .filter_map(|(i, r)| {
                self.record_error(r.key.as_deref(), r.value.as_deref())
                    .map(|why| RecordError {
                        batch_index: i as i32,
                        message: format!("record {i} refused by schema validation: {why}"),
                    })
            })
            .collect()
    }
}

/// A record's key and value (`None`: null).
type KeyAndValue<'b> = (Option<&'b [u8]>, Option<&'b [u8]>);

/// Reads one record off `records` (framing already checked) and returns its key and
/// value; `None` if it does not frame.
fn key_and_value<'b>(records: &mut &'b [u8]) -> Option<KeyAndValue<'b>> {
    let length = read_varint(records)?;
    let mut body = take(records, usize::try_from(length).ok()?)?;
    take(&mut body, 1)?;
    read_varlong(&mut body)?;
    read_varint(&mut body)?;
    let mut field = || -> Option<Option<&'b [u8]>> {
        let len = read_varint(&mut body)?;
        if len < 0 {
            Some(None)
        } else {
            take(&mut body, len as usize).map(Some)
        }
    };
    let key = field()?;
    let value = field()?;
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Subjects and their live ids.
    struct Subjects_(BTreeMap<String, Vec<i32>>);

    impl SchemaIdLookup for Subjects_ {
        fn registered_under(&self, id: i32, subjects: Subjects<'_>) -> bool {
            self.0.iter().any(|(s, ids)| {
                ids.contains(&id)
                    && match subjects {
                        Subjects::Exact(e) => s == e,
                        Subjects::Prefix(p) => s.len() > p.len() && s.starts_with(p),
                        Subjects::Any => true,
                    }
            })
        }
        fn exists(&self, id: i32) -> bool {
            self.0.values().any(|ids| ids.contains(&id))
        }
    }

    fn framed(id: i32) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(b"payload");
        v
    }

    #[test]
    fn strategies_parse_from_class_or_simple_names() {
        assert_eq!(
            SubjectNameStrategy::parse(TOPIC_NAME_STRATEGY),
            Some(SubjectNameStrategy::TopicName)
        );
        assert_eq!(
            SubjectNameStrategy::parse(RECORD_NAME_STRATEGY),
            Some(SubjectNameStrategy::RecordName)
        );
        assert_eq!(
            SubjectNameStrategy::parse("TopicRecordNameStrategy"),
            Some(SubjectNameStrategy::TopicRecordName)
        );
        assert_eq!(SubjectNameStrategy::parse("com.acme.Mine"), None);
    }

    #[test]
    fn each_strategy_admits_its_subjects_only() {
        let lookup = Subjects_(BTreeMap::from([
            ("orders-value".to_string(), vec![1]),
            ("orders-key".to_string(), vec![2]),
            ("payments-value".to_string(), vec![3]),
            ("orders-com.acme.Order".to_string(), vec![4]),
            ("com.acme.Payment".to_string(), vec![5]),
        ]));
        let check = |strategy, id: i32| {
            let rules = SchemaValidation {
                key: None,
                value: Some(strategy),
            };
            SchemaCheck::new(rules, "orders", &lookup).field_error(Side::Value, Some(&framed(id)))
        };
        use SubjectNameStrategy::*;
        assert_eq!(check(TopicName, 1), None);
        assert!(check(TopicName, 2)
            .unwrap()
            .contains("not registered under subject orders-value"));
        assert!(check(TopicName, 3).is_some(), "another topic's subject");
        assert!(check(TopicName, 9)
            .unwrap()
            .contains("not a registered schema"));
        assert_eq!(check(TopicRecordName, 4), None);
        assert!(check(TopicRecordName, 3).is_some());
        assert_eq!(check(RecordName, 5), None);
        assert!(check(RecordName, 9).is_some());
    }

    #[test]
    fn null_fields_pass_and_short_or_unframed_ones_do_not() {
        let lookup = Subjects_(BTreeMap::from([("t-key".to_string(), vec![1])]));
        let rules = SchemaValidation {
            key: Some(SubjectNameStrategy::TopicName),
            value: None,
        };
        let check = SchemaCheck::new(rules, "t", &lookup);
        assert_eq!(check.record_error(None, Some(b"anything")), None);
        assert_eq!(check.record_error(Some(&framed(1)), Some(b"x")), None);
        assert!(check
            .record_error(Some(b"\0\0\0"), None)
            .unwrap()
            .contains("magic byte"));
        assert!(check.record_error(Some(b"\x01\0\0\0\x01"), None).is_some());
    }
}
