"""Transactions with confluent-kafka (librdkafka) against the real broker.

Commit and abort, read_committed vs read_uncommitted readers, zombie fencing by a second
producer with the same transactional.id, a transaction aborted by its timeout, the
coordinator's state across a restart, and DescribeTransactions.
"""

from __future__ import annotations

import uuid

import pytest

from harness import wait_until
from transactions_common import describe_transaction, new_topic, produce_plain, read_values


def txn_producer(bootstrap: str, txn_id: str, **extra):
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(30)
    return p


def send(p, topic: str, values, partitions: int = 1) -> None:
    for i, v in enumerate(values):
        p.produce(topic, value=v.encode(), partition=i % partitions)


def test_commit_and_abort_with_read_committed_and_read_uncommitted(broker):
    topic = new_topic(broker.bootstrap, 3)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:6]}")
    committed, aborted = [], []
    for round_ in range(4):
        values = [f"r{round_}-{i}" for i in range(30)]
        p.begin_transaction()
        send(p, topic, values, 3)
        if round_ % 2 == 0:
            p.commit_transaction(30)
            committed += values
        else:
            p.flush(30)  # the records reach the log before the abort
            p.abort_transaction(30)
            aborted += values
    rc = read_values(broker.bootstrap, topic, 3, "read_committed")
    assert sorted(rc) == sorted(committed)
    ru = read_values(broker.bootstrap, topic, 3, "read_uncommitted")
    assert sorted(ru) == sorted(committed + aborted)
    # Per partition, committed records keep their order.
    for part in range(3):
        mine = [v for v in read_values(broker.bootstrap, topic, 3, "read_committed") if v in committed]
        assert mine == [v for v in rc if v in committed]
    d = describe_transaction(broker.bootstrap, "no-such-transactional-id")
    assert d["error_code"] == 105  # TRANSACTIONAL_ID_NOT_FOUND


def test_describe_transactions_shows_the_ongoing_transaction(broker):
    topic = new_topic(broker.bootstrap, 2)
    txn_id = f"tx-{uuid.uuid4().hex[:6]}"
    p = txn_producer(broker.bootstrap, txn_id, **{"transaction.timeout.ms": 60000})
    d = describe_transaction(broker.bootstrap, txn_id)
    assert (d["error_code"], d["state"], d["epoch"]) == (0, "Empty", 0), d
    p.begin_transaction()
    send(p, topic, ["a", "b"], 2)
    p.flush(30)
    d = describe_transaction(broker.bootstrap, txn_id)
    assert (d["state"], d["timeout_ms"]) == ("Ongoing", 60000), d
    assert sorted(d["partitions"]) == [(topic, 0), (topic, 1)]
    assert d["start_ms"] > 0
    p.commit_transaction(30)
    d = describe_transaction(broker.bootstrap, txn_id)
    assert (d["state"], d["partitions"]) == ("CompleteCommit", []), d


def test_zombie_producer_is_fenced(broker):
    from confluent_kafka import KafkaException

    topic = new_topic(broker.bootstrap, 1)
    txn_id = f"tx-{uuid.uuid4().hex[:6]}"
    zombie = txn_producer(broker.bootstrap, txn_id)
    zombie.begin_transaction()
    send(zombie, topic, ["zombie-0", "zombie-1"])
    zombie.flush(30)
    # The new instance takes over: the zombie's open transaction is aborted.
    fresh = txn_producer(broker.bootstrap, txn_id)
    with pytest.raises(KafkaException) as e:
        send(zombie, topic, ["zombie-2"])
        zombie.commit_transaction(30)
    assert e.value.args[0].fatal(), e.value
    fresh.begin_transaction()
    send(fresh, topic, ["fresh-0"])
    fresh.commit_transaction(30)
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == ["fresh-0"]
    assert "zombie-0" in read_values(broker.bootstrap, topic, 1, "read_uncommitted")


def test_transaction_timeout_aborts_and_fences(broker_factory):
    from confluent_kafka import KafkaException

    b = broker_factory(settings={"transaction.abort.timed.out.transaction.cleanup.interval.ms": 100})
    topic = new_topic(b.bootstrap, 1)
    txn_id = f"tx-{uuid.uuid4().hex[:6]}"
    p = txn_producer(b.bootstrap, txn_id, **{"transaction.timeout.ms": 1000})
    p.begin_transaction()
    send(p, topic, ["stuck-0", "stuck-1"])
    p.flush(30)
    # A later plain record stays invisible to read_committed while the transaction is open;
    # the coordinator aborts the transaction once it times out, and the record shows up.
    produce_plain(b.bootstrap, topic, ["after"])
    wait_until(lambda: describe_transaction(b.bootstrap, txn_id)["state"] == "CompleteAbort",
               timeout=30, message="timed-out transaction aborted")
    assert describe_transaction(b.bootstrap, txn_id)["epoch"] == 1
    assert read_values(b.bootstrap, topic, 1, "read_committed") == ["after"]
    with pytest.raises(KafkaException):
        p.commit_transaction(30)


def test_transactions_survive_a_restart(broker):
    topic = new_topic(broker.bootstrap, 2)
    txn_id = f"tx-{uuid.uuid4().hex[:6]}"
    p = txn_producer(broker.bootstrap, txn_id)
    p.begin_transaction()
    send(p, topic, ["before-0", "before-1"], 2)
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, topic, ["open-0", "open-1"], 2)
    p.flush(30)
    before = describe_transaction(broker.bootstrap, txn_id)
    assert before["state"] == "Ongoing"
    broker.kill9()
    broker.start()
    after = describe_transaction(broker.bootstrap, txn_id)
    assert (after["state"], after["producer_id"], after["epoch"]) == ("Ongoing", before["producer_id"], 0)
    # A new instance of the producer aborts the open transaction and bumps the epoch.
    p2 = txn_producer(broker.bootstrap, txn_id)
    d = describe_transaction(broker.bootstrap, txn_id)
    assert (d["producer_id"], d["epoch"], d["state"]) == (before["producer_id"], 2, "Empty"), d
    p2.begin_transaction()
    send(p2, topic, ["after-0"], 2)
    p2.commit_transaction(30)
    assert sorted(read_values(broker.bootstrap, topic, 2, "read_committed")) == ["after-0", "before-0", "before-1"]
