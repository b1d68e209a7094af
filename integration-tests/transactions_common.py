"""Shared pieces of the transaction tests (test_transactions_*.py).

``new_topic(bootstrap, partitions, prefix)`` creates a topic with a unique name.
``read_values(bootstrap, topic, partitions, isolation)`` reads every partition from offset 0 to
its end with a confluent-kafka consumer (manual assignment, ``enable.partition.eof``), with
``isolation.level`` = ``read_committed`` (the end is then the last stable offset) or
``read_uncommitted``, and returns the record values as strings, in partition then offset order.
``produce_plain(bootstrap, topic, values, partition)`` writes non-transactional records.
"""

from __future__ import annotations

import time
import uuid

import kafka_wire as kw


def new_topic(bootstrap: str, partitions: int = 1, prefix: str = "txn") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    c = kw.KafkaConn.to(bootstrap)
    try:
        resp = c.create_topics([(name, partitions, 1)])
        assert resp["topics"][name]["error_code"] == kw.NONE, resp
    finally:
        c.close()
    return name


def read_values(bootstrap: str, topic: str, partitions: int, isolation: str, timeout: float = 30) -> list[str]:
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"reader-{uuid.uuid4().hex[:6]}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": isolation,
    })
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        got: dict[int, list[tuple[int, str]]] = {p: [] for p in range(partitions)}
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, f"read of {topic} ({isolation}) did not reach the end: {got}"
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                continue
            at_end.discard(m.partition())
            got[m.partition()].append((m.offset(), m.value().decode()))
        return [v for p in range(partitions) for _, v in sorted(got[p])]
    finally:
        c.close()


def produce_plain(bootstrap: str, topic: str, values, partition: int = 0) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False})
    for v in values:
        p.produce(topic, value=v.encode(), partition=partition)
    assert p.flush(30) == 0


def describe_transaction(bootstrap: str, transactional_id: str) -> dict:
    """DescribeTransactions v0 over the raw protocol:
    {error_code, state, timeout_ms, start_ms, producer_id, epoch, partitions: [(topic, p)]}."""
    c = kw.KafkaConn.to(bootstrap)
    try:
        body = kw.compact_array([transactional_id], kw.compact_string) + kw.uvarint(0)
        c.send_raw(kw.request(65, 0, c.next_correlation_id(), body, flexible=True))
        r = kw.Reader(c.recv_frame())
    finally:
        c.close()
    r.i32()  # correlation id
    r.tagged_fields()
    r.i32()  # throttle

    def state(r):
        out = {"error_code": r.i16(), "transactional_id": r.compact_string(), "state": r.compact_string(),
               "timeout_ms": r.i32(), "start_ms": r.i64(), "producer_id": r.i64(), "epoch": r.i16()}

        def topic(r):
            name = r.compact_string()
            parts = r.compact_array(lambda r: r.i32())
            r.tagged_fields()
            return [(name, p) for p in parts]

        out["partitions"] = [tp for t in r.compact_array(topic) for tp in t]
        r.tagged_fields()
        return out

    return r.compact_array(state)[0]
