//! The conversion rules of online migration between classic and consumer groups (Kafka's
//! GroupMetadataManager): when a classic group is upgraded or refused, how its classic
//! members are served and told to rejoin, that no partition is owned twice across the
//! change, when the group is downgraded, and what a restart replays.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedPartitions;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::config::MigrationPolicy;
use super::heartbeat::{HeartbeatRequest, HeartbeatResult};
use super::migration::serialize_assignment;
use super::records::Assignment;
use super::tests::Setup;
use super::LEAVE_GROUP_MEMBER_EPOCH;
use crate::coordinator::group::membership::{JoinOutcome, JoinRequest, SyncOutcome, SyncRequest};
use crate::coordinator::group::{
    GroupCoordinator, GroupMetadata, GroupState, MemberMetadata, CONSUMER_PROTOCOL_TYPE,
};
use crate::error::ResponseError;

fn subscription(owned: &[i32]) -> Bytes {
    let mut s =
        ConsumerProtocolSubscription::default().with_topics(vec![StrBytes::from_static_str("t")]);
    if !owned.is_empty() {
        s = s.with_owned_partitions(vec![OwnedPartitions::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(owned.to_vec())]);
    }
    let mut b = BytesMut::new();
    b.put_i16(1);
    s.encode(&mut b, 1).unwrap();
    b.freeze()
}

fn partitions(s: &Setup, ps: &[i32]) -> Assignment {
    let id = s.topics.get("t").unwrap().id;
    let mut a = Assignment::new();
    if !ps.is_empty() {
        a.insert(id, ps.iter().copied().collect());
    }
    a
}

fn decode(bytes: &[u8]) -> Vec<i32> {
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    let mut body = Bytes::copy_from_slice(&bytes[2..]);
    let a = ConsumerProtocolAssignment::decode(&mut body, version).unwrap();
    a.assigned_partitions
        .iter()
        .flat_map(|tp| tp.partitions.clone())
        .collect()
}

/// A Stable classic group at generation 3: member `c1` owns 0-2, `c2` owns 3-5 (range).
fn classic_group(s: &Setup) -> GroupMetadata {
    let env = s.env();
    let mut g = GroupMetadata::new("g", env.now_ms);
    g.generation_id = 3;
    g.protocol_type = Some(CONSUMER_PROTOCOL_TYPE.into());
    g.protocol_name = Some("range".into());
    let mut members = IndexMap::new();
    for (id, ps) in [("c1", [0, 1, 2]), ("c2", [3, 4, 5])] {
        members.insert(
            id.to_string(),
            MemberMetadata {
                member_id: id.into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 60_000,
                session_timeout_ms: 10_000,
                protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
                protocols: vec![("range".into(), subscription(&[]))],
                assignment: serialize_assignment(&s.topics, &partitions(s, &ps), 1),
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heartbeat_deadline: env.now + std::time::Duration::from_secs(10),
            },
        );
    }
    g.members = members;
    g.leader_id = Some("c1".into());
    g.state = GroupState::Stable;
    g
}

fn consumer_join(s: &Setup, g: &mut GroupMetadata, id: &str, epoch: i32) -> HeartbeatResult {
    let joining = epoch == 0;
    let req = HeartbeatRequest {
        member_id: id.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: if joining { 60_000 } else { -1 },
        subscribed_topic_names: joining.then(|| vec!["t".to_string()]),
        owned: Some(Assignment::new()),
        client_id: "k".into(),
        client_host: "/127.0.0.1".into(),
        ..Default::default()
    };
    g.consumer_heartbeat(&s.env(), req).0
}

fn classic_join(s: &Setup, g: &mut GroupMetadata, id: &str, protocol: &str, owned: &[i32]) -> i32 {
    let req = JoinRequest {
        member_id: id.into(),
        group_instance_id: None,
        require_known_member_id: true,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        rebalance_timeout_ms: 60_000,
        session_timeout_ms: 10_000,
        protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
        protocols: vec![(protocol.into(), subscription(owned))],
    };
    match g.join(&s.env(), req) {
        JoinOutcome::Ready(r) | JoinOutcome::ReadyWhenDurable(r, _) => {
            if let Some(e) = r.error {
                return -(e.code() as i32);
            }
            assert_eq!(r.leader_id, "", "no leader in a consumer group");
            assert!(r.members.is_empty());
            r.generation_id
        }
        JoinOutcome::Wait(_) => panic!("a classic member of a consumer group never waits"),
    }
}

