//! SASL/OAUTHBEARER (RFC 7628) as a Kafka broker serves it: the client's first message,
//! and the two ways a broker validates its bearer token.
//!
//! - Kafka's *unsecured* validator (development only): a JWS with `alg` `none` and no
//!   signature, whose principal claim (`sub`, or the JAAS option
//!   `unsecuredValidatorPrincipalClaimName`) names the user; `exp` is required, `iat`
//!   checked when present, `unsecuredValidatorRequiredScope` and
//!   `unsecuredValidatorAllowableClockSkewMs` as Kafka reads them from the
//!   `OAuthBearerLoginModule` JAAS line.
//! - A JWKS-validated mode when `sasl.oauthbearer.jwks.endpoint.url` is set (a `file://`
//!   JWKS): the signature checked against the set's key (RS256, ES256, ... by the
//!   `jsonwebtoken` crate), `exp` and `iat` required, `sasl.oauthbearer.expected.audience`
//!   and `sasl.oauthbearer.expected.issuer` when set, the principal from
//!   `sasl.oauthbearer.sub.claim.name`.
//!
//! The token's expiry bounds the session (KIP-368). This module never touches a socket
//! and never logs a token (it is a credential).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::jaas;
use crate::config::listeners::ListenerConfig;

/// Kafka's OAUTHBEARER login module, the only one an OAUTHBEARER JAAS line may name.
pub const OAUTHBEARER_LOGIN_MODULE: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

/// The byte a client sends after the server's error challenge (RFC 7628 3.2.3).
pub const CONTROL_A: u8 = 0x01;

/// The client's first message: `n,[a=authzid],\x01auth=Bearer <token>\x01[key=value\x01]*\x01`.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFirst {
    /// Empty when the client named none.
    pub authzid: String,
    pub token: String,
    /// SASL extensions (every key but `auth`).
    pub extensions: BTreeMap<String, String>,
}

/// Parses the client's first message with the grammar Kafka's broker accepts. The
/// error is the reason for the log (the client gets Kafka's generic message).
pub fn parse_client_first(bytes: &[u8]) -> Result<ClientFirst, String> {
    let invalid = || "Invalid OAUTHBEARER client first message".to_string();
    let text = std::str::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = text.strip_prefix("n,").ok_or_else(invalid)?;
    let (authzid, rest) = match rest.strip_prefix("a=") {
        Some(r) => {
            let end = r.find(',').ok_or_else(invalid)?;
            let name = &r[..end];
            if !is_sasl_name(name) {
                return Err(invalid());
            }
            (name.to_string(), &r[end..])
        }
        None => (String::new(), rest),
    };
    let rest = rest.strip_prefix(",\x01").ok_or_else(invalid)?;
    // What is left is `(key=value\x01)*\x01`.
    let pairs = rest.strip_suffix('\x01').ok_or_else(invalid)?;
    let mut properties = BTreeMap::new();
    if !pairs.is_empty() {
        let pairs = pairs.strip_suffix('\x01').ok_or_else(invalid)?;
        for pair in pairs.split('\x01') {
            let (key, value) = pair.split_once('=').ok_or_else(invalid)?;
            let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphabetic());
            let value_ok = !value.is_empty()
                && value.bytes().all(|b| {
                    (0x21..=0x7E).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n')
                });
            if !key_ok || !value_ok {
                return Err(invalid());
            }
            properties.insert(key.to_string(), value.to_string());
        }
    }
    let auth = properties
        .remove("auth")
        .ok_or("Invalid OAUTHBEARER client first message: 'auth' not specified")?;
    let bad_auth = || "Invalid OAUTHBEARER client first message: invalid 'auth' format".to_string();
    let (scheme, token) = auth.split_once(' ').ok_or_else(bad_auth)?;
    let token = token.trim_start_matches(' ');
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let body = token.trim_end_matches('=');
    let token_ok = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'+' | b'/' | b'.')
        });
    if !scheme_ok || !token_ok {
        return Err(bad_auth());
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "Invalid scheme in OAUTHBEARER client first message: {scheme}"
        ));
    }
    Ok(ClientFirst {
        authzid,
        token: token.to_string(),
        extensions: properties,
    })
}

