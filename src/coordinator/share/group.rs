//! Share group membership (Kafka's ShareGroup and ShareGroupMember, KIP-932): the group
//! epoch, each member's epoch, subscription and assignment, and the `simple` assignor
//! that gives every subscribed partition to at least one member, and to several when
//! there are more members than partitions (share groups have no exclusive ownership,
//! so there is no revocation step: a member takes its new assignment at once).
//!
//! Pure state: no clock reads, no I/O, no locks; the coordinator passes times in (and
//! keeps a copy of the groups durable through their serde form).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use uuid::Uuid;

use crate::error::ResponseError;

/// topic id -> partitions.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;
/// topic name -> (topic id, partition count), for every subscribed topic that exists.
pub type TopicsMetadata = BTreeMap<String, (Uuid, i32)>;

pub const ASSIGNOR_NAME: &str = "simple";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShareMember {
    pub member_id: String,
    pub member_epoch: i32,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: BTreeSet<String>,
    pub assignment: Assignment,
    /// The epoch at which the member was last sent its assignment.
    pub sent_epoch: i32,
    /// Not persisted: a restart gives every member a full session to come back.
    #[serde(skip)]
    pub session_deadline_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ShareGroup {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ShareMember>,
}

/// What a heartbeat asks for, in plain values.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub rack_id: Option<String>,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Clone, Debug, Default)]
pub struct HeartbeatResult {
    pub member_epoch: i32,
    /// Set when the member's assignment changed since it was last sent.
    pub assignment: Option<Assignment>,
}

impl ShareGroup {
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else {
            "Stable"
        }
    }

    /// What a change of membership changes (the group epoch and each member's epoch):
    /// when it differs after a heartbeat, the groups are written again.
    pub fn membership(&self) -> (i32, Vec<(&str, i32)>) {
        (
            self.group_epoch,
            self.members
                .values()
                .map(|m| (m.member_id.as_str(), m.member_epoch))
                .collect(),
        )
    }

    /// Every topic some member subscribes to.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect()
    }

    /// Kafka's share-group heartbeat: join (epoch 0), leave (epoch -1), or a
    /// heartbeat at the member's current epoch. `topics` describes the subscribed
    /// topics as they are now; a change in them or in the membership bumps the group
    /// epoch and reassigns.
    pub fn heartbeat(
        &mut self,
        hb: Heartbeat,
        topics: impl Fn(&BTreeSet<String>) -> TopicsMetadata,
        now_ms: i64,
        session_timeout_ms: i64,
        max_size: usize,
    ) -> Result<HeartbeatResult, (ResponseError, String)> {
        if hb.member_epoch == -1 {
            if self.members.remove(&hb.member_id).is_some() {
                self.reassign(&topics);
            }
            return Ok(HeartbeatResult {
                member_epoch: -1,
                assignment: None,
            });
        }
        let mut changed = false;
        if hb.member_epoch == 0 {
            if !self.members.contains_key(&hb.member_id) && self.members.len() >= max_size {
                return Err((
                    ResponseError::GroupMaxSizeReached,
                    format!(
                        "The share group has reached its maximum capacity of {max_size} members."
                    ),
                ));
            }
            let fresh = ShareMember {
                member_id: hb.member_id.clone(),
                member_epoch: 0,
                rack_id: None,
                client_id: String::new(),
                client_host: String::new(),
                subscribed: BTreeSet::new(),
                assignment: Assignment::new(),
                sent_epoch: -1,
                session_deadline_ms: 0,
            };
            let old = self.members.insert(hb.member_id.clone(), fresh);
            changed = old.is_none();
        } else {
            let Some(m) = self.members.get(&hb.member_id) else {
                return Err((
                    ResponseError::UnknownMemberId,
                    format!(
                        "Member {} is not a member of the share group.",
                        hb.member_id
                    ),
                ));
            };
            if hb.member_epoch != m.member_epoch {
                return Err((
                    ResponseError::FencedMemberEpoch,
                    format!(
                        "The share group member has a member epoch ({}) different from the one the coordinator knows ({}).",
                        hb.member_epoch, m.member_epoch
                    ),
                ));
            }
        }
        let m = self.members.get_mut(&hb.member_id).expect("member present");
        m.session_deadline_ms = now_ms + session_timeout_ms;
        m.client_id = hb.client_id;
        m.client_host = hb.client_host;
        if hb.rack_id.is_some() {
            m.rack_id = hb.rack_id;
        }
        if let Some(names) = hb.subscribed_topic_names {
            let names: BTreeSet<String> = names.into_iter().collect();
            if names != m.subscribed {
                m.subscribed = names;
                changed = true;
            }
        }
        if hb.member_epoch == 0 {
            // A rejoining member is sent its assignment again.
            m.sent_epoch = -1;
        }
        // Topics created or grown since the last assignment change it too.
        let target = assign(&self.members, &topics(&self.subscribed_topics()));
        if changed
            || self
                .members
                .iter()
                .any(|(id, m)| target.get(id) != Some(&m.assignment))
        {
            self.install(target);
        }
        let m = self.members.get_mut(&hb.member_id).expect("member present");
        m.member_epoch = self.group_epoch;
        let assignment = if m.sent_epoch != m.member_epoch {
            m.sent_epoch = m.member_epoch;
            Some(m.assignment.clone())
        } else {
            None
        };
        Ok(HeartbeatResult {
            member_epoch: m.member_epoch,
            assignment,
        })
    }

    /// Removes members whose session ran out; returns their ids.
    pub fn expire_members(
        &mut self,
        now_ms: i64,
        topics: impl Fn(&BTreeSet<String>) -> TopicsMetadata,
    ) -> Vec<String> {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.session_deadline_ms <= now_ms)
            .map(|m| m.member_id.clone())
            .collect();
        for id in &gone {
            self.members.remove(id);
        }
        if !gone.is_empty() {
            self.reassign(&topics);
        }
        gone
    }

    fn reassign(&mut self, topics: &impl Fn(&BTreeSet<String>) -> TopicsMetadata) {
        let target = assign(&self.members, &topics(&self.subscribed_topics()));
        self.install(target);
    }

    fn install(&mut self, target: BTreeMap<String, Assignment>) {
        self.group_epoch += 1;
        self.assignment_epoch = self.group_epoch;
        for (id, m) in self.members.iter_mut() {
            let a = target.get(id).cloned().unwrap_or_default();
            if a != m.assignment {
                m.assignment = a;
                m.sent_epoch = -1;
            }
        }
    }
}

