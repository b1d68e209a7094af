"""A small hand-written Kafka wire-protocol encoder/decoder (pure Python, ``struct`` only).

Written for Sluice's bad-input tests: it encodes exactly the requests those tests send (and lets
them break any field on purpose) and decodes the responses they read.  It is deliberately not a
client library: no retries, no metadata cache, one socket, every operation under a timeout.

Covered
    primitives      int8/16/32/64, uint32, (compact/nullable) string and bytes, arrays,
                    unsigned varint, zig-zag varint/varlong, uuid, empty tagged fields
    request header  v0/v1 (non-flexible) and v2 (flexible: tagged fields after client_id)
    requests        ApiVersions v0/v3, Metadata v1/v12, Produce v7/v9, Fetch v11/v12/v13,
                    ListOffsets v5, CreateTopics v5
    responses       the same (response header v0, or v1 for flexible versions except ApiVersions)
    records         v2 record batch encoder (CRC-32C, Castagnoli, computed with a table here) with
                    overridable length/crc/count/magic; v1 legacy message (magic 1) encoder;
                    v2 record batch decoder (headers + uncompressed records)

Field layouts follow Kafka's clients/src/main/resources/common/message/*.json schemas.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid as _uuid
import zlib
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------
# API keys and error codes used by the tests
# --------------------------------------------------------------------------------------------

PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2
METADATA = 3
API_VERSIONS = 18
CREATE_TOPICS = 19

ERRORS = {
    0: "NONE",
    1: "OFFSET_OUT_OF_RANGE",
    2: "CORRUPT_MESSAGE",
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    10: "MESSAGE_TOO_LARGE",
    17: "INVALID_TOPIC_EXCEPTION",
    35: "UNSUPPORTED_VERSION",
    36: "TOPIC_ALREADY_EXISTS",
    37: "INVALID_PARTITIONS",
    38: "INVALID_REPLICATION_FACTOR",
    42: "INVALID_REQUEST",
    43: "UNSUPPORTED_FOR_MESSAGE_FORMAT",
    87: "INVALID_RECORD",
    100: "UNKNOWN_TOPIC_ID",
}

NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REQUEST = 42
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
INVALID_RECORD = 87
UNKNOWN_TOPIC_ID = 100


def error_name(code: int) -> str:
    return f"{ERRORS.get(code, 'UNKNOWN')}({code})"


ZERO_UUID = b"\x00" * 16

# --------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table driven
# --------------------------------------------------------------------------------------------


def _make_crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of ``data`` (the checksum of Kafka v2 record batches). crc32c(b"123456789") == 0xE3069283."""
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --------------------------------------------------------------------------------------------
# Encoding primitives
# --------------------------------------------------------------------------------------------


def i8(v: int) -> bytes:
    return struct.pack(">b", v)


def i16(v: int) -> bytes:
    return struct.pack(">h", v)


def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def boolean(v: bool) -> bytes:
    return b"\x01" if v else b"\x00"


def uvarint(v: int) -> bytes:
    if v < 0:
        raise ValueError("uvarint of a negative number")
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v: int) -> bytes:
    """Zig-zag signed varint (int32 range)."""
    return uvarint(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)


def varlong(v: int) -> bytes:
    """Zig-zag signed varlong (int64 range)."""
    return uvarint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)


def _b(s) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def string(s) -> bytes:
    """STRING / NULLABLE_STRING: int16 length (-1 = null) + UTF-8 bytes."""
    if s is None:
        return i16(-1)
    b = _b(s)
    return i16(len(b)) + b


def compact_string(s) -> bytes:
    """COMPACT_STRING / COMPACT_NULLABLE_STRING: uvarint(length + 1) (0 = null) + bytes."""
    if s is None:
        return uvarint(0)
    b = _b(s)
    return uvarint(len(b) + 1) + b


def nbytes(b) -> bytes:
    """BYTES / NULLABLE_BYTES / RECORDS (non-flexible): int32 length (-1 = null) + bytes."""
    if b is None:
        return i32(-1)
    return i32(len(b)) + bytes(b)


def compact_bytes(b) -> bytes:
    if b is None:
        return uvarint(0)
    return uvarint(len(b) + 1) + bytes(b)


