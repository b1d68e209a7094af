//! CreateDelegationToken (key 38), v1-3: a delegation token for the requester, or (v3,
//! KIP-373) for another owner, which needs CREATE_TOKENS on that user (checked in
//! `api::authorize`). The answer carries the token id and its HMAC, the secret a
//! client then authenticates with (SCRAM, `tokenauth=true`).
//!
//! As in Kafka, tokens are refused on PLAINTEXT listeners, on SSL listeners without a
//! client certificate and on token-authenticated sessions
//! (DELEGATION_TOKEN_REQUEST_NOT_ALLOWED), and without `delegation.token.secret.key`
//! (DELEGATION_TOKEN_AUTH_DISABLED).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{CreateDelegationTokenRequest, CreateDelegationTokenResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::config::listeners::SecurityProtocol;
use crate::error::ResponseError;
use crate::security::KafkaPrincipal;

/// Kafka's `allowTokenRequests`: only authenticated, non-token sessions manage tokens.
pub(super) fn token_requests_refusal(ctx: &RequestContext) -> Option<ResponseError> {
    let session = &ctx.session;
    let refused = session.token_authenticated()
        || match session.listener.config.security_protocol {
            SecurityProtocol::Plaintext => true,
            SecurityProtocol::Ssl => session.principal() == KafkaPrincipal::anonymous(),
            _ => false,
        };
    refused.then_some(ResponseError::DelegationTokenRequestNotAllowed)
}

pub async fn handle(
    request: CreateDelegationTokenRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<CreateDelegationTokenResponse> {
    let requester = ctx.principal();
    let owner = match &request.owner_principal_name {
        Some(name) if !name.is_empty() => KafkaPrincipal {
            principal_type: request
                .owner_principal_type
                .as_ref()
                .map_or("User".to_string(), |t| t.to_string()),
            name: name.to_string(),
        },
        _ => requester.clone(),
    };
    let mut r = CreateDelegationTokenResponse::default();
    r.principal_type = sb(owner.principal_type.clone());
    r.principal_name = sb(owner.name.clone());
    // The requester fields exist from v3 (KIP-373).
    if ctx.api_version >= 3 {
        r.token_requester_principal_type = sb(requester.principal_type.clone());
        r.token_requester_principal_name = sb(requester.name.clone());
    }
    r.token_id = sb("");
    let result = match token_requests_refusal(ctx) {
        Some(e) => Err(e),
        None if request
            .renewers
            .iter()
            .any(|rn| rn.principal_type.as_str() != "User") =>
        {
            Err(ResponseError::InvalidPrincipalType)
        }
        None => {
            let renewers = request
                .renewers
                .iter()
                .map(|rn| KafkaPrincipal {
                    principal_type: rn.principal_type.to_string(),
                    name: rn.principal_name.to_string(),
                })
                .collect();
            broker.delegation_tokens.create(
                owner,
                requester,
                renewers,
                request.max_lifetime_ms,
                crate::clock::system_now_ms(),
            )
        }
    };
    match result {
        Ok((info, hmac)) => {
            r.issue_timestamp_ms = info.issue_ms;
            r.expiry_timestamp_ms = info.expiry_ms;
            r.max_timestamp_ms = info.max_ms;
            r.token_id = sb(info.token_id);
            r.hmac = Bytes::from(hmac);
        }
        Err(e) => r.error_code = e.code(),
    }
    Some(r)
}
