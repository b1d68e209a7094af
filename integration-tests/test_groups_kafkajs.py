"""Consumer groups with kafkajs 2.2 against the real broker (integration-tests/groups/kafkajs_worker.js).

Members are separate node processes speaking groups_common.Worker's protocol; each commits a record
before reporting it, and every record must be consumed exactly once across a member joining, one
leaving and one crashing (kill -9, session timeout). Admin: listGroups, describeGroups, fetchOffsets
(lag against fetchTopicOffsets), deleteGroups.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from groups_common import Worker, assert_exactly_once, produce, wait_consumed
from harness import INTEGRATION_DIR, run

SCRIPT = INTEGRATION_DIR / "groups" / "kafkajs_worker.js"
NODE_MODULES = INTEGRATION_DIR / "node" / "node_modules"
ENV = {"NODE_PATH": str(NODE_MODULES)}


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    assert exe, "node is not installed"
    assert (NODE_MODULES / "kafkajs").is_dir(), "kafkajs missing: run scripts/install-test-deps.sh"
    return exe


def spawn(node, workers, broker, group, topic):
    w = Worker([node, SCRIPT, broker.bootstrap, "member", group, topic], name=f"js-worker{len(workers) + 1}", env=ENV)
    workers.append(w)
    return w


def js(node, broker, *args):
    r = run([node, SCRIPT, broker.bootstrap, *args], timeout=60, env=ENV, tail_lines=80)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_members_join_leave_crash_exactly_once_and_admin(node, gbroker, workers):
    from confluent_kafka.admin import AdminClient, NewTopic

    topic, group, parts = "js-orders", "js-group", 4
    a = AdminClient({"bootstrap.servers": gbroker.bootstrap})
    a.create_topics([NewTopic(topic, num_partitions=parts, replication_factor=1)])[topic].result(30)
    expected = produce(gbroker.bootstrap, topic, parts, 200, "a")
    w1, w2 = spawn(node, workers, gbroker, group, topic), spawn(node, workers, gbroker, group, topic)
    wait_consumed(workers, 60)
    w3 = spawn(node, workers, gbroker, group, topic)  # joins
    expected += produce(gbroker.bootstrap, topic, parts, 200, "b")
    wait_consumed(workers, 250)
    w1.send("idle")  # crashes
    w1.wait_line("IDLE")
    w1.kill9()
    expected += produce(gbroker.bootstrap, topic, parts, 200, "c")
    wait_consumed(workers, 400)
    w2.stop()  # leaves
    wait_consumed(workers, len(expected), timeout=120)

    info = js(node, gbroker, "admin", group, topic)
    assert {"groupId": group, "protocolType": "consumer"} in info["groups"]["groups"]
    [desc] = info["describe"]["groups"]
    assert desc["state"] == "Stable" and len(desc["members"]) == 1, desc
    ends = {int(p["partition"]): int(p["offset"]) for p in info["topicOffsets"]}
    committed = {int(p["partition"]): int(p["offset"]) for p in info["offsets"][0]["partitions"]}
    assert {p: ends[p] - committed[p] for p in ends} == {p: 0 for p in range(parts)}, "lag after consuming all"

    assert js(node, gbroker, "delete", group)["error"] == "KafkaJSDeleteGroupsError"
    w3.stop()
    assert_exactly_once(workers, expected)
    assert js(node, gbroker, "delete", group)["deleted"] == [{"groupId": group, "errorCode": 0}]
