//! Kafka 4.2's request and response versions that the codec (kafka-protocol 0.18, generated
//! from Kafka 4.1's message definitions) cannot read or write, written by hand on top of
//! the codec's own types.
//!
//! Kafka 4.1 -> 4.2 changed these client-facing messages (from the definitions'
//! `validVersions` and fields):
//! - ListOffsets v11 (KIP-1023): no new field; the timestamp -6 (earliest pending upload)
//!   becomes valid. Decoded and encoded exactly as v10.
//! - OffsetCommit v10 and OffsetFetch v10 (KIP-848): a topic is named by its id
//!   (`TopicId`, uuid) instead of its name. Kafka 4.1 had already defined v10 as an
//!   unstable version, so the codec's structs carry `topic_id` and its responses encode
//!   v10; only its request decoders stop at v9. The two request decoders are here.
//! - ShareFetch v2 (KIP-1206, KIP-1222): `ShareAcquireMode` (int8) and `IsRenewAck`
//!   (bool) after `BatchSize`; its response is unchanged from v1.
//! - ShareAcknowledge v2 (KIP-1222): `IsRenewAck` (bool) after `ShareSessionEpoch`; the
//!   response gains `AcquisitionLockTimeoutMs` (int32) after `ErrorMessage`.
//!
//!   The share types wrap the codec's v1 types with the new fields ([`ShareFetchRequest`]
//!   and friends) and implement the codec's `Encodable`/`Decodable`, so a `commands!`
//!   line can name them directly (`ShareFetch(codec_4_2::ShareFetchRequest =>
//!   codec_4_2::ShareFetchResponse) = share_fetch::handle;`), with `supported_versions`
//!   raising the codec's range (v1) to [`SHARE_FETCH_MAX`] / [`SHARE_ACKNOWLEDGE_MAX`].
//! - DescribeShareGroupOffsets v1 (KIP-1226): each partition's `Lag` (int64) after
//!   `LeaderEpoch`; the request is unchanged. Its response ([`DescribeShareGroupOffsetsResponse`])
//!   is written whole by hand at v1 (the field sits inside nested arrays), and the tests
//!   check that the same writer without the lag is the codec's v0 byte for byte.
//! - Not client-facing or not served, so not here: WriteTxnMarkers v2, AddRaftVoter v1,
//!   WriteShareGroupState v1, ReadShareGroupStateSummary v1, and
//!   StreamsGroupHeartbeat/StreamsGroupDescribe (keys 88, 89) becoming stable.
//!
//! Why by hand and not regenerated: see docs/kafka-4.2-api-keys.md ("The codec"). Every
//! version here differs from one the codec serves by a field inserted or swapped at a
//! known place, so each is written as that difference: the unchanged parts (partitions,
//! acknowledgement batches, records) go through the codec's generated code, and the
//! tests check each hand-written version byte for byte against the codec's encoding of
//! the previous version.
//!
//! Never changes how a version the codec already serves is read or written: anything
//! else goes straight to the codec.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    self as codec, ApiKey, ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::buf::{ByteBuf, ByteBufMut};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{Command, Response};

/// The highest version of each key this module adds beyond the codec's own.
pub const LIST_OFFSETS_MAX: i16 = 11;
pub const OFFSET_COMMIT_MAX: i16 = 10;
pub const OFFSET_FETCH_MAX: i16 = 10;
pub const SHARE_FETCH_MAX: i16 = 2;
pub const SHARE_ACKNOWLEDGE_MAX: i16 = 2;
pub const DESCRIBE_SHARE_GROUP_OFFSETS_MAX: i16 = 1;

