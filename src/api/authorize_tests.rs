//! The checks of `api::authorize` through `Command::apply`, as a connection runs them:
//! what a principal without the ACL gets, and that the same request goes through once
//! the ACL exists. The requests come from User:ANONYMOUS at 127.0.0.1 (a PLAINTEXT
//! connection).

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;

use super::tests::{broker, ctx};
use super::{sb, Command, Response};
use crate::security::acl::{AclBinding, AclOperation, PatternType, PermissionType, ResourceType};

const AUTHORIZER: (&str, &str) = (
    "authorizer.class.name",
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
);

fn allow(rt: ResourceType, name: &str, pattern: PatternType, op: AclOperation) -> AclBinding {
    AclBinding {
        resource_type: rt,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: "User:ANONYMOUS".into(),
        host: "127.0.0.1".into(),
        operation: op,
        permission: PermissionType::Allow,
    }
}

async fn apply(b: &std::sync::Arc<crate::broker::Broker>, version: i16, cmd: Command) -> Response {
    cmd.apply(&ctx(version), b).await.unwrap()
}

fn metadata(names: Option<&[&str]>) -> Command {
    let mut r = MetadataRequest::default();
    r.allow_auto_topic_creation = true;
    r.topics = names.map(|n| {
        n.iter()
            .map(|t| {
                let mut x = MetadataRequestTopic::default();
                x.name = Some(TopicName(sb(*t)));
                x
            })
            .collect()
    });
    Command::Metadata(r)
}

fn topic_codes(r: &Response) -> Vec<(String, i16)> {
    let Response::Metadata(m) = r else { panic!() };
    let mut v: Vec<_> = m
        .topics
        .iter()
        .map(|t| (t.name.as_ref().unwrap().to_string(), t.error_code))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn metadata_hides_undescribable_topics_and_auto_creation_needs_create() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[AUTHORIZER]);
    for t in ["seen", "unseen"] {
        b.topics.get_or_auto_create(t).unwrap();
    }
    b.authorizer
        .create(&[allow(
            ResourceType::Topic,
            "seen",
            PatternType::Literal,
            AclOperation::Read,
        )])
        .unwrap();
    assert_eq!(
        topic_codes(&apply(&b, 12, metadata(None)).await),
        vec![("seen".into(), 0)]
    );
    assert_eq!(
        topic_codes(&apply(&b, 12, metadata(Some(&["seen", "unseen"]))).await),
        vec![("seen".into(), 0), ("unseen".into(), 29)]
    );
    // DESCRIBE but no CREATE: not auto-created, TOPIC_AUTHORIZATION_FAILED.
    b.authorizer
        .create(&[allow(
            ResourceType::Topic,
            "new-",
            PatternType::Prefixed,
            AclOperation::Describe,
        )])
        .unwrap();
    assert_eq!(
        topic_codes(&apply(&b, 12, metadata(Some(&["new-1"]))).await),
        vec![("new-1".into(), 29)]
    );
    assert!(b.topics.get("new-1").is_none());
    b.authorizer
        .create(&[allow(
            ResourceType::Topic,
            "new-",
            PatternType::Prefixed,
            AclOperation::Create,
        )])
        .unwrap();
    assert_eq!(
        topic_codes(&apply(&b, 12, metadata(Some(&["new-1"]))).await),
        vec![("new-1".into(), 0)]
    );
}

#[tokio::test]
async fn group_apis_need_group_read_and_topic_read() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[AUTHORIZER]);
    b.topics.get_or_auto_create("t").unwrap();
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(sb("g"));
    join.protocol_type = sb("consumer");
    let Response::JoinGroup(r) = apply(&b, 5, Command::JoinGroup(join)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 30);

    let commit = || {
        let mut c = OffsetCommitRequest::default();
        c.group_id = GroupId(sb("g"));
        c.generation_id_or_member_epoch = -1;
        let mut t = OffsetCommitRequestTopic::default();
        t.name = TopicName(sb("t"));
        let mut p = OffsetCommitRequestPartition::default();
        p.committed_offset = 0;
        t.partitions.push(p);
        c.topics.push(t);
        Command::OffsetCommit(c)
    };
    let codes = |r: Response| {
        let Response::OffsetCommit(r) = r else {
            panic!()
        };
        r.topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(apply(&b, 8, commit()).await), vec![30]);
    b.authorizer
        .create(&[allow(
            ResourceType::Group,
            "g",
            PatternType::Literal,
            AclOperation::Read,
        )])
        .unwrap();
    assert_eq!(codes(apply(&b, 8, commit()).await), vec![29]);
    b.authorizer
        .create(&[allow(
            ResourceType::Topic,
            "t",
            PatternType::Literal,
            AclOperation::Read,
        )])
        .unwrap();
    assert_eq!(codes(apply(&b, 8, commit()).await), vec![0]);
}

