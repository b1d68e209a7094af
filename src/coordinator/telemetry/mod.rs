//! Client telemetry (KIP-714): the broker side of GetTelemetrySubscriptions and
//! PushTelemetry, as Kafka's ClientMetricsManager defines it, and the pushed metrics
//! kept for the admin side to re-export.
//!
//! - [`subscriptions`]: the CLIENT_METRICS config resources (`metrics`, `interval.ms`,
//!   `match`), durable in `<log.dirs>/client-metrics`.
//! - [`store`]: pushed OTLP payloads decoded and kept, bounded, per client instance.
//!
//! A client instance is created on its first request (a zero client instance id gets a
//! fresh random one), matched against every subscription, and given the union of the
//! matched metric prefixes (`*` alone when any matched subscription has it), the
//! smallest matched push interval (300000 ms when none matches, with no metrics, so the
//! client does not push) and a subscription id derived from both and the instance id.
//! A subscription change re-evaluates each instance on its next request (its old
//! subscription id then gets UNKNOWN_SUBSCRIPTION_ID). Requests sooner than the push
//! interval get THROTTLING_QUOTA_EXCEEDED (a push right after a get is always
//! accepted); a push after a terminating push gets INVALID_REQUEST; a payload over
//! `telemetry.max.bytes` gets TELEMETRY_TOO_LARGE; one that does not decode gets
//! INVALID_RECORD. Instances are forgotten max(60 s, 3 push intervals) after their last
//! request, and the least recently seen is evicted beyond
//! `sluice.telemetry.max.client.instances`.
//!
//! Unlike Kafka, instances are not dropped when their connection closes (the
//! connection layer does not tell coordinators about closes); they expire instead.
//! This module never parses Kafka requests and never touches sockets.

pub mod store;
pub mod subscriptions;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use parking_lot::Mutex;
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::{KafkaError, ResponseError};
use store::MetricStore;
use subscriptions::{
    ClientAttributes, Resources, Subscription, SubscriptionFile, ALL_METRICS, DEFAULT_INTERVAL_MS,
};

/// The compression types offered to clients, Kafka's order (zstd, lz4, gzip, snappy).
pub const ACCEPTED_COMPRESSION_TYPES: [i8; 4] = [
    store::COMPRESSION_ZSTD,
    store::COMPRESSION_LZ4,
    store::COMPRESSION_GZIP,
    store::COMPRESSION_SNAPPY,
];
/// Kafka's floor on how long an instance is remembered after its last request.
const MIN_INSTANCE_EXPIRY_MS: i64 = 60_000;

/// The telemetry settings, resolved by the composition root.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// `telemetry.max.bytes`.
    pub max_bytes: usize,
    /// `sluice.telemetry.max.client.instances`.
    pub max_client_instances: usize,
    /// `sluice.telemetry.max.series`.
    pub max_series: usize,
    /// `sluice.telemetry.max.subscriptions`.
    pub max_subscriptions: usize,
}

impl TelemetryConfig {
    /// The settings as the broker resolved them (defaults for any missing).
    pub fn from_broker(config: &crate::config::BrokerConfig) -> TelemetryConfig {
        let int = |name: &str, default: usize| {
            config
                .broker_value(name)
                .and_then(|(v, _)| v.trim().parse::<i64>().ok())
                .map_or(default, |v| v.max(0) as usize)
        };
        TelemetryConfig {
            max_bytes: int("telemetry.max.bytes", 1 << 20),
            max_client_instances: int("sluice.telemetry.max.client.instances", 16384),
            max_series: int("sluice.telemetry.max.series", 10_000),
            max_subscriptions: int("sluice.telemetry.max.subscriptions", 1000),
        }
    }
}

/// Who sent a telemetry request, as `match` and the re-export see it.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub client_id: Option<String>,
    pub software_name: Option<String>,
    pub software_version: Option<String>,
    pub source_address: String,
    pub source_port: u16,
}

/// The answer to GetTelemetrySubscriptions.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionAnswer {
    pub client_instance_id: Uuid,
    pub subscription_id: i32,
    pub requested_metrics: Vec<String>,
    pub push_interval_ms: i32,
    pub telemetry_max_bytes: i32,
}

/// A PushTelemetry request's fields.
#[derive(Clone, Debug)]
pub struct Push<'a> {
    pub client_instance_id: Uuid,
    pub subscription_id: i32,
    pub terminating: bool,
    pub compression_type: i8,
    pub metrics: &'a [u8],
}