/// Decodes a request of a version the codec cannot read; `None` for everything else
/// (the codec's own decoder is used).
pub(super) fn decode_request(
    key: ApiKey,
    version: i16,
    body: &mut Bytes,
) -> Option<Result<Command>> {
    Some(match (key, version) {
        (ApiKey::ListOffsets, 11) => ListOffsetsRequest::decode(body, 10).map(Command::ListOffsets),
        (ApiKey::OffsetCommit, 10) => decode_offset_commit_v10(body).map(Command::OffsetCommit),
        (ApiKey::OffsetFetch, 10) => decode_offset_fetch_v10(body).map(Command::OffsetFetch),
        (ApiKey::DescribeShareGroupOffsets, 1) => {
            codec::DescribeShareGroupOffsetsRequest::decode(body, 0)
                .map(Command::DescribeShareGroupOffsets)
        }
        _ => return None,
    })
}

/// Encodes an answer at a version the codec cannot write; `None` for everything else.
pub(super) fn encode_response<B: ByteBufMut>(
    response: &Response,
    buf: &mut B,
    version: i16,
) -> Option<Result<()>> {
    match (response, version) {
        (Response::ListOffsets(r), 11) => Some(r.encode(buf, 10)),
        _ => None,
    }
}

/// Encodes a request at a version the codec cannot write (what a client sends), for
/// tests; `None` for everything else.
#[cfg(test)]
pub(super) fn encode_default_request(
    key: ApiKey,
    version: i16,
    buf: &mut BytesMut,
) -> Option<Result<()>> {
    Some(match (key, version) {
        (ApiKey::ListOffsets, 11) => ListOffsetsRequest::default().encode(buf, 10),
        (ApiKey::OffsetCommit, 10) => {
            encode_offset_commit_v10(&OffsetCommitRequest::default(), buf)
        }
        (ApiKey::OffsetFetch, 10) => encode_offset_fetch_v10(&OffsetFetchRequest::default(), buf),
        (ApiKey::DescribeShareGroupOffsets, 1) => {
            codec::DescribeShareGroupOffsetsRequest::default().encode(buf, 0)
        }
        _ => return None,
    })
}

// ---- OffsetCommit v10 ----------------------------------------------------------------

/// OffsetCommit v10: v9 (flexible) with each topic's `Name` replaced by `TopicId`.
pub fn decode_offset_commit_v10<B: ByteBuf>(buf: &mut B) -> Result<OffsetCommitRequest> {
    let mut r = OffsetCommitRequest::default();
    r.group_id = read_string(buf)?;
    r.generation_id_or_member_epoch = read_i32(buf)?;
    r.member_id = read_string(buf)?;
    r.group_instance_id = read_string(buf)?;
    let n = array_len(buf, "OffsetCommit topics")?;
    let mut topics = Vec::with_capacity(n.min(buf.remaining()));
    for _ in 0..n {
        let mut t = OffsetCommitRequestTopic::default();
        t.topic_id = read_uuid(buf)?;
        // The partitions of v10 are those of v9.
        let n = array_len(buf, "OffsetCommit partitions")?;
        let mut partitions = Vec::with_capacity(n.min(buf.remaining()));
        for _ in 0..n {
            partitions.push(OffsetCommitRequestPartition::decode(buf, 9)?);
        }
        t.partitions = partitions;
        t.unknown_tagged_fields = read_tagged_fields(buf)?;
        topics.push(t);
    }
    r.topics = topics;
    r.unknown_tagged_fields = read_tagged_fields(buf)?;
    Ok(r)
}

/// The client side of [`decode_offset_commit_v10`].
pub fn encode_offset_commit_v10<B: ByteBufMut>(r: &OffsetCommitRequest, buf: &mut B) -> Result<()> {
    write_string(buf, Some(r.group_id.as_str()))?;
    buf.put_i32(r.generation_id_or_member_epoch);
    write_string(buf, Some(r.member_id.as_str()))?;
    write_string(buf, r.group_instance_id.as_deref())?;
    write_len(buf, Some(r.topics.len()))?;
    for t in &r.topics {
        buf.put_slice(t.topic_id.as_bytes());
        write_len(buf, Some(t.partitions.len()))?;
        for p in &t.partitions {
            p.encode(buf, 9)?;
        }
        write_tagged_fields(buf, &t.unknown_tagged_fields)?;
    }
    write_tagged_fields(buf, &r.unknown_tagged_fields)
}

