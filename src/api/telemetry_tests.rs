//! The KIP-714 keys and the CLIENT_METRICS config resources through `Command::apply`:
//! the handlers' answers, and Kafka's ACL rules for them (ListConfigResources and
//! CLIENT_METRICS configs need CLUSTER DESCRIBE_CONFIGS / ALTER_CONFIGS; the telemetry
//! keys need nothing).

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use uuid::Uuid;

use super::tests::{broker, ctx};
use super::{sb, Command, Response};
use crate::security::acl::{AclBinding, AclOperation, PatternType, PermissionType, ResourceType};

const CLIENT_METRICS: i8 = 16;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;

async fn apply(b: &std::sync::Arc<crate::broker::Broker>, version: i16, cmd: Command) -> Response {
    cmd.apply(&ctx(version), b).await.unwrap()
}

fn alter(name: &str, configs: &[(&str, i8, Option<&str>)]) -> Command {
    let mut res = AlterConfigsResource::default();
    res.resource_type = CLIENT_METRICS;
    res.resource_name = sb(name);
    res.configs = configs
        .iter()
        .map(|(n, op, v)| {
            let mut c = AlterableConfig::default();
            c.name = sb(*n);
            c.config_operation = *op;
            c.value = v.map(sb);
            c
        })
        .collect();
    let mut r = IncrementalAlterConfigsRequest::default();
    r.resources = vec![res];
    Command::IncrementalAlterConfigs(r)
}

fn alter_code(r: &Response) -> i16 {
    let Response::IncrementalAlterConfigs(r) = r else {
        panic!()
    };
    r.responses[0].error_code
}

fn list(types: &[i8]) -> Command {
    let mut r = ListConfigResourcesRequest::default();
    r.resource_types = types.to_vec();
    Command::ListConfigResources(r)
}

fn listed(r: &Response) -> (i16, Vec<(i8, String)>) {
    let Response::ListConfigResources(r) = r else {
        panic!()
    };
    let mut v: Vec<_> = r
        .config_resources
        .iter()
        .map(|c| (c.resource_type, c.resource_name.to_string()))
        .collect();
    v.sort();
    (r.error_code, v)
}

#[tokio::test]
async fn client_metrics_resources_are_set_described_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    b.topics.get_or_auto_create("t").unwrap();
    let set = alter(
        "sub",
        &[
            ("metrics", 0, Some("org.apache.kafka.")),
            ("interval.ms", 0, Some("1000")),
        ],
    );
    assert_eq!(alter_code(&apply(&b, 1, set).await), 0);
    // APPEND to the list setting; APPEND to the INT one is refused.
    let append = alter("sub", &[("metrics", 2, Some("x."))]);
    assert_eq!(alter_code(&apply(&b, 1, append).await), 0);
    let bad = alter("sub", &[("interval.ms", 2, Some("5"))]);
    assert_eq!(alter_code(&apply(&b, 1, bad).await), 40);
    let unknown = alter("sub", &[("nope", 0, Some("5"))]);
    assert_eq!(alter_code(&apply(&b, 1, unknown).await), 42);

    let mut res = DescribeConfigsResource::default();
    res.resource_type = CLIENT_METRICS;
    res.resource_name = sb("sub");
    let mut d = DescribeConfigsRequest::default();
    d.resources = vec![res];
    let Response::DescribeConfigs(r) = apply(&b, 4, Command::DescribeConfigs(d)).await else {
        panic!()
    };
    let got: Vec<_> = r.results[0]
        .configs
        .iter()
        .map(|c| {
            (
                c.name.to_string(),
                c.value.as_deref().unwrap().to_string(),
                c.config_source,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("interval.ms".into(), "1000".into(), 7),
            ("metrics".into(), "org.apache.kafka.,x.".into(), 7),
        ]
    );

    assert_eq!(
        listed(&apply(&b, 0, list(&[])).await),
        (0, vec![(CLIENT_METRICS, "sub".into())])
    );
    assert_eq!(
        listed(&apply(&b, 1, list(&[2, CLIENT_METRICS])).await),
        (0, vec![(2, "t".into()), (CLIENT_METRICS, "sub".into())])
    );
    let (code, all) = listed(&apply(&b, 1, list(&[])).await);
    assert_eq!(code, 0);
    assert!(all.contains(&(4, b.config.node_id.to_string())));
    assert_eq!(listed(&apply(&b, 1, list(&[3])).await).0, 35);

    // Deleting every setting removes the resource.
    let delete = alter("sub", &[("metrics", 1, None), ("interval.ms", 1, None)]);
    assert_eq!(alter_code(&apply(&b, 1, delete).await), 0);
    assert_eq!(listed(&apply(&b, 0, list(&[])).await), (0, vec![]));
}

#[tokio::test]
async fn acls_as_kafka_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        dir.path(),
        &[(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )],
    );
    assert_eq!(
        listed(&apply(&b, 1, list(&[])).await).0,
        CLUSTER_AUTHORIZATION_FAILED
    );
    let set = alter("sub", &[("metrics", 0, Some("*"))]);
    assert_eq!(
        alter_code(&apply(&b, 1, set).await),
        CLUSTER_AUTHORIZATION_FAILED
    );
    // The telemetry keys need no ACL.
    let Response::GetTelemetrySubscriptions(g) = apply(
        &b,
        0,
        Command::GetTelemetrySubscriptions(GetTelemetrySubscriptionsRequest::default()),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(g.error_code, 0);
    assert_ne!(g.client_instance_id, Uuid::nil());
    let grant = |op| AclBinding {
        resource_type: ResourceType::Cluster,
        resource_name: "kafka-cluster".into(),
        pattern_type: PatternType::Literal,
        principal: "User:ANONYMOUS".into(),
        host: "127.0.0.1".into(),
        operation: op,
        permission: PermissionType::Allow,
    };
    b.authorizer
        .create(&[
            grant(AclOperation::DescribeConfigs),
            grant(AclOperation::AlterConfigs),
        ])
        .unwrap();
    let set = alter("sub", &[("metrics", 0, Some("*"))]);
    assert_eq!(alter_code(&apply(&b, 1, set).await), 0);
    assert_eq!(
        listed(&apply(&b, 1, list(&[CLIENT_METRICS])).await),
        (0, vec![(CLIENT_METRICS, "sub".into())])
    );
}
