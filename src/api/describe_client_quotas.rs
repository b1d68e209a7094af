//! DescribeClientQuotas (key 48), v0-1: the configured quotas whose entity matches the
//! request's filter, with Kafka's filter semantics (match types EXACT = 0, DEFAULT = 1,
//! SPECIFIED = 2; `strict` excludes entities with other types) and errors: an empty or
//! repeated entity type, or a match string where the match type forbids one, is
//! INVALID_REQUEST; an entity type other than user, client-id (and ip) is
//! UNSUPPORTED_VERSION, as Kafka answers it.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{DescribeClientQuotasRequest, DescribeClientQuotasResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::quota::entity::{CLIENT_ID, IP, USER};
use crate::security::quota::manager::matches;

pub async fn handle(
    request: DescribeClientQuotasRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeClientQuotasResponse> {
    let mut r = DescribeClientQuotasResponse::default();
    match describe(&request, broker) {
        Ok(entries) => r.entries = Some(entries),
        Err((error, message)) => {
            tracing::info!("DescribeClientQuotas refused: {message}");
            r.error_code = error.code();
            r.error_message = Some(sb(message));
        }
    }
    Some(r)
}

fn describe(
    request: &DescribeClientQuotasRequest,
    broker: &Broker,
) -> Result<Vec<EntryData>, (ResponseError, String)> {
    let invalid = |m: String| (ResponseError::InvalidRequest, m);
    let mut exact: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    let mut specified: Vec<&str> = Vec::new();
    for c in &request.components {
        let t: &str = &c.entity_type;
        if t.is_empty() {
            return Err(invalid("Invalid empty entity type.".into()));
        }
        if exact.contains_key(t) || specified.contains(&t) {
            return Err(invalid(format!(
                "Entity type {t} cannot appear more than once in the filter."
            )));
        }
        if ![USER, CLIENT_ID, IP].contains(&t) {
            return Err((
                ResponseError::UnsupportedVersion,
                format!("Unsupported entity type {t}"),
            ));
        }
        let name = c._match.as_deref();
        match c.match_type {
            0 => match name {
                Some(n) => {
                    exact.insert(t, Some(n));
                }
                None => {
                    return Err(invalid(
                        "Request specified MATCH_TYPE_EXACT, but set match string to null.".into(),
                    ))
                }
            },
            1 if name.is_some() => {
                return Err(invalid(
                    "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."
                        .into(),
                ))
            }
            1 => {
                exact.insert(t, None);
            }
            2 if name.is_some() => {
                return Err(invalid(
                    "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."
                        .into(),
                ))
            }
            2 => specified.push(t),
            other => return Err(invalid(format!("Unknown match type {other}"))),
        }
    }
    let has = |t: &str| exact.contains_key(t) || specified.contains(&t);
    if has(IP) && (has(USER) || has(CLIENT_ID)) {
        return Err(invalid(
            "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.".into(),
        ));
    }
    let quotas = broker.client_quotas.snapshot();
    Ok(quotas
        .iter()
        .filter(|(entity, _)| !has(IP) && matches(entity, &exact, &specified, request.strict))
        .map(|(entity, values)| {
            let mut e = EntryData::default();
            e.entity = entity
                .components()
                .into_iter()
                .map(|(t, n)| {
                    let mut d = EntityData::default();
                    d.entity_type = sb(t);
                    d.entity_name = n.map(sb);
                    d
                })
                .collect();
            e.values = values
                .iter()
                .map(|(k, v)| {
                    let mut d = ValueData::default();
                    d.key = sb(k.name());
                    d.value = *v;
                    d
                })
                .collect();
            e
        })
        .collect())
}