// ---- OffsetFetch v10 -----------------------------------------------------------------

/// OffsetFetch v10: v9 with each group's topic `Name` replaced by `TopicId`.
pub fn decode_offset_fetch_v10<B: ByteBuf>(buf: &mut B) -> Result<OffsetFetchRequest> {
    let mut r = OffsetFetchRequest::default();
    let n = array_len(buf, "OffsetFetch groups")?;
    let mut groups = Vec::with_capacity(n.min(buf.remaining()));
    for _ in 0..n {
        let mut g = OffsetFetchRequestGroup::default();
        g.group_id = read_string(buf)?;
        g.member_id = read_string(buf)?;
        g.member_epoch = read_i32(buf)?;
        g.topics = match nullable_array_len(buf)? {
            None => None,
            Some(n) => {
                let mut topics = Vec::with_capacity(n.min(buf.remaining()));
                for _ in 0..n {
                    let mut t = OffsetFetchRequestTopics::default();
                    t.topic_id = read_uuid(buf)?;
                    t.partition_indexes = read_i32_array(buf)?;
                    t.unknown_tagged_fields = read_tagged_fields(buf)?;
                    topics.push(t);
                }
                Some(topics)
            }
        };
        g.unknown_tagged_fields = read_tagged_fields(buf)?;
        groups.push(g);
    }
    r.groups = groups;
    r.require_stable = read_bool(buf)?;
    r.unknown_tagged_fields = read_tagged_fields(buf)?;
    Ok(r)
}

/// The client side of [`decode_offset_fetch_v10`].
pub fn encode_offset_fetch_v10<B: ByteBufMut>(r: &OffsetFetchRequest, buf: &mut B) -> Result<()> {
    write_len(buf, Some(r.groups.len()))?;
    for g in &r.groups {
        write_string(buf, Some(g.group_id.as_str()))?;
        write_string(buf, g.member_id.as_deref())?;
        buf.put_i32(g.member_epoch);
        match &g.topics {
            None => write_len(buf, None)?,
            Some(topics) => {
                write_len(buf, Some(topics.len()))?;
                for t in topics {
                    buf.put_slice(t.topic_id.as_bytes());
                    write_len(buf, Some(t.partition_indexes.len()))?;
                    for p in &t.partition_indexes {
                        buf.put_i32(*p);
                    }
                    write_tagged_fields(buf, &t.unknown_tagged_fields)?;
                }
            }
        }
        write_tagged_fields(buf, &g.unknown_tagged_fields)?;
    }
    buf.put_u8(r.require_stable as u8);
    write_tagged_fields(buf, &r.unknown_tagged_fields)
}

// ---- ShareFetch v1-2 -----------------------------------------------------------------

/// ShareFetch request v1-2: the codec's v1 request and v2's two fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShareFetchRequest {
    pub request: codec::ShareFetchRequest,
    /// v2+ (KIP-1206): 0 batch-optimized, 1 record-limit.
    pub share_acquire_mode: i8,
    /// v2+ (KIP-1222): the acknowledgement batches carry Renew (4) types.
    pub is_renew_ack: bool,
}

/// Bytes before v2's inserted fields: GroupId, MemberId, then six int32s up to BatchSize.
fn share_fetch_prefix(group_id: Option<&str>, member_id: Option<&str>) -> Result<usize> {
    Ok(string_size(group_id) + string_size(member_id) + 6 * 4)
}

