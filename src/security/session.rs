//! One connection's authentication: who it is, and the SASL exchange in progress.
//!
//! A PLAINTEXT or SSL connection is authenticated from the start (as `User:ANONYMOUS`
//! or its certificate's subject). A SASL_PLAINTEXT or SASL_SSL connection is served only
//! ApiVersions, SaslHandshake and SaslAuthenticate until a SASL exchange succeeds, as
//! Kafka serves it; with `connections.max.reauth.ms` the session then lasts that long
//! (KIP-368: the client re-authenticates on the same connection before it ends).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use kafka_protocol::messages::ApiKey;
use parking_lot::Mutex;

use super::credentials::ScramCredentialStore;
use super::jaas;
use super::principal::KafkaPrincipal;
use super::scram::{ScramMechanism, ScramServer, ScramStep};
use crate::config::listeners::ListenerConfig;
use crate::error::ResponseError;

/// A listener's security settings, resolved once at start-up.
#[derive(Debug)]
pub struct ListenerSecurity {
    pub config: ListenerConfig,
    /// `sasl.enabled.mechanisms` (empty on non-SASL listeners).
    pub mechanisms: Vec<String>,
    /// PLAIN users from the listener's JAAS line.
    plain_users: BTreeMap<String, String>,
    /// `connections.max.reauth.ms`; 0: sessions do not expire.
    pub reauth_ms: u64,
}

impl ListenerSecurity {
    pub fn new(config: ListenerConfig) -> Result<ListenerSecurity> {
        let sasl = config.security_protocol.uses_sasl();
        let mechanisms: Vec<String> = if sasl {
            config
                .setting("sasl.enabled.mechanisms")
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect()
        } else {
            Vec::new()
        };
        let plain_users = if mechanisms.iter().any(|m| m == "PLAIN") {
            match jaas::plain_users(config.jaas_config("PLAIN")) {
                Ok(users) => users,
                Err(e) => bail!("listener {}: plain.sasl.jaas.config: {e}", config.name),
            }
        } else {
            BTreeMap::new()
        };
        let reauth_ms = config
            .setting("connections.max.reauth.ms")
            .trim()
            .parse::<i64>()
            .unwrap_or(0)
            .max(0) as u64;
        Ok(ListenerSecurity {
            config,
            mechanisms,
            plain_users,
            reauth_ms,
        })
    }

    /// A listener with no security (tests, and handlers called outside a connection).
    pub fn plaintext(config: ListenerConfig) -> ListenerSecurity {
        ListenerSecurity {
            config,
            mechanisms: Vec::new(),
            plain_users: BTreeMap::new(),
            reauth_ms: 0,
        }
    }

    pub fn plain_user_count(&self) -> usize {
        self.plain_users.len()
    }
}

/// What a SaslHandshake or SaslAuthenticate handler answers.
#[derive(Debug)]
pub struct SaslAnswer {
    /// `None`: no error.
    pub error: Option<ResponseError>,
    pub error_message: Option<String>,
    pub auth_bytes: Vec<u8>,
    pub session_lifetime_ms: i64,
    /// Close the connection once this answer is written (failed authentication,
    /// an unsupported mechanism, a request out of order), as Kafka does.
    pub close: Option<String>,
}

impl SaslAnswer {
    fn ok(auth_bytes: Vec<u8>) -> SaslAnswer {
        SaslAnswer {
            error: None,
            error_message: None,
            auth_bytes,
            session_lifetime_ms: 0,
            close: None,
        }
    }

    fn error(error: ResponseError, message: String, close: Option<String>) -> SaslAnswer {
        SaslAnswer {
            error: Some(error),
            error_message: Some(message),
            auth_bytes: Vec::new(),
            session_lifetime_ms: 0,
            close,
        }
    }
}

enum Exchange {
    /// No SaslHandshake yet (or the last exchange finished).
    Idle,
    /// SaslHandshake chose this mechanism; the first SaslAuthenticate is due.
    Chosen(String),
    /// A SCRAM exchange waiting for its client-final.
    Scram(ScramServer),
}

struct State {
    /// `None` until authenticated.
    principal: Option<KafkaPrincipal>,
    exchange: Exchange,
    expires_at: Option<Instant>,
}

/// One connection's authentication state.
pub struct Session {
    pub listener: std::sync::Arc<ListenerSecurity>,
    state: Mutex<State>,
    /// (name, version) the client gave in ApiVersions v3+, for KIP-714's `match`.
    client_software: Mutex<Option<(String, String)>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("listener", &self.listener.config.name)
            .field("principal", &self.state.lock().principal)
            .finish()
    }
}

