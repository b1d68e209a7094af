//! Client-metrics subscriptions: Kafka's CLIENT_METRICS config resources (KIP-714),
//! their three settings (`metrics`, `interval.ms`, `match`) validated with Kafka's
//! rules, the matching of a client against them, and their file
//! `<log.dirs>/client-metrics` (layout in storage-format.md).
//!
//! The file is replaced as a whole on every change (tmp + fsync + rename + directory
//! fsync through `log::checkpoint::write_atomic`) before the change is applied in
//! memory and acknowledged, so a subscription set with IncrementalAlterConfigs survives
//! kill -9. A corrupt file stops start-up with one line rather than silently dropping
//! subscriptions. This module never sees a request or a client's metrics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::error::{KafkaError, ResponseError};

pub const FILE_NAME: &str = "client-metrics";
const FORMAT_VERSION: u64 = 1;

/// Kafka's names for the settings of a client-metrics resource.
pub const METRICS: &str = "metrics";
pub const INTERVAL_MS: &str = "interval.ms";
pub const MATCH: &str = "match";
/// `*` in `metrics` subscribes to every metric.
pub const ALL_METRICS: &str = "*";
pub const DEFAULT_INTERVAL_MS: i32 = 5 * 60 * 1000;
const MIN_INTERVAL_MS: i32 = 100;
const MAX_INTERVAL_MS: i32 = 3_600_000;

/// The client attributes a `match` entry may test, as Kafka names them.
pub const MATCH_PARAMS: [&str; 6] = [
    "client_instance_id",
    "client_id",
    "client_software_name",
    "client_software_version",
    "client_source_address",
    "client_source_port",
];

/// One subscription, parsed from its settings.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub metrics: Vec<String>,
    pub interval_ms: i32,
    /// (attribute, whole-value regex): all must match.
    pub patterns: Vec<(String, Regex)>,
}

/// A client as `match` sees it: attribute name -> value (absent when unknown).
pub type ClientAttributes = BTreeMap<&'static str, String>;

impl Subscription {
    /// Parses a resource's settings (name -> value as set), with Kafka's errors:
    /// INVALID_REQUEST for an unknown name or an interval out of bounds,
    /// INVALID_CONFIG for a malformed `match` entry or a value of the wrong type.
    pub fn parse(settings: &BTreeMap<String, String>) -> Result<Subscription, KafkaError> {
        if let Some(name) = settings
            .keys()
            .find(|n| ![METRICS, INTERVAL_MS, MATCH].contains(&n.as_str()))
        {
            return Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!("Unknown client metrics configuration: {name}"),
            ));
        }
        let metrics = settings.get(METRICS).map(|v| list(v)).unwrap_or_default();
        let interval_ms = match settings.get(INTERVAL_MS) {
            None => DEFAULT_INTERVAL_MS,
            Some(v) => {
                let n: i32 = v.trim().parse().map_err(|_| {
                    KafkaError::new(
                        ResponseError::InvalidConfig,
                        format!("Invalid value {v} for configuration {INTERVAL_MS}: Not a number of type INT"),
                    )
                })?;
                if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&n) {
                    return Err(KafkaError::new(
                        ResponseError::InvalidRequest,
                        format!("Invalid value {n} for {INTERVAL_MS}, interval must be between {MIN_INTERVAL_MS} and {MAX_INTERVAL_MS} (1 hour)"),
                    ));
                }
                n
            }
        };
        let mut patterns = Vec::new();
        for entry in settings.get(MATCH).map(|v| list(v)).unwrap_or_default() {
            let illegal = || {
                KafkaError::new(
                    ResponseError::InvalidConfig,
                    format!("Illegal client matching pattern: {entry}"),
                )
            };
            let parts: Vec<&str> = entry.split('=').collect();
            if parts.len() != 2 {
                return Err(illegal());
            }
            let param = parts[0].trim();
            if !MATCH_PARAMS.contains(&param) {
                return Err(illegal());
            }
            // Java's Matcher.matches(): the whole value must match.
            let regex = Regex::new(&format!("^(?:{})$", parts[1].trim())).map_err(|_| illegal())?;
            patterns.retain(|(p, _): &(String, Regex)| p != param);
            patterns.push((param.to_string(), regex));
        }
        Ok(Subscription {
            metrics,
            interval_ms,
            patterns,
        })
    }

    /// Whether a client matches: every pattern matches its attribute, and an attribute
    /// the client does not have matches nothing. No pattern matches every client.
    pub fn matches(&self, client: &ClientAttributes) -> bool {
        self.patterns.iter().all(|(param, regex)| {
            client
                .get(param.as_str())
                .is_some_and(|value| regex.is_match(value))
        })
    }
}

/// Kafka's LIST type: comma-separated, trimmed, empty items dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The subscriptions file.
pub struct SubscriptionFile {
    dir: PathBuf,
}

