//! The schema registry's REST API (Confluent Schema Registry's endpoints, JSON bodies
//! and error codes) on its own listener, `sluice.schema.registry.listen`.
//!
//! Owns only the HTTP side: routes, query flags, request and answer bodies, content
//! types and error bodies. Every decision is the registry's
//! ([`SchemaRegistry`](crate::schema_registry::SchemaRegistry)); this module never
//! reads `_schemas` or keeps state. Contexts (`:.ctx:` subjects) are not supported:
//! `GET /contexts` answers only the default context.

mod body;
mod handlers;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use super::{bind_service, url_of, AddressOrigin};
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::schema_registry::SchemaRegistry;

/// What every handler reads.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<SchemaRegistry>,
    pub cluster_id: String,
}

/// The registry's routes.
pub fn router(broker: &Broker) -> Router {
    use handlers::*;
    let state = AppState {
        registry: broker.schema_registry.clone(),
        cluster_id: broker.cluster_id.clone(),
    };
    let body_limit = broker
        .config
        .schema_registry_max_schema_bytes
        .saturating_mul(2)
        + 64 * 1024;
    Router::new()
        .route("/", get(root))
        .route("/v1/metadata/id", get(metadata_id))
        .route("/contexts", get(contexts))
        .route("/schemas", get(list_schemas))
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_of_id))
        .route("/schemas/ids/{id}/versions", get(versions_of_id))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(raw_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route(
            "/config",
            get(get_global_config)
                .put(put_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .route("/mode", get(get_global_mode).put(put_global_mode))
        .route(
            "/mode/{subject}",
            get(get_subject_mode)
                .put(put_subject_mode)
                .delete(delete_subject_mode),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_version),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Binds `sluice.schema.registry.listen` and serves the registry on it in a task (None
/// when disabled, or when the default port is taken). The caller aborts the task at
/// shutdown.
pub async fn start(
    config: &BrokerConfig,
    broker: &Arc<Broker>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let origin = if config.schema_registry_listen_explicit {
        AddressOrigin::Explicit
    } else {
        AddressOrigin::Default
    };
    let Some(listener) = bind_service(
        "sluice.schema.registry.listen",
        &config.schema_registry_listen,
        origin,
    )
    .await?
    else {
        return Ok(None);
    };
    tracing::info!(
        url = url_of(&listener).unwrap_or_default(),
        "schema registry is ready"
    );
    let app = router(broker);
    Ok(Some(tokio::spawn(serve(listener, app))))
}

async fn serve(listener: TcpListener, app: Router) {
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "schema registry listener failed");
    }
}
