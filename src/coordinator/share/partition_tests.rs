//! The share-partition state machine on its own: acquisition, acknowledgement, lock
//! expiry, the delivery count limit, and a property test that no offset is ever held
//! by two members or delivered after it was accepted.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const LIMITS: Limits = Limits {
    record_lock_duration_ms: 1000,
    delivery_count_limit: 3,
    max_record_locks: 100,
};

fn data(range: std::ops::Range<i64>) -> Vec<Candidate> {
    range.map(Candidate::Data).collect()
}

fn range(first: i64, last: i64, count: i16) -> AcquiredRange {
    AcquiredRange {
        first_offset: first,
        last_offset: last,
        delivery_count: count,
    }
}

#[test]
fn two_members_get_distinct_records() {
    let mut p = SharePartition::new(0);
    assert_eq!(
        p.acquire(&data(0..10), "a", 0, &LIMITS, 4, &[]),
        vec![range(0, 3, 1)]
    );
    let from = p.next_fetch_offset();
    assert_eq!(from, 4);
    assert_eq!(
        p.acquire(&data(from..10), "b", 0, &LIMITS, 100, &[]),
        vec![range(4, 9, 1)]
    );
    assert_eq!(p.next_fetch_offset(), 10);
}

#[test]
fn accept_moves_the_start_offset_and_is_final() {
    let mut p = SharePartition::new(0);
    p.acquire(&data(0..3), "a", 0, &LIMITS, 10, &[]);
    p.acknowledge("a", 0, 1, &[1], &LIMITS, 0).unwrap();
    assert_eq!(p.start_offset, 2);
    // Accepted records are gone: acknowledging again is an invalid record state.
    assert!(matches!(
        p.acknowledge("a", 0, 0, &[1], &LIMITS, 0),
        Err(AckError::InvalidRecordState(_))
    ));
    // Nor can anything outside the in-flight window, however large the range.
    assert!(matches!(
        p.acknowledge("a", i64::MIN, i64::MAX, &[1], &LIMITS, 0),
        Err(AckError::InvalidRecordState(_))
    ));
    // Another member cannot acknowledge what "a" holds.
    assert!(matches!(
        p.acknowledge("b", 2, 2, &[1], &LIMITS, 0),
        Err(AckError::InvalidRecordState(_))
    ));
}

#[test]
fn release_redelivers_with_a_higher_count_and_the_limit_archives() {
    let mut p = SharePartition::new(0);
    for count in 1..=3 {
        let got = p.acquire(&data(p.next_fetch_offset()..1), "a", 0, &LIMITS, 10, &[]);
        assert_eq!(got, vec![range(0, 0, count)]);
        p.acknowledge("a", 0, 0, &[2], &LIMITS, 0).unwrap();
    }
    // Released at the limit: archived, never delivered again.
    assert_eq!(p.start_offset, 1);
    assert!(p.acquire(&data(1..1), "a", 0, &LIMITS, 10, &[]).is_empty());
}

#[test]
fn reject_archives_and_per_offset_types_apply() {
    let mut p = SharePartition::new(0);
    p.acquire(&data(0..3), "a", 0, &LIMITS, 10, &[]);
    p.acknowledge("a", 0, 2, &[1, 3, 2], &LIMITS, 0).unwrap();
    // 0 accepted, 1 rejected, 2 released: start stops at 2, which comes back.
    assert_eq!(p.start_offset, 2);
    assert_eq!(
        p.acquire(&data(2..3), "b", 0, &LIMITS, 10, &[]),
        vec![range(2, 2, 2)]
    );
}

#[test]
fn renew_extends_the_lock() {
    let mut p = SharePartition::new(0);
    p.acquire(&data(0..1), "a", 0, &LIMITS, 10, &[]);
    p.acknowledge("a", 0, 0, &[4], &LIMITS, 900).unwrap();
    assert!(!p.expire_locks(1000, &LIMITS));
    assert!(p.expire_locks(1900, &LIMITS));
}

#[test]
fn an_expired_lock_returns_the_record() {
    let mut p = SharePartition::new(0);
    p.acquire(&data(0..2), "a", 0, &LIMITS, 10, &[]);
    assert!(!p.expire_locks(999, &LIMITS));
    assert!(p.expire_locks(1000, &LIMITS));
    assert_eq!(p.next_fetch_offset(), 0);
    assert_eq!(
        p.acquire(&data(0..2), "b", 1000, &LIMITS, 10, &[]),
        vec![range(0, 1, 2)]
    );
    // The late acknowledgement of the first holder is refused.
    assert!(p.acknowledge("a", 0, 1, &[1], &LIMITS, 0).is_err());
}

