//! SaslAuthenticate (key 36), v0-2: one SASL token of the exchange SaslHandshake chose
//! (PLAIN in one step, SCRAM in two).
//!
//! A failed authentication gets SASL_AUTHENTICATION_FAILED with Kafka's message and
//! then the connection closes (a bare close reads as a network error to clients and
//! they retry). v1+ answers carry the session lifetime (`connections.max.reauth.ms`).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;

pub async fn handle(
    request: SaslAuthenticateRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<SaslAuthenticateResponse> {
    // SCRAM's key derivations are microseconds (the PBKDF2 was done by whoever
    // created the user), so this runs inline.
    let answer = ctx.session.authenticate(
        &request.auth_bytes,
        &broker.scram_credentials,
        Some(&broker.delegation_tokens),
        ctx.api_version,
    );
    if let Some(reason) = answer.close {
        // The connection logs it and closes after the answer is written.
        ctx.close_after_answer(reason);
    }
    let mut r = SaslAuthenticateResponse::default();
    r.error_code = answer.error.map_or(0, |e| e.code());
    r.error_message = answer.error_message.map(sb);
    r.auth_bytes = Bytes::from(answer.auth_bytes);
    r.session_lifetime_ms = answer.session_lifetime_ms;
    Some(r)
}
