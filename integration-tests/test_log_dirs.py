"""Several log directories (`log.dirs`, Kafka's JBOD), driven by real clients against the
real binary started with two directories.

The official Java AdminClient 3.9 (integration-tests/java/LogDirChecks.java) moves a partition
with alterReplicaLogDirs and follows it with describeLogDirs and describeReplicaLogDirs.
kafka-python 3.x's admin client places and moves partitions (`alter_replica_log_dirs`,
AlterReplicaLogDirs) and reads where they are (`describe_log_dirs`, DescribeLogDirs) while
confluent-kafka (librdkafka) produces with idempotence and acks=all. The broker is then
killed with SIGKILL right after a second move was asked for (so anywhere in the move, or
after it), started again, and every acknowledged record must be there exactly once, the
partition in exactly one directory, and producing and consuming must go on.
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from kafka import TopicPartitionReplica
from kafka.admin import KafkaAdminClient, NewTopic

from kafka.protocol.admin import (
    AlterReplicaLogDirsRequest,
    AlterReplicaLogDirsResponse,
    DescribeLogDirsRequest,
    DescribeLogDirsResponse,
)

from harness import INTEGRATION_DIR, Broker, run, wait_until
from kafka_wire import KafkaConn
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS

pytestmark = pytest.mark.on_disk

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
LOG_DIR_NOT_FOUND = 57


class TwoDirBroker(Broker):
    """A broker on `log.dirs=A,B` instead of the harness's single `--data-dir`."""

    def __init__(self, dirs, **kw):
        super().__init__(dirs[0], in_memory=False, **kw)
        self.log_dirs = [str(d) for d in dirs]

    def command(self) -> list[str]:
        cmd = super().command()
        i = cmd.index("--data-dir")
        del cmd[i : i + 2]
        return cmd + ["--set", "log.dirs=" + ",".join(self.log_dirs)]


def where(admin: KafkaAdminClient, topic: str) -> dict[tuple[int, bool], list[str]]:
    """(partition, is_future) -> the log dirs DescribeLogDirs lists it in."""
    out: dict[tuple[int, bool], list[str]] = {}
    for broker in admin.describe_log_dirs():
        for d in broker["log_dirs"]:
            assert d["error_code"] == NONE, d
            assert d["total_bytes"] > 0 and 0 <= d["usable_bytes"] <= d["total_bytes"], d
            for t in d["topics"]:
                if t["name"] != topic:
                    continue
                for p in t["partitions"]:
                    out.setdefault((p["partition_index"], p["is_future_key"]), []).append(d["log_dir"])
    return out


def alter(admin: KafkaAdminClient, topic: str, partition: int, dest: str) -> int:
    result = admin.alter_replica_log_dirs({TopicPartitionReplica(topic, partition, 1): dest})
    (error,) = result.values()
    return error.errno


