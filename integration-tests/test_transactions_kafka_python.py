"""Transactions with kafka-python (3.x) against the real broker: commit and abort, its own
read_committed / read_uncommitted consumers, zombie fencing, and send_offsets_to_transaction.
"""

from __future__ import annotations

import uuid

import pytest

from transactions_common import new_topic, read_values


def producer(bootstrap: str, txn_id: str):
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=txn_id, enable_idempotence=True)
    p.init_transactions()
    return p


def kp_read(bootstrap: str, topic: str, isolation: str, expected: int) -> list[str]:
    """kafka-python's own consumer: reads until ``expected`` records, then checks nothing more comes."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False,
                      consumer_timeout_ms=3000)
    try:
        c.assign([TopicPartition(topic, 0)])
        c.seek_to_beginning()
        out = [m.value.decode() for m in c]  # stops after 3 s without records
        return out
    finally:
        c.close()


def test_commit_and_abort(broker):
    topic = new_topic(broker.bootstrap, 1)
    p = producer(broker.bootstrap, f"kp-{uuid.uuid4().hex[:6]}")
    p.begin_transaction()
    for i in range(20):
        p.send(topic, value=b"c1-%d" % i, partition=0)
    p.commit_transaction()
    p.begin_transaction()
    for i in range(20):
        p.send(topic, value=b"a-%d" % i, partition=0)
    p.flush()
    p.abort_transaction()
    p.begin_transaction()
    for i in range(5):
        p.send(topic, value=b"c2-%d" % i, partition=0)
    p.commit_transaction()
    p.close()
    committed = [f"c1-{i}" for i in range(20)] + [f"c2-{i}" for i in range(5)]
    aborted = [f"a-{i}" for i in range(20)]
    assert kp_read(broker.bootstrap, topic, "read_committed", 25) == committed
    assert kp_read(broker.bootstrap, topic, "read_uncommitted", 45) == committed[:20] + aborted + committed[20:]
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == committed


def test_zombie_is_fenced(broker):
    from kafka.errors import KafkaError

    topic = new_topic(broker.bootstrap, 1)
    txn_id = f"kp-{uuid.uuid4().hex[:6]}"
    zombie = producer(broker.bootstrap, txn_id)
    zombie.begin_transaction()
    zombie.send(topic, value=b"zombie", partition=0)
    zombie.flush()
    fresh = producer(broker.bootstrap, txn_id)
    with pytest.raises(KafkaError):
        zombie.commit_transaction()
    fresh.begin_transaction()
    fresh.send(topic, value=b"fresh", partition=0)
    fresh.commit_transaction()
    fresh.close()
    zombie.close(timeout=1)
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == ["fresh"]


def test_send_offsets_to_transaction_commits_offsets_with_the_output(broker):
    from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

    src = new_topic(broker.bootstrap, 1, "src")
    dst = new_topic(broker.bootstrap, 1, "dst")
    from transactions_common import produce_plain

    produce_plain(broker.bootstrap, src, [f"in-{i}" for i in range(10)])
    group = f"g-{uuid.uuid4().hex[:6]}"
    p = producer(broker.bootstrap, f"kp-{uuid.uuid4().hex[:6]}")
    tp = TopicPartition(src, 0)
    # Aborted: neither the output nor the offset is visible.
    p.begin_transaction()
    p.send(dst, value=b"lost", partition=0)
    p.send_offsets_to_transaction({tp: OffsetAndMetadata(5, "", -1)}, group)
    p.abort_transaction()
    # Committed.
    p.begin_transaction()
    p.send(dst, value=b"kept", partition=0)
    p.send_offsets_to_transaction({tp: OffsetAndMetadata(7, "", -1)}, group)
    p.commit_transaction()
    p.close()
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        assert c.committed(tp) == 7
    finally:
        c.close()
    assert read_values(broker.bootstrap, dst, 1, "read_committed") == ["kept"]