#[tokio::test]
async fn idempotent_init_producer_id_needs_idempotent_write_or_some_topic_write() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[AUTHORIZER]);
    let init = || {
        let mut r = InitProducerIdRequest::default();
        r.transactional_id = None;
        r.transaction_timeout_ms = -1;
        Command::InitProducerId(r)
    };
    let code = |r: Response| {
        let Response::InitProducerId(r) = r else {
            panic!()
        };
        r.error_code
    };
    assert_eq!(code(apply(&b, 4, init()).await), 31);
    b.authorizer
        .create(&[allow(
            ResourceType::Topic,
            "out",
            PatternType::Prefixed,
            AclOperation::Write,
        )])
        .unwrap();
    assert_eq!(code(apply(&b, 4, init()).await), 0);
    let mut txn = InitProducerIdRequest::default();
    txn.transactional_id = Some(TransactionalId(sb("tx")));
    txn.transaction_timeout_ms = 10_000;
    assert_eq!(code(apply(&b, 4, Command::InitProducerId(txn)).await), 53);
}

#[tokio::test]
async fn acl_apis_need_cluster_alter_and_answer_security_disabled_without_an_authorizer() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[AUTHORIZER]);
    let Response::DescribeAcls(r) =
        apply(&b, 3, Command::DescribeAcls(DescribeAclsRequest::default())).await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 31);
    let dir2 = tempfile::tempdir().unwrap();
    let open = broker(dir2.path(), &[]);
    let Response::DescribeAcls(r) = apply(
        &open,
        3,
        Command::DescribeAcls(DescribeAclsRequest::default()),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 54);
    // A super user passes the cluster check and reads the ACLs.
    let dir3 = tempfile::tempdir().unwrap();
    let su = broker(
        dir3.path(),
        &[AUTHORIZER, ("super.users", "User:ANONYMOUS")],
    );
    let mut req = DescribeAclsRequest::default();
    req.resource_type_filter = 1;
    req.pattern_type_filter = 1;
    req.operation = 1;
    req.permission_type = 1;
    req.host_filter = None;
    let Response::DescribeAcls(r) = apply(&su, 3, Command::DescribeAcls(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
}

#[tokio::test]
async fn share_group_apis_need_group_read_and_topic_read() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[AUTHORIZER]);
    let topic = b.topics.get_or_auto_create("queued").unwrap().unwrap();
    let fetch = || {
        let mut t = share_fetch_request::FetchTopic::default();
        t.topic_id = topic.id;
        t.partitions = vec![share_fetch_request::FetchPartition::default()];
        let mut r = ShareFetchRequest::default();
        r.group_id = Some(GroupId(sb("workers")));
        r.member_id = Some(sb("m1"));
        r.topics = vec![t];
        Command::ShareFetch(super::codec_4_2::ShareFetchRequest {
            request: r,
            ..Default::default()
        })
    };
    let code = |r: &Response| match r {
        Response::ShareFetch(f) => f.response.error_code,
        _ => panic!(),
    };
    assert_eq!(code(&apply(&b, 1, fetch()).await), 30, "no group READ");
    b.authorizer
        .create(&[allow(
            ResourceType::Group,
            "workers",
            PatternType::Literal,
            AclOperation::Read,
        )])
        .unwrap();
    // No topic READ: that topic's partitions are refused, the request itself is served.
    let answer = apply(&b, 1, fetch()).await;
    let Response::ShareFetch(f) = &answer else {
        panic!()
    };
    assert!(
        ![29, 30].contains(&f.response.error_code),
        "no topic READ: not refused whole"
    );
    let refused: Vec<_> = f
        .response
        .responses
        .iter()
        .filter(|t| t.topic_id == topic.id)
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
        })
        .collect();
    assert_eq!(
        refused,
        vec![(0, 29)],
        "no topic READ: its partition refused"
    );
    b.authorizer
        .create(&[allow(
            ResourceType::Topic,
            "queued",
            PatternType::Literal,
            AclOperation::Read,
        )])
        .unwrap();
    let answer = apply(&b, 1, fetch()).await;
    assert!(
        ![29, 30].contains(&code(&answer)),
        "authorized: the share coordinator answers"
    );

    // ShareGroupDescribe: the describable group is described, the other refused.
    let mut d = ShareGroupDescribeRequest::default();
    d.group_ids = vec![GroupId(sb("workers")), GroupId(sb("hidden"))];
    let Response::ShareGroupDescribe(r) = apply(&b, 1, Command::ShareGroupDescribe(d)).await else {
        panic!()
    };
    let mut codes: Vec<_> = r
        .groups
        .iter()
        .map(|g| (g.group_id.to_string(), g.error_code))
        .collect();
    codes.sort();
    assert_eq!(codes[0], ("hidden".to_string(), 30));
    assert_eq!(codes[1].0, "workers");
    assert_ne!(codes[1].1, 30);
}
