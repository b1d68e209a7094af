//! The group APIs' handlers at every served version, against a broker in a temporary
//! directory (the coordinator's own state machine is tested in
//! `coordinator/group/tests.rs`).

use bytes::Bytes;

use super::tests::{broker, topic_t};
use crate::error::ResponseError;

/// Every group API at every served version, through the handlers, with the answers
/// encoded at the request's version (the codec refuses fields a version lacks).
#[tokio::test]
async fn every_version_of_every_group_api_encodes() {
    use crate::api::{self, RequestContext, Response};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;

    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        dir.path(),
        &[
            ("group.initial.rebalance.delay.ms", "0"),
            ("offsets.topic.num.partitions", "3"),
        ],
    );
    topic_t(&b);
    let ctx =
        |v: i16| RequestContext::new(1, "127.0.0.1:1".parse().unwrap(), v, 1, Some("c".into()));
    let s = |x: &str| StrBytes::from_string(x.to_string());
    let encode = |r: Response, v: i16| {
        let mut buf = bytes::BytesMut::new();
        r.encode(&mut buf, v)
            .unwrap_or_else(|e| panic!("v{v}: {e}"));
    };
    for v in 0..=9i16 {
        let group = GroupId(s(&format!("g{v}")));
        let mut join = JoinGroupRequest::default();
        join.group_id = group.clone();
        join.session_timeout_ms = 10_000;
        join.rebalance_timeout_ms = 10_000;
        join.protocol_type = s("consumer");
        let mut p = join_group_request::JoinGroupRequestProtocol::default();
        p.name = s("range");
        p.metadata = Bytes::from_static(b"\0\0\0\0\0\x01\0\x01t\xff\xff\xff\xff");
        join.protocols = vec![p];
        let mut r = api::join_group::handle(join.clone(), &ctx(v), &b)
            .await
            .unwrap();
        if v >= 4 {
            assert_eq!(r.error_code, ResponseError::MemberIdRequired.code());
            join.member_id = r.member_id.clone();
            r = api::join_group::handle(join, &ctx(v), &b).await.unwrap();
        }
        assert_eq!(r.error_code, 0, "JoinGroup v{v}");
        let member = r.member_id.clone();
        encode(Response::JoinGroup(r), v);

        let sv = v.min(5);
        let mut sync = SyncGroupRequest::default();
        sync.group_id = group.clone();
        sync.generation_id = 1;
        sync.member_id = member.clone();
        if sv >= 5 {
            sync.protocol_type = Some(s("consumer"));
            sync.protocol_name = Some(s("range"));
        }
        let mut a = sync_group_request::SyncGroupRequestAssignment::default();
        a.member_id = member.clone();
        a.assignment = Bytes::from_static(b"asg");
        sync.assignments = vec![a];
        let r = api::sync_group::handle(sync, &ctx(sv), &b).await.unwrap();
        assert_eq!(
            (r.error_code, &r.assignment[..]),
            (0, &b"asg"[..]),
            "SyncGroup v{sv}"
        );
        encode(Response::SyncGroup(r), sv);

        let hv = v.min(4);
        let mut hb = HeartbeatRequest::default();
        hb.group_id = group.clone();
        hb.generation_id = 1;
        hb.member_id = member.clone();
        let r = api::heartbeat::handle(hb, &ctx(hv), &b).await.unwrap();
        assert_eq!(r.error_code, 0);
        encode(Response::Heartbeat(r), hv);

        let cv = v.max(2);
        let mut oc = OffsetCommitRequest::default();
        oc.group_id = group.clone();
        oc.generation_id_or_member_epoch = 1;
        oc.member_id = member.clone();
        let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
        t.name = TopicName(s("t"));
        let mut pp = offset_commit_request::OffsetCommitRequestPartition::default();
        pp.committed_offset = 42;
        pp.committed_metadata = Some(s("meta"));
        t.partitions = vec![pp.clone(), {
            pp.partition_index = 7;
            pp
        }];
        oc.topics = vec![t];
        let r = api::offset_commit::handle(oc, &ctx(cv), &b).await.unwrap();
        let codes: Vec<i16> = r.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(
            codes,
            vec![0, ResponseError::UnknownTopicOrPartition.code()]
        );
        encode(Response::OffsetCommit(r), cv);

        let fv = v.max(1);
        let mut of = OffsetFetchRequest::default();
        if fv >= 8 {
            let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
            g.group_id = group.clone();
            g.topics = None;
            of.groups = vec![g];
        } else {
            of.group_id = group.clone();
            let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
            t.name = TopicName(s("t"));
            t.partition_indexes = vec![0];
            of.topics = Some(vec![t]);
        }
        let r = api::offset_fetch::handle(of, &ctx(fv), &b).await.unwrap();
        let offset = if fv >= 8 {
            r.groups[0].topics[0].partitions[0].committed_offset
        } else {
            r.topics[0].partitions[0].committed_offset
        };
        assert_eq!(offset, 42, "OffsetFetch v{fv}");
        encode(Response::OffsetFetch(r), fv);

        let dv = v.min(6);
        let mut dg = DescribeGroupsRequest::default();
        dg.groups = vec![group.clone(), GroupId(s("unknown"))];
        let r = api::describe_groups::handle(dg, &ctx(dv), &b)
            .await
            .unwrap();
        assert_eq!(r.groups[0].group_state.as_str(), "Stable");
        assert_eq!(&r.groups[0].members[0].member_assignment[..], b"asg");
        encode(Response::DescribeGroups(r), dv);

        let lv = v.min(5);
        let mut lg = ListGroupsRequest::default();
        if lv >= 4 {
            lg.states_filter = vec![s("stable")];
        }
        let r = api::list_groups::handle(lg, &ctx(lv), &b).await.unwrap();
        assert!(r.groups.iter().any(|g| g.group_id == group));
        encode(Response::ListGroups(r), lv);

        let lvv = v.min(5);
        let mut lr = LeaveGroupRequest::default();
        lr.group_id = group.clone();
        if lvv >= 3 {
            let mut m = leave_group_request::MemberIdentity::default();
            m.member_id = member.clone();
            lr.members = vec![m];
        } else {
            lr.member_id = member.clone();
        }
        let r = api::leave_group::handle(lr, &ctx(lvv), &b).await.unwrap();
        assert_eq!(r.error_code, 0);
        encode(Response::LeaveGroup(r), lvv);

        let mut od = OffsetDeleteRequest::default();
        od.group_id = group.clone();
        let mut t = offset_delete_request::OffsetDeleteRequestTopic::default();
        t.name = TopicName(s("t"));
        t.partitions = vec![offset_delete_request::OffsetDeleteRequestPartition::default()];
        od.topics = vec![t];
        let r = api::offset_delete::handle(od, &ctx(0), &b).await.unwrap();
        assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
        encode(Response::OffsetDelete(r), 0);

        let gv = v.min(2);
        let mut del = DeleteGroupsRequest::default();
        del.groups_names = vec![group.clone()];
        let r = api::delete_groups::handle(del, &ctx(gv), &b).await.unwrap();
        assert_eq!(r.results[0].error_code, 0, "DeleteGroups v{gv}");
        encode(Response::DeleteGroups(r), gv);
    }
}