def array(items, enc=lambda x: x) -> bytes:
    """ARRAY: int32 count (-1 = null) + elements (``enc`` maps an item to bytes)."""
    if items is None:
        return i32(-1)
    items = list(items)
    return i32(len(items)) + b"".join(enc(x) for x in items)


def compact_array(items, enc=lambda x: x) -> bytes:
    if items is None:
        return uvarint(0)
    items = list(items)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def uuid_bytes(u) -> bytes:
    if u is None:
        return ZERO_UUID
    if isinstance(u, _uuid.UUID):
        return u.bytes
    if isinstance(u, (bytes, bytearray)) and len(u) == 16:
        return bytes(u)
    return _uuid.UUID(str(u)).bytes


TAGS = uvarint(0)  # an empty tagged-field section


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


class DecodeError(ValueError):
    pass


class Reader:
    """Sequential reader over a response body; raises DecodeError when it runs past the end."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data = bytes(data)
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(f"need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt: str, n: int):
        return struct.unpack(fmt, self._take(n))[0]

    def i8(self) -> int:
        return self._unpack(">b", 1)

    def i16(self) -> int:
        return self._unpack(">h", 2)

    def i32(self) -> int:
        return self._unpack(">i", 4)

    def i64(self) -> int:
        return self._unpack(">q", 8)

    def u32(self) -> int:
        return self._unpack(">I", 4)

    def boolean(self) -> bool:
        return self._take(1) != b"\x00"

    def uvarint(self) -> int:
        shift = 0
        result = 0
        while True:
            if shift > 63:
                raise DecodeError("varint too long")
            b = self._take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def varint(self) -> int:
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    varlong = varint

    def uuid(self) -> bytes:
        return self._take(16)

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        return self._take(n).decode("utf-8")

    def compact_string(self):
        n = self.uvarint()
        if n == 0:
            return None
        return self._take(n - 1).decode("utf-8")

    def nbytes(self):
        n = self.i32()
        if n < 0:
            return None
        return self._take(n)

    def compact_bytes(self):
        n = self.uvarint()
        if n == 0:
            return None
        return self._take(n - 1)

    def array(self, dec):
        n = self.i32()
        if n < 0:
            return None
        return [dec(self) for _ in range(n)]

    def compact_array(self, dec):
        n = self.uvarint()
        if n == 0:
            return None
        return [dec(self) for _ in range(n - 1)]

    def tagged_fields(self) -> dict:
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            size = self.uvarint()
            out[tag] = self._take(size)
        return out


# --------------------------------------------------------------------------------------------
# Request framing
# --------------------------------------------------------------------------------------------

# First flexible version of each API we use (header v2 from there on; response header v1 except
# ApiVersions, whose response header is always v0).
FIRST_FLEXIBLE = {
    PRODUCE: 9,
    FETCH: 12,
    LIST_OFFSETS: 6,
    METADATA: 9,
    API_VERSIONS: 3,
    CREATE_TOPICS: 5,
}


def is_flexible(api_key: int, api_version: int) -> bool:
    first = FIRST_FLEXIBLE.get(api_key)
    return first is not None and api_version >= first


def request_header(api_key: int, api_version: int, correlation_id: int, client_id="sluice-bad-input",
                   flexible: bool | None = None) -> bytes:
    """Request header v1 (api_key, api_version, correlation_id, nullable client_id) or, for a
    flexible version, v2 (the same plus an empty tagged-field section)."""
    if flexible is None:
        flexible = is_flexible(api_key, api_version)
    h = i16(api_key) + i16(api_version) + i32(correlation_id) + string(client_id)
    if flexible:
        h += TAGS
    return h


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its int32 size."""
    return i32(len(payload)) + payload


def request(api_key: int, api_version: int, correlation_id: int, body: bytes, client_id="sluice-bad-input",
            flexible: bool | None = None) -> bytes:
    """A complete size-prefixed request."""
    return frame(request_header(api_key, api_version, correlation_id, client_id, flexible) + body)


# --------------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------------


def api_versions_body(version: int, software_name="sluice-bad-input", software_version="1.0") -> bytes:
    if version < 3:
        return b""
    return compact_string(software_name) + compact_string(software_version) + TAGS


def metadata_body(version: int, topics=None, allow_auto_create: bool = True) -> bytes:
    """Metadata v1 (array of names; None = all topics) or v12 (compact; topic_id + name)."""
    if version == 1:
        return array(topics, string)
    if version == 12:
        enc = lambda t: uuid_bytes(None) + compact_string(t) + TAGS  # noqa: E731
        return compact_array(topics, enc) + boolean(allow_auto_create) + boolean(False) + TAGS
    raise ValueError(f"Metadata v{version} not implemented here")