/// Resource name -> its settings as set.
pub type Resources = BTreeMap<String, BTreeMap<String, String>>;

impl SubscriptionFile {
    /// Loads the subscriptions kept in `dir` (a missing file is none).
    pub fn open(dir: &Path) -> anyhow::Result<(SubscriptionFile, Resources)> {
        let path = dir.join(FILE_NAME);
        let resources = match crate::log::checkpoint::read_atomic(dir, FILE_NAME)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
        {
            Some(bytes) => decode(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is corrupt ({e}); refusing to start without the client-metrics subscriptions it holds",
                    path.display()
                )
            })?,
            None => Resources::new(),
        };
        Ok((
            SubscriptionFile {
                dir: dir.to_path_buf(),
            },
            resources,
        ))
    }

    /// Replaces the file with `resources`, durably. Blocking.
    pub fn write(&self, resources: &Resources) -> std::io::Result<()> {
        crate::log::checkpoint::write_atomic(&self.dir, FILE_NAME, &encode(resources))
    }
}

fn encode(resources: &Resources) -> Vec<u8> {
    let doc = serde_json::json!({ "version": FORMAT_VERSION, "resources": resources });
    let mut body = serde_json::to_vec(&doc).expect("a map of strings always serializes");
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(format!("\n{crc:08x}\n").as_bytes());
    body
}

fn decode(bytes: &[u8]) -> Result<Resources, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let (body, crc) = text
        .trim_end_matches('\n')
        .rsplit_once('\n')
        .ok_or("no checksum line")?;
    let crc = u32::from_str_radix(crc, 16).map_err(|_| "bad checksum line")?;
    if crc32fast::hash(body.as_bytes()) != crc {
        return Err("checksum mismatch".into());
    }
    #[derive(serde::Deserialize)]
    struct Doc {
        version: u64,
        resources: Resources,
    }
    let doc: Doc = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if doc.version != FORMAT_VERSION {
        return Err(format!("unknown format version {}", doc.version));
    }
    for (name, settings) in &doc.resources {
        Subscription::parse(settings).map_err(|e| format!("subscription {name}: {e}"))?;
    }
    Ok(doc.resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn client(pairs: &[(&'static str, &str)]) -> ClientAttributes {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn match_is_a_whole_value_regex_on_every_named_attribute() {
        let s = Subscription::parse(&settings(&[
            (
                METRICS,
                "org.apache.kafka.producer., org.apache.kafka.consumer.",
            ),
            (MATCH, "client_id=prod-.*, client_software_name=librdkafka"),
        ]))
        .unwrap();
        assert_eq!(s.metrics.len(), 2);
        assert_eq!(s.interval_ms, DEFAULT_INTERVAL_MS);
        let c = client(&[
            ("client_id", "prod-1"),
            ("client_software_name", "librdkafka"),
        ]);
        assert!(s.matches(&c));
        // Partial matches do not count (Java's matches()).
        let c = client(&[
            ("client_id", "xprod-1"),
            ("client_software_name", "librdkafka"),
        ]);
        assert!(!s.matches(&c));
        // An attribute the client lacks matches nothing.
        assert!(!s.matches(&client(&[("client_id", "prod-1")])));
        // No pattern: every client.
        let all = Subscription::parse(&settings(&[(METRICS, "*")])).unwrap();
        assert!(all.matches(&client(&[])));
    }

    #[test]
    fn kafkas_validation_errors() {
        let code =
            |pairs: &[(&str, &str)]| Subscription::parse(&settings(pairs)).unwrap_err().error;
        assert_eq!(code(&[("nope", "1")]), ResponseError::InvalidRequest);
        assert_eq!(code(&[(INTERVAL_MS, "99")]), ResponseError::InvalidRequest);
        assert_eq!(
            code(&[(INTERVAL_MS, "3600001")]),
            ResponseError::InvalidRequest
        );
        assert_eq!(code(&[(INTERVAL_MS, "soon")]), ResponseError::InvalidConfig);
        assert_eq!(code(&[(MATCH, "client_id")]), ResponseError::InvalidConfig);
        assert_eq!(
            code(&[(MATCH, "client_rack=a")]),
            ResponseError::InvalidConfig
        );
        assert_eq!(
            code(&[(MATCH, "client_id=(")]),
            ResponseError::InvalidConfig
        );
        assert!(Subscription::parse(&settings(&[(INTERVAL_MS, "100")])).is_ok());
    }

    #[test]
    fn file_round_trips_and_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let (file, empty) = SubscriptionFile::open(dir.path()).unwrap();
        assert!(empty.is_empty());
        let mut r = Resources::new();
        r.insert(
            "sub".into(),
            settings(&[(METRICS, "*"), (INTERVAL_MS, "1000")]),
        );
        file.write(&r).unwrap();
        let (_, back) = SubscriptionFile::open(dir.path()).unwrap();
        assert_eq!(back, r);
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(SubscriptionFile::open(dir.path()).is_err());
    }
}
