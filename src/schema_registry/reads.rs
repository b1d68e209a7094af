//! The registry's read operations: schemas by id, subjects, versions, configs and
//! modes, lookups of a schema under a subject, and compatibility checks. Each waits
//! for the last write to be durable first, then reads the state under its lock.

use super::model::{SchemaInput, StoredSchema, SubjectVersion, VersionSpec};
use super::records::State;
use super::{
    compat, effective_level, effective_mode, parse_with_references, CompatibilityLevel, Mode,
    RegistryError, Result, SchemaRegistry,
};

/// A subject-version pair (for `/schemas/ids/{id}/versions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersionRef {
    pub subject: String,
    pub version: i32,
}

pub(super) fn subject_version(
    state: &State,
    subject: &str,
    version: i32,
) -> Option<SubjectVersion> {
    let entry = state.subjects.get(subject)?.get(&version)?;
    let schema = state.schemas.get(&entry.id)?;
    Some(SubjectVersion {
        subject: subject.to_string(),
        version,
        id: entry.id,
        schema_type: schema.schema_type,
        schema: schema.schema.clone(),
        references: schema.references.clone(),
        deleted: entry.deleted,
    })
}

/// Resolves `spec` in `subject`: `latest` is the highest live version (or any, with
/// `deleted`). 40401 when the subject has no (live) version, 40402 when the version
/// does not exist or is soft-deleted and `deleted` is false.
pub(super) fn resolve_version(
    state: &State,
    subject: &str,
    spec: VersionSpec,
    deleted: bool,
) -> Result<i32> {
    let versions = state
        .subjects
        .get(subject)
        .filter(|vs| deleted || vs.values().any(|e| !e.deleted))
        .ok_or_else(|| RegistryError::subject_not_found(subject))?;
    match spec {
        VersionSpec::Latest => versions
            .iter()
            .rev()
            .find(|(_, e)| deleted || !e.deleted)
            .map(|(v, _)| *v)
            .ok_or_else(|| RegistryError::subject_not_found(subject)),
        VersionSpec::Number(n) => match versions.get(&n) {
            Some(e) if deleted || !e.deleted => Ok(n),
            _ => Err(RegistryError::version_not_found(subject, n)),
        },
    }
}

/// The live versions of `subject`, oldest first, as parsed schemas (versions whose
/// stored text no longer parses are skipped with a log line).
pub(super) fn live_parsed(
    state: &State,
    subject: &str,
) -> Vec<(i32, super::formats::ParsedSchema)> {
    let Some(versions) = state.subjects.get(subject) else {
        return Vec::new();
    };
    versions
        .iter()
        .filter(|(_, e)| !e.deleted)
        .filter_map(|(v, e)| {
            let schema = state.schemas.get(&e.id)?;
            match parse_with_references(state, schema.schema_type, &schema.schema, &schema.references) {
                Ok(p) => Some((*v, p)),
                Err(err) => {
                    tracing::warn!(subject, version = v, error = %err, "stored schema does not parse; left out of compatibility checks");
                    None
                }
            }
        })
        .collect()
}

/// The version of `subject` whose schema is `input` (same type, references and text,
/// as submitted or normalised).
pub(super) fn find_in_subject(
    state: &State,
    subject: &str,
    input: &SchemaInput,
    normalize: bool,
    deleted: bool,
) -> Result<Option<SubjectVersion>> {
    let parsed = parse_with_references(state, input.schema_type, &input.schema, &input.references)?;
    let plain = parsed.canonical(false);
    let normalized = parsed.canonical(true);
    let Some(versions) = state.subjects.get(subject) else {
        return Ok(None);
    };
    for (version, entry) in versions.iter().rev() {
        if entry.deleted && !deleted {
            continue;
        }
        let Some(schema) = state.schemas.get(&entry.id) else {
            continue;
        };
        if schema.schema_type != input.schema_type || schema.references != input.references {
            continue;
        }
        let same = schema.schema == plain
            || schema.schema == normalized
            || (normalize
                && parse_with_references(
                    state,
                    schema.schema_type,
                    &schema.schema,
                    &schema.references,
                )
                .is_ok_and(|p| p.canonical(true) == normalized));
        if same {
            return Ok(subject_version(state, subject, *version));
        }
    }
    Ok(None)
}

