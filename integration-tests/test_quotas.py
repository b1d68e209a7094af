"""Client quotas (DescribeClientQuotas, AlterClientQuotas) and their enforcement, against the
real broker: the official Java AdminClient alters and describes quotas (entity types, defaults,
strict and non-strict filters, validateOnly, Kafka's errors for bad keys, values and entity
types, and a CreateTopics over controller_mutation_rate refused with THROTTLING_QUOTA_EXCEEDED); `sluice quota` sets them the kafka-configs way; confluent-kafka producers and consumers
with a byte-rate quota are throttled (the broker's answers carry throttle_time_ms, seen in
librdkafka's statistics, and their throughput stays near the quota) while a client without a
quota on the same broker is not; quotas survive kill -9.

No test asserts a lower bound on speed: a loaded machine only makes the throttled clients
slower, so the upper bounds (generous multiples of the quota) cannot flake.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from harness import INTEGRATION_DIR, Broker, run, sluice_bin
from kafka_wire import KafkaConn
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS

# Short windows so a test needs little data to go over its quota: the burst a client gets
# before throttling is about quota x (quota.window.num - 1) x window.
QUOTA_SETTINGS = {"quota.window.num": 2, "quota.window.size.seconds": 1}
RATE = 100_000  # bytes/s
TOTAL = 400_000  # bytes of record values per test
VALUE = b"q" * 1000


def sluice(b: Broker, *args, check=True):
    return run([str(sluice_bin()), "quota", "-b", b.bootstrap, *args], timeout=60, check=check)


class Throttles:
    """librdkafka's statistics: the largest throttle_time_ms any broker answer carried."""

    def __init__(self):
        self.max_ms = 0
        self.count = 0

    def __call__(self, stats_json: str):
        stats = json.loads(stats_json)
        for b in stats.get("brokers", {}).values():
            t = b.get("throttle") or {}
            self.max_ms = max(self.max_ms, t.get("max", 0))
            self.count += t.get("cnt", 0) if t.get("max", 0) > 0 else 0


def produce(b: Broker, topic: str, client_id: str) -> tuple[float, Throttles]:
    throttles = Throttles()
    p = Producer({"bootstrap.servers": b.bootstrap, "client.id": client_id, "linger.ms": 5,
                  "batch.size": 16384, "statistics.interval.ms": 200, "stats_cb": throttles,
                  "compression.type": "none"})
    start = time.monotonic()
    for _ in range(TOTAL // len(VALUE)):
        while True:
            try:
                p.produce(topic, VALUE)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(120) == 0
    elapsed = time.monotonic() - start
    # One more statistics interval, so the last answers' throttle times are reported.
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        p.poll(0.1)
    return elapsed, throttles


def consume(b: Broker, topic: str, client_id: str) -> tuple[float, Throttles]:
    throttles = Throttles()
    c = Consumer({"bootstrap.servers": b.bootstrap, "client.id": client_id,
                  "group.id": f"g-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
                  "statistics.interval.ms": 200, "stats_cb": throttles,
                  "fetch.max.bytes": 1 << 20, "max.partition.fetch.bytes": 1 << 20})
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    start = time.monotonic()
    deadline = start + 120
    while got < TOTAL // len(VALUE) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got += 1
    elapsed = time.monotonic() - start
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        c.poll(0.1)
    c.close()
    assert got == TOTAL // len(VALUE)
    return elapsed, throttles


@pytest.fixture
def qbroker(broker_factory) -> Broker:
    return broker_factory(settings=QUOTA_SETTINGS)


def test_java_admin_alters_and_describes_client_quotas(broker, tmp_path):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    cp = os.pathsep.join(str(JAVA_LIB_DIR / j) for j in JARS)
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp,
             str(INTEGRATION_DIR / "java" / "QuotaChecks.java"), broker.bootstrap], timeout=180)
    lines = [line for line in r.stdout.splitlines() if line.startswith("OK ")]
    assert len(lines) == 17, r.stdout


def test_cli_quotas_and_bad_entity_types(broker):
    sluice(broker, "alter", "--entity-type", "users", "--entity-name", "alice",
           "--add-config", "producer_byte_rate=1024,consumer_byte_rate=2048")
    sluice(broker, "alter", "--user", "alice", "--client-defaults", "--add-config", "request_percentage=25")
    out = sluice(broker, "describe").stdout
    assert "producer_byte_rate" in out and "<default>" in out and "request_percentage" in out, out
    out = sluice(broker, "describe", "--entity-type", "users", "--entity-name", "alice").stdout
    assert "producer_byte_rate" in out and "request_percentage" not in out, out
    bad = sluice(broker, "alter", "--entity-type", "users", "--entity-name", "alice",
                 "--add-config", "bogus_rate=5", check=False)
    assert bad.returncode != 0 and "INVALID_REQUEST" in bad.stderr, bad.stderr
    sluice(broker, "alter", "--entity-type", "users", "--entity-name", "alice", "--delete-config",
           "producer_byte_rate,consumer_byte_rate")
    out = sluice(broker, "describe", "--entity-type", "users", "--entity-name", "alice").stdout
    assert "producer_byte_rate" not in out, out