/// RFC 5801's saslname: 7-bit characters but `=` and `,`, those two escaped as =2C/=3D.
fn is_sasl_name(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'=' => {
                if !(b[i..].starts_with(b"=2C") || b[i..].starts_with(b"=3D")) {
                    return false;
                }
                i += 3;
            }
            b',' | 0 | 0x80..=0xFF => return false,
            _ => i += 1,
        }
    }
    true
}

/// A token that validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidToken {
    pub principal: String,
    /// Unix milliseconds at which the token (and so the session) expires.
    pub expires_at_ms: i64,
}

/// Why a token did not validate: the challenge for the client (RFC 7628's JSON
/// status) and the reason for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `invalid_token`, or `insufficient_scope` for a missing required scope.
    pub status: &'static str,
    pub scope: Option<String>,
    pub why: String,
}

impl Invalid {
    fn token(why: impl Into<String>) -> Invalid {
        Invalid {
            status: "invalid_token",
            scope: None,
            why: why.into(),
        }
    }

    /// The server's error challenge, as Kafka writes it.
    pub fn challenge(&self) -> String {
        match &self.scope {
            Some(scope) => format!(
                "{{\"status\":\"{}\", \"scope\":\"{}\"}}",
                self.status,
                scope.replace('"', "")
            ),
            None => format!("{{\"status\":\"{}\"}}", self.status),
        }
    }
}

/// How a listener validates OAUTHBEARER tokens.
#[derive(Debug)]
pub enum Validator {
    Unsecured(UnsecuredOptions),
    Jwks(JwksValidator),
}

/// The unsecured validator's options from the OAUTHBEARER JAAS line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredOptions {
    pub principal_claim: String,
    pub scope_claim: String,
    pub required_scope: Vec<String>,
    pub allowable_clock_skew_ms: i64,
}

impl Default for UnsecuredOptions {
    fn default() -> Self {
        UnsecuredOptions {
            principal_claim: "sub".into(),
            scope_claim: "scope".into(),
            required_scope: Vec::new(),
            allowable_clock_skew_ms: 0,
        }
    }
}

impl Validator {
    /// The listener's validator: JWKS when `sasl.oauthbearer.jwks.endpoint.url` is
    /// set, Kafka's unsecured validator otherwise (options from the OAUTHBEARER JAAS
    /// line, which may be absent). Errors name the setting that is wrong.
    pub fn from_listener(config: &ListenerConfig) -> Result<Validator> {
        let jaas_line = config.jaas_config("OAUTHBEARER");
        let options = if jaas_line.trim().is_empty() {
            BTreeMap::new()
        } else {
            let entry =
                jaas::parse(jaas_line).map_err(|e| anyhow!("oauthbearer.sasl.jaas.config: {e}"))?;
            let own_line = config.settings.contains_key("oauthbearer.sasl.jaas.config");
            if entry.login_module == OAUTHBEARER_LOGIN_MODULE {
                entry.options
            } else if own_line {
                bail!(
                    "oauthbearer.sasl.jaas.config: login module {} is not {OAUTHBEARER_LOGIN_MODULE}",
                    entry.login_module
                );
            } else {
                // The listener-wide sasl.jaas.config is another mechanism's line (PLAIN's
                // users): OAUTHBEARER then has no options of its own.
                BTreeMap::new()
            }
        };
        let url = config.setting("sasl.oauthbearer.jwks.endpoint.url").trim();
        if !url.is_empty() {
            return Ok(Validator::Jwks(JwksValidator::new(url, config)?));
        }
        let option = |k: &str| options.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut o = UnsecuredOptions::default();
        if let Some(v) = option("unsecuredValidatorPrincipalClaimName") {
            o.principal_claim = v.to_string();
        }
        if let Some(v) = option("unsecuredValidatorScopeClaimName") {
            o.scope_claim = v.to_string();
        }
        if let Some(v) = option("unsecuredValidatorRequiredScope") {
            o.required_scope = v
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = option("unsecuredValidatorAllowableClockSkewMs") {
            o.allowable_clock_skew_ms = match v.parse::<i32>() {
                Ok(ms) if ms >= 0 => ms as i64,
                _ => bail!(
                    "oauthbearer.sasl.jaas.config: unsecuredValidatorAllowableClockSkewMs must be a non-negative integer, not {v:?}"
                ),
            };
        }
        Ok(Validator::Unsecured(o))
    }

    pub fn validate(&self, token: &str, now_ms: i64) -> Result<ValidToken, Invalid> {
        match self {
            Validator::Unsecured(o) => validate_unsecured(token, o, now_ms),
            Validator::Jwks(j) => j.validate(token, now_ms),
        }
    }
}

/// A JWT claim time (seconds, possibly fractional) in milliseconds, rounded as Kafka does.
fn seconds_to_ms(v: f64) -> i64 {
    (v * 1000.0).round() as i64
}

fn b64url_json(part: &str, what: &str) -> Result<Map<String, Value>, Invalid> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(part)
        .map_err(|e| Invalid::token(format!("JWS {what} is not base64url: {e}")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Invalid::token(format!("JWS {what} is not a JSON object"))),
    }
}

/// Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`, rule for rule.
pub fn validate_unsecured(
    token: &str,
    o: &UnsecuredOptions,
    now_ms: i64,
) -> Result<ValidToken, Invalid> {
    if token.contains("..") {
        return Err(Invalid::token(
            "Malformed compact serialization contains '..'",
        ));
    }
    let splits: Vec<&str> = token.split('.').collect();
    if splits.len() != 3 {
        return Err(Invalid::token(format!(
            "Unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values, not {}",
            splits.len()
        )));
    }
    let header = b64url_json(splits[0], "header")?;
    let claims = b64url_json(splits[1], "claims")?;
    if header.get("alg").and_then(Value::as_str) != Some("none") {
        return Err(Invalid::token(
            "Unsecured JWS must have 'none' for an algorithm",
        ));
    }
    if !splits[2].is_empty() {
        return Err(Invalid::token(
            "Unsecured JWS must not contain a digital signature",
        ));
    }
    let number = |name: &str| -> Result<Option<f64>, Invalid> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(Invalid::token(format!(
                "The '{name}' claim was not of type Number"
            ))),
        }
    };
    let exp = number("exp")?.ok_or_else(|| Invalid::token("No expiration time in JWT"))?;
    let principal = match claims.get(&o.principal_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(Invalid::token(format!(
                "No principal name in JWT claim: {}",
                o.principal_claim
            )))
        }
        Some(_) => {
            return Err(Invalid::token(format!(
                "The {} claim had the incorrect type",
                o.principal_claim
            )))
        }
    };
    let scope: BTreeSet<String> = match claims.get(&o.scope_claim) {
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str())
            .map(String::from)
            .collect(),
        _ => BTreeSet::new(),
    };
    let skew = o.allowable_clock_skew_ms;
    let iat = number("iat")?;
    if let Some(iat) = iat {
        if seconds_to_ms(iat) > now_ms + skew {
            return Err(Invalid::token(format!(
                "The Issued At value ({iat} seconds) was after the indicated time ({now_ms} ms) plus allowable clock skew ({skew} ms)"
            )));
        }
    }
    if now_ms - skew >= seconds_to_ms(exp) {
        return Err(Invalid::token(format!(
            "The indicated time ({now_ms} ms) minus allowable clock skew ({skew} ms) was on or after the Expiration Time value ({exp} seconds)"
        )));
    }
    if let Some(iat) = iat {
        if exp <= iat {
            return Err(Invalid::token(format!(
                "The Expiration Time time ({exp} seconds) was not after the Issued At time ({iat} seconds)"
            )));
        }
    }
    if let Some(missing) = o.required_scope.iter().find(|s| !scope.contains(*s)) {
        return Err(Invalid {
            status: "insufficient_scope",
            scope: Some(o.required_scope.join(" ")),
            why: format!("The provided scope ({scope:?}) was missing a required scope ({missing})"),
        });
    }
    Ok(ValidToken {
        principal,
        expires_at_ms: seconds_to_ms(exp),
    })
}

