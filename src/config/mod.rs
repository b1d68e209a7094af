//! Broker settings: where they come from and what they resolve to.
//!
//! Settings keep their Kafka names. They come from, in rising priority: the defaults in
//! [`definitions`], the TOML file given with `--config`, and `sluice serve` flags
//! (`--listen`, `--data-dir`, `--set NAME=VALUE`). Topic-level overrides are stored with
//! each topic and resolved here into a [`LogConfig`]. This module reads files only at
//! start-up and never touches sockets or logs.

pub mod definitions;
pub mod listeners;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::log::{LogConfig, TimestampType};
use definitions::{broker_config, topic_config, validate, Scope, BROKER_CONFIGS, TOPIC_CONFIGS};

/// Where a value came from, as DescribeConfigs reports it (Kafka's `ConfigSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic = 1,
    StaticBroker = 4,
    Default = 5,
}

/// The resolved broker configuration.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// The first listener's host:port to bind.
    pub listen: String,
    /// The first listener's advertised host and port (each listener's own are in
    /// `listeners`; handlers answer with the one the request came in on).
    pub advertised_host: String,
    pub advertised_port: i32,
    /// `listeners`, `advertised.listeners`, `listener.security.protocol.map` and the
    /// per-listener settings, resolved; never empty.
    pub listeners: Vec<listeners::ListenerConfig>,
    /// The first of `log.dirs`: every partition's log unless more are given, and
    /// always the broker's own metadata files.
    pub data_dir: PathBuf,
    /// The rest of `log.dirs`, in the order given (see [`BrokerConfig::log_dirs`]).
    pub extra_log_dirs: Vec<PathBuf>,
    /// Keep every log in memory instead of `data_dir` (`sluice serve --in-memory`, the
    /// embedded broker): nothing is written to any file, and nothing outlives the
    /// process. Not a setting: only the command line and the embedding API choose it.
    pub in_memory: bool,
    pub node_id: i32,
    pub auto_create_topics_enable: bool,
    pub num_partitions: i32,
    pub socket_request_max_bytes: usize,
    pub fetch_max_bytes: i32,
    pub fetch_session_cache_slots: usize,
    /// Connection limits (`max.connections`, `max.connections.per.ip` and its overrides).
    pub max_connections: usize,
    /// `queued.max.request.bytes`; not positive: no bound.
    pub queued_max_request_bytes: i64,
    pub max_connections_per_ip: usize,
    pub max_connections_per_ip_overrides: BTreeMap<IpAddr, usize>,
    /// `connections.max.idle.ms`; `None` (a negative value) never closes an idle
    /// connection.
    pub connections_max_idle_ms: Option<u64>,
    /// `connection.failed.authentication.delay.ms`
    pub connection_failed_authentication_delay_ms: u64,
    /// `sasl.server.max.receive.size`: the frame limit on a SASL listener before
    /// authentication.
    pub sasl_server_max_receive_size: usize,
    /// `authorizer.class.name` is set: ACLs are checked.
    pub authorizer_enabled: bool,
    /// `super.users`, each `Type:name`.
    pub super_users: Vec<String>,
    pub allow_everyone_if_no_acl_found: bool,
    /// `quota.window.num`, `quota.window.size.seconds` and their controller twins,
    /// `sluice.quota.max.tracked.clients`.
    pub quota_window_num: u32,
    pub quota_window_size_seconds: u32,
    pub controller_quota_window_num: u32,
    pub controller_quota_window_size_seconds: u32,
    pub quota_max_tracked_clients: usize,
    /// `sluice.quota.max.entities`
    pub quota_max_entities: usize,
    pub retention_check_interval_ms: u64,
    pub flush_scheduler_interval_ms: u64,
    pub acks_all_fsync: bool,
    /// Consumer groups (`group.*`, `offsets.*`, `offset.metadata.max.bytes`).
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_initial_rebalance_delay_ms: i32,
    pub group_max_size: i32,
    /// `sluice.group.max.groups`
    pub group_max_groups: usize,
    /// `offsets.retention.minutes`, in milliseconds.
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: u64,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_segment_bytes: i32,
    pub offset_metadata_max_bytes: usize,
    /// Transactions (`transaction.*`, `transactional.id.expiration.ms`).
    pub transaction_max_timeout_ms: i32,
    pub transactional_id_expiration_ms: i64,
    pub transaction_state_log_num_partitions: i32,
    pub transaction_state_log_segment_bytes: i32,
    pub transaction_abort_timed_out_check_interval_ms: u64,
    /// Log compaction (`log.cleaner.*`).
    pub cleaner_enable: bool,
    pub cleaner_backoff_ms: u64,
    pub cleaner_dedupe_buffer_size: usize,
    pub cleaner_io_buffer_load_factor: f64,
    /// `sluice.schema.registry.listen` (empty: no registry) and whether it was set
    /// explicitly (a busy default port is only a warning).
    pub schema_registry_listen: String,
    pub schema_registry_listen_explicit: bool,
    pub schema_registry_max_schema_bytes: usize,
    /// Every broker-level setting given explicitly (file or flags), by its broker name,
    /// already validated.
    explicit: BTreeMap<String, String>,
}

