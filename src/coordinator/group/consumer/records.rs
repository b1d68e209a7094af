//! The `__consumer_offsets` records of KIP-848 consumer groups, byte for byte as Kafka's
//! group coordinator writes them: keys are non-flexible (int16 record type, then the
//! group id and, per member, the member id); values are flexible version 0 (compact
//! strings and arrays, a tagged-field section, unknown tags skipped on read).
//!
//! | type | key                                  | value                                   |
//! |------|--------------------------------------|-----------------------------------------|
//! | 3    | ConsumerGroupMetadataKey             | ConsumerGroupMetadataValue (epoch)      |
//! | 4    | ConsumerGroupPartitionMetadataKey    | ConsumerGroupPartitionMetadataValue     |
//! | 5    | ConsumerGroupMemberMetadataKey       | ConsumerGroupMemberMetadataValue        |
//! | 6    | ConsumerGroupTargetAssignmentMetadataKey | ...MetadataValue (assignment epoch) |
//! | 7    | ConsumerGroupTargetAssignmentMemberKey | ...MemberValue (partitions)           |
//! | 8    | ConsumerGroupCurrentMemberAssignmentKey | ...Value (epochs, state, partitions) |
//!
//! kafka-protocol does not ship these coordinator schemas, and keeps its primitive
//! encoders private, so the flexible-version primitives (unsigned varints, compact
//! strings and arrays) are written here by hand, with round-trip tests. This module only
//! turns values into bytes and back.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

use crate::coordinator::classic_codec::{get_i16, get_str, put_str};

// ---- flexible-version primitives ---------------------------------------------------

fn put_uvarint(b: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn get_uvarint(b: &mut &[u8]) -> Result<u32> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        if !b.has_remaining() {
            bail!("varint truncated");
        }
        let byte = b.get_u8();
        v |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    bail!("varint too long")
}

/// COMPACT_NULLABLE_STRING (length + 1, 0 for null).
fn put_cstr(b: &mut BytesMut, s: Option<&str>) {
    match s {
        None => put_uvarint(b, 0),
        Some(s) => {
            put_uvarint(b, s.len() as u32 + 1);
            b.put_slice(s.as_bytes());
        }
    }
}

fn get_cstr(b: &mut &[u8]) -> Result<Option<String>> {
    let n = get_uvarint(b)?;
    if n == 0 {
        return Ok(None);
    }
    let len = (n - 1) as usize;
    if b.remaining() < len {
        bail!("string truncated");
    }
    let s = String::from_utf8(b[..len].to_vec())?;
    b.advance(len);
    Ok(Some(s))
}

fn get_str_c(b: &mut &[u8]) -> Result<String> {
    get_cstr(b)?.ok_or_else(|| anyhow::anyhow!("null in a non-nullable string"))
}

fn get_i32c(b: &mut &[u8]) -> Result<i32> {
    if b.remaining() < 4 {
        bail!("int32 truncated");
    }
    Ok(b.get_i32())
}

fn get_uuid(b: &mut &[u8]) -> Result<Uuid> {
    if b.remaining() < 16 {
        bail!("uuid truncated");
    }
    let u = Uuid::from_slice(&b[..16])?;
    b.advance(16);
    Ok(u)
}

/// COMPACT_ARRAY length (count + 1; 0 is null, read as empty).
fn get_count(b: &mut &[u8]) -> Result<usize> {
    let n = get_uvarint(b)? as usize;
    let count = n.saturating_sub(1);
    if count > b.remaining() {
        bail!("array longer than the record");
    }
    Ok(count)
}

pub const GROUP_METADATA: i16 = 3;
pub const PARTITION_METADATA: i16 = 4;
pub const MEMBER_METADATA: i16 = 5;
pub const TARGET_ASSIGNMENT_METADATA: i16 = 6;
pub const TARGET_ASSIGNMENT_MEMBER: i16 = 7;
pub const CURRENT_MEMBER_ASSIGNMENT: i16 = 8;

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// ConsumerGroupMemberMetadataValue.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MemberMetadataValue {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    /// Tagged field 0: set for a member that speaks the classic protocol (a classic
    /// consumer inside a consumer group after an online upgrade).
    pub classic: Option<ClassicMemberMetadata>,
}

