//! `/api/acls` and `/api/users`: ACL bindings through DescribeAcls (a match-any filter),
//! CreateAcls and DeleteAcls; SCRAM users through DescribeUserScramCredentials and
//! AlterUserScramCredentials.
//!
//! Every call runs as the request's principal, so the authorizer decides (DESCRIBE or
//! ALTER on the cluster); a refusal is a 403 with Kafka's error name. A delete names one
//! binding exactly (every field concrete), so the console never removes more than the
//! row it shows. A new password is salted and hashed here, as Kafka's admin clients do
//! (PBKDF2 with the project's SCRAM code, on a blocking thread, at most
//! [`super::login::MAX_CONCURRENT_CHECKS`] at once beside the logins): only the salt and
//! salted password reach the broker, and the password is never logged or answered. The
//! user body is read field by field so that no parse error can quote it.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::limits::MAX_PASSWORD_BYTES;
use super::{call, no_answer, ok, ApiError, ApiResult, S};
use crate::api::sb;
use crate::error::ResponseError;
use crate::security::acl::{AclOperation, PatternType, PermissionType, ResourceType, CLUSTER_NAME};
use crate::security::scram::{ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};

/// The most ACL bindings and users one answer lists.
const MAX_LISTED: usize = 1000;
/// The bytes of salt a new credential gets.
const SALT_BYTES: usize = 32;

// ---------- ACLs ----------

pub async fn list_acls(State(state): State<S>) -> ApiResult {
    let broker = state.broker()?;
    let mut request = DescribeAclsRequest::default();
    request.resource_type_filter = ResourceType::Any.code();
    request.resource_name_filter = None;
    request.pattern_type_filter = PatternType::Any.code();
    request.principal_filter = None;
    request.host_filter = None;
    request.operation = AclOperation::Any.code();
    request.permission_type = PermissionType::Any.code();
    let r = call!(DescribeAcls, request, 3, broker).ok_or_else(|| no_answer("DescribeAcls"))?;
    if r.error_code == ResponseError::SecurityDisabled.code() {
        // Not an error of the request: the page says there is nothing to manage.
        return ok(json!({"authorizer_enabled": false, "acls": [], "truncated": false}));
    }
    ApiError::check(r.error_code, r.error_message.as_ref())?;
    let mut acls: Vec<Value> = r
        .resources
        .iter()
        .flat_map(|res| {
            res.acls.iter().map(move |a| {
                json!({
                    "resource_type": ResourceType::from_code(res.resource_type).name(),
                    "resource_name": res.resource_name.as_str(),
                    "pattern_type": PatternType::from_code(res.pattern_type).name(),
                    "principal": a.principal.as_str(),
                    "host": a.host.as_str(),
                    "operation": AclOperation::from_code(a.operation).name(),
                    "permission": PermissionType::from_code(a.permission_type).name(),
                })
            })
        })
        .collect();
    let key = |a: &Value| {
        [
            "resource_type",
            "resource_name",
            "pattern_type",
            "principal",
            "operation",
            "permission",
            "host",
        ]
        .map(|f| a[f].as_str().unwrap_or_default().to_string())
    };
    acls.sort_by_key(key);
    let truncated = acls.len() > MAX_LISTED;
    acls.truncate(MAX_LISTED);
    ok(json!({"authorizer_enabled": true, "acls": acls, "truncated": truncated}))
}

/// One ACL binding with every field concrete, as the console creates and deletes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclBody {
    resource_type: String,
    resource_name: String,
    #[serde(default = "literal")]
    pattern_type: String,
    principal: String,
    #[serde(default = "any_host")]
    host: String,
    operation: String,
    #[serde(default = "allow")]
    permission: String,
}

fn literal() -> String {
    "LITERAL".into()
}
fn any_host() -> String {
    "*".into()
}
fn allow() -> String {
    "ALLOW".into()
}

/// The binding's wire codes, or a 400 naming the field that is not one of Kafka's
/// concrete names (ANY, MATCH and UNKNOWN are filters, not bindings).
struct Binding {
    resource_type: ResourceType,
    resource_name: String,
    pattern_type: PatternType,
    principal: String,
    host: String,
    operation: AclOperation,
    permission: PermissionType,
}