def produce_body(version: int, topics: dict, acks: int = -1, timeout_ms: int = 5000, transactional_id=None) -> bytes:
    """Produce v7 or v9. ``topics``: {name: {partition: records_bytes}}."""
    if version == 7:
        def part(p):
            idx, recs = p
            return i32(idx) + nbytes(recs)

        def topic(t):
            name, parts = t
            return string(name) + array(parts.items(), part)

        return string(transactional_id) + i16(acks) + i32(timeout_ms) + array(topics.items(), topic)
    if version == 9:
        def cpart(p):
            idx, recs = p
            return i32(idx) + compact_bytes(recs) + TAGS

        def ctopic(t):
            name, parts = t
            return compact_string(name) + compact_array(parts.items(), cpart) + TAGS

        return (compact_string(transactional_id) + i16(acks) + i32(timeout_ms)
                + compact_array(topics.items(), ctopic) + TAGS)
    raise ValueError(f"Produce v{version} not implemented here")


def fetch_body(version: int, topics: dict, max_wait_ms: int = 0, min_bytes: int = 1, max_bytes: int = 1 << 20,
               partition_max_bytes: int = 1 << 20, isolation_level: int = 0) -> bytes:
    """Fetch v11 / v12 (topics by name) or v13 (``topics`` keyed by 16-byte topic id).
    ``topics``: {name_or_id: {partition: fetch_offset}}. Sessionless (session 0, epoch -1)."""
    head = i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(isolation_level) + i32(0) + i32(-1)
    if version == 11:
        def part(p):
            idx, off = p
            return i32(idx) + i32(-1) + i64(off) + i64(-1) + i32(partition_max_bytes)

        def topic(t):
            name, parts = t
            return string(name) + array(parts.items(), part)

        return head + array(topics.items(), topic) + array([]) + string("")
    if version in (12, 13):
        def cpart(p):
            idx, off = p
            # partition, current_leader_epoch, fetch_offset, last_fetched_epoch, log_start_offset, max_bytes
            return i32(idx) + i32(-1) + i64(off) + i32(-1) + i64(-1) + i32(partition_max_bytes) + TAGS

        def ctopic(t):
            key, parts = t
            ident = compact_string(key) if version == 12 else uuid_bytes(key)
            return ident + compact_array(parts.items(), cpart) + TAGS

        return head + compact_array(topics.items(), ctopic) + compact_array([]) + compact_string("") + TAGS
    raise ValueError(f"Fetch v{version} not implemented here")


LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2


def list_offsets_body(topics: dict, isolation_level: int = 0) -> bytes:
    """ListOffsets v5. ``topics``: {name: {partition: timestamp}} (-1 latest, -2 earliest)."""
    def part(p):
        idx, ts = p
        return i32(idx) + i32(-1) + i64(ts)

    def topic(t):
        name, parts = t
        return string(name) + array(parts.items(), part)

    return i32(-1) + i8(isolation_level) + array(topics.items(), topic)


def create_topics_body(topics, timeout_ms: int = 10000, validate_only: bool = False) -> bytes:
    """CreateTopics v5. ``topics``: list of (name, num_partitions, replication_factor[, {config: value}])."""
    def topic(t):
        name, nparts, rf = t[0], t[1], t[2]
        configs = t[3] if len(t) > 3 else {}
        cfg = compact_array(configs.items(), lambda kv: compact_string(kv[0]) + compact_string(kv[1]) + TAGS)
        return compact_string(name) + i32(nparts) + i16(rf) + compact_array([]) + cfg + TAGS

    return compact_array(topics, topic) + i32(timeout_ms) + boolean(validate_only) + TAGS


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def encode_record(offset_delta: int, key, value, timestamp_delta: int = 0, headers=()) -> bytes:
    body = i8(0) + varlong(timestamp_delta) + varint(offset_delta)
    for blob in (key, value):
        if blob is None:
            body += varint(-1)
        else:
            blob = _b(blob)
            body += varint(len(blob)) + blob
    body += varint(len(headers))
    for hk, hv in headers:
        hk = _b(hk)
        body += varint(len(hk)) + hk
        if hv is None:
            body += varint(-1)
        else:
            hv = _b(hv)
            body += varint(len(hv)) + hv
    return varint(len(body)) + body


