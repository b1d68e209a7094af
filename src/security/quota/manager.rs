//! The broker's client quotas in force: the configured set (durable, see `store`) and
//! one rate sensor per quota key and (user, client-id) group, as Kafka's
//! ClientQuotaManager keeps them.
//!
//! Which quota applies to a request follows Kafka's precedence, per key:
//! `/users/<u>/clients/<c>`, `/users/<u>/clients/<default>`, `/users/<u>`,
//! `/users/<default>/clients/<c>`, `/users/<default>/clients/<default>`,
//! `/users/<default>`, `/clients/<c>`, `/clients/<default>`. The level that matched
//! also decides who shares a sensor: a quota on a user (or the default user) is shared
//! by all that user's client-ids, a quota on a client-id by all users of it.
//!
//! With no quota configured at all the hot path pays one atomic load. Sensors are
//! bounded (`sluice.quota.max.tracked.clients`): idle ones expire after an hour, as
//! Kafka's do, and when the bound is reached the longest-idle one is dropped (that
//! client starts its next window afresh). It never mutes a connection itself.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::entity::{QuotaEntity, QuotaKey};
use super::rate::{Rate, TokenBucket, WindowConfig};
use super::store::{QuotaFile, Quotas};

/// Kafka's `InactiveSensorExpirationTimeSeconds`.
const SENSOR_IDLE_EXPIRY_MS: i64 = 3600 * 1000;

/// Sampling and bounds, from `quota.window.num`, `quota.window.size.seconds`,
/// `controller.quota.window.num`, `controller.quota.window.size.seconds` and
/// `sluice.quota.max.tracked.clients`.
#[derive(Clone, Copy, Debug)]
pub struct QuotaWindows {
    pub samples: u32,
    pub window_seconds: u32,
    pub controller_samples: u32,
    pub controller_window_seconds: u32,
    pub max_tracked: usize,
}

impl Default for QuotaWindows {
    fn default() -> Self {
        QuotaWindows {
            samples: 11,
            window_seconds: 1,
            controller_samples: 11,
            controller_window_seconds: 1,
            max_tracked: 100_000,
        }
    }
}

/// Who shares a sensor: the user and client-id tags of Kafka's quota metrics (an empty
/// tag is a group across every value of that type).
type SensorKey = (QuotaKey, String, String);

pub struct ClientQuotaManager {
    file: Option<QuotaFile>,
    quotas: RwLock<Arc<Quotas>>,
    /// Any quota configured at all: false means nothing is measured.
    enabled: AtomicBool,
    /// Alterations write the whole file: one at a time.
    alter_lock: Mutex<()>,
    sensors: Mutex<HashMap<SensorKey, Rate>>,
    /// `controller_mutation_rate` token buckets, bounded like `sensors`.
    buckets: Mutex<HashMap<SensorKey, TokenBucket>>,
    windows: QuotaWindows,
}

/// One change to one entity: a key set to a value, or removed (`None`).
pub type Alteration = (QuotaEntity, Vec<(QuotaKey, Option<f64>)>);

impl ClientQuotaManager {
    /// Loads the quotas kept in `dir` (`None`: nothing is kept on disk).
    pub fn open(dir: Option<&Path>, windows: QuotaWindows) -> anyhow::Result<ClientQuotaManager> {
        let (file, quotas) = match dir {
            Some(dir) => {
                let (file, quotas) = QuotaFile::open(dir)?;
                (Some(file), quotas)
            }
            None => (None, Quotas::new()),
        };
        Ok(ClientQuotaManager {
            file,
            enabled: AtomicBool::new(!quotas.is_empty()),
            quotas: RwLock::new(Arc::new(quotas)),
            alter_lock: Mutex::new(()),
            sensors: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            windows,
        })
    }

    /// Every configured entity with its values.
    pub fn snapshot(&self) -> Arc<Quotas> {
        self.quotas.read().clone()
    }