/// OffsetCommit and OffsetFetch v10 (Kafka 4.2) name topics by id: the commit lands under
/// the topic's name (v9 reads it), an unknown id answers UNKNOWN_TOPIC_ID per partition,
/// and a fetch of every topic names each by its id.
#[tokio::test]
async fn offset_commit_and_fetch_v10_name_topics_by_id() {
    use crate::api::{self, Response};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;

    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("offsets.topic.num.partitions", "1")]);
    let topic = b
        .topics
        .create(
            crate::topics::NewTopic {
                name: "t".into(),
                num_partitions: 2,
                replication_factor: 1,
                configs: Default::default(),
            },
            false,
        )
        .unwrap();
    let unknown = uuid::Uuid::from_u128(7);
    let s = |x: &str| StrBytes::from_string(x.to_string());
    let group = GroupId(s("simple"));

    let mut oc = OffsetCommitRequest::default();
    oc.group_id = group.clone();
    oc.generation_id_or_member_epoch = -1;
    for (id, partition) in [(topic.id, 1), (unknown, 0)] {
        let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
        t.topic_id = id;
        let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
        p.partition_index = partition;
        p.committed_offset = 9;
        t.partitions = vec![p];
        oc.topics.push(t);
    }
    let r = api::offset_commit::handle(oc, &super::tests::ctx(10), &b)
        .await
        .unwrap();
    let got: Vec<(uuid::Uuid, i16)> = r
        .topics
        .iter()
        .map(|t| (t.topic_id, t.partitions[0].error_code))
        .collect();
    assert_eq!(
        got,
        vec![
            (topic.id, 0),
            (unknown, ResponseError::UnknownTopicId.code())
        ]
    );
    let mut buf = bytes::BytesMut::new();
    Response::OffsetCommit(r).encode(&mut buf, 10).unwrap();

    let fetch = |topics: Option<Vec<offset_fetch_request::OffsetFetchRequestTopics>>| {
        let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
        g.group_id = group.clone();
        g.topics = topics;
        let mut of = OffsetFetchRequest::default();
        of.groups = vec![g];
        of
    };
    // Every topic: named by id.
    let r = api::offset_fetch::handle(fetch(None), &super::tests::ctx(10), &b)
        .await
        .unwrap();
    let t = &r.groups[0].topics;
    assert_eq!((t.len(), t[0].topic_id), (1, topic.id));
    assert_eq!(
        (
            t[0].partitions[0].partition_index,
            t[0].partitions[0].committed_offset
        ),
        (1, 9)
    );
    // By id, one known and one unknown.
    let asked = [(topic.id, 1), (unknown, 0)]
        .into_iter()
        .map(|(id, p)| {
            let mut t = offset_fetch_request::OffsetFetchRequestTopics::default();
            t.topic_id = id;
            t.partition_indexes = vec![p];
            t
        })
        .collect();
    let r = api::offset_fetch::handle(fetch(Some(asked)), &super::tests::ctx(10), &b)
        .await
        .unwrap();
    let got: Vec<(uuid::Uuid, i64, i16)> = r.groups[0]
        .topics
        .iter()
        .map(|t| {
            (
                t.topic_id,
                t.partitions[0].committed_offset,
                t.partitions[0].error_code,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (topic.id, 9, 0),
            (unknown, -1, ResponseError::UnknownTopicId.code())
        ]
    );
    let mut buf = bytes::BytesMut::new();
    Response::OffsetFetch(r).encode(&mut buf, 10).unwrap();
    // v9 reads the same commit by name.
    let mut t = offset_fetch_request::OffsetFetchRequestTopics::default();
    t.name = TopicName(s("t"));
    t.partition_indexes = vec![1];
    let r = api::offset_fetch::handle(fetch(Some(vec![t])), &super::tests::ctx(9), &b)
        .await
        .unwrap();
    assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 9);
}