impl Decodable for ShareFetchRequest {
    fn decode<B: ByteBuf>(buf: &mut B, version: i16) -> Result<Self> {
        match version {
            1 => Ok(ShareFetchRequest {
                request: codec::ShareFetchRequest::decode(buf, 1)?,
                ..Default::default()
            }),
            2 => {
                let (v1, inserted) = remove_inserted(buf, 2, |b| {
                    let group_id: Option<StrBytes> = read_string(b)?;
                    let member_id: Option<StrBytes> = read_string(b)?;
                    share_fetch_prefix(group_id.as_deref(), member_id.as_deref())
                })?;
                Ok(ShareFetchRequest {
                    request: codec::ShareFetchRequest::decode(&mut v1.clone(), 1)?,
                    share_acquire_mode: inserted[0] as i8,
                    is_renew_ack: decode_bool(inserted[1])?,
                })
            }
            v => bail!("ShareFetchRequest v{v} is not supported"),
        }
    }
}

impl Encodable for ShareFetchRequest {
    fn encode<B: ByteBufMut>(&self, buf: &mut B, version: i16) -> Result<()> {
        let r = &self.request;
        let prefix = share_fetch_prefix(
            r.group_id.as_ref().map(|g| g.as_str()),
            r.member_id.as_deref(),
        )?;
        let inserted = [self.share_acquire_mode as u8, self.is_renew_ack as u8];
        encode_with_inserted(&self.request, buf, version, 2, prefix, &inserted)
    }
    fn compute_size(&self, version: i16) -> Result<usize> {
        Ok(self.request.compute_size(1)? + if version >= 2 { 2 } else { 0 })
    }
}

/// ShareFetch response v1-2 (v2 is v1 on the wire).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShareFetchResponse {
    pub response: codec::ShareFetchResponse,
}

impl Decodable for ShareFetchResponse {
    fn decode<B: ByteBuf>(buf: &mut B, version: i16) -> Result<Self> {
        check_version("ShareFetchResponse", version, SHARE_FETCH_MAX)?;
        Ok(ShareFetchResponse {
            response: codec::ShareFetchResponse::decode(buf, 1)?,
        })
    }
}

impl Encodable for ShareFetchResponse {
    fn encode<B: ByteBufMut>(&self, buf: &mut B, version: i16) -> Result<()> {
        check_version("ShareFetchResponse", version, SHARE_FETCH_MAX)?;
        self.response.encode(buf, 1)
    }
    fn compute_size(&self, _version: i16) -> Result<usize> {
        self.response.compute_size(1)
    }
}

// ---- ShareAcknowledge v1-2 -----------------------------------------------------------

/// ShareAcknowledge request v1-2: the codec's v1 request and v2's `IsRenewAck`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShareAcknowledgeRequest {
    pub request: codec::ShareAcknowledgeRequest,
    /// v2+ (KIP-1222): the acknowledgement batches carry Renew (4) types.
    pub is_renew_ack: bool,
}

/// Bytes before v2's `IsRenewAck`: GroupId, MemberId, ShareSessionEpoch.
fn share_acknowledge_prefix(group_id: Option<&str>, member_id: Option<&str>) -> Result<usize> {
    Ok(string_size(group_id) + string_size(member_id) + 4)
}

impl Decodable for ShareAcknowledgeRequest {
    fn decode<B: ByteBuf>(buf: &mut B, version: i16) -> Result<Self> {
        match version {
            1 => Ok(ShareAcknowledgeRequest {
                request: codec::ShareAcknowledgeRequest::decode(buf, 1)?,
                ..Default::default()
            }),
            2 => {
                let (v1, inserted) = remove_inserted(buf, 1, |b| {
                    let group_id: Option<StrBytes> = read_string(b)?;
                    let member_id: Option<StrBytes> = read_string(b)?;
                    share_acknowledge_prefix(group_id.as_deref(), member_id.as_deref())
                })?;
                Ok(ShareAcknowledgeRequest {
                    request: codec::ShareAcknowledgeRequest::decode(&mut v1.clone(), 1)?,
                    is_renew_ack: decode_bool(inserted[0])?,
                })
            }
            v => bail!("ShareAcknowledgeRequest v{v} is not supported"),
        }
    }
}