struct Instance {
    client_id: String,
    attributes: ClientAttributes,
    subscription_id: i32,
    subscription_version: u64,
    metrics: Vec<String>,
    push_interval_ms: i32,
    last_get_ms: Option<i64>,
    last_push_ms: Option<i64>,
    /// A get was answered since the last accepted push (Kafka compares the two
    /// timestamps; a flag does not depend on them differing by a millisecond).
    get_since_push: bool,
    terminating: bool,
    /// The error of the last request, which decides whether a get may come early.
    last_error: Option<ResponseError>,
    last_seen_ms: i64,
}

impl Instance {
    fn expires_at(&self) -> i64 {
        self.last_seen_ms + MIN_INSTANCE_EXPIRY_MS.max(3 * self.push_interval_ms as i64)
    }

    fn wants(&self, name: &str) -> bool {
        self.metrics
            .iter()
            .any(|m| m == ALL_METRICS || name.starts_with(m.as_str()))
    }
}

struct SubscriptionState {
    file: SubscriptionFile,
    resources: Resources,
    parsed: BTreeMap<String, Subscription>,
    /// Bumped on every change: instances evaluated at an older version are
    /// re-evaluated on their next request.
    version: u64,
}

/// The broker's client-metrics manager.
pub struct ClientMetricsManager {
    config: TelemetryConfig,
    clock: Clock,
    subscriptions: Mutex<SubscriptionState>,
    instances: Mutex<HashMap<Uuid, Instance>>,
    store: MetricStore,
}

