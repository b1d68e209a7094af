"""Kafka 4.2's newest versions of the keys Sluice serves: OffsetCommit v10 and OffsetFetch v10
(topics named by id, KIP-848), ListOffsets v11 (KIP-1023's -6), Produce v13 and Fetch v18, and
the ApiVersions answer against Kafka 4.2's table.

The requests are encoded and the answers decoded by kafka-python 3.x's message classes, which are
generated from Kafka 4.2's JSON message definitions (its ``kafka/protocol/schemas/resources``), so
the hand-written v10/v11 codecs in src/api/codec_4_2.rs meet an independent implementation of
the same definitions. kafka-python's own table of the ranges a Kafka 4.2 broker advertises
(``broker_version_data``) is the independent check of docs/kafka-4.2-api-keys.md.
No client here sends OffsetCommit/OffsetFetch v10 or ListOffsets v11 on its own (librdkafka 2.16
and kafka-python stop below them; the Java client 3.9 too), hence the raw requests; librdkafka's
consumer is run to show what it negotiates against the new ranges and that it still works.
"""

from __future__ import annotations

import re
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.protocol.broker_version_data import BROKER_API_VERSIONS
from kafka.protocol.consumer import (
    ListOffsetsRequest,
    ListOffsetsResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)

from harness import REPO_ROOT
from kafka_wire import KafkaConn

NONE = 0
UNSUPPORTED_VERSION = 35
UNKNOWN_TOPIC_ID = 100


