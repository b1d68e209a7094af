//! The broker's own metrics (`sluice_*` and `process_*`): one process-wide registry of
//! counters, gauges and histograms that any layer records into, and the text encoding
//! of it for `/metrics`.
//!
//! It sits below every other module (rank 0 in `layering_test.rs`) so the log, the
//! topics and the server can each record with one line, without handles threaded
//! through their constructors. It owns no broker state and never reads it: what is
//! computed from the broker at scrape time (kafka_exporter's families, log sizes) is
//! `crate::http::admin`'s. Recording is lock-free on the hot path (atomics behind the
//! families' read lock); label sets are bounded: requests by API x version x error
//! code, connections by listener, per-topic counters by the topics that exist.
//!
//! The families recorded here (type, labels):
//! - `sluice_requests_total` counter {api, version, error}
//! - `sluice_request_duration_seconds` histogram {api, stage}; stage is `queue`,
//!   `handle`, `remote`, `send` or `total` (see [`StageLabels`])
//! - `sluice_connections` gauge {listener}
//! - `sluice_topic_bytes_in_total`, `sluice_topic_bytes_out_total`,
//!   `sluice_topic_records_in_total`, `sluice_topic_records_out_total` counters {topic}
//! - `sluice_fsync_duration_seconds` histogram, `sluice_group_commit_offsets` histogram
//! - `sluice_group_rebalances_total` counter {group}
//! - `sluice_log_cleaner_runs_total`, `sluice_log_cleaner_cleaned_bytes_total` counters,
//!   `sluice_log_cleaner_duration_seconds` histogram
//! - `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//!   `process_virtual_memory_bytes`, `process_start_time_seconds`, `process_open_fds`,
//!   `process_max_fds`, `sluice_process_memory_maps` gauges ([`process`])
//!
//! Families computed from broker state at scrape time (kafka_exporter's, log sizes)
//! are listed in `crate::http::admin::exporter`.

pub mod process;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `sluice_requests_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub api: &'static str,
    pub version: i16,
    /// Kafka's error name (`NONE` for success).
    pub error: &'static str,
}

/// `sluice_request_duration_seconds` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub api: &'static str,
    /// Kafka's request stages: `queue`: frame read whole to handler start (behind the
    /// connection's earlier requests and the `queued.max.request.bytes` pool,
    /// RequestQueueTime); `handle`: handler start to return (LocalTime); `remote`: the
    /// wait after it for durability (acks=all produce, RemoteTime); `send`: answer
    /// ready to its last byte written, behind earlier answers included
    /// (ResponseQueueTime + ResponseSendTime); `total`: frame read to last byte
    /// written (handler return for a request without an answer; TotalTime).
    pub stage: &'static str,
}

/// `sluice_group_rebalances_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabels {
    pub group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    pub listener: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    /// The partition's own `Arc`: recording clones a pointer, never the name.
    pub topic: Arc<str>,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every family the broker records into, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Histograms<StageLabels>,
    pub connections: Family<ListenerLabels, Gauge>,
    pub topic_bytes_in: Family<TopicLabels, Counter>,
    pub topic_bytes_out: Family<TopicLabels, Counter>,
    pub topic_records_in: Family<TopicLabels, Counter>,
    pub topic_records_out: Family<TopicLabels, Counter>,
    pub fsync_duration: Histogram,
    pub group_commit_offsets: Histogram,
    /// Classic rebalances begun and consumer-group epoch bumps, per group; a deleted
    /// group's series is removed ([`Metrics::group_deleted`]).
    pub group_rebalances: Family<GroupLabels, Counter>,
    pub cleaner_runs: Counter,
    pub cleaner_bytes: Counter,
    pub cleaner_duration: Histogram,
}

/// 100 µs .. ~52 s, doubling: request and fsync latencies from page-cache speed to a
/// stalled disk.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

