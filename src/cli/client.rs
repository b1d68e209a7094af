//! A small async Kafka client connection for the CLI: one TCP connection to one broker,
//! Kafka framing, request/response headers, correlation ids and ApiVersions negotiation,
//! all through `kafka_protocol`'s typed messages.
//!
//! It owns exactly one socket and sends one request at a time (the CLI never pipelines).
//! It must never know about topics, leaders or groups (that is `cluster.rs` and the
//! command files) and never reach into the broker's own modules: it speaks only the wire
//! protocol, so it works against Apache Kafka as well as Sluice.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::security::{self, Stream};

/// The client id every request carries.
pub const CLIENT_ID: &str = "sluice-cli";
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer accepted (a fetch answer is bounded by the request's max bytes).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// One connection to one broker, with the version ranges it advertised.
pub struct Connection {
    addr: String,
    /// TCP, or TLS on it (`super::security`).
    stream: Box<dyn Stream>,
    next_correlation_id: i32,
    /// API key -> (min, max) the broker advertised in ApiVersions.
    versions: HashMap<i16, (i16, i16)>,
    /// How long a request may wait for its answer (long polls add their own wait).
    pub request_timeout: Duration,
}

impl Connection {
    /// Connects to `addr` (HOST:PORT), with TLS when the client security settings
    /// say so, negotiates versions with ApiVersions and authenticates with SASL when
    /// configured.
    pub async fn connect(addr: &str) -> Result<Connection> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("cannot connect to {addr}: timed out"))?
            .with_context(|| format!("cannot connect to {addr}"))?;
        tcp.set_nodelay(true).ok();
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, security::wrap(addr, tcp))
            .await
            .map_err(|_| anyhow!("TLS handshake with {addr}: timed out"))??;
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            next_correlation_id: 1,
            versions: HashMap::new(),
            request_timeout: Duration::from_secs(30),
        };
        conn.negotiate().await?;
        if let Some(sasl) = security::sasl() {
            conn.authenticate(&sasl).await?;
        }
        Ok(conn)
    }

    /// SaslHandshake, then SaslAuthenticate until the mechanism's exchange is done.
    async fn authenticate(&mut self, sasl: &security::Sasl) -> Result<()> {
        let handshake = self
            .send(
                &SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_string(sasl.mechanism.clone())),
                1,
            )
            .await?;
        if let Some(e) = ResponseError::try_from_code(handshake.error_code) {
            bail!(
                "{}: SASL mechanism {} refused ({}); the listener offers {}",
                self.addr,
                sasl.mechanism,
                error_name(e),
                handshake
                    .mechanisms
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut client = security::SaslClient::new(sasl);
        let mut last: Option<Bytes> = None;
        while let Some(token) = client
            .step(last.as_deref())
            .with_context(|| format!("{}: SASL {}", self.addr, sasl.mechanism))?
        {
            let answer = self
                .send(
                    &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
                    2,
                )
                .await?;
            if let Some(e) = ResponseError::try_from_code(answer.error_code) {
                bail!(
                    "{}: authentication as {} failed ({}): {}",
                    self.addr,
                    sasl.username,
                    error_name(e),
                    answer
                        .error_message
                        .as_ref()
                        .map_or("no message", |m| m.as_str())
                );
            }
            last = Some(answer.auth_bytes);
        }
        Ok(())
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// ApiVersions v3 (flexible); a broker that does not know v3 answers in v0 with
    /// UNSUPPORTED_VERSION, and the request is retried in v0 as Kafka clients do.
    async fn negotiate(&mut self) -> Result<()> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("sluice-cli"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut answer = self.send_raw(&request, 3).await;
        let retry = match &answer {
            Ok(r) => r.error_code == ResponseError::UnsupportedVersion.code(),
            Err(_) => true,
        };
        if retry {
            answer = self.send_raw(&ApiVersionsRequest::default(), 0).await;
        }
        let answer = answer.context("ApiVersions failed")?;
        if let Some(e) = ResponseError::try_from_code(answer.error_code) {
            bail!("{}: ApiVersions failed: {}", self.addr, error_name(e));
        }
        self.versions = answer
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(())
    }

    /// The broker's advertised range for an API, if it serves it.
    pub fn advertised(&self, key: ApiKey) -> Option<(i16, i16)> {
        self.versions.get(&(key as i16)).copied()
    }

    /// The highest version both sides speak, capped at `max_ours` (the newest shape the
    /// calling command builds). Errors name the API when there is none in common.
    pub fn version<R: Request>(&self, max_ours: i16) -> Result<i16> {
        let key = R::KEY;
        let ours = R::VERSIONS;
        let Some(&(min, max)) = self.versions.get(&key) else {
            bail!(
                "the broker at {} does not serve {} (API key {key})",
                self.addr,
                api_name(key)
            );
        };
        let hi = max.min(ours.max).min(max_ours);
        let lo = min.max(ours.min);
        if hi < lo {
            bail!(
                "no common version of {} with the broker at {} (broker {min}..{max}, client {}..{})",
                api_name(key),
                self.addr,
                ours.min,
                ours.max.min(max_ours)
            );
        }
        Ok(hi)
    }

    /// Sends `request` in the negotiated version (capped at `max_ours`) and waits for
    /// its answer.
    pub async fn send<R: Request>(&mut self, request: &R, max_ours: i16) -> Result<R::Response> {
        let version = self.version::<R>(max_ours)?;
        self.send_raw(request, version).await
    }

    /// Sends `request` in `version` and waits for the answer.
    pub async fn send_raw<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response> {
        self.send_raw_timeout(request, version, self.request_timeout)
            .await
    }

    /// Like [`send_raw`](Self::send_raw) with an explicit time limit.
    pub async fn send_raw_timeout<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        limit: Duration,
    ) -> Result<R::Response> {
        let name = api_name(R::KEY);
        let correlation_id = self.write_request(request, version).await?;
        let frame = tokio::time::timeout(limit, self.read_frame())
            .await
            .map_err(|_| {
                anyhow!(
                    "{name} to {}: no answer within {} ms",
                    self.addr,
                    limit.as_millis()
                )
            })?
            .with_context(|| format!("{name} to {}", self.addr))?;
        decode_response::<R>(frame, version, correlation_id)
            .with_context(|| format!("{name} v{version} answer from {}", self.addr))
    }

    /// Sends a request that gets no answer (Produce with acks=0).
    pub async fn send_no_answer<R: Request>(&mut self, request: &R, version: i16) -> Result<()> {
        self.write_request(request, version).await?;
        Ok(())
    }

    async fn write_request<R: Request>(&mut self, request: &R, version: i16) -> Result<i32> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = encode_request(request, version, correlation_id)?;
        self.stream
            .write_all(&frame)
            .await
            .with_context(|| format!("sending {} to {}", api_name(R::KEY), self.addr))?;
        Ok(correlation_id)
    }

    async fn read_frame(&mut self) -> Result<Bytes> {
        let len = match self.stream.read_i32().await {
            Ok(len) => len,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                bail!("the broker closed the connection")
            }
            Err(e) => return Err(e.into()),
        };
        if len < 4 || len as usize > MAX_RESPONSE_BYTES {
            bail!("bad answer length {len}");
        }
        let mut buf = BytesMut::zeroed(len as usize);
        self.stream.read_exact(&mut buf).await?;
        Ok(buf.freeze())
    }
}

