//! Unit tests of the group state machine, offsets and replay, on a broker in a
//! temporary directory, with the clock driven by hand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::membership::{JoinOutcome, JoinRequest, SyncOutcome, SyncRequest};
use super::records::OffsetAndMetadata;
use super::*;
use crate::config::{BrokerConfig, Overrides};
use crate::topics::TopicRegistry;

/// The two parts the group coordinator works with, built the way the broker builds
/// them (no `Broker` needed: that is the point of the layering).
struct Parts {
    topics: Arc<TopicRegistry>,
    groups: Arc<GroupCoordinator>,
}

impl Parts {
    fn shutdown(&self) {
        self.topics.close_all();
    }
}

fn broker(dir: &std::path::Path, sets: &[(&str, &str)]) -> Parts {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        sets: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("offsets.topic.num.partitions".to_string(), "3".to_string())])
            .collect(),
        ..Default::default()
    };
    let config = Arc::new(BrokerConfig::load(None, &overrides).unwrap());
    let clock = crate::clock::Clock::system();
    let topics = Arc::new(TopicRegistry::load(config.clone(), clock.clone()).unwrap());
    let groups = Arc::new(GroupCoordinator::load(&config, topics.clone(), clock).unwrap());
    Parts { topics, groups }
}

struct Clock<'a> {
    broker: &'a Parts,
    start: Instant,
    elapsed_ms: u64,
}

impl<'a> Clock<'a> {
    fn new(broker: &'a Parts) -> Clock<'a> {
        Clock {
            broker,
            start: Instant::now(),
            elapsed_ms: 0,
        }
    }
    fn env(&self) -> Env<'a> {
        Env {
            topics: &self.broker.topics,
            config: self.broker.groups.config(),
            now: self.start + Duration::from_millis(self.elapsed_ms),
            now_ms: 1_000_000 + self.elapsed_ms as i64,
        }
    }
    fn advance(&mut self, ms: u64) {
        self.elapsed_ms += ms;
    }
}

fn join_req(member_id: &str, instance: Option<&str>, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        member_id: member_id.into(),
        group_instance_id: instance.map(String::from),
        require_known_member_id: true,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        rebalance_timeout_ms: 10_000,
        session_timeout_ms: 6_000,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from_static(b"meta")))
            .collect(),
    }
}

fn ready(o: JoinOutcome) -> JoinResult {
    match o {
        JoinOutcome::Ready(r) | JoinOutcome::ReadyWhenDurable(r, _) => r,
        JoinOutcome::Wait(mut rx) => rx.try_recv().expect("join should be complete"),
    }
}

fn waiting(o: JoinOutcome) -> tokio::sync::oneshot::Receiver<JoinResult> {
    match o {
        JoinOutcome::Wait(rx) => rx,
        JoinOutcome::Ready(r) | JoinOutcome::ReadyWhenDurable(r, _) => {
            panic!("expected to wait, got {r:?}")
        }
    }
}

fn sync_req(member: &str, generation: i32, assignments: &[(&str, &str)]) -> SyncRequest {
    SyncRequest {
        member_id: member.into(),
        group_instance_id: None,
        generation_id: generation,
        protocol_type: None,
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::copy_from_slice(a.as_bytes())))
            .collect::<HashMap<_, _>>(),
    }
}

fn synced(o: SyncOutcome) -> SyncResult {
    match o {
        SyncOutcome::Ready(r) => r,
        SyncOutcome::Wait(mut rx, _) => rx.try_recv().expect("sync should be complete"),
    }
}

/// Joins a dynamic member the v4+ way: MEMBER_ID_REQUIRED, then rejoin with the id.
fn join_dynamic(g: &mut GroupMetadata, env: &Env, protocols: &[&str]) -> (String, JoinOutcome) {
    let r = ready(g.join(env, join_req("", None, protocols)));
    assert_eq!(r.error, Some(ResponseError::MemberIdRequired));
    let id = r.member_id.clone();
    let o = g.join(env, join_req(&id, None, protocols));
    (id, o)
}