#[test]
fn skipped_offsets_are_gaps_and_the_lock_limit_holds() {
    let mut p = SharePartition::new(0);
    let limits = Limits {
        max_record_locks: 2,
        ..LIMITS
    };
    let c = vec![
        Candidate::Data(0),
        Candidate::Skip(1),
        Candidate::Data(2),
        Candidate::Data(3),
    ];
    assert_eq!(
        p.acquire(&c, "a", 0, &limits, 10, &[]),
        vec![range(0, 0, 1), range(2, 2, 1)]
    );
    assert_eq!(p.end_offset, 3);
    p.acknowledge("a", 0, 2, &[1, 0, 1], &limits, 0).unwrap();
    assert_eq!(p.start_offset, 3);
}

#[test]
fn snapshot_round_trip_makes_acquired_records_available() {
    let mut p = SharePartition::new(5);
    p.acquire(&data(5..9), "a", 0, &LIMITS, 10, &[]);
    p.acknowledge("a", 6, 6, &[1], &LIMITS, 0).unwrap();
    p.acknowledge("a", 7, 7, &[3], &LIMITS, 0).unwrap();
    let batches = p.state_batches();
    let q = SharePartition::from_snapshot(0, p.start_offset, &batches);
    assert_eq!(q.start_offset, 5);
    assert_eq!(q.end_offset, 9);
    assert_eq!(q.next_fetch_offset(), 5);
    assert_eq!(q.state_batches(), batches);
    // The delivery in progress at the restart is not counted.
    assert_eq!(batches[0].delivery_count, 0);
}

#[derive(Clone, Debug)]
enum Op {
    Fetch(u8, u8),
    Ack(u8, u8, i8),
    Expire,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, 1u8..5).prop_map(|(m, n)| Op::Fetch(m, n)),
        (0u8..3, 0u8..12, 1i8..4).prop_map(|(m, o, t)| Op::Ack(m, o, t)),
        Just(Op::Expire),
        Just(Op::Restart),
    ]
}

proptest! {
    /// Whatever members do, an accepted offset is never delivered again, an offset is
    /// never held by two members, and no offset is delivered more than the limit.
    #[test]
    fn accepted_is_never_redelivered(ops in proptest::collection::vec(op(), 1..60)) {
        let log_end = 12;
        let mut p = SharePartition::new(0);
        let mut now = 0;
        let mut holder: BTreeMap<i64, u8> = BTreeMap::new();
        let mut accepted: Vec<i64> = Vec::new();
        let mut deliveries: BTreeMap<i64, i16> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Fetch(m, n) => {
                    let from = p.next_fetch_offset();
                    let got = p.acquire(&data(from..log_end), &m.to_string(), now, &LIMITS, n as usize, &[]);
                    for r in got {
                        for o in r.first_offset..=r.last_offset {
                            prop_assert!(!accepted.contains(&o), "accepted offset {} redelivered", o);
                            prop_assert!(!holder.contains_key(&o), "offset {} held twice", o);
                            holder.insert(o, m);
                            let d = deliveries.entry(o).or_default();
                            *d += 1;
                            prop_assert!(*d <= LIMITS.delivery_count_limit);
                            prop_assert_eq!(*d, r.delivery_count);
                        }
                    }
                }
                Op::Ack(m, o, t) => {
                    let o = o as i64;
                    let ok = p.acknowledge(&m.to_string(), o, o, &[t], &LIMITS, 0).is_ok();
                    prop_assert_eq!(ok, holder.get(&o) == Some(&m));
                    if ok {
                        holder.remove(&o);
                        if t == 1 {
                            accepted.push(o);
                        }
                    }
                }
                Op::Expire => {
                    now += LIMITS.record_lock_duration_ms;
                    p.expire_locks(now, &LIMITS);
                    holder.clear();
                }
                Op::Restart => {
                    p = SharePartition::from_snapshot(0, p.start_offset, &p.state_batches());
                    // A delivery cut by a restart is not counted (Kafka persists no
                    // acquisition).
                    for o in holder.keys() {
                        *deliveries.get_mut(o).expect("delivered") -= 1;
                    }
                    holder.clear();
                }
            }
            prop_assert!(p.start_offset <= p.end_offset);
        }
    }
}

