//! ExpireDelegationToken (key 40), v1-2: the token named by its HMAC expires at now + the
//! period (capped by its maximum); a negative period removes it at once. Owner or
//! renewer only, as RenewDelegationToken.

use std::sync::Arc;

use kafka_protocol::messages::{ExpireDelegationTokenRequest, ExpireDelegationTokenResponse};

use super::create_delegation_token::token_requests_refusal;
use super::RequestContext;
use crate::broker::Broker;

pub async fn handle(
    request: ExpireDelegationTokenRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ExpireDelegationTokenResponse> {
    let result = match token_requests_refusal(ctx) {
        Some(e) => Err(e),
        None => broker.delegation_tokens.expire(
            &request.hmac,
            request.expiry_time_period_ms,
            &ctx.principal(),
            crate::clock::system_now_ms(),
        ),
    };
    let mut r = ExpireDelegationTokenResponse::default();
    match result {
        Ok(expiry) => r.expiry_timestamp_ms = expiry,
        Err(e) => r.error_code = e.code(),
    }
    Some(r)
}
