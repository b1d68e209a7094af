//! One handler per endpoint of Confluent's REST API. Each parses its path, query and
//! body, calls the registry and shapes the answer; a refusal becomes Confluent's error
//! body with the status its code implies (4xx for anything a client sent).

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use super::body::{
    error, ok, parse_json, schema_input, stored_schema_json, subject_version_json, Answer, Query,
};
use super::AppState;
use crate::schema_registry::{CompatibilityLevel, Mode, RegistryError, SchemaType, VersionSpec};

fn answer(result: Answer) -> Response {
    result.unwrap_or_else(|e| error(&e))
}

fn http_not_found() -> RegistryError {
    RegistryError::new(404, "HTTP 404 Not Found")
}

/// A schema id in a path: not a number is a 404 (no such resource), as Jersey does.
fn parse_id(id: &str) -> Result<i32, RegistryError> {
    id.parse::<i32>().map_err(|_| http_not_found())
}

fn raw_text(text: String) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(super::body::CONTENT_TYPE),
    );
    response
}

pub async fn root() -> Response {
    ok(json!({}))
}

pub async fn metadata_id(State(s): State<AppState>) -> Response {
    ok(json!({
        "scope": {
            "path": [],
            "clusters": {
                "kafka-cluster": s.cluster_id,
                "schema-registry-cluster": "schema-registry"
            }
        }
    }))
}

pub async fn contexts() -> Response {
    ok(json!(["."]))
}

pub async fn not_found() -> Response {
    error(&http_not_found())
}

pub async fn method_not_allowed() -> Response {
    error(&RegistryError::new(405, "HTTP 405 Method Not Allowed"))
}

pub async fn schema_types() -> Response {
    ok(json!(SchemaType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()))
}

pub async fn list_schemas(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let list = s
                .registry
                .all_schemas(
                    q.get("subjectPrefix").unwrap_or(""),
                    q.flag("deleted"),
                    q.flag("latestOnly"),
                )
                .await?;
            Ok(ok(Value::Array(
                list.iter().map(subject_version_json).collect(),
            )))
        }
        .await,
    )
}

pub async fn schema_by_id(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let stored = s.registry.schema_by_id(parse_id(&id)?).await?;
            let text = crate::schema_registry::formats::format_for_answer(
                stored.schema_type,
                &stored.schema,
                q.get("format"),
            );
            Ok(ok(stored_schema_json(&stored, text)))
        }
        .await,
    )
}

pub async fn raw_schema_by_id(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    answer(
        async {
            let stored = s.registry.schema_by_id(parse_id(&id)?).await?;
            Ok(raw_text(stored.schema))
        }
        .await,
    )
}

pub async fn subjects_of_id(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let refs = s
                .registry
                .versions_of_id(parse_id(&id)?, q.flag("deleted"))
                .await?;
            let mut subjects: Vec<String> = refs.into_iter().map(|r| r.subject).collect();
            subjects.dedup();
            Ok(ok(json!(subjects)))
        }
        .await,
    )
}

pub async fn versions_of_id(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let refs = s
                .registry
                .versions_of_id(parse_id(&id)?, q.flag("deleted"))
                .await?;
            Ok(ok(Value::Array(
                refs.into_iter()
                    .map(|r| json!({"subject": r.subject, "version": r.version}))
                    .collect(),
            )))
        }
        .await,
    )
}

pub async fn list_subjects(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let subjects = s
                .registry
                .subjects(
                    q.get("subjectPrefix").unwrap_or(""),
                    q.flag("deleted"),
                    q.flag_either("deletedOnly", "deleted_only"),
                )
                .await?;
            Ok(ok(json!(q.page(subjects))))
        }
        .await,
    )
}

pub async fn register(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let input = schema_input(&body)?;
            let registered = s
                .registry
                .register(&subject, &input, q.flag("normalize"))
                .await?;
            Ok(ok(json!({"id": registered.id})))
        }
        .await,
    )
}

pub async fn lookup(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let input = schema_input(&body)?;
            let found = s
                .registry
                .lookup(&subject, &input, q.flag("normalize"), q.flag("deleted"))
                .await?;
            Ok(ok(subject_version_json(&found)))
        }
        .await,
    )
}

pub async fn delete_subject(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let versions = s
                .registry
                .delete_subject(&subject, q.flag("permanent"))
                .await?;
            Ok(ok(json!(versions)))
        }
        .await,
    )
}

pub async fn list_versions(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let versions = s
                .registry
                .versions(
                    &subject,
                    q.flag("deleted"),
                    q.flag_either("deletedOnly", "deleted_only"),
                )
                .await?;
            Ok(ok(json!(q.page(versions))))
        }
        .await,
    )
}

pub async fn get_version(
    State(s): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let spec = VersionSpec::parse(&version)?;
            let mut sv = s
                .registry
                .version(&subject, spec, q.flag("deleted"))
                .await?;
            sv.schema = crate::schema_registry::formats::format_for_answer(
                sv.schema_type,
                &sv.schema,
                q.get("format"),
            );
            Ok(ok(subject_version_json(&sv)))
        }
        .await,
    )
}

