//! The network front end: accepts TCP connections and runs one task per connection.
//!
//! It owns sockets, framing and the request header; it hands each decoded request to
//! `crate::api` and writes the answer back. It never opens a file or touches a log.

mod answers;
pub mod connection;
pub mod connection_quotas;
pub mod frame;
pub mod request_metrics;
pub mod response_buf;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::broker::Broker;
use connection_quotas::ConnectionQuotas;

/// Binds the listener. Separate from [`serve`] so callers know the port is accepting
/// connections (the broker is "ready") before they start waiting on shutdown.
pub async fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))
}

/// Accepts connections until `shutdown` completes, then stops accepting, tells every
/// connection to finish its current request and waits (bounded) for them to close.
/// A connection beyond the connection limits is closed as soon as it is accepted.
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: impl Future<Output = ()>) {
    let quotas = ConnectionQuotas::from_config(&broker.config);
    let (stop_tx, stop_rx) = watch::channel(false);
    let next_id = AtomicU64::new(1);
    let tracker = tokio_util_tracker::Tracker::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let slot = match quotas.try_acquire(peer.ip()) {
                        Ok(slot) => slot,
                        Err(refused) => {
                            // Closed before anything is read: a client that sent its
                            // first request already gets a reset, the others an EOF.
                            tracing::warn!("refusing connection from {peer}: {refused}");
                            drop(stream);
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let conn = connection::Connection::new(id, peer, stream, broker.clone(), stop_rx.clone());
                    let guard = tracker.guard();
                    tokio::spawn(async move {
                        // Moved in, so the slot is given back however the task ends,
                        // a panic included.
                        let _slot = slot;
                        let _open = crate::metrics::global().connection_opened("PLAINTEXT");
                        conn.run().await;
                        drop(guard);
                    });
                }
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning on accept.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), tracker.wait()).await;
}

/// Counts live connection tasks so shutdown can wait for them.
mod tokio_util_tracker {
    use std::sync::Arc;
    use tokio::sync::Notify;

    #[derive(Default, Clone)]
    pub struct Tracker {
        inner: Arc<Inner>,
    }

    #[derive(Default)]
    struct Inner {
        live: std::sync::atomic::AtomicUsize,
        idle: Notify,
    }

    pub struct Guard {
        inner: Arc<Inner>,
    }

    impl Tracker {
        pub fn guard(&self) -> Guard {
            self.inner
                .live
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            Guard {
                inner: self.inner.clone(),
            }
        }

        pub async fn wait(&self) {
            loop {
                let notified = self.inner.idle.notified();
                if self.inner.live.load(std::sync::atomic::Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if self
                .inner
                .live
                .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
                == 1
            {
                self.inner.idle.notify_waiters();
            }
        }
    }
}