impl SchemaRegistry {
    /// `GET /schemas/ids/{id}`: 40403 when no subject-version carries the id.
    pub async fn schema_by_id(&self, id: i32) -> Result<StoredSchema> {
        self.settled().await?;
        let state = self.state.read();
        let schema = state
            .schemas
            .get(&id)
            .ok_or_else(|| RegistryError::schema_not_found(id))?;
        Ok(StoredSchema {
            id,
            schema_type: schema.schema_type,
            schema: schema.schema.clone(),
            references: schema.references.clone(),
        })
    }

    /// `GET /schemas/ids/{id}/versions`: the subject-versions carrying `id`.
    pub async fn versions_of_id(&self, id: i32, deleted: bool) -> Result<Vec<SubjectVersionRef>> {
        self.settled().await?;
        let state = self.state.read();
        if !state.schemas.contains_key(&id) {
            return Err(RegistryError::schema_not_found(id));
        }
        Ok(state
            .subjects
            .iter()
            .flat_map(|(s, vs)| {
                vs.iter()
                    .filter(move |(_, e)| e.id == id && (deleted || !e.deleted))
                    .map(move |(v, _)| SubjectVersionRef {
                        subject: s.clone(),
                        version: *v,
                    })
            })
            .collect())
    }

    /// `GET /schemas`: every (live) subject-version, or only the latest per subject.
    pub async fn all_schemas(
        &self,
        subject_prefix: &str,
        deleted: bool,
        latest_only: bool,
    ) -> Result<Vec<SubjectVersion>> {
        self.settled().await?;
        let state = self.state.read();
        let mut out = Vec::new();
        for (subject, versions) in state.subjects.range(subject_prefix.to_string()..) {
            if !subject.starts_with(subject_prefix) {
                break;
            }
            let mut live: Vec<i32> = versions
                .iter()
                .filter(|(_, e)| deleted || !e.deleted)
                .map(|(v, _)| *v)
                .collect();
            if latest_only {
                live = live.last().copied().into_iter().collect();
            }
            out.extend(
                live.into_iter()
                    .filter_map(|v| subject_version(&state, subject, v)),
            );
        }
        Ok(out)
    }

    /// `GET /subjects`: subjects with a live version (any version with `deleted`; only
    /// those whose versions are all soft-deleted with `deleted_only`).
    pub async fn subjects(
        &self,
        prefix: &str,
        deleted: bool,
        deleted_only: bool,
    ) -> Result<Vec<String>> {
        self.settled().await?;
        let state = self.state.read();
        Ok(state
            .subjects
            .iter()
            .filter(|(s, _)| s.starts_with(prefix))
            .filter(|(_, vs)| {
                let any_live = vs.values().any(|e| !e.deleted);
                if deleted_only {
                    !any_live
                } else {
                    deleted || any_live
                }
            })
            .map(|(s, _)| s.clone())
            .collect())
    }

