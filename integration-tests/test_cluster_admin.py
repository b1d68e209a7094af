"""The cluster-management keys a single node answers: DescribeTopicPartitions (KIP-966),
ElectLeaders, AlterPartitionReassignments, ListPartitionReassignments, DescribeQuorum.

Three ways in: the official Java AdminClient 3.9 (integration-tests/java/ClusterAdminChecks.java:
describeTopics pages through DescribeTopicPartitions, electLeaders, alterPartitionReassignments,
listPartitionReassignments, describeMetadataQuorum), kafka-python 3.x's admin calls, and raw
requests at every advertised version, encoded and decoded by kafka-python's message classes
(generated from Kafka's JSON definitions) over a plain socket (kafka_wire.KafkaConn), so each
version's wire format is checked on its own.
"""

from __future__ import annotations

import os
import uuid

import pytest
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.protocol.admin import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
    DescribeQuorumRequest,
    DescribeQuorumResponse,
    DescribeTopicPartitionsRequest,
    DescribeTopicPartitionsResponse,
    ElectLeadersRequest,
    ElectLeadersResponse,
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
)

from harness import INTEGRATION_DIR, run
from kafka_wire import KafkaConn
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REQUEST = 42
INVALID_REPLICA_ASSIGNMENT = 39
ELECTION_NOT_NEEDED = 84
NO_REASSIGNMENT_IN_PROGRESS = 85


def name(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def raw(conn: KafkaConn, request, response_class, version: int):
    """Send ``request`` at ``version`` and decode the answer with kafka-python's codec."""
    corr = conn.next_correlation_id()
    request.with_header(correlation_id=corr, client_id="sluice-cluster-admin")
    conn.send_raw(request.encode(version=version, header=True, framed=True))
    answer = response_class.decode(conn.recv_frame(), version=version, header=True)
    assert answer.header.correlation_id == corr
    return answer


def create(broker, topics: dict[str, int]) -> None:
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        a.create_topics([NewTopic(t, n, 1) for t, n in topics.items()])
    finally:
        a.close()


def test_api_versions_offers_the_cluster_keys(broker):
    with KafkaConn.to(broker.bootstrap) as c:
        keys = c.api_versions(3)["api_keys"]
    # key: (min, max) as Kafka 4.2 advertises them.
    for key, want in {43: (0, 2), 45: (0, 1), 46: (0, 0), 55: (0, 2), 75: (0, 0)}.items():
        assert keys[key] == want, (key, keys.get(key))


def test_java_admin_client_cluster_calls(broker, tmp_path):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    cp = os.pathsep.join(str(JAVA_LIB_DIR / j) for j in JARS)
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp,
             str(INTEGRATION_DIR / "java" / "ClusterAdminChecks.java"), broker.bootstrap, name("java-cluster")],
            timeout=180)
    lines = [l for l in r.stdout.splitlines() if l.startswith("OK ")]
    assert len(lines) == 12, r.stdout


def test_kafka_python_admin_cluster_calls(broker):
    a, b = name("kp-a"), name("kp-b")
    create(broker, {a: 3, b: 2})
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        # Page through both topics two partitions at a time, following the cursor.
        seen, cursor, pages = [], None, 0
        while True:
            page = admin.describe_topic_partitions([a, b], response_partition_limit=2, cursor=cursor)
            pages += 1
            for t in page["topics"]:
                assert t["error_code"] == NONE
                for p in t["partitions"]:
                    assert p["leader_id"] == 1 and p["replica_nodes"] == [1] and p["isr_nodes"] == [1]
                    seen.append((t["name"], p["partition_index"]))
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert pages < 10
        assert sorted(seen) == sorted([(a, 0), (a, 1), (a, 2), (b, 0), (b, 1)])
        assert pages == 3

        r = admin.elect_leaders(0, {a: [0, 1]}, raise_errors=False)
        codes = [(p.partition_id, p.error_code) for t in r.replica_election_results for p in t.partition_result]
        assert codes == [(0, ELECTION_NOT_NEEDED), (1, ELECTION_NOT_NEEDED)]

        moved = admin.alter_partition_reassignments({TopicPartition(a, 0): [1], TopicPartition(a, 1): [7]})
        assert moved[TopicPartition(a, 0)] is None
        assert moved[TopicPartition(a, 1)].errno == INVALID_REPLICA_ASSIGNMENT
        assert admin.list_partition_reassignments() == {}
        assert admin.list_partition_reassignments({a: [0, 1]}) == {}

        quorum = admin.describe_metadata_quorum()
        p = quorum["topics"][0]["partitions"][0]
        assert p["error"] is None and p["leader_id"] == 1
        assert [v["replica_id"] for v in p["current_voters"]] == [1] and p["observers"] == []
    finally:
        admin.close()


