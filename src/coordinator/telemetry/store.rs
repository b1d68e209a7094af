//! The latest values of the metrics clients pushed (KIP-714), per client instance, for
//! the admin side to re-export on /metrics: payload decoding (decompression bounded,
//! OTLP `MetricsData` through the opentelemetry-proto types) and a bounded store.
//!
//! Names: the OTLP metric name with every character Prometheus does not allow in a
//! metric name (dots included) turned into `_`. Labels: the data point's attributes
//! (keys sanitized the same way), to which the re-export adds `client_id` and
//! `client_instance_id`. Values: a gauge's last value; a sum's running total (clients
//! push deltas, since the broker asks for delta temporality as Kafka does, and the
//! deltas are added up here; a cumulative sum replaces it); a histogram's or
//! summary's `_count` and `_sum`.
//!
//! Bounds: at most `sluice.telemetry.max.client.instances` clients and
//! `sluice.telemetry.max.series` series in all (a new series beyond it is dropped and
//! counted); a series with more than [`MAX_LABELS`] labels or [`MAX_SERIES_KEY_BYTES`]
//! bytes of name and labels is dropped. A client's series expire with its instance,
//! a few push intervals after its last push. Nothing here is durable: the values are
//! the clients' own and come back with their next push.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, MetricsData, NumberDataPoint,
};
use parking_lot::Mutex;
use prost::Message;
use uuid::Uuid;

/// The most labels one series may carry (its own attributes).
pub const MAX_LABELS: usize = 16;
/// The most bytes of metric name, label names and label values one series may take.
pub const MAX_SERIES_KEY_BYTES: usize = 1024;
/// How many times `telemetry.max.bytes` a compressed payload may decompress to.
pub const MAX_DECOMPRESSION_RATIO: usize = 8;

/// Kafka's compression type ids (`CompressionType`).
pub const COMPRESSION_NONE: i8 = 0;
pub const COMPRESSION_GZIP: i8 = 1;
pub const COMPRESSION_SNAPPY: i8 = 2;
pub const COMPRESSION_LZ4: i8 = 3;
pub const COMPRESSION_ZSTD: i8 = 4;

/// One value a push carried, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The Prometheus name (sanitized OTLP name, with `_count`/`_sum` for histograms).
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// A delta to add to the stored value rather than a value to replace it with.
    pub delta: bool,
}

/// Decompresses a pushed payload (at most `max_bytes` out) and decodes its OTLP
/// `MetricsData`.
pub fn decode_payload(
    payload: &[u8],
    compression: i8,
    max_bytes: usize,
) -> Result<MetricsData, String> {
    let raw = decompress(payload, compression, max_bytes)?;
    MetricsData::decode(raw.as_slice()).map_err(|e| format!("not an OTLP MetricsData: {e}"))
}

fn read_bounded(mut r: impl Read, max_bytes: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    (&mut r)
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("decompression failed: {e}"))?;
    if out.len() > max_bytes {
        return Err(format!("decompresses to more than {max_bytes} bytes"));
    }
    Ok(out)
}

fn decompress(payload: &[u8], compression: i8, max_bytes: usize) -> Result<Vec<u8>, String> {
    match compression {
        COMPRESSION_NONE => Ok(payload.to_vec()),
        COMPRESSION_GZIP => read_bounded(flate2::read::GzDecoder::new(payload), max_bytes),
        COMPRESSION_ZSTD => read_bounded(
            zstd::stream::read::Decoder::new(payload).map_err(|e| e.to_string())?,
            max_bytes,
        ),
        COMPRESSION_LZ4 => read_bounded(
            lz4::Decoder::new(payload).map_err(|e| e.to_string())?,
            max_bytes,
        ),
        COMPRESSION_SNAPPY => snappy(payload, max_bytes),
        other => Err(format!("unknown compression type {other}")),
    }
}