def record_batch(records, base_offset: int = 0, base_timestamp: int | None = None, attributes: int = 0,
                 producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1,
                 partition_leader_epoch: int = -1, magic: int = 2, crc: int | None = None,
                 batch_length: int | None = None, records_count: int | None = None,
                 last_offset_delta: int | None = None, records_bytes: bytes | None = None) -> bytes:
    """A v2 record batch of ``records`` ((key, value) pairs), uncompressed.

    Every header field can be overridden to build a broken batch: ``crc`` (default: the correct
    CRC-32C of attributes..end), ``batch_length`` (default: size - 12), ``records_count``,
    ``last_offset_delta``, ``magic``; ``records_bytes`` replaces the encoded records."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    records = list(records)
    if records_bytes is None:
        records_bytes = b"".join(encode_record(i, k, v) for i, (k, v) in enumerate(records))
    if records_count is None:
        records_count = len(records)
    if last_offset_delta is None:
        last_offset_delta = max(len(records) - 1, 0)
    after_crc = (i16(attributes) + i32(last_offset_delta) + i64(base_timestamp) + i64(base_timestamp)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence) + i32(records_count)
                 + records_bytes)
    if crc is None:
        crc = crc32c(after_crc)
    after_length = i32(partition_leader_epoch) + i8(magic) + u32(crc) + after_crc
    if batch_length is None:
        batch_length = len(after_length)
    return i64(base_offset) + i32(batch_length) + after_length


def legacy_message_v1(key, value, offset: int = 0, timestamp: int | None = None, attributes: int = 0) -> bytes:
    """One magic-1 message in a message set: offset, size, crc (zlib CRC-32 of magic..end), magic,
    attributes, timestamp, key, value."""
    if timestamp is None:
        timestamp = int(time.time() * 1000)
    body = i8(1) + i8(attributes) + i64(timestamp) + nbytes(None if key is None else _b(key)) \
        + nbytes(None if value is None else _b(value))
    msg = u32(zlib.crc32(body) & 0xFFFFFFFF) + body
    return i64(offset) + i32(len(msg)) + msg


@dataclass
class Record:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list


@dataclass
class Batch:
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int
    records: list = field(default_factory=list)
    crc_ok: bool = True

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta


def decode_batches(data: bytes | None) -> list[Batch]:
    """Decode the v2 record batches in a records blob (a trailing partial batch is ignored, as
    Kafka clients do). Records are decoded only for uncompressed batches."""
    out = []
    if not data:
        return out
    pos = 0
    while pos + 12 <= len(data):
        base_offset, batch_length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + batch_length
        if batch_length < 49 or end > len(data):
            break
        (ple, magic, crc, attrs, lod, bts, mts, pid, pep, bseq, cnt) = struct.unpack_from(
            ">ibIhiqqqhii", data, pos + 12)
        b = Batch(base_offset, batch_length, ple, magic, crc, attrs, lod, bts, mts, pid, pep, bseq, cnt)
        b.crc_ok = crc32c(data[pos + 21 : end]) == crc
        if attrs & 0x07 == 0 and magic == 2:
            r = Reader(data[pos + 61 : end])
            for _ in range(cnt):
                r.varint()  # length
                r.i8()  # attributes
                ts_delta = r.varlong()
                off_delta = r.varint()
                kl = r.varint()
                key = r._take(kl) if kl >= 0 else None
                vl = r.varint()
                value = r._take(vl) if vl >= 0 else None
                headers = []
                for _ in range(r.varint()):
                    hk = r._take(r.varint())
                    hl = r.varint()
                    headers.append((hk, r._take(hl) if hl >= 0 else None))
                b.records.append(Record(base_offset + off_delta, bts + ts_delta, key, value, headers))
        out.append(b)
        pos = end
    return out


# --------------------------------------------------------------------------------------------
# Response decoders (input: the response frame without its size prefix)
# --------------------------------------------------------------------------------------------


def response_correlation_id(payload: bytes) -> int:
    return struct.unpack_from(">i", payload, 0)[0]


def _resp_reader(payload: bytes, flexible_header: bool) -> tuple[int, Reader]:
    r = Reader(payload)
    corr = r.i32()
    if flexible_header:
        r.tagged_fields()
    return corr, r


def decode_api_versions(payload: bytes, version: int) -> dict:
    """ApiVersions response v0..v3 (its response header is always v0)."""
    corr, r = _resp_reader(payload, False)
    out = {"correlation_id": corr, "error_code": r.i16()}
    if version >= 3:
        keys = r.compact_array(lambda r: (r.i16(), r.i16(), r.i16(), r.tagged_fields())[:3])
    else:
        keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    out["api_keys"] = {k: (lo, hi) for k, lo, hi in (keys or [])}
    out["api_keys_list"] = keys or []
    if version >= 1:
        out["throttle_time_ms"] = r.i32()
    if version >= 3:
        out["tagged_fields"] = r.tagged_fields()
    out["trailing_bytes"] = r.remaining()
    return out


def decode_metadata(payload: bytes, version: int) -> dict:
    if version == 1:
        corr, r = _resp_reader(payload, False)
        brokers = r.array(lambda r: {"node_id": r.i32(), "host": r.string(), "port": r.i32(), "rack": r.string()})
        controller = r.i32()

        def part(r):
            return {"error_code": r.i16(), "partition_index": r.i32(), "leader_id": r.i32(),
                    "replica_nodes": r.array(lambda r: r.i32()), "isr_nodes": r.array(lambda r: r.i32())}

        def topic(r):
            return {"error_code": r.i16(), "name": r.string(), "is_internal": r.boolean(),
                    "partitions": r.array(part)}

        topics = r.array(topic)
        return {"correlation_id": corr, "brokers": brokers, "controller_id": controller, "topics": topics,
                "trailing_bytes": r.remaining()}
    if version == 12:
        corr, r = _resp_reader(payload, True)
        throttle = r.i32()

        def broker(r):
            d = {"node_id": r.i32(), "host": r.compact_string(), "port": r.i32(), "rack": r.compact_string()}
            r.tagged_fields()
            return d

        brokers = r.compact_array(broker)
        cluster_id = r.compact_string()
        controller = r.i32()

        def part(r):
            d = {"error_code": r.i16(), "partition_index": r.i32(), "leader_id": r.i32(), "leader_epoch": r.i32(),
                 "replica_nodes": r.compact_array(lambda r: r.i32()),
                 "isr_nodes": r.compact_array(lambda r: r.i32()),
                 "offline_replicas": r.compact_array(lambda r: r.i32())}
            r.tagged_fields()
            return d

        def topic(r):
            d = {"error_code": r.i16(), "name": r.compact_string(), "topic_id": r.uuid(),
                 "is_internal": r.boolean(), "partitions": r.compact_array(part),
                 "topic_authorized_operations": r.i32()}
            r.tagged_fields()
            return d

        topics = r.compact_array(topic)
        r.tagged_fields()
        return {"correlation_id": corr, "throttle_time_ms": throttle, "brokers": brokers, "cluster_id": cluster_id,
                "controller_id": controller, "topics": topics, "trailing_bytes": r.remaining()}
    raise ValueError(f"Metadata v{version} not implemented here")


def decode_produce(payload: bytes, version: int) -> dict:
    """Produce response v7 or v9 -> {"topics": {name: {partition: {...}}}, ...}."""
    if version == 7:
        corr, r = _resp_reader(payload, False)

        def part(r):
            return {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64(),
                    "log_append_time_ms": r.i64(), "log_start_offset": r.i64()}

        topics = r.array(lambda r: (r.string(), r.array(part)))
        throttle = r.i32()
    elif version == 9:
        corr, r = _resp_reader(payload, True)

        def rec_err(r):
            d = {"batch_index": r.i32(), "message": r.compact_string()}
            r.tagged_fields()
            return d

        def cpart(r):
            d = {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64(),
                 "log_append_time_ms": r.i64(), "log_start_offset": r.i64(),
                 "record_errors": r.compact_array(rec_err), "error_message": r.compact_string()}
            r.tagged_fields()
            return d

        def ctopic(r):
            t = (r.compact_string(), r.compact_array(cpart))
            r.tagged_fields()
            return t

        topics = r.compact_array(ctopic)
        throttle = r.i32()
        r.tagged_fields()
    else:
        raise ValueError(f"Produce v{version} not implemented here")
    return {"correlation_id": corr, "throttle_time_ms": throttle,
            "topics": {name: {p["index"]: p for p in parts} for name, parts in (topics or [])},
            "trailing_bytes": r.remaining()}


def decode_fetch(payload: bytes, version: int) -> dict:
    """Fetch response v11/v12 (topics by name) or v13 (by 16-byte topic id).
    -> {"error_code", "session_id", "topics": {name_or_id: {partition: {...}}}}"""
    flexible = version >= 12
    corr, r = _resp_reader(payload, flexible)
    out = {"correlation_id": corr, "throttle_time_ms": r.i32(), "error_code": r.i16(), "session_id": r.i32()}
    arr = r.compact_array if flexible else r.array
    string_ = r.compact_string if flexible else r.string
    records_ = r.compact_bytes if flexible else r.nbytes

    def aborted(r):
        d = {"producer_id": r.i64(), "first_offset": r.i64()}
        if flexible:
            r.tagged_fields()
        return d

    def part(r):
        d = {"partition_index": r.i32(), "error_code": r.i16(), "high_watermark": r.i64(),
             "last_stable_offset": r.i64(), "log_start_offset": r.i64(), "aborted_transactions": arr(aborted),
             "preferred_read_replica": r.i32(), "records": records_()}
        if flexible:
            d["tagged_fields"] = r.tagged_fields()
        return d

    def topic(r):
        key = r.uuid() if version >= 13 else string_()
        parts = arr(part)
        if flexible:
            r.tagged_fields()
        return key, {p["partition_index"]: p for p in (parts or [])}

    out["topics"] = dict(arr(topic) or [])
    if flexible:
        r.tagged_fields()
    out["trailing_bytes"] = r.remaining()
    return out


def decode_list_offsets(payload: bytes, version: int = 5) -> dict:
    if version != 5:
        raise ValueError(f"ListOffsets v{version} not implemented here")
    corr, r = _resp_reader(payload, False)
    throttle = r.i32()

    def part(r):
        return {"partition_index": r.i32(), "error_code": r.i16(), "timestamp": r.i64(), "offset": r.i64(),
                "leader_epoch": r.i32()}

    topics = r.array(lambda r: (r.string(), r.array(part)))
    return {"correlation_id": corr, "throttle_time_ms": throttle,
            "topics": {n: {p["partition_index"]: p for p in ps} for n, ps in (topics or [])},
            "trailing_bytes": r.remaining()}


def decode_create_topics(payload: bytes, version: int = 5) -> dict:
    if version != 5:
        raise ValueError(f"CreateTopics v{version} not implemented here")
    corr, r = _resp_reader(payload, True)
    throttle = r.i32()

    def cfg(r):
        d = {"name": r.compact_string(), "value": r.compact_string(), "read_only": r.boolean(),
             "config_source": r.i8(), "is_sensitive": r.boolean()}
        r.tagged_fields()
        return d

    def topic(r):
        d = {"name": r.compact_string(), "error_code": r.i16(), "error_message": r.compact_string(),
             "num_partitions": r.i32(), "replication_factor": r.i16(), "configs": r.compact_array(cfg)}
        d["tagged_fields"] = r.tagged_fields()
        return d

    topics = r.compact_array(topic) or []
    r.tagged_fields()
    return {"correlation_id": corr, "throttle_time_ms": throttle, "topics_list": topics,
            "topics": {t["name"]: t for t in topics}, "trailing_bytes": r.remaining()}


DECODERS = {
    API_VERSIONS: decode_api_versions,
    METADATA: decode_metadata,
    PRODUCE: decode_produce,
    FETCH: decode_fetch,
    LIST_OFFSETS: decode_list_offsets,
    CREATE_TOPICS: decode_create_topics,
}

# --------------------------------------------------------------------------------------------
# A minimal connection (every operation bounded by a timeout)
# --------------------------------------------------------------------------------------------

DEFAULT_TIMEOUT = 5.0


class ConnectionClosed(Exception):
    """The peer closed the connection (EOF or reset) while we expected data."""


class KafkaConn:
    """One TCP connection speaking raw Kafka frames. Not thread-safe."""

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT, client_id="sluice-bad-input",
                 source_address: tuple[str, int] | None = None):
        """``source_address`` (host, port) binds the local end first, e.g. ("127.0.0.2", 0) to
        connect from another loopback address (Linux routes all of 127/8 to loopback)."""
        self.sock = socket.create_connection((host, port), timeout=timeout, source_address=source_address)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.client_id = client_id
        self._next_corr = 1
        self._buf = b""

    @classmethod
    def to(cls, bootstrap: str, **kw) -> "KafkaConn":
        host, port = bootstrap.rsplit(":", 1)
        return cls(host, int(port), **kw)

    def next_correlation_id(self) -> int:
        c = self._next_corr
        self._next_corr += 1
        return c

    # -- raw I/O ---------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"timed out waiting for {n} bytes (have {len(self._buf)})")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self._buf)))
            except ConnectionResetError as e:
                raise ConnectionClosed(f"connection reset: {e}") from e
            if not chunk:
                raise ConnectionClosed(f"EOF after {len(self._buf)} of {n} bytes")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def recv_frame(self, timeout: float | None = None) -> bytes:
        """The next response payload (without its size prefix)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        (size,) = struct.unpack(">i", self._recv_exact(4, deadline))
        if size < 4 or size > 256 * 1024 * 1024:
            raise DecodeError(f"implausible response size {size}")
        return self._recv_exact(size, deadline)

    def wait_closed(self, timeout: float | None = None) -> str:
        """Wait until the peer closes the connection; returns 'eof' or 'reset'.

        Raises AssertionError if data arrives instead, or if the connection is still open when the
        timeout expires."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        if self._buf:
            raise AssertionError(f"expected the connection to be closed, but {len(self._buf)} bytes are buffered")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open (no EOF/reset) after the timeout")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return "reset"
            except socket.timeout:
                raise AssertionError(
                    f"connection still open (no EOF/reset) {timeout or self.timeout}s after the bad input"
                ) from None
            if not chunk:
                return "eof"
            raise AssertionError(f"expected the connection to be closed, got {len(chunk)} bytes: {chunk[:64]!r}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "KafkaConn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------
    def encode(self, api_key: int, api_version: int, body: bytes, correlation_id: int | None = None) -> tuple[int, bytes]:
        corr = self.next_correlation_id() if correlation_id is None else correlation_id
        return corr, request(api_key, api_version, corr, body, client_id=self.client_id)

    def call(self, api_key: int, api_version: int, body: bytes, timeout: float | None = None) -> dict:
        """Send one request, read one response, check its correlation id, decode it."""
        corr, data = self.encode(api_key, api_version, body)
        self.send_raw(data)
        payload = self.recv_frame(timeout)
        got = response_correlation_id(payload)
        if got != corr:
            raise AssertionError(f"response correlation id {got}, expected {corr}")
        return DECODERS[api_key](payload, api_version)

    def api_versions(self, version: int = 3) -> dict:
        return self.call(API_VERSIONS, version, api_versions_body(version))

    def metadata(self, topics=None, version: int = 12, allow_auto_create: bool = True) -> dict:
        return self.call(METADATA, version, metadata_body(version, topics, allow_auto_create))

    def produce(self, topic: str, partition: int, records: bytes, version: int = 7, acks: int = -1,
                timeout_ms: int = 5000) -> dict:
        """Returns the partition's response dict (plus "_response": the whole response)."""
        resp = self.call(PRODUCE, version, produce_body(version, {topic: {partition: records}}, acks, timeout_ms))
        p = resp["topics"][topic][partition]
        p["_response"] = resp
        return p

    def fetch(self, topic, partition: int, offset: int, version: int = 12, max_wait_ms: int = 0,
              timeout: float | None = None) -> dict:
        """Returns the partition's response dict (plus "_response")."""
        resp = self.call(FETCH, version, fetch_body(version, {topic: {partition: offset}}, max_wait_ms=max_wait_ms),
                         timeout=timeout)
        key = uuid_bytes(topic) if version >= 13 else topic
        p = resp["topics"][key][partition]
        p["_response"] = resp
        return p

    def list_offsets(self, topic: str, partition: int, timestamp: int = LATEST_TIMESTAMP) -> dict:
        resp = self.call(LIST_OFFSETS, 5, list_offsets_body({topic: {partition: timestamp}}))
        return resp["topics"][topic][partition]

    def create_topics(self, topics, timeout_ms: int = 10000, validate_only: bool = False) -> dict:
        return self.call(CREATE_TOPICS, 5, create_topics_body(topics, timeout_ms, validate_only))
