//! The share group APIs through their handlers (ShareGroupHeartbeat, ShareFetch,
//! ShareAcknowledge, Describe/Alter/DeleteShareGroupOffsets, ListGroups, DeleteGroups)
//! against a broker in a temporary directory: share session epochs, piggy-backed
//! acknowledgements, read_committed share groups (aborted records never delivered,
//! nothing acquired past the last stable offset), and a restart keeping the
//! share-partition start offset.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::codec_4_2::{
    ShareAcknowledgeRequest as AckV2, ShareFetchRequest as FetchV2,
    ShareFetchResponse as FetchV2Response,
};
use super::tests::{batch, broker, ctx, encode, produce, topic_t, BatchSpec};
use crate::broker::Broker;
use crate::error::ResponseError;
use crate::topics::Topic;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn heartbeat(member: &str, epoch: i32) -> ShareGroupHeartbeatRequest {
    let mut r = ShareGroupHeartbeatRequest::default();
    r.group_id = GroupId(s("g"));
    r.member_id = s(member);
    r.member_epoch = epoch;
    if epoch == 0 {
        r.subscribed_topic_names = Some(vec![TopicName(s("t"))]);
    }
    r
}

/// A ShareFetch of partition 0 of `topic` with `acks` (first, last, type).
fn share_fetch(topic: Uuid, epoch: i32, acks: &[(i64, i64, i8)]) -> FetchV2 {
    let mut p = share_fetch_request::FetchPartition::default();
    p.partition_index = 0;
    p.acknowledgement_batches = acks
        .iter()
        .map(|(f, l, t)| {
            let mut b = share_fetch_request::AcknowledgementBatch::default();
            b.first_offset = *f;
            b.last_offset = *l;
            b.acknowledge_types = vec![*t];
            b
        })
        .collect();
    let mut t = share_fetch_request::FetchTopic::default();
    t.topic_id = topic;
    t.partitions = vec![p];
    let mut r = ShareFetchRequest::default();
    r.group_id = Some(GroupId(s("g")));
    r.member_id = Some(s("m1"));
    r.share_session_epoch = epoch;
    r.max_wait_ms = 0;
    r.max_bytes = 1 << 20;
    r.max_records = 500;
    r.topics = vec![t];
    FetchV2 {
        request: r,
        ..Default::default()
    }
}

/// (acquired ranges, acknowledge error) of partition 0.
fn acquired(r: &FetchV2Response) -> (Vec<(i64, i64, i16)>, i16) {
    let r = &r.response;
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    let p = r.responses.iter().flat_map(|t| t.partitions.iter()).next();
    p.map(|p| {
        (
            p.acquired_records
                .iter()
                .map(|a| (a.first_offset, a.last_offset, a.delivery_count))
                .collect(),
            p.acknowledge_error_code,
        )
    })
    .unwrap_or_default()
}

/// Topic "t" holding records "a" and "b" (offsets 0 and 1), which share group "g" reads
/// from the earliest offset.
async fn two_records_read_from_earliest(b: &Arc<Broker>) -> Arc<Topic> {
    let topic = topic_t(b);
    produce(b, "t", 0, batch(&["a", "b"], 1000), -1)
        .await
        .unwrap();
    b.share
        .set_group_config("g", "share.auto.offset.reset", Some("earliest"))
        .unwrap();
    topic
}

fn txn(values: &[&str], producer_id: i64, first_seq: i32) -> Bytes {
    encode(
        values,
        BatchSpec {
            producer_id,
            producer_epoch: 0,
            first_seq,
            transactional: true,
            ..BatchSpec::default()
        },
    )
}