    /// `GET /subjects/{s}/versions`.
    /// `deleted_only`: only the soft-deleted versions.
    pub async fn versions(
        &self,
        subject: &str,
        deleted: bool,
        deleted_only: bool,
    ) -> Result<Vec<i32>> {
        self.settled().await?;
        let state = self.state.read();
        let versions: Vec<i32> = state
            .subjects
            .get(subject)
            .map(|vs| {
                vs.iter()
                    .filter(|(_, e)| {
                        if deleted_only {
                            e.deleted
                        } else {
                            deleted || !e.deleted
                        }
                    })
                    .map(|(v, _)| *v)
                    .collect()
            })
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(RegistryError::subject_not_found(subject));
        }
        Ok(versions)
    }

    /// `GET /subjects/{s}/versions/{v}`.
    pub async fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<SubjectVersion> {
        self.settled().await?;
        let state = self.state.read();
        let version = resolve_version(&state, subject, spec, deleted)?;
        subject_version(&state, subject, version)
            .ok_or_else(|| RegistryError::version_not_found(subject, version))
    }

    /// `GET /subjects/{s}/versions/{v}/referencedby`: ids of the live schemas that
    /// reference this version.
    pub async fn referenced_by(&self, subject: &str, spec: VersionSpec) -> Result<Vec<i32>> {
        self.settled().await?;
        let state = self.state.read();
        let version = resolve_version(&state, subject, spec, true)?;
        Ok(referrers(&state, subject, version, false))
    }

    /// `POST /subjects/{s}`: the version of `subject` that has this schema; 40401 when
    /// the subject does not exist, 40403 when the schema is not in it.
    pub async fn lookup(
        &self,
        subject: &str,
        input: &SchemaInput,
        normalize: bool,
        deleted: bool,
    ) -> Result<SubjectVersion> {
        self.settled().await?;
        let state = self.state.read();
        let exists = state
            .subjects
            .get(subject)
            .is_some_and(|vs| deleted || vs.values().any(|e| !e.deleted));
        if !exists {
            return Err(RegistryError::subject_not_found(subject));
        }
        find_in_subject(&state, subject, input, normalize, deleted)?
            .ok_or_else(|| RegistryError::new(40403, "Schema not found"))
    }

    /// `POST /compatibility/subjects/{s}/versions[/{v}]`: the messages of every rule
    /// `input` breaks (empty: compatible) against `version` (None: the versions the
    /// subject's level checks against).
    pub async fn check_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSpec>,
        input: &SchemaInput,
    ) -> Result<Vec<String>> {
        self.settled().await?;
        let state = self.state.read();
        let new =
            parse_with_references(&state, input.schema_type, &input.schema, &input.references)?;
        let level = effective_level(&state, subject);
        let live = live_parsed(&state, subject);
        let against: Vec<_> = match version {
            None => live.into_iter().map(|(_, p)| p).collect(),
            Some(spec) => {
                if !state.subjects.contains_key(subject) && spec == VersionSpec::Latest {
                    return Ok(Vec::new());
                }
                let v = resolve_version(&state, subject, spec, false)?;
                live.into_iter()
                    .filter(|(n, _)| *n == v)
                    .map(|(_, p)| p)
                    .collect()
            }
        };
        Ok(compat::check(level, &new, &against))
    }

    /// `GET /config[/{s}]`: a subject's own level (40408 when it has none and
    /// `default_to_global` is false), else the global one, else BACKWARD.
    pub async fn config(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<CompatibilityLevel> {
        self.settled().await?;
        let state = self.state.read();
        match subject {
            None => Ok(state.global_config.unwrap_or(CompatibilityLevel::Backward)),
            Some(s) => match state.subject_config.get(s) {
                Some(l) => Ok(*l),
                None if default_to_global => Ok(effective_level(&state, s)),
                None => Err(RegistryError::subject_config_not_configured(s)),
            },
        }
    }

    /// `GET /mode[/{s}]`.
    pub async fn mode(&self, subject: Option<&str>, default_to_global: bool) -> Result<Mode> {
        self.settled().await?;
        let state = self.state.read();
        match subject {
            Some(s) if !default_to_global && !state.subject_mode.contains_key(s) => {
                Err(RegistryError::subject_mode_not_configured(s))
            }
            _ => Ok(effective_mode(&state, subject)),
        }
    }

    /// The highest id ever given (0 before the first registration).
    pub fn max_id(&self) -> i32 {
        self.state.read().max_id
    }
}

/// Ids of the schemas (live only, or soft-deleted too) that reference `subject`
/// version `version`.
pub(super) fn referrers(
    state: &State,
    subject: &str,
    version: i32,
    include_deleted: bool,
) -> Vec<i32> {
    let mut ids = Vec::new();
    for versions in state.subjects.values() {
        for entry in versions.values() {
            if entry.deleted && !include_deleted {
                continue;
            }
            let Some(schema) = state.schemas.get(&entry.id) else {
                continue;
            };
            if schema
                .references
                .iter()
                .any(|r| r.subject == subject && r.version == version)
                && !ids.contains(&entry.id)
            {
                ids.push(entry.id);
            }
        }
    }
    ids.sort_unstable();
    ids
}