def test_raw_describe_topic_partitions_v0(broker):
    a, b = name("raw-a"), name("raw-b")
    create(broker, {a: 3, b: 1})
    T = DescribeTopicPartitionsRequest.TopicRequest
    C = DescribeTopicPartitionsRequest.Cursor
    with KafkaConn.to(broker.bootstrap) as c:
        r = raw(c, DescribeTopicPartitionsRequest(topics=[T(name=b), T(name=a), T(name="zz-nope-" + a)],
                                                  response_partition_limit=2, cursor=None),
                DescribeTopicPartitionsResponse, 0)
        assert [(t.name, t.error_code, [p.partition_index for p in t.partitions]) for t in r.topics] == \
            [(a, NONE, [0, 1])]
        assert (r.next_cursor.topic_name, r.next_cursor.partition_index) == (a, 2)
        r = raw(c, DescribeTopicPartitionsRequest(topics=[T(name=b), T(name=a), T(name="zz-nope-" + a)],
                                                  response_partition_limit=2,
                                                  cursor=C(topic_name=a, partition_index=2)),
                DescribeTopicPartitionsResponse, 0)
        assert [(t.name, t.error_code, [p.partition_index for p in t.partitions]) for t in r.topics] == \
            [(a, NONE, [2]), (b, NONE, [0])]
        assert (r.next_cursor.topic_name, r.next_cursor.partition_index) == ("zz-nope-" + a, 0)
        r = raw(c, DescribeTopicPartitionsRequest(topics=[T(name=b), T(name=a), T(name="zz-nope-" + a)],
                                                  response_partition_limit=2,
                                                  cursor=C(topic_name="zz-nope-" + a, partition_index=0)),
                DescribeTopicPartitionsResponse, 0)
        assert [(t.name, t.error_code) for t in r.topics] == [("zz-nope-" + a, UNKNOWN_TOPIC_OR_PARTITION)]
        assert r.next_cursor is None
        # A cursor naming a topic that is not in the list is a bad request.
        r = raw(c, DescribeTopicPartitionsRequest(topics=[T(name=a)], response_partition_limit=10,
                                                  cursor=C(topic_name=b, partition_index=0)),
                DescribeTopicPartitionsResponse, 0)
        assert [(t.name, t.error_code) for t in r.topics] == [(a, INVALID_REQUEST)]


@pytest.mark.parametrize("version", [0, 1, 2])
def test_raw_elect_leaders(broker, version):
    a = name("elect")
    create(broker, {a: 2})
    TP = ElectLeadersRequest.TopicPartitions
    with KafkaConn.to(broker.bootstrap) as c:
        r = raw(c, ElectLeadersRequest(election_type=0, timeout_ms=5000,
                                       topic_partitions=[TP(topic=a, partitions=[0, 1, 5])]),
                ElectLeadersResponse, version)
        if version >= 1:
            assert r.error_code == NONE
        [t] = r.replica_election_results
        assert [(p.partition_id, p.error_code) for p in t.partition_result] == \
            [(0, ELECTION_NOT_NEEDED), (1, ELECTION_NOT_NEEDED), (5, UNKNOWN_TOPIC_OR_PARTITION)]
        # Null partitions: every topic, with the partitions that need no election left out.
        r = raw(c, ElectLeadersRequest(election_type=0, timeout_ms=5000, topic_partitions=None),
                ElectLeadersResponse, version)
        assert a in [t.topic for t in r.replica_election_results]
        assert all(t.partition_result == [] for t in r.replica_election_results)


@pytest.mark.parametrize("version", [0, 1])
def test_raw_partition_reassignments(broker, version):
    a = name("move")
    create(broker, {a: 2})
    RT = AlterPartitionReassignmentsRequest.ReassignableTopic
    RP = RT.ReassignablePartition
    with KafkaConn.to(broker.bootstrap) as c:
        r = raw(c, AlterPartitionReassignmentsRequest(timeout_ms=5000, topics=[RT(name=a, partitions=[
            RP(partition_index=0, replicas=[1]),
            RP(partition_index=1, replicas=[1, 2]),
            RP(partition_index=1, replicas=None),
        ])]), AlterPartitionReassignmentsResponse, version)
        assert r.error_code == NONE
        assert [p.error_code for p in r.responses[0].partitions] == \
            [NONE, INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS]
        LT = ListPartitionReassignmentsRequest.ListPartitionReassignmentsTopics
        for topics in (None, [LT(name=a, partition_indexes=[0, 1])]):
            r = raw(c, ListPartitionReassignmentsRequest(timeout_ms=5000, topics=topics),
                    ListPartitionReassignmentsResponse, 0)
            assert r.error_code == NONE and r.topics == []


@pytest.mark.parametrize("version", [0, 1, 2])
def test_raw_describe_quorum(broker, version):
    TD = DescribeQuorumRequest.TopicData
    PD = TD.PartitionData
    with KafkaConn.to(broker.bootstrap) as c:
        r = raw(c, DescribeQuorumRequest(topics=[TD(topic_name="__cluster_metadata",
                                                    partitions=[PD(partition_index=0)])]),
                DescribeQuorumResponse, version)
        assert r.error_code == NONE
        [t] = r.topics
        [p] = t.partitions
        assert (t.topic_name, p.partition_index, p.error_code, p.leader_id) == ("__cluster_metadata", 0, NONE, 1)
        assert [v.replica_id for v in p.current_voters] == [1] and p.observers == []
        # No metadata log: the high watermark counts metadata changes (none yet here).
        assert p.high_watermark == 0 and p.current_voters[0].log_end_offset == 0
        if version >= 2:
            assert [n.node_id for n in r.nodes] == [1]
            assert r.nodes[0].listeners[0].port == broker.port
        r = raw(c, DescribeQuorumRequest(topics=[TD(topic_name="other", partitions=[PD(partition_index=0)])]),
                DescribeQuorumResponse, version)
        assert r.topics[0].partitions[0].error_code == UNKNOWN_TOPIC_OR_PARTITION