#[test]
fn two_members_rebalance_sync_and_leave() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]);
    let mut clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    let (m1, o) = join_dynamic(&mut g, &clock.env(), &["range", "roundrobin"]);
    let r = ready(o);
    assert_eq!((r.error, r.generation_id), (None, 1));
    assert_eq!(r.leader_id, m1);
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    let s = synced(g.sync(&clock.env(), sync_req(&m1, 1, &[(&m1, "a1")])));
    assert_eq!((s.error, &s.assignment[..]), (None, &b"a1"[..]));
    assert!(g.is(GroupState::Stable));

    // A second member (preferring roundrobin) joins: the group rebalances, and m1
    // learns it from its heartbeat.
    clock.advance(100);
    let (m2, o) = join_dynamic(&mut g, &clock.env(), &["roundrobin", "range"]);
    let mut rx2 = waiting(o);
    assert!(g.is(GroupState::PreparingRebalance));
    assert_eq!(
        g.heartbeat(&clock.env(), &m1, None, 1),
        Some(ResponseError::RebalanceInProgress)
    );
    let r1 = ready(g.join(&clock.env(), join_req(&m1, None, &["range", "roundrobin"])));
    let r2 = rx2.try_recv().unwrap();
    assert_eq!((r1.generation_id, r2.generation_id), (2, 2));
    assert_eq!(r1.members.len(), 2, "the leader gets every member");
    assert!(r2.members.is_empty());
    // One vote each: the tie goes to the first member's preference.
    assert_eq!(r1.protocol_name.as_deref(), Some("range"));
    // Follower syncs first and waits for the leader.
    let mut srx = match g.sync(&clock.env(), sync_req(&m2, 2, &[])) {
        SyncOutcome::Wait(rx, None) => rx,
        _ => panic!("follower should wait"),
    };
    assert_eq!(
        synced(g.sync(&clock.env(), sync_req(&m1, 1, &[]))).error,
        Some(ResponseError::IllegalGeneration)
    );
    let s1 = synced(g.sync(&clock.env(), sync_req(&m1, 2, &[(&m1, "x"), (&m2, "y")])));
    assert_eq!(&s1.assignment[..], b"x");
    assert_eq!(&srx.try_recv().unwrap().assignment[..], b"y");
    assert_eq!(g.heartbeat(&clock.env(), &m2, None, 2), None);

    // m1 leaves: m2 must rejoin, then it is alone in generation 3.
    assert_eq!(
        g.leave(&clock.env(), &[(m1.clone(), None)]).unwrap(),
        vec![None]
    );
    assert_eq!(
        g.heartbeat(&clock.env(), &m2, None, 2),
        Some(ResponseError::RebalanceInProgress)
    );
    let r = ready(g.join(&clock.env(), join_req(&m2, None, &["roundrobin", "range"])));
    assert_eq!((r.generation_id, r.leader_id.as_str()), (3, m2.as_str()));
    assert_eq!(r.protocol_name.as_deref(), Some("roundrobin"));
}

#[test]
fn protocol_checks_max_size_and_session_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(
        dir.path(),
        &[
            ("group.initial.rebalance.delay.ms", "0"),
            ("group.max.size", "1"),
        ],
    );
    let mut clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    let (m1, o) = join_dynamic(&mut g, &clock.env(), &["range"]);
    assert_eq!(ready(o).generation_id, 1);
    synced(g.sync(&clock.env(), sync_req(&m1, 1, &[])));
    let r = ready(g.join(&clock.env(), join_req("", None, &["other"])));
    assert_eq!(r.error, Some(ResponseError::GroupMaxSizeReached));
    let mut other = join_req("", None, &["range"]);
    other.protocol_type = "connect".into();
    assert!(!g.supports_protocols(&other.protocol_type, &other.protocols));

    // No heartbeat for the session timeout: the member is removed, the group empties.
    clock.advance(5_000);
    g.tick(&clock.env());
    assert!(g.is(GroupState::Stable));
    clock.advance(1_100);
    g.tick(&clock.env());
    assert!(g.is(GroupState::Empty));
    assert_eq!(g.generation_id, 2);
    assert_eq!(
        g.heartbeat(&clock.env(), &m1, None, 1),
        Some(ResponseError::UnknownMemberId)
    );
}

#[test]
fn initial_delay_waits_for_more_members() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("group.initial.rebalance.delay.ms", "3000")]);
    let mut clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    let (_m1, o) = join_dynamic(&mut g, &clock.env(), &["range"]);
    let mut rx1 = waiting(o);
    clock.advance(2_000);
    g.tick(&clock.env());
    let (_m2, o) = join_dynamic(&mut g, &clock.env(), &["range"]);
    let mut rx2 = waiting(o);
    clock.advance(1_100);
    g.tick(&clock.env());
    // A member arrived during the delay: it is extended once more.
    assert!(rx1.try_recv().is_err());
    clock.advance(3_000);
    g.tick(&clock.env());
    let (r1, r2) = (rx1.try_recv().unwrap(), rx2.try_recv().unwrap());
    assert_eq!((r1.generation_id, r2.generation_id), (1, 1));
}

