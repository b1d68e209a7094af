//! AlterClientQuotas (key 49), v0-1: sets and removes quotas per entity, durably
//! (`<log.dirs>/client-quotas`) before answering, in force for the next request.
//! Checks and messages as Kafka's controller gives them, all INVALID_REQUEST, one
//! result per entity: an empty entity, an unknown or repeated entity type, an empty
//! name, an unknown key, a key given twice, a value that is not > 0 or is fractional
//! for a byte rate. An entity with any refused change gets none applied; the others
//! are applied. `validate_only` checks without changing anything. Setting a quota on
//! an entity that has none, beyond `sluice.quota.max.entities`, is POLICY_VIOLATION.
//! (Two alterations running at once may overshoot the bound by what they add together.)

use std::sync::Arc;

use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::quota::manager::Alteration;
use crate::security::quota::{QuotaEntity, QuotaKey};

type Outcome = Result<Alteration, (ResponseError, String)>;

pub async fn handle(
    request: AlterClientQuotasRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<AlterClientQuotasResponse> {
    let outcomes: Vec<(Vec<EntityData>, Outcome)> = request
        .entries
        .iter()
        .map(|entry| {
            let echo = entry
                .entity
                .iter()
                .map(|e| {
                    let mut d = EntityData::default();
                    d.entity_type = e.entity_type.clone();
                    d.entity_name = e.entity_name.clone();
                    d
                })
                .collect();
            (
                echo,
                check(entry).map_err(|m| (ResponseError::InvalidRequest, m)),
            )
        })
        .collect();
    // An entity named twice: both refused, as Kafka ignores a duplicate entity.
    let mut outcomes = outcomes;
    for i in 0..outcomes.len() {
        let Ok((entity, _)) = &outcomes[i].1 else {
            continue;
        };
        let entity = entity.clone();
        let dup = outcomes
            .iter()
            .enumerate()
            .any(|(j, (_, o))| j != i && matches!(o, Ok((e, _)) if *e == entity));
        if dup {
            outcomes[i].1 = Err((
                ResponseError::InvalidRequest,
                format!("Ignoring duplicate entity {entity}"),
            ));
        }
    }
    // The bound on entities: new ones that would set a value, in request order.
    let existing = broker.client_quotas.snapshot();
    let max = broker.config.quota_max_entities;
    let mut count = existing.len();
    for (_, outcome) in outcomes.iter_mut() {
        let Ok((entity, ops)) = outcome else {
            continue;
        };
        if existing.contains_key(entity) || !ops.iter().any(|(_, v)| v.is_some()) {
            continue;
        }
        if count >= max {
            *outcome = Err((
                ResponseError::PolicyViolation,
                format!(
                    "{entity}: quotas are already set on {count} entities (sluice.quota.max.entities)"
                ),
            ));
        } else {
            count += 1;
        }
    }
    let changes: Vec<Alteration> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok().cloned())
        .collect();
    let written = if changes.is_empty() || request.validate_only {
        Ok(())
    } else {
        let broker = broker.clone();
        match tokio::task::spawn_blocking(move || broker.client_quotas.alter(&changes)).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    };
    if let Err(e) = &written {
        tracing::error!(error = %e, "writing client quotas failed");
    }
    let mut r = AlterClientQuotasResponse::default();
    r.entries = outcomes
        .into_iter()
        .map(|(entity, outcome)| {
            let mut e = EntryData::default();
            e.entity = entity;
            match (outcome, &written) {
                (Err((code, message)), _) => {
                    tracing::info!("AlterClientQuotas refused: {message}");
                    e.error_code = code.code();
                    e.error_message = Some(sb(message));
                }
                (Ok(_), Err(err)) => {
                    e.error_code = ResponseError::KafkaStorageError.code();
                    e.error_message = Some(sb(format!("writing client quotas failed: {err}")));
                }
                (Ok((entity, ops)), Ok(())) => {
                    if !request.validate_only {
                        tracing::info!(%entity, ?ops, "client quotas altered");
                    }
                }
            }
            e
        })
        .collect();
    Some(r)
}

fn check(
    entry: &kafka_protocol::messages::alter_client_quotas_request::EntryData,
) -> Result<Alteration, String> {
    let entity = QuotaEntity::from_components(
        entry
            .entity
            .iter()
            .map(|e| (&*e.entity_type, e.entity_name.as_deref())),
    )?;
    let mut ops: Vec<(QuotaKey, Option<f64>)> = Vec::with_capacity(entry.ops.len());
    for op in &entry.ops {
        let Some(key) = QuotaKey::from_name(&op.key) else {
            return Err(format!("Invalid configuration key {}", &*op.key));
        };
        if ops.iter().any(|(k, _)| *k == key) {
            return Err(format!(
                "Duplicate quota key {} not updating quota for this entity {entity}",
                key.name()
            ));
        }
        if op.remove {
            ops.push((key, None));
        } else {
            key.validate(op.value)?;
            ops.push((key, Some(op.value)));
        }
    }
    Ok((entity, ops))
}