impl ClientMetricsManager {
    /// Loads the subscriptions kept in `dir`.
    pub fn open(dir: &Path, config: TelemetryConfig, clock: Clock) -> anyhow::Result<Self> {
        let (file, resources) = SubscriptionFile::open(dir)?;
        let parsed = resources
            .iter()
            .map(|(name, settings)| {
                let s = Subscription::parse(settings).map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok((name.clone(), s))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(ClientMetricsManager {
            store: MetricStore::new(config.max_client_instances, config.max_series),
            config,
            clock,
            subscriptions: Mutex::new(SubscriptionState {
                file,
                resources,
                parsed,
                version: 0,
            }),
            instances: Mutex::new(HashMap::new()),
        })
    }

    /// The pushed metrics, for the re-export.
    pub fn store(&self) -> &MetricStore {
        &self.store
    }

    /// The names of the client-metrics resources (ListConfigResources).
    pub fn resource_names(&self) -> Vec<String> {
        self.subscriptions
            .lock()
            .resources
            .keys()
            .cloned()
            .collect()
    }

    /// A resource's settings as set (empty when it does not exist).
    pub fn resource(&self, name: &str) -> BTreeMap<String, String> {
        self.subscriptions
            .lock()
            .resources
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces a resource's settings (IncrementalAlterConfigs on CLIENT_METRICS):
    /// validated, written durably, then applied. No settings left removes it.
    pub fn set_resource(
        &self,
        name: &str,
        settings: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), KafkaError> {
        if name.is_empty() {
            return Err(KafkaError::new(
                ResponseError::InvalidRequest,
                "Subscription name can't be empty",
            ));
        }
        let parsed = Subscription::parse(&settings)?;
        let mut state = self.subscriptions.lock();
        let exists = state.resources.contains_key(name);
        if !exists && !settings.is_empty() && state.resources.len() >= self.config.max_subscriptions
        {
            return Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!(
                    "already {} client-metrics resources (sluice.telemetry.max.subscriptions)",
                    state.resources.len()
                ),
            ));
        }
        if validate_only || (settings.is_empty() && !exists) {
            return Ok(());
        }
        let mut resources = state.resources.clone();
        if settings.is_empty() {
            resources.remove(name);
        } else {
            resources.insert(name.to_string(), settings);
        }
        state.file.write(&resources).map_err(|e| {
            tracing::error!("writing the client-metrics subscriptions failed: {e}");
            KafkaError::new(
                ResponseError::KafkaStorageError,
                format!("writing the subscriptions failed: {e}"),
            )
        })?;
        state.resources = resources;
        if state.resources.contains_key(name) {
            state.parsed.insert(name.to_string(), parsed);
        } else {
            state.parsed.remove(name);
        }
        state.version += 1;
        tracing::info!(resource = name, "client-metrics subscription changed");
        Ok(())
    }

    /// GetTelemetrySubscriptions.
    pub fn get_subscriptions(
        &self,
        client_instance_id: Uuid,
        client: &ClientInfo,
    ) -> Result<SubscriptionAnswer, KafkaError> {
        let now = self.clock.now_ms();
        let mut instances = self.instances.lock();
        let id = if client_instance_id.is_nil() {
            // As Kafka's Uuid.randomUuid: never a reserved id, never one whose printed
            // form starts with '-' (command lines would take it for an option).
            loop {
                let id = Uuid::new_v4();
                if id.as_u128() > 1
                    && !kafka_uuid(id).starts_with('-')
                    && !instances.contains_key(&id)
                {
                    break id;
                }
            }
        } else {
            client_instance_id
        };
        let instance = self.instance(&mut instances, id, client, now);
        let since = instance.last_get_ms.max(instance.last_push_ms);
        let early = since.is_some_and(|t| now - t < instance.push_interval_ms as i64);
        let retry_allowed = matches!(
            instance.last_error,
            Some(ResponseError::UnknownSubscriptionId | ResponseError::UnsupportedCompressionType)
        );
        if early && !retry_allowed {
            return Err(KafkaError::new(
                ResponseError::ThrottlingQuotaExceeded,
                format!(
                    "Request from the client [{id}] arrived before the next push interval time"
                ),
            ));
        }
        instance.last_get_ms = Some(now);
        instance.get_since_push = true;
        instance.last_error = None;
        Ok(SubscriptionAnswer {
            client_instance_id: id,
            subscription_id: instance.subscription_id,
            requested_metrics: instance.metrics.clone(),
            push_interval_ms: instance.push_interval_ms,
            telemetry_max_bytes: self.config.max_bytes.min(i32::MAX as usize) as i32,
        })
    }

    /// PushTelemetry: validated in Kafka's order, then decoded and stored.
    pub fn push(&self, push: &Push<'_>, client: &ClientInfo) -> Result<(), KafkaError> {
        let id = push.client_instance_id;
        // Kafka's reserved ids: zero and the metadata topic's id (1).
        if id.is_nil() || id.as_u128() == 1 {
            return Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!("Invalid request from the client [{id}], invalid client instance id"),
            ));
        }
        let now = self.clock.now_ms();
        let mut instances = self.instances.lock();
        let instance = self.instance(&mut instances, id, client, now);
        let checked = validate_push(instance, push, now, self.config.max_bytes);
        // As Kafka: the flag is taken whatever the outcome.
        instance.terminating = push.terminating;
        if let Err(e) = checked {
            instance.last_error = Some(e.error);
            return Err(e);
        }
        if !push.metrics.is_empty() {
            let max_out = self
                .config
                .max_bytes
                .saturating_mul(store::MAX_DECOMPRESSION_RATIO);
            let data = match store::decode_payload(push.metrics, push.compression_type, max_out) {
                Ok(d) => d,
                Err(e) => {
                    instance.last_error = Some(ResponseError::InvalidRecord);
                    tracing::info!(client_instance_id = %id, "pushed telemetry refused: {e}");
                    return Err(KafkaError::new(ResponseError::InvalidRecord, e));
                }
            };
            let points = store::points(&data, |name| instance.wants(name));
            let recorded =
                self.store
                    .record(id, &instance.client_id, instance.expires_at(), now, points);
            if recorded.dropped > 0 {
                tracing::debug!(client_instance_id = %id, dropped = recorded.dropped, "telemetry series over the bounds were dropped");
            }
        }
        instance.last_error = None;
        if push.terminating {
            tracing::debug!(client_instance_id = %id, "client telemetry terminated");
        }
        Ok(())
    }

    /// The instance for `id`: created, or re-evaluated if the subscriptions changed
    /// since; its expiry pushed back. Expired instances are dropped first.
    fn instance<'a>(
        &self,
        instances: &'a mut HashMap<Uuid, Instance>,
        id: Uuid,
        client: &ClientInfo,
        now: i64,
    ) -> &'a mut Instance {
        let version = self.subscriptions.lock().version;
        let current = instances
            .get(&id)
            .is_some_and(|i| i.subscription_version == version && i.expires_at() > now);
        if !current {
            let attributes = match instances.remove(&id) {
                // Re-evaluated with what the client was first seen as, as Kafka does.
                Some(old) if old.expires_at() > now => old.attributes,
                _ => attributes(id, client),
            };
            if !instances.contains_key(&id) {
                self.make_room(instances, now);
            }
            let state = self.subscriptions.lock();
            let fresh = evaluate(id, attributes, &state.parsed, state.version, now);
            instances.insert(id, fresh);
        }
        let instance = instances.get_mut(&id).expect("just inserted");
        instance.last_seen_ms = now;
        instance
    }

    /// Drops expired instances and, at the bound, the least recently seen.
    fn make_room(&self, instances: &mut HashMap<Uuid, Instance>, now: i64) {
        if instances.len() < self.config.max_client_instances {
            return;
        }
        let expired: Vec<Uuid> = instances
            .iter()
            .filter(|(_, i)| i.expires_at() <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            instances.remove(&id);
            self.store.remove(&id);
        }
        while !instances.is_empty() && instances.len() >= self.config.max_client_instances {
            let oldest = instances
                .iter()
                .min_by_key(|(_, i)| i.last_seen_ms)
                .map(|(id, _)| *id)
                .expect("not empty");
            instances.remove(&oldest);
            self.store.remove(&oldest);
        }
    }

    /// How many client instances are known (for tests and logs).
    pub fn instance_count(&self) -> usize {
        self.instances.lock().len()
    }
}

