"""Bounds on what the coordinators and the producer state keep for client input, with
confluent-kafka (librdkafka) against the real broker, each bound set low with ``--set``:

- ``sluice.group.max.groups``: consumers of two groups work, a third group's consumer gets
  GROUP_MAX_SIZE_REACHED from poll(), and deleting a group makes room;
- ``sluice.producer.state.max.producers``: with two producer ids remembered by a partition, a
  third idempotent producer's records are refused with POLICY_VIOLATION while the first two
  and producers without an id go on;
- ``sluice.producer.state.max.ongoing.transactions``: a second open transaction on a
  partition is refused with POLICY_VIOLATION, which the transactional producer treats as
  abortable (abort, then go on), while the first transaction commits;
- ``sluice.log.aborted.txn.memory.entries``: with one aborted transaction kept in memory, a
  read_committed consumer reading a partition with several aborted transactions from the
  beginning (entries then come from the ``.txnindex`` files) sees exactly the committed
  records, before and after a restart.
"""

from __future__ import annotations

import time
import uuid

from harness import wait_until
from transactions_common import new_topic, produce_plain, read_values

# As conftest.GROUP_SETTINGS: no initial rebalance delay.
GROUP_SETTINGS = {"group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000}
GROUP_MAX_SIZE_REACHED = 81
POLICY_VIOLATION = 44


def group_consumer(bootstrap: str, group: str, topic: str):
    from confluent_kafka import Consumer

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    })
    c.subscribe([topic])
    return c


def consume(c, n: int, timeout: float = 30) -> list[str]:
    """Polls until ``n`` records arrived (committing each); fails on any error."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {got} arrived"
        m = c.poll(0.2)
        if m is None:
            continue
        assert not m.error(), m.error()
        got.append(m.value().decode())
        c.commit(message=m, asynchronous=False)
    return got


def first_error(c, timeout: float = 30):
    """Polls until the consumer reports an error; returns it (None on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and m.error():
            return m.error()
        assert m is None, f"the refused consumer got a record: {m.value()}"
    return None


def test_a_group_beyond_the_bound_gets_a_clear_error_and_existing_groups_work(broker_factory):
    from confluent_kafka.admin import AdminClient

    broker = broker_factory(settings={**GROUP_SETTINGS, "sluice.group.max.groups": 2})
    topic = new_topic(broker.bootstrap, 1, "limits")
    produce_plain(broker.bootstrap, topic, ["a", "b"])
    g1 = group_consumer(broker.bootstrap, "g1", topic)
    g2 = group_consumer(broker.bootstrap, "g2", topic)
    g3 = None
    try:
        assert consume(g1, 2) == ["a", "b"]
        assert consume(g2, 2) == ["a", "b"]
        g3 = group_consumer(broker.bootstrap, "g3", topic)
        err = first_error(g3)
        assert err is not None, "the third group's consumer saw no error"
        assert err.code() == GROUP_MAX_SIZE_REACHED, err
        assert "refusing a new consumer group" in broker.log_text()
        # The two groups keep consuming.
        produce_plain(broker.bootstrap, topic, ["c"])
        assert consume(g1, 1) == ["c"]
        assert consume(g2, 1) == ["c"]
        # Deleting g2 makes room for g3.
        g2.close()
        g2 = None
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        wait_until(
            lambda: admin.delete_consumer_groups(["g2"])["g2"].exception(30) is None,
            timeout=30,
            message="g2 deleted",
        )
        g3.close()
        g3 = group_consumer(broker.bootstrap, "g3", topic)
        assert consume(g3, 3) == ["a", "b", "c"]
    finally:
        for c in (g1, g2, g3):
            if c is not None:
                c.close()


def txn_producer(bootstrap: str, txn_id: str, delivery_errors: list):
    from confluent_kafka import Producer

    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "linger.ms": 5,
        "metadata.recovery.strategy": "none",
    })
    p.init_transactions(30)

    def report(err, msg):
        if err is not None:
            delivery_errors.append(err)

    return p, report


