//! Tests of KIP-848 groups on a real topic registry and `__consumer_offsets`, with the
//! clock driven by hand: a property test of the reconciliation (no partition is ever
//! owned by two members; once the members keep heartbeating, every partition is owned
//! exactly once), static membership and the member-epoch checks of offset commits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::heartbeat::{HeartbeatRequest, HeartbeatResult};
use super::records::Assignment;
use crate::config::{BrokerConfig, Overrides};
use crate::coordinator::group::{Env, GroupConfig, GroupMetadata};
use crate::error::ResponseError;
use crate::topics::{NewTopic, TopicRegistry};

pub(super) struct Setup {
    _dir: tempfile::TempDir,
    pub(super) broker: Arc<BrokerConfig>,
    pub(super) topics: Arc<TopicRegistry>,
    pub(super) config: GroupConfig,
    start: Instant,
    pub(super) elapsed_ms: u64,
}

impl Setup {
    pub(super) fn new(partitions: i32) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            sets: [
                ("offsets.topic.num.partitions", "1"),
                ("group.consumer.min.session.timeout.ms", "1000"),
                ("group.consumer.session.timeout.ms", "3000"),
                ("group.consumer.min.heartbeat.interval.ms", "100"),
                ("group.consumer.heartbeat.interval.ms", "500"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        };
        let broker = Arc::new(BrokerConfig::load(None, &overrides).unwrap());
        let topics =
            Arc::new(TopicRegistry::load(broker.clone(), crate::clock::Clock::system()).unwrap());
        topics
            .create(
                NewTopic {
                    name: "t".into(),
                    num_partitions: partitions,
                    replication_factor: 1,
                    configs: BTreeMap::new(),
                },
                false,
            )
            .unwrap();
        Setup {
            _dir: dir,
            broker: broker.clone(),
            topics,
            config: GroupConfig::from_broker(&broker),
            start: Instant::now(),
            elapsed_ms: 0,
        }
    }

    pub(super) fn env(&self) -> Env<'_> {
        Env {
            topics: &self.topics,
            config: &self.config,
            now: self.start + Duration::from_millis(self.elapsed_ms),
            now_ms: 1_000_000 + self.elapsed_ms as i64,
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.topics.close_all();
    }
}

/// A member as the client sees itself.
#[derive(Clone, Debug)]
struct Client {
    member_id: String,
    instance_id: Option<String>,
    epoch: i32,
    owned: Assignment,
    alive: bool,
    /// When it last had an answer (ms on the test clock).
    last_answer_ms: u64,
}

impl Client {
    fn new(i: usize) -> Client {
        Client {
            member_id: format!("member-{i}"),
            instance_id: None,
            epoch: 0,
            owned: Assignment::new(),
            alive: true,
            last_answer_ms: 0,
        }
    }

