//! Consumer-group membership for `sluice consume --group G`: the classic protocol
//! (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit, LeaveGroup) with
//! the range assignor when this member leads, over its own connection to the coordinator.
//!
//! It owns the member id, generation, assignment, heartbeats and commits. It must never
//! fetch or print records (that is `consume.rs`), and it subscribes to exactly one topic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest,
    SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{error_name, Connection};
use super::cluster::{Cluster, TopicInfo};
use super::consume::{start_offsets, Start};
use super::group::{committed_offsets, decode_assignment, decode_subscription};
use super::group::{encode_assignment, encode_subscription};

const SESSION_TIMEOUT_MS: i32 = 30_000;
const REBALANCE_TIMEOUT_MS: i32 = 60_000;
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
const PROTOCOL: &str = "range";

pub struct GroupMember {
    conn: Connection,
    group: String,
    topic: String,
    member_id: String,
    generation: i32,
    last_heartbeat: Instant,
    last_commit: Instant,
    /// Positions as of the last successful commit.
    committed: BTreeMap<i32, i64>,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Kafka's range assignor for one topic: members sorted by id, each gets a contiguous
/// run of partitions, the first `partitions % members` one extra.
pub fn range_assign(members: &[String], partitions: i32) -> BTreeMap<String, Vec<i32>> {
    let mut sorted = members.to_vec();
    sorted.sort();
    let mut out = BTreeMap::new();
    if sorted.is_empty() {
        return out;
    }
    let n = sorted.len() as i32;
    let (per, extra) = (partitions / n, partitions % n);
    let mut next = 0;
    for (i, m) in sorted.iter().enumerate() {
        let take = per + i32::from((i as i32) < extra);
        out.insert(m.clone(), (next..next + take).collect());
        next += take;
    }
    out
}

impl GroupMember {
    /// Joins `group` subscribed to `topic`; returns the member and its partitions.
    pub async fn join(
        cluster: &mut Cluster,
        group: &str,
        topic: &TopicInfo,
    ) -> Result<(GroupMember, Vec<i32>)> {
        let (_, addr) = cluster.coordinator(group).await?;
        let mut conn = Connection::connect(&addr).await?;
        // JoinGroup waits up to the rebalance timeout for the other members.
        conn.request_timeout = Duration::from_millis(REBALANCE_TIMEOUT_MS as u64 + 10_000);
        let mut member = GroupMember {
            conn,
            group: group.to_string(),
            topic: topic.name.clone(),
            member_id: String::new(),
            generation: -1,
            last_heartbeat: Instant::now(),
            last_commit: Instant::now(),
            committed: BTreeMap::new(),
        };
        let assigned = member.rejoin(cluster).await?;
        Ok((member, assigned))
    }

