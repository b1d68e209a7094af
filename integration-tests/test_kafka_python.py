"""kafka-python 3.x (pure Python) against the real broker.

Consumers run without a group (``group_id=None``) and ``assign()`` partitions; producers disable
idempotence (kafka-python 3.x turns it on by default). kafka-python's own log (the ``kafka``
logger, DEBUG) is attached to the report of a failing test.
"""

from __future__ import annotations

import logging
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from harness import partition_batches

CODECS = [None, "gzip", "snappy", "lz4", "zstd"]
ACKS = [0, 1, "all"]
CODEC_IDS = {None: "none", "gzip": "gzip", "snappy": "snappy", "lz4": "lz4", "zstd": "zstd"}
TIMEOUTS = dict(request_timeout_ms=15000)


@pytest.fixture(autouse=True)
def _kafka_log(client_log):
    log = logging.getLogger("kafka")
    log.setLevel(logging.DEBUG)
    log.addHandler(client_log.handler)
    yield
    log.removeHandler(client_log.handler)


def value_of(tag: str, i: int) -> bytes:
    return f"{tag}-{i:06d}-".encode() + b"abcdefgh" * 16


def admin(broker) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, **TIMEOUTS)


def create_topic(broker, name, partitions=1):
    a = admin(broker)
    try:
        a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)], timeout_ms=15000)
    finally:
        a.close()


def producer(broker, **kw) -> KafkaProducer:
    conf = dict(bootstrap_servers=broker.bootstrap, enable_idempotence=False, linger_ms=5, **TIMEOUTS)
    conf.update(kw)
    return KafkaProducer(**conf)


def send_all(p: KafkaProducer, topic, values, partition=0, timestamps=None, keys=None, headers=None):
    futs = []
    for i, v in enumerate(values):
        futs.append(p.send(topic, value=v, partition=partition,
                           key=keys[i] if keys else None,
                           headers=headers[i] if headers else None,
                           timestamp_ms=timestamps[i] if timestamps else None))
    p.flush(timeout=30)
    return [f.get(timeout=30) for f in futs]


def consumer(broker, **kw) -> KafkaConsumer:
    conf = dict(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                auto_offset_reset="none", **TIMEOUTS)
    conf.update(kw)
    return KafkaConsumer(**conf)


def consume(broker, topic, partitions, start="earliest", timeout=30):
    """Read each partition from ``start`` ('earliest' or offset or {partition: offset}) to its end offset."""
    c = consumer(broker)
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        c.assign(tps)
        if start == "earliest":
            c.seek_to_beginning(*tps)
        else:
            for tp in tps:
                c.seek(tp, start[tp.partition] if isinstance(start, dict) else start)
        end = c.end_offsets(tps)
        recs = []
        deadline = time.monotonic() + timeout
        while any(c.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, (
                f"timed out reading {topic}: positions {[c.position(tp) for tp in tps]}, end offsets {end}")
            for _tp, batch in c.poll(timeout_ms=200).items():
                recs.extend(batch)
        # Nothing beyond the end offset must arrive.
        extra = c.poll(timeout_ms=300)
        assert not any(extra.values()), f"records beyond the end offset: {extra}"
        return recs
    finally:
        c.close()


# -- 1. admin + metadata ----------------------------------------------------------------------


def test_create_topic_and_metadata(broker):
    a = admin(broker)
    try:
        a.create_topics([NewTopic("kp-orders", num_partitions=3, replication_factor=1)], timeout_ms=15000)
        with pytest.raises(TopicAlreadyExistsError):
            a.create_topics([NewTopic("kp-orders", num_partitions=3, replication_factor=1)], timeout_ms=15000)

        cluster = a.describe_cluster()
        brokers = [(b["broker_id"], b["host"], b["port"]) for b in cluster["brokers"]]
        assert brokers == [(1, "127.0.0.1", broker.port)], cluster
        assert cluster["controller_id"] == 1, cluster

        [t] = a.describe_topics(["kp-orders"])
        assert t["error_code"] == 0, t
        parts = sorted(t["partitions"], key=lambda p: p["partition_index"])
        assert [p["partition_index"] for p in parts] == [0, 1, 2]
        for p in parts:
            assert p["error_code"] == 0 and p["leader_id"] == 1, p
            assert list(p["replica_nodes"]) == [1] and list(p["isr_nodes"]) == [1], p
        assert "kp-orders" in a.list_topics()
    finally:
        a.close()

    c = consumer(broker)
    try:
        assert c.partitions_for_topic("kp-orders") == {0, 1, 2}
    finally:
        c.close()


def test_describe_configs(broker):
    create_topic(broker, "kp-conf")
    a = admin(broker)
    try:
        res = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-conf")], config_filter="all")
        topic_cfg = res["topic"]["kp-conf"]
        for key in ("retention.ms", "segment.bytes", "cleanup.policy"):
            assert key in topic_cfg, f"topic DescribeConfigs lacks {key}: {sorted(topic_cfg)[:40]}"
        res = a.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")], config_filter="all")
        broker_cfg = res["broker"]["1"]
        assert "advertised.listeners" in broker_cfg, sorted(broker_cfg)[:40]
        assert f"127.0.0.1:{broker.port}" in (broker_cfg["advertised.listeners"]["value"] or "")
    finally:
        a.close()


# -- 2. every codec x every acks, read back from earliest -----------------------------------------


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c or "none")
def test_produce_consume_codec_and_acks(broker, codec):
    topic = f"kp-{codec or 'none'}"
    create_topic(broker, topic, partitions=2)
    expected = {0: [], 1: []}
    for acks in ACKS:
        p = producer(broker, acks=acks, compression_type=codec, linger_ms=20)
        try:
            for part in (0, 1):
                n = 150
                vals = [value_of(f"{codec}.acks{acks}.p{part}", i) for i in range(n)]
                keys = [f"k{i}".encode() for i in range(n)]
                hdrs = [[("seq", str(i).encode()), ("acks", str(acks).encode())] for i in range(n)]
                metas = send_all(p, topic, vals, partition=part, keys=keys, headers=hdrs)
                if acks != 0:
                    offs = [m.offset for m in metas]
                    assert offs == list(range(offs[0], offs[0] + n)), "acknowledged offsets not consecutive"
                expected[part] += list(zip(keys, vals, hdrs))
        finally:
            p.close(timeout=10)

    recs = consume(broker, topic, [0, 1])
    for part in (0, 1):
        got = [(r.key, r.value, [(k, v) for k, v in r.headers]) for r in recs if r.partition == part]
        assert len(got) == len(expected[part])
        assert got == expected[part]
        assert [r.offset for r in recs if r.partition == part] == list(range(len(expected[part])))
    for part in (0, 1):
        codecs = {b.codec_name for b in partition_batches(broker.data_dir, topic, part)}
        assert codecs == {CODEC_IDS[codec]}, f"partition {part}: codecs on disk {codecs}"


