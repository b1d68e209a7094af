//! The network front end: accepts TCP connections and runs one task per connection.
//!
//! It owns sockets, framing and the request header; it hands each decoded request to
//! `crate::api` and writes the answer back. It never opens a file or touches a log.

mod answers;
pub mod connection;
pub mod connection_quotas;
pub mod frame;
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
/// A connection beyond the connection limits, or arriving when the process is out of
/// file descriptors, is closed as soon as it is accepted.
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: impl Future<Output = ()>) {
    let quotas = ConnectionQuotas::from_config(&broker.config);
    let (stop_tx, stop_rx) = watch::channel(false);
    let next_id = AtomicU64::new(1);
    let tracker = tokio_util_tracker::Tracker::default();
    let mut reserve = ReserveDescriptor::open();
    let mut accept_errors = AcceptErrorLog::default();
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
                        conn.run().await;
                        drop(guard);
                    });
                }
                Err(e) if is_out_of_descriptors(&e) => {
                    // The connection that could not be accepted would wait in the
                    // backlog until its client times out: free the reserve descriptor,
                    // accept it and close it at once, so the client hears "no" now.
                    match reserve.refuse_one(&listener).await {
                        Some(peer) => tracing::warn!("refusing connection from {peer}: out of file descriptors ({e})"),
                        None => {
                            accept_errors.warn(&e);
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                }
                Err(e) => {
                    // Back off instead of spinning on accept.
                    accept_errors.warn(&e);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), tracker.wait()).await;
}

fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// One descriptor kept open (on `/dev/null`) for the moment the process runs out: it is
/// closed to make room to accept the waiting connection, which is then closed at once,
/// and taken again. Without it such a connection waits in the listen backlog until its
/// client gives up, and the accept loop can do nothing but retry.
struct ReserveDescriptor(Option<std::fs::File>);

impl ReserveDescriptor {
    fn open() -> ReserveDescriptor {
        ReserveDescriptor(std::fs::File::open("/dev/null").ok())
    }

    /// Accepts one waiting connection into the reserve's place and closes it; returns
    /// its peer, or `None` if there was no reserve (or no connection after all).
    async fn refuse_one(&mut self, listener: &TcpListener) -> Option<std::net::SocketAddr> {
        drop(self.0.take()?);
        let accepted =
            tokio::time::timeout(std::time::Duration::from_millis(100), listener.accept()).await;
        let peer = match accepted {
            Ok(Ok((stream, peer))) => {
                drop(stream);
                Some(peer)
            }
            _ => None,
        };
        self.0 = std::fs::File::open("/dev/null").ok();
        peer
    }
}

/// Accept errors are logged at most once a second (with how many were not), so a
/// process out of descriptors does not also flood its log.
#[derive(Default)]
struct AcceptErrorLog {
    last: Option<std::time::Instant>,
    suppressed: u64,
}

impl AcceptErrorLog {
    fn warn(&mut self, e: &std::io::Error) {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_secs(1))
        {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(error = %e, suppressed = self.suppressed, "accept failed");
        self.last = Some(now);
        self.suppressed = 0;
    }
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
