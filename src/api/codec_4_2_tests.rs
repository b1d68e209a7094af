//! The hand-written Kafka 4.2 versions against the codec's generated ones.
//!
//! Each v(N+1) differs from the codec's vN by a field swapped or inserted at a known
//! place, so each test builds one message, encodes it with the codec at vN, and checks
//! that the hand-written v(N+1) encoding is those bytes with exactly that difference,
//! and that it decodes back to the same message.
//!
//! OffsetCommit and OffsetFetch v10 swap a topic name (compact string) for a topic id
//! (16 bytes): a 15-character name is also 16 bytes (its length byte 0x10 and the
//! characters), so with topic id = those 16 bytes, v9's encoding and v10's must be
//! identical byte for byte.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch,
};
use kafka_protocol::messages::share_fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    self as codec, ApiKey, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use uuid::Uuid;

use super::*;

const NAME: &str = "fifteen-chars-x";

fn name_as_id() -> Uuid {
    assert_eq!(NAME.len(), 15);
    let mut b = [0u8; 16];
    b[0] = 0x10;
    b[1..].copy_from_slice(NAME.as_bytes());
    Uuid::from_bytes(b)
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn encode<M: Encodable>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn offset_commit(with_name: bool) -> OffsetCommitRequest {
    let mut r = OffsetCommitRequest::default();
    r.group_id = sb("g1").into();
    r.generation_id_or_member_epoch = 7;
    r.member_id = sb("member-1");
    r.group_instance_id = Some(sb("instance"));
    for i in 0..2 {
        let mut t = OffsetCommitRequestTopic::default();
        if with_name {
            t.name = TopicName(sb(NAME));
        } else {
            t.topic_id = name_as_id();
        }
        for p in 0..3 {
            let mut part = OffsetCommitRequestPartition::default();
            part.partition_index = p;
            part.committed_offset = 100 * i as i64 + p as i64;
            part.committed_leader_epoch = 5;
            part.committed_metadata = if p == 1 { None } else { Some(sb("meta")) };
            t.partitions.push(part);
        }
        r.topics.push(t);
    }
    r
}

#[test]
fn offset_commit_v10_is_v9_with_topic_ids() {
    let v9 = encode(&offset_commit(true), 9);
    let mut v10 = BytesMut::new();
    encode_offset_commit_v10(&offset_commit(false), &mut v10).unwrap();
    assert_eq!(v9, v10.freeze());

    let decoded = decode_offset_commit_v10(&mut v9.clone()).unwrap();
    assert_eq!(decoded, offset_commit(false));
    // Through the dispatcher too: version 10 reaches the hand-written decoder.
    let command = super::super::Command::decode(ApiKey::OffsetCommit, 10, &mut v9.clone()).unwrap();
    match command {
        super::super::Command::OffsetCommit(r) => assert_eq!(r, offset_commit(false)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn offset_commit_v10_refuses_truncated_input() {
    let v9 = encode(&offset_commit(true), 9);
    for cut in [0, 1, 5, v9.len() / 2, v9.len() - 1] {
        assert!(
            decode_offset_commit_v10(&mut v9.slice(..cut)).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn offset_commit_response_v10_carries_topic_ids() {
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    let mut r = codec::OffsetCommitResponse::default();
    let mut t = OffsetCommitResponseTopic::default();
    t.topic_id = name_as_id();
    let mut p = OffsetCommitResponsePartition::default();
    p.partition_index = 3;
    p.error_code = 100;
    t.partitions.push(p);
    r.topics.push(t);
    let v10 = encode(&r, 10);
    let mut named = r.clone();
    named.topics[0].topic_id = Uuid::nil();
    named.topics[0].name = TopicName(sb(NAME));
    assert_eq!(v10, encode(&named, 9));
}

fn offset_fetch(with_name: bool) -> OffsetFetchRequest {
    let mut r = OffsetFetchRequest::default();
    r.require_stable = true;
    for g in ["g1", "g2"] {
        let mut group = OffsetFetchRequestGroup::default();
        group.group_id = sb(g).into();
        group.member_id = Some(sb("m"));
        group.member_epoch = 4;
        group.topics = if g == "g2" {
            None
        } else {
            let mut t = OffsetFetchRequestTopics::default();
            if with_name {
                t.name = TopicName(sb(NAME));
            } else {
                t.topic_id = name_as_id();
            }
            t.partition_indexes = vec![0, 2, 9];
            Some(vec![t])
        };
        r.groups.push(group);
    }
    r
}

#[test]
fn offset_fetch_v10_is_v9_with_topic_ids() {
    let v9 = encode(&offset_fetch(true), 9);
    let mut v10 = BytesMut::new();
    encode_offset_fetch_v10(&offset_fetch(false), &mut v10).unwrap();
    assert_eq!(v9, v10.freeze());
    assert_eq!(
        decode_offset_fetch_v10(&mut v9.clone()).unwrap(),
        offset_fetch(false)
    );
    for cut in [0, 3, v9.len() - 1] {
        assert!(
            decode_offset_fetch_v10(&mut v9.slice(..cut)).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn list_offsets_v11_is_v10_on_the_wire() {
    let mut r = codec::ListOffsetsRequest::default();
    r.replica_id = (-1).into();
    r.isolation_level = 1;
    r.timeout_ms = 30;
    let body = encode(&r, 10);
    match super::super::Command::decode(ApiKey::ListOffsets, 11, &mut body.clone()).unwrap() {
        super::super::Command::ListOffsets(decoded) => assert_eq!(decoded, r),
        other => panic!("{other:?}"),
    }
    let response = super::super::Response::ListOffsets(codec::ListOffsetsResponse::default());
    let mut v11 = BytesMut::new();
    response.encode(&mut v11, 11).unwrap();
    let mut v10 = BytesMut::new();
    response.encode(&mut v10, 10).unwrap();
    assert_eq!(v10, v11);
}

fn share_fetch_v1() -> codec::ShareFetchRequest {
    let mut r = codec::ShareFetchRequest::default();
    r.group_id = Some(sb("share-group").into());
    r.member_id = Some(sb("member-uuid"));
    r.share_session_epoch = 3;
    r.max_wait_ms = 500;
    r.min_bytes = 1;
    r.max_bytes = 1 << 20;
    r.max_records = 50;
    r.batch_size = 10;
    let mut t = FetchTopic::default();
    t.topic_id = Uuid::from_u128(0x1234);
    let mut p = FetchPartition::default();
    p.partition_index = 2;
    let mut batch = kafka_protocol::messages::share_fetch_request::AcknowledgementBatch::default();
    batch.first_offset = 10;
    batch.last_offset = 12;
    batch.acknowledge_types = vec![1, 4, 2];
    p.acknowledgement_batches.push(batch);
    t.partitions.push(p);
    r.topics.push(t);
    r
}

/// v1's bytes with `inserted` placed after the first `prefix` bytes.
fn with_inserted(v1: &Bytes, prefix: usize, inserted: &[u8]) -> Bytes {
    let mut out = v1[..prefix].to_vec();
    out.extend_from_slice(inserted);
    out.extend_from_slice(&v1[prefix..]);
    Bytes::from(out)
}

#[test]
fn share_fetch_v2_inserts_acquire_mode_and_renew_after_batch_size() {
    let request = ShareFetchRequest {
        request: share_fetch_v1(),
        share_acquire_mode: 1,
        is_renew_ack: true,
    };
    let v1 = encode(&share_fetch_v1(), 1);
    // GroupId (1 + 11), MemberId (1 + 11), six int32s.
    let prefix = 12 + 12 + 24;
    let v2 = encode(&request, 2);
    assert_eq!(v2, with_inserted(&v1, prefix, &[1, 1]));
    assert_eq!(
        ShareFetchRequest::decode(&mut v2.clone(), 2).unwrap(),
        request
    );
    // v1 through the wrapper is the codec's v1, and reads back without the v2 fields.
    assert_eq!(encode(&request, 1), v1);
    assert_eq!(
        ShareFetchRequest::decode(&mut v1.clone(), 1).unwrap(),
        ShareFetchRequest {
            request: share_fetch_v1(),
            ..Default::default()
        }
    );
    assert_eq!(request.compute_size(2).unwrap(), v2.len());
    // A boolean other than 0/1 and a body cut inside the new fields are refused.
    assert!(ShareFetchRequest::decode(&mut with_inserted(&v1, prefix, &[1, 7]), 2).is_err());
    assert!(ShareFetchRequest::decode(&mut v2.slice(..prefix + 1), 2).is_err());
    assert!(ShareFetchRequest::decode(&mut v2.clone(), 3).is_err());
}

#[test]
fn share_fetch_response_v2_is_v1() {
    let mut response = ShareFetchResponse::default();
    response.response.acquisition_lock_timeout_ms = 30_000;
    response.response.error_message = Some(sb("x"));
    let v2 = encode(&response, 2);
    assert_eq!(v2, encode(&response.response, 1));
    assert_eq!(
        ShareFetchResponse::decode(&mut v2.clone(), 2).unwrap(),
        response
    );
}

fn share_acknowledge_v1() -> codec::ShareAcknowledgeRequest {
    let mut r = codec::ShareAcknowledgeRequest::default();
    r.group_id = None;
    r.member_id = Some(sb("m-1"));
    r.share_session_epoch = 9;
    let mut t = AcknowledgeTopic::default();
    t.topic_id = Uuid::from_u128(77);
    let mut p = AcknowledgePartition::default();
    p.partition_index = 0;
    let mut b = AcknowledgementBatch::default();
    b.first_offset = 0;
    b.last_offset = 0;
    b.acknowledge_types = vec![4];
    p.acknowledgement_batches.push(b);
    t.partitions.push(p);
    r.topics.push(t);
    r
}

#[test]
fn share_acknowledge_v2_inserts_renew_after_session_epoch() {
    let request = ShareAcknowledgeRequest {
        request: share_acknowledge_v1(),
        is_renew_ack: true,
    };
    let v1 = encode(&share_acknowledge_v1(), 1);
    // GroupId null (1), MemberId (1 + 3), ShareSessionEpoch (4).
    let prefix = 1 + 4 + 4;
    let v2 = encode(&request, 2);
    assert_eq!(v2, with_inserted(&v1, prefix, &[1]));
    assert_eq!(
        ShareAcknowledgeRequest::decode(&mut v2.clone(), 2).unwrap(),
        request
    );
    assert_eq!(request.compute_size(2).unwrap(), v2.len());
    assert!(ShareAcknowledgeRequest::decode(&mut v2.slice(..prefix), 2).is_err());
}

#[test]
fn share_acknowledge_response_v2_inserts_lock_timeout_after_error_message() {
    let mut response = ShareAcknowledgeResponse::default();
    response.response.throttle_time_ms = 1;
    response.response.error_code = 0;
    response.response.error_message = Some(sb("ok"));
    response.acquisition_lock_timeout_ms = 15_000;
    let v1 = encode(&response.response, 1);
    // ThrottleTimeMs (4), ErrorCode (2), ErrorMessage (1 + 2).
    let prefix = 4 + 2 + 3;
    let v2 = encode(&response, 2);
    assert_eq!(v2, with_inserted(&v1, prefix, &15_000i32.to_be_bytes()));
    assert_eq!(
        ShareAcknowledgeResponse::decode(&mut v2.clone(), 2).unwrap(),
        response
    );
    assert_eq!(response.compute_size(2).unwrap(), v2.len());
}

#[test]
fn describe_share_group_offsets_response_v1_inserts_lag_after_leader_epoch() {
    use codec::describe_share_group_offsets_response as m;
    let topic_id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let mut partition = m::DescribeShareGroupOffsetsResponsePartition::default();
    partition.partition_index = 3;
    partition.start_offset = 40;
    partition.leader_epoch = 7;
    partition.error_message = Some(sb("x"));
    let mut topic = m::DescribeShareGroupOffsetsResponseTopic::default();
    topic.topic_name = TopicName(sb(NAME));
    topic.topic_id = topic_id;
    topic.partitions.push(partition);
    let mut group = m::DescribeShareGroupOffsetsResponseGroup::default();
    group.group_id = codec::GroupId(sb("g"));
    group.topics.push(topic);
    let mut response = DescribeShareGroupOffsetsResponse::default();
    response.response.throttle_time_ms = 5;
    response.response.groups.push(group);
    response.lags.insert(("g".into(), topic_id, 3), 12);

    let v0 = encode(&response.response, 0);
    assert_eq!(encode(&response, 0), v0);
    // ThrottleTimeMs, groups length, "g", topics length, the name, the id, partitions
    // length, then PartitionIndex, StartOffset and LeaderEpoch.
    let prefix = 4 + 1 + 2 + 1 + 16 + 16 + 1 + 4 + 8 + 4;
    let v1 = encode(&response, 1);
    assert_eq!(v1, with_inserted(&v0, prefix, &12i64.to_be_bytes()));
    assert_eq!(
        DescribeShareGroupOffsetsResponse::decode(&mut v1.clone(), 1).unwrap(),
        response
    );
    // A partition without a computed lag is answered with Kafka's -1.
    response.lags.clear();
    let v1 = encode(&response, 1);
    assert_eq!(v1, with_inserted(&v0, prefix, &(-1i64).to_be_bytes()));
    assert!(DescribeShareGroupOffsetsResponse::decode(&mut v1.slice(..v1.len() - 3), 1).is_err());
}