impl Session {
    /// A new connection's session. `tls_principal` is the client certificate's subject
    /// on a TLS listener (SSL listeners use it; SASL_SSL listeners authenticate by SASL).
    pub fn new(
        listener: std::sync::Arc<ListenerSecurity>,
        tls_principal: Option<KafkaPrincipal>,
    ) -> Session {
        let principal = if listener.config.security_protocol.uses_sasl() {
            None
        } else {
            Some(tls_principal.unwrap_or_else(KafkaPrincipal::anonymous))
        };
        Session {
            listener,
            state: Mutex::new(State {
                principal,
                exchange: Exchange::Idle,
                expires_at: None,
            }),
            client_software: Mutex::new(None),
        }
    }

    /// Records the client software name and version an ApiVersions v3+ carried.
    pub fn set_client_software(&self, name: String, version: String) {
        *self.client_software.lock() = Some((name, version));
    }

    /// The client software name and version, once ApiVersions v3+ gave them.
    pub fn client_software(&self) -> Option<(String, String)> {
        self.client_software.lock().clone()
    }

    /// An anonymous PLAINTEXT session on no listener in particular (its advertised
    /// host is empty, so handlers answer with the broker's first listener): for
    /// requests made outside a connection, as tests make them.
    pub fn unauthenticated_default() -> Session {
        static DEFAULT: std::sync::OnceLock<std::sync::Arc<ListenerSecurity>> =
            std::sync::OnceLock::new();
        let listener = DEFAULT
            .get_or_init(|| {
                std::sync::Arc::new(ListenerSecurity::plaintext(ListenerConfig {
                    name: "PLAINTEXT".into(),
                    security_protocol: crate::config::listeners::SecurityProtocol::Plaintext,
                    bind: String::new(),
                    advertised_host: String::new(),
                    advertised_port: 0,
                    settings: BTreeMap::new(),
                }))
            })
            .clone();
        Session::new(listener, None)
    }

    /// The authenticated principal, `User:ANONYMOUS` before authentication (only the
    /// SASL APIs are served then).
    pub fn principal(&self) -> KafkaPrincipal {
        self.state
            .lock()
            .principal
            .clone()
            .unwrap_or_else(KafkaPrincipal::anonymous)
    }

    /// The largest request frame this connection may send now: `sasl_max`
    /// (`sasl.server.max.receive.size`) on a SASL listener until it has authenticated,
    /// as Kafka bounds the SASL exchange; `socket_max` otherwise.
    pub fn max_request_bytes(&self, socket_max: usize, sasl_max: usize) -> usize {
        if self.listener.config.security_protocol.uses_sasl()
            && self.state.lock().principal.is_none()
        {
            sasl_max.min(socket_max)
        } else {
            socket_max
        }
    }

    /// Whether a request of this API may be served now; `Err` is why the connection
    /// closes (as Kafka closes it).
    pub fn check_request(&self, key: ApiKey) -> Result<(), String> {
        if matches!(
            key,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        ) {
            return Ok(());
        }
        let state = self.state.lock();
        if state.principal.is_none() {
            return Err(format!(
                "{key:?} request before SASL authentication on listener {}",
                self.listener.config.name
            ));
        }
        if state.expires_at.is_some_and(|t| Instant::now() >= t) {
            return Err(format!(
                "{key:?} request after the SASL session expired (connections.max.reauth.ms = {}) without re-authentication",
                self.listener.reauth_ms
            ));
        }
        Ok(())
    }

    pub fn handshake(&self, mechanism: &str) -> SaslAnswer {
        let sasl = self.listener.config.security_protocol.uses_sasl();
        let mut state = self.state.lock();
        if !sasl {
            return SaslAnswer::error(
                ResponseError::IllegalSaslState,
                "Unexpected SASL handshake on a listener without SASL".into(),
                None,
            );
        }
        let reauthenticating = state.principal.is_some();
        if reauthenticating && self.listener.reauth_ms == 0 {
            return SaslAnswer::error(
                ResponseError::IllegalSaslState,
                "Unexpected SaslHandshake request: the connection is already authenticated".into(),
                None,
            );
        }
        if !matches!(state.exchange, Exchange::Idle) {
            return SaslAnswer::error(
                ResponseError::IllegalSaslState,
                "Unexpected SaslHandshake request with client SASL state in progress".into(),
                Some("SaslHandshake received twice".into()),
            );
        }
        if !self.listener.mechanisms.iter().any(|m| m == mechanism) {
            return SaslAnswer::error(
                ResponseError::UnsupportedSaslMechanism,
                format!("Unsupported SASL mechanism {mechanism}"),
                Some(format!(
                    "client asked for SASL mechanism {mechanism:?}, not enabled"
                )),
            );
        }
        state.exchange = Exchange::Chosen(mechanism.to_string());
        SaslAnswer::ok(Vec::new())
    }

