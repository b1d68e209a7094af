//! `sluice status`: asks a broker's admin HTTP side (`sluice.http.listen`) whether it is
//! alive (`/health`) and ready (`/ready`) and prints both, the way a probe sees them.
//!
//! Speaks plain HTTP/1.1 through hyper to the address given; it never reads the
//! broker's files or memory. Exit status: success only when the broker is ready.

use anyhow::{bail, Context, Result};
use clap::Args;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The broker's admin HTTP address (sluice.http.listen).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9644")]
    pub http: String,
}

/// One GET: status code and body.
async fn get(address: &str, path: &str) -> Result<(u16, String)> {
    let stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to the admin HTTP side at {address}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, address)
        .body(Empty::<Bytes>::new())?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).trim().to_string()))
}

pub async fn run(args: StatusArgs) -> Result<()> {
    let address = args.http.trim();
    let (health, health_body) = get(address, "/health").await?;
    let (ready, ready_body) = get(address, "/ready").await?;
    println!("health: {health} {health_body}");
    println!("ready:  {ready} {ready_body}");
    if health != 200 || ready != 200 {
        bail!("broker at {address} is not ready");
    }
    Ok(())
}
