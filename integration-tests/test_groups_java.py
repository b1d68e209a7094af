"""Consumer groups with the Java client (kafka-clients 3.9, classic protocol) against the real broker.

integration-tests/groups/GroupWorker.java is compiled once per session against the jars of
test_java_client.py. Members are JVM processes speaking groups_common.Worker's protocol (commitSync of
each record before reporting it); every record must be consumed exactly once across a member joining,
one leaving and one crashing (kill -9, session timeout). Admin: listConsumerGroups,
describeConsumerGroups, listConsumerGroupOffsets + listOffsets (lag), deleteConsumerGroups.
"""

from __future__ import annotations

import os

import pytest

from groups_common import Worker, assert_exactly_once, produce, wait_assigned, wait_consumed
from harness import INTEGRATION_DIR, run
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS



@pytest.fixture(scope="session")
def group_classpath(tmp_path_factory):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    jars = [str(JAVA_LIB_DIR / j) for j in JARS]
    classes = tmp_path_factory.mktemp("java-group-classes")
    sources = [INTEGRATION_DIR / "groups" / "GroupWorker.java",
               INTEGRATION_DIR / "java" / "org" / "slf4j" / "impl" / "StaticLoggerBinder.java"]
    run(["javac", "-nowarn", "-cp", os.pathsep.join(jars), "-d", classes, *sources], timeout=180)
    return os.pathsep.join([str(classes), *jars])


@pytest.fixture
def java(group_classpath, tmp_path):
    def cmd(*args):
        return ["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", group_classpath, "GroupWorker",
                *map(str, args)]
    return cmd


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_members_join_leave_crash_exactly_once_and_admin(java, gbroker, workers, strategy):
    from confluent_kafka.admin import AdminClient, NewTopic

    topic, group, parts = f"j-orders-{strategy}", f"j-group-{strategy}", 4
    a = AdminClient({"bootstrap.servers": gbroker.bootstrap})
    a.create_topics([NewTopic(topic, num_partitions=parts, replication_factor=1)])[topic].result(30)

    def spawn():
        w = Worker(java("member", gbroker.bootstrap, group, topic, strategy), name=f"java-worker{len(workers) + 1}")
        workers.append(w)
        return w

    expected = produce(gbroker.bootstrap, topic, parts, 200, "a")
    w1, w2 = spawn(), spawn()
    wait_consumed(workers, 60)
    w3 = spawn()  # joins
    expected += produce(gbroker.bootstrap, topic, parts, 200, "b")
    wait_consumed(workers, 250)
    w1.send("idle")  # crashes
    w1.wait_line("IDLE")
    w1.kill9()
    expected += produce(gbroker.bootstrap, topic, parts, 200, "c")
    wait_consumed(workers, 400, timeout=120)
    wait_assigned([w2, w3])
    w2.stop()  # leaves
    wait_consumed(workers, len(expected), timeout=120)

    lines = [l.split() for l in run(java("admin", gbroker.bootstrap, group, topic), timeout=60).stdout.splitlines()]
    assert ["GROUP", group, "Stable"] in lines, lines
    [desc] = [l for l in lines if l[0] == "DESC"]
    assert desc[1:] == ["Stable", strategy, "1"], desc
    [member] = [l for l in lines if l[0] == "MEMBER"]
    assert member[3] == ",".join(str(p) for p in range(parts))
    committed = {int(l[1]): int(l[2]) for l in lines if l[0] == "OFFSET"}
    ends = {int(l[1]): int(l[2]) for l in lines if l[0] == "END"}
    assert {p: ends[p] - committed[p] for p in range(parts)} == {p: 0 for p in range(parts)}, lines

    assert run(java("delete", gbroker.bootstrap, group), timeout=60).stdout.split() == ["ERROR", "GroupNotEmptyException"]
    w3.stop()
    assert_exactly_once(workers, expected)
    assert run(java("delete", gbroker.bootstrap, group), timeout=60).stdout.split() == ["DELETED"]


def test_consumer_protocol_join_leave_crash_exactly_once(java, broker_factory, workers):
    """The Java client 3.9 with group.protocol=consumer (KIP-848, ConsumerGroupHeartbeat v0 with
    broker-generated member ids): a member joins, one crashes (kill -9, session expiry), one leaves."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from test_groups_consumer_protocol import SETTINGS

    broker = broker_factory(settings=SETTINGS)
    topic, group, parts = "j-kip848-orders", "j-kip848-group", 4
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic(topic, num_partitions=parts, replication_factor=1)])[topic].result(30)

    def spawn():
        w = Worker(java("member", broker.bootstrap, group, topic, "consumer"), name=f"java-worker{len(workers) + 1}")
        workers.append(w)
        return w

    expected = produce(broker.bootstrap, topic, parts, 200, "a")
    w1, w2 = spawn(), spawn()
    wait_consumed(workers, 60)
    w3 = spawn()  # joins
    expected += produce(broker.bootstrap, topic, parts, 200, "b")
    wait_consumed(workers, 250)
    w1.send("idle")  # crashes
    w1.wait_line("IDLE")
    w1.kill9()
    expected += produce(broker.bootstrap, topic, parts, 200, "c")
    wait_consumed(workers, 400, timeout=120)
    wait_assigned([w2, w3])
    w2.stop()  # leaves
    wait_consumed(workers, len(expected), timeout=120)
    w3.stop()
    assert_exactly_once(workers, expected)
    for w in (w1, w2, w3):
        assert w.assignments(), f"{w.name} never got an assignment\n{w.output()}"
