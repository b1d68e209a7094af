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
use super::delegation_tokens::DelegationTokenStore;
use super::jaas;
use super::oauthbearer;
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
    /// `connections.max.reauth.ms`; 0: sessions do not expire (but an OAUTHBEARER
    /// session still ends with its token).
    pub reauth_ms: u64,
    /// How OAUTHBEARER tokens are validated, when the mechanism is enabled.
    oauthbearer: Option<oauthbearer::Validator>,
    /// `ssl.principal.mapping.rules`: a TLS client's subject to its principal name.
    pub ssl_principal_mapper: super::principal_mapping::SslPrincipalMapper,
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
        let oauthbearer = if mechanisms.iter().any(|m| m == "OAUTHBEARER") {
            match oauthbearer::Validator::from_listener(&config) {
                Ok(v) => Some(v),
                Err(e) => bail!("listener {}: {e:#}", config.name),
            }
        } else {
            None
        };
        let ssl_principal_mapper = match super::principal_mapping::SslPrincipalMapper::parse(
            config.setting("ssl.principal.mapping.rules"),
        ) {
            Ok(m) => m,
            Err(e) => bail!("listener {}: ssl.principal.mapping.rules: {e}", config.name),
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
            oauthbearer,
            ssl_principal_mapper,
        })
    }

    /// A listener with no security (tests, and handlers called outside a connection).
    pub fn plaintext(config: ListenerConfig) -> ListenerSecurity {
        ListenerSecurity {
            config,
            mechanisms: Vec::new(),
            plain_users: BTreeMap::new(),
            reauth_ms: 0,
            oauthbearer: None,
            ssl_principal_mapper: Default::default(),
        }
    }

    pub fn plain_user_count(&self) -> usize {
        self.plain_users.len()
    }

    /// Whether `user` is a PLAIN user of this listener's JAAS line with this password
    /// (compared in constant time).
    pub fn plain_password_matches(&self, user: &str, password: &str) -> bool {
        self.plain_users
            .get(user)
            .is_some_and(|p| constant_time_eq(p.as_bytes(), password.as_bytes()))
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
    /// A SCRAM exchange waiting for its client-final; with a delegation token, the
    /// token's owner and expiry (Unix ms).
    Scram(Box<ScramServer>, Option<(KafkaPrincipal, i64)>),
    /// OAUTHBEARER sent its error challenge (this JSON); the client's `\x01` ends the
    /// exchange with SASL_AUTHENTICATION_FAILED (RFC 7628 3.2.3).
    OAuthBearerChallenged(String),
}

struct State {
    /// `None` until authenticated.
    principal: Option<KafkaPrincipal>,
    exchange: Exchange,
    expires_at: Option<Instant>,
    /// Authenticated with a delegation token (such a session may not manage tokens).
    token_authenticated: bool,
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
                token_authenticated: false,
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