def test_partitions_are_placed_and_moved_under_load_and_survive_kill9(tmp_path):
    dirs = [os.path.realpath(tmp_path / "dir-a"), os.path.realpath(tmp_path / "dir-b")]
    broker = TwoDirBroker(dirs)
    broker.start()
    admin = producer = None
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
        topic = f"moving-{uuid.uuid4().hex[:8]}"
        spread = f"spread-{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(topic, 1, 1)])
        admin.create_topics([NewTopic(spread, 4, 1)])
        # Placement: each new partition on the directory with the fewest.
        assert where(admin, topic) == {(0, False): [dirs[0]]}
        placed = where(admin, spread)
        per_dir = {d: sum(1 for v in placed.values() if v == [d]) for d in dirs}
        assert per_dir == {dirs[0]: 2, dirs[1]: 2}, placed
        for (p, _), (d,) in placed.items():
            assert os.path.isdir(os.path.join(d, f"{spread}-{p}"))

        # Kafka's errors.
        assert alter(admin, topic, 0, str(tmp_path / "not-a-log-dir")) == LOG_DIR_NOT_FOUND
        assert alter(admin, topic, 7, dirs[1]) == UNKNOWN_TOPIC_OR_PARTITION
        assert alter(admin, "no-such-topic", 0, dirs[1]) == UNKNOWN_TOPIC_OR_PARTITION

        acked: list[str] = []
        failed: list[str] = []
        lock = threading.Lock()

        def delivered(err, msg):
            with lock:
                (failed if err else acked).append(msg.value().decode())

        producer = Producer({
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "message.timeout.ms": 60000,
        })
        stop = threading.Event()
        padding = "x" * 1000

        def produce():
            i = 0
            while not stop.is_set():
                try:
                    producer.produce(topic, value=f"{i:08d}-{padding}".encode(), on_delivery=delivered)
                    i += 1
                except BufferError:
                    pass
                producer.poll(0.001 if i % 50 else 0.01)

        writer = threading.Thread(target=produce, daemon=True)
        writer.start()
        wait_until(lambda: len(acked) >= 2000, timeout=60, message="the producer gets going")

        # Move A -> B while the producer writes.
        assert alter(admin, topic, 0, dirs[1]) == NONE
        wait_until(lambda: where(admin, topic) == {(0, False): [dirs[1]]}, timeout=60,
                   message="the partition reaches the second directory")
        assert not os.path.exists(os.path.join(dirs[0], f"{topic}-0"))
        wait_until(lambda: len(acked) >= 4000, timeout=60, message="produce continues after the move")

        # Ask for the move back, and crash at once: anywhere in it.
        assert alter(admin, topic, 0, dirs[0]) == NONE
        broker.kill9()
        admin.close()
        admin = None
        broker.start(timeout=60)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
        found = where(admin, topic)
        assert list(found) == [(0, False)] and len(found[(0, False)]) == 1, found
        (home,) = found[(0, False)]
        assert not any(
            os.path.exists(os.path.join(d, f"{topic}-0")) for d in dirs if d != home
        ), "the partition is in one directory only"
        assert not [n for d in dirs for n in os.listdir(d) if n.endswith("-future")]

        stop.set()
        writer.join(timeout=30)
        assert producer.flush(60) == 0
        producer = None
        with lock:
            acked_now = list(acked)
        assert len(acked_now) >= 4000

        # Every acknowledged record exactly once; consumption goes on.
        consumer = Consumer({
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })
        try:
            consumer.subscribe([topic])
            seen: dict[str, int] = {}
            offsets: list[int] = []

            def drain():
                for m in consumer.consume(num_messages=2000, timeout=1):
                    if m.error():
                        continue
                    v = m.value().decode()
                    seen[v] = seen.get(v, 0) + 1
                    offsets.append(m.offset())
                return all(v in seen for v in acked_now)

            wait_until(drain, timeout=90, message="every acknowledged record is read back")
            assert all(seen[v] == 1 for v in acked_now), "no acknowledged record twice"
            assert offsets == list(range(len(offsets))), "offsets follow one another"

            after = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
            for i in range(10):
                after.produce(topic, value=f"after-{i}".encode())
            assert after.flush(30) == 0
            wait_until(lambda: (drain(), all(f"after-{i}" in seen for i in range(10)))[1],
                       timeout=60, message="records produced after the restart are consumed")
        finally:
            consumer.close()

        # A move that completed survives kill -9 where it went.
        other = next(d for d in dirs if d != home)
        assert alter(admin, topic, 0, other) == NONE
        wait_until(lambda: where(admin, topic) == {(0, False): [other]}, timeout=60,
                   message="the partition moves back")
        broker.kill9()
        admin.close()
        admin = None
        broker.start(timeout=60)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
        assert where(admin, topic) == {(0, False): [other]}
        reader = Consumer({
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        })
        try:
            reader.subscribe([topic])
            values: list[str] = []

            def read_all():
                values.extend(m.value().decode() for m in reader.consume(2000, timeout=1) if not m.error())
                return len(values) >= len(offsets)

            wait_until(read_all, timeout=90, message="everything is read back after the second crash")
            assert sorted(values) == sorted(v for v, n in seen.items() for _ in range(n)), \
                "the same records as before the move and the crash"
        finally:
            reader.close()
    finally:
        if producer is not None:
            producer.flush(1)
        if admin is not None:
            admin.close()
        if broker.is_running():
            broker.stop()