impl Encodable for ShareAcknowledgeRequest {
    fn encode<B: ByteBufMut>(&self, buf: &mut B, version: i16) -> Result<()> {
        let r = &self.request;
        let prefix = share_acknowledge_prefix(
            r.group_id.as_ref().map(|g| g.as_str()),
            r.member_id.as_deref(),
        )?;
        encode_with_inserted(
            &self.request,
            buf,
            version,
            2,
            prefix,
            &[self.is_renew_ack as u8],
        )
    }
    fn compute_size(&self, version: i16) -> Result<usize> {
        Ok(self.request.compute_size(1)? + if version >= 2 { 1 } else { 0 })
    }
}

/// ShareAcknowledge response v1-2: the codec's v1 response and v2's
/// `AcquisitionLockTimeoutMs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShareAcknowledgeResponse {
    pub response: codec::ShareAcknowledgeResponse,
    /// v2+ (KIP-1222): how long records whose locks a Renew extended stay acquired.
    pub acquisition_lock_timeout_ms: i32,
}

/// Bytes before v2's `AcquisitionLockTimeoutMs`: ThrottleTimeMs, ErrorCode, ErrorMessage.
fn share_acknowledge_response_prefix(error_message: Option<&str>) -> Result<usize> {
    Ok(4 + 2 + string_size(error_message))
}

impl Decodable for ShareAcknowledgeResponse {
    fn decode<B: ByteBuf>(buf: &mut B, version: i16) -> Result<Self> {
        match version {
            1 => Ok(ShareAcknowledgeResponse {
                response: codec::ShareAcknowledgeResponse::decode(buf, 1)?,
                ..Default::default()
            }),
            2 => {
                let (v1, inserted) = remove_inserted(buf, 4, |b| {
                    b.try_get_bytes(6)?;
                    let message: Option<StrBytes> = read_string(b)?;
                    share_acknowledge_response_prefix(message.as_deref())
                })?;
                Ok(ShareAcknowledgeResponse {
                    response: codec::ShareAcknowledgeResponse::decode(&mut v1.clone(), 1)?,
                    acquisition_lock_timeout_ms: i32::from_be_bytes([
                        inserted[0],
                        inserted[1],
                        inserted[2],
                        inserted[3],
                    ]),
                })
            }
            v => bail!("ShareAcknowledgeResponse v{v} is not supported"),
        }
    }
}

impl Encodable for ShareAcknowledgeResponse {
    fn encode<B: ByteBufMut>(&self, buf: &mut B, version: i16) -> Result<()> {
        let prefix = share_acknowledge_response_prefix(self.response.error_message.as_deref())?;
        let inserted = self.acquisition_lock_timeout_ms.to_be_bytes();
        encode_with_inserted(&self.response, buf, version, 2, prefix, &inserted)
    }
    fn compute_size(&self, version: i16) -> Result<usize> {
        Ok(self.response.compute_size(1)? + if version >= 2 { 4 } else { 0 })
    }
}

// ---- DescribeShareGroupOffsets v1 -------------------------------------------------------

/// DescribeShareGroupOffsets response v0-1: the codec's v0 response and v1's per-partition
/// `Lag` (KIP-1226), an int64 after `LeaderEpoch`. The request is unchanged from v0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DescribeShareGroupOffsetsResponse {
    pub response: codec::DescribeShareGroupOffsetsResponse,
    /// Each partition's lag by (group, topic id, partition); a partition without one is
    /// answered with -1, Kafka's "uninitialized lag".
    pub lags: BTreeMap<(String, uuid::Uuid, i32), i64>,
}

impl DescribeShareGroupOffsetsResponse {
    fn lag(&self, group: &str, topic_id: uuid::Uuid, partition: i32) -> i64 {
        let key = (group.to_string(), topic_id, partition);
        self.lags.get(&key).copied().unwrap_or(-1)
    }
}

