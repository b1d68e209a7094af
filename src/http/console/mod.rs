//! The web console and its JSON API, served by the admin HTTP side at `/` and `/api/`.
//!
//! The console is three static files (HTML, CSS, JS) compiled into the binary with
//! `include_str!`: no CDN, no front-end build step, nothing fetched at run time. The
//! API it calls is described by `openapi.json` (data in this directory, served at
//! `/api/openapi.json`; a test checks that every route is in it and nothing else).
//!
//! Every API endpoint goes through the same Kafka API handlers a Kafka client reaches
//! (`crate::api::*::handle` with typed requests), so the console sees and changes
//! exactly what clients see, with Kafka's validation and error codes; it never reads a
//! file or a partition's log itself. Bad input gets a 4xx JSON error
//! (`{"error", "error_code", "error_name"}`), never a 5xx or a panic; every size a
//! request can ask for is capped ([`limits`]).
//!
//! When the broker has a SASL listener the API needs a login with the same users
//! Kafka clients authenticate as ([`login`]), and every Kafka API call runs as the
//! logged-in principal through [`call!`], i.e. through `Command::apply` with the ACL
//! checks of `api::authorize` around the handler, as a client's request does; a
//! refusal answers 403 with Kafka's error name. Without one it acts as
//! `User:ANONYMOUS`, as a PLAINTEXT client does.
//!
//! Pages: overview and topics ([`topics`], [`messages`]), groups and transactions
//! ([`groups`], share groups in [`share_groups`]), ACLs and SCRAM users ([`access`]),
//! and the schema registry's subjects ([`schemas`], read in process from the broker's
//! registry, which sits below `http` in the layer map).

mod access;
mod extract;
mod groups;
pub mod limits;
pub mod login;
mod messages;
mod schemas;
mod share_groups;
mod topics;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api::RequestContext;
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::acl::{AclOperation, ResourceType};
use crate::security::Session;

const INDEX_HTML: &str = include_str!("static/index.html");
const APP_JS: &str = include_str!("static/app.js");
const STYLE_CSS: &str = include_str!("static/style.css");
pub(crate) const OPENAPI_JSON: &str = include_str!("openapi.json");

/// What the console's handlers share.
pub struct ConsoleState {
    broker: OnceLock<Arc<Broker>>,
    started: Instant,
    /// Live tails open now (capped by `sluice.console.max.tail.streams`).
    tails: AtomicUsize,
    limits: limits::Limits,
    login: login::Login,
}

impl ConsoleState {
    pub fn new(config: &crate::config::BrokerConfig) -> Arc<ConsoleState> {
        Arc::new(ConsoleState {
            broker: OnceLock::new(),
            started: Instant::now(),
            tails: AtomicUsize::new(0),
            limits: limits::Limits::from_config(config),
            login: login::Login::from_config(config),
        })
    }

    /// The broker serves: the API answers from now on (503 before).
    pub fn serving(&self, broker: Arc<Broker>) {
        let _ = self.broker.set(broker);
    }

    fn broker(&self) -> Result<&Arc<Broker>, ApiError> {
        self.broker.get().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the broker is still loading its logs and coordinators",
            )
        })
    }
}

type S = Arc<ConsoleState>;

/// Every API route as (path, methods), in the OpenAPI document's path syntax. The
/// router is built from the same paths and a test compares both with `openapi.json`.
pub(crate) const API_ROUTES: &[(&str, &[&str])] = &[
    ("/api/openapi.json", &["get"]),
    ("/api/login", &["post"]),
    ("/api/logout", &["post"]),
    ("/api/whoami", &["get"]),
    ("/api/overview", &["get"]),
    ("/api/topics", &["get", "post"]),
    ("/api/topics/{topic}", &["get", "delete"]),
    ("/api/topics/{topic}/configs", &["patch"]),
    ("/api/topics/{topic}/messages", &["get", "post"]),
    ("/api/topics/{topic}/tail", &["get"]),
    ("/api/groups", &["get"]),
    ("/api/groups/{group}", &["get"]),
    ("/api/groups/{group}/reset-offsets", &["post"]),
    ("/api/transactions", &["get"]),
    ("/api/share-groups/{group}", &["get"]),
    ("/api/acls", &["get", "post", "delete"]),
    ("/api/users", &["get"]),
    ("/api/users/{user}", &["put", "delete"]),
    ("/api/schemas", &["get"]),
    ("/api/schemas/{subject}/versions/{version}", &["get"]),
];

/// The methods a path serves, for a 405's `Allow` (GET and HEAD for paths outside the
/// API).
pub fn allowed_methods(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let route = API_ROUTES.iter().find(|(template, _)| {
        let t: Vec<&str> = template.split('/').collect();
        t.len() == segments.len()
            && t.iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
    });
    let mut out = Vec::new();
    for m in route.map_or(&["get"][..], |(_, methods)| *methods) {
        out.push(m.to_uppercase());
        if *m == "get" {
            out.push("HEAD".to_string());
        }
    }
    out
}