/// Kafka's SimpleAssignor idea: per topic, with n subscribers and p partitions,
/// partition i goes to subscriber i mod n when n <= p; otherwise subscriber j gets
/// partition j mod p, so every partition has at least one member and members share.
pub fn assign(
    members: &BTreeMap<String, ShareMember>,
    topics: &TopicsMetadata,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .keys()
        .map(|id| (id.clone(), Assignment::new()))
        .collect();
    for (name, (id, count)) in topics {
        let subscribers: Vec<&String> = members
            .values()
            .filter(|m| m.subscribed.contains(name))
            .map(|m| &m.member_id)
            .collect();
        let (n, p) = (subscribers.len(), (*count).max(0) as usize);
        if n == 0 || p == 0 {
            continue;
        }
        if n <= p {
            for partition in 0..p {
                let m = subscribers[partition % n];
                out.get_mut(m)
                    .expect("member listed")
                    .entry(*id)
                    .or_default()
                    .insert(partition as i32);
            }
        } else {
            for (j, m) in subscribers.iter().enumerate() {
                out.get_mut(*m)
                    .expect("member listed")
                    .entry(*id)
                    .or_default()
                    .insert((j % p) as i32);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(id: &str, epoch: i32, topics: Option<&[&str]>) -> Heartbeat {
        Heartbeat {
            member_id: id.to_string(),
            member_epoch: epoch,
            rack_id: None,
            subscribed_topic_names: topics.map(|t| t.iter().map(|s| s.to_string()).collect()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
        }
    }

    fn meta(partitions: i32) -> impl Fn(&BTreeSet<String>) -> TopicsMetadata {
        move |names| {
            names
                .iter()
                .filter(|n| *n == "t")
                .map(|n| (n.clone(), (Uuid::from_u128(1), partitions)))
                .collect()
        }
    }

    #[test]
    fn more_members_than_partitions_share_them() {
        let mut g = ShareGroup::default();
        let a = g
            .heartbeat(hb("a", 0, Some(&["t"])), meta(1), 0, 45000, 10)
            .unwrap();
        assert_eq!(a.member_epoch, 1);
        assert_eq!(
            a.assignment.unwrap()[&Uuid::from_u128(1)],
            BTreeSet::from([0])
        );
        let b = g
            .heartbeat(hb("b", 0, Some(&["t"])), meta(1), 0, 45000, 10)
            .unwrap();
        assert_eq!(b.member_epoch, 2);
        assert_eq!(
            b.assignment.unwrap()[&Uuid::from_u128(1)],
            BTreeSet::from([0])
        );
        // "a" keeps partition 0; its epoch catches up (and the answer carries it).
        let a = g
            .heartbeat(hb("a", 1, None), meta(1), 0, 45000, 10)
            .unwrap();
        assert_eq!(a.member_epoch, 2);
        assert!(a.assignment.is_some());
        let a = g
            .heartbeat(hb("a", 2, None), meta(1), 0, 45000, 10)
            .unwrap();
        assert_eq!((a.member_epoch, a.assignment), (2, None));
        assert_eq!(
            g.heartbeat(hb("a", 1, None), meta(1), 0, 45000, 10)
                .unwrap_err()
                .0,
            ResponseError::FencedMemberEpoch
        );
    }

    #[test]
    fn partitions_spread_and_leave_and_expiry_reassign() {
        let mut g = ShareGroup::default();
        g.heartbeat(hb("a", 0, Some(&["t"])), meta(4), 0, 100, 10)
            .unwrap();
        g.heartbeat(hb("b", 0, Some(&["t"])), meta(4), 50, 100, 10)
            .unwrap();
        let sizes: Vec<usize> = g
            .members
            .values()
            .map(|m| m.assignment[&Uuid::from_u128(1)].len())
            .collect();
        assert_eq!(sizes, vec![2, 2]);
        assert_eq!(g.expire_members(120, meta(4)), vec!["a".to_string()]);
        assert_eq!(g.members["b"].assignment[&Uuid::from_u128(1)].len(), 4);
        let b = g
            .heartbeat(hb("b", 2, None), meta(4), 120, 100, 10)
            .unwrap();
        assert_eq!(b.member_epoch, 3);
        assert_eq!(b.assignment.unwrap()[&Uuid::from_u128(1)].len(), 4);
        g.heartbeat(hb("b", -1, None), meta(4), 120, 100, 10)
            .unwrap();
        assert!(g.members.is_empty());
        assert_eq!(
            g.heartbeat(hb("c", 0, Some(&["t"])), meta(4), 0, 100, 0)
                .unwrap_err()
                .0,
            ResponseError::GroupMaxSizeReached
        );
    }
}
