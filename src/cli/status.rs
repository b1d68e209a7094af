//! `sluice status`: asks a broker's admin HTTP side (`sluice.http.listen`) whether it is
//! alive (`/health`) and ready (`/ready`) and prints both, the way a probe sees them.
//!
//! Speaks plain HTTP/1.1 through hyper to the address given; it never reads the
//! broker's files or memory. Exit status: success only when the broker is ready.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The broker's admin HTTP address (sluice.http.listen).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9644")]
    pub http: String,
}

/// One GET: status code and body.
async fn get(address: &str, path: &str) -> Result<(u16, String)> {
    let answer = super::http_client::request(address, hyper::Method::GET, path, None, None).await?;
    Ok((answer.status, answer.body))
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