fn classic_sync(
    s: &Setup,
    g: &mut GroupMetadata,
    id: &str,
    generation: i32,
) -> Result<Vec<i32>, ResponseError> {
    let req = SyncRequest {
        member_id: id.into(),
        group_instance_id: None,
        generation_id: generation,
        protocol_type: Some(CONSUMER_PROTOCOL_TYPE.into()),
        protocol_name: Some("range".into()),
        assignments: Default::default(),
    };
    match g.sync(&s.env(), req) {
        SyncOutcome::Ready(r) => match r.error {
            Some(e) => Err(e),
            None => Ok(decode(&r.assignment)),
        },
        SyncOutcome::Wait(..) => panic!("a classic member of a consumer group never waits"),
    }
}

/// Every partition is owned by at most one member of the consumer group.
fn assert_disjoint(g: &GroupMetadata) {
    let cg = g.consumer.as_deref().unwrap();
    let mut seen = BTreeSet::new();
    for m in cg.members.values() {
        for a in [&m.assigned, &m.pending_revocation] {
            for (t, ps) in a {
                for p in ps {
                    assert!(seen.insert((*t, *p)), "partition {p} owned twice: {cg:?}");
                }
            }
        }
    }
}

#[test]
fn first_consumer_member_upgrades_a_classic_group_and_classic_members_rejoin() {
    let s = Setup::new(6);
    let mut g = classic_group(&s);
    let r = consumer_join(&s, &mut g, "k", 0);
    assert_eq!(r.error, None, "{r:?}");
    let cg = g.consumer.as_deref().expect("upgraded");
    assert!(g.members.is_empty(), "the classic form is gone");
    assert_eq!(cg.members.len(), 3);
    assert_eq!(
        cg.group_epoch, 4,
        "the classic generation, bumped by the new member"
    );
    let c1 = &cg.members["c1"];
    assert!(c1.uses_classic_protocol());
    assert_eq!(
        (c1.member_epoch, c1.assigned.clone()),
        (3, partitions(&s, &[0, 1, 2]))
    );
    // The new member waits for partitions the classic members still own.
    assert!(r.assignment.unwrap_or_default().is_empty());
    assert_disjoint(&g);

    // Classic members are told to rejoin; at their old generation they still commit.
    assert_eq!(
        g.heartbeat(&s.env(), "c1", None, 3),
        Some(ResponseError::RebalanceInProgress)
    );
    assert_eq!(g.validate_consumer_offset_commit("c1", 3), Ok(()));
    assert_eq!(
        g.validate_consumer_offset_commit("c1", 2),
        Err(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        classic_sync(&s, &mut g, "c1", 3),
        Err(ResponseError::RebalanceInProgress)
    );
    // An eager member rejoins having revoked everything.
    for id in ["c1", "c2"] {
        let generation = classic_join(&s, &mut g, id, "range", &[]);
        assert_eq!(generation, 4);
        let got = classic_sync(&s, &mut g, id, generation).unwrap();
        assert_eq!(got.len(), 2, "{id} keeps two of its partitions: {got:?}");
        assert_eq!(g.heartbeat(&s.env(), id, None, generation), None);
        assert_disjoint(&g);
    }
    let r = consumer_join(&s, &mut g, "k", r.member_epoch);
    assert_eq!(
        r.assignment
            .map(|a| a.values().map(|p| p.len()).sum::<usize>()),
        Some(2)
    );
    assert_disjoint(&g);
    assert_eq!(g.consumer.as_deref().unwrap().state().name(), "Stable");
}

#[test]
fn upgrade_refused_with_group_id_not_found_unless_the_policy_allows_it() {
    for policy in [MigrationPolicy::Disabled, MigrationPolicy::Downgrade] {
        let mut s = Setup::new(6);
        s.config.consumer_migration_policy = policy;
        let mut g = classic_group(&s);
        let r = consumer_join(&s, &mut g, "k", 0);
        assert_eq!(r.error, Some(ResponseError::GroupIdNotFound), "{policy:?}");
        assert!(g.consumer.is_none() && g.members.len() == 2);
    }
    // A non-consumer embedded protocol is never upgraded.
    let s = Setup::new(6);
    let mut g = classic_group(&s);
    g.protocol_type = Some("connect".into());
    assert_eq!(
        consumer_join(&s, &mut g, "k", 0).error,
        Some(ResponseError::GroupIdNotFound)
    );
}

#[test]
fn classic_join_with_an_unsupported_protocol_is_inconsistent() {
    let s = Setup::new(6);
    let mut g = classic_group(&s);
    consumer_join(&s, &mut g, "k", 0);
    let code = classic_join(&s, &mut g, "c3", "roundrobin", &[]);
    assert_eq!(
        code,
        -(ResponseError::InconsistentGroupProtocol.code() as i32)
    );
    // A new member with a supported protocol first gets MEMBER_ID_REQUIRED (v4+).
    let code = classic_join(&s, &mut g, "", "range", &[]);
    assert_eq!(code, -(ResponseError::MemberIdRequired.code() as i32));
}

#[test]
fn last_consumer_member_leaving_downgrades_and_classic_members_rejoin() {
    let s = Setup::new(6);
    let mut g = classic_group(&s);
    let r = consumer_join(&s, &mut g, "k", 0);
    let epoch = g.consumer.as_deref().unwrap().group_epoch;
    let left = consumer_join(&s, &mut g, &r.member_id, LEAVE_GROUP_MEMBER_EPOCH);
    assert_eq!(left.error, None);
    assert!(g.consumer.is_none(), "downgraded");
    assert_eq!(g.generation_id, epoch);
    assert_eq!(
        g.state,
        GroupState::PreparingRebalance,
        "its members must rejoin"
    );
    assert_eq!(g.members.len(), 2);
    // Each member holds its target of the three-member group (as Kafka's
    // fromConsumerGroup); the leaver's share is handed out by the rebalance.
    let owned: BTreeSet<i32> = g
        .members
        .values()
        .flat_map(|m| decode(&m.assignment))
        .collect();
    assert_eq!(owned.len(), 4);
    assert_eq!(
        g.heartbeat(&s.env(), "c1", None, epoch),
        Some(ResponseError::RebalanceInProgress)
    );

    // With downgrades disabled the group stays a consumer group of classic members.
    let mut s = Setup::new(6);
    s.config.consumer_migration_policy = MigrationPolicy::Upgrade;
    let mut g = classic_group(&s);
    let r = consumer_join(&s, &mut g, "k", 0);
    consumer_join(&s, &mut g, &r.member_id, LEAVE_GROUP_MEMBER_EPOCH);
    let cg = g.consumer.as_deref().expect("still a consumer group");
    assert_eq!(cg.members.len(), 2);
}

#[test]
fn a_restart_replays_the_group_type_after_each_conversion() {
    let s = Setup::new(6);
    let mut g = classic_group(&s);
    // The classic group's own record, as its last SyncGroup wrote it.
    g.store_group(&s.env()).unwrap();
    let r = consumer_join(&s, &mut g, "k", 0);
    let load = || {
        let c = GroupCoordinator::load(&s.broker, s.topics.clone(), crate::clock::Clock::system())
            .unwrap();
        let g = c.group("g").unwrap();
        let g = g.lock();
        (
            g.consumer.as_deref().map(|cg| {
                let classic: Vec<&str> = cg
                    .members
                    .values()
                    .filter(|m| m.uses_classic_protocol())
                    .map(|m| m.member_id.as_str())
                    .collect();
                (cg.members.len(), classic.len(), cg.group_epoch)
            }),
            g.members.len(),
            g.generation_id,
        )
    };
    assert_eq!(load(), (Some((3, 2, 4)), 0, 0));
    consumer_join(&s, &mut g, &r.member_id, LEAVE_GROUP_MEMBER_EPOCH);
    assert!(g.consumer.is_none());
    let (consumer, members, generation) = load();
    assert_eq!((consumer, members), (None, 2));
    assert_eq!(generation, g.generation_id);
}
