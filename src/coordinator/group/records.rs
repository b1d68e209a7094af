//! The records the group coordinator writes to `__consumer_offsets`, byte for byte as
//! Kafka writes them (docs/consumer-offsets-format.md describes every field).
//!
//! Keys start with an int16 that Kafka calls the key version (since Kafka 4 the record
//! type): 0 or 1 for an offset commit (OffsetCommitKey), 2 for group metadata
//! (GroupMetadataKey). Values start with their own int16 version. We write
//! OffsetCommitValue v3 (v1 when the commit carries an expire timestamp) and
//! GroupMetadataValue v3, the versions Kafka 3.x writes; we read v0-v3 of both. A null
//! value is a tombstone. kafka-protocol does not ship these coordinator record schemas,
//! so they are encoded by hand here, with Kafka's (non-flexible) primitive encodings.
//!
//! This module only turns values into bytes and back: it never touches a log or a group.

use crate::coordinator::classic_codec::*;
use bytes::{BufMut, Bytes, BytesMut};

/// Key versions (record types) Kafka uses in `__consumer_offsets`.
pub const OFFSET_COMMIT_KEY_V0: i16 = 0;
pub const OFFSET_COMMIT_KEY_V1: i16 = 1;
pub const GROUP_METADATA_KEY_V2: i16 = 2;

/// One committed offset as stored (Kafka's OffsetAndMetadata).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Set only by OffsetCommit v2-v4 with a retention time (written as value v1).
    pub expire_timestamp: Option<i64>,
}

/// One member as stored in GroupMetadataValue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// GroupMetadataValue: the group as of its last completed generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredGroup {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp: i64,
    pub members: Vec<StoredMember>,
}

/// A decoded `__consumer_offsets` key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordKey {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Group {
        group: String,
    },
    /// A record type written by Kafka's newer coordinator (consumer/share groups): skipped.
    Other(i16),
}

pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(OFFSET_COMMIT_KEY_V1);
    put_str(&mut b, group);
    put_str(&mut b, topic);
    b.put_i32(partition);
    b.freeze()
}

pub fn group_key(group: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(GROUP_METADATA_KEY_V2);
    put_str(&mut b, group);
    b.freeze()
}

pub fn offset_value(o: &OffsetAndMetadata) -> Bytes {
    let mut b = BytesMut::new();
    match o.expire_timestamp {
        // v1: offset, metadata, commitTimestamp, expireTimestamp.
        Some(expire) => {
            b.put_i16(1);
            b.put_i64(o.offset);
            put_str(&mut b, &o.metadata);
            b.put_i64(o.commit_timestamp);
            b.put_i64(expire);
        }
        // v3: offset, leaderEpoch, metadata, commitTimestamp.
        None => {
            b.put_i16(3);
            b.put_i64(o.offset);
            b.put_i32(o.leader_epoch);
            put_str(&mut b, &o.metadata);
            b.put_i64(o.commit_timestamp);
        }
    }
    b.freeze()
}

pub fn group_value(g: &StoredGroup) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    put_str(&mut b, &g.protocol_type);
    b.put_i32(g.generation);
    put_nullable_str(&mut b, g.protocol.as_deref());
    put_nullable_str(&mut b, g.leader.as_deref());
    b.put_i64(g.current_state_timestamp);
    b.put_i32(g.members.len() as i32);
    for m in &g.members {
        put_str(&mut b, &m.member_id);
        put_nullable_str(&mut b, m.group_instance_id.as_deref());
        put_str(&mut b, &m.client_id);
        put_str(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout_ms);
        b.put_i32(m.session_timeout_ms);
        put_bytes(&mut b, &m.subscription);
        put_bytes(&mut b, &m.assignment);
    }
    b.freeze()
}

