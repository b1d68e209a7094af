//! RenewDelegationToken (key 39), v1-2: the token named by its HMAC lives on until now +
//! the period (-1: `delegation.token.expiry.time.ms`), never past its maximum. Only its
//! owner or a renewer may (DELEGATION_TOKEN_OWNER_MISMATCH); an unknown HMAC is
//! DELEGATION_TOKEN_NOT_FOUND. Refused like CreateDelegationToken on sessions that may
//! not manage tokens.

use std::sync::Arc;

use kafka_protocol::messages::{RenewDelegationTokenRequest, RenewDelegationTokenResponse};

use super::create_delegation_token::token_requests_refusal;
use super::RequestContext;
use crate::broker::Broker;

pub async fn handle(
    request: RenewDelegationTokenRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<RenewDelegationTokenResponse> {
    let result = match token_requests_refusal(ctx) {
        Some(e) => Err(e),
        None => broker.delegation_tokens.renew(
            &request.hmac,
            request.renew_period_ms,
            &ctx.principal(),
            crate::clock::system_now_ms(),
        ),
    };
    let mut r = RenewDelegationTokenResponse::default();
    match result {
        Ok(expiry) => r.expiry_timestamp_ms = expiry,
        Err(e) => r.error_code = e.code(),
    }
    Some(r)
}
