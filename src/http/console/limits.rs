//! The caps on what one console API request may ask for. They bound the work and
//! memory a request costs whatever its parameters say; `openapi.json` states each as
//! the parameter's `maximum` (for the settings, their default), and a request beyond
//! one gets a 400. The caps an operator may want to move are settings
//! (`sluice.console.max.*`, [`Limits`]); the rest are fixed here.

use crate::config::BrokerConfig;

/// The `sluice.console.max.*` settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_messages: u32,
    pub max_read_bytes: u32,
    pub max_search_records: u32,
    pub max_tail_streams: usize,
}

impl Limits {
    pub fn from_config(config: &BrokerConfig) -> Limits {
        let get = |name: &str, default: i64| -> i64 {
            config
                .broker_value(name)
                .and_then(|(v, _)| v.trim().parse::<i64>().ok())
                .unwrap_or(default)
                .clamp(1, i32::MAX as i64)
        };
        Limits {
            max_messages: get("sluice.console.max.messages", 500) as u32,
            max_read_bytes: get("sluice.console.max.read.bytes", 4 << 20) as u32,
            max_search_records: get("sluice.console.max.search.records", 10_000) as u32,
            max_tail_streams: get("sluice.console.max.tail.streams", 16) as usize,
        }
    }
}

/// The largest request body (a produced record with its headers, a topic's configs).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The most in-flight runs (consecutive offsets with one state, delivery count and
/// holder) a share group's page lists per share-partition; the rest are counted only.
pub const MAX_IN_FLIGHT_RUNS: usize = 200;
/// The most partitions a topic created from the console may have.
pub const MAX_PARTITIONS: i32 = 1000;
/// The longest sliding window of a live tail's top keys.
pub const MAX_TAIL_WINDOW_MS: u64 = 300_000;
/// The most keys a live tail ranks and reports.
pub const MAX_TAIL_TOP: usize = 100;
/// The most distinct keys a tail's window remembers (the rest counted as `other`).
pub const MAX_TAIL_KEYS: usize = 10_000;
/// The most records a tail's window remembers (the oldest are forgotten first).
pub const MAX_TAIL_WINDOW_RECORDS: usize = 100_000;
/// The most records one tail event carries.
pub const MAX_TAIL_EVENT_RECORDS: usize = 50;
/// A key or header shown by the console is cut to this many bytes in tail events.
pub const MAX_TAIL_KEY_BYTES: usize = 256;
/// The longest password the console salts for a SCRAM user (PBKDF2's cost grows with it).
pub const MAX_PASSWORD_BYTES: usize = 1024;
