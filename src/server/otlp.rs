//! Export of the Kafka request spans with OTLP (`sluice.otlp.endpoint`, off by default).
//!
//! Every request already runs in a `request{request_id, api}` tracing span (see
//! `connection`). When an endpoint is set, the binary adds a `tracing-opentelemetry`
//! layer ([`install`]) that turns those spans into OpenTelemetry spans, named after the
//! Kafka API (`Produce`, `Fetch`, ...) with the request id, API key, API version and
//! client id as attributes, and sends them to the endpoint as OTLP/HTTP protobuf
//! (`<endpoint>/v1/traces`) through the SDK's batch span processor. That processor
//! keeps ended spans in a queue bounded by `sluice.otlp.max.queue.spans` and drops
//! spans when it is full: a slow or absent collector never blocks a request, it only
//! loses spans. Its exports run on the processor's own thread; the HTTP POST itself
//! is sent by hyper (already the admin side's) on the broker's tokio runtime
//! ([`RuntimeHttpClient`]).
//!
//! This module never changes what a request does or answers; with no endpoint set it
//! costs the request path one relaxed atomic load ([`enabled`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use crate::config::BrokerConfig;

pub const ENDPOINT: &str = "sluice.otlp.endpoint";
pub const SERVICE_NAME: &str = "sluice.otlp.service.name";
pub const MAX_QUEUE_SPANS: &str = "sluice.otlp.max.queue.spans";

/// One export may take this long (connect, send, answer); then that batch is dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// A collector's answer to an export is a small protobuf; more is refused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// True once spans are exported: the request path then records the spans' OTLP name
/// and attributes (kept out of the log lines otherwise).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The tracing layer that turns request spans into OTLP spans.
pub type Layer = tracing_opentelemetry::OpenTelemetryLayer<
    tracing_subscriber::Registry,
    opentelemetry_sdk::trace::SdkTracer,
>;

/// Flushes and stops the exporter when dropped (call it before the tokio runtime
/// goes away: the last export runs on it).
pub struct Exporter {
    provider: SdkTracerProvider,
    url: String,
    max_queue: usize,
}

impl Exporter {
    /// The start-up line (once the subscriber that prints it is installed).
    pub fn log_started(&self) {
        tracing::info!(
            url = %self.url,
            max_queue_spans = self.max_queue,
            "exporting request spans with OTLP/HTTP"
        );
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "OTLP exporter: the last spans may not have been sent");
        }
    }
}

/// The traces URL for `sluice.otlp.endpoint`: the OTLP/HTTP base URL, to which the
/// signal path `/v1/traces` is added (as OTEL_EXPORTER_OTLP_ENDPOINT is read), unless
/// the URL already ends with it.
pub fn traces_url(endpoint: &str) -> Result<String> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let uri: hyper::Uri = endpoint
        .parse()
        .with_context(|| format!("{ENDPOINT}: `{endpoint}` is not a URL"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        bail!("{ENDPOINT}: `{endpoint}` must be an http://HOST:PORT URL (OTLP/HTTP without TLS)");
    }
    Ok(if endpoint.ends_with("/v1/traces") {
        endpoint.to_string()
    } else {
        format!("{endpoint}/v1/traces")
    })
}

/// Starts exporting request spans when `sluice.otlp.endpoint` is set: builds the
/// exporter on `runtime` and returns the tracing layer for the process's subscriber.
/// `None` when the endpoint is empty (the default); an endpoint that is not an http
/// URL is an error.
pub fn install(
    config: &BrokerConfig,
    runtime: tokio::runtime::Handle,
) -> Result<Option<(Layer, Exporter)>> {
    let setting = |name: &str| {
        config
            .broker_value(name)
            .map(|(v, _)| v.trim().to_string())
            .unwrap_or_default()
    };
    let endpoint = setting(ENDPOINT);
    if endpoint.is_empty() {
        return Ok(None);
    }
    let url = traces_url(&endpoint)?;
    let service_name = match setting(SERVICE_NAME) {
        s if s.is_empty() => "sluice".to_string(),
        s => s,
    };
    let max_queue = setting(MAX_QUEUE_SPANS)
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("{MAX_QUEUE_SPANS} must be a positive number"))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(RuntimeHttpClient { runtime })
        .with_endpoint(url.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .context("building the OTLP span exporter")?;
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(max_queue)
        .with_max_export_batch_size(max_queue.min(512))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batch)
                .build(),
        )
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build();
    let tracer = provider.tracer("sluice");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some((
        layer,
        Exporter {
            provider,
            url,
            max_queue,
        },
    )))
}

/// Records the OTLP name and attributes of a request span (called only when
/// [`enabled`]): name = the Kafka API, kind = server, and the API key, version and
/// client id. They are span fields declared empty by the connection, recorded only
/// here, so log lines show them only while spans are exported (the span's
/// `request_id` and `api` fields become attributes too).
pub fn describe_request(
    span: &tracing::Span,
    api: &'static str,
    api_key: i16,
    api_version: i16,
    client_id: Option<&str>,
) {
    span.record("otel.name", api);
    span.record("otel.kind", "server");
    span.record("kafka.api_key", api_key);
    span.record("kafka.api_version", api_version);
    if let Some(client_id) = client_id {
        span.record("messaging.client.id", client_id);
    }
}

/// The exporter's HTTP client: one HTTP/1.1 POST per batch over a fresh connection
/// (a batch every few seconds at most), run on the broker's runtime because the batch
/// processor calls it from its own thread, which has none.
#[derive(Debug)]
struct RuntimeHttpClient {
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        // The timer too must be made on the runtime (this thread has no reactor).
        let task = self
            .runtime
            .spawn(async move { tokio::time::timeout(EXPORT_TIMEOUT, post(request)).await });
        let answer = match task.await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(format!("no answer within {EXPORT_TIMEOUT:?}").into()),
            Err(e) => Err(Box::new(e) as HttpError),
        };
        // One log line when exports start failing and one when they work again, not
        // one per batch.
        let failed = match &answer {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("HTTP {}", response.status())),
            Err(e) => Some(e.to_string()),
        };
        match failed {
            Some(error) if !FAILING.swap(true, Ordering::Relaxed) => tracing::warn!(
                error = %error,
                "OTLP export failed; request spans are dropped until the collector answers"
            ),
            None if FAILING.swap(false, Ordering::Relaxed) => {
                tracing::info!("OTLP export works again")
            }
            _ => {}
        }
        answer
    }
}

/// Whether the last export failed (see [`RuntimeHttpClient`]).
static FAILING: AtomicBool = AtomicBool::new(false);

async fn post(request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
    let uri = request.uri().clone();
    let host = uri.host().ok_or("no host in the OTLP endpoint")?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let (mut parts, body) = request.into_parts();
    // HTTP/1.1 wants an origin-form target and a Host header.
    parts.uri = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()?;
    parts.headers.insert(
        hyper::header::HOST,
        uri.authority()
            .map(|a| a.as_str())
            .unwrap_or(host)
            .parse()?,
    );
    let answer = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = answer.into_parts();
    let body = Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await?
        .to_bytes();
    Ok(Response::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_to_a_base_endpoint() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url(" http://collector:4318/ ").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/v1/traces").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert!(traces_url("https://collector:4318").is_err());
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("not a url").is_err());
    }
}