def test_java_admin_client_moves_a_partition(tmp_path):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    dirs = [os.path.realpath(tmp_path / "dir-a"), os.path.realpath(tmp_path / "dir-b")]
    broker = TwoDirBroker(dirs)
    broker.start()
    try:
        topic = f"java-moving-{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
        admin.create_topics([NewTopic(topic, 1, 1)])
        admin.close()
        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
        for i in range(200):
            producer.produce(topic, value=f"{i}".encode())
        assert producer.flush(30) == 0
        cp = os.pathsep.join(str(JAVA_LIB_DIR / j) for j in JARS)
        r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp,
                 str(INTEGRATION_DIR / "java" / "LogDirChecks.java"), broker.bootstrap, topic],
                timeout=180)
        lines = [line for line in r.stdout.splitlines() if line.startswith("OK ")]
        assert len(lines) == 7, r.stdout
    finally:
        broker.stop()


def raw(conn: KafkaConn, request, response_class, version: int):
    """Send ``request`` at ``version`` and decode the answer with kafka-python's codec."""
    corr = conn.next_correlation_id()
    request.with_header(correlation_id=corr, client_id="sluice-log-dirs")
    conn.send_raw(request.encode(version=version, header=True, framed=True))
    answer = response_class.decode(conn.recv_frame(), version=version, header=True)
    assert answer.header.correlation_id == corr
    return answer


def test_every_version_raw(tmp_path):
    """AlterReplicaLogDirs v1-2 and DescribeLogDirs v1-4, each version's wire format."""
    dirs = [os.path.realpath(tmp_path / "dir-a"), os.path.realpath(tmp_path / "dir-b")]
    broker = TwoDirBroker(dirs)
    broker.start()
    try:
        topic = f"raw-{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
        admin.create_topics([NewTopic(topic, 1, 1)])
        admin.close()
        Dir = AlterReplicaLogDirsRequest.AlterReplicaLogDir
        Topic = Dir.AlterReplicaLogDirTopic
        with KafkaConn.to(broker.bootstrap) as c:
            for v in range(1, 3):  # v0 went with Kafka 4.0 (KIP-896), as here
                req = AlterReplicaLogDirsRequest(dirs=[
                    Dir(path=dirs[0], topics=[Topic(name=topic, partitions=[0, 5])]),
                    Dir(path=dirs[0] + "-nope", topics=[Topic(name=topic, partitions=[0])]),
                ])
                answer = raw(c, req, AlterReplicaLogDirsResponse, v)
                codes = sorted((r.topic_name, p.partition_index, p.error_code)
                               for r in answer.results for p in r.partitions)
                # Already there (NONE), no partition 5, and a directory not in log.dirs.
                assert codes == sorted([(topic, 0, NONE), (topic, 5, UNKNOWN_TOPIC_OR_PARTITION),
                                        (topic, 0, LOG_DIR_NOT_FOUND)]), (v, codes)
            for v in range(1, 5):
                answer = raw(c, DescribeLogDirsRequest(topics=None), DescribeLogDirsResponse, v)
                assert sorted(r.log_dir for r in answer.results) == sorted(dirs), v
                held = [r.log_dir for r in answer.results for t in r.topics if t.name == topic]
                assert held == [dirs[0]], (v, held)
                if v >= 4:
                    assert all(r.total_bytes > 0 for r in answer.results)
    finally:
        broker.stop()
