"""Client telemetry (KIP-714): client-metrics subscriptions set and read as CLIENT_METRICS
config resources (kafka-python's admin client: IncrementalAlterConfigs, DescribeConfigs,
ListConfigResources; confluent-kafka's admin has no CLIENT_METRICS resource type), kept
across kill -9; a real confluent-kafka producer (librdkafka 2.16) that asks for its
subscription, pushes its metrics, and finds them re-exported on /metrics with its client_id;
and the broker's error answers to raw GetTelemetrySubscriptions / PushTelemetry requests
(too large, unknown subscription id, pushed too early, after a terminating push); and the
official Java client 3.9 (integration-tests/java/TelemetryChecks.java) setting, reading and
listing a subscription with its AdminClient, then pushing from a producer.

Push intervals are short (interval.ms 500-1000) to keep the file within a few seconds.
"""

from __future__ import annotations

import base64
import gzip
import os
import struct
import time
import urllib.request
import uuid

from confluent_kafka import Producer
from kafka.admin import KafkaAdminClient
from kafka.admin._configs import ConfigResource, ConfigResourceType
from prometheus_client.parser import text_string_to_metric_families

from harness import INTEGRATION_DIR, free_port, run, wait_until
from kafka_wire import TAGS, KafkaConn, Reader, compact_bytes, i8, i32, request, uuid_bytes
from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS

GET_TELEMETRY_SUBSCRIPTIONS = 71
PUSH_TELEMETRY = 72
LIST_CONFIG_RESOURCES = 74

NONE = 0
INVALID_REQUEST = 42
INVALID_RECORD = 87
THROTTLING_QUOTA_EXCEEDED = 89
UNKNOWN_SUBSCRIPTION_ID = 117
TELEMETRY_TOO_LARGE = 118

CLIENT_METRICS = ConfigResourceType.CLIENT_METRICS


def telemetry_broker(broker_factory, **settings):
    http_port = free_port()
    b = broker_factory(settings={"sluice.http.listen": f"127.0.0.1:{http_port}", **settings}, in_memory=False)
    return b, f"http://127.0.0.1:{http_port}/metrics"


def admin(broker) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)


def subscribe(broker, name: str, configs: dict) -> str:
    a = admin(broker)
    try:
        out = a.alter_configs(
            [ConfigResource(CLIENT_METRICS, name, configs)], raise_on_unknown=False, incremental=True
        )
    finally:
        a.close()
    return out["client_metrics"][name]


