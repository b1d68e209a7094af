//! The registry's writes: registering a schema, soft and hard deletes, configs and
//! modes. Each holds the writer lock from reading the state to applying its records,
//! so registrations are serialised and ids dense; each answers only once its records
//! are durable.

use super::model::{SchemaInput, SubjectVersion, VersionSpec};
use super::reads::{find_in_subject, live_parsed, referrers, resolve_version};
use super::records::{self, RecordKey, SchemaValue, State};
use super::{
    compat, effective_level, effective_mode, parse_with_references, valid_subject,
    CompatibilityLevel, Mode, RegistryError, Result, SchemaRegistry, SchemaType,
};

fn refuse_if_read_only(state: &State, subject: Option<&str>) -> Result<()> {
    if effective_mode(state, subject) == Mode::ReadOnly {
        let what = subject.map_or("The registry".to_string(), |s| format!("Subject {s}"));
        return Err(RegistryError::operation_not_permitted(format!(
            "{what} is in read-only mode"
        )));
    }
    Ok(())
}

impl SchemaRegistry {
    /// `POST /subjects/{s}/versions`: registers `input` under `subject` (the same
    /// schema again answers its existing id and version), after the compatibility check
    /// of the subject's level; 409 when incompatible.
    pub async fn register(
        &self,
        subject: &str,
        input: &SchemaInput,
        normalize: bool,
    ) -> Result<SubjectVersion> {
        valid_subject(subject)?;
        if input.schema.len() > self.max_schema_bytes {
            return Err(RegistryError::schema_too_large(format!(
                "Schema of {} bytes is larger than schema.registry.max.schema.bytes ({})",
                input.schema.len(),
                self.max_schema_bytes
            )));
        }
        let _writer = self.writer.lock().await;
        let (entries, answer) = {
            let state = self.state.read();
            let mode = effective_mode(&state, Some(subject));
            if mode == Mode::ReadOnly {
                return Err(RegistryError::operation_not_permitted(format!(
                    "Subject {subject} is in read-only mode"
                )));
            }
            let parsed =
                parse_with_references(&state, input.schema_type, &input.schema, &input.references)?;
            if let Some(existing) = find_in_subject(&state, subject, input, normalize, false)? {
                if input.id.is_none_or(|id| id == existing.id) {
                    (Vec::new(), existing)
                } else {
                    return Err(RegistryError::id_does_not_match(format!(
                        "Schema already registered with id {} instead of input id {}",
                        existing.id,
                        input.id.unwrap_or_default()
                    )));
                }
            } else {
                let text = parsed.canonical(normalize);
                let content = (input.schema_type, text.clone(), input.references.clone());
                let existing_id = state.by_content.get(&content).copied();
                let id = match (mode, input.id) {
                (Mode::Import, None) => {
                    return Err(RegistryError::operation_not_permitted(format!(
                        "Subject {subject} is in import mode: a registration must carry its id"
                    )))
                }
                (Mode::Import, Some(id)) => {
                    if id < 1 {
                        return Err(RegistryError::invalid_schema(format!("id {id} is not positive")));
                    }
                    match state.schemas.get(&id) {
                        Some(s)
                            if (s.schema_type, s.schema.as_str(), &s.references)
                                != (content.0, content.1.as_str(), &content.2) =>
                        {
                            return Err(RegistryError::id_does_not_match(format!(
                                "Overwrite new schema with id {id} is not permitted: the id is in use by another schema"
                            )))
                        }
                        _ => id,
                    }
                }
                (_, Some(id)) if Some(id) != existing_id => {
                    return Err(RegistryError::operation_not_permitted(format!(
                        "Subject {subject} is not in import mode: a registration may not choose its id"
                    )))
                }
                _ => {
                    if mode != Mode::Import {
                        let level = effective_level(&state, subject);
                        let existing: Vec<_> =
                            live_parsed(&state, subject).into_iter().map(|(_, p)| p).collect();
                        let messages = compat::check(level, &parsed, &existing);
                        if !messages.is_empty() {
                            return Err(RegistryError::incompatible(subject, &messages));
                        }
                    }
                    existing_id.unwrap_or(state.max_id + 1)
                }
            };
                let next_version = state
                    .subjects
                    .get(subject)
                    .and_then(|vs| vs.keys().next_back().copied())
                    .unwrap_or(0)
                    + 1;
                let version = match input.version {
                    Some(v) if mode == Mode::Import => {
                        if v < 1 {
                            return Err(RegistryError::invalid_version(v));
                        }
                        if state
                            .subjects
                            .get(subject)
                            .is_some_and(|vs| vs.contains_key(&v))
                        {
                            return Err(RegistryError::invalid_version(format!(
                                "{v} (already registered in subject {subject})"
                            )));
                        }
                        v
                    }
                    _ => next_version,
                };
                let value = SchemaValue {
                    subject: subject.to_string(),
                    version,
                    id,
                    schema_type: (input.schema_type != SchemaType::Avro)
                        .then(|| input.schema_type.as_str().to_string()),
                    references: input.references.clone(),
                    schema: text.clone(),
                    deleted: false,
                };
                let key = RecordKey::Schema {
                    subject: subject.to_string(),
                    version,
                };
                let answer = SubjectVersion {
                    subject: subject.to_string(),
                    version,
                    id,
                    schema_type: input.schema_type,
                    schema: text,
                    references: input.references.clone(),
                    deleted: false,
                };
                (vec![(key, Some(records::schema_value(&value)))], answer)
            }
        };
        // No records (already registered): commit waits for earlier writes to settle.
        self.commit(entries).await?;
        tracing::debug!(
            subject,
            id = answer.id,
            version = answer.version,
            "schema registered"
        );
        Ok(answer)
    }