fn binding(b: AclBody) -> Result<Binding, ApiError> {
    fn concrete<T: Copy + PartialEq>(
        field: &str,
        text: &str,
        parse: fn(&str) -> Option<T>,
        allowed: &[T],
        names: fn(T) -> &'static str,
    ) -> Result<T, ApiError> {
        match parse(text) {
            Some(v) if allowed.contains(&v) => Ok(v),
            _ => Err(ApiError::bad(format!(
                "{field} must be one of {}",
                allowed
                    .iter()
                    .map(|v| names(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
    use AclOperation as O;
    use ResourceType as R;
    let resource_type = concrete(
        "resource_type",
        &b.resource_type,
        R::parse,
        &[
            R::Topic,
            R::Group,
            R::Cluster,
            R::TransactionalId,
            R::DelegationToken,
            R::User,
        ],
        R::name,
    )?;
    let pattern_type = concrete(
        "pattern_type",
        &b.pattern_type,
        PatternType::parse,
        &[PatternType::Literal, PatternType::Prefixed],
        PatternType::name,
    )?;
    let operation = concrete(
        "operation",
        &b.operation,
        O::parse,
        &[
            O::All,
            O::Read,
            O::Write,
            O::Create,
            O::Delete,
            O::Alter,
            O::Describe,
            O::ClusterAction,
            O::DescribeConfigs,
            O::AlterConfigs,
            O::IdempotentWrite,
            O::CreateTokens,
            O::DescribeTokens,
        ],
        O::name,
    )?;
    let permission = concrete(
        "permission",
        &b.permission,
        PermissionType::parse,
        &[PermissionType::Allow, PermissionType::Deny],
        PermissionType::name,
    )?;
    for (field, value) in [
        ("resource_name", &b.resource_name),
        ("principal", &b.principal),
        ("host", &b.host),
    ] {
        if value.is_empty() {
            return Err(ApiError::bad(format!("{field} must not be empty")));
        }
    }
    Ok(Binding {
        resource_type,
        resource_name: b.resource_name,
        pattern_type,
        principal: b.principal,
        host: b.host,
        operation,
        permission,
    })
}

fn binding_json(b: &Binding) -> Value {
    json!({
        "resource_type": b.resource_type.name(),
        "resource_name": b.resource_name,
        "pattern_type": b.pattern_type.name(),
        "principal": b.principal,
        "host": b.host,
        "operation": b.operation.name(),
        "permission": b.permission.name(),
    })
}

pub async fn create_acl(State(state): State<S>, ApiJson(body): ApiJson<AclBody>) -> ApiResult {
    let broker = state.broker()?;
    let b = binding(body)?;
    let mut creation = AclCreation::default();
    creation.resource_type = b.resource_type.code();
    creation.resource_name = sb(b.resource_name.clone());
    creation.resource_pattern_type = b.pattern_type.code();
    creation.principal = sb(b.principal.clone());
    creation.host = sb(b.host.clone());
    creation.operation = b.operation.code();
    creation.permission_type = b.permission.code();
    let mut request = CreateAclsRequest::default();
    request.creations = vec![creation];
    let r = call!(CreateAcls, request, 3, broker).ok_or_else(|| no_answer("CreateAcls"))?;
    let result = r.results.first().ok_or_else(|| no_answer("CreateAcls"))?;
    ApiError::check(result.error_code, result.error_message.as_ref())?;
    Ok((StatusCode::CREATED, Json(binding_json(&b))).into_response())
}

pub async fn delete_acl(State(state): State<S>, ApiQuery(query): ApiQuery<AclBody>) -> ApiResult {
    let broker = state.broker()?;
    let b = binding(query)?;
    let mut filter = DeleteAclsFilter::default();
    filter.resource_type_filter = b.resource_type.code();
    filter.resource_name_filter = Some(sb(b.resource_name.clone()));
    filter.pattern_type_filter = b.pattern_type.code();
    filter.principal_filter = Some(sb(b.principal.clone()));
    filter.host_filter = Some(sb(b.host.clone()));
    filter.operation = b.operation.code();
    filter.permission_type = b.permission.code();
    let mut request = DeleteAclsRequest::default();
    request.filters = vec![filter];
    let r = call!(DeleteAcls, request, 3, broker).ok_or_else(|| no_answer("DeleteAcls"))?;
    let result = r
        .filter_results
        .first()
        .ok_or_else(|| no_answer("DeleteAcls"))?;
    ApiError::check(result.error_code, result.error_message.as_ref())?;
    for m in &result.matching_acls {
        ApiError::check(m.error_code, m.error_message.as_ref())?;
    }
    if result.matching_acls.is_empty() {
        return Err(ApiError::not_found("no such ACL binding"));
    }
    ok(json!({"deleted": result.matching_acls.len(), "acl": binding_json(&b)}))
}

// ---------- SCRAM users ----------

fn mechanism_name(code: i8) -> String {
    ScramMechanism::from_type_code(code)
        .map_or_else(|| format!("UNKNOWN({code})"), |m| m.name().to_string())
}

/// `user`'s SCRAM mechanisms and iterations, or every user's (`None`).
async fn describe_users(
    state: &S,
    user: Option<&str>,
) -> Result<DescribeUserScramCredentialsResponse, ApiError> {
    let broker = state.broker()?;
    let mut request = DescribeUserScramCredentialsRequest::default();
    request.users = user.map(|u| {
        let mut n = UserName::default();
        n.name = sb(u.to_string());
        vec![n]
    });
    let r = call!(DescribeUserScramCredentials, request, 0, broker)
        .ok_or_else(|| no_answer("DescribeUserScramCredentials"))?;
    ApiError::check(r.error_code, r.error_message.as_ref())?;
    Ok(r)
}

pub async fn list_users(State(state): State<S>) -> ApiResult {
    let r = describe_users(&state, None).await?;
    let mut users: Vec<Value> = Vec::new();
    for u in &r.results {
        ApiError::check(u.error_code, u.error_message.as_ref())?;
        users.push(json!({
            "user": u.user.as_str(),
            "credentials": u.credential_infos.iter()
                .map(|c| json!({"mechanism": mechanism_name(c.mechanism), "iterations": c.iterations}))
                .collect::<Vec<_>>(),
        }));
    }
    users.sort_by(|a, b| a["user"].as_str().cmp(&b["user"].as_str()));
    let truncated = users.len() > MAX_LISTED;
    users.truncate(MAX_LISTED);
    ok(json!({"users": users, "truncated": truncated}))
}

/// What `PUT /api/users/{user}` carries, read field by field (never quoted in errors).
struct UserBody {
    password: String,
    mechanism: ScramMechanism,
    iterations: i32,
}

fn user_body(body: &Value) -> Result<UserBody, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::bad(
            "body: a JSON object with password, mechanism and iterations",
        ));
    };
    if let Some(other) = object
        .keys()
        .find(|k| !["password", "mechanism", "iterations"].contains(&k.as_str()))
    {
        return Err(ApiError::bad(format!(
            "body: unknown field {:?}: expected password, mechanism, iterations",
            other.chars().take(64).collect::<String>()
        )));
    }
    let password = match object.get("password") {
        Some(Value::String(p)) if !p.is_empty() && p.len() <= MAX_PASSWORD_BYTES => p.clone(),
        _ => {
            return Err(ApiError::bad(format!(
                "password: a string of 1 to {MAX_PASSWORD_BYTES} bytes"
            )))
        }
    };
    let mechanism = match object.get("mechanism") {
        None | Some(Value::Null) => ScramMechanism::Sha512,
        Some(Value::String(m)) => ScramMechanism::from_name(m)
            .ok_or_else(|| ApiError::bad("mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512"))?,
        Some(_) => {
            return Err(ApiError::bad(
                "mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512",
            ))
        }
    };
    let iterations = match object.get("iterations") {
        None | Some(Value::Null) => MIN_ITERATIONS,
        Some(v) => v
            .as_i64()
            .filter(|i| (MIN_ITERATIONS as i64..=MAX_ITERATIONS as i64).contains(i))
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "iterations: an integer from {MIN_ITERATIONS} to {MAX_ITERATIONS}"
                ))
            })? as i32,
    };
    Ok(UserBody {
        password,
        mechanism,
        iterations,
    })
}