impl Metrics {
    /// A registry of its own; the broker records into [`global`] (tests use their own
    /// to read back exactly what they caused).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "sluice_requests",
            "Kafka requests answered, by API, version and error code of the answer",
            requests.clone(),
        );
        let request_duration: Histograms<StageLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "sluice_request_duration_seconds",
            "Kafka request latency by API and stage (queue, handle, remote, send, total)",
            request_duration.clone(),
        );
        let connections = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "sluice_connections",
            "Open client connections by listener",
            connections.clone(),
        );
        let topic_bytes_in = Family::<TopicLabels, Counter>::default();
        registry.register(
            "sluice_topic_bytes_in",
            "Record batch bytes appended to the topic's logs",
            topic_bytes_in.clone(),
        );
        let topic_bytes_out = Family::<TopicLabels, Counter>::default();
        registry.register(
            "sluice_topic_bytes_out",
            "Record batch bytes read from the topic's logs (fetches)",
            topic_bytes_out.clone(),
        );
        let topic_records_in = Family::<TopicLabels, Counter>::default();
        registry.register(
            "sluice_topic_records_in",
            "Records appended to the topic's logs",
            topic_records_in.clone(),
        );
        let topic_records_out = Family::<TopicLabels, Counter>::default();
        registry.register(
            "sluice_topic_records_out",
            "Records read from the topic's logs (fetches), counted per batch header",
            topic_records_out.clone(),
        );
        let fsync_duration = latency_histogram();
        registry.register(
            "sluice_fsync_duration_seconds",
            "Duration of each fdatasync of a partition's segments (group commit or flush)",
            fsync_duration.clone(),
        );
        let group_commit_offsets = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        registry.register(
            "sluice_group_commit_offsets",
            "Offsets one acks=all fsync made durable (group commit: how many appends shared it)",
            group_commit_offsets.clone(),
        );
        let group_rebalances = Family::<GroupLabels, Counter>::default();
        registry.register(
            "sluice_group_rebalances",
            "Rebalances per group: classic rebalances begun, consumer-group (KIP-848) epoch bumps",
            group_rebalances.clone(),
        );
        let cleaner_runs = Counter::default();
        registry.register(
            "sluice_log_cleaner_runs",
            "Log cleaner passes that replaced segments of a compacted partition",
            cleaner_runs.clone(),
        );
        let cleaner_bytes = Counter::default();
        registry.register(
            "sluice_log_cleaner_cleaned_bytes",
            "Bytes of segments the log cleaner rewrote (their size before cleaning)",
            cleaner_bytes.clone(),
        );
        let cleaner_duration = latency_histogram();
        registry.register(
            "sluice_log_cleaner_duration_seconds",
            "Duration of each log cleaner pass that replaced segments",
            cleaner_duration.clone(),
        );
        registry.register_collector(Box::new(process::ProcessCollector));
        Metrics {
            registry,
            requests,
            request_duration,
            connections,
            topic_bytes_in,
            topic_bytes_out,
            topic_records_in,
            topic_records_out,
            fsync_duration,
            group_commit_offsets,
            group_rebalances,
            cleaner_runs,
            cleaner_bytes,
            cleaner_duration,
        }
    }

    /// Counts a rebalance of `group`.
    pub fn rebalanced(&self, group: &str) {
        let labels = GroupLabels {
            group: group.to_string(),
        };
        self.group_rebalances.get_or_create(&labels).inc();
    }

    /// Forgets a deleted group's series, so deleted groups do not pile up series.
    pub fn group_deleted(&self, group: &str) {
        self.group_rebalances.remove(&GroupLabels {
            group: group.to_string(),
        });
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts records appended to `topic` (the log layer calls this once per append).
    pub fn appended(&self, topic: &Arc<str>, bytes: u64, records: u64) {
        let labels = TopicLabels {
            topic: topic.clone(),
        };
        self.topic_bytes_in.get_or_create(&labels).inc_by(bytes);
        self.topic_records_in.get_or_create(&labels).inc_by(records);
    }

    /// Counts record batches read from `topic`; `batches` are whole v2 record batches.
    pub fn read(&self, topic: &Arc<str>, batches: &[u8]) {
        if batches.is_empty() {
            return;
        }
        let labels = TopicLabels {
            topic: topic.clone(),
        };
        self.topic_bytes_out
            .get_or_create(&labels)
            .inc_by(batches.len() as u64);
        self.topic_records_out
            .get_or_create(&labels)
            .inc_by(records_in_batches(batches));
    }

    /// Forgets a deleted topic's counters, so deleted topics do not pile up series.
    pub fn topic_deleted(&self, topic: &str) {
        let labels = TopicLabels {
            topic: Arc::from(topic),
        };
        self.topic_bytes_in.remove(&labels);
        self.topic_bytes_out.remove(&labels);
        self.topic_records_in.remove(&labels);
        self.topic_records_out.remove(&labels);
    }

    /// Counts an open connection on `listener` until the guard is dropped.
    pub fn connection_opened(&self, listener: &str) -> ConnectionGuard {
        let gauge = self.connections.get_or_create_owned(&ListenerLabels {
            listener: listener.to_string(),
        });
        gauge.inc();
        ConnectionGuard { gauge }
    }

    /// Times one fsync; the duration is recorded when the guard is dropped.
    pub fn fsync_timer(&self) -> Timer<'_> {
        Timer {
            histogram: &self.fsync_duration,
            started: Instant::now(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// The process-wide metrics, created on first use.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

pub struct ConnectionGuard {
    gauge: Gauge,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

pub struct Timer<'a> {
    histogram: &'a Histogram,
    started: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

/// Records in a run of v2 record batches, from each header's `records_count` (bytes
/// 57..61; `batch_length` at 8..12 counts the bytes after byte 12). A truncated tail is
/// ignored: the count is a statistic, never a validation.
pub fn records_in_batches(mut buf: &[u8]) -> u64 {
    const HEADER: usize = 61;
    let mut records = 0u64;
    while buf.len() >= HEADER {
        let length = i32::from_be_bytes(buf[8..12].try_into().expect("4 bytes"));
        let count = i32::from_be_bytes(buf[57..61].try_into().expect("4 bytes"));
        let Some(next) = usize::try_from(length).ok().map(|l| l + 12) else {
            break;
        };
        if next < HEADER || next > buf.len() {
            break;
        }
        records += count.max(0) as u64;
        buf = &buf[next..];
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: i32, body: usize) -> Vec<u8> {
        let mut b = vec![0u8; 61 + body];
        let length = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&length.to_be_bytes());
        b[57..61].copy_from_slice(&records.to_be_bytes());
        b
    }

    #[test]
    fn records_are_counted_from_every_batch_header() {
        let mut buf = batch(3, 40);
        buf.extend(batch(5, 0));
        buf.extend(batch(7, 100));
        assert_eq!(records_in_batches(&buf), 15);
        // A torn tail and garbage lengths stop the count without a panic.
        assert_eq!(records_in_batches(&buf[..buf.len() - 1]), 8);
        let mut bad = batch(2, 0);
        bad[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(records_in_batches(&bad), 0);
        assert_eq!(records_in_batches(&[]), 0);
    }

    #[test]
    fn connection_guard_counts_open_connections() {
        let m = Metrics::new();
        let a = m.connection_opened("PLAINTEXT");
        let b = m.connection_opened("PLAINTEXT");
        let labels = ListenerLabels {
            listener: "PLAINTEXT".to_string(),
        };
        assert_eq!(m.connections.get_or_create(&labels).get(), 2);
        drop(a);
        drop(b);
        assert_eq!(m.connections.get_or_create(&labels).get(), 0);
    }
}
