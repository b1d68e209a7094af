//! DeleteAcls (key 31), v0-3: removes every ACL each filter matches (Kafka's filter
//! semantics, as DescribeAcls), durably, out of force as soon as the answer is sent.
//! One result per filter listing the ACLs it matched; a filter with an UNKNOWN field is
//! INVALID_REQUEST. Without an authorizer every filter is SECURITY_DISABLED, as in
//! Kafka. (Who may call it, ALTER on the cluster, is checked in `api::authorize`.)

use std::sync::Arc;

use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::acl::{
    AclBindingFilter, AclOperation, PatternType, PermissionType, ResourceType,
};

pub async fn handle(
    request: DeleteAclsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DeleteAclsResponse> {
    let failed = |code: ResponseError, message: String| {
        let mut r = DeleteAclsFilterResult::default();
        r.error_code = code.code();
        r.error_message = Some(sb(message));
        r
    };
    let mut response = DeleteAclsResponse::default();
    if !broker.authorizer.enabled() {
        response.filter_results = request
            .filters
            .iter()
            .map(|_| {
                failed(
                    ResponseError::SecurityDisabled,
                    "No Authorizer is configured.".into(),
                )
            })
            .collect();
        return Some(response);
    }
    let filters: Vec<Result<AclBindingFilter, String>> = request
        .filters
        .iter()
        .map(|f| {
            let filter = AclBindingFilter {
                resource_type: ResourceType::from_code(f.resource_type_filter),
                resource_name: f.resource_name_filter.as_ref().map(|s| s.to_string()),
                pattern_type: PatternType::from_code(f.pattern_type_filter),
                principal: f.principal_filter.as_ref().map(|s| s.to_string()),
                host: f.host_filter.as_ref().map(|s| s.to_string()),
                operation: AclOperation::from_code(f.operation),
                permission: PermissionType::from_code(f.permission_type),
            };
            filter.validate().map(|()| filter)
        })
        .collect();
    let valid: Vec<AclBindingFilter> = filters.iter().filter_map(|f| f.clone().ok()).collect();
    let b = broker.clone();
    let deleted = match tokio::task::spawn_blocking(move || b.authorizer.delete(&valid)).await {
        Ok(r) => r,
        Err(e) => Err(std::io::Error::other(e.to_string())),
    };
    if let Err(e) = &deleted {
        tracing::error!(error = %e, "writing ACLs failed");
    }
    let mut matched = deleted.as_ref().ok().map(|d| d.iter());
    response.filter_results = filters
        .into_iter()
        .map(|f| match (f, &deleted) {
            (Err(why), _) => failed(ResponseError::InvalidRequest, why),
            (Ok(_), Err(e)) => failed(
                ResponseError::KafkaStorageError,
                format!("writing ACLs failed: {e}"),
            ),
            (Ok(_), Ok(_)) => {
                let acls = matched.as_mut().and_then(|m| m.next()).cloned();
                let mut r = DeleteAclsFilterResult::default();
                r.matching_acls = acls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|acl| {
                        tracing::info!(principal = %ctx.principal(), %acl, "ACL deleted");
                        let mut m = DeleteAclsMatchingAcl::default();
                        m.resource_type = acl.resource_type.code();
                        m.resource_name = sb(acl.resource_name);
                        m.pattern_type = acl.pattern_type.code();
                        m.principal = sb(acl.principal);
                        m.host = sb(acl.host);
                        m.operation = acl.operation.code();
                        m.permission_type = acl.permission.code();
                        m
                    })
                    .collect();
                r
            }
        })
        .collect();
    Some(response)
}
