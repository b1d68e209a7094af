"""Online upgrade and downgrade between classic and KIP-848 consumer groups
(`group.consumer.migration.policy`), with confluent-kafka workers running throughout.

Classic members (group.protocol=classic, range or cooperative-sticky) consume; a member with group.protocol=consumer joins:
the group becomes a consumer group (its classic members stay, served through JoinGroup/SyncGroup/
Heartbeat by the consumer group); it leaves: the group is classic again. Workers commit each record
synchronously before printing it, so the union of what they print must be every record exactly once.
With the policy disabled, the consumer-protocol member is refused with GROUP_ID_NOT_FOUND (which
librdkafka treats as fatal for that consumer). A kill -9
of the broker right after the upgrade replays the group as a consumer group.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, ConsumerGroupType, KafkaError
from confluent_kafka.admin import AdminClient

from groups_common import assert_exactly_once, produce, wait_consumed
from test_groups_confluent import create_topic, spawn

SETTINGS = {
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 1000,
    "group.consumer.min.session.timeout.ms": 1000,
    "group.consumer.session.timeout.ms": 3000,
    "group.consumer.min.heartbeat.interval.ms": 100,
    "group.consumer.heartbeat.interval.ms": 500,
}


def describe(broker, group):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    return admin.describe_consumer_groups([group])[group].result(30)


def listed_type(broker, group):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for kind in (ConsumerGroupType.CONSUMER, ConsumerGroupType.CLASSIC):
        if group in {g.group_id for g in admin.list_consumer_groups(types={kind}).result(30).valid}:
            return kind
    return None


def wait_group(broker, group, kind, members: int, partitions: int, timeout: float = 90):
    """Until the group has type `kind`, is Stable with `members` members owning every partition once."""
    deadline = time.monotonic() + timeout
    while True:
        d = describe(broker, group)
        owned = [tp.partition for m in d.members for tp in m.assignment.topic_partitions]
        if d.type == kind and d.state == ConsumerGroupState.STABLE and len(d.members) == members \
                and sorted(owned) == list(range(partitions)):
            return d
        assert time.monotonic() < deadline, \
            f"not there: {d.type} {d.state} {[(m.member_id, m.assignment.topic_partitions) for m in d.members]}"
        time.sleep(0.2)


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_upgrade_to_consumer_and_back_exactly_once(broker_factory, workers, strategy):
    """Eager classic members revoke everything when told to rejoin; cooperative ones rejoin
    still owning their partitions and give up only what the consumer group revokes."""
    broker = broker_factory(settings=SETTINGS)
    topic, group, parts = "mig-orders", "g-migration", 6
    create_topic(broker, topic, parts)
    expected = produce(broker.bootstrap, topic, parts, 300, "a")
    c1 = spawn(workers, broker, group, topic, strategy)
    c2 = spawn(workers, broker, group, topic, strategy)
    wait_group(broker, group, ConsumerGroupType.CLASSIC, 2, parts)
    wait_consumed(workers, 100)
    k = spawn(workers, broker, group, topic, "consumer")  # upgrade: the group becomes a consumer group
    d = wait_group(broker, group, ConsumerGroupType.CONSUMER, 3, parts)
    assert listed_type(broker, group) == ConsumerGroupType.CONSUMER
    assert all(m.assignment.topic_partitions for m in d.members), "a member got nothing"
    expected += produce(broker.bootstrap, topic, parts, 300, "b")
    wait_consumed(workers, len(expected), timeout=120)
    assert k.assignments(), f"the consumer-protocol member never got partitions\n{k.output()}"
    k.stop()  # the last consumer-protocol member leaves: downgrade
    wait_group(broker, group, ConsumerGroupType.CLASSIC, 2, parts)
    assert listed_type(broker, group) == ConsumerGroupType.CLASSIC
    expected += produce(broker.bootstrap, topic, parts, 300, "c")
    wait_consumed(workers, len(expected), timeout=120)
    c1.stop()
    c2.stop()
    assert_exactly_once(workers, expected)
    assert "downgraded online to a classic group" in broker.log_text()


def test_policy_disabled_refuses_consumer_member(broker_factory, workers):
    broker = broker_factory(settings={**SETTINGS, "group.consumer.migration.policy": "disabled"})
    topic, group, parts = "mig-disabled", "g-mig-disabled", 2
    create_topic(broker, topic, parts)
    spawn(workers, broker, group, topic, "range")
    wait_group(broker, group, ConsumerGroupType.CLASSIC, 1, parts)
    errors = []
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "group.protocol": "consumer",
                  "error_cb": lambda e: errors.append(e)})
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        # librdkafka raises the heartbeat's GROUP_ID_NOT_FOUND as a fatal consumer error.
        refused = lambda e: e.code() == KafkaError.GROUP_ID_NOT_FOUND or (  # noqa: E731
            e.code() == KafkaError._FATAL and "group id does not exist" in e.str())
        while not any(refused(e) for e in errors):
            assert time.monotonic() < deadline, f"no GROUP_ID_NOT_FOUND: {errors}"
            m = c.poll(0.2)
            if m is not None and m.error():
                errors.append(m.error())
        assert not c.assignment()
    finally:
        c.close()
    d = wait_group(broker, group, ConsumerGroupType.CLASSIC, 1, parts)
    assert len(d.members) == 1
    assert "online upgrade is disabled" in broker.log_text()


def test_kill9_after_upgrade_replays_consumer_group(broker_factory, workers):
    broker = broker_factory(settings=SETTINGS)
    if not hasattr(broker, "kill9"):
        pytest.skip("no kill9")
    topic, group, parts = "mig-crash", "g-mig-crash", 4
    create_topic(broker, topic, parts)
    expected = produce(broker.bootstrap, topic, parts, 200, "a")
    c1 = spawn(workers, broker, group, topic, "range")
    wait_group(broker, group, ConsumerGroupType.CLASSIC, 1, parts)
    k = spawn(workers, broker, group, topic, "consumer")
    wait_group(broker, group, ConsumerGroupType.CONSUMER, 2, parts)
    broker.kill9()  # mid-migration: a classic member inside a consumer group
    broker.start()
    assert listed_type(broker, group) == ConsumerGroupType.CONSUMER
    expected += produce(broker.bootstrap, topic, parts, 200, "b")
    wait_consumed(workers, len(expected), timeout=120)
    k.stop()
    c1.stop()
    assert_exactly_once(workers, expected)
