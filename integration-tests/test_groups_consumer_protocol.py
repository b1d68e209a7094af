"""KIP-848 consumer groups (group.protocol=consumer) with confluent-kafka (librdkafka >= 2.12) against the
real broker: ConsumerGroupHeartbeat, server-side assignment, incremental revocation and assignment.

Members are worker processes of test_groups_confluent.py (strategy "consumer"), so a crash is a real
kill -9; they commit every record synchronously before printing it, so the union of what they print must be
every produced record exactly once across joins, leaves, crashes and a broker restart.

The broker runs with short consumer-group sessions (group.consumer.session.timeout.ms=3000) and heartbeats
(500 ms) so expiry is quick; assertions never depend on timings.
"""

from __future__ import annotations

import time

import confluent_kafka
import pytest
from confluent_kafka import Consumer, ConsumerGroupState, ConsumerGroupType, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from groups_common import assert_exactly_once, produce, wait_consumed
from test_groups_confluent import create_topic, spawn

SETTINGS = {
    "group.consumer.min.session.timeout.ms": 1000,
    "group.consumer.session.timeout.ms": 3000,
    "group.consumer.min.heartbeat.interval.ms": 100,
    "group.consumer.heartbeat.interval.ms": 500,
}


@pytest.fixture
def cbroker(broker_factory):
    return broker_factory(settings=SETTINGS)


def test_librdkafka_speaks_kip848():
    assert confluent_kafka.libversion()[1] >= 0x020C0000, confluent_kafka.libversion()


def describe(broker, group):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    return admin.describe_consumer_groups([group])[group].result(30)


def wait_split(broker, group, members: int, partitions: int, timeout: float = 60):
    """Until the group is Stable with `members` members owning every partition exactly once."""
    deadline = time.monotonic() + timeout
    while True:
        d = describe(broker, group)
        owned = [tp.partition for m in d.members for tp in m.assignment.topic_partitions]
        if d.state == ConsumerGroupState.STABLE and len(d.members) == members \
                and sorted(owned) == list(range(partitions)):
            return d
        assert time.monotonic() < deadline, f"not split: {d.state} {[(m.member_id, m.assignment) for m in d.members]}"
        time.sleep(0.2)


def test_join_split_leave_crash_exactly_once(cbroker, workers):
    topic, group, parts = "kip848-orders", "g-kip848", 6
    create_topic(cbroker, topic, parts)
    expected = produce(cbroker.bootstrap, topic, parts, 600, "a")
    w1 = spawn(workers, cbroker, group, topic, "consumer")
    wait_consumed(workers, 100)
    w2 = spawn(workers, cbroker, group, topic, "consumer")  # a second member: partitions are split
    d = wait_split(cbroker, group, 2, parts)
    assert d.type == ConsumerGroupType.CONSUMER
    assert all(m.assignment.topic_partitions for m in d.members), "one member got nothing"
    w3 = spawn(workers, cbroker, group, topic, "consumer")
    wait_split(cbroker, group, 3, parts)
    expected += produce(cbroker.bootstrap, topic, parts, 600, "b")
    wait_consumed(workers, 700)
    # w1 crashes between records: its session expires and its partitions move.
    w1.send("idle")
    w1.wait_line("IDLE")
    w1.kill9()
    wait_split(cbroker, group, 2, parts)
    w2.stop()  # a member leaves (ConsumerGroupHeartbeat with epoch -1)
    wait_split(cbroker, group, 1, parts)
    expected += produce(cbroker.bootstrap, topic, parts, 600, "c")
    wait_consumed(workers, len(expected), timeout=120)
    w3.stop()
    assert_exactly_once(workers, expected)
    for w in (w1, w2, w3):
        assert w.assignments(), f"{w.name} never got an assignment\n{w.output()}"