    /// A session already authenticated as `principal`, on no listener in particular:
    /// for requests the web console makes for a logged-in user.
    pub fn for_principal(principal: KafkaPrincipal) -> Session {
        let session = Session::unauthenticated_default();
        session.state.lock().principal = Some(principal);
        session
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

    /// Whether the session authenticated with a delegation token (Kafka's
    /// `KafkaPrincipal.tokenAuthenticated`).
    pub fn token_authenticated(&self) -> bool {
        self.state.lock().token_authenticated
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
                "{key:?} request after the SASL session expired (connections.max.reauth.ms = {}, or the OAUTHBEARER token's expiry) without re-authentication",
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
        // Re-authentication (KIP-368) is for sessions that expire: with
        // connections.max.reauth.ms, or an OAUTHBEARER token's lifetime.
        let reauthenticating = state.principal.is_some();
        if reauthenticating && state.expires_at.is_none() {
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
        tokens: Option<&DelegationTokenStore>,
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
        // Success: the answer's bytes, the principal, whether it came from a delegation
        // token, and when the credential expires (Unix ms; tokens only).
        let result: Result<(Vec<u8>, KafkaPrincipal, bool, Option<i64>), Failure> = match exchange {
            Exchange::Idle => {
                return SaslAnswer::error(
                    ResponseError::IllegalSaslState,
                    "Unexpected SaslAuthenticate request without a preceding SaslHandshake".into(),
                    Some("SaslAuthenticate before SaslHandshake".into()),
                )
            }
            Exchange::Chosen(m) if m == "PLAIN" => match self.plain(token) {
                Ok(user) => Ok((Vec::new(), KafkaPrincipal::user(user), false, None)),
                Err((client, log)) => Err((client, log)),
            },
            Exchange::OAuthBearerChallenged(challenge) if token == [oauthbearer::CONTROL_A] => {
                Err((
                    challenge,
                    "OAUTHBEARER client acknowledged the error challenge".into(),
                ))
            }
            // A new client-first after the challenge starts over, as Kafka's server allows.
            Exchange::Chosen(m) if m == "OAUTHBEARER" => match self.oauthbearer(token) {
                Ok(Ok((bytes, user, expiry))) => {
                    Ok((bytes, KafkaPrincipal::user(user), false, expiry))
                }
                Ok(Err(challenge)) => {
                    state.exchange = Exchange::OAuthBearerChallenged(challenge.clone());
                    return SaslAnswer::ok(challenge.into_bytes());
                }
                Err(failure) => Err(failure),
            },
            Exchange::OAuthBearerChallenged(_) => match self.oauthbearer(token) {
                Ok(Ok((bytes, user, expiry))) => {
                    Ok((bytes, KafkaPrincipal::user(user), false, expiry))
                }
                Ok(Err(challenge)) => {
                    state.exchange = Exchange::OAuthBearerChallenged(challenge.clone());
                    return SaslAnswer::ok(challenge.into_bytes());
                }
                Err(failure) => Err(failure),
            },
            Exchange::Chosen(m) => {
                let mechanism =
                    ScramMechanism::from_name(&m).expect("enabled mechanisms are known");
                let mut server = ScramServer::new(mechanism);
                let mut token_owner = None;
                let lookup = |u: &str, token_auth: bool| {
                    if !token_auth {
                        return scram.get(u, mechanism);
                    }
                    let now = crate::clock::system_now_ms();
                    let (credential, owner, expiry) =
                        tokens?.scram_credential(u, mechanism, now)?;
                    token_owner = Some((owner, expiry));
                    Some(credential)
                };
                match server.step_with(token, lookup) {
                    Ok(ScramStep::Continue(first)) => {
                        state.exchange = Exchange::Scram(Box::new(server), token_owner);
                        return SaslAnswer::ok(first);
                    }
                    Ok(ScramStep::Done { .. }) => unreachable!("SCRAM takes two steps"),
                    Err(why) => Err((scram_failure(mechanism), why)),
                }
            }
            Exchange::Scram(mut server, token_owner) => {
                let mechanism = server.mechanism();
                match server.step(token, |_| None) {
                    Ok(ScramStep::Done { server_final, user }) => match token_owner {
                        // Kafka: the principal of a token-authenticated session is the
                        // token's owner; the session ends with the token.
                        Some((owner, expiry)) => Ok((server_final, owner, true, Some(expiry))),
                        None => Ok((server_final, KafkaPrincipal::user(user), false, None)),
                    },
                    Ok(ScramStep::Continue(_)) => unreachable!("SCRAM's second step ends it"),
                    Err(why) => Err((scram_failure(mechanism), why)),
                }
            }
        };
        match result {
            Ok((bytes, principal, by_token, credential_expires_ms)) => {
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
                state.token_authenticated = by_token;
                let mut answer = SaslAnswer::ok(bytes);
                // Kafka's rule: the session lasts the shorter of connections.max.reauth.ms
                // (when set) and the credential's remaining lifetime (when it has one).
                let reauth = (self.listener.reauth_ms > 0).then_some(self.listener.reauth_ms);
                let credential = credential_expires_ms
                    .map(|at| (at - crate::clock::system_now_ms()).max(0) as u64);
                let lifetime = match (reauth, credential) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                state.expires_at = lifetime.map(|ms| Instant::now() + Duration::from_millis(ms));
                if let Some(ms) = lifetime {
                    if api_version >= 1 {
                        answer.session_lifetime_ms = ms as i64;
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

impl Session {
    /// One OAUTHBEARER client-first message: `Ok(Ok(success))`, `Ok(Err(challenge))`
    /// for a token that did not validate (the client answers `\x01`, then fails), or
    /// `Err` for a malformed message, as Kafka's server answers each.
    #[allow(clippy::type_complexity)]
    fn oauthbearer(
        &self,
        token: &[u8],
    ) -> Result<Result<(Vec<u8>, String, Option<i64>), String>, Failure> {
        let generic = || {
            "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER".to_string()
        };
        let first = oauthbearer::parse_client_first(token).map_err(|why| (generic(), why))?;
        let Some(validator) = &self.listener.oauthbearer else {
            return Err((generic(), "OAUTHBEARER has no validator".into()));
        };
        let valid = match validator.validate(&first.token, crate::clock::system_now_ms()) {
            Ok(v) => v,
            Err(invalid) => {
                tracing::info!(
                    listener = %self.listener.config.name,
                    "OAUTHBEARER token refused: {}",
                    invalid.why
                );
                return Ok(Err(invalid.challenge()));
            }
        };
        if !first.authzid.is_empty() && first.authzid != valid.principal {
            return Err((
                format!(
                    "Authentication failed: Client requested an authorization id ({}) that is different from the token's principal name ({})",
                    first.authzid, valid.principal
                ),
                "OAUTHBEARER authorization id differs from the token's principal".into(),
            ));
        }
        Ok(Ok((Vec::new(), valid.principal, Some(valid.expires_at_ms))))
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
        let a = s.authenticate(b"\0alice\0pw", &store, None, 1);
        assert_eq!(a.error, Some(ResponseError::IllegalSaslState));
        assert!(a.close.is_some());
        assert!(s.handshake("PLAIN").error.is_none());
        let a = s.authenticate(b"\0alice\0pw", &store, None, 1);
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
            let a = s.authenticate(token, &store, None, 2);
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
        let a = s.authenticate(b"n,,n=ghost,r=abc", &store, None, 2);
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
        let a = s.authenticate(b"\0alice\0pw", &store, None, 1);
        assert_eq!(a.session_lifetime_ms, 60000);
        assert!(s.handshake("PLAIN").error.is_none());
        assert!(s
            .authenticate(b"\0alice\0pw", &store, None, 0)
            .error
            .is_none());
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