    /// `DELETE /subjects/{s}/versions/{v}`: soft delete (40406 if already soft
    /// deleted), or with `permanent` a hard delete of a soft-deleted version (40407
    /// otherwise). A version another live schema references is 42206.
    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<i32> {
        let _writer = self.writer.lock().await;
        let (entries, version) = {
            let state = self.state.read();
            refuse_if_read_only(&state, Some(subject))?;
            // A numbered version is found even when soft-deleted, to answer 40406.
            let version = resolve_version(
                &state,
                subject,
                spec,
                permanent || matches!(spec, VersionSpec::Number(_)),
            )?;
            let entry = state.subjects[subject][&version];
            let referenced = referrers(&state, subject, version, permanent);
            if !referenced.is_empty() {
                return Err(RegistryError::reference_exists(format!(
                    "One or more references exist to the schema {{subject={subject},version={version}}}: ids {referenced:?}"
                )));
            }
            let key = RecordKey::Schema {
                subject: subject.to_string(),
                version,
            };
            if permanent {
                if !entry.deleted {
                    return Err(RegistryError::version_not_soft_deleted(subject, version));
                }
                (vec![(key, None)], version)
            } else {
                if entry.deleted {
                    return Err(RegistryError::version_soft_deleted(subject, version));
                }
                let schema = &state.schemas[&entry.id];
                let value = SchemaValue {
                    subject: subject.to_string(),
                    version,
                    id: entry.id,
                    schema_type: (schema.schema_type != SchemaType::Avro)
                        .then(|| schema.schema_type.as_str().to_string()),
                    references: schema.references.clone(),
                    schema: schema.schema.clone(),
                    deleted: true,
                };
                (vec![(key, Some(records::schema_value(&value)))], version)
            }
        };
        self.commit(entries).await?;
        Ok(version)
    }

