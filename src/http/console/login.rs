//! The console's login when the broker has a SASL listener: `POST /api/login`,
//! `POST /api/logout`, `GET /api/whoami`, the session store behind the cookie, and the
//! layer that answers 401 to every other API route without a valid session.
//!
//! The users are the ones Kafka clients authenticate as: PLAIN users of a SASL
//! listener's JAAS line, and SCRAM users (when a listener enables a SCRAM mechanism),
//! whose password is checked by recomputing the salted password from the stored salt and
//! iterations and comparing the derived keys in constant time. A password is never
//! stored or logged; a session holds only the user name, keyed by a random 256-bit id
//! sent as an HttpOnly, SameSite=Strict cookie. Sessions expire after
//! `sluice.console.session.ms`; at most `sluice.console.max.sessions` live at once (the
//! oldest is dropped for a new one). The logged-in principal (`User:<name>`) and the
//! HTTP peer's address are handed to the Kafka API calls of the request through a
//! task-local ([`current`]), so the ACL checks of `api::authorize` run for them. Without a SASL listener nothing here is
//! required and the console acts as `User:ANONYMOUS`, as before.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiJson;
use super::{ApiError, ApiResult, S};
use crate::config::BrokerConfig;
use crate::security::scram::ScramMechanism;
use crate::security::session::ListenerSecurity;
use crate::security::KafkaPrincipal;

pub const COOKIE: &str = "sluice_session";
/// The API routes reachable without a session.
const OPEN_ROUTES: &[&str] = &["/api/login", "/api/logout", "/api/openapi.json"];

/// Who sends the console request being served: the logged-in principal and the
/// HTTP peer's address (an ACL's host).
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: KafkaPrincipal,
    pub peer: Option<SocketAddr>,
}

tokio::task_local! {
    static CALLER: Caller;
}

/// The caller of the console request being served: `None` outside a logged-in
/// request (no SASL listener), where the console acts as `User:ANONYMOUS`.
pub fn current() -> Option<Caller> {
    CALLER.try_with(|c| c.clone()).ok()
}

/// Runs `f` as `caller` (a live tail's later polls, outside the request's task).
pub async fn as_caller<F: std::future::Future>(caller: Option<Caller>, f: F) -> F::Output {
    match caller {
        Some(c) => CALLER.scope(c, f).await,
        None => f.await,
    }
}

struct Entry {
    user: String,
    created_ms: u64,
    expires_ms: u64,
}

/// Logged-in sessions by id (in memory: a restart logs everyone out).
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Entry>>,
    session_ms: u64,
    max_sessions: usize,
}

impl SessionStore {
    pub fn new(session_ms: u64, max_sessions: usize) -> SessionStore {
        SessionStore {
            sessions: Mutex::new(HashMap::new()),
            session_ms,
            max_sessions: max_sessions.max(1),
        }
    }

