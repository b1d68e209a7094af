//! Delegation tokens as Kafka keeps them: created, renewed, expired and described by the
//! four DelegationToken APIs, and used to authenticate with SCRAM (`tokenauth=true`,
//! the token id as the user name, the base64 HMAC as the password), the session's
//! principal being the token's owner.
//!
//! On when `delegation.token.secret.key` is set. A token's HMAC is HMAC-SHA512 of its
//! id keyed with that secret, as Kafka computes it, so the HMAC is never stored: the
//! file `<log.dirs>/delegation_tokens` (written with `log::checkpoint::write_atomic`,
//! like the ACL and SCRAM files) keeps only ids, principals and timestamps. Tokens past
//! their expiry are dropped whenever the store is used. This module never decides who
//! may do what: the API handlers check ACLs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha512;

use super::principal::KafkaPrincipal;
use super::scram::{ScramCredential, ScramMechanism, MIN_ITERATIONS};
use crate::error::ResponseError;

pub const FILE_NAME: &str = "delegation_tokens";
const MAGIC: &[u8; 8] = b"SLDTOK01";

/// One token (Kafka's `TokenInformation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub token_id: String,
    pub owner: KafkaPrincipal,
    /// Who asked for it (differs from the owner when created for another user, v3).
    pub requester: KafkaPrincipal,
    pub renewers: Vec<KafkaPrincipal>,
    pub issue_ms: i64,
    pub expiry_ms: i64,
    pub max_ms: i64,
}

impl TokenInfo {
    pub fn owner_or_renewer(&self, p: &KafkaPrincipal) -> bool {
        self.owner == *p || self.renewers.contains(p)
    }
}

/// The settings that shape tokens.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// `delegation.token.secret.key`; `None`: tokens are off.
    pub secret: Option<String>,
    /// `delegation.token.max.lifetime.ms`
    pub max_lifetime_ms: i64,
    /// `delegation.token.expiry.time.ms`: the default renewal period.
    pub expiry_time_ms: i64,
}

/// The token settings from the broker's configuration.
pub fn settings_of(config: &crate::config::BrokerConfig) -> TokenSettings {
    let value = |name: &str| {
        config
            .broker_value(name)
            .map(|(v, _)| v)
            .unwrap_or_default()
    };
    let ms = |name: &str, default: i64| value(name).trim().parse::<i64>().unwrap_or(default);
    let secret = value("delegation.token.secret.key");
    TokenSettings {
        secret: (!secret.is_empty()).then_some(secret),
        max_lifetime_ms: ms("delegation.token.max.lifetime.ms", 604_800_000),
        expiry_time_ms: ms("delegation.token.expiry.time.ms", 86_400_000),
    }
}

pub struct DelegationTokenStore {
    dir: PathBuf,
    settings: TokenSettings,
    tokens: Mutex<BTreeMap<String, TokenInfo>>,
}

impl DelegationTokenStore {
    /// Loads the tokens kept in `dir` (a missing file is none).
    pub fn open(dir: &Path, settings: TokenSettings) -> anyhow::Result<DelegationTokenStore> {
        let path = dir.join(FILE_NAME);
        let tokens = match crate::log::checkpoint::read_atomic(dir, FILE_NAME)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
        {
            Some(bytes) => decode(&bytes)
                .map_err(|e| anyhow::anyhow!("{} is corrupt ({e})", path.display()))?,
            None => BTreeMap::new(),
        };
        Ok(DelegationTokenStore {
            dir: dir.to_path_buf(),
            settings,
            tokens: Mutex::new(tokens),
        })
    }

    pub fn enabled(&self) -> bool {
        self.settings.secret.is_some()
    }