pub async fn raw_version_schema(
    State(s): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let spec = VersionSpec::parse(&version)?;
            let sv = s
                .registry
                .version(&subject, spec, q.flag("deleted"))
                .await?;
            Ok(raw_text(sv.schema))
        }
        .await,
    )
}

pub async fn referenced_by(
    State(s): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    answer(
        async {
            let spec = VersionSpec::parse(&version)?;
            Ok(ok(json!(s.registry.referenced_by(&subject, spec).await?)))
        }
        .await,
    )
}

pub async fn delete_version(
    State(s): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let spec = VersionSpec::parse(&version)?;
            let deleted = s
                .registry
                .delete_version(&subject, spec, q.flag("permanent"))
                .await?;
            Ok(ok(json!(deleted)))
        }
        .await,
    )
}

/// `{"compatibility": "FULL"}` (Confluent also accepts `compatibilityLevel`).
fn level_from_body(body: &Bytes) -> Result<CompatibilityLevel, RegistryError> {
    let v = parse_json(body)?;
    let level = v
        .get("compatibility")
        .or_else(|| v.get("compatibilityLevel"))
        .and_then(Value::as_str)
        .ok_or_else(|| RegistryError::invalid_compatibility_level("nothing"))?;
    CompatibilityLevel::parse(level)
}

pub async fn get_global_config(State(s): State<AppState>) -> Response {
    answer(
        async {
            let level = s.registry.config(None, true).await?;
            Ok(ok(json!({"compatibilityLevel": level.as_str()})))
        }
        .await,
    )
}

pub async fn put_global_config(State(s): State<AppState>, body: Bytes) -> Response {
    answer(
        async {
            let level = s.registry.set_config(None, level_from_body(&body)?).await?;
            Ok(ok(json!({"compatibility": level.as_str()})))
        }
        .await,
    )
}

pub async fn delete_global_config(State(s): State<AppState>) -> Response {
    answer(
        async {
            let level = s.registry.delete_config(None).await?;
            Ok(ok(json!({"compatibilityLevel": level.as_str()})))
        }
        .await,
    )
}

pub async fn get_subject_config(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let level = s
                .registry
                .config(Some(&subject), q.flag("defaultToGlobal"))
                .await?;
            Ok(ok(json!({"compatibilityLevel": level.as_str()})))
        }
        .await,
    )
}

pub async fn put_subject_config(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    answer(
        async {
            let level = s
                .registry
                .set_config(Some(&subject), level_from_body(&body)?)
                .await?;
            Ok(ok(json!({"compatibility": level.as_str()})))
        }
        .await,
    )
}

pub async fn delete_subject_config(
    State(s): State<AppState>,
    Path(subject): Path<String>,
) -> Response {
    answer(
        async {
            let level = s.registry.delete_config(Some(&subject)).await?;
            Ok(ok(json!({"compatibilityLevel": level.as_str()})))
        }
        .await,
    )
}

fn mode_from_body(body: &Bytes) -> Result<Mode, RegistryError> {
    let v = parse_json(body)?;
    let mode = v
        .get("mode")
        .and_then(Value::as_str)
        .ok_or_else(|| RegistryError::invalid_mode("nothing"))?;
    Mode::parse(mode)
}

pub async fn get_global_mode(State(s): State<AppState>) -> Response {
    answer(
        async {
            Ok(ok(
                json!({"mode": s.registry.mode(None, true).await?.as_str()}),
            ))
        }
        .await,
    )
}

pub async fn put_global_mode(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let mode = s
                .registry
                .set_mode(None, mode_from_body(&body)?, q.flag("force"))
                .await?;
            Ok(ok(json!({"mode": mode.as_str()})))
        }
        .await,
    )
}

pub async fn get_subject_mode(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let mode = s
                .registry
                .mode(Some(&subject), q.flag("defaultToGlobal"))
                .await?;
            Ok(ok(json!({"mode": mode.as_str()})))
        }
        .await,
    )
}

pub async fn put_subject_mode(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(
        async {
            let mode = s
                .registry
                .set_mode(Some(&subject), mode_from_body(&body)?, q.flag("force"))
                .await?;
            Ok(ok(json!({"mode": mode.as_str()})))
        }
        .await,
    )
}

pub async fn delete_subject_mode(
    State(s): State<AppState>,
    Path(subject): Path<String>,
) -> Response {
    answer(
        async {
            Ok(ok(
                json!({"mode": s.registry.delete_mode(&subject).await?.as_str()}),
            ))
        }
        .await,
    )
}

async fn check(
    s: &AppState,
    subject: &str,
    version: Option<&str>,
    q: &Query,
    body: &Bytes,
) -> Answer {
    let input = schema_input(body)?;
    let spec = version.map(VersionSpec::parse).transpose()?;
    let messages = s
        .registry
        .check_compatibility(subject, spec, &input)
        .await?;
    let mut out = json!({"is_compatible": messages.is_empty()});
    if q.flag("verbose") {
        out["messages"] = json!(messages);
    }
    Ok(ok(out))
}

pub async fn check_all(
    State(s): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(check(&s, &subject, None, &q, &body).await)
}

pub async fn check_version(
    State(s): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(q.as_deref());
    answer(check(&s, &subject, Some(&version), &q, &body).await)
}
