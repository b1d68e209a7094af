//! Request and answer bodies of the registry's REST API: the schema a client submits
//! (register, lookup, compatibility check), query flags as clients write them
//! (`deleted=True`, `normalize=false`), the JSON answers under Confluent's content type
//! and Confluent's error body `{"error_code":..,"message":..}`.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::schema_registry::{
    Reference, RegistryError, SchemaInput, SchemaType, StoredSchema, SubjectVersion,
};

/// The content type every answer carries (Confluent's).
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A JSON answer under the registry's content type.
pub fn json_answer(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

pub fn ok(value: Value) -> Response {
    json_answer(StatusCode::OK, &value)
}

/// Confluent's error body, with the status its code implies.
pub fn error(e: &RegistryError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    if status.is_server_error() {
        tracing::error!(code = e.error_code, message = %e.message, "schema registry request failed");
    } else {
        tracing::debug!(code = e.error_code, message = %e.message, "schema registry request refused");
    }
    json_answer(
        status,
        &json!({"error_code": e.error_code, "message": e.message}),
    )
}

pub type Answer = Result<Response, RegistryError>;

/// Query parameters; a flag is true when its value is `true` in any case (Java's
/// Boolean.parseBoolean, which Confluent's registry uses).
pub struct Query(pub HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut out = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.insert(percent_decode(k), percent_decode(v));
        }
        Query(out)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.0
            .get(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// A flag Confluent spells `deletedOnly` and some clients `deleted_only`.
    pub fn flag_either(&self, camel: &str, snake: &str) -> bool {
        self.flag(camel) || self.flag(snake)
    }

    /// `offset` / `limit` paging of a list answer (limit -1 or absent: all).
    pub fn page<T>(&self, items: Vec<T>) -> Vec<T> {
        let offset = self
            .get("offset")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let limit = self
            .get("limit")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(-1);
        let rest = items.into_iter().skip(offset);
        if limit >= 0 {
            rest.take(limit as usize).collect()
        } else {
            rest.collect()
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unprocessable(message: impl Into<String>) -> RegistryError {
    RegistryError::new(422, message)
}

/// Parses a JSON request body (any of the registry's content types, or none).
pub fn parse_json(body: &Bytes) -> Result<Value, RegistryError> {
    serde_json::from_slice(body).map_err(|e| RegistryError::new(400, format!("Bad Request: {e}")))
}

/// The schema a register / lookup / compatibility request carries.
pub fn schema_input(body: &Bytes) -> Result<SchemaInput, RegistryError> {
    let v = parse_json(body)?;
    let Value::Object(map) = &v else {
        return Err(unprocessable("The request body must be a JSON object"));
    };
    let schema_type = match map.get("schemaType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(unprocessable("schemaType must be a string")),
    };
    let schema_type = SchemaType::parse(schema_type)?;
    let schema = match map.get("schema") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(RegistryError::new(42201, "Empty schema"))
        }
        Some(_) => return Err(unprocessable("schema must be a string")),
    };
    let references = match map.get("references") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| {
                serde_json::from_value::<Reference>(r.clone()).map_err(|e| {
                    RegistryError::new(42201, format!("Invalid schema reference {r}: {e}"))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(unprocessable("references must be an array")),
    };
    let int = |name: &str| -> Result<Option<i32>, RegistryError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| unprocessable(format!("{name} must be an integer"))),
        }
    };
    Ok(SchemaInput {
        schema_type,
        schema,
        references,
        id: int("id")?,
        version: int("version")?.filter(|v| *v > 0),
    })
}

fn with_type_and_references(
    out: &mut serde_json::Map<String, Value>,
    schema_type: SchemaType,
    references: &[Reference],
) {
    // Confluent leaves schemaType out for AVRO and references out when empty.
    if schema_type != SchemaType::Avro {
        out.insert("schemaType".into(), json!(schema_type.as_str()));
    }
    if !references.is_empty() {
        out.insert("references".into(), json!(references));
    }
}

/// `GET /subjects/{s}/versions/{v}` and lookup answers.
pub fn subject_version_json(sv: &SubjectVersion) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("subject".into(), json!(sv.subject));
    out.insert("version".into(), json!(sv.version));
    out.insert("id".into(), json!(sv.id));
    with_type_and_references(&mut out, sv.schema_type, &sv.references);
    out.insert("schema".into(), json!(sv.schema));
    if sv.deleted {
        out.insert("deleted".into(), json!(true));
    }
    Value::Object(out)
}

/// `GET /schemas/ids/{id}` answers (`schema` already in the asked format).
pub fn stored_schema_json(s: &StoredSchema, schema: String) -> Value {
    let mut out = serde_json::Map::new();
    with_type_and_references(&mut out, s.schema_type, &s.references);
    out.insert("schema".into(), json!(schema));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_any_case_and_decoded_values() {
        let q = Query::parse(Some("normalize=False&deleted=TRUE&subjectPrefix=a%2Fb+c&x"));
        assert!(!q.flag("normalize"));
        assert!(q.flag("deleted"));
        assert!(!q.flag("x"));
        assert_eq!(q.get("subjectPrefix"), Some("a/b c"));
        assert_eq!(Query::parse(Some("a=%")).get("a"), Some("%"));
        assert_eq!(Query::parse(Some("a=%4")).get("a"), Some("%4"));
    }

    #[test]
    fn schema_input_refuses_bad_shapes_with_4xx() {
        let b = |s: &str| Bytes::from(s.to_string());
        assert_eq!(schema_input(&b("{")).unwrap_err().error_code, 400);
        assert_eq!(schema_input(&b("[]")).unwrap_err().error_code, 422);
        assert_eq!(schema_input(&b("{}")).unwrap_err().error_code, 42201);
        assert_eq!(
            schema_input(&b(r#"{"schema":1}"#)).unwrap_err().error_code,
            422
        );
        assert_eq!(
            schema_input(&b(r#"{"schema":"x","schemaType":"XML"}"#))
                .unwrap_err()
                .error_code,
            42201
        );
        assert_eq!(
            schema_input(&b(r#"{"schema":"x","references":[{"name":1}]}"#))
                .unwrap_err()
                .error_code,
            42201
        );
        let ok = schema_input(&b(
            r#"{"schema":"\"string\"","schemaType":"avro","references":[{"name":"a","subject":"s","version":1}]}"#,
        ))
        .unwrap();
        assert_eq!(ok.references.len(), 1);
    }
}