fn validate_push(
    instance: &mut Instance,
    push: &Push<'_>,
    now: i64,
    max_bytes: usize,
) -> Result<(), KafkaError> {
    let id = push.client_instance_id;
    if instance.terminating {
        return Err(KafkaError::new(
            ResponseError::InvalidRequest,
            format!("Client [{id}] sent the previous request with state terminating to TRUE, can not accept any requests after that"),
        ));
    }
    // A push right after a get is always accepted; otherwise one push per interval.
    let in_time = instance.get_since_push
        || instance
            .last_push_ms
            .is_none_or(|t| now - t >= instance.push_interval_ms as i64);
    if in_time {
        instance.last_push_ms = Some(now);
        instance.get_since_push = false;
    } else if !push.terminating {
        return Err(KafkaError::new(
            ResponseError::ThrottlingQuotaExceeded,
            format!("Request from the client [{id}] arrived before the next push interval time"),
        ));
    }
    if push.subscription_id != instance.subscription_id {
        return Err(KafkaError::new(
            ResponseError::UnknownSubscriptionId,
            format!("Unknown client subscription id for the client [{id}]"),
        ));
    }
    if !(store::COMPRESSION_NONE..=store::COMPRESSION_ZSTD).contains(&push.compression_type) {
        return Err(KafkaError::new(
            ResponseError::UnsupportedCompressionType,
            format!(
                "Unknown compression type [{}] is received in telemetry request from [{id}]",
                push.compression_type
            ),
        ));
    }
    if push.metrics.len() > max_bytes {
        return Err(KafkaError::new(
            ResponseError::TelemetryTooLarge,
            format!("Telemetry request from [{id}] is larger than the maximum allowed size [{max_bytes}]"),
        ));
    }
    Ok(())
}

/// A Uuid as Kafka prints it (URL-safe base64, unpadded): what `match` and the
/// re-export's `client_instance_id` label see, as clients log it.
pub fn kafka_uuid(id: Uuid) -> String {
    crate::topics::store::base64_url(id.as_bytes())
}

fn attributes(id: Uuid, client: &ClientInfo) -> ClientAttributes {
    let mut a = ClientAttributes::new();
    a.insert("client_instance_id", kafka_uuid(id));
    if let Some(v) = &client.client_id {
        a.insert("client_id", v.clone());
    }
    if let Some(v) = &client.software_name {
        a.insert("client_software_name", v.clone());
    }
    if let Some(v) = &client.software_version {
        a.insert("client_software_version", v.clone());
    }
    a.insert("client_source_address", client.source_address.clone());
    a.insert("client_source_port", client.source_port.to_string());
    a
}

/// A fresh instance: the subscriptions it matches, merged as Kafka merges them.
fn evaluate(
    id: Uuid,
    attributes: ClientAttributes,
    subscriptions: &BTreeMap<String, Subscription>,
    version: u64,
    now: i64,
) -> Instance {
    let mut metrics = BTreeSet::new();
    let mut interval = DEFAULT_INTERVAL_MS;
    for s in subscriptions.values().filter(|s| s.matches(&attributes)) {
        metrics.extend(s.metrics.iter().cloned());
        interval = interval.min(s.interval_ms);
    }
    if metrics.contains(ALL_METRICS) {
        metrics = BTreeSet::from([ALL_METRICS.to_string()]);
    }
    let metrics: Vec<String> = metrics.into_iter().collect();
    Instance {
        client_id: attributes.get("client_id").cloned().unwrap_or_default(),
        subscription_id: subscription_id(&metrics, interval, id),
        subscription_version: version,
        attributes,
        metrics,
        push_interval_ms: interval,
        last_get_ms: None,
        last_push_ms: None,
        get_since_push: false,
        terminating: false,
        last_error: None,
        last_seen_ms: now,
    }
}

/// Kafka's subscription id: a CRC-32C of the metric list and the push interval, XORed
/// with the instance id's hash.
fn subscription_id(metrics: &[String], interval_ms: i32, id: Uuid) -> i32 {
    let text = format!("[{}]{interval_ms}", metrics.join(", "));
    let crc = crc32c::crc32c(text.as_bytes()) as i32;
    let (hi, lo) = id.as_u64_pair();
    let h = hi ^ lo;
    crc ^ ((h >> 32) as i32 ^ h as i32)
}

#[cfg(test)]
mod tests;