/// Validation against a JSON Web Key Set read from a file (re-read when a token names a
/// key the loaded set lacks and the file changed since, as a rotated set arrives).
#[derive(Debug)]
pub struct JwksValidator {
    path: PathBuf,
    keys: Mutex<(Option<SystemTime>, jsonwebtoken::jwk::JwkSet)>,
    audience: Vec<String>,
    issuer: Option<String>,
    sub_claim: String,
    clock_skew_seconds: u64,
}

impl JwksValidator {
    fn new(url: &str, config: &ListenerConfig) -> Result<JwksValidator> {
        let path = match url.strip_prefix("file://") {
            Some(p) => PathBuf::from(p),
            None => bail!(
                "sasl.oauthbearer.jwks.endpoint.url {url:?}: only file:// URLs (a JWKS file) are supported"
            ),
        };
        let (mtime, set) = read_jwks(&path)
            .with_context(|| format!("sasl.oauthbearer.jwks.endpoint.url {url:?}"))?;
        let list = |name: &str| -> Vec<String> {
            config
                .setting(name)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let issuer = Some(config.setting("sasl.oauthbearer.expected.issuer").trim())
            .filter(|s| !s.is_empty())
            .map(String::from);
        let sub_claim = match config.setting("sasl.oauthbearer.sub.claim.name").trim() {
            "" => "sub".to_string(),
            s => s.to_string(),
        };
        let skew = config.setting("sasl.oauthbearer.clock.skew.seconds").trim();
        let clock_skew_seconds = if skew.is_empty() {
            30
        } else {
            skew.parse::<u64>().map_err(|_| {
                anyhow!("sasl.oauthbearer.clock.skew.seconds must be a non-negative integer, not {skew:?}")
            })?
        };
        Ok(JwksValidator {
            path,
            keys: Mutex::new((mtime, set)),
            audience: list("sasl.oauthbearer.expected.audience"),
            issuer,
            sub_claim,
            clock_skew_seconds,
        })
    }

    fn key_for(&self, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
        let find = |set: &jsonwebtoken::jwk::JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let mut keys = self.keys.lock();
        if let Some(k) = find(&keys.1) {
            return Some(k);
        }
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if mtime != keys.0 {
            match read_jwks(&self.path) {
                Ok(fresh) => *keys = fresh,
                Err(e) => tracing::warn!(path = %self.path.display(), "JWKS not re-read: {e:#}"),
            }
        }
        find(&keys.1)
    }

    fn validate(&self, token: &str, now_ms: i64) -> Result<ValidToken, Invalid> {
        let fail = |e: String| Invalid::token(format!("Could not validate the access token: {e}"));
        let header = jsonwebtoken::decode_header(token).map_err(|e| fail(e.to_string()))?;
        let jwk = self.key_for(header.kid.as_deref()).ok_or_else(|| {
            fail(format!(
                "no key in the JWKS for kid {:?}",
                header.kid.as_deref().unwrap_or("")
            ))
        })?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| fail(e.to_string()))?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.leeway = self.clock_skew_seconds;
        validation.set_required_spec_claims(&["exp"]);
        if self.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| fail(e.to_string()))?;
        let claims = data.claims;
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or_else(|| fail("exp is not a number".into()))?;
        let iat = claims
            .get("iat")
            .and_then(Value::as_f64)
            .ok_or_else(|| fail("No Issued At (iat) claim present.".into()))?;
        let skew_ms = self.clock_skew_seconds as i64 * 1000;
        if seconds_to_ms(iat) > now_ms + skew_ms {
            return Err(fail(format!("the Issued At ({iat}) is in the future")));
        }
        let principal = match claims.get(&self.sub_claim) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return Err(Invalid::token(format!(
                    "{} value must be non-null and non-empty",
                    self.sub_claim
                )))
            }
        };
        Ok(ValidToken {
            principal,
            expires_at_ms: seconds_to_ms(exp),
        })
    }
}

