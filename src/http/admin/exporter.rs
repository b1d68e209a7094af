//! kafka_exporter's metric families, computed at scrape time from the broker's own
//! state (topic registry, group coordinator) instead of over the Kafka protocol, plus
//! the per-partition `sluice_log_*` gauges read in the same pass.
//!
//! Names, labels and semantics are kafka_exporter's with its defaults
//! (`--offset.show-all=true`, no topic or group filter), so its dashboards and alert
//! rules work unchanged:
//! - every topic is reported, internal ones included; `current_offset` is the high
//!   watermark (ListOffsets latest), `oldest_offset` the log start offset;
//! - every group ListGroups returns is reported, members or not;
//! - a group's topic is reported only if the group committed an offset for at least one
//!   of its partitions; then each partition has `current_offset` (-1 where the group
//!   never committed) and `lag` (high watermark minus committed, -1 where it never
//!   committed); `lag_sum` adds the lags of the committed partitions and
//!   `current_offset_sum` the current offsets (the -1s included, as kafka_exporter
//!   does).
//!
//! Cardinality: only the first `sluice.metrics.max.partition.series` partitions (in
//! topic-name order) get per-partition series; the per-topic ones cover all partitions.
//! Beside them, from the same pass: `sluice_log_size_bytes`, `sluice_log_segments` and
//! `sluice_log_last_stable_offset_lag` {topic, partition} (and `sluice_topic_log_size_bytes`
//! {topic}), `sluice_transactions_open`, `sluice_producer_ids`, and
//! `sluice_share_group_acquired_records` {group}; and the log's `sluice_log_open_files`
//! and `sluice_log_mmaps` against their budgets.
//!
//! This module only reads: it takes each partition's lock once, briefly, and never
//! writes anything.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::broker::Broker;

/// One partition as a scrape sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionView {
    pub partition: i32,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub size_bytes: u64,
    pub segments: usize,
}

/// One consumer group as a scrape sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupView {
    pub group_id: String,
    pub members: usize,
    /// Committed offsets by (topic, partition).
    pub committed: HashMap<(String, i32), i64>,
}

/// Everything one scrape reports, read once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub node_id: i32,
    pub address: String,
    /// Topic name -> its partitions in index order.
    pub topics: BTreeMap<String, Vec<PartitionView>>,
    pub groups: Vec<GroupView>,
    /// Transactions begun and not yet completed (Ongoing or preparing their end).
    pub open_transactions: usize,
    /// Producer ids the partitions remember, summed over partitions.
    pub producer_ids: usize,
    /// Share group -> records its members hold acquired.
    pub share_acquired: BTreeMap<String, usize>,
}

impl Snapshot {
    pub fn read(broker: &Broker) -> Snapshot {
        let mut topics = BTreeMap::new();
        let mut producer_ids = 0;
        for topic in broker.topics.list() {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    producer_ids += p.producer_count();
                    let marks = p.watermarks();
                    let (size_bytes, segments) = p.log_size_and_segments();
                    PartitionView {
                        partition: p.index,
                        log_start_offset: marks.log_start_offset,
                        high_watermark: marks.high_watermark,
                        last_stable_offset: marks.last_stable_offset,
                        size_bytes,
                        segments,
                    }
                })
                .collect();
            topics.insert(topic.name.to_string(), partitions);
        }
        let groups = broker
            .groups
            .list_groups()
            .into_iter()
            .map(|g| {
                let members = broker
                    .groups
                    .describe_group(&g.group_id)
                    .map_or(0, |d| d.members.len());
                let committed = broker
                    .groups
                    .fetch_offsets(&g.group_id, None)
                    .into_iter()
                    .filter_map(|(tp, o)| o.map(|o| (tp, o.offset)))
                    .collect();
                GroupView {
                    group_id: g.group_id,
                    members,
                    committed,
                }
            })
            .collect();
        let config = &broker.config;
        use crate::coordinator::transaction::metadata::TransactionState as T;
        let open = [
            T::Ongoing,
            T::PrepareCommit,
            T::PrepareAbort,
            T::PrepareEpochFence,
        ];
        Snapshot {
            node_id: config.node_id,
            address: format!("{}:{}", config.advertised_host, config.advertised_port),
            topics,
            groups,
            open_transactions: broker.transactions.list(&open, &[], -1).len(),
            producer_ids,
            share_acquired: broker.share.acquired_records_by_group(),
        }
    }
}

/// A group's series for one topic (kafka_exporter's consumer-group block).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupTopicSeries {
    pub topic: String,
    /// (partition, committed offset or -1, lag or -1) for every partition of the topic.
    pub partitions: Vec<(i32, i64, i64)>,
    pub current_offset_sum: i64,
    pub lag_sum: i64,
}