    /// True when any quota is configured.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Applies `changes` durably (the file first, then memory). Blocking. The changes
    /// must already be valid.
    pub fn alter(&self, changes: &[Alteration]) -> std::io::Result<()> {
        let _one_at_a_time = self.alter_lock.lock();
        let mut next: Quotas = (**self.quotas.read()).clone();
        for (entity, ops) in changes {
            let values = next.entry(entity.clone()).or_default();
            for (key, value) in ops {
                match value {
                    Some(v) => values.insert(*key, *v),
                    None => values.remove(key),
                };
            }
            if values.is_empty() {
                next.remove(entity);
            }
        }
        if let Some(file) = &self.file {
            file.write(&next)?;
        }
        self.enabled.store(!next.is_empty(), Ordering::Relaxed);
        *self.quotas.write() = Arc::new(next);
        // A quota changed: sensors restart under the new grouping (Kafka re-tags its
        // metrics likewise when the quota set changes shape).
        self.sensors.lock().clear();
        self.buckets.lock().clear();
        Ok(())
    }

    /// The quota on `key` that applies to `user` with `client_id`, and who shares its
    /// sensor; `None` when no level sets one.
    pub fn quota_for(
        &self,
        key: QuotaKey,
        user: &str,
        client_id: &str,
    ) -> Option<(f64, SensorKey)> {
        let quotas = self.quotas.read();
        resolve(&quotas, key, user, client_id)
    }

    fn config(&self, key: QuotaKey) -> WindowConfig {
        let (samples, secs) = match key {
            QuotaKey::ControllerMutationRate => (
                self.windows.controller_samples,
                self.windows.controller_window_seconds,
            ),
            _ => (self.windows.samples, self.windows.window_seconds),
        };
        WindowConfig {
            samples: samples.max(1),
            window_ms: secs.max(1) as i64 * 1000,
        }
    }

    /// Records `value` against the quota on `key` that applies to (`user`,
    /// `client_id`) and returns the throttle time in milliseconds (0 within quota or
    /// without a quota).
    pub fn record(
        &self,
        key: QuotaKey,
        user: &str,
        client_id: &str,
        value: f64,
        now_ms: i64,
    ) -> i64 {
        if !self.enabled() {
            return 0;
        }
        let Some((bound, sensor)) = self.quota_for(key, user, client_id) else {
            return 0;
        };
        let config = self.config(key);
        let mut sensors = self.sensors.lock();
        if !sensors.contains_key(&sensor) && sensors.len() >= self.windows.max_tracked.max(1) {
            make_room(
                &mut sensors,
                Rate::last_event_ms,
                now_ms,
                self.windows.max_tracked.max(1),
            );
        }
        let rate = sensors.entry(sensor).or_default();
        rate.record_and_throttle_ms(config, value, bound, now_ms)
            .max(0)
    }

    /// Records `permits` partition mutations (created or deleted) against the
    /// `controller_mutation_rate` that applies, as Kafka's ControllerMutationQuota does.
    /// `strict` (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+): a client
    /// already over its quota is refused, `Err(throttle_ms)`, and nothing is taken;
    /// otherwise the permits are taken and `Ok(throttle_ms)` says how long the client is
    /// then over (always taken and never refused when not strict). `None`: no quota.
    pub fn record_mutations(
        &self,
        user: &str,
        client_id: &str,
        permits: f64,
        strict: bool,
        now_ms: i64,
    ) -> Option<Result<i64, i64>> {
        if !self.enabled() {
            return None;
        }
        let (quota, sensor) = self.quota_for(QuotaKey::ControllerMutationRate, user, client_id)?;
        let config = self.config(QuotaKey::ControllerMutationRate);
        let mut buckets = self.buckets.lock();
        if !buckets.contains_key(&sensor) && buckets.len() >= self.windows.max_tracked.max(1) {
            make_room(
                &mut buckets,
                TokenBucket::last_event_ms,
                now_ms,
                self.windows.max_tracked.max(1),
            );
        }
        let bucket = buckets.entry(sensor).or_default();
        if strict && bucket.tokens(config, quota, now_ms) < 0.0 {
            return Some(Err(bucket.throttle_ms(quota).max(1)));
        }
        bucket.take(config, quota, permits, now_ms);
        Some(Ok(if strict { 0 } else { bucket.throttle_ms(quota) }))
    }