    /// A new session for `user`: its id. Expired sessions go first; at the cap, the
    /// oldest one is dropped.
    pub fn create(&self, user: &str, now_ms: u64) -> String {
        let id: String = crate::security::scram::random_bytes(32)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut sessions = self.sessions.lock();
        if sessions.len() >= self.max_sessions {
            sessions.retain(|_, e| e.expires_ms > now_ms);
        }
        while sessions.len() >= self.max_sessions {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, e)| e.created_ms)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => sessions.remove(&id),
                None => break,
            };
        }
        sessions.insert(
            id.clone(),
            Entry {
                user: user.to_string(),
                created_ms: now_ms,
                expires_ms: now_ms.saturating_add(self.session_ms),
            },
        );
        id
    }

    /// The user of a live session (an expired one is forgotten).
    pub fn user(&self, id: &str, now_ms: u64) -> Option<String> {
        let mut sessions = self.sessions.lock();
        match sessions.get(id) {
            Some(e) if e.expires_ms > now_ms => Some(e.user.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.sessions.lock().remove(id);
    }

    /// How many sessions are kept (expired ones until the next login or look-up).
    pub fn count(&self) -> usize {
        self.sessions.lock().len()
    }
}

/// Who may log in, and the live sessions.
pub struct Login {
    /// The broker's SASL listeners; none: no login is required.
    listeners: Vec<ListenerSecurity>,
    pub sessions: SessionStore,
    /// Password checks running now: a SCRAM check is thousands of HMACs, so a flood of
    /// logins gets 429 beyond [`MAX_CONCURRENT_CHECKS`] instead of every core.
    pub(super) checks: Arc<tokio::sync::Semaphore>,
}

/// The most password checks that run at once.
pub const MAX_CONCURRENT_CHECKS: usize = 4;

impl Login {
    pub fn from_config(config: &BrokerConfig) -> Login {
        let listeners = config
            .listeners
            .iter()
            .filter(|l| l.security_protocol.uses_sasl())
            .filter_map(|l| match ListenerSecurity::new(l.clone()) {
                Ok(s) => Some(s),
                Err(e) => {
                    // The Kafka listener refuses the same settings and stops start-up.
                    tracing::warn!(listener = %l.name, error = %e, "console login: listener skipped");
                    None
                }
            })
            .collect();
        let get = |name: &str, default: i64| {
            config
                .broker_value(name)
                .and_then(|(v, _)| v.trim().parse::<i64>().ok())
                .unwrap_or(default)
                .max(1)
        };
        Login {
            listeners,
            sessions: SessionStore::new(
                get("sluice.console.session.ms", 28_800_000) as u64,
                get("sluice.console.max.sessions", 1000) as usize,
            ),
            checks: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_CHECKS)),
        }
    }

    pub fn required(&self) -> bool {
        !self.listeners.is_empty()
    }

    /// The SCRAM mechanisms some SASL listener enables.
    fn scram_mechanisms(&self) -> Vec<ScramMechanism> {
        let mut out: Vec<ScramMechanism> = self
            .listeners
            .iter()
            .flat_map(|l| l.mechanisms.iter())
            .filter_map(|m| ScramMechanism::from_name(m))
            .collect();
        out.sort_by_key(|m| m.type_code());
        out.dedup();
        out
    }

    /// Whether `user` with `password` authenticates as a Kafka client would, with PLAIN
    /// on some listener or with an enabled SCRAM mechanism (`scram` looks the stored
    /// credential up). CPU-heavy for SCRAM (PBKDF2): call from a blocking context.
    pub fn check_password(
        &self,
        user: &str,
        password: &str,
        scram: impl Fn(&str, ScramMechanism) -> Option<crate::security::scram::ScramCredential>,
    ) -> bool {
        if user.is_empty() || password.is_empty() {
            return false;
        }
        if self
            .listeners
            .iter()
            .filter(|l| l.mechanisms.iter().any(|m| m == "PLAIN"))
            .any(|l| l.plain_password_matches(user, password))
        {
            return true;
        }
        self.scram_mechanisms()
            .into_iter()
            .any(|m| scram(user, m).is_some_and(|c| c.matches_password(m, password)))
    }
}

fn now_ms() -> u64 {
    crate::clock::system_now_ms().max(0) as u64
}

/// The session id the request's cookie carries.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

fn unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": message, "login_required": true})),
    )
        .into_response()
}

