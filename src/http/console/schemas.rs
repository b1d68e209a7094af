//! `/api/schemas*`: the built-in schema registry, read-only: subjects with their versions
//! and compatibility levels, and one version's schema (text, type, id, references).
//!
//! Read in process through the registry's public interface
//! ([`SchemaRegistry`](crate::schema_registry::SchemaRegistry) on the broker), the same
//! calls its REST API (`sluice.schema.registry.listen`) makes, so the console shows what
//! registry clients see. With the registry disabled (the setting empty) the list says so
//! (`enabled: false`) and a version is a 404. The registry has no Kafka ACLs (its REST
//! API has none either); the console's login still applies. Registry errors keep their
//! 4xx status and Confluent's code (`registry_error_code`); a store error is a 503.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::extract::ApiPath;
use super::{ok, ApiError, ApiResult, S};
use crate::broker::Broker;
use crate::schema_registry::{RegistryError, VersionSpec};

/// The most subjects one answer lists (the rest: `truncated`).
const MAX_SUBJECTS: usize = 1000;
/// The most version numbers listed per subject (the newest are kept).
const MAX_VERSIONS: usize = 1000;

fn enabled(broker: &Broker) -> bool {
    !broker.config.schema_registry_listen.trim().is_empty()
}

fn registry_error(e: RegistryError) -> ApiError {
    let status = StatusCode::from_u16(e.status())
        .ok()
        .filter(|s| s.is_client_error())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut out = ApiError::new(status, e.message);
    out.body["registry_error_code"] = json!(e.error_code);
    out
}

pub async fn list(State(state): State<S>) -> ApiResult {
    let broker = state.broker()?;
    if !enabled(broker) {
        return ok(json!({
            "enabled": false,
            "message": "the schema registry is disabled (sluice.schema.registry.listen is empty)",
            "compatibility": null,
            "subjects": [],
            "truncated": false,
        }));
    }
    let registry = &broker.schema_registry;
    let global = registry.config(None, true).await.map_err(registry_error)?;
    let subjects = registry
        .subjects("", false, false)
        .await
        .map_err(registry_error)?;
    let truncated = subjects.len() > MAX_SUBJECTS;
    let mut out: Vec<Value> = Vec::new();
    for subject in subjects.into_iter().take(MAX_SUBJECTS) {
        // A subject deleted between the two reads is left out.
        let Ok(mut versions) = registry.versions(&subject, false, false).await else {
            continue;
        };
        if versions.len() > MAX_VERSIONS {
            versions.drain(..versions.len() - MAX_VERSIONS);
        }
        let latest = match versions.last() {
            Some(v) => registry
                .version(&subject, VersionSpec::Number(*v), false)
                .await
                .ok(),
            None => None,
        };
        let level = registry
            .config(Some(&subject), true)
            .await
            .map_err(registry_error)?;
        out.push(json!({
            "subject": subject,
            "versions": versions,
            "latest_id": latest.as_ref().map(|l| l.id),
            "schema_type": latest.as_ref().map(|l| l.schema_type.as_str()),
            "compatibility": level.as_str(),
        }));
    }
    ok(json!({
        "enabled": true,
        "compatibility": global.as_str(),
        "subjects": out,
        "truncated": truncated,
    }))
}

pub async fn version(
    State(state): State<S>,
    ApiPath((subject, version)): ApiPath<(String, String)>,
) -> ApiResult {
    let broker = state.broker()?;
    if !enabled(broker) {
        return Err(ApiError::not_found(
            "the schema registry is disabled (sluice.schema.registry.listen is empty)",
        ));
    }
    let registry = &broker.schema_registry;
    let spec = VersionSpec::parse(&version).map_err(registry_error)?;
    let v = registry
        .version(&subject, spec, false)
        .await
        .map_err(registry_error)?;
    let versions = registry
        .versions(&subject, false, false)
        .await
        .map_err(registry_error)?;
    let level = registry
        .config(Some(&subject), true)
        .await
        .map_err(registry_error)?;
    let skip = versions.len().saturating_sub(MAX_VERSIONS);
    ok(json!({
        "subject": v.subject,
        "version": v.version,
        "id": v.id,
        "schema_type": v.schema_type.as_str(),
        "schema": v.schema,
        "references": v.references.iter()
            .map(|r| json!({"name": r.name, "subject": r.subject, "version": r.version}))
            .collect::<Vec<_>>(),
        "compatibility": level.as_str(),
        "versions": &versions[skip..],
    }))
}