/// Snappy as Kafka clients write it: xerial's framing (a magic header, then blocks
/// each preceded by its big-endian length), or one raw block.
fn snappy(payload: &[u8], max_bytes: usize) -> Result<Vec<u8>, String> {
    const XERIAL: &[u8] = b"\x82SNAPPY\0";
    let mut blocks: Vec<&[u8]> = Vec::new();
    if payload.starts_with(XERIAL) && payload.len() >= 16 {
        let mut rest = &payload[16..];
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err("truncated snappy block length".into());
            }
            let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4..];
            if rest.len() < n {
                return Err("truncated snappy block".into());
            }
            blocks.push(&rest[..n]);
            rest = &rest[n..];
        }
    } else {
        blocks.push(payload);
    }
    let mut out = Vec::new();
    for block in blocks {
        let n = snap::raw::decompress_len(block).map_err(|e| e.to_string())?;
        if out.len() + n > max_bytes {
            return Err(format!("decompresses to more than {max_bytes} bytes"));
        }
        out.extend(
            snap::raw::Decoder::new()
                .decompress_vec(block)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(out)
}

/// A Prometheus metric or label name from an OTLP one: every character outside
/// `[a-zA-Z0-9_]` (`:` too, reserved for recording rules) becomes `_`, and a leading
/// digit gets a `_` before it.
pub fn prometheus_name(otlp: &str) -> String {
    let mut out: String = otlp
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn attribute_labels(attributes: &[KeyValue]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => s.clone(),
                any_value::Value::BoolValue(b) => b.to_string(),
                any_value::Value::IntValue(i) => i.to_string(),
                any_value::Value::DoubleValue(d) => d.to_string(),
                _ => return None,
            };
            let key = prometheus_name(&kv.key);
            // The re-export's own labels win; `__` names are Prometheus's.
            if key == "client_id" || key == "client_instance_id" || key.starts_with("__") {
                return None;
            }
            Some((key, value))
        })
        .collect();
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    labels
}

fn number(p: &NumberDataPoint) -> Option<f64> {
    match p.value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

/// The points of every metric whose OTLP name `wanted` accepts.
pub fn points(data: &MetricsData, wanted: impl Fn(&str) -> bool) -> Vec<Point> {
    let mut out = Vec::new();
    let metrics = data
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics);
    for m in metrics {
        if !wanted(&m.name) {
            continue;
        }
        let name = prometheus_name(&m.name);
        let mut push = |name: String, attributes: &[KeyValue], value: f64, delta: bool| {
            out.push(Point {
                name,
                labels: attribute_labels(attributes),
                value,
                delta,
            })
        };
        match &m.data {
            Some(metric::Data::Gauge(g)) => {
                for p in &g.data_points {
                    if let Some(v) = number(p) {
                        push(name.clone(), &p.attributes, v, false);
                    }
                }
            }
            Some(metric::Data::Sum(s)) => {
                let delta = s.aggregation_temporality == AggregationTemporality::Delta as i32;
                for p in &s.data_points {
                    if let Some(v) = number(p) {
                        push(name.clone(), &p.attributes, v, delta);
                    }
                }
            }
            Some(metric::Data::Histogram(h)) => {
                let delta = h.aggregation_temporality == AggregationTemporality::Delta as i32;
                for p in &h.data_points {
                    push(
                        format!("{name}_count"),
                        &p.attributes,
                        p.count as f64,
                        delta,
                    );
                    if let Some(sum) = p.sum {
                        push(format!("{name}_sum"), &p.attributes, sum, delta);
                    }
                }
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                let delta = h.aggregation_temporality == AggregationTemporality::Delta as i32;
                for p in &h.data_points {
                    push(
                        format!("{name}_count"),
                        &p.attributes,
                        p.count as f64,
                        delta,
                    );
                    if let Some(sum) = p.sum {
                        push(format!("{name}_sum"), &p.attributes, sum, delta);
                    }
                }
            }
            Some(metric::Data::Summary(s)) => {
                for p in &s.data_points {
                    push(
                        format!("{name}_count"),
                        &p.attributes,
                        p.count as f64,
                        false,
                    );
                    push(format!("{name}_sum"), &p.attributes, p.sum, false);
                }
            }
            None => {}
        }
    }
    out
}

