//! ApiVersions (key 18): the APIs and version ranges this broker serves.
//!
//! The answer carries no optional tagged fields (supported/finalized features):
//! librdkafka before 2.2 misreads an ApiVersions answer that has them.

use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::{supported_versions, RequestContext, SERVED_APIS};
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    _request: ApiVersionsRequest,
    _ctx: &RequestContext,
    _broker: &Arc<Broker>,
) -> Option<ApiVersionsResponse> {
    Some(response(0))
}

/// What Kafka sends for an ApiVersions request of a version it does not know: a v0
/// answer with UNSUPPORTED_VERSION and the full list, so the client can retry.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    response(ResponseError::UnsupportedVersion.code())
}

fn response(error_code: i16) -> ApiVersionsResponse {
    let mut keys: Vec<_> = SERVED_APIS.to_vec();
    keys.sort_by_key(|k| *k as i16);
    let mut r = ApiVersionsResponse::default();
    r.error_code = error_code;
    r.api_keys = keys
        .into_iter()
        .filter_map(|k| {
            let range = supported_versions(k)?;
            let mut v = ApiVersion::default();
            v.api_key = k as i16;
            v.min_version = range.min;
            v.max_version = range.max;
            Some(v)
        })
        .collect();
    r
}
