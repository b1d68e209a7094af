//! The network front end: binds every listener (`listeners`), accepts TCP connections
//! (with TLS on SSL and SASL_SSL listeners) and runs one task per connection.
//!
//! It owns sockets, TLS, framing and the request header; it hands each decoded request
//! to `crate::api` and writes the answer back. It never opens a file or touches a log
//! (key and certificate files are read once, at start-up, by `tls`).

pub mod accept;
mod answers;
pub mod connection;
pub mod connection_quotas;
pub mod frame;
pub mod otlp;
pub mod request_metrics;
pub mod request_pool;
pub mod response_buf;
pub mod tls;
pub mod transport;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::security::{ListenerSecurity, Session};
use accept::{LogLimiter, Refusal};
use connection_quotas::ConnectionQuotas;
use request_pool::RequestPool;

/// A bound Kafka listener with what its connections need: the resolved security
/// settings and, on SSL and SASL_SSL listeners, the TLS acceptor.
pub struct BoundListener {
    tcp: TcpListener,
    pub security: Arc<ListenerSecurity>,
    tls: Option<Arc<tls::ReloadingAcceptor>>,
}

impl BoundListener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Binds the listener. Separate from [`serve`] so callers know the port is accepting
/// connections (the broker is "ready") before they start waiting on shutdown.
pub async fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))
}

/// Binds every listener in `listeners` and prepares its TLS and SASL settings. A
/// listener that cannot be bound or whose key, certificates or JAAS line are unusable
/// stops start-up with one line naming it. An advertised port of 0 becomes the port
/// actually bound.
pub async fn bind_all(config: &BrokerConfig) -> Result<Vec<BoundListener>> {
    let mut bound = Vec::new();
    for l in &config.listeners {
        let tcp = bind(&l.bind)
            .await
            .with_context(|| format!("listener {}", l.name))?;
        let mut l = l.clone();
        if l.advertised_port == 0 {
            l.advertised_port = tcp.local_addr()?.port() as i32;
        }
        let tls = if l.security_protocol.uses_tls() {
            Some(Arc::new(tls::ReloadingAcceptor::new(&l)?))
        } else {
            None
        };
        let security = Arc::new(ListenerSecurity::new(l)?);
        bound.push(BoundListener { tcp, security, tls });
    }
    Ok(bound)
}

/// Accepts connections on every listener until `shutdown` completes, then stops
/// accepting, tells every connection to finish its current request and waits (bounded)
/// for them to close. A connection beyond the connection limits (counted over all
/// listeners), or arriving when the process is out of file descriptors, is closed as
/// soon as it is accepted.
pub async fn serve_all(
    listeners: Vec<BoundListener>,
    broker: Arc<Broker>,
    shutdown: impl Future<Output = ()>,
) {
    let quotas = ConnectionQuotas::from_config(&broker.config);
    let pool = RequestPool::from_setting(broker.config.queued_max_request_bytes);
    accept::reserve_descriptor();
    let (stop_tx, stop_rx) = watch::channel(false);
    let next_id = Arc::new(AtomicU64::new(1));
    let tracker = tokio_util_tracker::Tracker::default();
    let mut loops = Vec::new();
    for l in listeners {
        loops.push(tokio::spawn(accept_loop(
            l,
            broker.clone(),
            quotas.clone(),
            pool.clone(),
            next_id.clone(),
            tracker.clone(),
            stop_rx.clone(),
        )));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
}

/// One PLAINTEXT listener (tests and callers that bind their own socket).
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: impl Future<Output = ()>) {
    let mut l = broker.config.listeners[0].clone();
    l.advertised_port = match l.advertised_port {
        0 => listener.local_addr().map(|a| a.port() as i32).unwrap_or(0),
        p => p,
    };
    let bound = BoundListener {
        tcp: listener,
        security: Arc::new(ListenerSecurity::plaintext(l)),
        tls: None,
    };
    serve_all(vec![bound], broker, shutdown).await
}