/// One series as /metrics shows it (the instance id as Kafka prints Uuids).
#[derive(Clone, Debug, PartialEq)]
pub struct ExportedSeries {
    pub name: String,
    /// `client_id`, `client_instance_id`, then the metric's own labels.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

type SeriesKey = (String, Vec<(String, String)>);

struct ClientSeries {
    client_id: String,
    expires_at_ms: i64,
    series: BTreeMap<SeriesKey, f64>,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<Uuid, ClientSeries>,
    series: usize,
    /// Series refused by the bounds since start-up.
    dropped: u64,
}

/// The bounded store of the latest pushed values.
pub struct MetricStore {
    max_clients: usize,
    max_series: usize,
    inner: Mutex<Inner>,
}

/// What one [`MetricStore::record`] did.
#[derive(Debug, Default, PartialEq)]
pub struct Recorded {
    pub stored: usize,
    pub dropped: usize,
}

impl MetricStore {
    pub fn new(max_clients: usize, max_series: usize) -> MetricStore {
        MetricStore {
            max_clients,
            max_series,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Stores a push's points for a client instance, kept until `expires_at_ms`
    /// (pushed again later). A new client beyond the bound evicts the one closest to
    /// expiring; a new series beyond the bound is dropped.
    pub fn record(
        &self,
        instance: Uuid,
        client_id: &str,
        expires_at_ms: i64,
        now_ms: i64,
        points: Vec<Point>,
    ) -> Recorded {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        if !inner.clients.contains_key(&instance) {
            if self.max_clients == 0 {
                inner.dropped += points.len() as u64;
                return Recorded {
                    stored: 0,
                    dropped: points.len(),
                };
            }
            expire(inner, now_ms);
            if inner.clients.len() >= self.max_clients {
                let oldest = inner
                    .clients
                    .iter()
                    .min_by_key(|(_, c)| c.expires_at_ms)
                    .map(|(id, _)| *id);
                if let Some(id) = oldest {
                    remove(inner, &id);
                }
            }
        }
        let client = inner
            .clients
            .entry(instance)
            .or_insert_with(|| ClientSeries {
                client_id: String::new(),
                expires_at_ms,
                series: BTreeMap::new(),
            });
        client.client_id = client_id.to_string();
        client.expires_at_ms = expires_at_ms;
        let mut done = Recorded::default();
        for p in points {
            let key_bytes = p.name.len()
                + p.labels
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>();
            if p.labels.len() > MAX_LABELS || key_bytes > MAX_SERIES_KEY_BYTES {
                done.dropped += 1;
                continue;
            }
            let key = (p.name, p.labels);
            match client.series.get_mut(&key) {
                Some(v) if p.delta => *v += p.value,
                Some(v) => *v = p.value,
                None if inner.series < self.max_series => {
                    client.series.insert(key, p.value);
                    inner.series += 1;
                }
                None => {
                    done.dropped += 1;
                    continue;
                }
            }
            done.stored += 1;
        }
        inner.dropped += done.dropped as u64;
        done
    }

    /// Forgets a client instance's series.
    pub fn remove(&self, instance: &Uuid) {
        remove(&mut self.inner.lock(), instance);
    }

    /// Every live series, sorted by name then labels; expired clients are dropped.
    pub fn snapshot(&self, now_ms: i64) -> Vec<ExportedSeries> {
        let mut inner = self.inner.lock();
        expire(&mut inner, now_ms);
        let mut out = Vec::with_capacity(inner.series);
        for (id, c) in &inner.clients {
            for ((name, labels), value) in &c.series {
                let mut all = vec![
                    ("client_id".to_string(), c.client_id.clone()),
                    ("client_instance_id".to_string(), super::kafka_uuid(*id)),
                ];
                all.extend(labels.iter().cloned());
                out.push(ExportedSeries {
                    name: name.clone(),
                    labels: all,
                    value: *value,
                });
            }
        }
        out.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        out
    }

    /// (client instances, series) held now.
    pub fn sizes(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.clients.len(), inner.series)
    }

    /// Series refused by the bounds since start-up.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().dropped
    }
}

fn remove(inner: &mut Inner, id: &Uuid) {
    if let Some(c) = inner.clients.remove(id) {
        inner.series -= c.series.len();
    }
}

fn expire(inner: &mut Inner, now_ms: i64) {
    let expired: Vec<Uuid> = inner
        .clients
        .iter()
        .filter(|(_, c)| c.expires_at_ms <= now_ms)
        .map(|(id, _)| *id)
        .collect();
    for id in expired {
        remove(inner, &id);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, ResourceMetrics, ScopeMetrics, Sum,
    };

    use super::*;

    fn point(name: &str, value: f64, delta: bool) -> Point {
        Point {
            name: name.into(),
            labels: vec![],
            value,
            delta,
        }
    }

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn data() -> MetricsData {
        let dp = |v: f64, attrs: Vec<KeyValue>| NumberDataPoint {
            attributes: attrs,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        };
        MetricsData {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "org.apache.kafka.producer.node.request.latency.avg".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![dp(
                                    2.5,
                                    vec![kv("node.id", "1"), kv("client_id", "x")],
                                )],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "org.apache.kafka.producer.connection.creation.total".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: vec![dp(3.0, vec![])],
                                aggregation_temporality: AggregationTemporality::Delta as i32,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "other.metric".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![dp(1.0, vec![])],
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn decodes_every_compression_and_filters_by_name() {
        let raw = data().encode_to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let gz = gz.finish().unwrap();
        let zstd = zstd::encode_all(raw.as_slice(), 1).unwrap();
        let snappy = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let mut lz4 = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
        std::io::Write::write_all(&mut lz4, &raw).unwrap();
        let (lz4, _) = lz4.finish();
        for (c, bytes) in [
            (COMPRESSION_NONE, &raw),
            (COMPRESSION_GZIP, &gz),
            (COMPRESSION_ZSTD, &zstd),
            (COMPRESSION_SNAPPY, &snappy),
            (COMPRESSION_LZ4, &lz4),
        ] {
            let d = decode_payload(bytes, c, 1 << 20).unwrap_or_else(|e| panic!("{c}: {e}"));
            let p = points(&d, |n| n.starts_with("org.apache.kafka.producer."));
            assert_eq!(p.len(), 2, "compression {c}");
            assert_eq!(
                p[0].name,
                "org_apache_kafka_producer_node_request_latency_avg"
            );
            // The client's own attributes, sanitized; `client_id` is the re-export's.
            assert_eq!(p[0].labels, vec![("node_id".to_string(), "1".to_string())]);
            assert!(p[1].delta);
        }
        // A payload that decompresses past the bound is refused, not inflated.
        let big = zstd::encode_all(vec![0u8; 100_000].as_slice(), 1).unwrap();
        assert!(decode_payload(&big, COMPRESSION_ZSTD, 50_000).is_err());
        assert!(decode_payload(b"\xff\xff", COMPRESSION_NONE, 100).is_err());
    }

    #[test]
    fn sums_accumulate_deltas_gauges_replace() {
        let s = MetricStore::new(10, 10);
        let id = Uuid::new_v4();
        s.record(
            id,
            "c",
            1000,
            0,
            vec![point("sum", 3.0, true), point("g", 1.0, false)],
        );
        s.record(
            id,
            "c",
            1000,
            0,
            vec![point("sum", 2.0, true), point("g", 7.0, false)],
        );
        let snap = s.snapshot(10);
        assert_eq!(snap.len(), 2);
        assert_eq!((snap[0].name.as_str(), snap[0].value), ("g", 7.0));
        assert_eq!((snap[1].name.as_str(), snap[1].value), ("sum", 5.0));
        assert_eq!(
            snap[0].labels[0],
            ("client_id".to_string(), "c".to_string())
        );
        assert_eq!(snap[0].labels[1].1, super::super::kafka_uuid(id));
    }

    #[test]
    fn series_and_clients_are_bounded_and_expire() {
        let s = MetricStore::new(2, 3);
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let r = s.record(
            a,
            "a",
            100,
            0,
            vec![point("x", 1.0, false), point("y", 1.0, false)],
        );
        assert_eq!(
            r,
            Recorded {
                stored: 2,
                dropped: 0
            }
        );
        let r = s.record(
            b,
            "b",
            200,
            0,
            vec![point("x", 1.0, false), point("y", 1.0, false)],
        );
        assert_eq!(
            r,
            Recorded {
                stored: 1,
                dropped: 1
            }
        );
        assert_eq!(s.sizes(), (2, 3));
        // A third client evicts the one closest to expiring (a), freeing its series.
        let r = s.record(c, "c", 300, 0, vec![point("x", 1.0, false)]);
        assert_eq!(
            r,
            Recorded {
                stored: 1,
                dropped: 0
            }
        );
        assert_eq!(s.sizes(), (2, 2));
        // Oversized labels are dropped.
        let mut p = point("z", 1.0, false);
        p.labels = (0..=MAX_LABELS)
            .map(|i| (format!("l{i}"), "v".into()))
            .collect();
        assert_eq!(s.record(c, "c", 300, 0, vec![p]).dropped, 1);
        assert_eq!(s.dropped(), 2);
        // Expiry.
        assert_eq!(s.snapshot(250).len(), 1);
        assert_eq!(s.sizes(), (1, 1));
        assert!(s.snapshot(300).is_empty());
        assert_eq!(s.sizes(), (0, 0));
    }

    #[test]
    fn prometheus_names() {
        assert_eq!(
            prometheus_name("org.apache.kafka.a-b"),
            "org_apache_kafka_a_b"
        );
        assert_eq!(prometheus_name("1x"), "_1x");
        assert_eq!(prometheus_name(""), "_");
    }
}
