//! Sluice: a Kafka-protocol-compatible event log broker in one binary.
//!
//! The crate is the broker as a library, so the CLI and tests start it the same way.
//! Layers, from the socket down; each imports only the ones below it:
//! - [`server`]: listener, framing, request headers, in-order answers;
//! - [`http`] (beside `server`): the HTTP listeners (admin side, schema registry);
//! - [`api`]: one handler per Kafka API, translating wire messages to calls on the
//!   broker's parts;
//! - [`broker`]: the composition root that opens and wires the parts below, owns their
//!   background tasks and shutdown, and keeps the fetch-session cache;
//! - [`coordinator`]: the group and transaction coordinators and producer ids;
//! - [`schema_registry`] (beside `coordinator`): the schema registry's state machine
//!   over `_schemas` (its REST API is in `http::schema_registry`);
//! - [`topics`]: the topic registry and each partition (locking, group commit, fetch
//!   wake-ups);
//! - [`log`]: the storage engine, one segmented log per partition.
//!
//! On top of the stack, [`embedded`] starts the whole broker inside another program
//! ([`EmbeddedBroker`], for tests).
//!
//! Beside them, used by all: [`config`] (settings under their Kafka names), [`clock`]
//! (time, injectable in tests), [`error`] (Kafka's error codes) and [`metrics`] (the
//! process-wide registry every layer records into). [`cli`] is the
//! command-line client; it speaks the Kafka protocol to a broker and reads segment
//! files offline, never the broker's in-memory state.

pub mod api;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod confluent_framing;
pub mod coordinator;
pub mod embedded;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod log;
pub mod metrics;
pub mod schema_registry;
pub mod security;
pub mod server;
pub mod topics;

pub use embedded::{EmbeddedBroker, EmbeddedError};

#[cfg(test)]
mod layering_test;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use crate::broker::Broker;
use crate::config::BrokerConfig;

/// Opens the data directory, binds the listener and serves until `shutdown` completes,
/// then closes every log cleanly. `on_ready` runs once the port accepts connections,
/// with the broker's parts (an embedding program creates topics through them).
///
/// A listen port of 0 lets the kernel choose one; unless another port is advertised,
/// the broker then advertises the port it got.
pub async fn run(
    config: BrokerConfig,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(std::net::SocketAddr, &Arc<Broker>),
) -> Result<()> {
    let started = Instant::now();
    // A second broker on the same data directory refuses in one line before its HTTP
    // side binds (the default port is likely the owner's); the lock passes to the
    // broker, which holds it for its life. An in-memory broker has no directory to own.
    let lock = if config.in_memory {
        None
    } else {
        std::fs::create_dir_all(&config.data_dir).ok();
        Some(broker::data_dir_lock::DataDirLock::acquire(
            &config.data_dir,
        )?)
    };
    // Before the logs are opened: /health and /ready answer during a long recovery.
    let admin = http::admin::start(&config).await?;
    // After the lock check and the admin side's bind, whose refusals are the only line
    // a broker that cannot start prints; before the logs open their files.
    match server::accept::raise_descriptor_limit() {
        Ok(l) => tracing::info!(
            soft_before = l.soft_before,
            soft = l.soft,
            hard = l.hard,
            "file descriptor limit (RLIMIT_NOFILE): soft raised to the hard limit"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot read the file descriptor limit"),
    }
    log_file_budgets(&config);
    let broker = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || match lock {
            Some(lock) => Broker::open_locked(config, lock),
            None => Broker::open(config),
        })
        .await??
    };
    // Transactions decided before a crash get their markers before clients connect.
    broker.complete_recovery().await;
    let listeners = server::bind_all(&config).await?;
    let local = listeners[0].local_addr()?;
    for l in &listeners {
        let c = &l.security.config;
        tracing::info!(
            listener = %c.name,
            security_protocol = c.security_protocol.name(),
            listen = %l.local_addr()?,
            advertised = %format!("{}:{}", c.advertised_host, c.advertised_port),
            sasl_mechanisms = %l.security.mechanisms.join(","),
            plain_users = l.security.plain_user_count(),
            "listening"
        );
    }
    tracing::info!(
        listen = %local,
        advertised = %format!("{}:{}", config.advertised_host, config.advertised_port),
        data_dir = %crate::log::storage::display(&broker.config.data_dir),
        topics = broker.topics.list().len(),
        cluster_id = %broker.cluster_id,
        startup_ms = started.elapsed().as_millis() as u64,
        "sluice is ready"
    );
    let registry = http::schema_registry::start(&config, &broker).await?;
    on_ready(local, &broker);
    if let Some(admin) = &admin {
        admin.serving(broker.clone());
    }
    let background = broker.spawn_background_tasks();
    server::serve_all(listeners, broker.clone(), shutdown).await;
    if let Some(admin) = &admin {
        admin.stopping();
    }
    background.abort();
    if let Some(registry) = registry {
        registry.abort();
    }
    tracing::info!("shutting down: flushing and closing logs");
    tokio::task::spawn_blocking(move || broker.shutdown()).await?;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Sets the log's budgets of descriptors and maps (`sluice.log.max.open.files`,
/// `sluice.log.max.mmaps`; 0 derives them from the process's limits, read after the
/// descriptor limit was raised) and logs them.
fn log_file_budgets(config: &BrokerConfig) {
    let setting = |name: &str| {
        config
            .broker_value(name)
            .and_then(|(v, _)| v.trim().parse::<i64>().ok())
            .map_or(0, |v| v.max(0) as usize)
    };
    let (derived_files, derived_maps) = log::file_cache::default_budgets();
    let files = match setting("sluice.log.max.open.files") {
        0 => derived_files,
        n => n,
    };
    let maps = match setting("sluice.log.max.mmaps") {
        0 => derived_maps,
        n => n,
    };
    log::file_cache::global().set_budgets(files, maps);
    tracing::info!(
        max_open_files = files,
        max_mmaps = maps,
        "log budget of descriptors and memory maps (closed segments' files beyond it are closed, least recently used first)"
    );
}
