//! A Confluent-compatible schema registry: subjects, versions, global ids, soft and
//! hard deletes, compatibility configs, modes and references, as a state machine over
//! the compacted topic `_schemas` (Confluent's own record format, see [`records`]).
//!
//! One writer at a time (the `writer` lock, as the registry's leader does): a write
//! reads the state, appends its records as one batch, applies them to the state and
//! only answers once the batch is fsync'd. Readers wait for the last applied write to
//! be durable before they answer, so nothing is ever served that a kill -9 could take
//! back. Ids are dense (highest id ever seen + 1) and never reused.
//!
//! This module owns the registry's semantics; it never speaks HTTP (the REST API
//! lives in `http::schema_registry`) and never touches files except through the
//! topic registry.

pub mod compat;
pub mod error;
pub mod formats;
pub mod model;
mod reads;
pub mod records;
mod schema_ids;
pub mod store;
mod writes;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_json;
#[cfg(test)]
mod tests_protobuf;

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Result as AnyResult;
use parking_lot::{Mutex, RwLock};

use crate::clock::Clock;
use crate::coordinator::internal_log::Appended;
use crate::topics::{Partition, TopicRegistry};
pub use error::{RegistryError, Result};
use formats::{ParsedSchema, ResolvedReference};
pub use model::{
    CompatibilityLevel, Mode, Reference, SchemaInput, SchemaType, StoredSchema, SubjectVersion,
    VersionSpec,
};
use records::{RecordKey, State};

/// How deep references may nest before a schema is refused (Confluent has no limit;
/// this bounds the work one registration can cause).
const MAX_REFERENCE_DEPTH: usize = 32;

/// The registry. Cheap to share (`Arc`); every method is safe to call concurrently.
pub struct SchemaRegistry {
    topics: Arc<TopicRegistry>,
    clock: Clock,
    state: RwLock<State>,
    /// Serialises writes (one writer, like Confluent's leader).
    writer: tokio::sync::Mutex<()>,
    /// The last write applied to `state`: readers wait until it is durable.
    last_write: Mutex<Option<(Arc<Partition>, i64)>>,
    /// Largest accepted schema text, in bytes.
    max_schema_bytes: usize,
}

impl SchemaRegistry {
    /// Rebuilds the registry from `_schemas` (if it exists).
    pub fn open(
        topics: Arc<TopicRegistry>,
        clock: Clock,
        max_schema_bytes: usize,
    ) -> AnyResult<SchemaRegistry> {
        let state = store::replay(&topics)?;
        if state.records > 0 {
            tracing::info!(
                records = state.records,
                subjects = state.subjects.len(),
                max_id = state.max_id,
                "schema registry replayed _schemas"
            );
        }
        Ok(SchemaRegistry {
            topics,
            clock,
            state: RwLock::new(state),
            writer: tokio::sync::Mutex::new(()),
            last_write: Mutex::new(None),
            max_schema_bytes,
        })
    }

    /// Waits until every write applied so far is durable.
    async fn settled(&self) -> Result<()> {
        let last = self.last_write.lock().clone();
        if let Some((partition, end)) = last {
            Appended::new(partition, end)
                .durable()
                .await
                .map_err(|e| RegistryError::store_error(format!("_schemas not durable: {e:?}")))?;
        }
        Ok(())
    }

    /// Appends and applies `entries` (the caller holds the writer lock), then waits for
    /// their fsync.
    async fn commit(&self, entries: Vec<(RecordKey, Option<Vec<u8>>)>) -> Result<()> {
        if entries.is_empty() {
            return self.settled().await;
        }
        let partition = store::partition(&self.topics)?;
        let appended = store::append(&partition, &entries, self.clock.now_ms())?;
        {
            let mut state = self.state.write();
            for (key, value) in &entries {
                state.apply(key, value.as_deref());
            }
        }
        *self.last_write.lock() = Some((partition, appended.end_offset()));
        appended
            .durable()
            .await
            .map_err(|e| RegistryError::store_error(format!("_schemas not durable: {e:?}")))
    }
}

/// The effective compatibility level of `subject` (its own, else the global one, else
/// BACKWARD).
fn effective_level(state: &State, subject: &str) -> CompatibilityLevel {
    state
        .subject_config
        .get(subject)
        .copied()
        .or(state.global_config)
        .unwrap_or(CompatibilityLevel::Backward)
}

/// The effective mode of `subject`.
fn effective_mode(state: &State, subject: Option<&str>) -> Mode {
    subject
        .and_then(|s| state.subject_mode.get(s).copied())
        .or(state.global_mode)
        .unwrap_or(Mode::ReadWrite)
}

/// The text of `subject` version `version`, if it exists (soft-deleted included).
fn version_text<'a>(
    state: &'a State,
    subject: &str,
    version: i32,
) -> Option<(i32, &'a records::SchemaEntry)> {
    let entry = state.subjects.get(subject)?.get(&version)?;
    state.schemas.get(&entry.id).map(|s| (entry.id, s))
}

/// Every schema `references` name, transitively, dependencies first; a reference to
/// a subject-version that does not exist is an invalid schema.
fn resolve_references(state: &State, references: &[Reference]) -> Result<Vec<ResolvedReference>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    resolve_into(state, references, 0, &mut seen, &mut out)?;
    Ok(out)
}

fn resolve_into(
    state: &State,
    references: &[Reference],
    depth: usize,
    seen: &mut HashSet<(String, i32)>,
    out: &mut Vec<ResolvedReference>,
) -> Result<()> {
    if depth > MAX_REFERENCE_DEPTH {
        return Err(RegistryError::invalid_schema(format!(
            "references nest deeper than {MAX_REFERENCE_DEPTH}"
        )));
    }
    for r in references {
        let version = if r.version == -1 {
            state
                .subjects
                .get(&r.subject)
                .and_then(|vs| vs.iter().rev().find(|(_, e)| !e.deleted).map(|(v, _)| *v))
                .unwrap_or(-1)
        } else {
            r.version
        };
        if !seen.insert((r.subject.clone(), version)) {
            continue;
        }
        let Some((_, schema)) = version_text(state, &r.subject, version) else {
            return Err(RegistryError::invalid_schema(format!(
                "reference '{}' names subject '{}' version {} which does not exist",
                r.name, r.subject, r.version
            )));
        };
        resolve_into(state, &schema.references, depth + 1, seen, out)?;
        out.push(ResolvedReference {
            name: r.name.clone(),
            schema_type: schema.schema_type,
            schema: schema.schema.clone(),
        });
    }
    Ok(())
}

/// Parses a stored or submitted schema with its references.
fn parse_with_references(
    state: &State,
    schema_type: SchemaType,
    text: &str,
    references: &[Reference],
) -> Result<ParsedSchema> {
    let resolved = resolve_references(state, references)?;
    formats::parse(schema_type, text, &resolved).map_err(RegistryError::invalid_schema)
}

fn valid_subject(subject: &str) -> Result<()> {
    if subject.trim().is_empty() || subject.chars().any(char::is_control) {
        return Err(RegistryError::invalid_subject(subject));
    }
    Ok(())
}
