//! Coordinators: the state machines that sit between the API handlers and the topics
//! they keep their state in.
//!
//! - [`group`]: the classic group coordinator (JoinGroup/SyncGroup/Heartbeat, committed
//!   offsets in `__consumer_offsets`); the KIP-848 consumer-group and KIP-932
//!   share-group coordinators belong beside it, each in its own folder.
//! - [`share`]: KIP-932 share groups and share-partition state (`__share_group_state`).
//! - [`transaction`]: the transaction coordinator (`__transaction_state`, markers).
//! - [`producer_ids`]: producer id allocation for InitProducerId.
//! - [`telemetry`]: KIP-714 client telemetry (client-metrics subscriptions, pushed
//!   metrics kept for /metrics).
//! - [`features`]: the finalized feature levels (`transaction.version`,
//!   `metadata.version`) and UpdateFeatures.
//!
//! A coordinator is built by the composition root (`crate::broker`) from exactly what
//! it uses: the topic registry, a [`crate::clock::Clock`], the producer-id manager, and
//! (for the transaction coordinator) the [`transaction::TxnOffsetsListener`] that
//! learns of completed transactional offset commits. Nothing here imports
//! `crate::broker`, `crate::api` or `crate::server`: coordinators never parse Kafka
//! requests and never touch sockets.

pub(crate) mod classic_codec;
pub mod features;
pub mod group;
pub mod internal_log;
pub mod producer_ids;
pub(crate) mod replay;
pub mod share;
pub mod telemetry;
pub mod transaction;

pub use group::GroupCoordinator;
pub use transaction::TransactionCoordinator;