/// Command-line values that override the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub advertised_listener: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub sets: Vec<(String, String)>,
}

/// `log.dirs` as Kafka reads it: directories separated by commas, blanks around them
/// ignored; at least one, none twice.
fn parse_log_dirs(value: &str) -> Result<Vec<PathBuf>> {
    let dirs: Vec<PathBuf> = value
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        bail!("log.dirs names no directory");
    }
    for (i, d) in dirs.iter().enumerate() {
        if dirs[..i].contains(d) {
            bail!("log.dirs names {} twice", d.display());
        }
    }
    Ok(dirs)
}

impl BrokerConfig {
    /// Every log directory, `data_dir` first.
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        std::iter::once(self.data_dir.clone())
            .chain(self.extra_log_dirs.iter().cloned())
            .collect()
    }

    /// Builds the configuration from an optional TOML file and command-line overrides.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<BrokerConfig> {
        let mut explicit = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            for (name, value) in parse_toml(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?
            {
                explicit.insert(name, value);
            }
        }
        for (name, value) in &overrides.sets {
            explicit.insert(name.clone(), value.clone());
        }
        if let Some(listen) = &overrides.listen {
            if let Some(listeners) = explicit.get("listeners") {
                bail!("both --listen {listen} and listeners={listeners} are given: use one (--listen HOST:PORT is the shorthand for listeners=PLAINTEXT://HOST:PORT)");
            }
            explicit.insert("listeners".into(), format!("PLAINTEXT://{listen}"));
        }
        if let Some(adv) = &overrides.advertised_listener {
            explicit.insert("advertised.listeners".into(), adv.clone());
        }
        if let Some(dir) = &overrides.data_dir {
            explicit.insert("log.dirs".into(), dir.display().to_string());
        }
        Self::from_explicit(explicit)
    }

    /// Defaults only: what `sluice serve` with no flags uses.
    pub fn defaults() -> BrokerConfig {
        Self::from_explicit(BTreeMap::new()).expect("defaults are valid")
    }

    fn from_explicit(explicit: BTreeMap<String, String>) -> Result<BrokerConfig> {
        for (name, value) in &explicit {
            let def = match broker_config(name) {
                Some((def, _)) => def,
                None => match listeners::extra_setting(name) {
                    Ok(Some(def)) => def,
                    Ok(None) => continue,
                    Err(e) => bail!("{e}"),
                },
            };
            if let Err(e) = validate(def, value) {
                bail!("{}", e.replace(def.name, name));
            }
        }
        let get = |name: &str| -> String {
            explicit.get(name).cloned().unwrap_or_else(|| {
                broker_config(name)
                    .map(|(d, _)| d.default.to_string())
                    .unwrap_or_default()
            })
        };
        let listeners = listeners::resolve(&explicit, get)?;
        let listen = listeners[0].bind.clone();
        let advertised_host = listeners[0].advertised_host.clone();
        let advertised_port = listeners[0].advertised_port;
        let max_connections_per_ip = get("max.connections.per.ip").parse::<i32>()? as usize;
        let max_connections_per_ip_overrides =
            parse_ip_overrides(&get("max.connections.per.ip.overrides"))
                .map_err(anyhow::Error::msg)
                .context("max.connections.per.ip.overrides")?;
        if max_connections_per_ip == 0 && max_connections_per_ip_overrides.is_empty() {
            // As Kafka: 0 with no exceptions would refuse every client.
            bail!(
                "max.connections.per.ip can be 0 only if max.connections.per.ip.overrides is set"
            );
        }
        let node_id: i32 = match explicit
            .get("node.id")
            .or_else(|| explicit.get("broker.id"))
        {
            Some(v) => v.parse()?,
            None => 1,
        };
        let log_dirs = parse_log_dirs(
            explicit
                .get("log.dirs")
                .or_else(|| explicit.get("log.dir"))
                .cloned()
                .unwrap_or_else(|| get("log.dirs"))
                .as_str(),
        )?;
        Ok(BrokerConfig {
            listeners,
            listen,
            advertised_host,
            advertised_port,
            data_dir: log_dirs[0].clone(),
            extra_log_dirs: log_dirs[1..].to_vec(),
            in_memory: false,
            node_id,
            auto_create_topics_enable: get("auto.create.topics.enable") == "true",
            num_partitions: get("num.partitions").parse()?,
            socket_request_max_bytes: get("socket.request.max.bytes").parse::<i32>()? as usize,
            fetch_max_bytes: get("fetch.max.bytes").parse()?,
            fetch_session_cache_slots: get("max.incremental.fetch.session.cache.slots").parse()?,
            max_connections: get("max.connections").parse::<i32>()? as usize,
            queued_max_request_bytes: get("queued.max.request.bytes").parse()?,
            max_connections_per_ip,
            max_connections_per_ip_overrides,
            connections_max_idle_ms: u64::try_from(get("connections.max.idle.ms").parse::<i64>()?)
                .ok(),
            connection_failed_authentication_delay_ms: get(
                "connection.failed.authentication.delay.ms",
            )
            .parse::<i32>()?
            .max(0) as u64,
            sasl_server_max_receive_size: get("sasl.server.max.receive.size").parse::<i32>()?.max(1)
                as usize,
            authorizer_enabled: !get("authorizer.class.name").trim().is_empty(),
            super_users: get("super.users")
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            allow_everyone_if_no_acl_found: get("allow.everyone.if.no.acl.found") == "true",
            quota_window_num: get("quota.window.num").parse::<i32>()?.max(1) as u32,
            quota_window_size_seconds: get("quota.window.size.seconds").parse::<i32>()?.max(1)
                as u32,
            controller_quota_window_num: get("controller.quota.window.num").parse::<i32>()?.max(1)
                as u32,
            controller_quota_window_size_seconds: get("controller.quota.window.size.seconds")
                .parse::<i32>()?
                .max(1) as u32,
            quota_max_entities: get("sluice.quota.max.entities").parse::<i32>()?.max(0) as usize,
            quota_max_tracked_clients: get("sluice.quota.max.tracked.clients")
                .parse::<i32>()?
                .max(1) as usize,
            retention_check_interval_ms: get("log.retention.check.interval.ms").parse()?,
            flush_scheduler_interval_ms: get("log.flush.scheduler.interval.ms").parse()?,
            acks_all_fsync: get("sluice.acks.all.fsync") == "true",
            group_min_session_timeout_ms: get("group.min.session.timeout.ms").parse()?,
            group_max_session_timeout_ms: get("group.max.session.timeout.ms").parse()?,
            group_initial_rebalance_delay_ms: get("group.initial.rebalance.delay.ms").parse()?,
            group_max_size: get("group.max.size").parse()?,
            group_max_groups: get("sluice.group.max.groups").parse::<i32>()? as usize,
            offsets_retention_ms: get("offsets.retention.minutes").parse::<i64>()? * 60_000,
            offsets_retention_check_interval_ms: get("offsets.retention.check.interval.ms")
                .parse()?,
            offsets_topic_num_partitions: get("offsets.topic.num.partitions").parse()?,
            offsets_topic_segment_bytes: get("offsets.topic.segment.bytes").parse()?,
            offset_metadata_max_bytes: get("offset.metadata.max.bytes").parse::<i32>()? as usize,
            transaction_max_timeout_ms: get("transaction.max.timeout.ms").parse()?,
            transactional_id_expiration_ms: get("transactional.id.expiration.ms").parse()?,
            transaction_state_log_num_partitions: get("transaction.state.log.num.partitions")
                .parse()?,
            transaction_state_log_segment_bytes: get("transaction.state.log.segment.bytes")
                .parse()?,
            transaction_abort_timed_out_check_interval_ms: get(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            )
            .parse()?,
            cleaner_enable: get("log.cleaner.enable") == "true",
            cleaner_backoff_ms: get("log.cleaner.backoff.ms").parse()?,
            cleaner_dedupe_buffer_size: get("log.cleaner.dedupe.buffer.size").parse::<i64>()?
                as usize,
            cleaner_io_buffer_load_factor: get("log.cleaner.io.buffer.load.factor").parse()?,
            schema_registry_listen: get("sluice.schema.registry.listen"),
            schema_registry_listen_explicit: explicit.contains_key("sluice.schema.registry.listen"),
            schema_registry_max_schema_bytes: get("sluice.schema.registry.max.schema.bytes")
                .parse::<i32>()? as usize,
            explicit,
        })
    }

    /// The value and source of a broker-level setting, for DescribeConfigs.
    pub fn broker_value(&self, broker_name: &str) -> Option<(String, ConfigSource)> {
        let (def, _) = broker_config(broker_name)?;
        Some(match broker_name {
            "node.id" | "broker.id" => (self.node_id.to_string(), self.source_of(broker_name)),
            "listeners" => (
                self.listeners
                    .iter()
                    .map(|l| format!("{}://{}", l.name, l.bind))
                    .collect::<Vec<_>>()
                    .join(","),
                self.source_of(broker_name),
            ),
            "advertised.listeners" => (
                self.listeners
                    .iter()
                    .map(|l| {
                        format!(
                            "{}://{}:{}",
                            l.name,
                            bracket(&l.advertised_host),
                            l.advertised_port
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                self.source_of(broker_name),
            ),
            "log.dirs" => (
                self.log_dirs()
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                self.source_of(broker_name),
            ),
            _ => match self.explicit.get(broker_name) {
                Some(v) => (v.clone(), ConfigSource::StaticBroker),
                None => (def.default.to_string(), ConfigSource::Default),
            },
        })
    }

    fn source_of(&self, name: &str) -> ConfigSource {
        if self.explicit.contains_key(name) {
            ConfigSource::StaticBroker
        } else {
            ConfigSource::Default
        }
    }

    /// The broker default for a topic-level setting (its `log.*` synonym, else the built-in
    /// default), with its source.
    pub fn topic_default(&self, topic_name: &str) -> Option<(String, ConfigSource)> {
        let def = topic_config(topic_name)?;
        let Scope::Topic { broker_name } = def.scope else {
            return None;
        };
        Some(match self.explicit.get(broker_name) {
            Some(v) => (v.clone(), ConfigSource::StaticBroker),
            None => (def.default.to_string(), ConfigSource::Default),
        })
    }

    /// Resolves a topic's effective log settings from its overrides and the broker defaults.
    pub fn log_config(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let value = |name: &str| -> String {
            overrides
                .get(name)
                .cloned()
                .or_else(|| self.topic_default(name).map(|(v, _)| v))
                .unwrap_or_default()
        };
        let num = |name: &str| -> i64 { value(name).trim().parse().unwrap_or(i64::MAX) };
        LogConfig {
            segment_bytes: num("segment.bytes").max(14) as u64,
            segment_ms: num("segment.ms"),
            segment_index_bytes: num("segment.index.bytes").clamp(8, i32::MAX as i64) as u32,
            index_interval_bytes: num("index.interval.bytes").clamp(0, i32::MAX as i64) as u32,
            retention_ms: num("retention.ms"),
            retention_bytes: num("retention.bytes"),
            max_message_bytes: num("max.message.bytes").clamp(0, i32::MAX as i64) as u32,
            message_timestamp_type: if value("message.timestamp.type") == "LogAppendTime" {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            compression_type: crate::log::validator::target_codec(&value("compression.type")),
            message_timestamp_before_max_ms: num("message.timestamp.before.max.ms"),
            message_timestamp_after_max_ms: num("message.timestamp.after.max.ms"),
            flush_messages: num("flush.messages"),
            flush_ms: num("flush.ms"),
            preallocate: value("preallocate").trim() == "true",
            producer_id_expiration_ms: self.broker_number("producer.id.expiration.ms"),
            // Bounded above by `GroupCommit::new` (MAX_CONCURRENT_FSYNCS).
            concurrent_fsyncs: self
                .broker_number("sluice.acks.all.concurrent.fsyncs")
                .max(1) as usize,
            recovery_point_checkpoint_interval_ms: self
                .broker_number("log.flush.offset.checkpoint.interval.ms"),
            max_producers: self.broker_number("sluice.producer.state.max.producers") as usize,
            max_ongoing_transactions: self
                .broker_number("sluice.producer.state.max.ongoing.transactions")
                as usize,
            aborted_txns_in_memory: self.broker_number("sluice.log.aborted.txn.memory.entries")
                as usize,
            cleanup_delete: value("cleanup.policy")
                .split(',')
                .any(|p| p.trim() == "delete"),
            cleanup_compact: value("cleanup.policy")
                .split(',')
                .any(|p| p.trim() == "compact"),
            min_cleanable_dirty_ratio: value("min.cleanable.dirty.ratio")
                .trim()
                .parse()
                .unwrap_or(0.5),
            min_compaction_lag_ms: num("min.compaction.lag.ms"),
            max_compaction_lag_ms: num("max.compaction.lag.ms"),
            delete_retention_ms: num("delete.retention.ms"),
            key_schema_validation: schema_validation(&value, "key"),
            value_schema_validation: schema_validation(&value, "value"),
            file_cache: crate::log::file_cache::global().clone(),
        }
    }

    /// A numeric broker setting as resolved (validated at load, so it parses; the
    /// table's default otherwise).
    fn broker_number(&self, name: &str) -> i64 {
        self.broker_value(name)
            .and_then(|(v, _)| v.trim().parse().ok())
            .or_else(|| broker_config(name).and_then(|(d, _)| d.default.parse().ok()))
            .unwrap_or(0)
    }

    /// The log cleaner's broker-wide settings.
    pub fn cleaner_config(&self) -> crate::log::cleaner::CleanerConfig {
        crate::log::cleaner::CleanerConfig {
            dedupe_buffer_size: self.cleaner_dedupe_buffer_size,
            load_factor: self.cleaner_io_buffer_load_factor,
        }
    }
}

/// A topic's `confluent.<side>.schema.validation` with its subject name strategy (the
/// default one if the configured name is not known: values are validated when set).
fn schema_validation(
    value: &dyn Fn(&str) -> String,
    side: &str,
) -> Option<crate::log::validator::schema_ids::SubjectNameStrategy> {
    (value(&format!("confluent.{side}.schema.validation")) == "true").then(|| {
        crate::log::validator::schema_ids::SubjectNameStrategy::parse(&value(&format!(
            "confluent.{side}.subject.name.strategy"
        )))
        .unwrap_or_default()
    })
}

/// Validates topic-level overrides as CreateTopics receives them. Returns Kafka's
/// INVALID_CONFIG message on the first bad one.
pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, value) in configs {
        let Some(def) = topic_config(name) else {
            return Err(format!("Unknown topic config name: {name}"));
        };
        validate(def, value)?;
    }
    Ok(())
}

/// Names of every topic-level setting, in table order.
pub fn topic_config_names() -> impl Iterator<Item = &'static str> {
    TOPIC_CONFIGS.iter().map(|d| d.name)
}