/// ConsumerGroupMemberMetadataValue.ClassicMemberMetadata: what a classic member sent
/// in its JoinGroup (session timeout and (protocol name, metadata) in its order).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClassicMemberMetadata {
    pub session_timeout_ms: i32,
    pub protocols: Vec<(String, Bytes)>,
}

/// Tag 0 of ConsumerGroupMemberMetadataValue.
const CLASSIC_MEMBER_METADATA_TAG: u32 = 0;

fn put_classic(b: &mut BytesMut, c: &ClassicMemberMetadata) {
    b.put_i32(c.session_timeout_ms);
    put_uvarint(b, c.protocols.len() as u32 + 1);
    for (name, metadata) in &c.protocols {
        put_cstr(b, Some(name));
        put_uvarint(b, metadata.len() as u32 + 1);
        b.put_slice(metadata);
        b.put_u8(0);
    }
    b.put_u8(0);
}

fn get_classic(mut b: &[u8]) -> Result<ClassicMemberMetadata> {
    let session_timeout_ms = get_i32c(&mut b)?;
    let n = get_count(&mut b)?;
    let mut protocols = Vec::with_capacity(n);
    for _ in 0..n {
        let name = get_str_c(&mut b)?;
        let len = get_count(&mut b)?;
        let metadata = Bytes::copy_from_slice(&b[..len]);
        b.advance(len);
        skip_tags(&mut b)?;
        protocols.push((name, metadata));
    }
    skip_tags(&mut b)?;
    Ok(ClassicMemberMetadata {
        session_timeout_ms,
        protocols,
    })
}

/// ConsumerGroupCurrentMemberAssignmentValue.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CurrentAssignmentValue {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: i8,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
}

/// A decoded key: (record type, group id, member id if the type has one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub record_type: i16,
    pub group_id: String,
    pub member_id: Option<String>,
}

pub fn key(record_type: i16, group_id: &str, member_id: Option<&str>) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(record_type);
    put_str(&mut b, group_id);
    if let Some(m) = member_id {
        put_str(&mut b, m);
    }
    b.freeze()
}

pub fn decode_key(mut b: &[u8]) -> Result<Key, String> {
    let record_type = get_i16(&mut b)?;
    let group_id = get_str(&mut b)?;
    let member_id = match record_type {
        MEMBER_METADATA | TARGET_ASSIGNMENT_MEMBER | CURRENT_MEMBER_ASSIGNMENT => {
            Some(get_str(&mut b)?)
        }
        GROUP_METADATA | PARTITION_METADATA | TARGET_ASSIGNMENT_METADATA => None,
        other => return Err(format!("not a consumer group record type: {other}")),
    };
    Ok(Key {
        record_type,
        group_id,
        member_id,
    })
}

fn start() -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i16(0); // value version
    b
}

fn finish(mut b: BytesMut) -> Bytes {
    b.put_u8(0); // no tagged fields
    b.freeze()
}

fn open(mut b: &[u8]) -> Result<&[u8]> {
    if b.remaining() < 2 {
        bail!("value truncated");
    }
    let version = b.get_i16();
    if version != 0 {
        bail!("unknown value version {version}");
    }
    Ok(b)
}

/// Skips the tagged-field section (fields a newer writer added).
fn skip_tags(b: &mut &[u8]) -> Result<()> {
    let n = get_uvarint(b)?;
    for _ in 0..n {
        let _tag = get_uvarint(b)?;
        let size = get_uvarint(b)?;
        if b.remaining() < size as usize {
            bail!("tagged field truncated");
        }
        b.advance(size as usize);
    }
    Ok(())
}

/// ConsumerGroupMetadataValue / TargetAssignmentMetadataValue: one int32 epoch.
pub fn epoch_value(epoch: i32) -> Bytes {
    let mut b = start();
    b.put_i32(epoch);
    finish(b)
}

pub fn decode_epoch_value(v: &[u8]) -> Result<i32> {
    let mut b = open(v)?;
    let epoch = get_i32c(&mut b)?;
    skip_tags(&mut b)?;
    Ok(epoch)
}

