//! The `group.share.*` broker settings of share groups, the start-up checks Kafka's
//! ShareGroupConfig makes on them (each within its min/max bounds, the heartbeat
//! below the session), and the share group configs a GROUP resource may carry
//! (`share.auto.offset.reset`, `share.isolation.level`, ...). Reads settings only.

use anyhow::{bail, Result};

use crate::config::BrokerConfig;
use crate::error::{KafkaError, ResponseError};

#[derive(Clone, Debug)]
pub struct ShareConfig {
    pub session_timeout_ms: i64,
    pub heartbeat_interval_ms: i64,
    pub record_lock_duration_ms: i64,
    pub delivery_count_limit: i16,
    pub partition_max_record_locks: usize,
    pub max_groups: usize,
    pub max_size: usize,
    pub state_topic_partitions: i32,
    /// Where the group configs file lives (`log.dirs`); `None`: kept in memory only.
    pub state_dir: Option<std::path::PathBuf>,
}

impl Default for ShareConfig {
    fn default() -> ShareConfig {
        ShareConfig {
            session_timeout_ms: 45000,
            heartbeat_interval_ms: 5000,
            record_lock_duration_ms: 30000,
            delivery_count_limit: 5,
            partition_max_record_locks: 2000,
            max_groups: 10,
            max_size: 200,
            state_topic_partitions: 50,
            state_dir: None,
        }
    }
}

fn int(c: &BrokerConfig, name: &str) -> i64 {
    c.broker_value(name)
        .and_then(|(v, _)| v.trim().parse().ok())
        .unwrap_or(0)
}

impl ShareConfig {
    pub fn from_broker(c: &BrokerConfig) -> Result<ShareConfig> {
        let bounded = |name: &str, min: &str, max: &str| -> Result<i64> {
            let (v, lo, hi) = (int(c, name), int(c, min), int(c, max));
            if !(lo..=hi).contains(&v) {
                bail!("{name} ({v}) must be within {min} ({lo}) and {max} ({hi})");
            }
            Ok(v)
        };
        let session = bounded(
            "group.share.session.timeout.ms",
            "group.share.min.session.timeout.ms",
            "group.share.max.session.timeout.ms",
        )?;
        let heartbeat = bounded(
            "group.share.heartbeat.interval.ms",
            "group.share.min.heartbeat.interval.ms",
            "group.share.max.heartbeat.interval.ms",
        )?;
        if heartbeat >= session {
            bail!("group.share.heartbeat.interval.ms ({heartbeat}) must be less than group.share.session.timeout.ms ({session})");
        }
        let lock = bounded(
            "group.share.record.lock.duration.ms",
            "group.share.min.record.lock.duration.ms",
            "group.share.max.record.lock.duration.ms",
        )?;
        let within = |name: &str, lo: i64, hi: i64| -> Result<i64> {
            let v = int(c, name);
            if !(lo..=hi).contains(&v) {
                bail!("{name} ({v}) must be within {lo} and {hi}");
            }
            Ok(v)
        };
        Ok(ShareConfig {
            session_timeout_ms: session,
            heartbeat_interval_ms: heartbeat,
            record_lock_duration_ms: lock,
            delivery_count_limit: within("group.share.delivery.count.limit", 2, 10)? as i16,
            partition_max_record_locks: within(
                "group.share.partition.max.record.locks",
                100,
                10000,
            )? as usize,
            max_groups: within("group.share.max.groups", 1, 100)? as usize,
            max_size: within("group.share.max.size", 10, 1000)? as usize,
            state_topic_partitions: int(c, "share.coordinator.state.topic.num.partitions") as i32,
            state_dir: Some(c.data_dir.clone()),
        })
    }
}

/// The share group configs of a GROUP resource, with Kafka's names and bounds.
pub const GROUP_CONFIGS: &[&str] = &[
    "share.auto.offset.reset",
    "share.isolation.level",
    "share.record.lock.duration.ms",
    "share.delivery.count.limit",
    "share.session.timeout.ms",
    "share.heartbeat.interval.ms",
];

pub fn validate_group_config(name: &str, value: Option<&str>) -> Result<(), KafkaError> {
    let invalid = |m: String| Err(KafkaError::new(ResponseError::InvalidConfig, m));
    if !GROUP_CONFIGS.contains(&name) {
        return invalid(format!("Unknown group config name: {name}"));
    }
    let Some(v) = value else { return Ok(()) };
    let ok = match name {
        "share.auto.offset.reset" => {
            v == "earliest"
                || v == "latest"
                || v.strip_prefix("by_duration:")
                    .is_some_and(|d| parse_iso_duration_ms(d).is_some())
        }
        "share.isolation.level" => v == "read_committed" || v == "read_uncommitted",
        "share.record.lock.duration.ms" => v
            .parse::<i64>()
            .is_ok_and(|n| (1000..=3_600_000).contains(&n)),
        "share.delivery.count.limit" => v.parse::<i64>().is_ok_and(|n| (2..=10).contains(&n)),
        "share.session.timeout.ms" => v.parse::<i64>().is_ok_and(|n| (45000..=60000).contains(&n)),
        "share.heartbeat.interval.ms" => {
            v.parse::<i64>().is_ok_and(|n| (5000..=15000).contains(&n))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        invalid(format!("Invalid value {v} for configuration {name}"))
    }
}

/// An ISO-8601 duration as Java's Duration.parse reads the simple cases
/// (`PnDTnHnMn.nS`), in milliseconds.
pub fn parse_iso_duration_ms(s: &str) -> Option<i64> {
    let s = s.strip_prefix('P')?;
    let (days, time) = match s.split_once('T') {
        Some((d, t)) => (d, t),
        None => (s, ""),
    };
    let mut ms: f64 = 0.0;
    if !days.is_empty() {
        ms += days.strip_suffix('D')?.parse::<f64>().ok()? * 86_400_000.0;
    }
    let mut rest = time;
    while !rest.is_empty() {
        let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let n: f64 = rest[..end].parse().ok()?;
        ms += n * match &rest[end..end + 1] {
            "H" => 3_600_000.0,
            "M" => 60_000.0,
            "S" => 1000.0,
            _ => return None,
        };
        rest = &rest[end + 1..];
    }
    (ms >= 0.0).then_some(ms as i64)
}