#[tokio::test]
async fn share_group_lifecycle_with_read_committed() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        dir.path(),
        &[("share.coordinator.state.topic.num.partitions", "3")],
    );
    let topic = two_records_read_from_earliest(&b).await;
    b.share
        .set_group_config("g", "share.isolation.level", Some("read_committed"))
        .unwrap();
    assert!(b
        .share
        .set_group_config("g", "share.isolation.level", Some("dirty"))
        .is_err());

    let hb = super::share_group_heartbeat::handle(heartbeat("m1", 0), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!((hb.error_code, hb.member_epoch), (0, 1));
    let a = hb.assignment.unwrap();
    assert_eq!(a.topic_partitions[0].topic_id, topic.id);
    assert_eq!(a.topic_partitions[0].partitions, vec![0]);

    let c1 = ctx(1);
    let f = |req| super::share_fetch::handle(req, &c1, &b);
    assert_eq!(
        acquired(&f(share_fetch(topic.id, 0, &[])).await.unwrap()).0,
        vec![(0, 1, 1)]
    );
    // Acknowledgements on the session's opening request are refused.
    let r = f(share_fetch(topic.id, 0, &[(0, 1, 1)])).await.unwrap();
    assert_eq!(r.response.error_code, ResponseError::InvalidRequest.code());
    // The refusal left the session as it was (next epoch 1).
    let r = f(share_fetch(topic.id, 1, &[(0, 1, 1)])).await.unwrap();
    assert_eq!(acquired(&r), (vec![], 0));

    // An aborted transaction (offsets 2-3, marker 4), then a plain record (5).
    let p = topic.partition(0).unwrap().clone();
    p.append(txn(&["x", "y"], 1000, 0), 2000).unwrap();
    p.write_txn_marker(1000, 0, false, 0, 2000).unwrap();
    produce(&b, "t", 0, batch(&["c"], 3000), -1).await.unwrap();
    let r = f(share_fetch(topic.id, 2, &[])).await.unwrap();
    assert_eq!(acquired(&r).0, vec![(5, 5, 1)]);
    // An open transaction (6-7) holds back the record after it (8).
    p.append(txn(&["open"], 1001, 0), 4000).unwrap();
    produce(&b, "t", 0, batch(&["d"], 5000), -1).await.unwrap();
    let r = f(share_fetch(topic.id, 3, &[])).await.unwrap();
    assert_eq!(acquired(&r).0, vec![]);

    // ShareAcknowledge at the wrong epoch, then at the right one.
    let ack = |epoch: i32| {
        let mut b = share_acknowledge_request::AcknowledgementBatch::default();
        b.first_offset = 5;
        b.last_offset = 5;
        b.acknowledge_types = vec![1];
        let mut p = share_acknowledge_request::AcknowledgePartition::default();
        p.partition_index = 0;
        p.acknowledgement_batches = vec![b];
        let mut t = share_acknowledge_request::AcknowledgeTopic::default();
        t.topic_id = topic.id;
        t.partitions = vec![p];
        let mut r = ShareAcknowledgeRequest::default();
        r.group_id = Some(GroupId(s("g")));
        r.member_id = Some(s("m1"));
        r.share_session_epoch = epoch;
        r.topics = vec![t];
        AckV2 {
            request: r,
            ..Default::default()
        }
    };
    let r = super::share_acknowledge::handle(ack(9), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(
        r.response.error_code,
        ResponseError::InvalidShareSessionEpoch.code()
    );
    let r = super::share_acknowledge::handle(ack(4), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(r.response.error_code, 0);
    assert_eq!(r.response.responses[0].partitions[0].error_code, 0);
    // Accepting it twice is an invalid record state.
    let r = super::share_acknowledge::handle(ack(5), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(
        r.response.responses[0].partitions[0].error_code,
        ResponseError::InvalidRecordState.code()
    );

    let describe_offsets = || {
        let mut g =
            describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default();
        g.group_id = GroupId(s("g"));
        g.topics = None;
        let mut r = DescribeShareGroupOffsetsRequest::default();
        r.groups = vec![g];
        r
    };
    let r = super::describe_share_group_offsets::handle(describe_offsets(), &ctx(0), &b)
        .await
        .unwrap();
    // 0-1 and 5 accepted, 2-4 never delivered: the start offset stops at the open
    // transaction.
    assert_eq!(r.response.groups[0].topics[0].partitions[0].start_offset, 6);
    // v1's lag: everything from the start offset to the high watermark is still to be
    // delivered (the open transaction and the record behind it).
    let high_watermark = p.watermarks().high_watermark;
    assert!(high_watermark > 6);
    assert_eq!(r.lags[&("g".to_string(), topic.id, 0)], high_watermark - 6);

    let list = |types: &[&str]| {
        let mut r = ListGroupsRequest::default();
        r.types_filter = types.iter().map(|t| s(t)).collect();
        r
    };
    let r = super::list_groups::handle(list(&["share"]), &ctx(5), &b)
        .await
        .unwrap();
    assert_eq!(r.groups.len(), 1);
    assert_eq!(
        (&*r.groups[0].group_type, &*r.groups[0].group_state),
        ("share", "Stable")
    );
    let r = super::list_groups::handle(list(&["consumer"]), &ctx(5), &b)
        .await
        .unwrap();
    assert!(r.groups.is_empty());

    let delete = || {
        let mut r = DeleteGroupsRequest::default();
        r.groups_names = vec![GroupId(s("g"))];
        r
    };
    let r = super::delete_groups::handle(delete(), &ctx(2), &b)
        .await
        .unwrap();
    assert_eq!(r.results[0].error_code, ResponseError::NonEmptyGroup.code());

    // A restart keeps the start offset (the group itself is rebuilt by its members).
    drop(p);
    drop(b);
    let b = broker(
        dir.path(),
        &[("share.coordinator.state.topic.num.partitions", "3")],
    );
    let r = super::describe_share_group_offsets::handle(describe_offsets(), &ctx(0), &b)
        .await
        .unwrap();
    assert_eq!(r.response.groups[0].topics[0].partitions[0].start_offset, 6);
    let hb = super::share_group_heartbeat::handle(heartbeat("m1", 0), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(hb.error_code, 0);
    let alter = |offset: i64| {
        let mut p =
            alter_share_group_offsets_request::AlterShareGroupOffsetsRequestPartition::default();
        p.partition_index = 0;
        p.start_offset = offset;
        let mut t =
            alter_share_group_offsets_request::AlterShareGroupOffsetsRequestTopic::default();
        t.topic_name = TopicName(s("t"));
        t.partitions = vec![p];
        let mut r = AlterShareGroupOffsetsRequest::default();
        r.group_id = GroupId(s("g"));
        r.topics = vec![t];
        r
    };
    let r = super::alter_share_group_offsets::handle(alter(2), &ctx(0), &b)
        .await
        .unwrap();
    assert_eq!(r.error_code, ResponseError::NonEmptyGroup.code());
    let hb = super::share_group_heartbeat::handle(heartbeat("m1", -1), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!((hb.error_code, hb.member_epoch), (0, -1));
    let r = super::alter_share_group_offsets::handle(alter(2), &ctx(0), &b)
        .await
        .unwrap();
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 0)
    );
    let r = super::describe_share_group_offsets::handle(describe_offsets(), &ctx(0), &b)
        .await
        .unwrap();
    assert_eq!(r.response.groups[0].topics[0].partitions[0].start_offset, 2);
    let mut del = DeleteShareGroupOffsetsRequest::default();
    del.group_id = GroupId(s("g"));
    let mut t = delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic::default();
    t.topic_name = TopicName(s("t"));
    del.topics = vec![t];
    let r = super::delete_share_group_offsets::handle(del, &ctx(0), &b)
        .await
        .unwrap();
    assert_eq!((r.error_code, r.responses[0].error_code), (0, 0));
    let r = super::describe_share_group_offsets::handle(describe_offsets(), &ctx(0), &b)
        .await
        .unwrap();
    assert!(r.response.groups[0].topics.is_empty());
    let r = super::delete_groups::handle(delete(), &ctx(2), &b)
        .await
        .unwrap();
    assert_eq!(r.results[0].error_code, 0);
    let mut d = ShareGroupDescribeRequest::default();
    d.group_ids = vec![GroupId(s("g"))];
    let r = super::share_group_describe::handle(d, &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(
        r.groups[0].error_code,
        ResponseError::GroupIdNotFound.code()
    );
}

#[tokio::test]
async fn share_fetch_v2_acquire_modes_and_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let topic = topic_t(&b);
    // Two producer batches: 0-2 and 3-5.
    for (values, at) in [(["a", "b", "c"], 1000), (["d", "e", "f"], 2000)] {
        produce(&b, "t", 0, batch(&values, at), -1).await.unwrap();
    }
    b.share
        .set_group_config("g", "share.auto.offset.reset", Some("earliest"))
        .unwrap();
    for m in ["m1", "m2"] {
        let hb = super::share_group_heartbeat::handle(heartbeat(m, 0), &ctx(1), &b)
            .await
            .unwrap();
        assert_eq!(hb.error_code, 0);
    }
    let c2 = ctx(2);
    let fetch = |member: &str, epoch: i32, max: i32, mode: i8| {
        let mut r = share_fetch(topic.id, epoch, &[]);
        r.request.member_id = Some(s(member));
        r.request.max_records = max;
        r.share_acquire_mode = mode;
        r
    };
    // Record limit: exactly 2 records.
    let r = super::share_fetch::handle(fetch("m1", 0, 2, 1), &c2, &b)
        .await
        .unwrap();
    assert_eq!(acquired(&r).0, vec![(0, 1, 1)]);
    // Batch-optimized: 2 records reach into the first batch's rest (2), then stop at
    // its end; the second member's fetch takes the next batch whole.
    let r = super::share_fetch::handle(fetch("m2", 0, 1, 0), &c2, &b)
        .await
        .unwrap();
    assert_eq!(acquired(&r).0, vec![(2, 2, 1)]);
    let r = super::share_fetch::handle(fetch("m2", 1, 1, 0), &c2, &b)
        .await
        .unwrap();
    assert_eq!(acquired(&r).0, vec![(3, 5, 1)]);
    // An unknown acquire mode is an invalid request.
    let r = super::share_fetch::handle(fetch("m1", 1, 1, 7), &c2, &b)
        .await
        .unwrap();
    assert_eq!(r.response.error_code, ResponseError::InvalidRequest.code());

    // IsRenewAck with fetch bounds is refused; without them it renews and acquires
    // nothing.
    let mut renew = share_fetch(topic.id, 1, &[(0, 1, 4)]);
    renew.is_renew_ack = true;
    let r = super::share_fetch::handle(renew.clone(), &c2, &b)
        .await
        .unwrap();
    assert_eq!(r.response.error_code, ResponseError::InvalidRequest.code());
    renew.request.max_wait_ms = 0;
    renew.request.max_bytes = 0;
    renew.request.max_records = 0;
    let r = super::share_fetch::handle(renew, &c2, &b).await.unwrap();
    assert_eq!(acquired(&r), (vec![], 0));
    assert!(r.response.acquisition_lock_timeout_ms > 0);
    // RENEW at v1 is refused per partition.
    let r = super::share_fetch::handle(share_fetch(topic.id, 2, &[(0, 1, 4)]), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(acquired(&r).1, ResponseError::InvalidRequest.code());
    // ShareAcknowledge v2 renews and answers the lock duration; then accepts.
    let ack = |epoch: i32, ty: i8| {
        let mut bt = share_acknowledge_request::AcknowledgementBatch::default();
        bt.first_offset = 0;
        bt.last_offset = 1;
        bt.acknowledge_types = vec![ty];
        let mut p = share_acknowledge_request::AcknowledgePartition::default();
        p.acknowledgement_batches = vec![bt];
        let mut t = share_acknowledge_request::AcknowledgeTopic::default();
        t.topic_id = topic.id;
        t.partitions = vec![p];
        let mut r = ShareAcknowledgeRequest::default();
        r.group_id = Some(GroupId(s("g")));
        r.member_id = Some(s("m1"));
        r.share_session_epoch = epoch;
        r.topics = vec![t];
        AckV2 {
            request: r,
            is_renew_ack: ty == 4,
        }
    };
    let r = super::share_acknowledge::handle(ack(3, 4), &c2, &b)
        .await
        .unwrap();
    assert_eq!(r.response.responses[0].partitions[0].error_code, 0);
    assert_eq!(
        i64::from(r.acquisition_lock_timeout_ms),
        b.share.config().record_lock_duration_ms
    );
    let r = super::share_acknowledge::handle(ack(4, 1), &c2, &b)
        .await
        .unwrap();
    assert_eq!(r.response.responses[0].partitions[0].error_code, 0);
}

#[tokio::test]
async fn group_configs_survive_a_restart_and_delete_group_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    b.share
        .set_group_config("g", "share.auto.offset.reset", Some("earliest"))
        .unwrap();
    b.share
        .set_group_config("g", "share.record.lock.duration.ms", Some("20000"))
        .unwrap();
    b.share
        .set_group_config("g", "share.record.lock.duration.ms", None)
        .unwrap();
    drop(b);
    let b = broker(dir.path(), &[]);
    assert_eq!(
        b.share.group_configs("g").into_iter().collect::<Vec<_>>(),
        vec![(
            "share.auto.offset.reset".to_string(),
            "earliest".to_string()
        )]
    );
    // A group with configs and no members is deleted with its configs.
    let hb = super::share_group_heartbeat::handle(heartbeat("m1", 0), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(hb.error_code, 0);
    super::share_group_heartbeat::handle(heartbeat("m1", -1), &ctx(1), &b)
        .await
        .unwrap();
    b.share.delete_group("g").await.unwrap();
    drop(b);
    let b = broker(dir.path(), &[]);
    assert!(b.share.group_configs("g").is_empty());
}

#[tokio::test]
async fn membership_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let hb = super::share_group_heartbeat::handle(heartbeat("m1", 0), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(hb.error_code, 0);
    let epoch = hb.member_epoch;
    drop(b);
    let b = broker(dir.path(), &[]);
    let g = b
        .share
        .describe("g")
        .expect("the group is still there")
        .group;
    assert_eq!(g.members["m1"].member_epoch, epoch);
    // The member carries on at its epoch, without rejoining.
    let hb = super::share_group_heartbeat::handle(heartbeat("m1", epoch), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!((hb.error_code, hb.member_epoch), (0, epoch));
    super::share_group_heartbeat::handle(heartbeat("m1", -1), &ctx(1), &b)
        .await
        .unwrap();
    drop(b);
    let b = broker(dir.path(), &[]);
    assert!(b.share.describe("g").unwrap().group.members.is_empty());
}

#[tokio::test]
async fn share_admin_apis_answer_unsupported_version_at_share_version_0() {
    use crate::coordinator::features::{FeatureUpdate, UpgradeType, SHARE_VERSION};
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    b.features
        .update(
            &[FeatureUpdate {
                feature: SHARE_VERSION.into(),
                level: 0,
                upgrade_type: UpgradeType::SafeDowngrade,
            }],
            false,
        )
        .unwrap();
    let unsupported = ResponseError::UnsupportedVersion.code();

    let mut describe = DescribeShareGroupOffsetsRequest::default();
    let mut g =
        describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default();
    g.group_id = GroupId(s("g"));
    describe.groups.push(g);
    let r = super::describe_share_group_offsets::handle(describe, &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(r.response.groups[0].error_code, unsupported);

    let mut alter = AlterShareGroupOffsetsRequest::default();
    alter.group_id = GroupId(s("g"));
    let r = super::alter_share_group_offsets::handle(alter, &ctx(0), &b)
        .await
        .unwrap();
    assert_eq!(r.error_code, unsupported);

    let mut delete = DeleteShareGroupOffsetsRequest::default();
    delete.group_id = GroupId(s("g"));
    let r = super::delete_share_group_offsets::handle(delete, &ctx(0), &b)
        .await
        .unwrap();
    assert_eq!(r.error_code, unsupported);
}

#[tokio::test]
async fn describe_groups_names_a_share_group_as_not_classic() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let hb = super::share_group_heartbeat::handle(heartbeat("m1", 0), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(hb.error_code, 0);
    let describe = |version: i16| {
        let mut r = DescribeGroupsRequest::default();
        r.groups = vec![GroupId(s("g")), GroupId(s("nobody"))];
        let b = b.clone();
        async move {
            super::describe_groups::handle(r, &ctx(version), &b)
                .await
                .unwrap()
        }
    };
    let r = describe(6).await;
    let not_found = ResponseError::GroupIdNotFound.code();
    assert_eq!(r.groups[0].group_state.as_str(), "Dead");
    assert_eq!(r.groups[0].error_code, not_found);
    assert_eq!(
        r.groups[0].error_message.as_deref(),
        Some("Group g is not a classic group.")
    );
    assert_eq!(
        r.groups[1].error_message.as_deref(),
        Some("Group nobody not found.")
    );
    // Before v6 both are Dead without an error, as Kafka answers librdkafka's v4.
    let r = describe(4).await;
    assert!(r
        .groups
        .iter()
        .all(|g| g.error_code == 0 && g.group_state.as_str() == "Dead"));
}

/// librdkafka's ShareConsumer closes with the leave heartbeat first and its final
/// request (epoch -1, carrying the last acknowledgements) after it: as at Kafka, whose
/// share-partition leaders hear nothing of the leave, that request finds its session.
#[tokio::test]
async fn the_final_request_after_leaving_the_group_still_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let topic = two_records_read_from_earliest(&b).await;
    let hb = super::share_group_heartbeat::handle(heartbeat("m1", 0), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(hb.error_code, 0);
    let c1 = ctx(1);
    let f = |req| super::share_fetch::handle(req, &c1, &b);
    assert_eq!(
        acquired(&f(share_fetch(topic.id, 0, &[])).await.unwrap()).0,
        vec![(0, 1, 1)]
    );

    let leave = super::share_group_heartbeat::handle(heartbeat("m1", -1), &ctx(1), &b)
        .await
        .unwrap();
    assert_eq!(leave.error_code, 0);
    // Accept both records in the final request: the session is still there.
    let mut last = share_fetch(topic.id, -1, &[(0, 1, 1)]);
    last.request.max_records = 0;
    let r = f(last).await.unwrap();
    assert_eq!(r.response.error_code, 0, "{:?}", r.response.error_message);
    assert_eq!(acquired(&r), (vec![], 0));
    // Delivery is complete: the share-partition start offset moved past both.
    let offsets = b.share.start_offsets("g").unwrap();
    assert_eq!(offsets.get(&(topic.id, 0)).map(|o| o.0), Some(2));
    // The session is closed now.
    let r = f(share_fetch(topic.id, 1, &[])).await.unwrap();
    assert_eq!(
        r.response.error_code,
        ResponseError::ShareSessionNotFound.code()
    );
}

/// A member that left and never sent its final request loses its session (and the records
/// it held) after a session timeout.
#[tokio::test]
async fn a_departed_members_session_closes_after_a_session_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        dir.path(),
        &[
            ("group.share.min.session.timeout.ms", "1"),
            ("group.share.session.timeout.ms", "50"),
            ("group.share.min.heartbeat.interval.ms", "1"),
            ("group.share.heartbeat.interval.ms", "10"),
        ],
    );
    let topic = two_records_read_from_earliest(&b).await;
    let c1 = ctx(1);
    let join = || super::share_group_heartbeat::handle(heartbeat("m1", 0), &c1, &b);
    assert_eq!(join().await.unwrap().error_code, 0);
    let f = |req| super::share_fetch::handle(req, &c1, &b);
    assert_eq!(
        acquired(&f(share_fetch(topic.id, 0, &[])).await.unwrap()).0,
        vec![(0, 1, 1)]
    );
    super::share_group_heartbeat::handle(heartbeat("m1", -1), &ctx(1), &b)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    b.share.expire_members();
    let r = f(share_fetch(topic.id, -1, &[(0, 1, 1)])).await.unwrap();
    assert_eq!(
        r.response.error_code,
        ResponseError::ShareSessionNotFound.code()
    );
    // The records came back: rejoining, the member gets them a second time.
    assert_eq!(join().await.unwrap().error_code, 0);
    assert_eq!(
        acquired(&f(share_fetch(topic.id, 0, &[])).await.unwrap()).0,
        vec![(0, 1, 2)]
    );
}