#[test]
fn static_member_restart_keeps_assignment_and_fences_old_id() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]);
    let clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    let r = ready(g.join(&clock.env(), join_req("", Some("i1"), &["range"])));
    assert_eq!(
        r.error, None,
        "static members need no MEMBER_ID_REQUIRED round"
    );
    let old = r.member_id.clone();
    synced(g.sync(&clock.env(), sync_req(&old, 1, &[(&old, "mine")])));
    let r = ready(g.join(&clock.env(), join_req("", Some("i1"), &["range"])));
    assert_eq!(r.error, None);
    assert_ne!(r.member_id, old);
    assert_eq!(r.generation_id, 1, "no rebalance");
    assert!(g.is(GroupState::Stable));
    let mut s = sync_req(&r.member_id, 1, &[]);
    s.group_instance_id = Some("i1".into());
    assert_eq!(&synced(g.sync(&clock.env(), s)).assignment[..], b"mine");
    assert_eq!(
        g.heartbeat(&clock.env(), &old, Some("i1"), 1),
        Some(ResponseError::FencedInstanceId)
    );
    // Leaving by instance id only.
    let out = g.leave(&clock.env(), &[(String::new(), Some("i1".into()))]);
    assert_eq!(out.unwrap(), vec![None]);
    assert!(g.is(GroupState::Empty));
}

#[test]
fn offset_commit_validation() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]);
    let clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    assert_eq!(g.validate_offset_commit("", None, -1), Ok(()));
    let (m1, o) = join_dynamic(&mut g, &clock.env(), &["range"]);
    ready(o);
    assert_eq!(
        g.validate_offset_commit(&m1, None, 1),
        Err(ResponseError::RebalanceInProgress)
    );
    synced(g.sync(&clock.env(), sync_req(&m1, 1, &[])));
    assert_eq!(g.validate_offset_commit(&m1, None, 1), Ok(()));
    assert_eq!(
        g.validate_offset_commit(&m1, None, 0),
        Err(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        g.validate_offset_commit("nobody", None, 1),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        g.validate_offset_commit("", None, -1),
        Err(ResponseError::UnknownMemberId)
    );
}

fn commit(offset: i64, metadata: &str) -> OffsetAndMetadata {
    OffsetAndMetadata {
        offset,
        leader_epoch: -1,
        metadata: metadata.into(),
        commit_timestamp: 1,
        expire_timestamp: None,
    }
}

#[tokio::test]
async fn commits_and_groups_survive_restart_and_delete_writes_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [("group.initial.rebalance.delay.ms", "0")];
    let member;
    {
        let b = broker(dir.path(), &sets);
        b.groups
            .commit_offsets(
                "simple",
                "",
                None,
                -1,
                vec![(("t".into(), 0), commit(5, "meta"))],
                8,
            )
            .await
            .unwrap();
        b.groups
            .commit_offsets(
                "gone",
                "",
                None,
                -1,
                vec![(("t".into(), 1), commit(9, ""))],
                8,
            )
            .await
            .unwrap();
        assert_eq!(b.groups.delete_groups(&["gone".into()]), vec![None]);
        let r = b
            .groups
            .join_group("live", join_req("", Some("i"), &["range"]))
            .await;
        member = r.member_id;
        let s = b
            .groups
            .sync_group("live", sync_req(&member, 1, &[(&member, "asg")]))
            .await;
        assert_eq!(s.error, None);
        b.groups
            .commit_offsets(
                "live",
                &member,
                None,
                1,
                vec![(("t".into(), 0), commit(7, "x"))],
                8,
            )
            .await
            .unwrap();
        assert_eq!(
            b.groups.delete_groups(&["live".into(), "nope".into()]),
            vec![
                Some(ResponseError::NonEmptyGroup),
                Some(ResponseError::GroupIdNotFound)
            ]
        );
        b.shutdown();
    }
    let b = broker(dir.path(), &sets);
    let got = b.groups.fetch_offsets("simple", None);
    assert_eq!(got, vec![(("t".to_string(), 0), Some(commit(5, "meta")))]);
    assert_eq!(b.groups.fetch_offsets("gone", None), vec![]);
    let d = b.groups.describe_group("live").unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.members[0].member_id, member);
    assert_eq!(&d.members[0].assignment[..], b"asg");
    assert_eq!(b.groups.heartbeat("live", &member, Some("i"), 1), None);
    let live = b
        .groups
        .fetch_offsets("live", Some(&[("t".into(), 0), ("t".into(), 1)]));
    assert_eq!(live[0].1.as_ref().unwrap().offset, 7);
    assert_eq!(live[1].1, None);
    let names: Vec<String> = b
        .groups
        .list_groups()
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    assert_eq!(names, vec!["live".to_string(), "simple".to_string()]);
}

