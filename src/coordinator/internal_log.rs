//! What the coordinators share about writing their own records to an internal topic
//! (`__consumer_offsets`, `__transaction_state`): the handle on a write that reached the
//! page cache, the wait for its fsync, and Kafka's mapping of a failed write to the
//! error the client gets.
//!
//! Kafka's coordinators answer a storage error on their own log with NOT_COORDINATOR,
//! so the client looks for the coordinator again; any other failed append is
//! COORDINATOR_NOT_AVAILABLE (retriable). This module never encodes records and never
//! decides what a coordinator writes.

use std::sync::Arc;

use crate::error::ResponseError;
use crate::log::AppendError;
use crate::topics::Partition;

/// A write to an internal topic that reached the page cache; `durable` waits for its
/// fsync.
pub struct Appended {
    partition: Arc<Partition>,
    end_offset: i64,
}

impl Appended {
    /// `end_offset`: the log end offset right after the write.
    pub fn new(partition: Arc<Partition>, end_offset: i64) -> Appended {
        Appended {
            partition,
            end_offset,
        }
    }

    /// The log end offset right after this write: it is durable once this is.
    pub fn end_offset(&self) -> i64 {
        self.end_offset
    }

    /// Ok once the write is fsync'd; NOT_COORDINATOR if that fsync failed or the
    /// partition is offline (a failed fsync is never retried: see
    /// `Partition::wait_durable`).
    pub async fn durable(self) -> Result<(), ResponseError> {
        let partition = self.partition;
        partition.wait_durable(self.end_offset).await.map_err(|e| {
            if partition.is_offline() {
                // The partition logged its going offline once.
                tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "internal write not durable: partition offline");
            } else {
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "fsync of an internal topic failed");
            }
            ResponseError::NotCoordinator
        })
    }
}

/// Logs a failed append of a coordinator's own records (`what` names the record's
/// owner, e.g. a group or transactional id) and returns Kafka's answer for it.
pub fn append_failed(partition: &Partition, what: &str, e: &AppendError) -> ResponseError {
    if partition.is_offline() {
        tracing::debug!(topic = %partition.topic, partition = partition.index, owner = what, error = %e, "internal append refused: partition offline");
    } else {
        tracing::error!(topic = %partition.topic, partition = partition.index, owner = what, error = %e, "appending to an internal topic failed");
    }
    match e {
        AppendError::Storage(_) => ResponseError::NotCoordinator,
        _ => ResponseError::CoordinatorNotAvailable,
    }
}