impl Decodable for DescribeShareGroupOffsetsResponse {
    fn decode<B: ByteBuf>(buf: &mut B, version: i16) -> Result<Self> {
        use codec::describe_share_group_offsets_response as m;
        if version == 0 {
            return Ok(DescribeShareGroupOffsetsResponse {
                response: codec::DescribeShareGroupOffsetsResponse::decode(buf, 0)?,
                ..Default::default()
            });
        }
        check_version(
            "DescribeShareGroupOffsetsResponse",
            version,
            DESCRIBE_SHARE_GROUP_OFFSETS_MAX,
        )?;
        let mut out = DescribeShareGroupOffsetsResponse::default();
        out.response.throttle_time_ms = read_i32(buf)?;
        for _ in 0..array_len(buf, "groups")? {
            let mut g = m::DescribeShareGroupOffsetsResponseGroup::default();
            g.group_id = read_string(buf)?;
            for _ in 0..array_len(buf, "topics")? {
                let mut t = m::DescribeShareGroupOffsetsResponseTopic::default();
                t.topic_name = read_string(buf)?;
                t.topic_id = read_uuid(buf)?;
                for _ in 0..array_len(buf, "partitions")? {
                    let mut p = m::DescribeShareGroupOffsetsResponsePartition::default();
                    p.partition_index = read_i32(buf)?;
                    p.start_offset = read_i64(buf)?;
                    p.leader_epoch = read_i32(buf)?;
                    let lag = read_i64(buf)?;
                    p.error_code = read_i16(buf)?;
                    p.error_message = read_string(buf)?;
                    p.unknown_tagged_fields = read_tagged_fields(buf)?;
                    let key = (g.group_id.to_string(), t.topic_id, p.partition_index);
                    out.lags.insert(key, lag);
                    t.partitions.push(p);
                }
                t.unknown_tagged_fields = read_tagged_fields(buf)?;
                g.topics.push(t);
            }
            g.error_code = read_i16(buf)?;
            g.error_message = read_string(buf)?;
            g.unknown_tagged_fields = read_tagged_fields(buf)?;
            out.response.groups.push(g);
        }
        out.response.unknown_tagged_fields = read_tagged_fields(buf)?;
        Ok(out)
    }
}

impl Encodable for DescribeShareGroupOffsetsResponse {
    fn encode<B: ByteBufMut>(&self, buf: &mut B, version: i16) -> Result<()> {
        if version == 0 {
            return self.response.encode(buf, 0);
        }
        check_version(
            "DescribeShareGroupOffsetsResponse",
            version,
            DESCRIBE_SHARE_GROUP_OFFSETS_MAX,
        )?;
        let r = &self.response;
        buf.put_i32(r.throttle_time_ms);
        write_len(buf, Some(r.groups.len()))?;
        for g in &r.groups {
            write_string(buf, Some(&g.group_id))?;
            write_len(buf, Some(g.topics.len()))?;
            for t in &g.topics {
                write_string(buf, Some(&t.topic_name))?;
                buf.put_slice(t.topic_id.as_bytes());
                write_len(buf, Some(t.partitions.len()))?;
                for p in &t.partitions {
                    buf.put_i32(p.partition_index);
                    buf.put_i64(p.start_offset);
                    buf.put_i32(p.leader_epoch);
                    buf.put_i64(self.lag(&g.group_id, t.topic_id, p.partition_index));
                    buf.put_i16(p.error_code);
                    write_string(buf, p.error_message.as_deref())?;
                    write_tagged_fields(buf, &p.unknown_tagged_fields)?;
                }
                write_tagged_fields(buf, &t.unknown_tagged_fields)?;
            }
            buf.put_i16(g.error_code);
            write_string(buf, g.error_message.as_deref())?;
            write_tagged_fields(buf, &g.unknown_tagged_fields)?;
        }
        write_tagged_fields(buf, &r.unknown_tagged_fields)
    }
    fn compute_size(&self, version: i16) -> Result<usize> {
        let mut buf = BytesMut::new();
        self.encode(&mut buf, version)?;
        Ok(buf.len())
    }
}