    /// One SaslAuthenticate token. `api_version` decides whether the session lifetime
    /// is sent (v1+).
    pub fn authenticate(
        &self,
        token: &[u8],
        scram: &ScramCredentialStore,
        api_version: i16,
    ) -> SaslAnswer {
        let mut state = self.state.lock();
        if !self.listener.config.security_protocol.uses_sasl() {
            return SaslAnswer::error(
                ResponseError::IllegalSaslState,
                "Unexpected SaslAuthenticate on a listener without SASL".into(),
                None,
            );
        }
        let exchange = std::mem::replace(&mut state.exchange, Exchange::Idle);
        let result: Result<(Vec<u8>, String), Failure> = match exchange {
            Exchange::Idle => {
                return SaslAnswer::error(
                    ResponseError::IllegalSaslState,
                    "Unexpected SaslAuthenticate request without a preceding SaslHandshake".into(),
                    Some("SaslAuthenticate before SaslHandshake".into()),
                )
            }
            Exchange::Chosen(m) if m == "PLAIN" => match self.plain(token) {
                Ok(user) => Ok((Vec::new(), user)),
                Err((client, log)) => Err((client, log)),
            },
            Exchange::Chosen(m) => {
                let mechanism =
                    ScramMechanism::from_name(&m).expect("enabled mechanisms are known");
                let mut server = ScramServer::new(mechanism);
                match server.step(token, |u| scram.get(u, mechanism)) {
                    Ok(ScramStep::Continue(first)) => {
                        state.exchange = Exchange::Scram(server);
                        return SaslAnswer::ok(first);
                    }
                    Ok(ScramStep::Done { .. }) => unreachable!("SCRAM takes two steps"),
                    Err(why) => Err((scram_failure(mechanism), why)),
                }
            }
            Exchange::Scram(mut server) => {
                let mechanism = server.mechanism();
                match server.step(token, |_| None) {
                    Ok(ScramStep::Done { server_final, user }) => Ok((server_final, user)),
                    Ok(ScramStep::Continue(_)) => unreachable!("SCRAM's second step ends it"),
                    Err(why) => Err((scram_failure(mechanism), why)),
                }
            }
        };
        match result {
            Ok((bytes, user)) => {
                let principal = KafkaPrincipal::user(user);
                if let Some(old) = &state.principal {
                    if *old != principal {
                        let why =
                            format!("re-authentication as {principal} on a connection of {old}");
                        return SaslAnswer::error(
                            ResponseError::SaslAuthenticationFailed,
                            "Cannot change principals during re-authentication".into(),
                            Some(why),
                        );
                    }
                }
                state.principal = Some(principal);
                let mut answer = SaslAnswer::ok(bytes);
                if self.listener.reauth_ms > 0 {
                    state.expires_at =
                        Some(Instant::now() + Duration::from_millis(self.listener.reauth_ms));
                    if api_version >= 1 {
                        answer.session_lifetime_ms = self.listener.reauth_ms as i64;
                    }
                }
                answer
            }
            Err((client_message, why)) => SaslAnswer::error(
                ResponseError::SaslAuthenticationFailed,
                client_message,
                Some(format!("SASL authentication failed: {why}")),
            ),
        }
    }

    /// RFC 4616: `authzid NUL authcid NUL passwd`. Returns the user, or Kafka's
    /// message for the client with the reason for the log.
    fn plain(&self, token: &[u8]) -> Result<String, (String, String)> {
        let fail =
            |client: &str, log: String| Err((format!("Authentication failed: {client}"), log));
        let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
        if parts.len() != 3 {
            return fail(
                "Invalid SASL/PLAIN response: expected 3 tokens",
                "malformed PLAIN token".into(),
            );
        }
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
        let (Some(authzid), Some(user), Some(password)) =
            (text(parts[0]), text(parts[1]), text(parts[2]))
        else {
            return fail(
                "Invalid SASL/PLAIN response",
                "PLAIN token is not UTF-8".into(),
            );
        };
        if user.is_empty() {
            return fail("username not specified", "PLAIN without a user name".into());
        }
        if password.is_empty() {
            return fail(
                "password not specified",
                format!("PLAIN user {user:?} without a password"),
            );
        }
        if !authzid.is_empty() && authzid != user {
            return fail(
                "Client requested an authorization id that is different from username",
                format!("PLAIN user {user:?} asked for authorization id {authzid:?}"),
            );
        }
        match self.listener.plain_users.get(&user) {
            Some(p) if constant_time_eq(p.as_bytes(), password.as_bytes()) => Ok(user),
            Some(_) => fail(
                "Invalid username or password",
                format!("wrong PLAIN password for user {user:?}"),
            ),
            None => fail(
                "Invalid username or password",
                format!("unknown PLAIN user {user:?}"),
            ),
        }
    }
}

/// A failed authentication: the message for the client, the reason for the log.
type Failure = (String, String);

