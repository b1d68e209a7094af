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
//! - [`topics`]: the topic registry and each partition (locking, group commit, fetch
//!   wake-ups);
//! - [`log`]: the storage engine, one segmented log per partition.
//!
//! Beside them, used by all: [`config`] (settings under their Kafka names), [`clock`]
//! (time, injectable in tests) and [`error`] (Kafka's error codes). [`cli`] is the
//! command-line client; it speaks the Kafka protocol to a broker and reads segment
//! files offline, never the broker's in-memory state.

pub mod api;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod coordinator;
pub mod error;
pub mod http;
pub mod log;
pub mod security;
pub mod server;
pub mod topics;

#[cfg(test)]
mod layering_test;

use std::future::Future;
use std::time::Instant;

use anyhow::Result;

use crate::broker::Broker;
use crate::config::BrokerConfig;

/// Opens the data directory, binds the listener and serves until `shutdown` completes,
/// then closes every log cleanly. `on_ready` runs once the port accepts connections.
pub async fn run(
    config: BrokerConfig,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    let started = Instant::now();
    let broker = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Broker::open(config)).await??
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
        data_dir = %config.data_dir.display(),
        topics = broker.topics.list().len(),
        cluster_id = %broker.cluster_id,
        startup_ms = started.elapsed().as_millis() as u64,
        "sluice is ready"
    );
    on_ready(local);
    let background = broker.spawn_background_tasks();
    server::serve_all(listeners, broker.clone(), shutdown).await;
    background.abort();
    tracing::info!("shutting down: flushing and closing logs");
    tokio::task::spawn_blocking(move || broker.shutdown()).await?;
    tracing::info!("shutdown complete");
    Ok(())
}