fn read_jwks(path: &std::path::Path) -> Result<(Option<SystemTime>, jsonwebtoken::jwk::JwkSet)> {
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(&text).with_context(|| format!("{} is not a JWKS", path.display()))?;
    if set.keys.is_empty() {
        bail!("{} holds no keys", path.display());
    }
    Ok((mtime, set))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn unsecured(claims: &str) -> String {
        format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(claims))
    }

    #[test]
    fn client_first_grammar() {
        let m = parse_client_first(b"n,,\x01auth=Bearer abc.def.\x01\x01").unwrap();
        assert_eq!(m.token, "abc.def.");
        assert_eq!(m.authzid, "");
        assert!(m.extensions.is_empty());
        let m =
            parse_client_first(b"n,a=alice,\x01auth=bearer  t0k=\x01traceId=a b\x01\x01").unwrap();
        assert_eq!((m.authzid.as_str(), m.token.as_str()), ("alice", "t0k="));
        assert_eq!(m.extensions["traceId"], "a b");
        for bad in [
            &b""[..],
            b"n,,\x01\x01",
            b"n,,\x01auth=Bearer t\x01",
            b"y,,\x01auth=Bearer t\x01\x01",
            b"n,,\x01auth=Basic t\x01\x01",
            b"n,,\x01auth=Bearer t!\x01\x01",
            b"n,,\x01au1th=x\x01auth=Bearer t\x01\x01",
            b"n,a=,\x01auth=Bearer t\x01\x01",
            b"n,a=x=y,\x01auth=Bearer t\x01\x01",
            b"\x01",
            b"n,,\x01auth=Bearer t\x01\xff\x01",
        ] {
            assert!(parse_client_first(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unsecured_tokens_as_kafka_checks_them() {
        let o = UnsecuredOptions::default();
        let now = 1_700_000_000_000;
        let ok = unsecured(r#"{"sub":"alice","iat":1699999999,"exp":1700003600}"#);
        assert_eq!(
            validate_unsecured(&ok, &o, now).unwrap(),
            ValidToken {
                principal: "alice".into(),
                expires_at_ms: 1_700_003_600_000
            }
        );
        let expired = unsecured(r#"{"sub":"alice","exp":1699999999}"#);
        assert_eq!(
            validate_unsecured(&expired, &o, now).unwrap_err().status,
            "invalid_token"
        );
        let skewed = UnsecuredOptions {
            allowable_clock_skew_ms: 5000,
            ..UnsecuredOptions::default()
        };
        assert!(validate_unsecured(&expired, &skewed, now).is_ok());
        for bad in [
            unsecured(r#"{"sub":"alice"}"#),
            unsecured(r#"{"exp":1700003600}"#),
            unsecured(r#"{"sub":" ","exp":1700003600}"#),
            unsecured(r#"{"sub":"a","iat":1700000100,"exp":1700003600}"#),
            format!(
                "{}.{}.",
                b64(r#"{"alg":"HS256"}"#),
                b64(r#"{"sub":"a","exp":1700003600}"#)
            ),
            format!("{}sig", unsecured(r#"{"sub":"a","exp":1700003600}"#)),
            "a..b".into(),
            "onlyone".into(),
            format!("{}.!!.", b64(r#"{"alg":"none"}"#)),
        ] {
            assert!(validate_unsecured(&bad, &o, now).is_err(), "{bad}");
        }
        let custom = UnsecuredOptions {
            principal_claim: "user".into(),
            required_scope: vec!["kafka".into()],
            ..UnsecuredOptions::default()
        };
        let scoped = unsecured(r#"{"user":"bob","scope":"read kafka","exp":1700003600}"#);
        assert_eq!(
            validate_unsecured(&scoped, &custom, now).unwrap().principal,
            "bob"
        );
        let unscoped = unsecured(r#"{"user":"bob","scope":"read","exp":1700003600}"#);
        let e = validate_unsecured(&unscoped, &custom, now).unwrap_err();
        assert_eq!(
            e.challenge(),
            r#"{"status":"insufficient_scope", "scope":"kafka"}"#
        );
        assert_eq!(
            Invalid::token("x").challenge(),
            r#"{"status":"invalid_token"}"#
        );
    }
}