/// The console's routes, to merge into the admin router (which owns the fallbacks).
pub fn router(state: S) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/style.css",
            get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/api/openapi.json",
            get(|| async { page(OPENAPI_JSON, "application/json") }),
        )
        .route("/api/login", post(login::login))
        .route("/api/logout", post(login::logout))
        .route("/api/whoami", get(login::whoami))
        .route("/api/overview", get(topics::overview))
        .route("/api/topics", get(topics::list).post(topics::create))
        .route(
            "/api/topics/{topic}",
            get(topics::detail).delete(topics::delete),
        )
        .route(
            "/api/topics/{topic}/configs",
            axum::routing::patch(topics::alter_configs),
        )
        .route(
            "/api/topics/{topic}/messages",
            get(messages::browse).post(messages::produce),
        )
        .route("/api/topics/{topic}/tail", get(messages::tail))
        .route("/api/groups", get(groups::list))
        .route("/api/groups/{group}", get(groups::detail))
        .route(
            "/api/groups/{group}/reset-offsets",
            post(groups::reset_offsets),
        )
        .route("/api/transactions", get(groups::transactions))
        .route("/api/share-groups/{group}", get(share_groups::detail))
        .route(
            "/api/acls",
            get(access::list_acls)
                .post(access::create_acl)
                .delete(access::delete_acl),
        )
        .route("/api/users", get(access::list_users))
        .route(
            "/api/users/{user}",
            axum::routing::put(access::put_user).delete(access::delete_user),
        )
        .route("/api/schemas", get(schemas::list))
        .route(
            "/api/schemas/{subject}/versions/{version}",
            get(schemas::version),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            login::require,
        ))
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .with_state(state)
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The request context the console's calls to the Kafka handlers carry: the
/// logged-in principal and the HTTP peer ([`login::current`]), else `User:ANONYMOUS`
/// from 127.0.0.1.
fn ctx(api_version: i16) -> RequestContext {
    let caller = login::current();
    let peer = caller.as_ref().and_then(|c| c.peer);
    let session = match caller {
        Some(c) => Session::for_principal(c.principal),
        None => Session::unauthenticated_default(),
    };
    RequestContext::on_connection(
        0,
        peer.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        api_version,
        0,
        Some("sluice-console".into()),
        Arc::new(session),
    )
}

/// Runs one Kafka API as a client's request runs: `Command::apply`, i.e. the handler
/// between the ACL checks of `api::authorize`, as the request's principal. `None` when
/// the handler sends no answer.
macro_rules! call {
    ($variant:ident, $request:expr, $version:expr, $broker:expr) => {{
        let ctx = $crate::http::console::ctx($version);
        match $crate::api::Command::$variant($request)
            .apply(&ctx, $broker)
            .await
        {
            Some($crate::api::Response::$variant(r)) => Some(r),
            _ => None,
        }
    }};
}
pub(crate) use call;

/// Refuses with Kafka's error when the request's principal may not do `op` on
/// `topic` (for what the console reads from the broker without a Kafka API).
fn topic_allowed(broker: &Broker, op: AclOperation, topic: &str) -> Result<(), ApiError> {
    if crate::api::authorize::Auth::new(&ctx(0), broker).allows(op, ResourceType::Topic, topic) {
        Ok(())
    } else {
        Err(ApiError::kafka(
            ResponseError::TopicAuthorizationFailed.code(),
            Some(format!("not authorized to access topic {topic}")),
        ))
    }
}

/// A 4xx (or 503) answer with a JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({"error": message.into()}),
        }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// A Kafka error code as the handler answered it, with Kafka's name for it.
    pub fn kafka(code: i16, message: Option<String>) -> ApiError {
        let name = kafka_error_name(code);
        let status = match ResponseError::try_from_code(code) {
            Some(
                ResponseError::UnknownTopicOrPartition
                | ResponseError::UnknownTopicId
                | ResponseError::GroupIdNotFound
                | ResponseError::TransactionalIdNotFound
                | ResponseError::ResourceNotFound,
            ) => StatusCode::NOT_FOUND,
            Some(
                ResponseError::TopicAlreadyExists
                | ResponseError::NonEmptyGroup
                | ResponseError::UnknownMemberId
                | ResponseError::IllegalGeneration
                | ResponseError::RebalanceInProgress
                | ResponseError::FencedInstanceId
                | ResponseError::InvalidTxnState
                | ResponseError::ConcurrentTransactions,
            ) => StatusCode::CONFLICT,
            Some(
                ResponseError::TopicAuthorizationFailed
                | ResponseError::GroupAuthorizationFailed
                | ResponseError::ClusterAuthorizationFailed
                | ResponseError::TransactionalIdAuthorizationFailed,
            ) => StatusCode::FORBIDDEN,
            Some(ResponseError::MessageTooLarge | ResponseError::RecordListTooLarge) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            // The broker, not the input, is at fault: the client may retry later.
            Some(
                ResponseError::KafkaStorageError
                | ResponseError::CoordinatorLoadInProgress
                | ResponseError::CoordinatorNotAvailable
                | ResponseError::NotEnoughReplicas
                | ResponseError::RequestTimedOut,
            ) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let message = message.unwrap_or_else(|| name.clone());
        ApiError {
            status,
            body: json!({"error": message, "error_code": code, "error_name": name}),
        }
    }

    pub fn check(
        code: i16,
        message: Option<&kafka_protocol::protocol::StrBytes>,
    ) -> Result<(), ApiError> {
        if code == 0 {
            Ok(())
        } else {
            Err(ApiError::kafka(code, message.map(|m| m.to_string())))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, body = %self.body, "console API");
        } else {
            tracing::debug!(status = %self.status, body = %self.body, "console API");
        }
        (self.status, Json(self.body)).into_response()
    }
}

/// Kafka's name for an error code (`UNKNOWN_TOPIC_OR_PARTITION`).
pub fn kafka_error_name(code: i16) -> String {
    crate::server::request_metrics::error_name(code).to_string()
}

/// A handler's answer: JSON or an [`ApiError`].
type ApiResult = Result<Response, ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

/// The handler answered nothing, which none of the APIs the console calls does.
fn no_answer(api: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{api} gave no answer"),
    )
}

#[cfg(test)]
mod tests;