pub fn member_metadata_value(m: &MemberMetadataValue) -> Result<Bytes> {
    let mut b = start();
    put_cstr(&mut b, m.instance_id.as_deref());
    put_cstr(&mut b, m.rack_id.as_deref());
    put_cstr(&mut b, Some(&m.client_id));
    put_cstr(&mut b, Some(&m.client_host));
    put_uvarint(&mut b, m.subscribed_topic_names.len() as u32 + 1);
    for t in &m.subscribed_topic_names {
        put_cstr(&mut b, Some(t));
    }
    put_cstr(&mut b, m.subscribed_topic_regex.as_deref());
    b.put_i32(m.rebalance_timeout_ms);
    put_cstr(&mut b, m.server_assignor.as_deref());
    match &m.classic {
        None => b.put_u8(0),
        Some(c) => {
            let mut field = BytesMut::new();
            put_classic(&mut field, c);
            put_uvarint(&mut b, 1);
            put_uvarint(&mut b, CLASSIC_MEMBER_METADATA_TAG);
            put_uvarint(&mut b, field.len() as u32);
            b.put_slice(&field);
        }
    }
    Ok(b.freeze())
}

pub fn decode_member_metadata_value(v: &[u8]) -> Result<MemberMetadataValue> {
    let mut b = open(v)?;
    let instance_id = get_cstr(&mut b)?;
    let rack_id = get_cstr(&mut b)?;
    let client_id = get_str_c(&mut b)?;
    let client_host = get_str_c(&mut b)?;
    let n = get_count(&mut b)?;
    let mut subscribed_topic_names = Vec::with_capacity(n);
    for _ in 0..n {
        subscribed_topic_names.push(get_str_c(&mut b)?);
    }
    let out = MemberMetadataValue {
        instance_id,
        rack_id,
        client_id,
        client_host,
        subscribed_topic_names,
        subscribed_topic_regex: get_cstr(&mut b)?,
        rebalance_timeout_ms: get_i32c(&mut b)?,
        server_assignor: get_cstr(&mut b)?,
        classic: None,
    };
    let mut out = out;
    let tags = get_uvarint(&mut b)?;
    for _ in 0..tags {
        let tag = get_uvarint(&mut b)?;
        let size = get_uvarint(&mut b)? as usize;
        if b.remaining() < size {
            bail!("tagged field truncated");
        }
        if tag == CLASSIC_MEMBER_METADATA_TAG {
            out.classic = Some(get_classic(&b[..size])?);
        }
        b.advance(size);
    }
    Ok(out)
}

/// `[]TopicPartitions { TopicId uuid, Partitions []int32 }`, each entry flexible.
fn put_assignment(b: &mut BytesMut, a: &Assignment) -> Result<()> {
    put_uvarint(b, a.len() as u32 + 1);
    for (topic, parts) in a {
        b.put_slice(topic.as_bytes());
        put_uvarint(b, parts.len() as u32 + 1);
        for p in parts {
            b.put_i32(*p);
        }
        b.put_u8(0);
    }
    Ok(())
}

fn get_assignment(b: &mut &[u8]) -> Result<Assignment> {
    let n = get_count(b)?;
    let mut out = Assignment::new();
    for _ in 0..n {
        let topic = get_uuid(b)?;
        let count = get_count(b)?;
        let parts = out.entry(topic).or_default();
        for _ in 0..count {
            parts.insert(get_i32c(b)?);
        }
        skip_tags(b)?;
    }
    Ok(out)
}

pub fn target_member_value(a: &Assignment) -> Result<Bytes> {
    let mut b = start();
    put_assignment(&mut b, a)?;
    Ok(finish(b))
}

pub fn decode_target_member_value(v: &[u8]) -> Result<Assignment> {
    let mut b = open(v)?;
    let a = get_assignment(&mut b)?;
    skip_tags(&mut b)?;
    Ok(a)
}

pub fn current_assignment_value(c: &CurrentAssignmentValue) -> Result<Bytes> {
    let mut b = start();
    b.put_i32(c.member_epoch);
    b.put_i32(c.previous_member_epoch);
    b.put_i8(c.state);
    put_assignment(&mut b, &c.assigned)?;
    put_assignment(&mut b, &c.pending_revocation)?;
    Ok(finish(b))
}

