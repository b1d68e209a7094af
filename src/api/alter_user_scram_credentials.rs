//! AlterUserScramCredentials (key 51), v0: create, replace and delete SCRAM users.
//!
//! What `kafka-configs --alter --add-config 'SCRAM-SHA-512=[password=...]'` and the
//! admin clients send: the client salts and hashes the password (PBKDF2), the broker
//! derives and stores Kafka's StoredKey/ServerKey, durably, before answering. Checks and
//! error codes as Kafka's: an empty name or an iteration count outside 4096..=16384 is
//! UNACCEPTABLE_CREDENTIAL, an unknown mechanism UNSUPPORTED_SASL_MECHANISM, a user named
//! twice DUPLICATE_RESOURCE, deleting what does not exist RESOURCE_NOT_FOUND. One result
//! per user; a user with any refused change gets none of its changes applied.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::credentials::Alteration;
use crate::security::scram::{ScramCredential, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};

pub async fn handle(
    request: AlterUserScramCredentialsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AlterUserScramCredentialsResponse> {
    let store = &broker.scram_credentials;
    // Per user, in request order: its changes, or the first refusal.
    let mut users: BTreeMap<String, Result<Vec<Alteration>, (ResponseError, String)>> =
        BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut note = |user: &str, change: Result<Alteration, (ResponseError, String)>| {
        let entry = users
            .entry(user.to_string())
            .or_insert_with(|| Ok(Vec::new()));
        match (entry.as_mut(), change) {
            (Ok(list), Ok(c)) => list.push(c),
            (Ok(_), Err(e)) => *entry = Err(e),
            (Err(_), _) => {}
        }
    };
    let duplicate = || {
        (
            ResponseError::DuplicateResource,
            "A user credential cannot be altered twice in the same request".to_string(),
        )
    };
    for d in &request.deletions {
        let user = d.name.to_string();
        let change = match ScramMechanism::from_type_code(d.mechanism) {
            _ if user.is_empty() => Err((
                ResponseError::UnacceptableCredential,
                "Username must not be empty".to_string(),
            )),
            None => Err((
                ResponseError::UnsupportedSaslMechanism,
                "Unknown SCRAM mechanism".to_string(),
            )),
            Some(_) if !seen.insert((user.clone(), d.mechanism)) => Err(duplicate()),
            Some(m) if !store.has(&user, m) => Err((
                ResponseError::ResourceNotFound,
                "Attempt to delete a user credential that does not exist".to_string(),
            )),
            Some(m) => Ok(Alteration::Delete {
                user: user.clone(),
                mechanism: m,
            }),
        };
        note(&user, change);
    }
    for u in &request.upsertions {
        let user = u.name.to_string();
        let change = match ScramMechanism::from_type_code(u.mechanism) {
            _ if user.is_empty() => Err((
                ResponseError::UnacceptableCredential,
                "Username must not be empty".to_string(),
            )),
            None => Err((
                ResponseError::UnsupportedSaslMechanism,
                "Unknown SCRAM mechanism".to_string(),
            )),
            Some(_) if !seen.insert((user.clone(), u.mechanism)) => Err(duplicate()),
            Some(_) if u.iterations < MIN_ITERATIONS => Err((
                ResponseError::UnacceptableCredential,
                "Too few iterations".to_string(),
            )),
            Some(_) if u.iterations > MAX_ITERATIONS => Err((
                ResponseError::UnacceptableCredential,
                "Too many iterations".to_string(),
            )),
            Some(_) if u.salt.is_empty() || u.salted_password.is_empty() => Err((
                ResponseError::UnacceptableCredential,
                "Salt and salted password must not be empty".to_string(),
            )),
            Some(m) => Ok(Alteration::Upsert {
                user: user.clone(),
                mechanism: m,
                credential: ScramCredential::from_salted_password(
                    m,
                    &u.salt,
                    &u.salted_password,
                    u.iterations,
                ),
            }),
        };
        note(&user, change);
    }
    let changes: Vec<Alteration> = users
        .values()
        .filter_map(|r| r.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    let written = if changes.is_empty() {
        Ok(())
    } else {
        let broker = broker.clone();
        match tokio::task::spawn_blocking(move || broker.scram_credentials.alter(&changes)).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    };
    if let Err(e) = &written {
        tracing::error!(error = %e, "writing SCRAM credentials failed");
    }
    let mut r = AlterUserScramCredentialsResponse::default();
    r.results = users
        .into_iter()
        .map(|(user, outcome)| {
            let mut res = AlterUserScramCredentialsResult::default();
            res.user = sb(user);
            match (outcome, &written) {
                (Err((code, message)), _) => {
                    res.error_code = code.code();
                    res.error_message = Some(sb(message));
                }
                (Ok(_), Err(e)) => {
                    res.error_code = ResponseError::KafkaStorageError.code();
                    res.error_message = Some(sb(format!("writing SCRAM credentials failed: {e}")));
                }
                (Ok(_), Ok(())) => {}
            }
            res
        })
        .collect();
    Some(r)
}