def name(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def raw(conn: KafkaConn, request, response_class, version: int):
    corr = conn.next_correlation_id()
    request.with_header(correlation_id=corr, client_id="sluice-4-2")
    conn.send_raw(request.encode(version=version, header=True, framed=True))
    answer = response_class.decode(conn.recv_frame(), version=version, header=True)
    assert answer.header.correlation_id == corr
    return answer


def table() -> dict[int, tuple[int, int]]:
    """docs/kafka-4.2-api-keys.md's table: key -> (min, max)."""
    text = (REPO_ROOT / "docs" / "kafka-4.2-api-keys.md").read_text()
    body = text.split("<!-- table -->")[1]
    rows = {}
    for line in body.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|\s*\w+\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", line)
        if m:
            rows[int(m[1])] = (int(m[2]), int(m[3]))
    return rows


def create_topic(broker, topic: str, partitions: int) -> uuid.UUID:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
        page = admin.describe_topic_partitions([topic])
        (t,) = page["topics"]
        return uuid.UUID(str(t["topic_id"]))
    finally:
        admin.close()


def test_table_matches_kafka_4_2_and_sluice_serves_its_maxima(broker):
    ours = table()
    kafka_4_2 = BROKER_API_VERSIONS[(4, 2)]
    # The table's ranges are Kafka 4.2's for every key both list (kafka-python's table has the
    # client-facing keys a 4.2 broker advertises by default, 88/89 and the share keys gated by
    # features included; not the telemetry keys 71/72, advertised only with a telemetry-capable
    # metrics reporter).
    for key, want in ours.items():
        if key in kafka_4_2:
            assert kafka_4_2[key] == want, (key, kafka_4_2[key], want)
    assert set(kafka_4_2) <= set(ours), set(kafka_4_2) - set(ours)
    with KafkaConn.to(broker.bootstrap) as c:
        keys = c.api_versions(3)["api_keys"]
    for key in (0, 1, 2, 8, 9, 60, 66):
        assert keys[key][1] == ours[key][1], (key, keys[key], ours[key])


def test_kafka_python_reads_kafka_4_2(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        assert admin._client.check_version()[:2] == (4, 2)
    finally:
        admin.close()


def commit_v10(conn, group: str, topic_id: uuid.UUID, offsets: dict[int, int]):
    T = OffsetCommitRequest.OffsetCommitRequestTopic
    P = T.OffsetCommitRequestPartition
    request = OffsetCommitRequest(
        group_id=group, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
        topics=[T(topic_id=topic_id, partitions=[
            P(partition_index=p, committed_offset=o, committed_leader_epoch=-1, committed_metadata=f"m{o}")
            for p, o in offsets.items()])])
    r = raw(conn, request, OffsetCommitResponse, 10)
    return [(t.topic_id, [(p.partition_index, p.error_code) for p in t.partitions]) for t in r.topics]


def fetch_v10(conn, group: str, topics):
    G = OffsetFetchRequest.OffsetFetchRequestGroup
    GT = G.OffsetFetchRequestTopics
    request = OffsetFetchRequest(
        groups=[G(group_id=group, member_id=None, member_epoch=-1,
                  topics=None if topics is None else [GT(topic_id=i, partition_indexes=ps) for i, ps in topics])],
        require_stable=False)
    r = raw(conn, request, OffsetFetchResponse, 10)
    (g,) = r.groups
    assert g.error_code == NONE
    return {t.topic_id: [(p.partition_index, p.committed_offset, p.metadata, p.error_code) for p in t.partitions]
            for t in g.topics}


def test_offset_commit_and_fetch_v10_name_topics_by_id(broker):
    topic, group = name("v10"), name("g")
    topic_id = create_topic(broker, topic, 2)
    unknown = uuid.uuid4()
    with KafkaConn.to(broker.bootstrap) as c:
        assert commit_v10(c, group, topic_id, {0: 5, 1: 7}) == [(topic_id, [(0, NONE), (1, NONE)])]
        assert commit_v10(c, group, unknown, {0: 1}) == [(unknown, [(0, UNKNOWN_TOPIC_ID)])]
        # By id, with an unknown id beside it.
        got = fetch_v10(c, group, [(topic_id, [0, 1]), (unknown, [3])])
        assert got[topic_id] == [(0, 5, "m5", NONE), (1, 7, "m7", NONE)]
        assert got[unknown] == [(3, -1, "", UNKNOWN_TOPIC_ID)]
        # Every committed topic, named by its id.
        assert fetch_v10(c, group, None) == {topic_id: [(0, 5, "m5", NONE), (1, 7, "m7", NONE)]}
        # The same commits, asked for by name at v9.
        G = OffsetFetchRequest.OffsetFetchRequestGroup
        request = OffsetFetchRequest(
            groups=[G(group_id=group, member_id=None, member_epoch=-1,
                      topics=[G.OffsetFetchRequestTopics(name=topic, partition_indexes=[0, 1])])],
            require_stable=False)
        r = raw(c, request, OffsetFetchResponse, 9)
        assert [(p.partition_index, p.committed_offset) for p in r.groups[0].topics[0].partitions] == [(0, 5), (1, 7)]


def list_offsets(conn, topic: str, timestamp: int, version: int):
    T = ListOffsetsRequest.ListOffsetsTopic
    P = T.ListOffsetsPartition
    request = ListOffsetsRequest(
        replica_id=-1, isolation_level=0, timeout_ms=1000,
        topics=[T(name=topic, partitions=[P(partition_index=0, current_leader_epoch=-1, timestamp=timestamp)])])
    r = raw(conn, request, ListOffsetsResponse, version)
    (p,) = r.topics[0].partitions
    return p.error_code, p.offset


def test_list_offsets_v11_earliest_pending_upload(broker):
    topic = name("lo")
    create_topic(broker, topic, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(3):
        p.produce(topic, value=b"x%d" % i)
    assert p.flush(30) == 0
    with KafkaConn.to(broker.bootstrap) as c:
        assert list_offsets(c, topic, -1, 11) == (NONE, 3)
        assert list_offsets(c, topic, -2, 11) == (NONE, 0)
        # Nothing is tiered and nothing waits for upload without remote storage: -1, as
        # Kafka answers for a topic without remote storage.
        assert list_offsets(c, topic, -5, 11) == (NONE, -1)
        assert list_offsets(c, topic, -6, 11) == (NONE, -1)
        # -6 is new in v11, -5 in v9: older versions do not know them.
        assert list_offsets(c, topic, -6, 10) == (UNSUPPORTED_VERSION, -1)
        assert list_offsets(c, topic, -5, 8) == (UNSUPPORTED_VERSION, -1)
        assert list_offsets(c, topic, -7, 11) == (UNSUPPORTED_VERSION, -1)


def test_librdkafka_consumer_against_the_4_2_ranges(broker):
    """confluent-kafka 2.16.1 produces, consumes, commits and resumes; its protocol debug log
    shows the versions it picks from the new ranges (recorded, and each within them)."""
    topic, group = name("rk"), name("rkg")
    create_topic(broker, topic, 1)
    lines: list[str] = []

    class Log:
        def log(self, level, fmt, *args):
            lines.append(fmt % args if args else fmt)

    common = {"bootstrap.servers": broker.bootstrap, "debug": "protocol", "logger": Log()}
    p = Producer(common)
    for i in range(10):
        p.produce(topic, value=b"v%d" % i)
    assert p.flush(30) == 0

    def consume(n: int) -> list[bytes]:
        c = Consumer({**common, "group.id": group, "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        c.subscribe([topic])
        got = []
        try:
            for _ in range(300):
                m = c.poll(0.2)
                if m is None or m.error():
                    continue
                got.append(m.value())
                if len(got) == n:
                    c.commit(asynchronous=False)
                    break
        finally:
            c.close()
        return got

    assert consume(4) == [b"v%d" % i for i in range(4)]
    assert consume(6) == [b"v%d" % i for i in range(4, 10)]
    sent = {}
    for line in lines:
        m = re.search(r"Sent (\w+)Request \(v(\d+)", line)
        if m:
            sent.setdefault(m[1], set()).add(int(m[2]))
    print("librdkafka 2.16.1 sent:", {k: sorted(v) for k, v in sorted(sent.items())})
    ours = table()
    keys = {"Produce": 0, "Fetch": 1, "ListOffsets": 2, "OffsetCommit": 8, "OffsetFetch": 9}
    for api, key in keys.items():
        assert api in sent, (api, sorted(sent))
        assert max(sent[api]) <= ours[key][1]


def test_produce_v13_and_fetch_v18_by_topic_id(broker):
    """Produce v13 (Kafka 4.1: topics by id) and Fetch v18 (Kafka 4.1: the follower's high
    watermark, a tagged field a consumer leaves out); an unknown id answers UNKNOWN_TOPIC_ID."""
    from kafka.protocol.consumer import FetchRequest, FetchResponse
    from kafka.protocol.producer import ProduceRequest, ProduceResponse

    from kafka_wire import decode_batches, record_batch

    topic = name("p13")
    topic_id = create_topic(broker, topic, 1)
    unknown = uuid.uuid4()
    T = ProduceRequest.TopicProduceData
    P = T.PartitionProduceData
    batch = record_batch([(b"k1", b"v1"), (b"k2", b"v2")])
    request = ProduceRequest(
        transactional_id=None, acks=-1, timeout_ms=10000,
        topic_data=[T(topic_id=topic_id, partition_data=[P(index=0, records=batch)]),
                    T(topic_id=unknown, partition_data=[P(index=0, records=batch)])])
    with KafkaConn.to(broker.bootstrap) as c:
        r = raw(c, request, ProduceResponse, 13)
        got = {t.topic_id: [(p.index, p.error_code, p.base_offset) for p in t.partition_responses] for t in r.responses}
        assert got == {topic_id: [(0, NONE, 0)], unknown: [(0, UNKNOWN_TOPIC_ID, -1)]}

        FT = FetchRequest.FetchTopic
        FP = FT.FetchPartition
        request = FetchRequest(
            replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20, isolation_level=0,
            session_id=0, session_epoch=-1,
            topics=[FT(topic_id=topic_id, partitions=[FP(partition=0, current_leader_epoch=-1, fetch_offset=0,
                                                         last_fetched_epoch=-1, log_start_offset=-1,
                                                         partition_max_bytes=1 << 20)])],
            forgotten_topics_data=[], rack_id="")
        r = raw(c, request, FetchResponse, 18)
        (t,) = r.responses
        assert t.topic_id == topic_id
        (p,) = t.partitions
        assert (p.error_code, p.high_watermark) == (NONE, 2)
        records = [rec for b in decode_batches(bytes(p.records)) for rec in b.records]
        assert [(r.offset, r.key, r.value) for r in records] == [(0, b"k1", b"v1"), (1, b"k2", b"v2")]
