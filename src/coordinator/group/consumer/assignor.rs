//! The server-side assignors of KIP-848 consumer groups, by the names Kafka gives them
//! (`group.consumer.assignors`): `uniform` and `range`. Both are pure functions of the
//! members' subscriptions, the subscribed topics' partition counts and (for `uniform`)
//! the previous target assignment, which it keeps where it can (stickiness), as Kafka's
//! UniformAssignor does. They never look at what members currently own: moving from
//! the old target to the new one without overlap is the reconciliation's job.
//!
//! Racks: members' rack ids are stored and described but not used here, as in Kafka 4,
//! whose rewritten UniformAssignor and RangeAssignor do not place by rack (the rack of
//! each partition is only offered to custom assignors). Even the client-side rule
//! (rack-aware only if a member rack matches a partition rack and the partitions do not
//! all share the same racks) could never apply on a single broker, where every
//! partition has the same (here: no) rack.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::records::Assignment;

/// One member as an assignor sees it.
#[derive(Clone, Debug)]
pub struct AssignorMember {
    pub member_id: String,
    /// Topic names the member is subscribed to (regular expressions already resolved).
    pub topics: BTreeSet<String>,
    /// Its previous target assignment.
    pub previous: Assignment,
}

/// name -> (topic id, partition count), for every subscribed topic that exists.
pub type TopicsMetadata = BTreeMap<String, (Uuid, i32)>;

pub const UNIFORM: &str = "uniform";
pub const RANGE: &str = "range";

pub fn is_known(name: &str) -> bool {
    name == UNIFORM || name == RANGE
}

pub fn assign(
    name: &str,
    members: &[AssignorMember],
    topics: &TopicsMetadata,
) -> BTreeMap<String, Assignment> {
    match name {
        RANGE => range(members, topics),
        _ => uniform(members, topics),
    }
}

/// Kafka's range assignor: per topic, the members subscribed to it (sorted by member
/// id) get contiguous ranges; the first `partitions % members` get one more.
pub fn range(members: &[AssignorMember], topics: &TopicsMetadata) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::new()))
        .collect();
    for (name, (id, count)) in topics {
        let mut subscribed: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(name))
            .map(|m| m.member_id.as_str())
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        subscribed.sort_unstable();
        let n = subscribed.len() as i32;
        let (per, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in subscribed.iter().enumerate() {
            let take = per + i32::from((i as i32) < extra);
            if take > 0 {
                let a = out.get_mut(*member).expect("member listed");
                a.entry(*id).or_default().extend(next..next + take);
            }
            next += take;
        }
    }
    out
}

