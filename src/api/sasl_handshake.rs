//! SaslHandshake (key 17), v0-1: the client names its SASL mechanism.
//!
//! The answer lists the listener's enabled mechanisms. An unsupported mechanism gets
//! UNSUPPORTED_SASL_MECHANISM and then a close, as Kafka does; on a listener without
//! SASL the answer is ILLEGAL_SASL_STATE. The state lives in the connection's
//! `security::Session`; v0's unframed tokens after the handshake are not served
//! (every client that speaks SaslAuthenticate uses v1).

use std::sync::Arc;

use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;

pub async fn handle(
    request: SaslHandshakeRequest,
    ctx: &RequestContext,
    _broker: &Arc<Broker>,
) -> Option<SaslHandshakeResponse> {
    let answer = ctx.session.handshake(request.mechanism.as_str());
    if let Some(reason) = answer.close {
        ctx.close_after_answer(reason);
    }
    let mut r = SaslHandshakeResponse::default();
    r.error_code = answer.error.map_or(0, |e| e.code());
    r.mechanisms = ctx
        .session
        .listener
        .mechanisms
        .iter()
        .map(|m| sb(m.clone()))
        .collect();
    Some(r)
}