pub async fn put_user(
    State(state): State<S>,
    ApiPath(user): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult {
    let broker = state.broker()?.clone();
    if user.is_empty() {
        return Err(ApiError::bad("the user name must not be empty"));
    }
    let body = user_body(&body)?;
    // The authorizer decides again in AlterUserScramCredentials; asking first only
    // spares the PBKDF2 work for a caller it will refuse.
    let auth = crate::api::authorize::Auth::new(&super::ctx(0), &broker);
    if !auth.allows(AclOperation::Alter, ResourceType::Cluster, CLUSTER_NAME) {
        return Err(ApiError::kafka(
            ResponseError::ClusterAuthorizationFailed.code(),
            Some("not authorized to alter SCRAM credentials (ALTER on the cluster)".into()),
        ));
    }
    let Ok(permit) = state.login.checks.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many password operations at once: try again",
        ));
    };
    let (mechanism, iterations) = (body.mechanism, body.iterations);
    let (salt, salted) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let salt = crate::security::scram::random_bytes(SALT_BYTES);
        let salted = mechanism.salted_password(body.password.as_bytes(), &salt, iterations as u32);
        (salt, salted)
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the password could not be salted",
        )
    })?;
    let mut upsertion = ScramCredentialUpsertion::default();
    upsertion.name = sb(user.clone());
    upsertion.mechanism = mechanism.type_code();
    upsertion.iterations = iterations;
    upsertion.salt = Bytes::from(salt);
    upsertion.salted_password = Bytes::from(salted);
    let mut request = AlterUserScramCredentialsRequest::default();
    request.upsertions = vec![upsertion];
    let r = call!(AlterUserScramCredentials, request, 0, &broker)
        .ok_or_else(|| no_answer("AlterUserScramCredentials"))?;
    for result in &r.results {
        ApiError::check(result.error_code, result.error_message.as_ref())?;
    }
    tracing::info!(user = %user, mechanism = mechanism.name(), "console: SCRAM credential set");
    ok(json!({"user": user, "mechanism": mechanism.name(), "iterations": iterations}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteUserQuery {
    /// Only this mechanism's credential; by default every one the user has.
    mechanism: Option<String>,
}

pub async fn delete_user(
    State(state): State<S>,
    ApiPath(user): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteUserQuery>,
) -> ApiResult {
    let broker = state.broker()?;
    if user.is_empty() {
        return Err(ApiError::bad("the user name must not be empty"));
    }
    let mechanisms: BTreeSet<i8> = match &query.mechanism {
        Some(m) => {
            let m = ScramMechanism::from_name(m)
                .ok_or_else(|| ApiError::bad("mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512"))?;
            [m.type_code()].into()
        }
        None => {
            let r = describe_users(&state, Some(&user)).await?;
            let mut found = BTreeSet::new();
            for u in &r.results {
                ApiError::check(u.error_code, u.error_message.as_ref())?;
                found.extend(u.credential_infos.iter().map(|c| c.mechanism));
            }
            found
        }
    };
    if mechanisms.is_empty() {
        return Err(ApiError::not_found(format!("no SCRAM user {user}")));
    }
    let mut request = AlterUserScramCredentialsRequest::default();
    request.deletions = mechanisms
        .iter()
        .map(|m| {
            let mut d = ScramCredentialDeletion::default();
            d.name = sb(user.clone());
            d.mechanism = *m;
            d
        })
        .collect();
    let r = call!(AlterUserScramCredentials, request, 0, broker)
        .ok_or_else(|| no_answer("AlterUserScramCredentials"))?;
    for result in &r.results {
        ApiError::check(result.error_code, result.error_message.as_ref())?;
    }
    ok(json!({
        "user": user,
        "deleted": mechanisms.iter().map(|m| mechanism_name(*m)).collect::<Vec<_>>(),
    }))
}