    /// HMAC-SHA512 of the token id, keyed with the secret's UTF-8 bytes (Kafka's).
    pub fn hmac(&self, token_id: &str) -> Vec<u8> {
        let secret = self.settings.secret.as_deref().unwrap_or_default();
        let mut m = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        m.update(token_id.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    fn persist(&self, tokens: &BTreeMap<String, TokenInfo>) -> Result<(), ResponseError> {
        crate::log::checkpoint::write_atomic(&self.dir, FILE_NAME, &encode(tokens)).map_err(|e| {
            tracing::error!("writing {}: {e}", self.dir.join(FILE_NAME).display());
            ResponseError::KafkaStorageError
        })
    }

    /// Drops expired tokens (writing the file when any went).
    fn purge(&self, tokens: &mut BTreeMap<String, TokenInfo>, now_ms: i64) {
        let before = tokens.len();
        tokens.retain(|_, t| t.expiry_ms >= now_ms);
        if tokens.len() != before {
            tracing::info!(
                "{} expired delegation token(s) removed",
                before - tokens.len()
            );
            let _ = self.persist(tokens);
        }
    }

    fn enabled_or(&self) -> Result<(), ResponseError> {
        if self.enabled() {
            Ok(())
        } else {
            Err(ResponseError::DelegationTokenAuthDisabled)
        }
    }

    /// A new token; durable when this returns. `max_lifetime_ms` <= 0 means the
    /// broker's maximum.
    pub fn create(
        &self,
        owner: KafkaPrincipal,
        requester: KafkaPrincipal,
        renewers: Vec<KafkaPrincipal>,
        max_lifetime_ms: i64,
        now_ms: i64,
    ) -> Result<(TokenInfo, Vec<u8>), ResponseError> {
        self.enabled_or()?;
        let limit = self.settings.max_lifetime_ms;
        let lifetime = if max_lifetime_ms <= 0 {
            limit
        } else {
            max_lifetime_ms.min(limit)
        };
        let max_ms = now_ms.saturating_add(lifetime);
        let token_id = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(uuid::Uuid::new_v4().as_bytes());
        let info = TokenInfo {
            token_id: token_id.clone(),
            owner,
            requester,
            renewers,
            issue_ms: now_ms,
            expiry_ms: max_ms.min(now_ms.saturating_add(self.settings.expiry_time_ms)),
            max_ms,
        };
        let mut tokens = self.tokens.lock();
        self.purge(&mut tokens, now_ms);
        let mut next = tokens.clone();
        next.insert(token_id.clone(), info.clone());
        self.persist(&next)?;
        *tokens = next;
        Ok((info, self.hmac(&token_id)))
    }

    fn by_hmac(
        &self,
        tokens: &BTreeMap<String, TokenInfo>,
        hmac: &[u8],
    ) -> Result<TokenInfo, ResponseError> {
        tokens
            .values()
            .find(|t| constant_time_eq(&self.hmac(&t.token_id), hmac))
            .cloned()
            .ok_or(ResponseError::DelegationTokenNotFound)
    }

    /// Renews the token with this HMAC; the new expiry. A negative period is the
    /// default renewal (`delegation.token.expiry.time.ms`).
    pub fn renew(
        &self,
        hmac: &[u8],
        renew_period_ms: i64,
        principal: &KafkaPrincipal,
        now_ms: i64,
    ) -> Result<i64, ResponseError> {
        self.enabled_or()?;
        let mut tokens = self.tokens.lock();
        self.purge(&mut tokens, now_ms);
        let mut t = self.by_hmac(&tokens, hmac)?;
        if !t.owner_or_renewer(principal) {
            return Err(ResponseError::DelegationTokenOwnerMismatch);
        }
        if t.max_ms < now_ms {
            return Err(ResponseError::DelegationTokenExpired);
        }
        let period = if renew_period_ms < 0 {
            self.settings.expiry_time_ms
        } else {
            renew_period_ms
        };
        t.expiry_ms = t.max_ms.min(now_ms.saturating_add(period));
        let expiry = t.expiry_ms;
        let mut next = tokens.clone();
        next.insert(t.token_id.clone(), t);
        self.persist(&next)?;
        *tokens = next;
        Ok(expiry)
    }

    /// Sets the token's expiry to now + period (capped by its maximum); a negative
    /// period removes it at once. Returns the expiry.
    pub fn expire(
        &self,
        hmac: &[u8],
        expiry_period_ms: i64,
        principal: &KafkaPrincipal,
        now_ms: i64,
    ) -> Result<i64, ResponseError> {
        self.enabled_or()?;
        let mut tokens = self.tokens.lock();
        self.purge(&mut tokens, now_ms);
        let mut t = self.by_hmac(&tokens, hmac)?;
        if !t.owner_or_renewer(principal) {
            return Err(ResponseError::DelegationTokenOwnerMismatch);
        }
        if t.max_ms < now_ms {
            return Err(ResponseError::DelegationTokenExpired);
        }
        let mut next = tokens.clone();
        let expiry = if expiry_period_ms < 0 {
            next.remove(&t.token_id);
            now_ms
        } else {
            t.expiry_ms = t.max_ms.min(now_ms.saturating_add(expiry_period_ms));
            let e = t.expiry_ms;
            next.insert(t.token_id.clone(), t);
            e
        };
        self.persist(&next)?;
        *tokens = next;
        Ok(expiry)
    }

    /// Every live token with its HMAC, for DescribeDelegationToken to filter.
    pub fn all(&self, now_ms: i64) -> Result<Vec<(TokenInfo, Vec<u8>)>, ResponseError> {
        self.enabled_or()?;
        let mut tokens = self.tokens.lock();
        self.purge(&mut tokens, now_ms);
        Ok(tokens
            .values()
            .map(|t| (t.clone(), self.hmac(&t.token_id)))
            .collect())
    }

    /// The SCRAM credential a client authenticating with this token id must prove,
    /// with the token's owner and expiry. The password is the base64 HMAC, as Kafka's
    /// clients send it.
    pub fn scram_credential(
        &self,
        token_id: &str,
        mechanism: ScramMechanism,
        now_ms: i64,
    ) -> Option<(ScramCredential, KafkaPrincipal, i64)> {
        if !self.enabled() {
            return None;
        }
        let info = {
            let mut tokens = self.tokens.lock();
            self.purge(&mut tokens, now_ms);
            tokens.get(token_id)?.clone()
        };
        let password = base64::engine::general_purpose::STANDARD.encode(self.hmac(token_id));
        let salt = super::scram::random_bytes(16);
        let salted = mechanism.salted_password(password.as_bytes(), &salt, MIN_ITERATIONS as u32);
        let credential =
            ScramCredential::from_salted_password(mechanism, &salt, &salted, MIN_ITERATIONS);
        Some((credential, info.owner, info.expiry_ms))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn put_principal(out: &mut Vec<u8>, p: &KafkaPrincipal) {
    put_str(out, &p.principal_type);
    put_str(out, &p.name);
}

/// `MAGIC, count u32, per token: id, owner, requester (type and name each), renewer
/// count u16 and renewers, issue/expiry/max i64; CRC-32 of all before it`.
fn encode(tokens: &BTreeMap<String, TokenInfo>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(tokens.len() as u32).to_be_bytes());
    for t in tokens.values() {
        put_str(&mut out, &t.token_id);
        put_principal(&mut out, &t.owner);
        put_principal(&mut out, &t.requester);
        out.extend_from_slice(&(t.renewers.len().min(u16::MAX as usize) as u16).to_be_bytes());
        for r in t.renewers.iter().take(u16::MAX as usize) {
            put_principal(&mut out, r);
        }
        for v in [t.issue_ms, t.expiry_ms, t.max_ms] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a name is not UTF-8".into())
    }
    fn principal(&mut self) -> Result<KafkaPrincipal, String> {
        Ok(KafkaPrincipal {
            principal_type: self.str()?,
            name: self.str()?,
        })
    }
}

fn decode(bytes: &[u8]) -> Result<BTreeMap<String, TokenInfo>, String> {
    if bytes.len() < MAGIC.len() + 8 || &bytes[..8] != MAGIC {
        return Err("not a delegation token file".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body).to_be_bytes() != crc {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader(&body[8..]);
    let count = u32::from_be_bytes(r.take(4)?.try_into().unwrap());
    let mut tokens = BTreeMap::new();
    for _ in 0..count {
        let token_id = r.str()?;
        let owner = r.principal()?;
        let requester = r.principal()?;
        let n = r.u16()?;
        let renewers = (0..n)
            .map(|_| r.principal())
            .collect::<Result<Vec<_>, _>>()?;
        let (issue_ms, expiry_ms, max_ms) = (r.i64()?, r.i64()?, r.i64()?);
        tokens.insert(
            token_id.clone(),
            TokenInfo {
                token_id,
                owner,
                requester,
                renewers,
                issue_ms,
                expiry_ms,
                max_ms,
            },
        );
    }
    if !r.0.is_empty() {
        return Err("trailing bytes".into());
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TokenSettings {
        TokenSettings {
            secret: Some("s3cret".into()),
            max_lifetime_ms: 10_000,
            expiry_time_ms: 4_000,
        }
    }

    #[test]
    fn lifecycle_survives_reopening_and_checks_owners() {
        let dir = tempfile::tempdir().unwrap();
        let alice = KafkaPrincipal::user("alice");
        let bob = KafkaPrincipal::user("bob");
        let eve = KafkaPrincipal::user("eve");
        let store = DelegationTokenStore::open(dir.path(), settings()).unwrap();
        let (t, hmac) = store
            .create(alice.clone(), alice.clone(), vec![bob.clone()], 0, 1_000)
            .unwrap();
        assert_eq!((t.issue_ms, t.expiry_ms, t.max_ms), (1_000, 5_000, 11_000));
        assert_eq!(hmac.len(), 64);
        let store = DelegationTokenStore::open(dir.path(), settings()).unwrap();
        assert_eq!(store.all(2_000).unwrap()[0], (t.clone(), hmac.clone()));
        assert_eq!(
            store.renew(&hmac, -1, &eve, 2_000),
            Err(ResponseError::DelegationTokenOwnerMismatch)
        );
        assert_eq!(store.renew(&hmac, -1, &bob, 2_000), Ok(6_000));
        assert_eq!(store.renew(&hmac, 60_000, &bob, 2_000), Ok(11_000));
        assert_eq!(store.renew(&hmac, 500, &alice, 2_000), Ok(2_500));
        assert_eq!(
            store.renew(b"nope", -1, &bob, 2_000),
            Err(ResponseError::DelegationTokenNotFound)
        );
        let (cred, owner, expiry) = store
            .scram_credential(&t.token_id, ScramMechanism::Sha256, 2_400)
            .unwrap();
        assert_eq!((owner, expiry), (alice.clone(), 2_500));
        assert_eq!(cred.iterations, MIN_ITERATIONS);
        // Past its expiry the token is gone, also after a restart.
        assert!(store
            .scram_credential(&t.token_id, ScramMechanism::Sha256, 2_501)
            .is_none());
        let store = DelegationTokenStore::open(dir.path(), settings()).unwrap();
        assert!(store.all(0).unwrap().is_empty());
        let (_, hmac) = store
            .create(alice.clone(), alice.clone(), vec![], 1, 0)
            .unwrap();
        assert_eq!(store.expire(&hmac, -1, &alice, 0), Ok(0));
        assert!(store.all(0).unwrap().is_empty());
        let off = DelegationTokenStore::open(
            dir.path(),
            TokenSettings {
                secret: None,
                ..settings()
            },
        )
        .unwrap();
        assert_eq!(
            off.create(alice.clone(), alice, vec![], 0, 0).unwrap_err(),
            ResponseError::DelegationTokenAuthDisabled
        );
    }
}
