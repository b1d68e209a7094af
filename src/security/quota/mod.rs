//! Client quotas as Kafka defines them: the durable set of quotas per user and client-id
//! entity (what DescribeClientQuotas and AlterClientQuotas read and change), and the
//! rate sensors that decide how long a client that went over its quota is throttled.
//!
//! It owns the quota file (`<log.dirs>/client-quotas`), Kafka's precedence rules for
//! which quota applies to a (user, client-id) pair, and the sampled rates over
//! `quota.window.num` windows of `quota.window.size.seconds`. It never touches sockets
//! or requests: the API layer records what a request cost and the connection mutes
//! itself for the delay it is given.

pub mod entity;
pub mod manager;
pub mod rate;
pub mod store;

pub use entity::{QuotaEntity, QuotaKey};
pub use manager::{ClientQuotaManager, QuotaWindows};