#[test]
fn empty_group_offsets_expire_after_retention() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("offsets.retention.minutes", "1")]);
    let mut clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    let appended = g
        .commit_offsets(&clock.env(), "", vec![(("t".into(), 0), commit(1, ""))])
        .unwrap();
    assert!(g.offsets.is_empty(), "staged until durable");
    g.complete_offset_commits(appended.end_offset(), true);
    g.offsets
        .get_mut(&("t".into(), 0))
        .unwrap()
        .commit_timestamp = clock.env().now_ms;
    clock.advance(30_000);
    assert!(!g.expire_offsets(&clock.env()));
    assert_eq!(g.offsets.len(), 1);
    clock.advance(31_000);
    assert!(
        g.expire_offsets(&clock.env()),
        "empty group with no offsets is removed"
    );
    assert!(g.is(GroupState::Dead));
}

#[tokio::test]
async fn a_commit_of_several_partitions_is_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let commits = (0..3)
        .map(|p| (("t".into(), p), commit(p as i64, "")))
        .collect();
    b.groups
        .commit_offsets("g", "", None, -1, commits, 8)
        .await
        .unwrap();
    let topic = b.topics.get(store::OFFSETS_TOPIC).unwrap();
    let partition =
        &topic.partitions[store::partition_for("g", topic.partitions.len() as i32) as usize];
    let (info, _) = partition.read(0, 1 << 20, None, true).unwrap();
    let header = crate::log::BatchHeader::parse(&info.records).unwrap();
    assert_eq!(
        (
            header.record_count,
            header.base_sequence,
            header.producer_id
        ),
        (3, -1, -1)
    );
    assert_eq!(
        header.total_size(),
        info.records.len(),
        "one batch holds all three"
    );
}

/// `sluice.group.max.groups`: the third new group is refused by every way of creating
/// one, the two existing groups keep working, deleting one makes room, and groups
/// replayed at start-up are all loaded even beyond a lower bound.
#[tokio::test]
async fn new_groups_beyond_the_bound_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        ("group.initial.rebalance.delay.ms", "0"),
        ("sluice.group.max.groups", "2"),
    ];
    {
        let b = broker(dir.path(), &sets);
        let simple = |g: &'static str, p: i32| {
            let groups = b.groups.clone();
            async move {
                groups
                    .commit_offsets(g, "", None, -1, vec![(("t".into(), p), commit(1, ""))], 8)
                    .await
            }
        };
        simple("g1", 0).await.unwrap();
        let pending = b
            .groups
            .join_group("g2", join_req("", None, &["range"]))
            .await;
        assert_eq!(
            pending.error,
            Some(ResponseError::MemberIdRequired),
            "g2 is created"
        );
        // A third group, however it would be created.
        let r = b
            .groups
            .join_group("g3", join_req("", None, &["range"]))
            .await;
        assert_eq!(r.error, Some(ResponseError::GroupMaxSizeReached));
        assert_eq!(
            simple("g3", 0).await,
            Err(ResponseError::GroupMaxSizeReached)
        );
        let txn = b
            .groups
            .txn_commit_offsets(
                "g3",
                "",
                None,
                -1,
                42,
                0,
                vec![(("t".into(), 0), commit(1, ""))],
            )
            .await;
        assert_eq!(txn, Err(ResponseError::GroupMaxSizeReached));
        assert!(
            b.groups.describe_group("g3").is_none(),
            "nothing was created"
        );
        assert_eq!(b.groups.fetch_offsets("g3", None), vec![]);
        // The existing groups keep working.
        simple("g1", 1).await.unwrap();
        let r = b
            .groups
            .join_group("g2", join_req(&pending.member_id, None, &["range"]))
            .await;
        assert_eq!(r.error, None);
        let s = b
            .groups
            .sync_group("g2", sync_req(&r.member_id, r.generation_id, &[]))
            .await;
        assert_eq!(s.error, None);
        let left = b
            .groups
            .leave_group("g2", &[(r.member_id.clone(), None)])
            .unwrap();
        assert_eq!(left, vec![None]);
        // Deleting a group makes room for a new one.
        assert_eq!(b.groups.delete_groups(&["g2".into()]), vec![None]);
        simple("g3", 0).await.unwrap();
        assert_eq!(
            simple("g4", 0).await,
            Err(ResponseError::GroupMaxSizeReached)
        );
        b.shutdown();
    }
    // Replayed groups are never dropped, even over a lower bound; new ones wait.
    let b = broker(dir.path(), &[("sluice.group.max.groups", "1")]);
    let names: Vec<String> = b
        .groups
        .list_groups()
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    assert_eq!(names, vec!["g1".to_string(), "g3".to_string()]);
    assert_eq!(
        b.groups.fetch_offsets("g1", Some(&[("t".into(), 1)]))[0]
            .1
            .as_ref()
            .map(|o| o.offset),
        Some(1)
    );
    b.groups
        .commit_offsets(
            "g3",
            "",
            None,
            -1,
            vec![(("t".into(), 5), commit(2, ""))],
            8,
        )
        .await
        .unwrap();
    let r = b
        .groups
        .join_group("g5", join_req("", None, &["range"]))
        .await;
    assert_eq!(r.error, Some(ResponseError::GroupMaxSizeReached));
}

