//! DescribeAcls (key 29), v0-3: the ACLs one filter matches, grouped by resource
//! pattern, with Kafka's filter semantics (LITERAL and PREFIXED match their own
//! patterns; MATCH also the `*` wildcard and every prefix covering the name; ANY every
//! pattern type). A filter with an UNKNOWN field is INVALID_REQUEST; without an
//! authorizer the answer is SECURITY_DISABLED, as in Kafka. (Who may call it, DESCRIBE
//! on the cluster, is checked in `api::authorize`.)

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::security::acl::{
    AclBindingFilter, AclOperation, PatternType, PermissionType, ResourceType,
};

pub async fn handle(
    request: DescribeAclsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeAclsResponse> {
    let mut response = DescribeAclsResponse::default();
    if !broker.authorizer.enabled() {
        response.error_code = ResponseError::SecurityDisabled.code();
        response.error_message = Some(sb("No Authorizer is configured on the broker"));
        return Some(response);
    }
    let filter = AclBindingFilter {
        resource_type: ResourceType::from_code(request.resource_type_filter),
        resource_name: request.resource_name_filter.map(|s| s.to_string()),
        pattern_type: PatternType::from_code(request.pattern_type_filter),
        principal: request.principal_filter.map(|s| s.to_string()),
        host: request.host_filter.map(|s| s.to_string()),
        operation: AclOperation::from_code(request.operation),
        permission: PermissionType::from_code(request.permission_type),
    };
    if let Err(why) = filter.validate() {
        response.error_code = ResponseError::InvalidRequest.code();
        response.error_message = Some(sb(why));
        return Some(response);
    }
    let mut by_resource: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    for acl in broker.authorizer.describe(&filter) {
        let mut d = AclDescription::default();
        d.principal = sb(acl.principal.clone());
        d.host = sb(acl.host.clone());
        d.operation = acl.operation.code();
        d.permission_type = acl.permission.code();
        by_resource
            .entry((
                acl.resource_type.code(),
                acl.resource_name,
                acl.pattern_type.code(),
            ))
            .or_default()
            .push(d);
    }
    response.resources = by_resource
        .into_iter()
        .map(|((rt, name, pt), acls)| {
            let mut r = DescribeAclsResource::default();
            r.resource_type = rt;
            r.resource_name = sb(name);
            r.pattern_type = pt;
            r.acls = acls;
            r
        })
        .collect();
    Some(response)
}