/// Names of every broker-level setting (broker settings, then topic defaults).
pub fn broker_config_names() -> impl Iterator<Item = &'static str> {
    definitions::all_broker_names()
}

/// True for a setting the broker only reports (see [`definitions::ConfigDef::ignored`]).
pub fn is_read_only_broker(name: &str) -> bool {
    BROKER_CONFIGS.iter().any(|d| d.name == name && d.read_only)
}

/// Parses `max.connections.per.ip.overrides`: Kafka's `host:count,host:count`, where a
/// host here must be an IP address (IPv6 bare or in brackets; the count follows the
/// last colon, as Kafka splits it). Empty means no overrides.
pub fn parse_ip_overrides(value: &str) -> Result<BTreeMap<IpAddr, usize>, String> {
    let mut overrides = BTreeMap::new();
    if value.trim().is_empty() {
        return Ok(overrides);
    }
    for entry in value.split(',').map(str::trim) {
        let Some((host, count)) = entry.rsplit_once(':') else {
            return Err(format!("`{entry}` is not IP:COUNT"));
        };
        let host = host.trim();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ip: IpAddr = host
            .parse()
            .map_err(|_| format!("`{host}` in `{entry}` is not an IP address"))?;
        let count: i32 = count
            .trim()
            .parse()
            .map_err(|_| format!("`{count}` in `{entry}` is not a connection count"))?;
        let count = usize::try_from(count)
            .map_err(|_| format!("`{entry}`: the connection count must be at least 0"))?;
        // A peer arriving over IPv4 on an IPv6 socket is seen as ::ffff:a.b.c.d.
        overrides.insert(ip.to_canonical(), count);
    }
    Ok(overrides)
}