def test_a_producer_beyond_the_bound_is_refused_and_known_ones_go_on(broker_factory):
    from confluent_kafka import Producer

    broker = broker_factory(settings={"sluice.producer.state.max.producers": 2})
    topic = new_topic(broker.bootstrap, 1, "limits")

    def send(p, value: bytes) -> list:
        errors = []
        p.produce(topic, value=value, partition=0, on_delivery=lambda err, msg: errors.append(err))
        assert p.flush(30) == 0
        return errors

    idem = [Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True}) for _ in range(3)]
    assert send(idem[0], b"p0") == [None]
    assert send(idem[1], b"p1") == [None]
    third = send(idem[2], b"p2")
    assert len(third) == 1 and third[0] is not None and third[0].code() == POLICY_VIOLATION, third
    # The producers the partition knows, and one without a producer id, are not affected.
    assert send(idem[0], b"p0-again") == [None]
    produce_plain(broker.bootstrap, topic, ["plain"])
    assert "refusing a produce with POLICY_VIOLATION" in broker.log_text()
    assert read_values(broker.bootstrap, topic, 1, "read_uncommitted") == ["p0", "p1", "p0-again", "plain"]


def test_one_open_transaction_too_many_is_abortable(broker_factory):
    from confluent_kafka import KafkaException

    broker = broker_factory(settings={"sluice.producer.state.max.ongoing.transactions": 1})
    topic = new_topic(broker.bootstrap, 1, "limits")
    a_errors, b_errors = [], []
    a, a_report = txn_producer(broker.bootstrap, f"a-{uuid.uuid4().hex[:6]}", a_errors)
    b, b_report = txn_producer(broker.bootstrap, f"b-{uuid.uuid4().hex[:6]}", b_errors)
    a.begin_transaction()
    a.produce(topic, value=b"a1", partition=0, on_delivery=a_report)
    assert a.flush(30) == 0 and not a_errors
    # A second transaction on the partition: refused, and B must abort.
    b.begin_transaction()
    b.produce(topic, value=b"b1", partition=0, on_delivery=b_report)
    b.flush(30)
    assert [e.code() for e in b_errors] == [POLICY_VIOLATION], b_errors
    try:
        b.commit_transaction(30)
        raise AssertionError("the commit of the refused transaction succeeded")
    except KafkaException as e:
        err = e.args[0]
        assert err.txn_requires_abort() and not err.fatal(), err
    b.abort_transaction(30)
    assert "refusing a produce with POLICY_VIOLATION" in broker.log_text()
    # A's transaction was not affected; once it is committed, B goes on.
    a.commit_transaction(30)
    b.begin_transaction()
    b.produce(topic, value=b"b2", partition=0, on_delivery=b_report)
    b.commit_transaction(30)
    assert len(b_errors) == 1
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == ["a1", "b2"]


def test_read_committed_from_the_beginning_with_one_aborted_transaction_in_memory(broker_factory):
    broker = broker_factory(settings={
        "sluice.log.aborted.txn.memory.entries": 1,
        "log.segment.bytes": 4096,
    })
    topic = new_topic(broker.bootstrap, 1, "limits")
    p, report = txn_producer(broker.bootstrap, f"t-{uuid.uuid4().hex[:6]}", [])
    expected, everything = [], []
    for round_ in range(8):
        values = [f"r{round_}-{i}-" + "x" * 200 for i in range(10)]
        p.begin_transaction()
        for v in values:
            p.produce(topic, value=v.encode(), partition=0, on_delivery=report)
        if round_ % 3 == 1:
            p.commit_transaction(30)
            expected += values
        else:
            assert p.flush(30) == 0  # the records reach the log before the abort
            p.abort_transaction(30)
        everything += values
        plain = [f"plain-{round_}"]
        produce_plain(broker.bootstrap, topic, plain)
        expected += plain
        everything += plain
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == expected
    assert read_values(broker.bootstrap, topic, 1, "read_uncommitted") == everything
    assert "aborted-transaction list reached" in broker.log_text()
    broker.restart()
    assert read_values(broker.bootstrap, topic, 1, "read_committed") == expected
