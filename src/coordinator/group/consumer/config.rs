//! The `group.consumer.*` settings of KIP-848 consumer groups, read from the broker
//! configuration, and the start-up checks Kafka's GroupCoordinatorConfig makes on them
//! (each timeout within its min/max bounds, the heartbeat below the session, known
//! assignors). Reads settings only; never changes them.

use anyhow::{bail, Result};

use super::assignor;
use crate::config::BrokerConfig;

fn value(c: &BrokerConfig, name: &str) -> String {
    c.broker_value(name).map(|(v, _)| v).unwrap_or_default()
}

/// An int setting (already range-checked by the configuration table).
pub fn int(c: &BrokerConfig, name: &str) -> i32 {
    value(c, name).trim().parse().unwrap_or(0)
}

/// `group.consumer.assignors` as short names; Kafka's class names map to theirs.
pub fn assignors(c: &BrokerConfig) -> Vec<String> {
    value(c, "group.consumer.assignors")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "org.apache.kafka.coordinator.group.assignor.UniformAssignor" => assignor::UNIFORM,
            "org.apache.kafka.coordinator.group.assignor.RangeAssignor" => assignor::RANGE,
            other => other,
        })
        .map(str::to_string)
        .collect()
}

/// Kafka's ConsumerGroupMigrationPolicy (`group.consumer.migration.policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationPolicy {
    Disabled,
    Upgrade,
    Downgrade,
    Bidirectional,
}

impl MigrationPolicy {
    pub fn upgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Upgrade | MigrationPolicy::Bidirectional
        )
    }

    pub fn downgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Downgrade | MigrationPolicy::Bidirectional
        )
    }
}

/// `group.consumer.migration.policy` (case-insensitive, as Kafka parses it).
pub fn migration_policy(c: &BrokerConfig) -> MigrationPolicy {
    match value(c, "group.consumer.migration.policy")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "disabled" => MigrationPolicy::Disabled,
        "upgrade" => MigrationPolicy::Upgrade,
        "downgrade" => MigrationPolicy::Downgrade,
        _ => MigrationPolicy::Bidirectional,
    }
}

pub fn validate(c: &BrokerConfig) -> Result<()> {
    let get = |n: &str| int(c, n);
    let session = get("group.consumer.session.timeout.ms");
    let (smin, smax) = (
        get("group.consumer.min.session.timeout.ms"),
        get("group.consumer.max.session.timeout.ms"),
    );
    let heartbeat = get("group.consumer.heartbeat.interval.ms");
    let (hmin, hmax) = (
        get("group.consumer.min.heartbeat.interval.ms"),
        get("group.consumer.max.heartbeat.interval.ms"),
    );
    if !(smin..=smax).contains(&session) {
        bail!("group.consumer.session.timeout.ms ({session}) must be within group.consumer.min.session.timeout.ms ({smin}) and group.consumer.max.session.timeout.ms ({smax})");
    }
    if !(hmin..=hmax).contains(&heartbeat) {
        bail!("group.consumer.heartbeat.interval.ms ({heartbeat}) must be within group.consumer.min.heartbeat.interval.ms ({hmin}) and group.consumer.max.heartbeat.interval.ms ({hmax})");
    }
    if heartbeat >= session {
        bail!("group.consumer.heartbeat.interval.ms ({heartbeat}) must be less than group.consumer.session.timeout.ms ({session})");
    }
    let names = assignors(c);
    if names.is_empty() {
        bail!("group.consumer.assignors must name at least one assignor (uniform, range)");
    }
    if let Some(bad) = names.iter().find(|n| !assignor::is_known(n)) {
        bail!("group.consumer.assignors: unknown assignor `{bad}` (known: uniform, range)");
    }
    Ok(())
}
