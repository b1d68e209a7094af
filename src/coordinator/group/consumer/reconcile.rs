//! Moving one member from its current assignment towards the group's target
//! assignment (Kafka's CurrentAssignmentBuilder), so that no partition is ever owned by
//! two members:
//!
//! - partitions the member owns but the target does not give it are revoked first: the
//!   member keeps its epoch (UNREVOKED_PARTITIONS) until its heartbeat no longer lists
//!   them as owned;
//! - partitions the target gives it are assigned only once no other member owns them
//!   (UNRELEASED_PARTITIONS while some are still held);
//! - with nothing left to revoke it moves to the target's epoch.
//!
//! Pure function of the member, the target and who owns what; it never writes.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::records::Assignment;
use super::{ConsumerMember, MemberState};

/// The member after one reconciliation step. `owned` is what its heartbeat reported
/// (`None`: not reported); `owner_epoch` says whether a partition is owned by anyone
/// (Kafka's currentPartitionEpoch, `None` when free).
pub fn reconcile(
    member: &ConsumerMember,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    owner_epoch: &dyn Fn(Uuid, i32) -> Option<i32>,
) -> ConsumerMember {
    match member.state {
        MemberState::Stable => {
            if member.member_epoch != target_epoch {
                next(
                    member,
                    member.member_epoch,
                    target_epoch,
                    target,
                    owned,
                    owner_epoch,
                )
            } else {
                member.clone()
            }
        }
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &member.pending_revocation) {
                return member.clone();
            }
            next(
                member,
                member.member_epoch + 1,
                target_epoch,
                target,
                owned,
                owner_epoch,
            )
        }
        MemberState::UnreleasedPartitions => next(
            member,
            member.member_epoch,
            target_epoch,
            target,
            owned,
            owner_epoch,
        ),
    }
}

/// Whether the reported owned partitions include any of `revoking` (not reported
/// counts as still owning them).
fn owns_any(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(topic, parts)| {
        revoking
            .get(topic)
            .is_some_and(|r| parts.iter().any(|p| r.contains(p)))
    })
}

fn next(
    member: &ConsumerMember,
    member_epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    owner_epoch: &dyn Fn(Uuid, i32) -> Option<i32>,
) -> ConsumerMember {
    let mut assigned = Assignment::new();
    let mut revoking = Assignment::new();
    let mut pending = Assignment::new();
    let mut unreleased = false;
    let topics: BTreeSet<Uuid> = target
        .keys()
        .chain(member.assigned.keys())
        .copied()
        .collect();
    let empty = BTreeSet::new();
    for topic in topics {
        let want = target.get(&topic).unwrap_or(&empty);
        let have = member.assigned.get(&topic).unwrap_or(&empty);
        let keep: BTreeSet<i32> = have.intersection(want).copied().collect();
        let revoke: BTreeSet<i32> = have.difference(&keep).copied().collect();
        let mut add: BTreeSet<i32> = want.difference(&keep).copied().collect();
        let before = add.len();
        add.retain(|p| owner_epoch(topic, *p).is_none());
        unreleased |= add.len() != before;
        if !keep.is_empty() {
            assigned.insert(topic, keep);
        }
        if !revoke.is_empty() {
            revoking.insert(topic, revoke);
        }
        if !add.is_empty() {
            pending.insert(topic, add);
        }
    }
    let mut m = member.clone();
    if !revoking.is_empty() && owns_any(owned, &revoking) {
        m.state = MemberState::UnrevokedPartitions;
        set_epoch(&mut m, member_epoch);
        m.assigned = assigned;
        m.pending_revocation = revoking;
        return m;
    }
    for (topic, parts) in pending {
        assigned.entry(topic).or_default().extend(parts);
    }
    m.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    set_epoch(&mut m, target_epoch);
    m.assigned = assigned;
    m.pending_revocation = Assignment::new();
    m
}

/// Kafka's updateMemberEpoch: the previous epoch is kept for a heartbeat whose answer
/// with the new epoch was lost.
fn set_epoch(m: &mut ConsumerMember, epoch: i32) {
    m.previous_member_epoch = m.member_epoch;
    m.member_epoch = epoch;
}
