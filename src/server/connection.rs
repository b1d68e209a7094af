//! One client connection: reads frames, decodes the request header, hands the request
//! to `crate::api`, and writes answers back strictly in request order.
//!
//! Like a Kafka broker, a connection runs one handler at a time, in request order, so a
//! produce is appended before the next request on the connection is even decoded and
//! is visible to a following fetch. Only the wait for durability is overlapped: a
//! Produce waiting for its fsync leaves a deferred answer (`api::Answer::Deferred`) and
//! the connection reads on, so the appends of its next requests share that fsync (group
//! commit within one connection). Answers still go out in request order (see
//! `answers`); they are driven next to the running handler, so a long-polling Fetch
//! never holds back an earlier produce's answer. Requests already in the read buffer
//! are handled before answers are flushed, so pipelined clients get their answers in as
//! few writes as possible. Anything that cannot be parsed closes this one connection
//! with a log line; it never panics or affects other connections.
//!
//! A request that does not arrive whole in one read takes its bytes from the shared
//! `queued.max.request.bytes` pool (`request_pool`) before the rest is read, and gives
//! them back once handled: the connection reads nothing while it waits, so one client
//! flooding big requests cannot take the memory every other connection needs.
//!
//! A client over its quota (see `api::throttle`) gets its answer at once, carrying
//! throttle_time_ms; the connection then takes and reads no further request for that
//! long (Kafka mutes the channel), while answers still due keep going out.
//!
//! A connection with no request and no answer traffic for `connections.max.idle.ms`
//! is closed. One timer per connection, re-armed only when it fires early: traffic
//! just moves a timestamp, so a busy connection pays no timer updates per read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::Decodable;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::answers::{Answers, Slot};
use super::frame::{take_frame, FrameError};
use super::request_pool::{Acquiring, RequestPermit, RequestPool};
use super::transport::Transport;
use crate::api::{self, Answer, Command, RequestContext, Response};
use crate::broker::Broker;
use crate::security::Session;

const READ_CHUNK: usize = 64 * 1024;
/// The first read buffer of a connection: idle consumers' and admin clients' requests
/// fit in it, so 10,000 of them do not each hold a `READ_CHUNK`. A read that fills the
/// buffer doubles the next one, up to `READ_CHUNK`.
const FIRST_READ_CHUNK: usize = 4 * 1024;
/// Longer idle times are this: far enough to mean never, near enough that adding it
/// to an `Instant` cannot overflow (`connections.max.idle.ms` may be i64::MAX).
const MAX_IDLE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A connection over `S`: a `TcpStream` on PLAINTEXT and SASL_PLAINTEXT listeners, a
/// TLS stream on SSL and SASL_SSL ones (see `transport`).
pub struct Connection<S: Transport = TcpStream> {
    state: State,
    stream: S,
    stop: watch::Receiver<bool>,
}

/// What handlers need of the connection. The running handler borrows it immutably
/// while the socket and the answer queue are driven next to it.
struct State {
    id: u64,
    peer: SocketAddr,
    broker: Arc<Broker>,
    /// The listener and who is authenticated on it.
    session: Arc<Session>,
    /// `queued.max.request.bytes`, shared with every connection (`None`: no bound).
    pool: Option<Arc<RequestPool>>,
}

/// Why a connection was closed by the broker.
#[derive(Debug)]
pub(super) enum Close {
    /// The peer went away or the socket failed; not worth more than a debug line.
    Io(std::io::Error),
    Eof,
    Shutdown,
    /// No request and no answer traffic for `connections.max.idle.ms`.
    Idle {
        idle_ms: u64,
    },
    /// The client sent something Kafka would refuse by disconnecting.
    Protocol(String),
    /// SASL authentication failed: the answer saying so is written, the close waits
    /// `connection.failed.authentication.delay.ms`, as in Kafka.
    AuthenticationFailed(String),
}

