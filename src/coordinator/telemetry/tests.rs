//! The manager's KIP-714 answers on a manual clock: matching, throttling, the push
//! checks in Kafka's order, re-evaluation after a change, durability and bounds.

use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, MetricsData, NumberDataPoint, ResourceMetrics,
    ScopeMetrics,
};
use prost::Message;

use super::*;

fn config() -> TelemetryConfig {
    TelemetryConfig {
        max_bytes: 1 << 20,
        max_client_instances: 100,
        max_series: 1000,
        max_subscriptions: 10,
    }
}

fn manager(dir: &Path, config: TelemetryConfig) -> (ClientMetricsManager, Clock) {
    let clock = Clock::manual(1_000_000);
    (
        ClientMetricsManager::open(dir, config, clock.clone()).unwrap(),
        clock,
    )
}

fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn client(id: &str) -> ClientInfo {
    ClientInfo {
        client_id: Some(id.into()),
        software_name: Some("librdkafka".into()),
        software_version: Some("2.16.0".into()),
        source_address: "127.0.0.1".into(),
        source_port: 50000,
    }
}

fn payload(names: &[&str]) -> Vec<u8> {
    MetricsData {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: names
                    .iter()
                    .map(|n| Metric {
                        name: n.to_string(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                value: Some(number_data_point::Value::AsInt(7)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn push<'a>(a: &SubscriptionAnswer, metrics: &'a [u8]) -> Push<'a> {
    Push {
        client_instance_id: a.client_instance_id,
        subscription_id: a.subscription_id,
        terminating: false,
        compression_type: 0,
        metrics,
    }
}

#[test]
fn no_matching_subscription_means_no_metrics_and_the_default_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = manager(dir.path(), config());
    let a = m.get_subscriptions(Uuid::nil(), &client("c")).unwrap();
    assert!(!a.client_instance_id.is_nil());
    assert!(a.requested_metrics.is_empty());
    assert_eq!(a.push_interval_ms, DEFAULT_INTERVAL_MS);
    assert_eq!(a.telemetry_max_bytes, 1 << 20);
}

#[test]
fn matched_subscriptions_merge_and_pushes_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (m, clock) = manager(dir.path(), config());
    m.set_resource(
        "producers",
        settings(&[
            ("metrics", "org.apache.kafka.producer."),
            ("interval.ms", "1000"),
            ("match", "client_id=prod.*"),
        ]),
        false,
    )
    .unwrap();
    m.set_resource(
        "slow",
        settings(&[
            ("metrics", "org.apache.kafka.consumer."),
            ("interval.ms", "5000"),
        ]),
        false,
    )
    .unwrap();
    m.set_resource(
        "other",
        settings(&[("metrics", "*"), ("match", "client_id=nobody")]),
        false,
    )
    .unwrap();
    let a = m.get_subscriptions(Uuid::nil(), &client("prod-1")).unwrap();
    assert_eq!(
        a.requested_metrics,
        vec!["org.apache.kafka.consumer.", "org.apache.kafka.producer."]
    );
    assert_eq!(a.push_interval_ms, 1000);
    // A push right after the get is accepted; only the subscribed metrics are kept.
    let body = payload(&[
        "org.apache.kafka.producer.record.send.rate",
        "unrequested.metric",
    ]);
    m.push(&push(&a, &body), &client("prod-1")).unwrap();
    let series = m.store().snapshot(clock.now_ms());
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].name, "org_apache_kafka_producer_record_send_rate");
    assert_eq!(series[0].labels[0], ("client_id".into(), "prod-1".into()));
    // Too soon for the next push, and for the next get.
    let e = m.push(&push(&a, &body), &client("prod-1")).unwrap_err();
    assert_eq!(e.error, ResponseError::ThrottlingQuotaExceeded);
    let e = m
        .get_subscriptions(a.client_instance_id, &client("prod-1"))
        .unwrap_err();
    assert_eq!(e.error, ResponseError::ThrottlingQuotaExceeded);
    clock.advance(Duration::from_millis(1000));
    m.push(&push(&a, &body), &client("prod-1")).unwrap();
}