    /// Takes back a value recorded by [`record`](Self::record) (Kafka unrecords a fetch
    /// it answers empty).
    pub fn unrecord(&self, key: QuotaKey, user: &str, client_id: &str, value: f64, now_ms: i64) {
        let Some((_, sensor)) = self.quota_for(key, user, client_id) else {
            return;
        };
        if let Some(rate) = self.sensors.lock().get_mut(&sensor) {
            rate.record(self.config(key), -value, now_ms);
        }
    }

    /// The most that may be recorded at once without certain throttling: the quota
    /// times `samples - 1` windows (Kafka bounds a fetch's max_bytes by it, so one
    /// answer never exceeds what the quota can ever let through).
    pub fn max_value_in_window(&self, key: QuotaKey, user: &str, client_id: &str) -> Option<f64> {
        if !self.enabled() {
            return None;
        }
        let (bound, _) = self.quota_for(key, user, client_id)?;
        let c = self.config(key);
        Some(bound * (c.samples.saturating_sub(1).max(1)) as f64 * (c.window_ms / 1000) as f64)
    }

    /// How many sensors are tracked (tests, metrics).
    pub fn tracked(&self) -> usize {
        self.sensors.lock().len()
    }
}

/// Drops sensors idle for an hour; if none is, the longest-idle one.
fn make_room<T>(
    sensors: &mut HashMap<SensorKey, T>,
    last_event_ms: fn(&T) -> Option<i64>,
    now_ms: i64,
    max: usize,
) {
    sensors.retain(|_, r| last_event_ms(r).is_some_and(|t| now_ms - t < SENSOR_IDLE_EXPIRY_MS));
    if sensors.len() >= max {
        let oldest = sensors
            .iter()
            .min_by_key(|(_, r)| last_event_ms(r).unwrap_or(i64::MIN))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            sensors.remove(&k);
        }
    }
}

/// Kafka's precedence (see the module doc): the first level that sets `key`.
fn resolve(
    quotas: &Quotas,
    key: QuotaKey,
    user: &str,
    client_id: &str,
) -> Option<(f64, SensorKey)> {
    let u = Some(user);
    let c = Some(client_id);
    let levels: [(QuotaEntity, bool, bool); 8] = [
        (QuotaEntity::user_client(u, c), true, true),
        (QuotaEntity::user_client(u, None), true, true),
        (QuotaEntity::user(u), true, false),
        (QuotaEntity::user_client(None, c), true, true),
        (QuotaEntity::user_client(None, None), true, true),
        (QuotaEntity::user(None), true, false),
        (QuotaEntity::client(c), false, true),
        (QuotaEntity::client(None), false, true),
    ];
    levels.into_iter().find_map(|(entity, by_user, by_client)| {
        let bound = *quotas.get(&entity)?.get(&key)?;
        let tag = |on: bool, s: &str| if on { s.to_string() } else { String::new() };
        Some((bound, (key, tag(by_user, user), tag(by_client, client_id))))
    })
}

