//! One client connection: reads frames, decodes the request header, hands the request
//! to `crate::api`, and writes answers back strictly in request order.
//!
//! Like a Kafka broker, a connection processes one request at a time (Kafka mutes the
//! channel until the answer is sent), so pipelined requests are answered in order and
//! a produce is visible to the next fetch on the same connection. Requests already in
//! the read buffer are handled before answers are flushed, so pipelined clients get
//! their answers in as few writes as possible. Anything that cannot be parsed closes
//! this one connection with a log line; it never panics or affects other connections.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::frame::{take_frame, FrameError};
use super::response_buf::{zero_copy_candidates, OutQueue, ResponseBuf};
use crate::api::{self, Command, RequestContext, Response};
use crate::broker::Broker;

const READ_CHUNK: usize = 64 * 1024;
/// Flush answers early once this much is queued, so one pipelined burst of fetches
/// does not hold many megabytes in memory.
const FLUSH_THRESHOLD: usize = 1024 * 1024;

pub struct Connection {
    id: u64,
    peer: SocketAddr,
    stream: TcpStream,
    broker: Arc<Broker>,
    stop: watch::Receiver<bool>,
}

/// Why a connection was closed by the broker.
#[derive(Debug)]
enum Close {
    /// The peer went away or the socket failed; not worth more than a debug line.
    Io(std::io::Error),
    Eof,
    Shutdown,
    /// The client sent something Kafka would refuse by disconnecting.
    Protocol(String),
}

impl Connection {
    pub fn new(
        id: u64,
        peer: SocketAddr,
        stream: TcpStream,
        broker: Arc<Broker>,
        stop: watch::Receiver<bool>,
    ) -> Connection {
        Connection {
            id,
            peer,
            stream,
            broker,
            stop,
        }
    }

    pub async fn run(mut self) {
        tracing::debug!(conn = self.id, peer = %self.peer, "connection opened");
        match self.serve().await {
            Close::Protocol(reason) => {
                tracing::warn!(conn = self.id, peer = %self.peer, "closing connection: {reason}")
            }
            Close::Io(e) => {
                tracing::debug!(conn = self.id, peer = %self.peer, error = %e, "connection failed")
            }
            Close::Eof | Close::Shutdown => {
                tracing::debug!(conn = self.id, peer = %self.peer, "connection closed")
            }
        }
        let _ = self.stream.shutdown().await;
    }

    async fn serve(&mut self) -> Close {
        let max = self.broker.config.socket_request_max_bytes;
        let mut input = BytesMut::with_capacity(READ_CHUNK);
        let mut output = OutQueue::default();
        loop {
            loop {
                let frame = match take_frame(&mut input, max) {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(FrameError::TooLarge { size, max }) => {
                        return Close::Protocol(format!(
                            "request size {size} is outside 0..={max} (socket.request.max.bytes)"
                        ))
                    }
                };
                let mut stop = self.stop.clone();
                let handled = tokio::select! {
                    r = self.handle_frame(frame, &mut output) => r,
                    _ = stop.wait_for(|s| *s) => return Close::Shutdown,
                };
                if let Err(close) = handled {
                    let _ = output.write_to(&mut self.stream).await;
                    return close;
                }
                if output.len() >= FLUSH_THRESHOLD {
                    if let Err(e) = output.write_to(&mut self.stream).await {
                        return Close::Io(e);
                    }
                }
            }
            if !output.is_empty() {
                if let Err(e) = output.write_to(&mut self.stream).await {
                    return Close::Io(e);
                }
            }
            if input.capacity() - input.len() < READ_CHUNK / 4 {
                input.reserve(READ_CHUNK);
            }
            tokio::select! {
                read = self.stream.read_buf(&mut input) => match read {
                    Ok(0) if input.is_empty() => return Close::Eof,
                    Ok(0) => return Close::Protocol(format!("peer closed in the middle of a request ({} bytes pending)", input.len())),
                    Ok(_) => {}
                    Err(e) => return Close::Io(e),
                },
                _ = self.stop.wait_for(|s| *s) => return Close::Shutdown,
            }
        }
    }

    /// Decodes and answers one request, appending the framed answer (if any) to `out`.
    async fn handle_frame(&self, mut frame: Bytes, out: &mut OutQueue) -> Result<(), Close> {
        if frame.len() < 8 {
            return Err(Close::Protocol(format!(
                "request of {} bytes is too short for a request header",
                frame.len()
            )));
        }
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
                return encode_response(
                    out,
                    key,
                    0,
                    header.correlation_id,
                    &Response::ApiVersions(response),
                );
            }
            return Err(Close::Protocol(format!(
                "{key:?} v{api_version} is not supported (supported: v{}..=v{})",
                supported.min, supported.max
            )));
        }
        tracing::debug!(
            conn = self.id,
            api = ?key,
            version = api_version,
            correlation_id = header.correlation_id,
            client = ?header.client_id,
            "request"
        );
        let command = Command::decode(key, api_version, &mut frame).map_err(|e| {
            Close::Protocol(format!("malformed {key:?} v{api_version} request: {e:#}"))
        })?;
        let ctx = RequestContext::new(
            self.id,
            self.peer,
            api_version,
            header.correlation_id,
            header.client_id.as_ref().map(|c| c.to_string()),
        );
        if let Some(response) = command.apply(&ctx, &self.broker).await {
            encode_response(out, key, api_version, header.correlation_id, &response)?;
        }
        match ctx.take_close_reason() {
            Some(reason) => Err(Close::Protocol(reason)),
            None => Ok(()),
        }
    }
}

/// Appends `[size][response header][body]` to `out`. Large record sets of a Fetch
/// answer are queued by reference (see `response_buf`), everything else is copied.
fn encode_response(
    out: &mut OutQueue,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &Response,
) -> Result<(), Close> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let header_version = key.response_header_version(version);
    let failed = |e: anyhow::Error| {
        tracing::error!(?key, version, error = %e, "failed to encode response; this is a broker bug");
        Close::Protocol(format!("could not encode {key:?} v{version} response: {e}"))
    };
    let candidates = zero_copy_candidates(response);
    if !candidates.is_empty() {
        let mut buf = ResponseBuf::new(&candidates);
        header
            .encode(&mut buf, header_version)
            .and_then(|_| response.encode(&mut buf, version))
            .map_err(failed)?;
        if let Some(chunks) = buf.finish() {
            let size: usize = chunks.iter().map(Bytes::len).sum();
            out.push_slice(&(size as i32).to_be_bytes());
            for chunk in chunks {
                out.push(chunk);
            }
            return Ok(());
        }
    }
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .and_then(|_| response.encode(&mut buf, version))
        .map_err(failed)?;
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    out.push_slice(&buf);
    Ok(())
}