/// A host as it appears in HOST:PORT (IPv6 in brackets).
fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Splits `host:port` (IPv6 as `[::1]:9092`).
pub fn split_host_port(s: &str) -> Result<(String, i32)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("`{s}` is not HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("`{s}`: bad port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("`{s}`: empty host");
    }
    Ok((host.to_string(), port as i32))
}

/// Flattens a TOML document into `dotted.name = value` pairs, so that both
/// `log.retention.ms = 1000` (a dotted key, which TOML nests) and
/// `"log.retention.ms" = 1000` mean the Kafka setting `log.retention.ms`.
fn parse_toml(text: &str) -> Result<Vec<(String, String)>> {
    let table: toml::Table = text.parse()?;
    let mut out = Vec::new();
    flatten("", &toml::Value::Table(table), &mut out)?;
    Ok(out)
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) -> Result<()> {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out)?;
            }
        }
        toml::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        toml::Value::Integer(i) => out.push((prefix.to_string(), i.to_string())),
        toml::Value::Float(f) => out.push((prefix.to_string(), f.to_string())),
        toml::Value::Boolean(b) => out.push((prefix.to_string(), b.to_string())),
        toml::Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), parts.join(",")));
        }
        toml::Value::Datetime(d) => bail!("`{prefix}`: dates are not settings ({d})"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_dotted_and_quoted_keys_mean_the_same_setting() {
        let pairs = parse_toml("log.retention.ms = 5\n\"num.partitions\" = 3\n").unwrap();
        assert!(pairs.contains(&("log.retention.ms".into(), "5".into())));
        assert!(pairs.contains(&("num.partitions".into(), "3".into())));
    }

    #[test]
    fn flags_override_file_and_unknown_names_fail() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "num.partitions = 3\n").unwrap();
        let o = Overrides {
            listen: Some("127.0.0.1:2".into()),
            sets: vec![("num.partitions".into(), "4".into())],
            ..Default::default()
        };
        let c = BrokerConfig::load(Some(&file), &o).unwrap();
        assert_eq!(c.num_partitions, 4);
        assert_eq!(c.listen, "127.0.0.1:2");
        assert_eq!(c.advertised_port, 2);
        let o = Overrides {
            sets: vec![("no.such".into(), "1".into())],
            ..Default::default()
        };
        assert!(BrokerConfig::load(None, &o).is_err());
    }

    #[test]
    fn listen_flag_and_listeners_setting_together_stop_start_up() {
        let o = Overrides {
            listen: Some("127.0.0.1:2".into()),
            sets: vec![("listeners".into(), "SSL://127.0.0.1:3".into())],
            ..Default::default()
        };
        let e = format!("{:#}", BrokerConfig::load(None, &o).unwrap_err());
        assert!(
            e.contains("--listen 127.0.0.1:2") && e.contains("listeners=SSL://127.0.0.1:3"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn shipped_config_file_documents_every_setting_and_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sluice.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        for name in broker_config_names() {
            assert!(
                text.contains(&format!("# {name} =")) || text.contains(&format!("\n{name} =")),
                "config/sluice.toml does not document {name}"
            );
        }
        BrokerConfig::load(Some(&path), &Overrides::default()).unwrap();
    }

    fn load_sets(sets: &[(&str, &str)]) -> Result<BrokerConfig> {
        let o = Overrides {
            sets: sets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        BrokerConfig::load(None, &o)
    }

    #[test]
    fn connection_limits_default_to_kafkas_and_resolve() {
        let c = BrokerConfig::defaults();
        assert_eq!(c.max_connections, i32::MAX as usize);
        assert_eq!(c.max_connections_per_ip, i32::MAX as usize);
        assert!(c.max_connections_per_ip_overrides.is_empty());
        assert_eq!(c.connections_max_idle_ms, Some(600_000));

        let c = load_sets(&[
            ("max.connections", "3"),
            ("max.connections.per.ip", "0"),
            (
                "max.connections.per.ip.overrides",
                " 127.0.0.2:5 , [::1]:7,::ffff:10.0.0.1:1",
            ),
            ("connections.max.idle.ms", "-1"),
        ])
        .unwrap();
        assert_eq!(c.max_connections, 3);
        assert_eq!(c.max_connections_per_ip, 0);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            c.max_connections_per_ip_overrides,
            BTreeMap::from([(ip("127.0.0.2"), 5), (ip("::1"), 7), (ip("10.0.0.1"), 1)])
        );
        assert_eq!(c.connections_max_idle_ms, None);
    }

    #[test]
    fn bad_connection_limits_stop_start_up_with_one_line() {
        for (sets, says) in [
            (vec![("max.connections", "-1")], "at least 0"),
            (vec![("max.connections.per.ip", "many")], "INT"),
            (
                vec![("max.connections.per.ip.overrides", "localhost:5")],
                "not an IP address",
            ),
            (
                vec![("max.connections.per.ip.overrides", "127.0.0.1")],
                "not IP:COUNT",
            ),
            (
                vec![("max.connections.per.ip.overrides", "127.0.0.1:-2")],
                "at least 0",
            ),
            (
                vec![("max.connections.per.ip.overrides", "127.0.0.1:5,")],
                "not IP:COUNT",
            ),
            (vec![("max.connections.per.ip", "0")], "overrides is set"),
            (vec![("connections.max.idle.ms", "10m")], "LONG"),
        ] {
            let e = format!("{:#}", load_sets(&sets).unwrap_err());
            assert!(e.contains(says), "{sets:?}: {e}");
            assert!(!e.contains('\n'), "{sets:?}: {e}");
        }
    }

    #[test]
    fn topic_overrides_win_over_broker_defaults() {
        let o = Overrides {
            sets: vec![("log.segment.bytes".into(), "1000".into())],
            ..Default::default()
        };
        let c = BrokerConfig::load(None, &o).unwrap();
        let mut t = BTreeMap::new();
        assert_eq!(c.log_config(&t).segment_bytes, 1000);
        t.insert("segment.bytes".into(), "2000".into());
        assert_eq!(c.log_config(&t).segment_bytes, 2000);
    }
}