/// Kafka's DescribeClientQuotas filter: `exact` components must match by name (`None`
/// = the default entity), `specified` types must be present; with `strict` the entity
/// has no other types.
pub fn matches(
    entity: &QuotaEntity,
    exact: &BTreeMap<&str, Option<&str>>,
    specified: &[&str],
    strict: bool,
) -> bool {
    let components = entity.components();
    if strict && components.len() != exact.len() + specified.len() {
        return false;
    }
    let get = |t: &str| components.iter().find(|(ct, _)| *ct == t).map(|(_, n)| *n);
    exact.iter().all(|(t, name)| get(t) == Some(*name))
        && specified.iter().all(|t| get(t).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(q: &mut Quotas, e: QuotaEntity, v: f64) {
        q.entry(e)
            .or_default()
            .insert(QuotaKey::ProducerByteRate, v);
    }

    #[test]
    fn precedence_is_kafkas() {
        let mut q = Quotas::new();
        set(&mut q, QuotaEntity::client(None), 8.0);
        let r = |q: &Quotas| resolve(q, QuotaKey::ProducerByteRate, "alice", "app").unwrap();
        assert_eq!(
            r(&q),
            (
                8.0,
                (QuotaKey::ProducerByteRate, String::new(), "app".into())
            )
        );
        set(&mut q, QuotaEntity::client(Some("app")), 7.0);
        assert_eq!(r(&q).0, 7.0);
        set(&mut q, QuotaEntity::user(None), 6.0);
        assert_eq!(
            r(&q),
            (
                6.0,
                (QuotaKey::ProducerByteRate, "alice".into(), String::new())
            )
        );
        set(&mut q, QuotaEntity::user_client(None, None), 5.0);
        assert_eq!(r(&q).0, 5.0);
        set(&mut q, QuotaEntity::user_client(None, Some("app")), 4.0);
        assert_eq!(r(&q).0, 4.0);
        set(&mut q, QuotaEntity::user(Some("alice")), 3.0);
        assert_eq!(
            r(&q),
            (
                3.0,
                (QuotaKey::ProducerByteRate, "alice".into(), String::new())
            )
        );
        set(&mut q, QuotaEntity::user_client(Some("alice"), None), 2.0);
        assert_eq!(r(&q).0, 2.0);
        set(
            &mut q,
            QuotaEntity::user_client(Some("alice"), Some("app")),
            1.0,
        );
        assert_eq!(
            r(&q),
            (
                1.0,
                (QuotaKey::ProducerByteRate, "alice".into(), "app".into())
            )
        );
        assert!(resolve(&q, QuotaKey::ConsumerByteRate, "alice", "app").is_none());
    }

    #[test]
    fn filters_match_as_kafkas_do() {
        let e = QuotaEntity::user_client(Some("alice"), None);
        let mut exact = BTreeMap::new();
        exact.insert("user", Some("alice"));
        assert!(matches(&e, &exact, &[], false));
        assert!(!matches(&e, &exact, &[], true));
        assert!(matches(&e, &exact, &["client-id"], true));
        exact.insert("client-id", Some("x"));
        assert!(!matches(&e, &exact, &[], false));
    }

    #[test]
    fn sensors_are_bounded_and_quotas_throttle() {
        let windows = QuotaWindows {
            max_tracked: 2,
            ..QuotaWindows::default()
        };
        let m = ClientQuotaManager::open(None, windows).unwrap();
        assert_eq!(m.record(QuotaKey::ProducerByteRate, "a", "c", 1e9, 0), 0);
        m.alter(&[(
            QuotaEntity::client(None),
            vec![(QuotaKey::ProducerByteRate, Some(100.0))],
        )])
        .unwrap();
        for c in ["c1", "c2", "c3", "c4"] {
            m.record(QuotaKey::ProducerByteRate, "a", c, 10.0, 0);
        }
        assert_eq!(m.tracked(), 2);
        assert!(m.record(QuotaKey::ProducerByteRate, "a", "c1", 5000.0, 0) > 0);
        m.alter(&[(
            QuotaEntity::client(None),
            vec![(QuotaKey::ProducerByteRate, None)],
        )])
        .unwrap();
        assert!(!m.enabled());
    }

    #[test]
    fn mutations_take_tokens_and_strict_refuses_once_below_zero() {
        let m = ClientQuotaManager::open(None, QuotaWindows::default()).unwrap();
        assert_eq!(m.record_mutations("u", "c", 5.0, true, 0), None);
        m.alter(&[(
            QuotaEntity::user(None),
            vec![(QuotaKey::ControllerMutationRate, Some(1.0))],
        )])
        .unwrap();
        // Burst: 1/s x 11 windows of 1 s = 11 tokens; 15 leave -4 (4 s to refill).
        assert_eq!(m.record_mutations("u", "c", 15.0, true, 0), Some(Ok(0)));
        assert_eq!(m.record_mutations("u", "c", 1.0, true, 0), Some(Err(4000)));
        assert_eq!(m.record_mutations("u", "c", 1.0, false, 0), Some(Ok(5000)));
        assert_eq!(m.record_mutations("u", "c", 1.0, true, 6000), Some(Ok(0)));
    }
}