pub fn decode_current_assignment_value(v: &[u8]) -> Result<CurrentAssignmentValue> {
    let mut b = open(v)?;
    let out = CurrentAssignmentValue {
        member_epoch: get_i32c(&mut b)?,
        previous_member_epoch: get_i32c(&mut b)?,
        state: {
            if !b.has_remaining() {
                bail!("int8 truncated");
            }
            b.get_i8()
        },
        assigned: get_assignment(&mut b)?,
        pending_revocation: get_assignment(&mut b)?,
    };
    skip_tags(&mut b)?;
    Ok(out)
}

/// ConsumerGroupPartitionMetadataValue: the subscribed topics (id, name, partitions),
/// with the deprecated per-partition rack list left empty.
pub fn partition_metadata_value(topics: &BTreeMap<String, (Uuid, i32)>) -> Result<Bytes> {
    let mut b = start();
    put_uvarint(&mut b, topics.len() as u32 + 1);
    for (name, (id, count)) in topics {
        b.put_slice(id.as_bytes());
        put_cstr(&mut b, Some(name));
        b.put_i32(*count);
        put_uvarint(&mut b, 1); // PartitionMetadata: empty
        b.put_u8(0);
    }
    Ok(finish(b))
}

pub fn decode_partition_metadata_value(v: &[u8]) -> Result<BTreeMap<String, (Uuid, i32)>> {
    let mut b = open(v)?;
    let mut out = BTreeMap::new();
    for _ in 0..get_count(&mut b)? {
        let id = get_uuid(&mut b)?;
        let name = get_str_c(&mut b)?;
        let count = get_i32c(&mut b)?;
        for _ in 0..get_count(&mut b)? {
            get_i32c(&mut b)?; // Partition
            for _ in 0..get_count(&mut b)? {
                get_str_c(&mut b)?; // Racks
            }
            skip_tags(&mut b)?;
        }
        skip_tags(&mut b)?;
        out.insert(name, (id, count));
    }
    skip_tags(&mut b)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let m = MemberMetadataValue {
            instance_id: Some("i".into()),
            rack_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            subscribed_topic_names: vec!["a".into(), "b".into()],
            subscribed_topic_regex: Some("^x.*".into()),
            rebalance_timeout_ms: 300_000,
            server_assignor: Some("range".into()),
            classic: None,
        };
        let v = member_metadata_value(&m).unwrap();
        assert_eq!(decode_member_metadata_value(&v).unwrap(), m);
        // A classic member's metadata rides in tagged field 0.
        let mut classic = m.clone();
        classic.classic = Some(ClassicMemberMetadata {
            session_timeout_ms: 45_000,
            protocols: vec![
                ("range".into(), Bytes::from_static(b"\x00\x01abc")),
                ("roundrobin".into(), Bytes::new()),
            ],
        });
        let v = member_metadata_value(&classic).unwrap();
        let plain = member_metadata_value(&m).unwrap();
        assert!(v.starts_with(&plain[..plain.len() - 1]));
        assert_eq!(decode_member_metadata_value(&v).unwrap(), classic);
        let t = Uuid::new_v4();
        let mut a = Assignment::new();
        a.insert(t, [0, 2, 5].into_iter().collect());
        let c = CurrentAssignmentValue {
            member_epoch: 7,
            previous_member_epoch: 6,
            state: 1,
            assigned: a.clone(),
            pending_revocation: Assignment::new(),
        };
        let v = current_assignment_value(&c).unwrap();
        assert_eq!(decode_current_assignment_value(&v).unwrap(), c);
        assert_eq!(
            decode_target_member_value(&target_member_value(&a).unwrap()).unwrap(),
            a
        );
        assert_eq!(decode_epoch_value(&epoch_value(42)).unwrap(), 42);
        let topics: BTreeMap<String, (Uuid, i32)> =
            [("a".to_string(), (t, 3))].into_iter().collect();
        let v = partition_metadata_value(&topics).unwrap();
        assert_eq!(decode_partition_metadata_value(&v).unwrap(), topics);
        let k = key(CURRENT_MEMBER_ASSIGNMENT, "g", Some("m"));
        assert_eq!(
            decode_key(&k).unwrap(),
            Key {
                record_type: 8,
                group_id: "g".into(),
                member_id: Some("m".into())
            }
        );
    }

    #[test]
    fn epoch_value_matches_kafka_bytes() {
        // version 0, epoch 5, no tagged fields.
        assert_eq!(&epoch_value(5)[..], &[0, 0, 0, 0, 0, 5, 0]);
    }
}
