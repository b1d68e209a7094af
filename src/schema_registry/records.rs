//! The records of `_schemas` in the key/value JSON format Confluent's registry writes
//! (`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}` ->
//! `{"subject":"s","version":1,"id":1,"schema":"...","deleted":false}`, CONFIG, MODE,
//! DELETE_SUBJECT, CLEAR_SUBJECT, NOOP), and the in-memory [`State`] they build when
//! applied in log order. Replay at start-up and every live write go through the same
//! [`State::apply`], so what is served is exactly what the log says.
//!
//! This module never appends: it encodes records and applies them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{CompatibilityLevel, Mode, Reference, SchemaType};

/// A record's key. `subject` None is the global config/mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordKey {
    Schema {
        subject: String,
        version: i32,
    },
    Config {
        subject: Option<String>,
    },
    Mode {
        subject: Option<String>,
    },
    DeleteSubject {
        subject: String,
    },
    ClearSubject {
        subject: String,
    },
    /// NOOP and key types this registry does not know (contexts, keks): skipped.
    Other,
}

#[derive(Serialize)]
struct SchemaKeyJson<'a> {
    keytype: &'static str,
    subject: &'a str,
    version: i32,
    magic: i32,
}

#[derive(Serialize)]
struct SubjectKeyJson<'a> {
    keytype: &'static str,
    subject: Option<&'a str>,
    magic: i32,
}

impl RecordKey {
    pub fn encode(&self) -> Vec<u8> {
        let subject_key = |keytype, subject: Option<&str>| {
            serde_json::to_vec(&SubjectKeyJson {
                keytype,
                subject,
                magic: 0,
            })
        };
        match self {
            RecordKey::Schema { subject, version } => serde_json::to_vec(&SchemaKeyJson {
                keytype: "SCHEMA",
                subject,
                version: *version,
                magic: 1,
            }),
            RecordKey::Config { subject } => subject_key("CONFIG", subject.as_deref()),
            RecordKey::Mode { subject } => subject_key("MODE", subject.as_deref()),
            RecordKey::DeleteSubject { subject } => subject_key("DELETE_SUBJECT", Some(subject)),
            RecordKey::ClearSubject { subject } => subject_key("CLEAR_SUBJECT", Some(subject)),
            RecordKey::Other => subject_key("NOOP", None),
        }
        .expect("serialising a key cannot fail")
    }

    pub fn decode(bytes: &[u8]) -> Result<RecordKey, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let subject = v.get("subject").and_then(Value::as_str).map(str::to_string);
        let need_subject = || {
            subject
                .clone()
                .ok_or_else(|| "key without a subject".to_string())
        };
        Ok(match v.get("keytype").and_then(Value::as_str) {
            Some("SCHEMA") => RecordKey::Schema {
                subject: need_subject()?,
                version: v
                    .get("version")
                    .and_then(Value::as_i64)
                    .ok_or("SCHEMA key without a version")? as i32,
            },
            Some("CONFIG") => RecordKey::Config { subject },
            Some("MODE") => RecordKey::Mode { subject },
            Some("DELETE_SUBJECT") => RecordKey::DeleteSubject {
                subject: need_subject()?,
            },
            Some("CLEAR_SUBJECT") => RecordKey::ClearSubject {
                subject: need_subject()?,
            },
            _ => RecordKey::Other,
        })
    }
}

/// A SCHEMA record's value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    /// Absent for AVRO, as Confluent writes it.
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Serialize, Deserialize)]
pub struct ConfigValue {
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: String,
}

#[derive(Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: String,
}

#[derive(Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

#[derive(Serialize, Deserialize)]
pub struct ClearSubjectValue {
    pub subject: String,
}

/// One version of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: i32,
    pub deleted: bool,
}

/// The text behind an id, shared by the subject-versions that carry it.
#[derive(Clone, Debug)]
pub struct SchemaEntry {
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
    /// How many subject-versions (soft-deleted included) carry this id: the id's
    /// schema is served while this is above zero.
    pub uses: usize,
}

/// What identifies a schema's content: the same content gets the same id.
pub type ContentKey = (SchemaType, String, Vec<Reference>);