# -- 3. start positions ---------------------------------------------------------------------------


def test_consume_from_latest(broker):
    create_topic(broker, "kp-latest")
    p = producer(broker, acks="all")
    send_all(p, "kp-latest", [value_of("old", i) for i in range(50)])
    tp = TopicPartition("kp-latest", 0)
    c = consumer(broker)
    try:
        c.assign([tp])
        c.seek_to_end(tp)
        assert c.position(tp) == 50, "seek_to_end did not resolve to the log end offset"
        send_all(p, "kp-latest", [value_of("new", i) for i in range(20)])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 20 and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                got += [(r.offset, r.value) for r in recs]
        assert got == [(50 + i, value_of("new", i)) for i in range(20)]
    finally:
        c.close()
        p.close(timeout=10)


def test_consume_from_explicit_offset(broker):
    create_topic(broker, "kp-offset")
    p = producer(broker, acks="all")
    for chunk in range(4):
        send_all(p, "kp-offset", [value_of("e", chunk * 25 + i) for i in range(25)])
    p.close(timeout=10)
    recs = consume(broker, "kp-offset", [0], start=37)
    assert [r.offset for r in recs] == list(range(37, 100))
    assert [r.value for r in recs] == [value_of("e", i) for i in range(37, 100)]


def test_consume_from_timestamp(broker):
    create_topic(broker, "kp-time")
    base = int(time.time() * 1000) - 3_600_000
    ts = [base + i * 1000 for i in range(100)]
    p = producer(broker, acks="all")
    for chunk in range(5):
        idx = range(chunk * 20, chunk * 20 + 20)
        send_all(p, "kp-time", [value_of("t", i) for i in idx], timestamps=[ts[i] for i in idx])
    p.close(timeout=10)

    recs = consume(broker, "kp-time", [0])
    assert [r.timestamp for r in recs] == ts
    assert all(r.timestamp_type == 0 for r in recs), "expected CreateTime"

    tp = TopicPartition("kp-time", 0)
    c = consumer(broker)
    try:
        for target, want in [(base + 41_500, 42), (base + 10_000, 10), (base - 5, 0), (base + 99_000, 99)]:
            r = c.offsets_for_times({tp: target})[tp]
            assert r is not None and r.offset == want, f"offsets_for_times(+{target - base}ms) = {r}, want {want}"
            assert r.timestamp == ts[want]
        assert c.offsets_for_times({tp: base + 100_000})[tp] is None, "no record at/after the target: expected None"
        assert c.beginning_offsets([tp])[tp] == 0 and c.end_offsets([tp])[tp] == 100
    finally:
        c.close()
    first = consume(broker, "kp-time", [0], start=42)[0]
    assert first.timestamp >= base + 41_500 and first.value == value_of("t", 42)


# -- 4. restart -------------------------------------------------------------------------------------


def test_restart_keeps_everything(broker):
    create_topic(broker, "kp-durable", partitions=2)
    p = producer(broker, acks="all", compression_type="zstd")
    for part in (0, 1):
        send_all(p, "kp-durable", [value_of(f"r{part}", i) for i in range(200)], partition=part)
    p.close(timeout=10)
    broker.restart()
    recs = consume(broker, "kp-durable", [0, 1])
    for part in (0, 1):
        assert [r.value for r in recs if r.partition == part] == [value_of(f"r{part}", i) for i in range(200)]
    p = producer(broker, acks="all")
    metas = send_all(p, "kp-durable", [b"after-restart"], partition=1)
    p.close(timeout=10)
    assert metas[0].offset == 200