/// Kafka's uniform assignor: every partition of a subscribed topic goes to one member
/// subscribed to it, as evenly as the subscriptions allow, keeping a partition with its
/// previous owner while that owner is not above its share.
pub fn uniform(
    members: &[AssignorMember],
    topics: &TopicsMetadata,
) -> BTreeMap<String, Assignment> {
    let mut load: BTreeMap<&str, usize> =
        members.iter().map(|m| (m.member_id.as_str(), 0)).collect();
    let mut owner: BTreeMap<(Uuid, i32), &str> = BTreeMap::new();
    let by_id: HashMap<&str, &AssignorMember> =
        members.iter().map(|m| (m.member_id.as_str(), m)).collect();
    let ids: HashMap<Uuid, &str> = topics
        .iter()
        .map(|(n, (id, _))| (*id, n.as_str()))
        .collect();
    let subscribed = |member: &str, topic: &Uuid| {
        ids.get(topic)
            .is_some_and(|name| by_id[member].topics.contains(*name))
    };
    // Every partition someone subscribes to, in a fixed order.
    let mut partitions: Vec<(Uuid, i32)> = Vec::new();
    for (name, (id, count)) in topics {
        if members.iter().any(|m| m.topics.contains(name)) {
            partitions.extend((0..*count).map(|p| (*id, p)));
        }
    }
    if members.is_empty() || partitions.is_empty() {
        return members
            .iter()
            .map(|m| (m.member_id.clone(), Assignment::new()))
            .collect();
    }
    // The share each member may keep from its previous target: the even split.
    let quota = partitions.len().div_ceil(members.len());
    let live: BTreeSet<(Uuid, i32)> = partitions.iter().copied().collect();
    for m in members {
        for (topic, parts) in &m.previous {
            for p in parts {
                let tp = (*topic, *p);
                let l = load[m.member_id.as_str()];
                if l < quota && live.contains(&tp) && subscribed(&m.member_id, topic) {
                    owner.entry(tp).or_insert_with(|| {
                        *load.get_mut(m.member_id.as_str()).expect("member") += 1;
                        m.member_id.as_str()
                    });
                }
            }
        }
    }
    // The rest: to the least-loaded member subscribed to the topic.
    for tp in &partitions {
        if owner.contains_key(tp) {
            continue;
        }
        let best = members
            .iter()
            .filter(|m| subscribed(&m.member_id, &tp.0))
            .min_by_key(|m| (load[m.member_id.as_str()], m.member_id.as_str()));
        if let Some(m) = best {
            owner.insert(*tp, m.member_id.as_str());
            *load.get_mut(m.member_id.as_str()).expect("member") += 1;
        }
    }
    // Balance: move partitions from the most to the least loaded member that may take
    // them, while that narrows the gap.
    loop {
        let mut moved = false;
        let mut order: Vec<&str> = load.keys().copied().collect();
        order.sort_by_key(|m| std::cmp::Reverse(load[m]));
        'outer: for from in order.clone() {
            for to in order.iter().rev() {
                if load[from] <= load[*to] + 1 {
                    continue;
                }
                let candidate = owner
                    .iter()
                    .find(|(tp, o)| **o == from && subscribed(to, &tp.0))
                    .map(|(tp, _)| *tp);
                if let Some(tp) = candidate {
                    owner.insert(tp, to);
                    *load.get_mut(from).expect("member") -= 1;
                    *load.get_mut(*to).expect("member") += 1;
                    moved = true;
                    break 'outer;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::new()))
        .collect();
    for ((topic, p), m) in owner {
        out.get_mut(m)
            .expect("member")
            .entry(topic)
            .or_default()
            .insert(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn topics(counts: &[i32]) -> TopicsMetadata {
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("t{i}"), (Uuid::from_u128(i as u128 + 1), *c)))
            .collect()
    }

    fn check(
        members: &[AssignorMember],
        topics: &TopicsMetadata,
        out: &BTreeMap<String, Assignment>,
    ) -> Result<(), TestCaseError> {
        let mut seen = BTreeSet::new();
        for (member, a) in out {
            let m = members.iter().find(|m| &m.member_id == member).unwrap();
            for (topic, parts) in a {
                let (name, (_, count)) = topics.iter().find(|(_, (id, _))| id == topic).unwrap();
                prop_assert!(m.topics.contains(name), "{member} got {name} unsubscribed");
                for p in parts {
                    prop_assert!(*p < *count);
                    prop_assert!(seen.insert((*topic, *p)), "partition {topic}/{p} twice");
                }
            }
        }
        for (name, (id, count)) in topics {
            if members.iter().any(|m| m.topics.contains(name)) {
                for p in 0..*count {
                    prop_assert!(seen.contains(&(*id, p)), "{name}/{p} unassigned");
                }
            }
        }
        Ok(())
    }

    fn members_strategy() -> impl Strategy<Value = (Vec<i32>, Vec<Vec<bool>>)> {
        (
            prop::collection::vec(1..12i32, 1..4),
            prop::collection::vec(prop::collection::vec(any::<bool>(), 3), 1..7),
        )
    }

    fn build(counts: &[i32], subs: &[Vec<bool>], homogeneous: bool) -> Vec<AssignorMember> {
        subs.iter()
            .enumerate()
            .map(|(i, s)| AssignorMember {
                member_id: format!("m{i}"),
                topics: (0..counts.len())
                    .filter(|t| homogeneous || s[*t])
                    .map(|t| format!("t{t}"))
                    .collect(),
                previous: Assignment::new(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn every_subscribed_partition_assigned_once((counts, subs) in members_strategy(), homogeneous in any::<bool>()) {
            let t = topics(&counts);
            let members = build(&counts, &subs, homogeneous);
            for name in [UNIFORM, RANGE] {
                let out = assign(name, &members, &t);
                check(&members, &t, &out)?;
            }
            let out = uniform(&members, &t);
            if homogeneous {
                let loads: Vec<usize> = out.values().map(|a| a.values().map(|p| p.len()).sum()).collect();
                prop_assert!(loads.iter().max().unwrap() - loads.iter().min().unwrap() <= 1, "unbalanced {loads:?}");
            }
            // Sticky: after a member leaves, the others keep what they had, up to the
            // even split.
            if members.len() > 1 && homogeneous {
                let mut next: Vec<AssignorMember> = members[1..].to_vec();
                for m in &mut next {
                    m.previous = out[&m.member_id].clone();
                }
                let after = uniform(&next, &t);
                check(&next, &t, &after)?;
                let total: usize = counts.iter().map(|c| *c as usize).sum();
                for m in &next {
                    let had: BTreeSet<(Uuid, i32)> = m.previous.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p))).collect();
                    let kept = after[&m.member_id].iter().flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p))).filter(|tp| had.contains(tp)).count();
                    prop_assert!(kept >= had.len().min(total / next.len()), "{} kept {kept} of {}", m.member_id, had.len());
                }
            }
        }
    }

    #[test]
    fn range_splits_contiguously() {
        let t = topics(&[5]);
        let members = build(&[5], &[vec![true; 3], vec![true; 3]], true);
        let out = range(&members, &t);
        let id = Uuid::from_u128(1);
        assert_eq!(out["m0"][&id], [0, 1, 2].into_iter().collect());
        assert_eq!(out["m1"][&id], [3, 4].into_iter().collect());
    }
}
