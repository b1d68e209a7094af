//! The OpenAPI document against the router: every route is documented with exactly its
//! methods, and the document is valid JSON with an OpenAPI 3 version. The ACL, user and
//! schema endpoints against a real broker (in a temporary directory): what they answer,
//! their 4xx for bad input and 403 for a principal the authorizer refuses.

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
        let concrete = path
            .replace("{topic}", "t")
            .replace("{group}", "g")
            .replace("{user}", "u")
            .replace("{subject}", "s")
            .replace("{version}", "1");
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

/// A broker in `dir` with StandardAuthorizer and `User:ANONYMOUS` as its super user
/// (the console's principal without a login), and the console serving it.
fn console_over_broker(dir: &std::path::Path, sets: &[(&str, &str)]) -> (S, Arc<Broker>) {
    let mut all = vec![
        (
            "authorizer.class.name".to_string(),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_string(),
        ),
        ("super.users".to_string(), "User:ANONYMOUS".to_string()),
    ];
    all.extend(sets.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let overrides = crate::config::Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        sets: all,
        ..Default::default()
    };
    let config = crate::config::BrokerConfig::load(None, &overrides).unwrap();
    let broker = Broker::open(config.clone()).unwrap();
    let state = ConsoleState::new(&config);
    state.serving(broker.clone());
    (state, broker)
}

/// (status, JSON body) of a handler's answer.
async fn answer(r: ApiResult) -> (u16, Value) {
    let response = r.unwrap_or_else(|e| e.into_response());
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn as_user<F: std::future::Future>(
    user: &str,
    f: F,
) -> impl std::future::Future<Output = F::Output> {
    let caller = login::Caller {
        principal: crate::security::KafkaPrincipal::user(user.to_string()),
        peer: None,
    };
    login::as_caller(Some(caller), f)
}

#[tokio::test]
async fn acls_are_created_listed_and_deleted_as_the_caller() {
    use axum::extract::State;
    let dir = tempfile::tempdir().unwrap();
    let (state, _broker) = console_over_broker(dir.path(), &[]);
    let body = json!({"resource_type": "topic", "resource_name": "orders", "principal": "User:bob",
                      "operation": "READ"});
    let acl = || serde_json::from_value::<access::AclBody>(body.clone()).unwrap();
    let (status, created) =
        answer(access::create_acl(State(state.clone()), extract::ApiJson(acl())).await).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["pattern_type"], "LITERAL");
    assert_eq!(created["host"], "*");
    let (status, listed) = answer(access::list_acls(State(state.clone())).await).await;
    assert_eq!(status, 200);
    assert_eq!(listed["authorizer_enabled"], true);
    assert_eq!(
        listed["acls"],
        json!([{"resource_type": "TOPIC", "resource_name": "orders",
        "pattern_type": "LITERAL", "principal": "User:bob", "host": "*", "operation": "READ",
        "permission": "ALLOW"}])
    );

    // Bob is no super user and has no ALTER or DESCRIBE on the cluster.
    let (status, refused) =
        answer(as_user("bob", access::list_acls(State(state.clone()))).await).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error_name"], "CLUSTER_AUTHORIZATION_FAILED");
    let (status, refused) = answer(
        as_user(
            "bob",
            access::delete_acl(State(state.clone()), extract::ApiQuery(acl())),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "{refused}");

    // Filters are not bindings: ANY, MATCH and unknown names are refused before Kafka.
    for (field, value) in [
        ("operation", "ANY"),
        ("pattern_type", "MATCH"),
        ("resource_type", "nope"),
        ("permission", ""),
    ] {
        let mut bad = body.clone();
        bad[field] = json!(value);
        let bad = serde_json::from_value::<access::AclBody>(bad).unwrap();
        let (status, e) =
            answer(access::create_acl(State(state.clone()), extract::ApiJson(bad)).await).await;
        assert_eq!(status, 400, "{field}: {e}");
        assert!(e["error"].as_str().unwrap().starts_with(field), "{e}");
    }
    let mut bad = body.clone();
    bad["principal"] = json!("bob");
    let bad = serde_json::from_value::<access::AclBody>(bad).unwrap();
    let (status, e) =
        answer(access::create_acl(State(state.clone()), extract::ApiJson(bad)).await).await;
    assert_eq!(status, 400, "{e}");

    let (status, deleted) =
        answer(access::delete_acl(State(state.clone()), extract::ApiQuery(acl())).await).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted"], 1);
    let (status, _) =
        answer(access::delete_acl(State(state.clone()), extract::ApiQuery(acl())).await).await;
    assert_eq!(status, 404);
    let (_, listed) = answer(access::list_acls(State(state.clone())).await).await;
    assert_eq!(listed["acls"], json!([]));
}

#[tokio::test]
async fn without_an_authorizer_the_acl_list_says_so() {
    use axum::extract::State;
    let dir = tempfile::tempdir().unwrap();
    let (state, _broker) = console_over_broker(dir.path(), &[("authorizer.class.name", "")]);
    let (status, listed) = answer(access::list_acls(State(state)).await).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["authorizer_enabled"], false);
}

