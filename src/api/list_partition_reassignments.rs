//! ListPartitionReassignments (key 46): the ongoing replica moves, of which a
//! one-broker cluster never has any.
//!
//! Kafka's controller lists only partitions that are being reassigned and skips
//! unknown topics silently; with no reassignment ever in progress (see
//! alter_partition_reassignments.rs), the answer is always an empty list without error.

use std::sync::Arc;

use kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::RequestContext;
use crate::broker::Broker;

pub async fn handle(
    _request: ListPartitionReassignmentsRequest,
    _ctx: &RequestContext,
    _broker: &Arc<Broker>,
) -> Option<ListPartitionReassignmentsResponse> {
    Some(ListPartitionReassignmentsResponse::default())
}
