//! DescribeCluster (key 60): the brokers and controller, as the Java AdminClient asks
//! for them.

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

/// Kafka's endpoint types (KIP-919): 1 = brokers, 2 = controllers.
const ENDPOINT_BROKERS: i8 = 1;

/// Without ACLs every cluster operation is allowed: ALTER, DESCRIBE, CLUSTER_ACTION,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, CREATE, DESCRIBE_TOKENS (bits
/// by Kafka's AclOperation codes).
const ALL_CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13);

pub async fn handle(
    request: DescribeClusterRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeClusterResponse> {
    let config = &broker.config;
    let mut r = DescribeClusterResponse::default();
    if ctx.api_version >= 1 && request.endpoint_type != ENDPOINT_BROKERS {
        r.error_code = ResponseError::UnsupportedEndpointType.code();
        r.error_message = Some(sb("only broker endpoints are described"));
        return Some(r);
    }
    if ctx.api_version >= 1 {
        r.endpoint_type = ENDPOINT_BROKERS;
    }
    r.cluster_id = sb(broker.cluster_id.clone());
    r.controller_id = BrokerId(config.node_id);
    let mut b = DescribeClusterBroker::default();
    b.broker_id = BrokerId(config.node_id);
    let (host, port) = ctx.advertised(config);
    b.host = sb(host);
    b.port = port;
    r.brokers = vec![b];
    r.cluster_authorized_operations = if request.include_cluster_authorized_operations {
        ALL_CLUSTER_OPERATIONS
    } else {
        i32::MIN
    };
    Some(r)
}