#[tokio::test]
async fn scram_users_get_salted_passwords_that_are_never_answered() {
    use crate::security::scram::ScramMechanism;
    use axum::extract::State;
    let dir = tempfile::tempdir().unwrap();
    let (state, broker) = console_over_broker(dir.path(), &[]);
    let put = |user: &str, body: Value| {
        access::put_user(
            State(state.clone()),
            extract::ApiPath(user.to_string()),
            extract::ApiJson(body),
        )
    };
    let (status, r) = answer(
        put(
            "carol",
            json!({"password": "carol-pw", "mechanism": "SCRAM-SHA-256"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r,
        json!({"user": "carol", "mechanism": "SCRAM-SHA-256", "iterations": 4096})
    );
    let stored = broker
        .scram_credentials
        .get("carol", ScramMechanism::Sha256)
        .unwrap();
    assert!(stored.matches_password(ScramMechanism::Sha256, "carol-pw"));
    assert!(!stored.matches_password(ScramMechanism::Sha256, "carol-pw2"));
    let (status, r) =
        answer(put("carol", json!({"password": "other", "iterations": 8192})).await).await;
    assert_eq!(status, 200, "{r}");
    let (_, listed) = answer(access::list_users(State(state.clone())).await).await;
    assert_eq!(
        listed["users"],
        json!([{"user": "carol", "credentials": [
        {"mechanism": "SCRAM-SHA-256", "iterations": 4096},
        {"mechanism": "SCRAM-SHA-512", "iterations": 8192}]}])
    );
    assert!(!listed.to_string().contains("pw"), "{listed}");

    // Bad bodies are 400s whose messages never quote what was sent.
    for body in [
        json!({}),
        json!({"password": ""}),
        json!({"password": 31337}),
        json!({"password": "p", "iterations": 100}),
        json!({"password": "p", "mechanism": "MD5"}),
        json!({"password": "p", "extra": "31337"}),
        json!(["31337"]),
        json!({"password": "x".repeat(limits::MAX_PASSWORD_BYTES + 1)}),
    ] {
        let (status, e) = answer(put("dave", body.clone()).await).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert!(!e.to_string().contains("31337"), "{e}");
    }
    let (status, refused) =
        answer(as_user("bob", put("bob", json!({"password": "mine"}))).await).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error_name"], "CLUSTER_AUTHORIZATION_FAILED");

    let delete = |user: &str, mechanism: Option<&str>| {
        let q = serde_json::from_value::<access::DeleteUserQuery>(json!({"mechanism": mechanism}))
            .unwrap();
        access::delete_user(
            State(state.clone()),
            extract::ApiPath(user.to_string()),
            extract::ApiQuery(q),
        )
    };
    let (status, r) = answer(delete("carol", Some("SCRAM-SHA-512")).await).await;
    assert_eq!(status, 200, "{r}");
    let (status, r) = answer(delete("carol", None).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["deleted"], json!(["SCRAM-SHA-256"]));
    let (status, r) = answer(delete("carol", None).await).await;
    assert_eq!(status, 404, "{r}");
    let (_, listed) = answer(access::list_users(State(state.clone())).await).await;
    assert_eq!(listed["users"], json!([]));
}

#[tokio::test]
async fn schemas_are_read_from_the_registry_in_process() {
    use crate::schema_registry::{SchemaInput, SchemaType};
    use axum::extract::State;
    let dir = tempfile::tempdir().unwrap();
    let (state, broker) = console_over_broker(dir.path(), &[]);
    let (_, listed) = answer(schemas::list(State(state.clone())).await).await;
    assert_eq!(listed["enabled"], true);
    assert_eq!(listed["subjects"], json!([]));
    let avro = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;
    let input = |schema: &str| SchemaInput {
        schema_type: SchemaType::Avro,
        schema: schema.to_string(),
        references: Vec::new(),
        id: None,
        version: None,
    };
    let v1 = broker
        .schema_registry
        .register("orders-value", &input(avro), false)
        .await
        .unwrap();
    let v2 = broker.schema_registry.register("orders-value",
        &input(r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"n","type":"int","default":0}]}"#),
        false).await.unwrap();
    let (status, listed) = answer(schemas::list(State(state.clone())).await).await;
    assert_eq!(status, 200);
    assert_eq!(listed["compatibility"], "BACKWARD");
    assert_eq!(
        listed["subjects"],
        json!([{"subject": "orders-value", "versions": [1, 2],
        "latest_id": v2.id, "schema_type": "AVRO", "compatibility": "BACKWARD"}])
    );
    let version = |subject: &str, v: &str| {
        schemas::version(
            State(state.clone()),
            extract::ApiPath((subject.to_string(), v.to_string())),
        )
    };
    let (status, one) = answer(version("orders-value", "1").await).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(
        (one["id"].as_i64(), one["schema_type"].as_str()),
        (Some(v1.id as i64), Some("AVRO"))
    );
    assert_eq!(one["versions"], json!([1, 2]));
    let parsed: Value = serde_json::from_str(one["schema"].as_str().unwrap()).unwrap();
    assert_eq!(parsed["name"], "Order");
    let (_, latest) = answer(version("orders-value", "latest").await).await;
    assert_eq!(latest["version"], 2);
    for (subject, v, status, code) in [
        ("orders-value", "9", 404, 40402),
        ("nope", "1", 404, 40401),
        ("orders-value", "x", 422, 42202),
        ("orders-value", "0", 422, 42202),
    ] {
        let (got, e) = answer(version(subject, v).await).await;
        assert_eq!(
            (got, e["registry_error_code"].as_u64()),
            (status, Some(code)),
            "{subject} {v}: {e}"
        );
    }

    let off = tempfile::tempdir().unwrap();
    let (state, _broker) =
        console_over_broker(off.path(), &[("sluice.schema.registry.listen", "")]);
    let (status, listed) = answer(schemas::list(State(state.clone())).await).await;
    assert_eq!(
        (status, &listed["enabled"]),
        (200, &json!(false)),
        "{listed}"
    );
    let (status, _) =
        answer(schemas::version(State(state), extract::ApiPath(("s".into(), "1".into()))).await)
            .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn groups_filter_by_type_and_a_missing_share_group_is_404() {
    use axum::extract::State;
    let dir = tempfile::tempdir().unwrap();
    let (state, _broker) = console_over_broker(dir.path(), &[]);
    let query = |t: Option<&str>| {
        extract::ApiQuery(serde_json::from_value::<groups::ListQuery>(json!({"type": t})).unwrap())
    };
    let (status, listed) =
        answer(groups::list(State(state.clone()), query(Some("share"))).await).await;
    assert_eq!((status, &listed["groups"]), (200, &json!([])));
    let (status, _) =
        answer(groups::list(State(state.clone()), query(Some("streams"))).await).await;
    assert_eq!(status, 400);
    let (status, e) =
        answer(share_groups::detail(State(state), extract::ApiPath("none".into())).await).await;
    assert_eq!(status, 404, "{e}");
    assert_eq!(e["error_name"], "GROUP_ID_NOT_FOUND");
}