#[test]
fn staged_commits_apply_in_log_order_once_durable_and_a_failed_one_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    let tp = ("t".to_string(), 0);
    let first = g
        .commit_offsets(&clock.env(), "", vec![(tp.clone(), commit(1, ""))])
        .unwrap();
    let second = g
        .commit_offsets(&clock.env(), "", vec![(tp.clone(), commit(2, ""))])
        .unwrap();
    assert!(g.has_pending_offset_commit(&tp));
    // The second waiter learns first that its fsync (which covers both) succeeded.
    g.complete_offset_commits(second.end_offset(), true);
    g.complete_offset_commits(first.end_offset(), true);
    assert_eq!(
        g.offsets[&tp].offset, 2,
        "the later commit wins, whatever the wake-up order"
    );
    assert!(!g.has_pending_offset_commit(&tp));
    let failed = g
        .commit_offsets(&clock.env(), "", vec![(tp.clone(), commit(3, ""))])
        .unwrap();
    g.complete_offset_commits(failed.end_offset(), false);
    assert_eq!(
        g.offsets[&tp].offset, 2,
        "a commit whose fsync failed is never seen"
    );
    assert!(g.pending_offset_commits.is_empty());
}

/// Issue 16 item 5: a session ends exactly at its deadline (last heartbeat, sync or
/// commit plus session.timeout.ms), and the timer task sleeps until that deadline
/// rather than noticing it at its next periodic look.
#[test]
fn a_session_expires_at_its_deadline_and_the_timer_wakes_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]);
    let mut clock = Clock::new(&b);
    let mut g = GroupMetadata::new("g", 0);
    let r = ready(g.join(&clock.env(), join_req("", Some("i1"), &["range"])));
    let m = r.member_id.clone();
    synced(g.sync(&clock.env(), sync_req(&m, 1, &[(&m, "mine")])));
    let session = join_req("", None, &["range"]).session_timeout_ms as u64;
    // A static member that closes leaves no LeaveGroup; its last request is the
    // final offset commit, which counts as a heartbeat while the group is Stable.
    clock.advance(2_000);
    g.commit_offsets(&clock.env(), &m, vec![(("t".into(), 0), commit(5, ""))])
        .unwrap();
    assert_eq!(g.next_deadline(), Some(clock.env().now + ms(session)));
    clock.advance(session - 1);
    g.tick(&clock.env());
    assert!(g.has(&m), "expired before its deadline");
    clock.advance(1);
    g.tick(&clock.env());
    assert!(!g.has(&m), "not expired at its deadline");
    assert!(g.is(GroupState::Empty));
    assert_eq!(g.next_deadline(), None);

    let judged_long_ago = Instant::now() - Duration::from_secs(1);
    let wait = |d: Option<Instant>| b.groups.timer_wait(judged_long_ago, d);
    let soon = Instant::now() + Duration::from_millis(30);
    let w = wait(Some(soon));
    assert!(
        w <= Duration::from_millis(30) && w > Duration::from_millis(10),
        "{w:?}"
    );
    assert_eq!(
        wait(Some(Instant::now() + Duration::from_secs(10))),
        Duration::from_millis(100)
    );
    assert_eq!(wait(None), Duration::from_millis(100));
    // Passed while the tick ran (after it judged the groups): due at once. Already past
    // when the tick judged it (its timer could not act): retried a tick later.
    assert_eq!(
        wait(Some(Instant::now() - Duration::from_millis(5))),
        Duration::ZERO
    );
    let just_judged = Instant::now();
    assert_eq!(
        b.groups
            .timer_wait(just_judged, Some(just_judged - Duration::from_millis(5))),
        Duration::from_millis(100)
    );
    b.shutdown();
}
