//! The KIP-714 re-export: metrics clients pushed with PushTelemetry, on /metrics under
//! their OTLP names made Prometheus names (dots to underscores), each series labelled
//! with `client_id` and `client_instance_id` and the metric's own attributes, so a
//! producer's own view (send rate, request latency) sits next to the broker's.
//!
//! Every family is a gauge: a client's sums are its running totals since the broker
//! first heard from it (see `coordinator::telemetry::store`), which may restart when
//! the client does. A pushed name that would collide with the broker's own families
//! (`kafka_*`, `sluice_*`) is left out. `sluice_client_telemetry_instances`,
//! `_series` and `_series_dropped_total` show how full the bounds are. Bounds and expiry are the store's
//! (`sluice.telemetry.max.series`, `sluice.telemetry.max.client.instances`); this
//! module only reads the store.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::broker::Broker;
use crate::coordinator::telemetry::store::ExportedSeries;

/// Encodes the store's live series; built per scrape.
pub struct ClientMetricsCollector {
    pub broker: Arc<Broker>,
}

impl std::fmt::Debug for ClientMetricsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetricsCollector")
            .finish_non_exhaustive()
    }
}

impl Collector for ClientMetricsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let telemetry = &self.broker.telemetry;
        let now = self.broker.clock.now_ms();
        let series = telemetry.store().snapshot(now);
        // How full the bounds are, so an operator sees when series start being dropped.
        let no_labels: [(&str, &str); 0] = [];
        for (name, help, value) in [
            (
                "sluice_client_telemetry_instances",
                "Client instances known to the KIP-714 telemetry manager.",
                telemetry.instance_count() as i64,
            ),
            (
                "sluice_client_telemetry_series",
                "Client-pushed series kept for re-export (sluice.telemetry.max.series).",
                series.len() as i64,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(family.encode_family(&no_labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "sluice_client_telemetry_series_dropped",
            "Client-pushed series refused by the bounds since start-up.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(telemetry.store().dropped()).encode(family.encode_family(&no_labels)?)?;
        encode_series(&series, encoder)
    }
}

/// Writes `series` (sorted by name) as one gauge family per name.
pub fn encode_series(
    series: &[ExportedSeries],
    mut encoder: DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let mut rest = series;
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|s| s.name == first.name).count();
        let (family, tail) = rest.split_at(n);
        rest = tail;
        if first.name.starts_with("kafka_") || first.name.starts_with("sluice_") {
            continue;
        }
        let mut descriptor = encoder.encode_descriptor(
            &first.name,
            "Pushed by clients with PushTelemetry (KIP-714).",
            None,
            MetricType::Gauge,
        )?;
        for s in family {
            let sample = descriptor.encode_family(&s.labels)?;
            ConstGauge::new(s.value).encode(sample)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;

    #[derive(Debug)]
    struct Fixed(Vec<ExportedSeries>);

    impl Collector for Fixed {
        fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            encode_series(&self.0, encoder)
        }
    }

    fn series(name: &str, client: &str, value: f64) -> ExportedSeries {
        ExportedSeries {
            name: name.into(),
            labels: vec![
                ("client_id".into(), client.into()),
                ("client_instance_id".into(), format!("id-{client}")),
                ("node_id".into(), "1".into()),
            ],
            value,
        }
    }

    #[test]
    fn one_family_per_name_with_client_labels() {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Fixed(vec![
            series("kafka_brokers", "evil", 9.0),
            series("org_apache_kafka_producer_record_send_rate", "a", 1.5),
            series("org_apache_kafka_producer_record_send_rate", "b", 2.0),
        ])));
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &registry).unwrap();
        assert_eq!(
            out.matches("# TYPE org_apache_kafka_producer_record_send_rate gauge")
                .count(),
            1
        );
        assert!(out.contains(
            "org_apache_kafka_producer_record_send_rate{client_id=\"a\",client_instance_id=\"id-a\",node_id=\"1\"} 1.5"
        ), "{out}");
        assert!(!out.contains("kafka_brokers"), "{out}");
    }
}
