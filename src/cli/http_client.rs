//! The CLI's HTTP/1.1 client for the broker's admin HTTP side (`sluice.http.listen`):
//! one request per connection through hyper, for `sluice status` and the console API
//! calls of `sluice group describe`. It never reads the broker's files or memory.

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What the server answered.
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
    /// The first `Set-Cookie` header's `name=value` part (a console session).
    pub cookie: Option<String>,
}

/// One request to `address` (HOST:PORT): `body` is sent as JSON, `cookie` as the
/// `Cookie` header.
pub async fn request(
    address: &str,
    method: hyper::Method,
    path: &str,
    body: Option<String>,
    cookie: Option<&str>,
) -> Result<HttpAnswer> {
    let stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to the admin HTTP side at {address}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(method.clone())
        .uri(path)
        .header(hyper::header::HOST, address);
    if body.is_some() {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    if let Some(cookie) = cookie {
        builder = builder.header(hyper::header::COOKIE, cookie);
    }
    let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("{method} {path}"))?;
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get(hyper::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_string());
    let body = response.into_body().collect().await?.to_bytes();
    Ok(HttpAnswer {
        status,
        body: String::from_utf8_lossy(&body).trim().to_string(),
        cookie,
    })
}