pub fn decode_key(mut b: &[u8]) -> Result<RecordKey, String> {
    let version = get_i16(&mut b)?;
    match version {
        OFFSET_COMMIT_KEY_V0 | OFFSET_COMMIT_KEY_V1 => Ok(RecordKey::Offset {
            group: get_str(&mut b)?,
            topic: get_str(&mut b)?,
            partition: get_i32(&mut b)?,
        }),
        GROUP_METADATA_KEY_V2 => Ok(RecordKey::Group {
            group: get_str(&mut b)?,
        }),
        other => Ok(RecordKey::Other(other)),
    }
}

pub fn decode_offset_value(mut b: &[u8]) -> Result<OffsetAndMetadata, String> {
    let version = get_i16(&mut b)?;
    if !(0..=3).contains(&version) {
        return Err(format!("unsupported OffsetCommitValue version {version}"));
    }
    let offset = get_i64(&mut b)?;
    let leader_epoch = if version >= 3 { get_i32(&mut b)? } else { -1 };
    let metadata = get_str(&mut b)?;
    let commit_timestamp = get_i64(&mut b)?;
    let expire_timestamp = if version == 1 {
        Some(get_i64(&mut b)?).filter(|&t| t != -1)
    } else {
        None
    };
    Ok(OffsetAndMetadata {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
        expire_timestamp,
    })
}

pub fn decode_group_value(mut b: &[u8]) -> Result<StoredGroup, String> {
    let version = get_i16(&mut b)?;
    if !(0..=3).contains(&version) {
        return Err(format!("unsupported GroupMetadataValue version {version}"));
    }
    let protocol_type = get_str(&mut b)?;
    let generation = get_i32(&mut b)?;
    let protocol = get_nullable_str(&mut b)?;
    let leader = get_nullable_str(&mut b)?;
    let current_state_timestamp = if version >= 2 { get_i64(&mut b)? } else { -1 };
    let count = get_i32(&mut b)?;
    let mut members = Vec::with_capacity(count.clamp(0, 1024) as usize);
    for _ in 0..count.max(0) {
        let member_id = get_str(&mut b)?;
        let group_instance_id = if version >= 3 {
            get_nullable_str(&mut b)?
        } else {
            None
        };
        let client_id = get_str(&mut b)?;
        let client_host = get_str(&mut b)?;
        let session_timeout_first = get_i32(&mut b)?;
        let (rebalance_timeout_ms, session_timeout_ms) = if version >= 1 {
            (session_timeout_first, get_i32(&mut b)?)
        } else {
            (session_timeout_first, session_timeout_first)
        };
        members.push(StoredMember {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription: get_bytes(&mut b)?,
            assignment: get_bytes(&mut b)?,
        });
    }
    Ok(StoredGroup {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_key_and_values_round_trip_with_kafkas_layout() {
        let k = offset_key("g", "t", 3);
        assert_eq!(&k[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
        assert_eq!(
            decode_key(&k).unwrap(),
            RecordKey::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 3
            }
        );
        let o = OffsetAndMetadata {
            offset: 42,
            leader_epoch: 0,
            metadata: "m".into(),
            commit_timestamp: 1000,
            expire_timestamp: None,
        };
        let v = offset_value(&o);
        assert_eq!(v.len(), 2 + 8 + 4 + 3 + 8);
        assert_eq!(&v[..2], &[0, 3]);
        assert_eq!(decode_offset_value(&v).unwrap(), o);
        let o1 = OffsetAndMetadata {
            leader_epoch: -1,
            expire_timestamp: Some(5000),
            ..o
        };
        let v1 = offset_value(&o1);
        assert_eq!(&v1[..2], &[0, 1]);
        assert_eq!(decode_offset_value(&v1).unwrap(), o1);
    }

    #[test]
    fn group_value_round_trips() {
        let g = StoredGroup {
            protocol_type: "consumer".into(),
            generation: 7,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 99,
            members: vec![StoredMember {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300000,
                session_timeout_ms: 10000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(
            decode_key(&group_key("grp")).unwrap(),
            RecordKey::Group {
                group: "grp".into()
            }
        );
        assert_eq!(decode_group_value(&group_value(&g)).unwrap(), g);
        assert!(decode_group_value(&group_value(&g)[..20]).is_err());
    }
}