impl Connection<TcpStream> {
    /// An anonymous PLAINTEXT connection (tests).
    pub fn new(
        id: u64,
        peer: SocketAddr,
        stream: TcpStream,
        broker: Arc<Broker>,
        stop: watch::Receiver<bool>,
    ) -> Connection {
        let session = Arc::new(Session::unauthenticated_default());
        Connection::with_session(id, peer, stream, broker, stop, session)
    }
}

impl<S: Transport> Connection<S> {
    pub fn with_session(
        id: u64,
        peer: SocketAddr,
        stream: S,
        broker: Arc<Broker>,
        stop: watch::Receiver<bool>,
        session: Arc<Session>,
    ) -> Connection<S> {
        Connection {
            state: State {
                id,
                peer,
                broker,
                session,
                pool: None,
            },
            stream,
            stop,
        }
    }

    /// Takes the bytes of requests that do not arrive whole from `pool`.
    pub fn with_request_pool(mut self, pool: Option<Arc<RequestPool>>) -> Connection<S> {
        self.state.pool = pool;
        self
    }

    pub async fn run(mut self) {
        let (id, peer) = (self.state.id, self.state.peer);
        tracing::debug!(conn = id, peer = %peer, "connection opened");
        match self.serve().await {
            Close::Protocol(reason) => {
                tracing::warn!(conn = id, peer = %peer, "closing connection: {reason}")
            }
            Close::AuthenticationFailed(reason) => {
                tracing::warn!(conn = id, peer = %peer, listener = %self.state.session.listener.config.name, "closing connection: {reason}");
                let delay = self
                    .state
                    .broker
                    .config
                    .connection_failed_authentication_delay_ms;
                tokio::select! {
                    _ = stopped(&mut self.stop) => {}
                    _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
                }
            }
            Close::Io(e) => {
                tracing::debug!(conn = id, peer = %peer, error = %e, "connection failed")
            }
            Close::Eof | Close::Shutdown => {
                tracing::debug!(conn = id, peer = %peer, "connection closed")
            }
            Close::Idle { idle_ms } => tracing::info!(
                conn = id,
                peer = %peer,
                "closing idle connection: no request or answer for {idle_ms} ms (connections.max.idle.ms)"
            ),
        }
        let _ = self.stream.shutdown().await;
    }

