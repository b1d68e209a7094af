"""Raw share-group requests for tests that need what no installed client sends: ShareFetch v2
(KIP-1206's ``ShareAcquireMode``, KIP-1222's ``IsRenewAck``) and ShareAcknowledge v2 (RENEW and
``AcquisitionLockTimeoutMs``), plus ShareGroupHeartbeat v1 to become a member and
DescribeShareGroupOffsets v0-1 (KIP-1226's lag), and the group configs a share group
reads. librdkafka 2.16's
ShareConsumer stops at ShareFetch/ShareAcknowledge v1 and kafka-python 3.x has no share messages.

Field layouts follow Kafka 4.2's ShareGroupHeartbeat/ShareFetch/ShareAcknowledge JSON
definitions; every body and header is flexible. Built on kafka_wire's primitives, one connection
per call, each under kafka_wire's timeouts.
"""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

import kafka_wire as kw

SHARE_GROUP_HEARTBEAT, SHARE_FETCH, SHARE_ACKNOWLEDGE = 76, 78, 79
DESCRIBE_SHARE_GROUP_OFFSETS = 90
BATCH_OPTIMIZED, RECORD_LIMIT = 0, 1
ACCEPT, RELEASE, REJECT, RENEW = 1, 2, 3, 4


def set_group_configs(bootstrap: str, group: str, configs: dict) -> None:
    """IncrementalAlterConfigs on the GROUP resource (e.g. share.auto.offset.reset), with
    kafka-python's admin client: librdkafka's does not alter group configs."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        res = ConfigResource(ConfigResourceType.GROUP, group, configs=configs)
        admin.alter_configs([res], incremental=True, raise_on_unknown=False)
    finally:
        admin.close()


def call(bootstrap: str, key: int, version: int, body: bytes) -> kw.Reader:
    c = kw.KafkaConn.to(bootstrap)
    try:
        c.send_raw(kw.request(key, version, c.next_correlation_id(), body, flexible=True))
        r = kw.Reader(c.recv_frame())
    finally:
        c.close()
    r.i32()  # correlation id
    r.tagged_fields()
    return r


def heartbeat(bootstrap: str, group: str, member: str, epoch: int, topics=None) -> tuple[int, int]:
    """ShareGroupHeartbeat v1 -> (error code, member epoch)."""
    names = None if topics is None else list(topics)
    body = (kw.compact_string(group) + kw.compact_string(member) + kw.i32(epoch) + kw.compact_string(None)
            + (kw.uvarint(0) if names is None else kw.compact_array(names, kw.compact_string)) + kw.TAGS)
    r = call(bootstrap, SHARE_GROUP_HEARTBEAT, 1, body)
    r.i32()
    err = r.i16()
    r.compact_string()
    r.compact_string()
    return err, r.i32()


def _acks(batches) -> bytes:
    def enc(b):
        first, last, types = b
        return kw.i64(first) + kw.i64(last) + kw.compact_array(types, kw.i8) + kw.TAGS
    return kw.compact_array(batches, enc)


def share_fetch(bootstrap: str, group: str, member: str, epoch: int, topic_id, acks=(), *,
                max_wait_ms=500, min_bytes=1, max_bytes=1 << 20, max_records=500, batch_size=500,
                acquire_mode=BATCH_OPTIMIZED, renew=False, version=2) -> dict:
    """ShareFetch of partition 0 -> {error, lock_ms, partition: {error, ack_error, acquired}}."""
    part = kw.i32(0) + _acks(list(acks)) + kw.TAGS
    topic = kw.uuid_bytes(topic_id) + kw.compact_array([part]) + kw.TAGS
    body = (kw.compact_string(group) + kw.compact_string(member) + kw.i32(epoch) + kw.i32(max_wait_ms)
            + kw.i32(min_bytes) + kw.i32(max_bytes) + kw.i32(max_records) + kw.i32(batch_size))
    if version >= 2:
        body += kw.i8(acquire_mode) + kw.boolean(renew)
    body += kw.compact_array([topic]) + kw.uvarint(1) + kw.TAGS
    r = call(bootstrap, SHARE_FETCH, version, body)
    r.i32()
    out = {"error": r.i16(), "message": r.compact_string(), "lock_ms": r.i32(), "partition": None}

    def partition(r):
        p = {"index": r.i32(), "error": r.i16()}
        r.compact_string()
        p["ack_error"] = r.i16()
        r.compact_string()
        r.i32(), r.i32(), r.tagged_fields()
        r.compact_bytes()
        p["acquired"] = r.compact_array(lambda r: (r.i64(), r.i64(), r.i16(), r.tagged_fields())[:3])
        r.tagged_fields()
        return p

    for _tid, parts, _ in r.compact_array(lambda r: (r.uuid(), r.compact_array(partition), r.tagged_fields())):
        out["partition"] = parts[0]
    return out


def share_acknowledge(bootstrap: str, group: str, member: str, epoch: int, topic_id, acks, *,
                      renew=False, version=2) -> dict:
    """ShareAcknowledge of partition 0 -> {error, lock_ms (v2), partition_error}."""
    part = kw.i32(0) + _acks(list(acks)) + kw.TAGS
    topic = kw.uuid_bytes(topic_id) + kw.compact_array([part]) + kw.TAGS
    body = kw.compact_string(group) + kw.compact_string(member) + kw.i32(epoch)
    if version >= 2:
        body += kw.boolean(renew)
    body += kw.compact_array([topic]) + kw.TAGS
    r = call(bootstrap, SHARE_ACKNOWLEDGE, version, body)
    r.i32()
    out = {"error": r.i16(), "message": r.compact_string(), "lock_ms": r.i32() if version >= 2 else None}

    def partition(r):
        index, err = r.i32(), r.i16()
        r.compact_string()
        r.i32(), r.i32(), r.tagged_fields()
        r.tagged_fields()
        return err

    errors = [e for _t, parts, _ in r.compact_array(lambda r: (r.uuid(), r.compact_array(partition), r.tagged_fields()))
              for e in parts]
    out["partition_error"] = errors[0] if errors else None
    return out


def describe_offsets(bootstrap: str, group: str, version: int, topic: str | None = None) -> dict:
    """{(topic, partition): (start_offset, lag or None)} and the group's error code."""
    topics = None if topic is None else [kw.compact_string(topic) + kw.compact_array([kw.i32(0)]) + b"\x00"]
    body = kw.compact_array([kw.compact_string(group) + kw.compact_array(topics) + b"\x00"]) + b"\x00"
    conn = kw.KafkaConn.to(bootstrap)
    try:
        corr = conn.next_correlation_id()
        conn.send_raw(kw.request(DESCRIBE_SHARE_GROUP_OFFSETS, version, corr, body, flexible=True))
        r = kw.Reader(conn.recv_frame())
    finally:
        conn.close()
    assert r.i32() == corr
    r.tagged_fields()
    r.i32()  # throttle

    def partition(r):
        index, start, _epoch = r.i32(), r.i64(), r.i32()
        lag = r.i64() if version >= 1 else None
        error, _message = r.i16(), r.compact_string()
        r.tagged_fields()
        return index, start, lag, error

    def topic_(r):
        name = r.compact_string()
        r.uuid()
        parts = r.compact_array(partition)
        r.tagged_fields()
        return name, parts

    def group_(r):
        r.compact_string()
        topics = r.compact_array(topic_)
        error = r.i16()
        r.compact_string()
        r.tagged_fields()
        return topics, error

    (topics, error), = r.compact_array(group_)
    r.tagged_fields()
    assert r.remaining() == 0, "trailing bytes in the answer"
    out = {}
    for name, parts in topics or []:
        for index, start, lag, perr in parts:
            assert perr == 0, (name, index, perr)
            out[(name, index)] = (start, lag)
    return {"error": error, "partitions": out}
