//! The admin side over a real socket: /ready through start-up, serving and shutdown,
//! /metrics content negotiation, 404 and 405.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::config::Overrides;

/// One HTTP/1.1 request with `Connection: close`: (status, head, body).
async fn request(url: &str, method: &str, path: &str, accept: &str) -> (u16, String, String) {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {accept}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn config(dir: &std::path::Path) -> BrokerConfig {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        sets: vec![("sluice.http.listen".into(), "127.0.0.1:0".into())],
        ..Default::default()
    };
    BrokerConfig::load(None, &overrides).unwrap()
}

#[tokio::test]
async fn ready_follows_the_broker_and_metrics_follow_the_accept_header() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let admin = start(&config)
        .await
        .unwrap()
        .expect("an explicit address binds");
    let url = admin.url().to_string();

    // Before the broker is loaded: alive, not ready, only the broker's own metrics.
    assert_eq!(request(&url, "GET", "/health", "*/*").await.0, 200);
    let (status, _, body) = request(&url, "GET", "/ready", "*/*").await;
    assert_eq!(status, 503, "{body}");
    let (status, _, body) = request(&url, "GET", "/metrics", "*/*").await;
    assert_eq!(status, 200);
    assert!(!body.contains("kafka_brokers"), "{body}");

    let broker = Broker::open(config.clone()).unwrap();
    broker.topics.get_or_auto_create("orders").unwrap();
    admin.serving(broker.clone());
    assert_eq!(request(&url, "GET", "/ready", "*/*").await.0, 200);
    let (status, head, body) = request(&url, "GET", "/metrics", "text/plain").await;
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(body.contains("\nkafka_brokers 1\n"), "{body}");
    assert!(
        body.contains("kafka_topic_partitions{topic=\"orders\"} 1"),
        "{body}"
    );
    assert!(!body.contains("# EOF"));
    let (_, head, body) = request(
        &url,
        "GET",
        "/metrics",
        "application/openmetrics-text; version=1.0.0",
    )
    .await;
    assert!(
        head.contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");

    let (status, head, _) = request(&url, "POST", "/metrics", "*/*").await;
    assert_eq!(status, 405);
    assert!(head.contains("allow: get, head"), "{head}");
    let (status, _, body) = request(&url, "GET", "/console", "*/*").await;
    assert_eq!(status, 404);
    assert!(body.contains("\"path\":\"/console\""), "{body}");

    admin.stopping();
    assert_eq!(request(&url, "GET", "/ready", "*/*").await.0, 503);
    assert_eq!(request(&url, "GET", "/health", "*/*").await.0, 200);
    drop(admin);
    broker.shutdown();
}

#[tokio::test]
async fn an_empty_address_disables_the_side() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        sets: vec![("sluice.http.listen".into(), "".into())],
        ..Default::default()
    };
    let config = BrokerConfig::load(None, &overrides).unwrap();
    assert!(start(&config).await.unwrap().is_none());
}