    async fn serve(&mut self) -> Close {
        let socket_max = self.state.broker.config.socket_request_max_bytes;
        let sasl_max = self.state.broker.config.sasl_server_max_receive_size;
        let idle_ms = self.state.broker.config.connections_max_idle_ms;
        let idle = Duration::from_millis(idle_ms.unwrap_or(u64::MAX)).min(MAX_IDLE);
        let state = &self.state;
        let stop = &mut self.stop;
        let (mut rd, mut wr) = self.stream.halves();
        let mut input = BytesMut::new();
        let mut read_chunk = FIRST_READ_CHUNK;
        // The pool's bytes for the request at the head of `input`, or the wait for them.
        let mut permit: Option<RequestPermit> = None;
        let mut acquiring: Option<Acquiring> = None;
        let mut answers = Answers::default();
        let mut last_traffic = Instant::now();
        // A client over its quota: no request is taken or read until then (Kafka mutes
        // the channel for the throttle time; answers still go out).
        let mut muted_until: Option<Instant> = None;
        // When the last read returned. Reads happen only when no whole frame is left in
        // `input`, so every frame taken was completed by the last read: its arrival,
        // the start of its `queue` stage (request_metrics), costs no clock read.
        let mut last_read = last_traffic;
        // When the request at the head of `input` started waiting for pool bytes: its
        // queue stage starts there instead.
        let mut pool_wait_since: Option<std::time::Instant> = None;
        // Fires no later than `last_traffic + idle`; when traffic came after it was set,
        // it fires early and is pushed on to the real deadline.
        let idle_timer = tokio::time::sleep_until(last_traffic + idle);
        tokio::pin!(idle_timer);
        loop {
            // Backpressure: with too many answers waiting, take no new request (and
            // read no more) until the oldest is out.
            let muted = muted_until.is_some_and(|t| Instant::now() < t);
            if !answers.is_full() && !muted {
                let max = state.session.max_request_bytes(socket_max, sasl_max);
                let frame = match take_frame(&mut input, max) {
                    Ok(frame) => frame,
                    Err(FrameError::TooLarge { size, max }) => {
                        let setting = if max < socket_max {
                            "sasl.server.max.receive.size, before authentication"
                        } else {
                            "socket.request.max.bytes"
                        };
                        return Close::Protocol(format!(
                            "request size {size} is outside 0..={max} ({setting}){}",
                            tls_hint(&input, &state.session)
                        ));
                    }
                };
                if let Some(frame) = frame {
                    // Held until the request is handled, then given back.
                    let _held = permit.take();
                    let arrived = pool_wait_since
                        .take()
                        .unwrap_or_else(|| last_read.into_std());
                    let handler = state.handle_frame(frame, arrived);
                    tokio::pin!(handler);
                    let handled = loop {
                        tokio::select! {
                            biased;
                            _ = stopped(stop) => return Close::Shutdown,
                            r = &mut handler => break r,
                            stepped = answers.step(&mut wr), if answers.is_busy() => {
                                if let Err(close) = stepped {
                                    return close;
                                }
                            }
                        }
                    };
                    // The idle time counts from the end of a request, however long it
                    // ran (a long poll, an acks=0 produce that has no answer).
                    last_traffic = Instant::now();
                    let close_after = match handled {
                        Ok((slot, a, handled, close_after, mute_ms)) => match answers
                            .push(slot, a, handled)
                        {
                            Ok(()) if mute_ms > 0 => {
                                muted_until = Some(Instant::now() + Duration::from_millis(mute_ms));
                                close_after
                            }
                            Ok(()) => close_after,
                            Err(close) => Some(close),
                        },
                        Err(close) => Some(close),
                    };
                    if let Some(close) = close_after {
                        return finish(&mut answers, &mut wr, stop, close).await;
                    }
                    continue;
                }
            }
            if permit.is_none() && acquiring.is_none() {
                let max = state.session.max_request_bytes(socket_max, sasl_max);
                let size = pending_frame_size(&input).filter(|&size| size <= max);
                if let (Some(pool), Some(size)) = (&state.pool, size) {
                    acquiring = Some(pool.acquire(size));
                    pool_wait_since = Some(std::time::Instant::now());
                }
            }
            if input.capacity() - input.len() < read_chunk / 4 {
                input.reserve(read_chunk);
            }
            let spare = input.capacity() - input.len();
            let reading = !answers.is_full() && acquiring.is_none() && !muted;
            // Answers still due (a deferred produce, bytes not yet written) and a request
            // waiting for pool bytes are traffic in progress, not idleness.
            let may_idle = idle_ms.is_some() && !answers.is_busy() && acquiring.is_none() && !muted;
            tokio::select! {
                biased;
                _ = stopped(stop) => return Close::Shutdown,
                stepped = answers.step(&mut wr), if answers.is_busy() => {
                    last_traffic = Instant::now();
                    if let Err(close) = stepped {
                        return close;
                    }
                }
                got = async { acquiring.as_mut().expect("guarded").await }, if acquiring.is_some() => {
                    permit = Some(got);
                    acquiring = None;
                }
                _ = tokio::time::sleep_until(muted_until.unwrap_or_else(Instant::now)), if muted => {
                    muted_until = None;
                }
                _ = &mut idle_timer, if may_idle => {
                    let deadline = last_traffic + idle;
                    if Instant::now() >= deadline {
                        return Close::Idle { idle_ms: idle_ms.unwrap_or(0) };
                    }
                    idle_timer.as_mut().reset(deadline);
                }
                read = rd.read_buf(&mut input), if reading => match read {
                    Ok(0) if input.is_empty() => {
                        return finish(&mut answers, &mut wr, stop, Close::Eof).await
                    }
                    Ok(0) => {
                        let close = Close::Protocol(format!(
                            "peer closed in the middle of a request ({} bytes pending)",
                            input.len()
                        ));
                        return finish(&mut answers, &mut wr, stop, close).await;
                    }
                    Ok(n) => {
                        last_traffic = Instant::now();
                        last_read = last_traffic;
                        if n >= spare {
                            read_chunk = (read_chunk * 2).min(READ_CHUNK);
                        }
                    }
                    Err(e) => return Close::Io(e),
                },
            }
        }
    }
}