    async fn rejoin(&mut self, cluster: &mut Cluster) -> Result<Vec<i32>> {
        let what = format!("group `{}`", self.group);
        for _ in 0..20 {
            let request = JoinGroupRequest::default()
                .with_group_id(GroupId(sb(&self.group)))
                .with_session_timeout_ms(SESSION_TIMEOUT_MS)
                .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
                .with_member_id(sb(&self.member_id))
                .with_protocol_type(sb("consumer"))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(sb(PROTOCOL))
                    .with_metadata(encode_subscription(std::slice::from_ref(&self.topic))?)]);
            let version = self.conn.version::<JoinGroupRequest>(9)?;
            let join = self.conn.send_raw(&request, version).await?;
            match ResponseError::try_from_code(join.error_code) {
                None => {}
                Some(ResponseError::MemberIdRequired) => {
                    self.member_id = join.member_id.to_string();
                    continue;
                }
                Some(ResponseError::UnknownMemberId) => {
                    self.member_id.clear();
                    continue;
                }
                Some(e) if e.is_retriable() || e == ResponseError::RebalanceInProgress => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Some(e) => bail!("{what}: JoinGroup failed: {}", error_name(e)),
            }
            self.member_id = join.member_id.to_string();
            self.generation = join.generation_id;
            let mut assignments = Vec::new();
            if join.leader == join.member_id {
                assignments = self.assign(cluster, &join.members).await?;
            }
            let sync_version = self.conn.version::<SyncGroupRequest>(5)?;
            let request = SyncGroupRequest::default()
                .with_group_id(GroupId(sb(&self.group)))
                .with_generation_id(self.generation)
                .with_member_id(sb(&self.member_id))
                .with_protocol_type(Some(sb("consumer")))
                .with_protocol_name(Some(sb(PROTOCOL)))
                .with_assignments(assignments);
            let sync = self.conn.send_raw(&request, sync_version).await?;
            match ResponseError::try_from_code(sync.error_code) {
                None => {}
                Some(ResponseError::UnknownMemberId) => {
                    self.member_id.clear();
                    continue;
                }
                Some(e) if e.is_retriable() || e == ResponseError::RebalanceInProgress => continue,
                Some(e) => bail!("{what}: SyncGroup failed: {}", error_name(e)),
            }
            self.last_heartbeat = Instant::now();
            let assigned = decode_assignment(sync.assignment).context("decoding the assignment")?;
            let mut mine = assigned.get(&self.topic).cloned().unwrap_or_default();
            mine.sort();
            self.committed.retain(|p, _| mine.contains(p));
            return Ok(mine);
        }
        bail!("{what}: could not join after 20 attempts")
    }

    /// The leader's job: range-assign every subscribed topic among its subscribers.
    async fn assign(
        &mut self,
        cluster: &mut Cluster,
        members: &[kafka_protocol::messages::join_group_response::JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        let mut subscribers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in members {
            for t in decode_subscription(m.metadata.clone()).unwrap_or_default() {
                subscribers
                    .entry(t)
                    .or_default()
                    .push(m.member_id.to_string());
            }
        }
        let mut per_member: BTreeMap<String, BTreeMap<String, Vec<i32>>> = members
            .iter()
            .map(|m| (m.member_id.to_string(), BTreeMap::new()))
            .collect();
        for (topic, subs) in subscribers {
            let Ok(info) = cluster.topic(&topic).await else {
                continue;
            };
            for (m, parts) in range_assign(&subs, info.partitions.len() as i32) {
                per_member
                    .entry(m)
                    .or_default()
                    .insert(topic.clone(), parts);
            }
        }
        per_member
            .into_iter()
            .map(|(m, a)| {
                Ok(SyncGroupRequestAssignment::default()
                    .with_member_id(sb(&m))
                    .with_assignment(encode_assignment(&a)?))
            })
            .collect()
    }

    /// Start positions: the group's committed offsets, else `start`.
    pub async fn positions(
        &mut self,
        cluster: &mut Cluster,
        topic: &TopicInfo,
        partitions: &[i32],
        start: Start,
        read_committed: bool,
    ) -> Result<BTreeMap<i32, i64>> {
        let mut wanted = BTreeMap::new();
        wanted.insert(topic.name.clone(), partitions.to_vec());
        let committed = committed_offsets(&mut self.conn, &self.group, Some(&wanted)).await?;
        let mut out: BTreeMap<i32, i64> = BTreeMap::new();
        let mut missing = Vec::new();
        for p in partitions {
            match committed.get(&(topic.name.clone(), *p)) {
                Some(o) => {
                    out.insert(*p, *o);
                }
                None => missing.push(*p),
            }
        }
        out.extend(start_offsets(cluster, topic, &missing, start, read_committed).await?);
        self.committed = out.clone();
        Ok(out)
    }

    /// Commits `positions` if they moved since the last commit.
    pub async fn commit(&mut self, positions: &BTreeMap<i32, i64>) -> Result<()> {
        self.last_commit = Instant::now();
        if *positions == self.committed || positions.is_empty() {
            return Ok(());
        }
        let version = self.conn.version::<OffsetCommitRequest>(9)?;
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(sb(&self.group)))
            .with_generation_id_or_member_epoch(self.generation)
            .with_member_id(sb(&self.member_id))
            .with_retention_time_ms(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(sb(&self.topic)))
                .with_partitions(
                    positions
                        .iter()
                        .map(|(p, o)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(*o)
                                .with_committed_leader_epoch(-1)
                        })
                        .collect(),
                )]);
        let answer = self.conn.send_raw(&request, version).await?;
        for t in &answer.topics {
            for p in &t.partitions {
                if let Some(e) = ResponseError::try_from_code(p.error_code) {
                    bail!(
                        "group `{}`: committing {}-{} failed: {}",
                        self.group,
                        self.topic,
                        p.partition_index,
                        error_name(e)
                    );
                }
            }
        }
        self.committed = positions.clone();
        Ok(())
    }

    /// Commits and heartbeats when due. Returns the new assignment after a rebalance.
    pub async fn tick(
        &mut self,
        cluster: &mut Cluster,
        positions: &BTreeMap<i32, i64>,
    ) -> Result<Option<Vec<i32>>> {
        if self.last_commit.elapsed() >= COMMIT_INTERVAL {
            if let Err(e) = self.commit(positions).await {
                tracing::debug!("commit before rebalance failed: {e:#}");
            }
        }
        if self.last_heartbeat.elapsed() < HEARTBEAT_INTERVAL {
            return Ok(None);
        }
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(sb(&self.group)))
            .with_generation_id(self.generation)
            .with_member_id(sb(&self.member_id));
        let answer = self.conn.send(&request, 4).await?;
        self.last_heartbeat = Instant::now();
        match ResponseError::try_from_code(answer.error_code) {
            None => Ok(None),
            Some(ResponseError::RebalanceInProgress) => {
                let _ = self.commit(positions).await;
                Ok(Some(self.rejoin(cluster).await?))
            }
            Some(ResponseError::UnknownMemberId)
            | Some(ResponseError::IllegalGeneration)
            | Some(ResponseError::FencedInstanceId) => {
                self.member_id.clear();
                self.committed.clear();
                Ok(Some(self.rejoin(cluster).await?))
            }
            Some(e) if e.is_retriable() => Ok(None),
            Some(e) => bail!(
                "group `{}`: Heartbeat failed: {}",
                self.group,
                error_name(e)
            ),
        }
    }

    /// Commits the final positions and leaves the group.
    pub async fn close(
        mut self,
        _cluster: &mut Cluster,
        positions: &BTreeMap<i32, i64>,
    ) -> Result<()> {
        let committed = self.commit(positions).await;
        let version = self.conn.version::<LeaveGroupRequest>(5)?;
        let mut request = LeaveGroupRequest::default().with_group_id(GroupId(sb(&self.group)));
        if version >= 3 {
            request.members = vec![
                kafka_protocol::messages::leave_group_request::MemberIdentity::default()
                    .with_member_id(sb(&self.member_id)),
            ];
        } else {
            request.member_id = sb(&self.member_id);
        }
        if let Err(e) = self.conn.send_raw(&request, version).await {
            tracing::debug!("LeaveGroup failed: {e:#}");
        }
        committed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignor_matches_kafkas() {
        let members = vec!["b".to_string(), "a".to_string()];
        let a = range_assign(&members, 5);
        assert_eq!(a["a"], vec![0, 1, 2]);
        assert_eq!(a["b"], vec![3, 4]);
        let a = range_assign(&["x".to_string()], 0);
        assert!(a["x"].is_empty());
        assert!(range_assign(&[], 3).is_empty());
    }
}
