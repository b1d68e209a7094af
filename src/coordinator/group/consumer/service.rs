//! The group coordinator's entry points for KIP-848 consumer groups:
//! ConsumerGroupHeartbeat (waiting for its records to be durable outside every lock),
//! ConsumerGroupDescribe and the member-epoch check of OffsetFetch. Finding and creating
//! groups is the coordinator's; the group logic is in [`super::heartbeat`].

use std::collections::BTreeMap;

use uuid::Uuid;

use super::heartbeat::{HeartbeatRequest, HeartbeatResult};
use super::records::Assignment;
use super::{assignor, ConsumerGroupState};
use crate::coordinator::group::{GroupCoordinator, GroupState};
use crate::error::ResponseError;

/// One member as ConsumerGroupDescribe shows it.
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    /// (topic id, topic name, partitions).
    pub assignment: Vec<(Uuid, String, Vec<i32>)>,
    pub target_assignment: Vec<(Uuid, String, Vec<i32>)>,
    /// A classic member of the consumer group (online migration).
    pub classic: bool,
}

pub struct ConsumerGroupDescription {
    pub state: ConsumerGroupState,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    pub members: Vec<ConsumerMemberDescription>,
}

impl GroupCoordinator {
    pub async fn consumer_group_heartbeat(
        &self,
        group_id: &str,
        req: HeartbeatRequest,
    ) -> HeartbeatResult {
        let group = if req.member_epoch == 0 {
            match self.group_or_create(group_id) {
                Ok(g) => g,
                Err(e) => return HeartbeatResult::error(e, "too many groups"),
            }
        } else {
            match self.group(group_id) {
                Some(g) => g,
                None => {
                    return HeartbeatResult::error(
                        ResponseError::UnknownMemberId,
                        format!("Group {group_id} not found."),
                    )
                }
            }
        };
        let (result, appended) = {
            let env = self.env();
            let r = group.lock().consumer_heartbeat(&env, req);
            r
        };
        if let Some(a) = appended {
            if let Err(e) = a.durable().await {
                return HeartbeatResult::error(e, "storing the group's records failed");
            }
        }
        result
    }

    /// ConsumerGroupDescribe: `Err(GROUP_ID_NOT_FOUND)` for a missing or classic group.
    pub fn consumer_group_describe(
        &self,
        group_id: &str,
    ) -> Result<ConsumerGroupDescription, ResponseError> {
        let group = self.group(group_id).ok_or(ResponseError::GroupIdNotFound)?;
        let g = group.lock();
        if g.is(GroupState::Dead) {
            return Err(ResponseError::GroupIdNotFound);
        }
        let cg = g
            .consumer
            .as_deref()
            .ok_or(ResponseError::GroupIdNotFound)?;
        let names: BTreeMap<Uuid, String> = cg
            .subscription_metadata
            .iter()
            .map(|(n, (id, _))| (*id, n.clone()))
            .collect();
        let named = |a: &Assignment| -> Vec<(Uuid, String, Vec<i32>)> {
            a.iter()
                .map(|(t, ps)| {
                    let name = names
                        .get(t)
                        .cloned()
                        .or_else(|| self.topic_name(t))
                        .unwrap_or_default();
                    (*t, name, ps.iter().copied().collect())
                })
                .collect()
        };
        let members = cg
            .members
            .values()
            .map(|m| ConsumerMemberDescription {
                member_id: m.member_id.clone(),
                instance_id: m.instance_id.clone(),
                rack_id: m.rack_id.clone(),
                member_epoch: m.member_epoch,
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed_topic_names: m.subscribed_topic_names.clone(),
                subscribed_topic_regex: m.subscribed_topic_regex.clone(),
                assignment: named(&m.assigned),
                target_assignment: named(&cg.target.get(&m.member_id).cloned().unwrap_or_default()),
                classic: m.uses_classic_protocol(),
            })
            .collect();
        Ok(ConsumerGroupDescription {
            state: cg.state(),
            group_epoch: cg.group_epoch,
            assignment_epoch: cg.assignment_epoch,
            assignor_name: cg.preferred_assignor(&self.config().consumer_assignors),
            members,
        })
    }

    /// OffsetFetch v9+ from a consumer group member: UNKNOWN_MEMBER_ID or
    /// STALE_MEMBER_EPOCH as Kafka answers; other groups and admin fetches pass.
    pub fn validate_offset_fetch(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ResponseError> {
        match self.group(group_id) {
            Some(g) => g
                .lock()
                .validate_consumer_offset_fetch(member_id, member_epoch),
            None => Ok(()),
        }
    }

    fn topic_name(&self, id: &Uuid) -> Option<String> {
        self.topics.get_by_id(id).map(|t| t.name.to_string())
    }

    /// Whether `name` is a server-side assignor this broker runs.
    pub fn has_assignor(&self, name: &str) -> bool {
        assignor::is_known(name) && self.config().consumer_assignors.iter().any(|a| a == name)
    }
}