/// The size of the request at the head of `input` when its size prefix is there but
/// not all of its bytes (those are what the pool is asked for).
fn pending_frame_size(input: &[u8]) -> Option<usize> {
    let size = i32::from_be_bytes(input.get(..4)?.try_into().ok()?);
    let size = usize::try_from(size).ok()?;
    (input.len() - 4 < size).then_some(size)
}

/// A hint for the log when a "request size" is really a TLS record header (0x16 0x03):
/// a client speaking TLS to a listener without it.
fn tls_hint(input: &[u8], session: &Session) -> String {
    if input.starts_with(&[0x16, 0x03]) {
        format!(
            "; the bytes are a TLS handshake, but listener {} is {} (client configured for SSL?)",
            session.listener.config.name,
            session.listener.config.security_protocol.name()
        )
    } else {
        String::new()
    }
}

/// Completes when the server shuts down. (The `Ref` that `wait_for` returns would keep
/// `stop` borrowed for every arm of a `select!`.)
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Writes every answer still due before the connection closes for `close`, as the
/// answers of earlier requests were written before a bad request was read; gives up
/// on shutdown or a write error (the connection closes either way).
async fn finish<W: AsyncWrite + Unpin>(
    answers: &mut Answers,
    wr: &mut W,
    stop: &mut watch::Receiver<bool>,
    close: Close,
) -> Close {
    tokio::select! {
        _ = stopped(stop) => {}
        _ = answers.finish(wr) => {}
    }
    close
}