/// The registry's state, as built by applying `_schemas` in order.
#[derive(Default)]
pub struct State {
    pub subjects: BTreeMap<String, BTreeMap<i32, VersionEntry>>,
    pub schemas: HashMap<i32, SchemaEntry>,
    pub by_content: HashMap<ContentKey, i32>,
    /// The highest id ever seen (hard-deleted ones included): the next id is this + 1.
    pub max_id: i32,
    pub global_config: Option<CompatibilityLevel>,
    pub subject_config: HashMap<String, CompatibilityLevel>,
    pub global_mode: Option<Mode>,
    pub subject_mode: HashMap<String, Mode>,
    /// Records applied (replay and live writes).
    pub records: u64,
}

impl State {
    /// Applies one record (value None = tombstone). A value that cannot be decoded is
    /// logged and skipped, as Confluent's reader does.
    pub fn apply(&mut self, key: &RecordKey, value: Option<&[u8]>) {
        self.records += 1;
        if let Err(e) = self.try_apply(key, value) {
            tracing::warn!(?key, error = %e, "skipping undecodable _schemas record");
        }
    }

    fn try_apply(&mut self, key: &RecordKey, value: Option<&[u8]>) -> Result<(), String> {
        let err = |e: serde_json::Error| e.to_string();
        match key {
            RecordKey::Schema { subject, version } => match value {
                None => self.remove_version(subject, *version),
                Some(v) => {
                    let v: SchemaValue = serde_json::from_slice(v).map_err(err)?;
                    let schema_type =
                        SchemaType::parse(v.schema_type.as_deref()).map_err(|e| e.message)?;
                    self.put_version(subject, *version, v.id, v.deleted, || SchemaEntry {
                        schema_type,
                        schema: v.schema.clone(),
                        references: v.references.clone(),
                        uses: 0,
                    });
                }
            },
            RecordKey::Config { subject } => {
                let level = match value {
                    None => None,
                    Some(v) => {
                        let v: ConfigValue = serde_json::from_slice(v).map_err(err)?;
                        Some(
                            CompatibilityLevel::parse(&v.compatibility_level)
                                .map_err(|e| e.message)?,
                        )
                    }
                };
                match (subject, level) {
                    (None, level) => self.global_config = level,
                    (Some(s), Some(l)) => {
                        self.subject_config.insert(s.clone(), l);
                    }
                    (Some(s), None) => {
                        self.subject_config.remove(s);
                    }
                }
            }
            RecordKey::Mode { subject } => {
                let mode = match value {
                    None => None,
                    Some(v) => {
                        let v: ModeValue = serde_json::from_slice(v).map_err(err)?;
                        Some(Mode::parse(&v.mode).map_err(|e| e.message)?)
                    }
                };
                match (subject, mode) {
                    (None, mode) => self.global_mode = mode,
                    (Some(s), Some(m)) => {
                        self.subject_mode.insert(s.clone(), m);
                    }
                    (Some(s), None) => {
                        self.subject_mode.remove(s);
                    }
                }
            }
            RecordKey::DeleteSubject { subject } => {
                let Some(v) = value else { return Ok(()) };
                let v: DeleteSubjectValue = serde_json::from_slice(v).map_err(err)?;
                if let Some(versions) = self.subjects.get_mut(subject) {
                    for (_, entry) in versions.range_mut(..=v.version) {
                        entry.deleted = true;
                    }
                }
            }
            RecordKey::ClearSubject { subject } => {
                if value.is_none() {
                    return Ok(());
                }
                let deleted: Vec<i32> = self
                    .subjects
                    .get(subject)
                    .map(|vs| {
                        vs.iter()
                            .filter(|(_, e)| e.deleted)
                            .map(|(v, _)| *v)
                            .collect()
                    })
                    .unwrap_or_default();
                for version in deleted {
                    self.remove_version(subject, version);
                }
            }
            RecordKey::Other => {}
        }
        Ok(())
    }

