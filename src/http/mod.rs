//! The broker's HTTP side: listeners beside the Kafka ones, for people and tools that
//! speak HTTP rather than the Kafka protocol.
//!
//! Each HTTP service gets its own listener and its own axum router over the
//! [`Broker`](crate::broker::Broker), and lives in its own submodule:
//! - the admin side (`sluice.http.listen`): metrics, health, the console and its API;
//! - the schema registry (`sluice.schema.registry.listen`): Confluent's REST API.
//!
//! This module owns only what the services share: how a listener address is bound and
//! what happens when it cannot be. It sits at the top of the layer map, beside
//! `server`: it reads the broker's parts and never touches files or the Kafka
//! listeners, and the Kafka listeners never depend on it.

pub mod admin;
pub mod console;
pub mod schema_registry;

use std::io;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

/// How an HTTP service's address was chosen, which decides what a bind failure means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressOrigin {
    /// The setting's default: if the port is taken the broker warns and runs without
    /// the service, so `sluice serve` never fails because of a busy default port.
    Default,
    /// Set by the user (file, `--set` or a flag): failing to bind stops start-up.
    Explicit,
}

/// Binds an HTTP service's listener. An empty address disables the service (`None`).
/// `setting` is the Kafka-style name the address came from, for the messages.
pub async fn bind_service(
    setting: &str,
    address: &str,
    origin: AddressOrigin,
) -> Result<Option<TcpListener>> {
    let address = address.trim();
    if address.is_empty() {
        tracing::info!(setting, "HTTP service disabled (empty address)");
        return Ok(None);
    }
    match TcpListener::bind(address).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if origin == AddressOrigin::Default && is_address_taken(&e) => {
            tracing::warn!(
                setting,
                address,
                error = %e,
                "the default HTTP address is taken; running without this service (set {setting} to another address, or to an empty value to silence this)"
            );
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("{setting}: cannot listen on {address}")),
    }
}

fn is_address_taken(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AddrInUse
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::PermissionDenied
    )
}

/// The local address of a bound service, for log lines (`http://ADDR/`).
pub fn url_of(listener: &TcpListener) -> Option<String> {
    listener
        .local_addr()
        .ok()
        .map(|a: SocketAddr| format!("http://{a}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_disables_busy_default_warns_busy_explicit_fails() {
        assert!(bind_service("x", "", AddressOrigin::Explicit)
            .await
            .unwrap()
            .is_none());
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        assert!(bind_service("x", &addr, AddressOrigin::Default)
            .await
            .unwrap()
            .is_none());
        let err = bind_service("sluice.http.listen", &addr, AddressOrigin::Explicit)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("sluice.http.listen"), "{err:#}");
        let free = bind_service("x", "127.0.0.1:0", AddressOrigin::Explicit)
            .await
            .unwrap()
            .unwrap();
        assert!(url_of(&free).unwrap().starts_with("http://127.0.0.1:"));
    }
}