/// Kafka's message for a SCRAM failure (the same for an unknown user and a bad proof).
fn scram_failure(m: ScramMechanism) -> String {
    format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
        m.name()
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::listeners::SecurityProtocol;

    fn listener(protocol: SecurityProtocol, reauth_ms: &str) -> Arc<ListenerSecurity> {
        let mut settings = BTreeMap::new();
        settings.insert(
            "sasl.enabled.mechanisms".to_string(),
            "PLAIN,SCRAM-SHA-256".to_string(),
        );
        settings.insert(
            "plain.sasl.jaas.config".to_string(),
            "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"pw\";"
                .to_string(),
        );
        settings.insert(
            "connections.max.reauth.ms".to_string(),
            reauth_ms.to_string(),
        );
        Arc::new(
            ListenerSecurity::new(ListenerConfig {
                name: "SASL".into(),
                security_protocol: protocol,
                bind: "127.0.0.1:0".into(),
                advertised_host: "127.0.0.1".into(),
                advertised_port: 1,
                settings,
            })
            .unwrap(),
        )
    }

    #[test]
    fn only_sasl_apis_before_authentication_then_the_principal() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramCredentialStore::open(dir.path()).unwrap();
        let s = Session::new(listener(SecurityProtocol::SaslPlaintext, "0"), None);
        assert!(s.check_request(ApiKey::ApiVersions).is_ok());
        assert!(s.check_request(ApiKey::Metadata).is_err());
        // SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE and a close.
        let a = s.authenticate(b"\0alice\0pw", &store, 1);
        assert_eq!(a.error, Some(ResponseError::IllegalSaslState));
        assert!(a.close.is_some());
        assert!(s.handshake("PLAIN").error.is_none());
        let a = s.authenticate(b"\0alice\0pw", &store, 1);
        assert!(a.error.is_none(), "{a:?}");
        assert_eq!(a.session_lifetime_ms, 0);
        assert_eq!(s.principal(), KafkaPrincipal::user("alice"));
        assert!(s.check_request(ApiKey::Metadata).is_ok());
        // No re-authentication without connections.max.reauth.ms.
        assert_eq!(
            s.handshake("PLAIN").error,
            Some(ResponseError::IllegalSaslState)
        );
    }

    #[test]
    fn wrong_password_unknown_user_and_unknown_mechanism() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramCredentialStore::open(dir.path()).unwrap();
        for token in [&b"\0alice\0nope"[..], b"\0bob\0pw", b"garbage"] {
            let s = Session::new(listener(SecurityProtocol::SaslPlaintext, "0"), None);
            s.handshake("PLAIN");
            let a = s.authenticate(token, &store, 2);
            assert_eq!(a.error, Some(ResponseError::SaslAuthenticationFailed));
            assert!(a
                .error_message
                .unwrap()
                .starts_with("Authentication failed"));
            assert!(a.close.is_some());
            assert!(s.check_request(ApiKey::Metadata).is_err());
        }
        let s = Session::new(listener(SecurityProtocol::SaslPlaintext, "0"), None);
        s.handshake("SCRAM-SHA-256");
        let a = s.authenticate(b"n,,n=ghost,r=abc", &store, 2);
        assert_eq!(
            a.error_message.as_deref(),
            Some("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256")
        );
        let s = Session::new(listener(SecurityProtocol::SaslPlaintext, "0"), None);
        let a = s.handshake("GSSAPI");
        assert_eq!(a.error, Some(ResponseError::UnsupportedSaslMechanism));
        assert!(a.close.is_some());
    }

    #[test]
    fn reauth_ms_gives_the_session_lifetime_and_allows_reauthentication() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramCredentialStore::open(dir.path()).unwrap();
        let s = Session::new(listener(SecurityProtocol::SaslSsl, "60000"), None);
        s.handshake("PLAIN");
        let a = s.authenticate(b"\0alice\0pw", &store, 1);
        assert_eq!(a.session_lifetime_ms, 60000);
        assert!(s.handshake("PLAIN").error.is_none());
        assert!(s.authenticate(b"\0alice\0pw", &store, 0).error.is_none());
    }

    #[test]
    fn plaintext_and_ssl_sessions_are_authenticated_from_the_start() {
        let s = Session::new(listener(SecurityProtocol::Plaintext, "0"), None);
        assert_eq!(s.principal(), KafkaPrincipal::anonymous());
        assert!(s.check_request(ApiKey::Produce).is_ok());
        assert_eq!(
            s.handshake("PLAIN").error,
            Some(ResponseError::IllegalSaslState)
        );
        let carol = KafkaPrincipal::user("CN=carol,OU=eng,O=acme");
        let s = Session::new(listener(SecurityProtocol::Ssl, "0"), Some(carol.clone()));
        assert_eq!(s.principal(), carol);
    }
}