#[test]
fn delivery_complete_count_is_what_no_member_will_be_given_again() {
    let mut p = SharePartition::new(0);
    assert_eq!(p.delivery_complete_count(), 0);
    // 0-5 acquired with a control record at 3, then 1 accepted, 2 rejected (archived),
    // 4 released (available again).
    let mut offered = data(0..3);
    offered.push(Candidate::Skip(3));
    offered.extend(data(4..6));
    p.acquire(&offered, "a", 0, &LIMITS, 10, &[]);
    p.acknowledge("a", 1, 1, &[1], &LIMITS, 0).unwrap();
    p.acknowledge("a", 2, 2, &[3], &LIMITS, 0).unwrap();
    p.acknowledge("a", 4, 4, &[2], &LIMITS, 0).unwrap();
    // Start 0, end 6: 0, 4 and 5 are still to deliver; 1, 2 and the gap at 3 are done.
    assert_eq!((p.start_offset, p.end_offset), (0, 6));
    assert_eq!(p.delivery_complete_count(), 3);
    // Accepting 0 moves the start past the finished run: nothing below it counts.
    p.acknowledge("a", 0, 0, &[1], &LIMITS, 0).unwrap();
    assert_eq!(p.start_offset, 4);
    assert_eq!(p.delivery_complete_count(), 0);
}

#[test]
fn batch_optimized_rounds_up_to_the_batch_and_record_limit_is_strict() {
    // Three producer batches: 0-4, 5-9, 10-14.
    let ends = [4, 9, 14];
    let mut p = SharePartition::new(0);
    // Batch-optimized: 6 records reach into the second batch, which is taken whole;
    // the acquired ranges follow the batch boundaries.
    assert_eq!(
        p.acquire(&data(0..15), "a", 0, &LIMITS, 6, &ends),
        vec![range(0, 4, 1), range(5, 9, 1)]
    );
    // A limit that ends exactly on a boundary takes no more.
    assert_eq!(
        p.acquire(&data(10..15), "b", 0, &LIMITS, 5, &ends),
        vec![range(10, 14, 1)]
    );
    // Record limit: exactly 6, one range.
    let mut q = SharePartition::new(0);
    assert_eq!(
        q.acquire(&data(0..15), "a", 0, &LIMITS, 6, &[]),
        vec![range(0, 5, 1)]
    );
    assert_eq!(q.next_fetch_offset(), 6);
}

#[test]
fn renew_keeps_the_record_and_restarts_its_lock() {
    let mut p = SharePartition::new(0);
    p.acquire(&data(0..2), "a", 0, &LIMITS, 10, &[]);
    // At 900 ms (lock 1000 ms) offset 0 is renewed: it now runs to 1900.
    p.acknowledge("a", 0, 0, &[4], &LIMITS, 900).unwrap();
    assert!(p.expire_locks(1000, &LIMITS), "offset 1 expires");
    assert_eq!(
        p.acquire(&data(0..2), "b", 1000, &LIMITS, 10, &[]),
        vec![range(1, 1, 2)],
        "offset 0 is still held by a"
    );
    assert!(!p.expire_locks(1899, &LIMITS));
    assert_eq!(p.next_lock_deadline(), Some(1900));
    p.acknowledge("a", 0, 0, &[1], &LIMITS, 1500).unwrap();
    assert_eq!(p.start_offset, 1);
}

#[test]
fn in_flight_runs_show_holders_locks_and_states_and_stop_at_the_cap() {
    let mut p = SharePartition::new(0);
    p.acquire(&data(0..6), "a", 0, &LIMITS, 3, &[]);
    let from = p.next_fetch_offset();
    p.acquire(&data(from..6), "b", 500, &LIMITS, 3, &[]);
    p.acknowledge("a", 1, 1, &[1], &LIMITS, 600).unwrap();
    p.acknowledge("b", 4, 4, &[2], &LIMITS, 600).unwrap();
    let run = |first, last, state, member: Option<&str>, lock| InFlightRun {
        first_offset: first,
        last_offset: last,
        state,
        delivery_count: 1,
        member: member.map(str::to_string),
        lock_deadline_ms: lock,
    };
    let (runs, truncated) = p.in_flight_runs(100);
    assert!(!truncated);
    assert_eq!(
        runs,
        vec![
            run(0, 0, RecordState::Acquired, Some("a"), 1000),
            run(1, 1, RecordState::Acknowledged, None, 0),
            run(2, 2, RecordState::Acquired, Some("a"), 1000),
            run(3, 3, RecordState::Acquired, Some("b"), 1500),
            run(4, 4, RecordState::Available, None, 0),
            run(5, 5, RecordState::Acquired, Some("b"), 1500),
        ]
    );
    let (first_two, truncated) = p.in_flight_runs(2);
    assert!(truncated);
    assert_eq!(first_two, runs[..2]);
    // A run merges consecutive offsets with one state, count and holder.
    let mut q = SharePartition::new(0);
    q.acquire(&data(0..4), "a", 0, &LIMITS, 10, &[]);
    assert_eq!(
        q.in_flight_runs(10).0,
        vec![run(0, 3, RecordState::Acquired, Some("a"), 1000)]
    );
}
