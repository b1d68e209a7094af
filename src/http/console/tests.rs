//! The OpenAPI document against the router: every route is documented with exactly its
//! methods, and the document is valid JSON with an OpenAPI 3 version.

use std::collections::BTreeSet;

use super::*;

#[test]
fn openapi_document_lists_exactly_the_api_routes() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .iter()
                .map(move |m| (path.to_string(), m.to_string()))
        })
        .collect();
    assert_eq!(documented, routed);
}

/// The status line's code of one HTTP/1.1 request with a `{}` JSON body.
async fn status_of(address: std::net::SocketAddr, method: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = stream.read(&mut answer).await.unwrap();
    let line = String::from_utf8_lossy(&answer[..n]).to_string();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(ConsoleState::new(&crate::config::BrokerConfig::defaults()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    for (path, methods) in API_ROUTES {
        let concrete = path.replace("{topic}", "t").replace("{group}", "g");
        for m in *methods {
            let status = status_of(address, &m.to_uppercase(), &concrete).await;
            // Before the broker serves, the API answers 503 (the document 200) or a
            // 4xx for the body; never 404/405: the route exists.
            assert!(status != 404 && status != 405, "{m} {concrete}: {status}");
        }
    }
    assert_eq!(status_of(address, "GET", "/").await, 200);
    assert_eq!(status_of(address, "GET", "/console/app.js").await, 200);
    server.abort();
}

#[test]
fn allow_lists_the_routes_methods() {
    assert_eq!(allowed_methods("/api/topics"), ["GET", "HEAD", "POST"]);
    assert_eq!(allowed_methods("/api/topics/x/configs"), ["PATCH"]);
    assert_eq!(allowed_methods("/metrics"), ["GET", "HEAD"]);
}

#[test]
fn kafka_errors_get_4xx_and_kafkas_names() {
    let e = ApiError::kafka(ResponseError::UnknownTopicOrPartition.code(), None);
    assert_eq!(e.status, StatusCode::NOT_FOUND);
    assert_eq!(e.body["error_name"], "UNKNOWN_TOPIC_OR_PARTITION");
    let e = ApiError::kafka(ResponseError::TopicAlreadyExists.code(), None);
    assert_eq!(e.status, StatusCode::CONFLICT);
    let e = ApiError::kafka(ResponseError::InvalidConfig.code(), Some("x".into()));
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
}

#[test]
fn keyed_records_go_where_kafkas_default_partitioner_puts_them() {
    // Utils.murmur2 reference values (Kafka's UtilsTest.testMurmur2).
    let cases: &[(&[u8], i32)] = &[
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58897971,
        ),
        (b"abc", 479470107),
    ];
    for (key, hash) in cases {
        let expected = (*hash & 0x7fff_ffff) % 1_000_003;
        assert_eq!(
            messages::partition_for_key(key, 1_000_003),
            expected,
            "{key:?}"
        );
    }
}
