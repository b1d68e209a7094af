"""Idempotent producers against the real broker.

A retried batch (same producer id, epoch and sequence range) must be stored once and
answered with its original offsets; each client's idempotent producer must deliver
every record exactly once; the state must survive a restart. Transactions are
tested in test_transactions_*.py.
"""

from __future__ import annotations

import uuid

import kafka_wire as kw
from harness import partition_batches
from test_java_client import java, java_classpath  # noqa: F401  (fixtures)


def new_topic(c: kw.KafkaConn, partitions: int = 1) -> str:
    name = f"idem-{uuid.uuid4().hex[:8]}"
    resp = c.create_topics([(name, partitions, 1)])
    assert resp["topics"][name]["error_code"] == kw.NONE, resp
    return name


def test_raw_retry_of_the_same_batch_is_stored_once(broker):
    c = kw.KafkaConn.to(broker.bootstrap)
    try:
        topic = new_topic(c)
        pid = 4242  # an id this broker never handed out: accepted as an unknown producer
        first = kw.record_batch([("k0", "v0"), ("k1", "v1")], producer_id=pid, producer_epoch=0, base_sequence=0)
        a = c.produce(topic, 0, first)
        assert (a["error_code"], a["base_offset"]) == (0, 0), a
        # The same bytes again, as a producer retries after a lost answer.
        b = c.produce(topic, 0, first)
        assert (b["error_code"], b["base_offset"]) == (0, 0), b
        nxt = kw.record_batch([("k2", "v2")], producer_id=pid, producer_epoch=0, base_sequence=2)
        assert c.produce(topic, 0, nxt)["base_offset"] == 2
        gap = kw.record_batch([("k9", "v9")], producer_id=pid, producer_epoch=0, base_sequence=9)
        assert c.produce(topic, 0, gap)["error_code"] == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
        assert c.list_offsets(topic, 0)["offset"] == 3
    finally:
        c.close()
    # Restart: the retry is still recognised (producer snapshot written at close).
    broker.restart()
    c = kw.KafkaConn.to(broker.bootstrap)
    try:
        again = c.produce(topic, 0, first)
        assert (again["error_code"], again["base_offset"]) == (0, 0), again
        old = kw.record_batch([("k3", "v3")], producer_id=pid, producer_epoch=-1, base_sequence=3)
        # Epoch -1 is older than 0: fenced as INVALID_PRODUCER_EPOCH (47).
        assert c.produce(topic, 0, old)["error_code"] == 47
        assert c.list_offsets(topic, 0)["offset"] == 3
    finally:
        c.close()
    batches = partition_batches(broker.data_dir, topic, 0)
    assert [(b.base_offset, b.producer_id) for b in batches] == [(0, pid), (2, pid)]


def consume_all(bootstrap: str, topic: str, partitions: int, expected: int) -> list[tuple[int, int, bytes]]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out = []
        import time

        deadline = time.time() + 30
        while len(out) < expected and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append((m.partition(), m.offset(), m.value()))
        # Nothing more than expected arrives.
        extra = c.poll(1.0)
        assert extra is None or extra.error(), f"unexpected extra record {extra.value()!r}"
        return out
    finally:
        c.close()


def test_confluent_kafka_idempotent_producer_delivers_exactly_once(broker):
    from confluent_kafka import Producer

    c = kw.KafkaConn.to(broker.bootstrap)
    topic = new_topic(c, 3)
    c.close()
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5,
                  "compression.type": "lz4"})
    errors = []
    for i in range(3000):
        p.produce(topic, value=b"v%d" % i, partition=i % 3,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
    assert p.flush(30) == 0
    assert errors == []
    got = consume_all(broker.bootstrap, topic, 3, 3000)
    assert sorted(int(v[1:]) for _, _, v in got) == list(range(3000))
    for part in range(3):
        values = [int(v[1:]) for p_, _, v in got if p_ == part]
        assert values == sorted(values), "per-partition order kept"
    batches = [b for part in range(3) for b in partition_batches(broker.data_dir, topic, part)]
    assert batches and all(b.producer_id >= 0 and b.base_sequence >= 0 for b in batches)


def test_kafka_python_idempotent_producer(broker):
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True, acks="all")
    topic = f"idem-kp-{uuid.uuid4().hex[:8]}"
    for i in range(500):
        p.send(topic, value=b"v%d" % i, partition=0)
    p.flush(30)
    p.close()
    got = consume_all(broker.bootstrap, topic, 1, 500)
    assert [int(v[1:]) for _, _, v in got] == list(range(500))
    assert all(b.producer_id >= 0 for b in partition_batches(broker.data_dir, topic, 0))


def test_java_default_producer_is_idempotent_and_works(java, broker):  # noqa: F811
    topic = f"idem-java-{uuid.uuid4().hex[:8]}"
    lines = java("produce-default", topic, 1, 300, "d")
    acks = [l for l in lines if l[0] == "ACK"]
    assert len(acks) == 300, lines[-5:]
    assert [int(l[3]) for l in acks] == list(range(300))
    assert all(b.producer_id >= 0 for b in partition_batches(broker.data_dir, topic, 0))