// ---- shared pieces -------------------------------------------------------------------

fn check_version(what: &str, version: i16, max: i16) -> Result<()> {
    if !(1..=max).contains(&version) {
        bail!("{what} v{version} is not supported");
    }
    Ok(())
}

/// Writes `message` at v1, or at `v2` with `inserted` placed after the first `prefix`
/// bytes of its v1 encoding (where the v2 definition adds its fields).
fn encode_with_inserted<M: Encodable, B: ByteBufMut>(
    message: &M,
    buf: &mut B,
    version: i16,
    v2: i16,
    prefix: usize,
    inserted: &[u8],
) -> Result<()> {
    match version {
        1 => message.encode(buf, 1),
        v if v == v2 => {
            let mut v1 = BytesMut::new();
            message.encode(&mut v1, 1)?;
            buf.put_slice(&v1[..prefix]);
            buf.put_slice(inserted);
            buf.put_slice(&v1[prefix..]);
            Ok(())
        }
        v => bail!("v{v} is not supported"),
    }
}

/// Splits a v2 body into its v1 equivalent and the `len` bytes v2 inserted after the
/// prefix that `prefix_len` measures (reading from a copy of the body).
fn remove_inserted<B: ByteBuf>(
    buf: &mut B,
    len: usize,
    prefix_len: impl FnOnce(&mut Bytes) -> Result<usize>,
) -> Result<(Bytes, Bytes)> {
    let body = buf.try_get_bytes(buf.remaining())?;
    let prefix = prefix_len(&mut body.clone())?;
    if body.len() < prefix + len {
        bail!("request too short: {} bytes", body.len());
    }
    let mut v1 = BytesMut::with_capacity(body.len() - len);
    v1.put_slice(&body[..prefix]);
    v1.put_slice(&body[prefix + len..]);
    Ok((v1.freeze(), body.slice(prefix..prefix + len)))
}

fn decode_bool(b: u8) -> Result<bool> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        other => bail!("invalid boolean {other}"),
    }
}

/// A compact array's length; null is refused (the arrays read here are not nullable).
fn array_len<B: ByteBuf>(buf: &mut B, what: &str) -> Result<usize> {
    match nullable_array_len(buf)? {
        Some(n) => Ok(n),
        None => bail!("{what} is null"),
    }
}

fn nullable_array_len<B: ByteBuf>(buf: &mut B) -> Result<Option<usize>> {
    Ok(read_uvarint(buf)?.checked_sub(1).map(|n| n as usize))
}

// The codec keeps its primitive readers and writers to itself; these are the compact
// (flexible-version) forms of the few this module needs.