def test_producer_over_its_quota_is_throttled_and_others_are_not(qbroker):
    b = qbroker
    topic = f"quota-p-{uuid.uuid4().hex[:6]}"
    run([str(sluice_bin()), "topic", "-b", b.bootstrap, "create", topic, "--partitions", "1"], timeout=60)
    sluice(b, "alter", "--entity-type", "clients", "--entity-name", "slow-producer",
           "--add-config", f"producer_byte_rate={RATE}")

    _, free = produce(b, topic, "free-producer")
    assert free.max_ms == 0, "a client without a quota is never throttled"

    elapsed, throttled = produce(b, topic, "slow-producer")
    assert throttled.max_ms > 0, "answers to the client over its quota carry throttle_time_ms"
    rate = TOTAL / elapsed
    # The burst allowance (about one window's worth) is what lets it exceed RATE at all.
    assert rate < 3 * RATE, f"{rate:.0f} B/s against a quota of {RATE} B/s"


def test_consumer_over_its_quota_is_throttled(qbroker):
    b = qbroker
    topic = f"quota-c-{uuid.uuid4().hex[:6]}"
    run([str(sluice_bin()), "topic", "-b", b.bootstrap, "create", topic, "--partitions", "1"], timeout=60)
    produce(b, topic, "loader")
    sluice(b, "alter", "--user-defaults", "--client", "slow-consumer", "--add-config", f"consumer_byte_rate={RATE}")

    elapsed, throttled = consume(b, topic, "slow-consumer")
    assert throttled.max_ms > 0, "fetch answers to the client over its quota carry throttle_time_ms"
    rate = TOTAL / elapsed
    assert rate < 3 * RATE, f"{rate:.0f} B/s against a quota of {RATE} B/s"


def test_request_percentage_throttles_a_busy_client_on_the_wire(qbroker):
    """request_percentage=0.001 is 10 us of handler time per second: a few Metadata requests go
    over it whatever the machine's speed, and the answer says so in throttle_time_ms."""
    b = qbroker
    sluice(b, "alter", "--client", "busy-client", "--add-config", "request_percentage=0.001")
    throttles = []
    with KafkaConn.to(b.bootstrap, client_id="busy-client") as conn:
        # Stops at the first throttled answer: the connection is muted after it.
        for _ in range(50):
            t = conn.metadata(None)["throttle_time_ms"]
            throttles.append(t)
            if t > 0:
                break
    assert throttles[-1] > 0, throttles
    with KafkaConn.to(b.bootstrap, client_id="other-client") as conn:
        assert [conn.metadata(None)["throttle_time_ms"] for _ in range(10)] == [0] * 10


def test_the_number_of_quota_entities_is_bounded(broker_factory):
    b = broker_factory(settings={"sluice.quota.max.entities": 2})
    sluice(b, "alter", "--user", "u1", "--add-config", "producer_byte_rate=1000")
    sluice(b, "alter", "--client-defaults", "--add-config", "consumer_byte_rate=1000")
    refused = sluice(b, "alter", "--user", "u3", "--add-config", "producer_byte_rate=1000", check=False)
    assert refused.returncode != 0 and "POLICY_VIOLATION" in refused.stderr, refused.stderr
    # Existing entities can still be changed, and removing one makes room.
    sluice(b, "alter", "--user", "u1", "--add-config", "producer_byte_rate=2000")
    sluice(b, "alter", "--user", "u1", "--delete-config", "producer_byte_rate")
    sluice(b, "alter", "--user", "u3", "--add-config", "producer_byte_rate=1000")


def test_quotas_survive_kill9(broker_factory):
    b = broker_factory(in_memory=False)
    sluice(b, "alter", "--entity-type", "users", "--entity-name", "bob", "--add-config",
           "producer_byte_rate=4096,controller_mutation_rate=2.5")
    b.kill9()
    b.start()
    out = sluice(b, "describe", "--entity-type", "users", "--entity-name", "bob").stdout
    assert "4096" in out and "2.5" in out, out