    /// `DELETE /subjects/{s}`: soft delete of every version (40404 if all already
    /// are), or with `permanent` the hard delete of a soft-deleted subject (40405
    /// otherwise), its config and mode included. Answers the versions deleted.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>> {
        let _writer = self.writer.lock().await;
        let (entries, versions) = {
            let state = self.state.read();
            refuse_if_read_only(&state, Some(subject))?;
            let all = state
                .subjects
                .get(subject)
                .ok_or_else(|| RegistryError::subject_not_found(subject))?;
            let live: Vec<i32> = all
                .iter()
                .filter(|(_, e)| !e.deleted)
                .map(|(v, _)| *v)
                .collect();
            for version in if permanent {
                all.keys().copied().collect()
            } else {
                live.clone()
            } {
                let referenced = referrers(&state, subject, version, permanent);
                let referenced: Vec<i32> = referenced
                    .into_iter()
                    .filter(|id| !all.values().any(|e| e.id == *id))
                    .collect();
                if !referenced.is_empty() {
                    return Err(RegistryError::reference_exists(format!(
                        "One or more references exist to the schema {{subject={subject},version={version}}}: ids {referenced:?}"
                    )));
                }
            }
            if permanent {
                if !live.is_empty() {
                    return Err(RegistryError::subject_not_soft_deleted(subject));
                }
                let mut entries: Vec<_> = all
                    .keys()
                    .map(|v| {
                        (
                            RecordKey::Schema {
                                subject: subject.to_string(),
                                version: *v,
                            },
                            None,
                        )
                    })
                    .collect();
                if state.subject_config.contains_key(subject) {
                    entries.push((
                        RecordKey::Config {
                            subject: Some(subject.to_string()),
                        },
                        None,
                    ));
                }
                if state.subject_mode.contains_key(subject) {
                    entries.push((
                        RecordKey::Mode {
                            subject: Some(subject.to_string()),
                        },
                        None,
                    ));
                }
                (entries, all.keys().copied().collect())
            } else {
                let Some(latest) = live.last() else {
                    return Err(RegistryError::subject_soft_deleted(subject));
                };
                let key = RecordKey::DeleteSubject {
                    subject: subject.to_string(),
                };
                (
                    vec![(key, Some(records::delete_subject_value(subject, *latest)))],
                    live,
                )
            }
        };
        self.commit(entries).await?;
        Ok(versions)
    }

    /// `PUT /config[/{s}]`.
    pub async fn set_config(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<CompatibilityLevel> {
        if let Some(s) = subject {
            valid_subject(s)?;
        }
        let _writer = self.writer.lock().await;
        let key = RecordKey::Config {
            subject: subject.map(str::to_string),
        };
        self.commit(vec![(key, Some(records::config_value(level)))])
            .await?;
        Ok(level)
    }

    /// `DELETE /config[/{s}]`: back to the global level (or BACKWARD); answers the
    /// level that was in force.
    pub async fn delete_config(&self, subject: Option<&str>) -> Result<CompatibilityLevel> {
        let _writer = self.writer.lock().await;
        let previous = {
            let state = self.state.read();
            match subject {
                None => state.global_config.unwrap_or(CompatibilityLevel::Backward),
                Some(s) => {
                    if !state.subjects.contains_key(s) && !state.subject_config.contains_key(s) {
                        return Err(RegistryError::subject_not_found(s));
                    }
                    effective_level(&state, s)
                }
            }
        };
        let key = RecordKey::Config {
            subject: subject.map(str::to_string),
        };
        self.commit(vec![(key, None)]).await?;
        Ok(previous)
    }

    /// `PUT /mode[/{s}]`: IMPORT needs an empty registry (or subject) unless `force`.
    pub async fn set_mode(&self, subject: Option<&str>, mode: Mode, force: bool) -> Result<Mode> {
        if let Some(s) = subject {
            valid_subject(s)?;
        }
        let _writer = self.writer.lock().await;
        {
            let state = self.state.read();
            let has_schemas = match subject {
                None => !state.subjects.is_empty(),
                Some(s) => state.subjects.contains_key(s),
            };
            if mode == Mode::Import && has_schemas && !force {
                return Err(RegistryError::operation_not_permitted(
                    "Cannot import since found existing subjects",
                ));
            }
        }
        let key = RecordKey::Mode {
            subject: subject.map(str::to_string),
        };
        self.commit(vec![(key, Some(records::mode_value(mode)))])
            .await?;
        Ok(mode)
    }

    /// `DELETE /mode/{s}`: back to the global mode; answers the mode that was in force.
    pub async fn delete_mode(&self, subject: &str) -> Result<Mode> {
        let _writer = self.writer.lock().await;
        let previous = {
            let state = self.state.read();
            if !state.subject_mode.contains_key(subject) {
                return Err(RegistryError::subject_mode_not_configured(subject));
            }
            effective_mode(&state, Some(subject))
        };
        let key = RecordKey::Mode {
            subject: Some(subject.to_string()),
        };
        self.commit(vec![(key, None)]).await?;
        Ok(previous)
    }
}