/// kafka_exporter's computation for one group: topics without any commit are left out;
/// in the others, never-committed partitions show -1 and are not added to `lag_sum`.
pub fn group_series(
    group: &GroupView,
    topics: &BTreeMap<String, Vec<PartitionView>>,
) -> Vec<GroupTopicSeries> {
    let mut out = Vec::new();
    for (topic, partitions) in topics {
        let committed = |p: i32| group.committed.get(&(topic.clone(), p)).copied();
        if !partitions.iter().any(|p| committed(p.partition).is_some()) {
            continue;
        }
        let mut series = GroupTopicSeries {
            topic: topic.clone(),
            partitions: Vec::with_capacity(partitions.len()),
            current_offset_sum: 0,
            lag_sum: 0,
        };
        for p in partitions {
            let (current, lag) = match committed(p.partition) {
                Some(offset) => {
                    let lag = p.high_watermark - offset;
                    series.lag_sum += lag;
                    (offset, lag)
                }
                None => (-1, -1),
            };
            series.current_offset_sum += current;
            series.partitions.push((p.partition, current, lag));
        }
        out.push(series);
    }
    out
}

/// Encodes a snapshot; built per scrape.
pub struct KafkaCollector {
    pub broker: Arc<Broker>,
    pub max_partition_series: usize,
}

impl std::fmt::Debug for KafkaCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaCollector").finish_non_exhaustive()
    }
}

impl Collector for KafkaCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encode_log_files(&mut encoder)?;
        encode_snapshot(
            &Snapshot::read(&self.broker),
            self.max_partition_series,
            encoder,
        )
    }
}

type Labels = Vec<(&'static str, String)>;

/// The log's descriptors and maps against their budgets (`crate::log::file_cache`).
fn encode_log_files(enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let cache = crate::log::file_cache::global();
    let clamp = |v: usize| v.min(i64::MAX as usize) as i64;
    let families: [(&str, &str, usize); 4] = [
        ("sluice_log_open_files", "File descriptors the log holds (segments' .log files)", cache.open_files()),
        ("sluice_log_mmaps", "Memory maps the log holds (segments' .log, .index and .timeindex), including those only in-flight reads keep", cache.mmaps()),
        ("sluice_log_max_open_files", "Budget of file descriptors for the log (sluice.log.max.open.files)", cache.max_open_files()),
        ("sluice_log_max_mmaps", "Budget of memory maps for the log (sluice.log.max.mmaps)", cache.max_mmaps()),
    ];
    for (name, help, value) in families {
        gauge(enc, name, help, [(vec![], clamp(value))])?;
    }
    Ok(())
}

fn gauge<I>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: I,
) -> Result<(), std::fmt::Error>
where
    I: IntoIterator<Item = (Labels, i64)>,
{
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        let sample = family.encode_family(&labels)?;
        ConstGauge::new(value).encode(sample)?;
    }
    Ok(())
}

fn topic_labels(topic: &str) -> Labels {
    vec![("topic", topic.to_string())]
}

fn partition_labels(topic: &str, partition: i32) -> Labels {
    vec![
        ("topic", topic.to_string()),
        ("partition", partition.to_string()),
    ]
}

