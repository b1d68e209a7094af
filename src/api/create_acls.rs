//! CreateAcls (key 30), v0-3: adds ACLs, durably, in force as soon as the answer is
//! sent. One result per creation, in request order; an invalid binding (Kafka's checks:
//! a concrete resource and pattern type, operation and permission, a non-empty name,
//! `kafka-cluster` as the only CLUSTER name, a `Type:name` principal) gets
//! INVALID_REQUEST and the others are still added. Without an authorizer every
//! creation is SECURITY_DISABLED, as in Kafka. (Who may call it, ALTER on the cluster,
//! is checked in `api::authorize`.)

use std::sync::Arc;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::acl::{AclBinding, AclOperation, PatternType, PermissionType, ResourceType};

pub async fn handle(
    request: CreateAclsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<CreateAclsResponse> {
    let result = |error: Option<(ResponseError, String)>| {
        let mut r = AclCreationResult::default();
        if let Some((code, message)) = error {
            r.error_code = code.code();
            r.error_message = Some(sb(message));
        }
        r
    };
    let mut response = CreateAclsResponse::default();
    if !broker.authorizer.enabled() {
        response.results = request
            .creations
            .iter()
            .map(|_| {
                result(Some((
                    ResponseError::SecurityDisabled,
                    "No Authorizer is configured.".into(),
                )))
            })
            .collect();
        return Some(response);
    }
    let bindings: Vec<Result<AclBinding, String>> = request
        .creations
        .iter()
        .map(|c| {
            let b = AclBinding {
                resource_type: ResourceType::from_code(c.resource_type),
                resource_name: c.resource_name.to_string(),
                pattern_type: PatternType::from_code(c.resource_pattern_type),
                principal: c.principal.to_string(),
                host: c.host.to_string(),
                operation: AclOperation::from_code(c.operation),
                permission: PermissionType::from_code(c.permission_type),
            };
            b.validate().map(|()| b)
        })
        .collect();
    let valid: Vec<AclBinding> = bindings.iter().filter_map(|b| b.clone().ok()).collect();
    let written = if valid.is_empty() {
        Ok(())
    } else {
        let b = broker.clone();
        let v = valid.clone();
        match tokio::task::spawn_blocking(move || b.authorizer.create(&v)).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    };
    match &written {
        Ok(()) => {
            for acl in &valid {
                tracing::info!(principal = %ctx.principal(), %acl, "ACL created");
            }
        }
        Err(e) => tracing::error!(error = %e, "writing ACLs failed"),
    }
    response.results = bindings
        .into_iter()
        .map(|b| match (b, &written) {
            (Err(why), _) => result(Some((ResponseError::InvalidRequest, why))),
            (Ok(_), Err(e)) => result(Some((
                ResponseError::KafkaStorageError,
                format!("writing ACLs failed: {e}"),
            ))),
            (Ok(_), Ok(())) => result(None),
        })
        .collect();
    Some(response)
}
