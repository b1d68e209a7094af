//! UpdateFeatures (key 57): changes finalized feature levels (`transaction.version`,
//! `metadata.version`), as Kafka's controller does (`crate::coordinator::features` has
//! the checks and the durable write).
//!
//! v0 says "downgrade allowed" with a flag (a safe downgrade, as Kafka's request reads
//! it); v1+ name the upgrade type (1 upgrade, 2 safe downgrade, 3 unsafe downgrade) and
//! may ask to validate only. The request succeeds or fails as a whole: the first invalid
//! update fails it with INVALID_UPDATE_VERSION and Kafka's top-level message. Only a
//! successful v0-v1 answer lists a result per feature (v2 dropped the list; Kafka lists
//! none on failure).

use std::sync::Arc;

use kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::coordinator::features::{FeatureUpdate, UpgradeType};

pub async fn handle(
    request: UpdateFeaturesRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<UpdateFeaturesResponse> {
    let v = ctx.api_version;
    let updates: Vec<FeatureUpdate> = request
        .feature_updates
        .iter()
        .map(|u| FeatureUpdate {
            feature: u.feature.to_string(),
            level: u.max_version_level,
            upgrade_type: if v == 0 {
                if u.allow_downgrade {
                    UpgradeType::SafeDowngrade
                } else {
                    UpgradeType::Upgrade
                }
            } else {
                UpgradeType::from_code(u.upgrade_type)
            },
        })
        .collect();
    let mut r = UpdateFeaturesResponse::default();
    // Kafka sends null messages on success (the codec's default is an empty string).
    r.error_message = None;
    match broker.features.update(&updates, request.validate_only) {
        Ok(()) => {
            if v <= 1 {
                r.results = request
                    .feature_updates
                    .iter()
                    .map(|u| {
                        let mut result = UpdatableFeatureResult::default();
                        result.feature = u.feature.clone();
                        result.error_message = None;
                        result
                    })
                    .collect();
            }
        }
        Err(e) => {
            tracing::info!(client = ?ctx.client_id, error = %e, "UpdateFeatures refused");
            r.error_code = e.code();
            r.error_message = Some(sb(format!(
                "The update failed for all features since the following feature had an error: {}",
                e.message.unwrap_or_default()
            )));
        }
    }
    Some(r)
}
