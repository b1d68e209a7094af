//! The admin HTTP side (`sluice.http.listen`, default 127.0.0.1:9644): `/health`,
//! `/ready` and `/metrics` for probes and Prometheus, and the web console (`/`, `/api/`,
//! in [`crate::http::console`]).
//!
//! It starts before the broker's logs are opened, so `/health` answers during a long
//! recovery and `/ready` says 503 until [`Admin::serving`] is called (logs and
//! coordinators loaded, the Kafka listener bound), 200 after. `/metrics` is Prometheus
//! text 0.0.4, or OpenMetrics 1.0 when the Accept header asks for it, encoded by
//! `prometheus-client` from the process-wide registry (`crate::metrics`) and, once the
//! broker serves, kafka_exporter's families computed from its state ([`exporter`]) and
//! the metrics clients pushed with KIP-714 telemetry ([`client_metrics`]).
//! Unknown paths get a JSON 404, unserved methods a 405. It only reads the broker; the
//! Kafka listener never waits for it, and a failure here never stops the broker once
//! it runs.

pub mod client_metrics;
pub mod exporter;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Result;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;
use serde_json::json;

use super::{bind_service, url_of, AddressOrigin};
use crate::broker::Broker;
use crate::config::{BrokerConfig, ConfigSource};

pub const SETTING: &str = "sluice.http.listen";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers share: the broker once it serves.
struct AdminState {
    broker: OnceLock<Arc<Broker>>,
    ready: AtomicBool,
    max_partition_series: usize,
    console: Arc<super::console::ConsoleState>,
}

/// The running admin side; stops when dropped.
pub struct Admin {
    state: Arc<AdminState>,
    task: tokio::task::JoinHandle<()>,
    url: String,
}

/// Binds `sluice.http.listen` and starts serving. `None` when disabled (empty) or when
/// the default port is taken (warned about); `Err` when an address set explicitly
/// cannot be bound.
pub async fn start(config: &BrokerConfig) -> Result<Option<Admin>> {
    let (address, source) = config
        .broker_value(SETTING)
        .unwrap_or_else(|| (String::new(), ConfigSource::Default));
    let origin = match source {
        ConfigSource::Default => AddressOrigin::Default,
        _ => AddressOrigin::Explicit,
    };
    let Some(listener) = bind_service(SETTING, &address, origin).await? else {
        return Ok(None);
    };
    let max_partition_series = config
        .broker_value("sluice.metrics.max.partition.series")
        .and_then(|(v, _)| v.trim().parse::<i64>().ok())
        .map_or(10_000, |v| v.max(0) as usize);
    let state = Arc::new(AdminState {
        broker: OnceLock::new(),
        ready: AtomicBool::new(false),
        max_partition_series,
        console: super::console::ConsoleState::new(config),
    });
    let url = url_of(&listener).unwrap_or_default();
    let app = router(state.clone());
    let logged = url.clone();
    let task = tokio::spawn(async move {
        // The peer's address reaches the console's ACL checks (an ACL's host).
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(setting = SETTING, error = %e, "admin HTTP side stopped");
        }
    });
    tracing::info!(
        url = %logged,
        "admin HTTP side listening: console {logged}, {logged}metrics, {logged}health, {logged}ready"
    );
    Ok(Some(Admin { state, task, url }))
}

impl Admin {
    /// The broker is loaded and its Kafka listener accepts: `/ready` answers 200 and
    /// `/metrics` reports its state from now on.
    pub fn serving(&self, broker: Arc<Broker>) {
        self.state.console.serving(broker.clone());
        let _ = self.state.broker.set(broker);
        self.state.ready.store(true, Ordering::Release);
    }

    /// `http://ADDR/` of the bound listener.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Shutdown began: `/ready` answers 503 again.
    pub fn stopping(&self) {
        self.state.ready.store(false, Ordering::Release);
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(state: Arc<AdminState>) -> Router {
    let console = super::console::router(state.console.clone());
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(console)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn health() -> Response {
    (StatusCode::OK, Json(json!({"status": "serving"}))).into_response()
}

async fn ready(State(state): State<Arc<AdminState>>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, Json(json!({"ready": true}))).into_response()
    } else {
        let reason = if state.broker.get().is_some() {
            "shutting down"
        } else {
            "loading logs and coordinators"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": reason})),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    // Reading every partition's state takes their locks: off the async workers.
    let encoded = tokio::task::spawn_blocking(move || encode(&state, openmetrics)).await;
    match encoded {
        Ok(Ok(body)) => {
            let content_type = if openmetrics {
                OPENMETRICS
            } else {
                prometheus_text::CONTENT_TYPE
            };
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Ok(Err(e)) => internal(format!("encoding metrics failed: {e}")),
        Err(e) => internal(format!("encoding metrics failed: {e}")),
    }
}

/// The whole exposition: the broker's own registry, then the families computed from
/// its state (once it serves).
fn encode(state: &AdminState, openmetrics: bool) -> Result<String, std::fmt::Error> {
    let mut scraped = Registry::default();
    if let Some(broker) = state.broker.get() {
        scraped.register_collector(Box::new(exporter::KafkaCollector {
            broker: broker.clone(),
            max_partition_series: state.max_partition_series,
        }));
        scraped.register_collector(Box::new(client_metrics::ClientMetricsCollector {
            broker: broker.clone(),
        }));
    }
    let mut out = String::with_capacity(64 * 1024);
    let own = crate::metrics::global().registry();
    if openmetrics {
        text::encode_registry(&mut out, own)?;
        text::encode_registry(&mut out, &scraped)?;
        text::encode_eof(&mut out)?;
    } else {
        prometheus_text::encode(&mut out, own)?;
        prometheus_text::encode(&mut out, &scraped)?;
    }
    Ok(out)
}

fn internal(message: String) -> Response {
    tracing::error!("{message}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": message})),
    )
        .into_response()
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not found", "path": uri.path(), "paths": ["/", "/api/openapi.json", "/metrics", "/health", "/ready"]})),
    )
        .into_response()
}

async fn method_not_allowed(uri: Uri) -> Response {
    let allowed = super::console::allowed_methods(uri.path());
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, allowed.join(", "))],
        Json(json!({"error": "method not allowed", "path": uri.path(), "allowed": allowed})),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