    fn request(&self) -> HeartbeatRequest {
        let joining = self.epoch == 0;
        HeartbeatRequest {
            member_id: self.member_id.clone(),
            member_epoch: self.epoch,
            instance_id: self.instance_id.clone(),
            rebalance_timeout_ms: if joining { 60_000 } else { -1 },
            subscribed_topic_names: joining.then(|| vec!["t".to_string()]),
            owned: Some(self.owned.clone()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            ..Default::default()
        }
    }

    /// Applies an answer as librdkafka does: revoke what is no longer assigned, then
    /// take the new assignment; a fenced or unknown member starts over.
    fn apply(&mut self, r: &HeartbeatResult) {
        match r.error {
            None => {
                self.epoch = r.member_epoch;
                if let Some(a) = &r.assignment {
                    self.owned = a.clone();
                }
            }
            Some(ResponseError::FencedMemberEpoch | ResponseError::UnknownMemberId) => {
                self.owned.clear();
                self.epoch = 0;
            }
            Some(e) => panic!("unexpected {e:?}"),
        }
    }
}

fn heartbeat(s: &Setup, g: &mut GroupMetadata, c: &mut Client) -> HeartbeatResult {
    let (r, _) = g.consumer_heartbeat(&s.env(), c.request());
    c.apply(&r);
    c.last_answer_ms = s.elapsed_ms;
    r
}

fn partitions_of(a: &Assignment) -> BTreeSet<(uuid::Uuid, i32)> {
    a.iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
        .collect()
}

/// No partition is owned by two live clients.
fn assert_disjoint(clients: &[Client]) -> Result<(), TestCaseError> {
    let mut seen = BTreeSet::new();
    for c in clients.iter().filter(|c| c.alive) {
        for tp in partitions_of(&c.owned) {
            prop_assert!(seen.insert(tp), "{tp:?} owned twice: {clients:?}");
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    Heartbeat(usize),
    Join(usize),
    Leave(usize),
    Crash(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..5usize).prop_map(Op::Heartbeat),
        1 => (0..5usize).prop_map(Op::Join),
        1 => (0..5usize).prop_map(Op::Leave),
        1 => (0..5usize).prop_map(Op::Crash),
        1 => (100..4000u64).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn no_partition_owned_twice_and_all_owned_once_stable(
        partitions in 1..9i32,
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut s = Setup::new(partitions);
        let mut g = GroupMetadata::new("g", 0);
        let mut clients: Vec<Client> = (0..5).map(Client::new).collect();
        for c in clients.iter_mut() {
            c.alive = false;
        }
        for op in ops {
            match op {
                Op::Join(i) if !clients[i].alive => {
                    clients[i] = Client::new(i);
                    clients[i].last_answer_ms = s.elapsed_ms;
                    heartbeat(&s, &mut g, &mut clients[i]);
                }
                Op::Heartbeat(i) if clients[i].alive => {
                    heartbeat(&s, &mut g, &mut clients[i]);
                }
                Op::Leave(i) if clients[i].alive => {
                    let mut req = clients[i].request();
                    req.member_epoch = -1;
                    g.consumer_heartbeat(&s.env(), req);
                    clients[i].alive = false;
                }
                Op::Crash(i) => clients[i].alive = false,
                Op::Advance(ms) => {
                    s.elapsed_ms += ms;
                    g.tick(&s.env());
                    // A client without an answer for a session timeout knows its
                    // partitions are lost (the coordinator has given them away).
                    for c in clients.iter_mut() {
                        if s.elapsed_ms - c.last_answer_ms >= 3_000 {
                            c.owned.clear();
                            c.epoch = 0;
                        }
                    }
                }
                _ => {}
            }
            assert_disjoint(&clients)?;
        }
        // Everyone alive keeps heartbeating (crashed members expire): the group settles
        // with every partition owned exactly once.
        s.elapsed_ms += 4_000;
        g.tick(&s.env());
        for _ in 0..8 {
            for c in clients.iter_mut().filter(|c| c.alive) {
                heartbeat(&s, &mut g, c);
            }
            assert_disjoint(&clients)?;
        }
        if clients.iter().any(|c| c.alive) {
            let owned: usize = clients.iter().filter(|c| c.alive).map(|c| partitions_of(&c.owned).len()).sum();
            prop_assert_eq!(owned, partitions as usize);
            let cg = g.consumer.as_deref().unwrap();
            prop_assert_eq!(cg.state(), super::ConsumerGroupState::Stable);
            for c in clients.iter().filter(|c| c.alive) {
                prop_assert_eq!(c.epoch, cg.assignment_epoch);
            }
        }
    }
}

#[test]
fn static_member_leaves_temporarily_and_its_successor_takes_its_partitions() {
    let s = Setup::new(4);
    let mut g = GroupMetadata::new("g", 0);
    let mut a = Client::new(0);
    a.instance_id = Some("i-a".into());
    let mut b = Client::new(1);
    for _ in 0..4 {
        heartbeat(&s, &mut g, &mut a);
        heartbeat(&s, &mut g, &mut b);
    }
    let a_parts = a.owned.clone();
    assert_eq!(partitions_of(&a_parts).len(), 2);
    // Another process with the same instance id while `a` is active.
    let mut dup = Client::new(2);
    dup.instance_id = Some("i-a".into());
    let (r, _) = g.consumer_heartbeat(&s.env(), dup.request());
    assert_eq!(r.error, Some(ResponseError::UnreleasedInstanceId));
    // `a` leaves temporarily (epoch -2): it keeps its place.
    let mut req = a.request();
    req.member_epoch = -2;
    let (r, _) = g.consumer_heartbeat(&s.env(), req);
    assert_eq!((r.error, r.member_epoch), (None, -2));
    let r = heartbeat(&s, &mut g, &mut dup);
    assert_eq!(r.error, None);
    assert_eq!(dup.owned, a_parts, "the successor gets the same partitions");
    // The old member id is fenced by its successor.
    let (r, _) = g.consumer_heartbeat(&s.env(), a.request());
    assert_eq!(r.error, Some(ResponseError::FencedInstanceId));
}

#[test]
fn offset_commits_check_the_member_epoch() {
    let s = Setup::new(2);
    let mut g = GroupMetadata::new("g", 0);
    let mut a = Client::new(0);
    heartbeat(&s, &mut g, &mut a);
    assert!(a.epoch > 0);
    assert_eq!(
        g.validate_consumer_offset_commit(&a.member_id, a.epoch),
        Ok(())
    );
    assert_eq!(
        g.validate_consumer_offset_commit(&a.member_id, a.epoch - 1),
        Err(ResponseError::StaleMemberEpoch)
    );
    assert_eq!(
        g.validate_consumer_offset_commit("nobody", 1),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        g.validate_consumer_offset_commit("", -1),
        Err(ResponseError::UnknownMemberId),
        "a non-empty group refuses simple commits"
    );
    assert_eq!(g.validate_consumer_offset_fetch(None, -1), Ok(()));
    assert_eq!(
        g.validate_consumer_offset_fetch(Some(&a.member_id), a.epoch + 1),
        Err(ResponseError::StaleMemberEpoch)
    );
    // A newer epoch than the coordinator's is fenced.
    let mut ahead = a.clone();
    ahead.epoch += 5;
    let r = heartbeat(&s, &mut g, &mut ahead);
    assert_eq!(r.error, Some(ResponseError::FencedMemberEpoch));
}

#[test]
fn a_member_that_does_not_revoke_in_time_is_fenced_and_its_partitions_move() {
    let mut s = Setup::new(2);
    let mut g = GroupMetadata::new("g", 0);
    let mut a = Client::new(0);
    heartbeat(&s, &mut g, &mut a);
    assert_eq!(partitions_of(&a.owned).len(), 2);
    let mut b = Client::new(1);
    heartbeat(&s, &mut g, &mut b);
    assert!(b.owned.is_empty(), "nothing is free yet");
    // `a` is told to give one partition up but keeps reporting it.
    let mut req = a.request();
    req.owned = Some(a.owned.clone());
    let (r, _) = g.consumer_heartbeat(&s.env(), req);
    assert_eq!(r.error, None);
    assert_eq!(partitions_of(r.assignment.as_ref().unwrap()).len(), 1);
    let m = &g.consumer.as_deref().unwrap().members[&a.member_id];
    assert_eq!(m.state, super::MemberState::UnrevokedPartitions);
    // Its session is kept alive, but the rebalance timeout (60 s) passes.
    for _ in 0..30 {
        s.elapsed_ms += 2_000;
        let mut req = a.request();
        req.owned = Some(a.owned.clone());
        g.consumer_heartbeat(&s.env(), req);
        heartbeat(&s, &mut g, &mut b);
        g.tick(&s.env());
    }
    let cg = g.consumer.as_deref().unwrap();
    assert!(!cg.members.contains_key(&a.member_id), "not fenced");
    heartbeat(&s, &mut g, &mut b);
    assert_eq!(partitions_of(&b.owned).len(), 2);
}

/// Rack ids are kept and described, but do not move partitions: Kafka 4's server-side
/// `uniform` and `range` assignors do not place by rack, and even the client-side
/// rack-aware rule (AbstractPartitionAssignor.useRackAwareAssignment) stays off when
/// partitions carry no rack or all the same racks, which is always so on one broker.
#[test]
fn member_racks_do_not_change_the_assignment() {
    let s = Setup::new(6);
    let settle = |racks: [Option<&str>; 2], assignor: &str| {
        let mut g = GroupMetadata::new("g", 0);
        let mut clients = [Client::new(0), Client::new(1)];
        for _ in 0..6 {
            for (c, rack) in clients.iter_mut().zip(racks) {
                let mut req = c.request();
                req.rack_id = rack.map(str::to_string);
                req.server_assignor = Some(assignor.to_string());
                let (r, _) = g.consumer_heartbeat(&s.env(), req);
                c.apply(&r);
            }
        }
        let cg = g.consumer.as_deref().unwrap();
        assert_eq!(cg.members["member-0"].rack_id.as_deref(), racks[0]);
        clients.map(|c| partitions_of(&c.owned))
    };
    for assignor in ["uniform", "range"] {
        let plain = settle([None, None], assignor);
        assert_eq!(plain[0].len() + plain[1].len(), 6);
        assert_eq!(settle([Some("rack-a"), Some("rack-b")], assignor), plain);
    }
}