/// The size-prefixed frame of `request` (request header + body).
pub fn encode_request<R: Request>(request: &R, version: i16, correlation_id: i32) -> Result<Bytes> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let header_version = R::header_version(version);
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header.encode(&mut buf, header_version)?;
    request.encode(&mut buf, version)?;
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Decodes an answer frame (without its size prefix) and checks its correlation id.
pub fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
    correlation_id: i32,
) -> Result<R::Response> {
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    let header = ResponseHeader::decode(&mut frame, header_version)?;
    if header.correlation_id != correlation_id {
        bail!(
            "answer has correlation id {} but {correlation_id} was expected",
            header.correlation_id
        );
    }
    let response = R::Response::decode(&mut frame, version)?;
    if frame.has_remaining() {
        tracing::debug!(left = frame.remaining(), "bytes left after the answer");
    }
    Ok(response)
}

/// Kafka's name for an API key, e.g. `Fetch`.
pub fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}").trim_end_matches("Key").to_string(),
        Err(_) => format!("API {key}"),
    }
}

/// Kafka's upper-case name for an error, e.g. `UNKNOWN_TOPIC_OR_PARTITION`.
pub fn error_name(e: ResponseError) -> String {
    let camel = format!("{e}");
    if let ResponseError::Unknown(code) = e {
        return format!("error code {code}");
    }
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `Ok(())` for error code 0, else an error `what: NAME (message)`.
pub fn check_code(code: i16, message: Option<&StrBytes>, what: &str) -> Result<()> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(e) => match message.map(|m| m.as_str()).filter(|m| !m.is_empty()) {
            Some(m) => bail!("{what}: {} ({m})", error_name(e)),
            None => bail!("{what}: {}", error_name(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{MetadataRequest, MetadataResponse};

    #[test]
    fn error_names_are_kafkas() {
        assert_eq!(
            error_name(ResponseError::UnknownTopicOrPartition),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert_eq!(error_name(ResponseError::Unknown(999)), "error code 999");
        assert!(check_code(0, None, "x").is_ok());
        let e = check_code(3, Some(&StrBytes::from_static_str("nope")), "topic t").unwrap_err();
        assert_eq!(e.to_string(), "topic t: UNKNOWN_TOPIC_OR_PARTITION (nope)");
    }

    #[test]
    fn api_names() {
        assert_eq!(api_name(1), "Fetch");
        assert_eq!(api_name(44), "IncrementalAlterConfigs");
        assert_eq!(api_name(-7), "API -7");
    }

    #[test]
    fn request_frame_round_trips_through_the_library() {
        let req = MetadataRequest::default().with_topics(None);
        let frame = encode_request(&req, 12, 42).unwrap();
        let len = i32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let mut body = frame.slice(4..);
        let header =
            kafka_protocol::protocol::decode_request_header_from_buffer(&mut body).unwrap();
        assert_eq!(header.correlation_id, 42);
        assert_eq!(header.request_api_key, 3);
        assert_eq!(header.client_id.as_deref(), Some(CLIENT_ID));

        // An answer with the wrong correlation id is refused.
        let mut answer = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(7)
            .encode(&mut answer, 1)
            .unwrap();
        MetadataResponse::default().encode(&mut answer, 12).unwrap();
        assert!(decode_response::<MetadataRequest>(answer.clone().freeze(), 12, 7).is_ok());
        assert!(decode_response::<MetadataRequest>(answer.freeze(), 12, 8).is_err());
    }
}