/// A process-wide id for each request, unique for the life of the process (correlation
/// ids are only unique per connection, and clients reuse them).
fn next_request_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl State {
    /// Decodes and runs one request whose frame was read whole at `arrived`; returns
    /// its answer (ready, deferred or none) with what is needed to frame it, when the
    /// handler returned, why to close once it is written, if so, and how long to mute
    /// the connection for a client over its quota (milliseconds).
    async fn handle_frame(
        &self,
        mut frame: Bytes,
        arrived: std::time::Instant,
    ) -> Result<(Slot, Answer, std::time::Instant, Option<Close>, u64), Close> {
        let request_bytes = frame.len();
        if frame.len() < 8 {
            return Err(Close::Protocol(format!(
                "request of {} bytes is too short for a request header",
                frame.len()
            )));
        }
        let started = std::time::Instant::now();
        let api_key = i16::from_be_bytes([frame[0], frame[1]]);
        let api_version = i16::from_be_bytes([frame[2], frame[3]]);
        let Ok(key) = ApiKey::try_from(api_key) else {
            return Err(Close::Protocol(format!("unknown API key {api_key}")));
        };
        let header_version = key.request_header_version(api_version);
        let header = RequestHeader::decode(&mut frame, header_version).map_err(|e| {
            Close::Protocol(format!(
                "malformed {key:?} v{api_version} request header: {e}"
            ))
        })?;

        let Some(supported) = api::supported_versions(key) else {
            return Err(Close::Protocol(format!(
                "{key:?} (API key {api_key}) is not served by this broker"
            )));
        };
        if !(supported.min..=supported.max).contains(&api_version) {
            if key == ApiKey::ApiVersions {
                // Kafka answers an ApiVersions it cannot parse with a v0 answer carrying
                // UNSUPPORTED_VERSION and its ranges, so the client can pick a version.
                tracing::info!(
                    conn = self.id,
                    version = api_version,
                    "ApiVersions version not supported; answering with v0"
                );
                let response = api::api_versions::unsupported_version_response();
                let slot = Slot {
                    key,
                    version: 0,
                    correlation_id: header.correlation_id,
                    arrived,
                };
                let answer = Answer::Ready(Response::ApiVersions(response));
                return Ok((slot, answer, started, None, 0));
            }
            return Err(Close::Protocol(format!(
                "{key:?} v{api_version} is not supported (supported: v{}..=v{})",
                supported.min, supported.max
            )));
        }
        // Before authentication only the SASL APIs and ApiVersions are served; anything
        // else closes the connection, as Kafka closes it.
        self.session.check_request(key).map_err(Close::Protocol)?;
        // Every log line the request causes, the deferred wait for durability included,
        // carries its id: `request{request_id=N api=...}`.
        let span = tracing::info_span!(
            "request",
            request_id = next_request_id(),
            api = ?key,
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
            kafka.api_key = tracing::field::Empty,
            kafka.api_version = tracing::field::Empty,
            messaging.client.id = tracing::field::Empty,
        );
        if super::otlp::enabled() {
            let api = super::request_metrics::api_name(key);
            let client = header.client_id.as_deref();
            super::otlp::describe_request(&span, api, api_key, api_version, client);
        }
        let entered = span.enter();
        tracing::debug!(
            conn = self.id,
            api = ?key,
            version = api_version,
            correlation_id = header.correlation_id,
            client = ?header.client_id,
            "request"
        );
        let mut command = Command::decode(key, api_version, &mut frame).map_err(|e| {
            Close::Protocol(format!("malformed {key:?} v{api_version} request: {e:#}"))
        })?;
        let ctx = RequestContext::on_connection(
            self.id,
            self.peer,
            api_version,
            header.correlation_id,
            header.client_id.as_ref().map(|c| c.to_string()),
            self.session.clone(),
        );
        let mut metered = api::throttle::before(&mut command, &ctx, &self.broker, request_bytes);
        drop(entered);
        let answer = api::throttle::timed(&mut metered, command.start(&ctx, &self.broker))
            .instrument(span.clone())
            .await;
        let answer = match answer {
            Answer::Deferred(wait) => Answer::Deferred(Box::pin(wait.instrument(span))),
            other => other,
        };
        let handled = std::time::Instant::now();
        let times = super::request_metrics::Times {
            arrived,
            started,
            handled,
        };
        let answer = super::request_metrics::observe(
            crate::metrics::global(),
            key,
            api_version,
            times,
            answer,
        );
        let (answer, mute_ms) = match metered {
            Some(metered) => api::throttle::after(metered, key, api_version, answer, &self.broker),
            None => (answer, 0),
        };
        match ctx.take_close_reason() {
            Some(reason) => Err(Close::Protocol(reason)),
            None => {
                let slot = Slot {
                    key,
                    version: api_version,
                    correlation_id: header.correlation_id,
                    arrived,
                };
                Ok((
                    slot,
                    answer,
                    handled,
                    ctx.take_close_after_answer().map(|reason| match key {
                        ApiKey::SaslAuthenticate | ApiKey::SaslHandshake => {
                            Close::AuthenticationFailed(reason)
                        }
                        _ => Close::Protocol(reason),
                    }),
                    mute_ms,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! A real socket against a `Connection` on a broker in a temporary directory. Every
    //! wait is for an answer that must come; none depends on how fast the disk is.

    use std::time::Duration;

    use bytes::{Buf, BufMut};
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::api::tests::{batch, broker, values};

    /// Fails a test that would otherwise hang; never reached when the broker is right.
    const HANG: Duration = Duration::from_secs(60);

    /// A client socket served by one `Connection` task.
    async fn connect(broker: &Arc<Broker>) -> (TcpStream, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        let broker = broker.clone();
        tokio::spawn(async move {
            let (stream, peer) = listener.accept().await.unwrap();
            Connection::new(1, peer, stream, broker, stop_rx)
                .run()
                .await;
        });
        (TcpStream::connect(addr).await.unwrap(), stop_tx)
    }

    fn frame<R: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
        let mut header = RequestHeader::default();
        header.request_api_key = key as i16;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(StrBytes::from_static_str("test"));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let size = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&size.to_be_bytes());
        buf.to_vec()
    }

    fn produce(topic: &str, partition: i32, acks: i16, value: &str) -> ProduceRequest {
        let mut p = PartitionProduceData::default();
        p.index = partition;
        p.records = Some(batch(&[value], 1000));
        let mut t = TopicProduceData::default();
        t.name = TopicName(StrBytes::from_string(topic.into()));
        t.partition_data = vec![p];
        let mut req = ProduceRequest::default();
        req.acks = acks;
        req.timeout_ms = 30_000;
        req.topic_data = vec![t];
        req
    }

    /// The next answer's correlation id and body, or `None` at end of stream.
    async fn answer(client: &mut TcpStream) -> Option<(i32, Bytes)> {
        let size = match tokio::time::timeout(HANG, client.read_i32()).await.unwrap() {
            Ok(size) => size,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => panic!("reading an answer: {e}"),
        };
        let mut buf = vec![0; size as usize];
        client.read_exact(&mut buf).await.unwrap();
        let mut buf = Bytes::from(buf);
        let correlation_id = buf.get_i32();
        Some((correlation_id, buf))
    }

    fn produce_answer(mut body: Bytes) -> ProduceResponse {
        // Produce v9 has a flexible response header: skip its empty tagged fields.
        assert_eq!(body.get_u8(), 0);
        ProduceResponse::decode(&mut body, 9).unwrap()
    }

    #[tokio::test]
    async fn pipelined_requests_are_answered_in_order_with_their_data() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path(), &[]);
        let (mut client, _stop) = connect(&b).await;

        // More acks=all produces than the deferred-answer bound, with other requests
        // between them, all sent before reading anything; then end of input, which must
        // not lose the answers still due.
        let mut sent = Vec::new();
        let mut bytes = frame(ApiKey::ApiVersions, 3, 0, &ApiVersionsRequest::default());
        sent.push(0);
        for i in 1..=40 {
            if i % 7 == 0 {
                bytes.extend(frame(ApiKey::Metadata, 12, i, &MetadataRequest::default()));
            } else {
                let req = produce("pipelined", 0, -1, &format!("v{i}"));
                bytes.extend(frame(ApiKey::Produce, 9, i, &req));
            }
            sent.push(i);
        }
        client.write_all(&bytes).await.unwrap();
        client.shutdown().await.unwrap();

        let mut received = Vec::new();
        let mut next_offset = 0;
        while let Some((correlation_id, body)) = answer(&mut client).await {
            received.push(correlation_id);
            if correlation_id > 0 && correlation_id % 7 != 0 {
                let r = produce_answer(body);
                let p = &r.responses[0].partition_responses[0];
                assert_eq!(p.error_code, 0, "produce {correlation_id}");
                assert_eq!(p.base_offset, next_offset, "appended in request order");
                next_offset += 1;
            }
        }
        assert_eq!(received, sent);

        let partition = b
            .topics
            .get("pipelined")
            .unwrap()
            .partition(0)
            .unwrap()
            .clone();
        let (read, _) = partition.read(0, 1 << 20, None, true).unwrap();
        let expected: Vec<String> = (1..=40)
            .filter(|i| i % 7 != 0)
            .map(|i| format!("v{i}"))
            .collect();
        assert_eq!(values(&read.records), expected);
    }

    #[tokio::test]
    async fn a_long_poll_does_not_hold_back_an_earlier_produce_answer() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path(), &[]);
        b.topics.get_or_auto_create("quiet").unwrap().unwrap();
        let (mut client, _stop) = connect(&b).await;

        // A fetch that can only end when "quiet" gets data, which happens below only
        // after the produce answer has arrived.
        let fetch = long_poll("quiet", i32::MAX);

        let mut bytes = frame(ApiKey::Produce, 9, 1, &produce("busy", 0, -1, "first"));
        bytes.extend(frame(ApiKey::Fetch, 12, 2, &fetch));
        client.write_all(&bytes).await.unwrap();

        let (correlation_id, body) = answer(&mut client).await.unwrap();
        assert_eq!(correlation_id, 1);
        assert_eq!(
            produce_answer(body).responses[0].partition_responses[0].error_code,
            0
        );

        let ctx = RequestContext::new(2, "127.0.0.1:1".parse().unwrap(), 9, 1, None);
        api::produce::handle(produce("quiet", 0, 1, "wake"), &ctx, &b)
            .await
            .unwrap();
        let (correlation_id, _) = answer(&mut client).await.unwrap();
        assert_eq!(correlation_id, 2);
    }

    fn long_poll(topic: &'static str, max_wait_ms: i32) -> FetchRequest {
        let mut p = FetchPartition::default();
        p.partition = 0;
        p.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic = TopicName(StrBytes::from_static_str(topic));
        t.partitions = vec![p];
        let mut fetch = FetchRequest::default();
        fetch.max_wait_ms = max_wait_ms;
        fetch.min_bytes = 1;
        fetch.max_bytes = 1 << 20;
        fetch.session_epoch = -1;
        fetch.topics = vec![t];
        fetch
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_after_connections_max_idle_ms() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path(), &[("connections.max.idle.ms", "200")]);
        let (mut client, _stop) = connect(&b).await;
        client
            .write_all(&frame(
                ApiKey::ApiVersions,
                3,
                1,
                &ApiVersionsRequest::default(),
            ))
            .await
            .unwrap();
        assert_eq!(answer(&mut client).await.unwrap().0, 1);
        assert!(answer(&mut client).await.is_none(), "closed once idle");
    }

    #[tokio::test]
    async fn a_long_poll_longer_than_the_idle_time_is_not_idle() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path(), &[("connections.max.idle.ms", "300")]);
        b.topics.get_or_auto_create("quiet").unwrap().unwrap();
        let (mut client, _stop) = connect(&b).await;
        // Nothing will arrive on "quiet": the fetch ends by its max wait, several idle
        // times later, and its answer must find the connection open.
        client
            .write_all(&frame(ApiKey::Fetch, 12, 7, &long_poll("quiet", 2000)))
            .await
            .unwrap();
        assert_eq!(answer(&mut client).await.map(|(c, _)| c), Some(7));
        assert!(answer(&mut client).await.is_none(), "closed once idle");
    }

    #[tokio::test]
    async fn a_negative_idle_time_never_closes() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path(), &[("connections.max.idle.ms", "-1")]);
        let (mut client, _stop) = connect(&b).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        client
            .write_all(&frame(
                ApiKey::ApiVersions,
                3,
                1,
                &ApiVersionsRequest::default(),
            ))
            .await
            .unwrap();
        assert_eq!(answer(&mut client).await.unwrap().0, 1);
    }

    #[tokio::test]
    async fn a_failed_acks0_produce_closes_after_the_answers_due_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path(), &[]);
        let (mut client, _stop) = connect(&b).await;

        let mut bytes = frame(ApiKey::Produce, 9, 1, &produce("t", 0, -1, "kept"));
        // "t" has one partition: this acks=0 produce fails, so Kafka disconnects.
        bytes.extend(frame(ApiKey::Produce, 9, 2, &produce("t", 5, 0, "refused")));
        bytes.extend(frame(
            ApiKey::ApiVersions,
            3,
            3,
            &ApiVersionsRequest::default(),
        ));
        client.write_all(&bytes).await.unwrap();

        let (correlation_id, body) = answer(&mut client).await.unwrap();
        assert_eq!(correlation_id, 1);
        assert_eq!(
            produce_answer(body).responses[0].partition_responses[0].error_code,
            0
        );
        assert!(
            answer(&mut client).await.is_none(),
            "no answer after the failed acks=0 produce"
        );
    }
}
