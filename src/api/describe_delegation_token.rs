//! DescribeDelegationToken (key 41), v1-3: the live tokens, those of the given owners
//! (a token matches an owner that owns or may renew it; an empty list matches none, a
//! null list every token). Which of them the principal may see (its own, or with
//! DESCRIBE on the token or DESCRIBE_TOKENS on its owner) is decided in
//! `api::authorize`.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::describe_delegation_token_response::{
    DescribedDelegationToken, DescribedDelegationTokenRenewer,
};
use kafka_protocol::messages::{DescribeDelegationTokenRequest, DescribeDelegationTokenResponse};

use super::create_delegation_token::token_requests_refusal;
use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::security::KafkaPrincipal;

pub async fn handle(
    request: DescribeDelegationTokenRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeDelegationTokenResponse> {
    let mut r = DescribeDelegationTokenResponse::default();
    if let Some(e) = token_requests_refusal(ctx) {
        r.error_code = e.code();
        return Some(r);
    }
    let owners: Option<Vec<KafkaPrincipal>> = request.owners.as_ref().map(|owners| {
        owners
            .iter()
            .map(|o| KafkaPrincipal {
                principal_type: o.principal_type.to_string(),
                name: o.principal_name.to_string(),
            })
            .collect()
    });
    let tokens = match broker.delegation_tokens.all(crate::clock::system_now_ms()) {
        Ok(t) => t,
        Err(e) => {
            r.error_code = e.code();
            return Some(r);
        }
    };
    r.tokens = tokens
        .into_iter()
        .filter(|(t, _)| {
            owners
                .as_ref()
                .is_none_or(|os| os.iter().any(|o| t.owner_or_renewer(o)))
        })
        .map(|(t, hmac)| {
            let mut d = DescribedDelegationToken::default();
            d.principal_type = sb(t.owner.principal_type);
            d.principal_name = sb(t.owner.name);
            // The requester fields exist from v3 (KIP-373).
            if ctx.api_version >= 3 {
                d.token_requester_principal_type = sb(t.requester.principal_type);
                d.token_requester_principal_name = sb(t.requester.name);
            }
            d.issue_timestamp = t.issue_ms;
            d.expiry_timestamp = t.expiry_ms;
            d.max_timestamp = t.max_ms;
            d.token_id = sb(t.token_id);
            d.hmac = Bytes::from(hmac);
            d.renewers = t
                .renewers
                .into_iter()
                .map(|p| {
                    let mut rn = DescribedDelegationTokenRenewer::default();
                    rn.principal_type = sb(p.principal_type);
                    rn.principal_name = sb(p.name);
                    rn
                })
                .collect();
            d
        })
        .collect();
    Some(r)
}