#[test]
fn push_errors_follow_kafkas_order() {
    let dir = tempfile::tempdir().unwrap();
    let (m, clock) = manager(
        dir.path(),
        TelemetryConfig {
            max_bytes: 100,
            ..config()
        },
    );
    m.set_resource(
        "all",
        settings(&[("metrics", "*"), ("interval.ms", "100")]),
        false,
    )
    .unwrap();
    let c = client("c");
    let a = m.get_subscriptions(Uuid::nil(), &c).unwrap();
    let mut p = push(&a, &[]);
    p.client_instance_id = Uuid::nil();
    assert_eq!(
        m.push(&p, &c).unwrap_err().error,
        ResponseError::InvalidRequest
    );
    let mut p = push(&a, &[]);
    p.subscription_id ^= 1;
    assert_eq!(
        m.push(&p, &c).unwrap_err().error,
        ResponseError::UnknownSubscriptionId
    );
    // After UNKNOWN_SUBSCRIPTION_ID a get is allowed at once (well before the interval).
    clock.advance(Duration::from_millis(1));
    let a = m.get_subscriptions(a.client_instance_id, &c).unwrap();
    let big = vec![0u8; 101];
    assert_eq!(
        m.push(&push(&a, &big), &c).unwrap_err().error,
        ResponseError::TelemetryTooLarge
    );
    clock.advance(Duration::from_millis(100));
    let mut p = push(&a, &[]);
    p.compression_type = 9;
    assert_eq!(
        m.push(&p, &c).unwrap_err().error,
        ResponseError::UnsupportedCompressionType
    );
    clock.advance(Duration::from_millis(100));
    assert_eq!(
        m.push(&push(&a, b"\xff\xff\xff"), &c).unwrap_err().error,
        ResponseError::InvalidRecord
    );
    // A terminating push is accepted even when early; nothing after it is.
    let mut p = push(&a, &[]);
    p.terminating = true;
    m.push(&p, &c).unwrap();
    clock.advance(Duration::from_millis(100));
    assert_eq!(
        m.push(&push(&a, &[]), &c).unwrap_err().error,
        ResponseError::InvalidRequest
    );
    // An unknown instance has no such subscription.
    let mut p = push(&a, &[]);
    p.client_instance_id = Uuid::new_v4();
    assert_eq!(
        m.push(&p, &c).unwrap_err().error,
        ResponseError::UnknownSubscriptionId
    );
}

#[test]
fn a_subscription_change_reevaluates_instances() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = manager(dir.path(), config());
    let c = client("c");
    let a = m.get_subscriptions(Uuid::nil(), &c).unwrap();
    assert!(a.requested_metrics.is_empty());
    m.set_resource(
        "all",
        settings(&[("metrics", "*"), ("interval.ms", "200")]),
        false,
    )
    .unwrap();
    // The old id is now unknown, and the next get is answered at once.
    assert_eq!(
        m.push(&push(&a, &[]), &c).unwrap_err().error,
        ResponseError::UnknownSubscriptionId
    );
    let b = m.get_subscriptions(a.client_instance_id, &c).unwrap();
    assert_eq!(b.requested_metrics, vec!["*"]);
    assert_eq!(b.push_interval_ms, 200);
    assert_ne!(a.subscription_id, b.subscription_id);
    // Deleting every setting removes the resource.
    m.set_resource("all", BTreeMap::new(), false).unwrap();
    assert!(m.resource_names().is_empty());
}

#[test]
fn subscriptions_survive_a_restart_and_validate_only_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (m, _) = manager(dir.path(), config());
        m.set_resource(
            "kept",
            settings(&[("metrics", "*"), ("interval.ms", "1000")]),
            false,
        )
        .unwrap();
        m.set_resource("dry", settings(&[("metrics", "*")]), true)
            .unwrap();
        let e = m
            .set_resource("bad", settings(&[("interval.ms", "5")]), false)
            .unwrap_err();
        assert_eq!(e.error, ResponseError::InvalidRequest);
    }
    let (m, _) = manager(dir.path(), config());
    assert_eq!(m.resource_names(), vec!["kept"]);
    assert_eq!(
        m.resource("kept").get("interval.ms").map(String::as_str),
        Some("1000")
    );
}

#[test]
fn instances_and_subscriptions_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (m, clock) = manager(
        dir.path(),
        TelemetryConfig {
            max_client_instances: 3,
            max_subscriptions: 1,
            ..config()
        },
    );
    m.set_resource("one", settings(&[("metrics", "*")]), false)
        .unwrap();
    let e = m
        .set_resource("two", settings(&[("metrics", "*")]), false)
        .unwrap_err();
    assert_eq!(e.error, ResponseError::InvalidRequest);
    let first = m.get_subscriptions(Uuid::nil(), &client("c")).unwrap();
    let body = payload(&["a.metric"]);
    m.push(&push(&first, &body), &client("c")).unwrap();
    assert_eq!(m.store().sizes(), (1, 1));
    for _ in 0..5 {
        clock.advance(Duration::from_millis(1));
        m.get_subscriptions(Uuid::nil(), &client("c")).unwrap();
    }
    assert_eq!(m.instance_count(), 3);
    // The least recently seen went first, and its series with it.
    assert_eq!(m.store().sizes(), (0, 0));
}