/// Writes every family of the snapshot. Per-partition series only for the first
/// `max_partitions` partitions in (topic, partition) order.
pub fn encode_snapshot(
    s: &Snapshot,
    max_partitions: usize,
    mut encoder: DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let enc = &mut encoder;
    // The partitions that get their own series.
    let shown: Vec<(&str, &PartitionView)> = s
        .topics
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), p)))
        .take(max_partitions)
        .collect();
    let is_shown = |topic: &str, partition: i32| {
        shown
            .binary_search_by(|(t, p)| (*t, p.partition).cmp(&(topic, partition)))
            .is_ok()
    };
    gauge(
        enc,
        "kafka_brokers",
        "Brokers in the cluster",
        [(vec![], 1)],
    )?;
    gauge(
        enc,
        "kafka_broker_info",
        "A broker of the cluster (id, address)",
        [(
            vec![
                ("id", s.node_id.to_string()),
                ("address", s.address.clone()),
            ],
            1,
        )],
    )?;
    gauge(
        enc,
        "kafka_topic_partitions",
        "Partitions of the topic",
        s.topics
            .iter()
            .map(|(t, ps)| (topic_labels(t), ps.len() as i64)),
    )?;
    let per_partition = |f: fn(&PartitionView, i32) -> i64, node: i32| {
        shown
            .iter()
            .map(move |(t, p)| (partition_labels(t, p.partition), f(p, node)))
    };
    gauge(
        enc,
        "kafka_topic_partition_current_offset",
        "High watermark of the partition (the offset the next record gets)",
        per_partition(|p, _| p.high_watermark, s.node_id),
    )?;
    gauge(
        enc,
        "kafka_topic_partition_oldest_offset",
        "Log start offset of the partition",
        per_partition(|p, _| p.log_start_offset, s.node_id),
    )?;
    gauge(
        enc,
        "kafka_topic_partition_leader",
        "Broker id of the partition's leader",
        per_partition(|_, node| node as i64, s.node_id),
    )?;
    gauge(
        enc,
        "kafka_topic_partition_replicas",
        "Replicas of the partition",
        per_partition(|_, _| 1, s.node_id),
    )?;
    gauge(
        enc,
        "kafka_topic_partition_in_sync_replica",
        "In-sync replicas of the partition",
        per_partition(|_, _| 1, s.node_id),
    )?;
    gauge(
        enc,
        "kafka_topic_partition_leader_is_preferred",
        "1 when the partition's leader is its preferred replica",
        per_partition(|_, _| 1, s.node_id),
    )?;
    gauge(
        enc,
        "kafka_topic_partition_under_replicated_partition",
        "1 when the partition has fewer in-sync replicas than replicas",
        per_partition(|_, _| 0, s.node_id),
    )?;

    gauge(
        enc,
        "sluice_transactions_open",
        "Transactions begun and not completed (Ongoing, PrepareCommit, PrepareAbort)",
        [(vec![], s.open_transactions as i64)],
    )?;
    gauge(
        enc,
        "sluice_producer_ids",
        "Producer ids whose state the partitions keep, summed over partitions",
        [(vec![], s.producer_ids as i64)],
    )?;
    gauge(
        enc,
        "sluice_share_group_acquired_records",
        "Records a share group's members hold acquired (in flight, not yet acknowledged)",
        s.share_acquired
            .iter()
            .map(|(g, n)| (vec![("group", g.clone())], *n as i64)),
    )?;

    let series: Vec<(&GroupView, Vec<GroupTopicSeries>)> = s
        .groups
        .iter()
        .map(|g| (g, group_series(g, &s.topics)))
        .collect();
    let group_partition = |f: fn(&(i32, i64, i64)) -> i64| {
        series.iter().flat_map(move |(g, topics)| {
            topics.iter().flat_map(move |t| {
                t.partitions
                    .iter()
                    .filter(move |p| is_shown(&t.topic, p.0))
                    .map(move |p| {
                        (
                            vec![
                                ("consumergroup", g.group_id.clone()),
                                ("topic", t.topic.clone()),
                                ("partition", p.0.to_string()),
                            ],
                            f(p),
                        )
                    })
            })
        })
    };
    let group_topic = |f: fn(&GroupTopicSeries) -> i64| {
        series.iter().flat_map(move |(g, topics)| {
            topics.iter().map(move |t| {
                (
                    vec![
                        ("consumergroup", g.group_id.clone()),
                        ("topic", t.topic.clone()),
                    ],
                    f(t),
                )
            })
        })
    };
    gauge(
        enc,
        "kafka_consumergroup_current_offset",
        "Committed offset of the group in the partition (-1: never committed)",
        group_partition(|p| p.1),
    )?;
    gauge(
        enc,
        "kafka_consumergroup_current_offset_sum",
        "Sum of the group's current offsets over the topic's partitions",
        group_topic(|t| t.current_offset_sum),
    )?;
    gauge(
        enc,
        "kafka_consumergroup_lag",
        "High watermark minus the group's committed offset in the partition (-1: never committed)",
        group_partition(|p| p.2),
    )?;
    gauge(
        enc,
        "kafka_consumergroup_lag_sum",
        "Sum of the group's lag over the topic's committed partitions",
        group_topic(|t| t.lag_sum),
    )?;
    gauge(
        enc,
        "kafka_consumergroup_members",
        "Members of the consumer group",
        s.groups.iter().map(|g| {
            (
                vec![("consumergroup", g.group_id.clone())],
                g.members as i64,
            )
        }),
    )?;

    gauge(
        enc,
        "sluice_log_size_bytes",
        "Bytes of the partition's segments on disk",
        shown
            .iter()
            .map(|(t, p)| (partition_labels(t, p.partition), p.size_bytes as i64)),
    )?;
    gauge(
        enc,
        "sluice_log_segments",
        "Segments of the partition's log",
        shown
            .iter()
            .map(|(t, p)| (partition_labels(t, p.partition), p.segments as i64)),
    )?;
    gauge(
        enc,
        "sluice_log_last_stable_offset_lag",
        "High watermark minus last stable offset: records held back from read_committed consumers by open transactions",
        shown.iter().map(|(t, p)| {
            (
                partition_labels(t, p.partition),
                p.high_watermark - p.last_stable_offset,
            )
        }),
    )?;
    gauge(
        enc,
        "sluice_topic_log_size_bytes",
        "Bytes of all the topic's segments on disk",
        s.topics.iter().map(|(t, ps)| {
            (
                topic_labels(t),
                ps.iter().map(|p| p.size_bytes as i64).sum::<i64>(),
            )
        }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    fn partition(partition: i32, high_watermark: i64) -> PartitionView {
        PartitionView {
            partition,
            log_start_offset: 0,
            high_watermark,
            last_stable_offset: high_watermark,
            size_bytes: 100,
            segments: 1,
        }
    }

    fn snapshot() -> Snapshot {
        let mut topics = BTreeMap::new();
        topics.insert(
            "orders".to_string(),
            vec![partition(0, 10), partition(1, 20), partition(2, 5)],
        );
        topics.insert("other".to_string(), vec![partition(0, 7)]);
        let committed = [
            (("orders".to_string(), 0), 4),
            (("orders".to_string(), 1), 20),
        ]
        .into_iter()
        .collect();
        Snapshot {
            node_id: 1,
            address: "127.0.0.1:9092".into(),
            open_transactions: 1,
            producer_ids: 3,
            share_acquired: [("workers".to_string(), 5)].into_iter().collect(),
            topics,
            groups: vec![
                GroupView {
                    group_id: "g".into(),
                    members: 0,
                    committed,
                },
                GroupView {
                    group_id: "idle".into(),
                    members: 0,
                    committed: HashMap::new(),
                },
            ],
        }
    }

    #[test]
    fn lag_follows_kafka_exporter() {
        let s = snapshot();
        let series = group_series(&s.groups[0], &s.topics);
        // "other" has no commit: no series at all.
        assert_eq!(series.len(), 1);
        let orders = &series[0];
        assert_eq!(orders.topic, "orders");
        assert_eq!(orders.partitions, vec![(0, 4, 6), (1, 20, 0), (2, -1, -1)]);
        // The never-committed partition is not in lag_sum, but its -1 is in
        // current_offset_sum (kafka_exporter adds it).
        assert_eq!(orders.lag_sum, 6);
        assert_eq!(orders.current_offset_sum, 23);
        assert!(group_series(&s.groups[1], &s.topics).is_empty());
    }

    #[derive(Debug)]
    struct Fixed(Snapshot, usize);
    impl Collector for Fixed {
        fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            encode_snapshot(&self.0, self.1, encoder)
        }
    }

    fn exposition(max: usize) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Fixed(snapshot(), max)));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn exposition_has_kafka_exporters_names_and_labels() {
        let text = exposition(usize::MAX);
        for line in [
            "# TYPE kafka_brokers gauge",
            "kafka_brokers 1",
            "kafka_topic_partitions{topic=\"orders\"} 3",
            "kafka_topic_partition_current_offset{topic=\"orders\",partition=\"1\"} 20",
            "kafka_topic_partition_oldest_offset{topic=\"other\",partition=\"0\"} 0",
            "kafka_topic_partition_leader{topic=\"orders\",partition=\"2\"} 1",
            "kafka_topic_partition_replicas{topic=\"orders\",partition=\"2\"} 1",
            "kafka_topic_partition_in_sync_replica{topic=\"orders\",partition=\"2\"} 1",
            "kafka_consumergroup_current_offset{consumergroup=\"g\",topic=\"orders\",partition=\"2\"} -1",
            "kafka_consumergroup_lag{consumergroup=\"g\",topic=\"orders\",partition=\"0\"} 6",
            "kafka_consumergroup_lag{consumergroup=\"g\",topic=\"orders\",partition=\"2\"} -1",
            "kafka_consumergroup_lag_sum{consumergroup=\"g\",topic=\"orders\"} 6",
            "kafka_consumergroup_members{consumergroup=\"g\"} 0",
            "kafka_consumergroup_members{consumergroup=\"idle\"} 0",
            "sluice_log_segments{topic=\"orders\",partition=\"0\"} 1",
            "sluice_topic_log_size_bytes{topic=\"orders\"} 300",
            "sluice_transactions_open 1",
            "sluice_producer_ids 3",
            "sluice_share_group_acquired_records{group=\"workers\"} 5",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("consumergroup=\"g\",topic=\"other\""));
        assert!(!text.contains("consumergroup=\"idle\",topic="));
    }

    #[test]
    fn per_partition_series_are_capped_per_topic_series_are_not() {
        let text = exposition(2);
        let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(count("kafka_topic_partition_current_offset{"), 2);
        assert_eq!(count("kafka_consumergroup_lag{"), 2);
        assert_eq!(count("sluice_log_size_bytes{"), 2);
        assert_eq!(count("kafka_topic_partitions{"), 2);
        assert!(
            text.contains("kafka_consumergroup_lag_sum{consumergroup=\"g\",topic=\"orders\"} 6")
        );
        let none = exposition(0);
        assert_eq!(
            none.lines()
                .filter(|l| l.starts_with("kafka_topic_partition_current_offset{"))
                .count(),
            0
        );
    }
}