/// The layer on every API route: without SASL listeners it lets everything through;
/// with them, a route other than login/logout/openapi.json needs a live session, whose
/// principal the request's Kafka API calls then carry.
pub async fn require(State(state): State<S>, request: Request, next: Next) -> Response {
    let login = &state.login;
    let path = request.uri().path();
    if !login.required() || !path.starts_with("/api/") || OPEN_ROUTES.contains(&path) {
        return next.run(request).await;
    }
    let user = session_id(request.headers()).and_then(|id| login.sessions.user(&id, now_ms()));
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match user {
        Some(user) => {
            let caller = Caller {
                principal: KafkaPrincipal::user(user),
                peer,
            };
            CALLER.scope(caller, next.run(request)).await
        }
        None => unauthorized("log in first (POST /api/login)"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    user: String,
    password: String,
}

pub async fn login(State(state): State<S>, ApiJson(body): ApiJson<Credentials>) -> ApiResult {
    if !state.login.required() {
        return Err(ApiError::bad(
            "the broker has no SASL listener: the console needs no login",
        ));
    }
    let broker = state.broker()?.clone();
    let Ok(permit) = state.login.checks.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many logins at once: try again",
        ));
    };
    let checker = state.clone();
    let user = body.user.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        checker
            .login
            .check_password(&body.user, &body.password, |u, m| {
                broker.scram_credentials.get(u, m)
            })
    })
    .await
    .unwrap_or(false);
    if !ok {
        tracing::info!(user = %user, "console login failed");
        return Ok(unauthorized("wrong user name or password"));
    }
    let id = state.login.sessions.create(&user, now_ms());
    tracing::info!(user = %user, "console login");
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        state.login.sessions.session_ms / 1000
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"user": user, "principal": KafkaPrincipal::user(&*user).to_string()})),
    )
        .into_response())
}

pub async fn logout(State(state): State<S>, headers: HeaderMap) -> ApiResult {
    if let Some(id) = session_id(&headers) {
        state.login.sessions.remove(&id);
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"logged_out": true})),
    )
        .into_response())
}

pub async fn whoami(State(state): State<S>) -> ApiResult {
    let principal = current().map_or_else(KafkaPrincipal::anonymous, |c| c.principal);
    super::ok(json!({
        "login_required": state.login.required(),
        "principal": principal.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire() {
        let store = SessionStore::new(1000, 10);
        let id = store.create("alice", 5000);
        assert_eq!(id.len(), 64);
        assert_eq!(store.user(&id, 5999).as_deref(), Some("alice"));
        assert_eq!(store.user(&id, 6000), None);
        assert_eq!(store.count(), 0, "an expired session is forgotten");
        assert_eq!(store.user("nope", 0), None);
    }

    #[test]
    fn the_oldest_session_makes_room() {
        let store = SessionStore::new(1_000_000, 2);
        let a = store.create("a", 1);
        let b = store.create("b", 2);
        let c = store.create("c", 3);
        assert_ne!(a, b);
        assert_eq!(store.count(), 2);
        assert_eq!(store.user(&a, 4), None);
        assert_eq!(store.user(&b, 4).as_deref(), Some("b"));
        assert_eq!(store.user(&c, 4).as_deref(), Some("c"));
        store.remove(&b);
        assert_eq!(store.user(&b, 4), None);
    }

    #[test]
    fn passwords_are_checked_against_plain_and_scram_users() {
        let mut config = BrokerConfig::defaults();
        let l = crate::config::listeners::ListenerConfig {
            name: "SASL_PLAINTEXT".into(),
            security_protocol: crate::config::listeners::SecurityProtocol::SaslPlaintext,
            bind: "127.0.0.1:0".into(),
            advertised_host: String::new(),
            advertised_port: 0,
            settings: [
                ("sasl.enabled.mechanisms".to_string(), "PLAIN,SCRAM-SHA-256".to_string()),
                (
                    "plain.sasl.jaas.config".to_string(),
                    "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
        };
        config.listeners = vec![l];
        let login = Login::from_config(&config);
        assert!(login.required());
        let m = ScramMechanism::Sha256;
        let salt = b"0123456789abcdef";
        let salted = m.salted_password(b"bob-secret", salt, 4096);
        let cred =
            crate::security::scram::ScramCredential::from_salted_password(m, salt, &salted, 4096);
        let scram = |u: &str, mech: ScramMechanism| (u == "bob" && mech == m).then(|| cred.clone());
        assert!(login.check_password("alice", "alice-secret", scram));
        assert!(!login.check_password("alice", "alice-secret2", scram));
        assert!(!login.check_password("alice", "", scram));
        assert!(login.check_password("bob", "bob-secret", scram));
        assert!(!login.check_password("bob", "alice-secret", scram));
        assert!(!login.check_password("carol", "x", scram));
        assert!(!Login::from_config(&BrokerConfig::defaults()).required());
    }
}