fn read_uvarint<B: ByteBuf>(buf: &mut B) -> Result<u32> {
    let mut value = 0u32;
    for i in 0..5 {
        if !buf.has_remaining() {
            bail!("truncated varint");
        }
        let b = buf.get_u8();
        value |= ((b & 0x7f) as u32) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("varint longer than 5 bytes")
}

fn write_uvarint<B: ByteBufMut>(buf: &mut B, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn uvarint_size(mut value: u32) -> usize {
    let mut n = 1;
    while value >= 0x80 {
        value >>= 7;
        n += 1;
    }
    n
}

fn read_i32<B: ByteBuf>(buf: &mut B) -> Result<i32> {
    if buf.remaining() < 4 {
        bail!("truncated int32");
    }
    Ok(buf.get_i32())
}

fn read_i16<B: ByteBuf>(buf: &mut B) -> Result<i16> {
    if buf.remaining() < 2 {
        bail!("truncated int16");
    }
    Ok(buf.get_i16())
}

fn read_i64<B: ByteBuf>(buf: &mut B) -> Result<i64> {
    if buf.remaining() < 8 {
        bail!("truncated int64");
    }
    Ok(buf.get_i64())
}

fn read_bool<B: ByteBuf>(buf: &mut B) -> Result<bool> {
    if !buf.has_remaining() {
        bail!("truncated boolean");
    }
    decode_bool(buf.get_u8())
}

fn read_uuid<B: ByteBuf>(buf: &mut B) -> Result<uuid::Uuid> {
    let bytes = buf.try_get_bytes(16)?;
    Ok(uuid::Uuid::from_slice(&bytes)?)
}

/// A compact nullable string; `T` is `StrBytes`, a codec newtype of it, or an `Option`.
fn read_string<B: ByteBuf, T: FromCompactString>(buf: &mut B) -> Result<T> {
    let s = match read_uvarint(buf)?.checked_sub(1) {
        None => None,
        Some(len) => {
            let bytes = buf.try_get_bytes(len as usize)?;
            Some(StrBytes::from_utf8(bytes)?)
        }
    };
    T::from_compact(s)
}

trait FromCompactString: Sized {
    fn from_compact(s: Option<StrBytes>) -> Result<Self>;
}

impl FromCompactString for Option<StrBytes> {
    fn from_compact(s: Option<StrBytes>) -> Result<Self> {
        Ok(s)
    }
}

impl FromCompactString for StrBytes {
    fn from_compact(s: Option<StrBytes>) -> Result<Self> {
        s.ok_or_else(|| anyhow::anyhow!("non-nullable string is null"))
    }
}

impl FromCompactString for codec::TopicName {
    fn from_compact(s: Option<StrBytes>) -> Result<Self> {
        StrBytes::from_compact(s).map(codec::TopicName)
    }
}

impl FromCompactString for codec::GroupId {
    fn from_compact(s: Option<StrBytes>) -> Result<Self> {
        StrBytes::from_compact(s).map(codec::GroupId)
    }
}

fn read_i32_array<B: ByteBuf>(buf: &mut B) -> Result<Vec<i32>> {
    let n = array_len(buf, "int32 array")?;
    if buf.remaining() < n.saturating_mul(4) {
        bail!("truncated int32 array");
    }
    Ok((0..n).map(|_| buf.get_i32()).collect())
}

fn string_size(s: Option<&str>) -> usize {
    match s {
        None => 1,
        Some(s) => uvarint_size(s.len() as u32 + 1) + s.len(),
    }
}

fn write_string<B: ByteBufMut>(buf: &mut B, s: Option<&str>) -> Result<()> {
    match s {
        None => write_uvarint(buf, 0),
        Some(s) => {
            let len = u32::try_from(s.len())?
                .checked_add(1)
                .ok_or_else(|| anyhow::anyhow!("string too long"))?;
            write_uvarint(buf, len);
            buf.put_slice(s.as_bytes());
        }
    }
    Ok(())
}

fn write_len<B: ByteBufMut>(buf: &mut B, len: Option<usize>) -> Result<()> {
    match len {
        None => write_uvarint(buf, 0),
        Some(n) => write_uvarint(
            buf,
            u32::try_from(n)?
                .checked_add(1)
                .ok_or_else(|| anyhow::anyhow!("array too long"))?,
        ),
    }
    Ok(())
}

fn read_tagged_fields<B: ByteBuf>(buf: &mut B) -> Result<BTreeMap<i32, Bytes>> {
    let n = read_uvarint(buf)?;
    let mut fields = BTreeMap::new();
    for _ in 0..n {
        let tag = read_uvarint(buf)?;
        let size = read_uvarint(buf)?;
        fields.insert(tag as i32, buf.try_get_bytes(size as usize)?);
    }
    Ok(fields)
}

fn write_tagged_fields<B: ByteBufMut>(buf: &mut B, fields: &BTreeMap<i32, Bytes>) -> Result<()> {
    write_uvarint(buf, u32::try_from(fields.len())?);
    for (tag, value) in fields {
        write_uvarint(buf, *tag as u32);
        write_uvarint(buf, u32::try_from(value.len())?);
        buf.put_slice(value);
    }
    Ok(())
}

#[cfg(test)]
#[path = "codec_4_2_tests.rs"]
mod tests;
