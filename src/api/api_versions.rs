//! ApiVersions (key 18): the APIs and version ranges this broker serves and, from v3,
//! the feature levels it supports and the cluster's finalized levels with their epoch
//! (`crate::coordinator::features`), as a Kafka 4.2 KRaft broker answers: below v4 a
//! supported feature whose minimum is 0 (`transaction.version`) is left out (KAFKA-17492:
//! older clients cannot read it), and a feature finalized at level 0 is never listed.
//! v0-v2 answers have no room for features. The answer to a version this broker does
//! not know (a v0 answer) carries none either.

use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::{sb, supported_versions, RequestContext, SERVED_APIS};
use crate::broker::Broker;
use crate::coordinator::features::supported_features;
use crate::error::ResponseError;

pub async fn handle(
    request: ApiVersionsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<ApiVersionsResponse> {
    let mut r = response(0);
    if ctx.api_version >= 3 {
        // KIP-714's client_software_name/version match on what the client said here.
        ctx.session.set_client_software(
            request.client_software_name.to_string(),
            request.client_software_version.to_string(),
        );
        r.supported_features = supported_features()
            .into_iter()
            .filter(|f| ctx.api_version >= 4 || f.min != 0)
            .map(|f| {
                let mut k = SupportedFeatureKey::default();
                k.name = sb(f.name);
                k.min_version = f.min;
                k.max_version = f.max;
                k
            })
            .collect();
        let finalized = broker.features.finalized();
        r.finalized_features_epoch = finalized.epoch;
        r.finalized_features = finalized
            .levels
            .iter()
            .filter(|(_, level)| **level != 0)
            .map(|(name, level)| {
                let mut k = FinalizedFeatureKey::default();
                k.name = sb(name.as_str());
                k.min_version_level = *level;
                k.max_version_level = *level;
                k
            })
            .collect();
    }
    Some(r)
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