async fn accept_loop(
    listener: BoundListener,
    broker: Arc<Broker>,
    quotas: Arc<ConnectionQuotas>,
    pool: Option<Arc<RequestPool>>,
    next_id: Arc<AtomicU64>,
    tracker: tokio_util_tracker::Tracker,
    mut stop: watch::Receiver<bool>,
) {
    let name = listener.security.config.name.clone();
    let conn_stop = stop.clone();
    // Refusals are worth a line each, until a flood of them would drown the log.
    let mut refusals = LogLimiter::new(20, Duration::from_secs(1));
    let mut accept_errors = LogLimiter::new(1, Duration::from_secs(1));
    let mut reload_check = tokio::time::interval(tls::RELOAD_CHECK_INTERVAL);
    reload_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            _ = reload_check.tick(), if listener.tls.is_some() => {
                if let Some(t) = &listener.tls {
                    t.reload_if_changed();
                }
            }
            accepted = listener.tcp.accept() => match accepted {
                Ok((stream, peer)) => {
                    let slot = match quotas.try_acquire(peer.ip()) {
                        Ok(slot) => slot,
                        Err(refused) => {
                            // Closed before anything is read: a client that sent its
                            // first request already gets a reset, the others an EOF.
                            drop(stream);
                            if let Some(left_out) = refusals.admit(std::time::Instant::now()) {
                                tracing::warn!(listener = %name, "refusing connection from {peer}: {refused}{}", left_out_note(left_out));
                            }
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let guard = tracker.guard();
                    let broker = broker.clone();
                    let security = listener.security.clone();
                    let tls = listener.tls.as_ref().map(|t| t.current());
                    let stop = conn_stop.clone();
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        // Moved in, so the slot is given back however the task ends,
                        // a panic included.
                        let _slot = slot;
                        let _open = crate::metrics::global().connection_opened(&security.config.name);
                        run_connection(Accepted { id, peer, stream }, tls, security, broker, stop, pool).await;
                        drop(guard);
                    });
                }
                Err(e) if accept::is_out_of_descriptors(&e) => {
                    // The connection that could not be accepted would wait in the
                    // backlog until its client gives up: accept it into the reserve
                    // descriptor and close it, so the client hears "no" now.
                    match accept::refuse_one(&listener.tcp) {
                        Refusal::Refused(peer) => {
                            if let Some(left_out) = refusals.admit(std::time::Instant::now()) {
                                tracing::warn!(listener = %name, "refusing connection from {peer}: out of file descriptors ({e}){}", left_out_note(left_out));
                            }
                        }
                        Refusal::NoneWaiting => {}
                        Refusal::Failed(again) => {
                            if let Some(left_out) = accept_errors.admit(std::time::Instant::now()) {
                                tracing::warn!(listener = %name, error = %again, "accept failed, out of file descriptors and no descriptor in reserve; retrying every 50 ms{}", left_out_note(left_out));
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                Err(e) => {
                    // Back off instead of spinning on accept.
                    if let Some(left_out) = accept_errors.admit(std::time::Instant::now()) {
                        tracing::warn!(listener = %name, error = %e, "accept failed; retrying every 50 ms{}", left_out_note(left_out));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Says how many lines like this one the log limiter left out before it.
fn left_out_note(left_out: u64) -> String {
    match left_out {
        0 => String::new(),
        n => format!(" ({n} more like this not logged)"),
    }
}

/// Completes when the server shuts down (the `Ref` that `wait_for` returns is not
/// `Send`, so it must not live in the `select!`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A connection just accepted, with the id its log lines carry.
struct Accepted {
    id: u64,
    peer: SocketAddr,
    stream: TcpStream,
}

/// Runs one accepted connection: the TLS handshake first on a TLS listener (bounded by
/// `connections.max.idle.ms`, so a silent peer cannot hold the slot), then requests.
async fn run_connection(
    Accepted { id, peer, stream }: Accepted,
    tls: Option<TlsAcceptor>,
    security: Arc<ListenerSecurity>,
    broker: Arc<Broker>,
    stop: watch::Receiver<bool>,
    pool: Option<Arc<RequestPool>>,
) {
    let Some(acceptor) = tls else {
        let session = Arc::new(Session::new(security, None));
        connection::Connection::with_session(id, peer, stream, broker, stop, session)
            .with_request_pool(pool)
            .run()
            .await;
        return;
    };
    let limit = broker
        .config
        .connections_max_idle_ms
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(600));
    let name = &security.config.name;
    let stream = match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            // A plaintext Kafka request on a TLS port reads as a corrupt TLS record.
            tracing::warn!(conn = id, peer = %peer, listener = %name, "TLS handshake failed, closing: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(conn = id, peer = %peer, listener = %name, "TLS handshake not completed within {} ms, closing", limit.as_millis());
            return;
        }
    };
    let principal = match tls::peer_principal(&stream, &security.ssl_principal_mapper) {
        Ok(p) => p,
        Err(why) => {
            tracing::warn!(conn = id, peer = %peer, listener = %name, "closing: {why}");
            return;
        }
    };
    tracing::debug!(conn = id, peer = %peer, listener = %name, principal = %principal, "TLS session established");
    let session = Arc::new(Session::new(security, Some(principal)));
    connection::Connection::with_session(id, peer, stream, broker, stop, session)
        .with_request_pool(pool)
        .run()
        .await;
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