    fn put_version(
        &mut self,
        subject: &str,
        version: i32,
        id: i32,
        deleted: bool,
        entry: impl FnOnce() -> SchemaEntry,
    ) {
        let previous = self
            .subjects
            .entry(subject.to_string())
            .or_default()
            .insert(version, VersionEntry { id, deleted });
        self.max_id = self.max_id.max(id);
        let schema = self.schemas.entry(id).or_insert_with(entry);
        schema.uses += 1;
        let content = (
            schema.schema_type,
            schema.schema.clone(),
            schema.references.clone(),
        );
        self.by_content.entry(content).or_insert(id);
        if let Some(previous) = previous {
            self.release(previous.id);
        }
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return;
        };
        let removed = versions.remove(&version);
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        if let Some(removed) = removed {
            self.release(removed.id);
        }
    }

    fn release(&mut self, id: i32) {
        let Some(schema) = self.schemas.get_mut(&id) else {
            return;
        };
        schema.uses -= 1;
        if schema.uses == 0 {
            let schema = self.schemas.remove(&id).expect("present");
            let content = (schema.schema_type, schema.schema, schema.references);
            if self.by_content.get(&content) == Some(&id) {
                self.by_content.remove(&content);
            }
        }
    }
}

/// Encodes a SCHEMA record's value.
pub fn schema_value(value: &SchemaValue) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialising a value cannot fail")
}

pub fn config_value(level: CompatibilityLevel) -> Vec<u8> {
    serde_json::to_vec(&ConfigValue {
        compatibility_level: level.as_str().to_string(),
    })
    .expect("serialisable")
}

pub fn mode_value(mode: Mode) -> Vec<u8> {
    serde_json::to_vec(&ModeValue {
        mode: mode.as_str().to_string(),
    })
    .expect("serialisable")
}

pub fn delete_subject_value(subject: &str, version: i32) -> Vec<u8> {
    serde_json::to_vec(&DeleteSubjectValue {
        subject: subject.to_string(),
        version,
    })
    .expect("serialisable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_confluents_json() {
        let key = RecordKey::Schema {
            subject: "orders-value".into(),
            version: 3,
        };
        assert_eq!(
            String::from_utf8(key.encode()).unwrap(),
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}"#
        );
        assert_eq!(RecordKey::decode(&key.encode()).unwrap(), key);
        let global = RecordKey::Config { subject: None };
        assert_eq!(
            String::from_utf8(global.encode()).unwrap(),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(RecordKey::decode(&global.encode()).unwrap(), global);
        assert_eq!(
            RecordKey::decode(br#"{"keytype":"NOOP","magic":0}"#).unwrap(),
            RecordKey::Other
        );
        assert!(RecordKey::decode(b"not json").is_err());
    }

    #[test]
    fn apply_builds_versions_ids_and_deletes() {
        let mut state = State::default();
        let put = |state: &mut State, subject: &str, version, id, deleted| {
            let value = SchemaValue {
                subject: subject.into(),
                version,
                id,
                schema_type: None,
                references: vec![],
                schema: format!("\"schema{id}\""),
                deleted,
            };
            state.apply(
                &RecordKey::Schema {
                    subject: subject.into(),
                    version,
                },
                Some(&schema_value(&value)),
            );
        };
        put(&mut state, "a", 1, 1, false);
        put(&mut state, "a", 2, 2, false);
        put(&mut state, "b", 1, 1, false);
        assert_eq!(state.schemas[&1].uses, 2);
        state.apply(
            &RecordKey::DeleteSubject {
                subject: "a".into(),
            },
            Some(&delete_subject_value("a", 2)),
        );
        assert!(state.subjects["a"].values().all(|e| e.deleted));
        state.apply(
            &RecordKey::Schema {
                subject: "a".into(),
                version: 2,
            },
            None,
        );
        assert!(!state.schemas.contains_key(&2), "id 2 has no version left");
        assert_eq!(state.max_id, 2, "a hard-deleted id is never reused");
        state.apply(
            &RecordKey::ClearSubject {
                subject: "a".into(),
            },
            Some(br#"{"subject":"a"}"#),
        );
        assert!(!state.subjects.contains_key("a"));
        assert_eq!(state.schemas[&1].uses, 1);
        state.apply(
            &RecordKey::Config { subject: None },
            Some(&config_value(CompatibilityLevel::Full)),
        );
        assert_eq!(state.global_config, Some(CompatibilityLevel::Full));
        state.apply(&RecordKey::Config { subject: None }, None);
        assert_eq!(state.global_config, None);
        state.apply(
            &RecordKey::Mode {
                subject: Some("b".into()),
            },
            Some(b"{bad"),
        );
        assert!(state.subject_mode.is_empty());
    }
}