def test_commit_and_resume_after_broker_restart_and_kill9(cbroker, workers):
    topic, group, parts = "kip848-resume", "g-kip848-resume", 4
    create_topic(cbroker, topic, parts)
    expected = produce(cbroker.bootstrap, topic, parts, 200, "r")
    w1 = spawn(workers, cbroker, group, topic, "consumer")
    w2 = spawn(workers, cbroker, group, topic, "consumer")
    wait_consumed(workers, 200)
    cbroker.restart()  # the group (epochs, assignments) comes back from __consumer_offsets
    expected += produce(cbroker.bootstrap, topic, parts, 200, "s")
    wait_consumed(workers, 400, timeout=120)
    cbroker.kill9()
    cbroker.start()
    expected += produce(cbroker.bootstrap, topic, parts, 200, "t")
    wait_consumed(workers, 600, timeout=120)
    w1.stop()
    w2.stop()
    assert_exactly_once(workers, expected)
    # A new member of the group resumes from the commits: nothing left to read.
    c = Consumer({"bootstrap.servers": cbroker.bootstrap, "group.id": group, "group.protocol": "consumer",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        committed = c.committed([TopicPartition(topic, p) for p in range(parts)], timeout=30)
        for tp in committed:
            _, high = c.get_watermark_offsets(tp, timeout=30)
            assert tp.offset == high, f"partition {tp.partition}: committed {tp.offset}, end {high}"
    finally:
        c.close()


def test_admin_list_and_describe_consumer_groups(cbroker):
    topic, group = "kip848-admin", "g-kip848-admin"
    create_topic(cbroker, topic, 2)
    c = Consumer({"bootstrap.servers": cbroker.bootstrap, "group.id": group, "group.protocol": "consumer",
                  "group.remote.assignor": "range", "enable.auto.commit": False})
    c.subscribe([topic])
    deadline = time.monotonic() + 30
    while len(c.assignment()) < 2:
        assert time.monotonic() < deadline
        c.poll(0.1)
    admin = AdminClient({"bootstrap.servers": cbroker.bootstrap})
    d = wait_split(cbroker, group, 1, 2)
    assert d.type == ConsumerGroupType.CONSUMER
    assert d.partition_assignor == "range"
    listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(30).valid
    assert group in {g.group_id for g in listed}
    classic = admin.list_consumer_groups(types={ConsumerGroupType.CLASSIC}).result(30).valid
    assert group not in {g.group_id for g in classic}
    with pytest.raises(KafkaException, match="NON_EMPTY_GROUP"):
        admin.delete_consumer_groups([group])[group].result(30)
    c.close()  # leaves: the group is empty and can be deleted
    admin.delete_consumer_groups([group])[group].result(30)
    assert group not in {g.group_id for g in admin.list_consumer_groups().result(30).valid}


def test_unknown_assignor_is_refused(cbroker):
    topic, group = "kip848-assignor", "g-kip848-assignor"
    create_topic(cbroker, topic, 1)
    errors = []
    c = Consumer({"bootstrap.servers": cbroker.bootstrap, "group.id": group, "group.protocol": "consumer",
                  "group.remote.assignor": "no-such-assignor", "error_cb": errors.append})
    c.subscribe([topic])
    deadline = time.monotonic() + 30
    while not errors and time.monotonic() < deadline:
        try:
            m = c.poll(0.1)
            if m is not None and m.error():
                errors.append(m.error())
        except KafkaException as e:
            errors.append(e.args[0])
    try:
        c.close()
    except KafkaException:
        pass
    assert any("UNSUPPORTED_ASSIGNOR" in str(e) or "assignor" in str(e).lower() for e in errors), errors


def test_regex_subscription_follows_new_topics(cbroker):
    """subscribed_topic_regex: the broker resolves the regex against its topics (full match, as
    Kafka's RE2/J matcher); a topic created later that matches is assigned too."""
    admin = AdminClient({"bootstrap.servers": cbroker.bootstrap})
    for f in admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1)
                                  for t in ("re-a", "re-b", "other-re-a")]).values():
        f.result(30)
    c = Consumer({"bootstrap.servers": cbroker.bootstrap, "group.id": "g-kip848-regex", "group.protocol": "consumer",
                  "enable.auto.commit": False})
    c.subscribe(["^re-.*"])

    def owned():
        return sorted((tp.topic, tp.partition) for tp in c.assignment())

    def wait_for(want):
        deadline = time.monotonic() + 60
        while owned() != want:
            assert time.monotonic() < deadline, owned()
            c.poll(0.1)

    try:
        wait_for([("re-a", 0), ("re-a", 1), ("re-b", 0), ("re-b", 1)])
        admin.create_topics([NewTopic("re-c", num_partitions=1, replication_factor=1)])["re-c"].result(30)
        wait_for([("re-a", 0), ("re-a", 1), ("re-b", 0), ("re-b", 1), ("re-c", 0)])
    finally:
        c.close()


def test_transactional_offset_commit_by_a_consumer_protocol_member(cbroker):
    """send_offsets_to_transaction with a KIP-848 member's group metadata: TxnOffsetCommit carries the
    member id and epoch, checked as OffsetCommit's; the offsets are visible once the transaction commits."""
    from confluent_kafka import Producer

    topic, out, group = "kip848-txn-in", "kip848-txn-out", "g-kip848-txn"
    create_topic(cbroker, topic, 1)
    create_topic(cbroker, out, 1)
    produce(cbroker.bootstrap, topic, 1, 10, "x")
    c = Consumer({"bootstrap.servers": cbroker.bootstrap, "group.id": group, "group.protocol": "consumer",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    c.subscribe([topic])
    p = Producer({"bootstrap.servers": cbroker.bootstrap, "transactional.id": "kip848-txn"})
    p.init_transactions(30)
    got, deadline = [], time.monotonic() + 60
    while len(got) < 10:
        assert time.monotonic() < deadline, got
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
    p.begin_transaction()
    for m in got:
        p.produce(out, m.value())
    p.send_offsets_to_transaction([TopicPartition(topic, 0, got[-1].offset() + 1)], c.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    assert c.committed([TopicPartition(topic, 0)], timeout=30)[0].offset == 10
    c.close()
