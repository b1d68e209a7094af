//! Topics and partitions as the broker serves them: the registry of topics (create,
//! delete, look up by name or id, auto-create), each partition's log behind its own
//! lock with group commit and fetch wake-ups, and the small files that record which
//! topics exist.
//!
//! This layer sits between the coordinators (which keep their state in internal
//! topics) and the storage engine in `crate::log`. It must never parse or encode Kafka
//! requests, never see a socket, and never call up into a coordinator or the API
//! layer: everything above reaches partitions through [`TopicRegistry`] and
//! [`Partition`]'s methods, never through the locked log itself.

pub mod checkpoint_batch;
pub mod group_commit;
pub mod log_dirs;
pub mod name;
pub mod partition;
pub mod registry;
mod shutdown;
mod startup_cleanup;
pub mod store;

pub use partition::{check_current_leader_epoch, Partition, Watermarks, LEADER_EPOCH};
pub use registry::{NewTopic, Topic, TopicRegistry};

/// A partition of a topic, as offsets, transactions and fetch sessions key it.
pub type TopicPartition = (String, i32);