def scrape(url: str) -> dict:
    """{metric name: [(labels, value)]} of one /metrics scrape."""
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out: dict = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def kafka_uuid(u: uuid.UUID) -> str:
    """A Uuid as Kafka prints it: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(u.bytes).decode().rstrip("=")


# -- raw requests --------------------------------------------------------------------------------


def call(conn: KafkaConn, api_key: int, body: bytes) -> Reader:
    """One flexible v0 request; the reader is past the response header."""
    corr = conn.next_correlation_id()
    conn.send_raw(request(api_key, 0, corr, body, client_id=conn.client_id, flexible=True))
    r = Reader(conn.recv_frame())
    assert r.i32() == corr
    r.tagged_fields()
    return r


def get_subscriptions(conn: KafkaConn, instance=None) -> dict:
    r = call(conn, GET_TELEMETRY_SUBSCRIPTIONS, uuid_bytes(instance) + TAGS)
    out = {
        "throttle_time_ms": r.i32(),
        "error_code": r.i16(),
        "client_instance_id": uuid.UUID(bytes=r.uuid()),
        "subscription_id": r.i32(),
        "accepted_compression_types": r.compact_array(lambda r: r.i8()),
        "push_interval_ms": r.i32(),
        "telemetry_max_bytes": r.i32(),
        "delta_temporality": r.boolean(),
        "requested_metrics": r.compact_array(lambda r: r.compact_string()),
    }
    r.tagged_fields()
    return out


def push(conn: KafkaConn, sub: dict, metrics: bytes, *, terminating=False, compression=0, subscription_id=None) -> int:
    sid = sub["subscription_id"] if subscription_id is None else subscription_id
    body = (
        uuid_bytes(sub["client_instance_id"])
        + i32(sid)
        + (b"\x01" if terminating else b"\x00")
        + i8(compression)
        + compact_bytes(metrics)
        + TAGS
    )
    r = call(conn, PUSH_TELEMETRY, body)
    r.i32()
    return r.i16()


def list_config_resources(conn: KafkaConn, version: int, types=()) -> tuple[int, list]:
    corr = conn.next_correlation_id()
    body = b"" if version == 0 else bytes([len(types) + 1]) + b"".join(i8(t) for t in types)
    conn.send_raw(request(LIST_CONFIG_RESOURCES, version, corr, body + TAGS, client_id=conn.client_id, flexible=True))
    r = Reader(conn.recv_frame())
    assert r.i32() == corr
    r.tagged_fields()
    r.i32()
    error = r.i16()

    def resource(r):
        name = r.compact_string()
        rtype = r.i8() if version >= 1 else 16
        r.tagged_fields()
        return (rtype, name)

    return error, r.compact_array(resource)


# A hand-encoded OTLP MetricsData (protobuf) with one gauge data point.


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def otlp_gauge(name: str, value: float, attributes: dict) -> bytes:
    attrs = b"".join(_field(7, _field(1, k.encode()) + _field(2, _field(1, v.encode()))) for k, v in attributes.items())
    point = _varint(4 << 3 | 1) + struct.pack("<d", value) + attrs
    metric = _field(1, name.encode()) + _field(5, _field(1, point))
    return _field(1, _field(2, _field(2, metric)))


# -- tests ---------------------------------------------------------------------------------------


def test_librdkafka_pushes_and_the_metrics_are_reexported(broker_factory):
    broker, metrics_url = telemetry_broker(broker_factory)
    assert subscribe(
        broker, "producers", {"metrics": "org.apache.kafka.producer.", "interval.ms": "1000", "match": "client_id=telemetry-.*"}
    ) == "OK"
    a = admin(broker)
    try:
        described = a.describe_configs([ConfigResource(CLIENT_METRICS, "producers")])
        assert {k: v["value"] for k, v in described["client_metrics"]["producers"].items()} == {
            "metrics": "org.apache.kafka.producer.",
            "interval.ms": "1000",
            "match": "client_id=telemetry-.*",
        }
        assert a.list_config_resources(["CLIENT_METRICS"]) == {"client_metrics": ["producers"]}
    finally:
        a.close()

    p = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "telemetry-producer", "linger.ms": 5})
    try:
        def pushed():
            for i in range(20):
                p.produce("telemetry-topic", value=f"v{i}".encode())
            p.poll(0.2)
            series = scrape(metrics_url)
            mine = [
                (name, labels)
                for name, samples in series.items()
                for labels, _ in samples
                if labels.get("client_id") == "telemetry-producer"
            ]
            return mine or None

        mine = wait_until(pushed, timeout=30, message="librdkafka's pushed metrics on /metrics")
        names = {n for n, _ in mine}
        assert all(n.startswith("org_apache_kafka_producer_") for n in names), names
        # Kafka prints a Uuid as unpadded URL-safe base64 (22 characters).
        assert all(len(labels["client_instance_id"]) == 22 for _, labels in mine)
        assert p.flush(30) == 0
    finally:
        p.flush(10)


def test_subscriptions_survive_kill9_and_list_config_resources(broker_factory):
    broker, _ = telemetry_broker(broker_factory)
    assert subscribe(broker, "all", {"metrics": "*", "interval.ms": "500"}) == "OK"
    assert subscribe(broker, "gone", {"metrics": "x."}) == "OK"
    # APPEND to a list, then delete every setting of one resource: it disappears.
    assert subscribe(broker, "all", {"match": ("APPEND", "client_software_name=raw")}) == "OK"
    assert subscribe(broker, "gone", {"metrics": ("DELETE", None)}) == "OK"
    # Kafka's validation: an interval out of bounds, an unknown name, a bad pattern.
    assert "InvalidRequest" in subscribe(broker, "bad", {"interval.ms": "50"})
    assert "InvalidRequest" in subscribe(broker, "bad", {"nope": "1"})
    assert "InvalidConfig" in subscribe(broker, "bad", {"match": "client_rack=a"})
    broker.kill9()
    broker.start()
    a = admin(broker)
    try:
        described = a.describe_configs([ConfigResource(CLIENT_METRICS, "all")])["client_metrics"]["all"]
        assert described["match"]["value"] == "client_software_name=raw"
        assert described["interval.ms"]["value"] == "500"
    finally:
        a.close()
    with KafkaConn.to(broker.bootstrap) as c:
        assert list_config_resources(c, 0) == (NONE, [(16, "all")])
        err, listed = list_config_resources(c, 1, [16, 2])
        assert err == NONE and (16, "all") in listed
        # No type named: every type, this node as BROKER and BROKER_LOGGER among them.
        err, listed = list_config_resources(c, 1)
        assert err == NONE and {4, 8, 16} <= {t for t, _ in listed}
        # A type Kafka does not list (TRANSACTIONAL_ID is not a config resource).
        assert list_config_resources(c, 1, [3])[0] != NONE


def test_raw_telemetry_errors_and_a_raw_push(broker_factory):
    broker, metrics_url = telemetry_broker(broker_factory, **{"telemetry.max.bytes": 2048})
    assert subscribe(broker, "raw", {"metrics": "raw.", "interval.ms": "1000", "match": "client_id=raw-.*"}) == "OK"
    # Matched on what the client said in ApiVersions v3 (kafka_wire sends "sluice-bad-input").
    assert subscribe(
        broker, "by-software", {"metrics": "soft.", "match": "client_software_name=sluice-bad-.*,client_software_version=1\\..*"}
    ) == "OK"
    with KafkaConn.to(broker.bootstrap, client_id="raw-client") as c:
        c.api_versions(3)
        sub = get_subscriptions(c)
        assert sub["error_code"] == NONE
        assert sub["client_instance_id"] != uuid.UUID(int=0)
        assert sub["requested_metrics"] == ["raw.", "soft."]
        assert sub["push_interval_ms"] == 1000
        assert sub["telemetry_max_bytes"] == 2048
        assert sub["delta_temporality"] is True
        assert set(sub["accepted_compression_types"]) == {1, 2, 3, 4}
        # Asking again before the interval is throttled.
        assert get_subscriptions(c, sub["client_instance_id"])["error_code"] == THROTTLING_QUOTA_EXCEEDED
        # Wrong subscription id; the next get is then allowed at once.
        assert push(c, sub, b"", subscription_id=sub["subscription_id"] ^ 1) == UNKNOWN_SUBSCRIPTION_ID
        sub = get_subscriptions(c, sub["client_instance_id"])
        assert sub["error_code"] == NONE
        assert push(c, sub, b"\0" * 2049) == TELEMETRY_TOO_LARGE
        # A gzip'd OTLP payload, accepted right after the get... (the too-large push above
        # counted as the push of this interval, so wait one interval first).
        time.sleep(1.05)
        payload = gzip.compress(otlp_gauge("raw.queue.depth", 42.0, {"topic": "t1"}))
        assert push(c, sub, payload, compression=1) == NONE
        # ...and one more before the interval is refused.
        assert push(c, sub, payload, compression=1) == THROTTLING_QUOTA_EXCEEDED
        scraped = scrape(metrics_url)
        assert scraped["sluice_client_telemetry_series"] == [({}, 1.0)]
        assert scraped["sluice_client_telemetry_series_dropped_total"] == [({}, 0.0)]
        series = scraped["raw_queue_depth"]
        assert series == [
            ({"client_id": "raw-client", "client_instance_id": kafka_uuid(sub["client_instance_id"]), "topic": "t1"}, 42.0)
        ]
        # Garbage that is not OTLP.
        time.sleep(1.05)
        assert push(c, sub, b"\xff\xff\xff\xff") == INVALID_RECORD
        # A terminating push is accepted even early; nothing after it is.
        assert push(c, sub, b"", terminating=True) == NONE
        assert push(c, sub, b"") == INVALID_REQUEST
        # The zero id cannot push.
        zero = dict(sub, client_instance_id=uuid.UUID(int=0))
        assert push(c, zero, b"") == INVALID_REQUEST

    # A client that matches no subscription gets no metrics to push (no ApiVersions v3, so
    # no software name either).
    with KafkaConn.to(broker.bootstrap, client_id="someone-else") as c:
        sub = get_subscriptions(c)
        assert sub["error_code"] == NONE and sub["requested_metrics"] == []
        assert sub["push_interval_ms"] == 300000


def test_java_client_pushes(broker_factory, tmp_path):
    """The official Java client 3.9 (integration-tests/java/TelemetryChecks.java)."""
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    broker, metrics_url = telemetry_broker(broker_factory)
    cp = os.pathsep.join(str(JAVA_LIB_DIR / j) for j in JARS)
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp,
             str(INTEGRATION_DIR / "java" / "TelemetryChecks.java"), broker.bootstrap, "java-telemetry-topic"],
            timeout=180)
    assert len([l for l in r.stdout.splitlines() if l.startswith("OK ")]) == 4, r.stdout
    instance = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("INSTANCE "))
    # The series outlive the client by a few push intervals (at least 60 s).
    mine = [
        (name, labels)
        for name, samples in scrape(metrics_url).items()
        for labels, _ in samples
        if labels.get("client_instance_id") == instance
    ]
    assert mine, "no series of the Java producer on /metrics"
    assert all(labels["client_id"] == "java-telemetry-producer" for _, labels in mine)
    assert any(name.startswith("org_apache_kafka_producer_") for name, _ in mine)
