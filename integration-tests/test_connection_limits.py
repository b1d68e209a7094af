"""Connection limits: max.connections, max.connections.per.ip (and its overrides) and
connections.max.idle.ms, over raw sockets (``kafka_wire``) and with a real client.

A connection over a limit is closed by the broker as soon as it is accepted, before any request
is read: the test sees EOF or a reset, never an answer. Slots are given back asynchronously (when
the broker's connection task ends), so every "a new connection is served" check retries for a
bounded time. The harness's readiness probe is one such connection, which is why even the first
connections of a test are opened through ``served``.

Only 127.0.0.1 is used as the broker address; 127.0.0.2 and 127.0.0.3 appear as source addresses
(Linux routes all of 127/8 to loopback).
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

import kafka_wire as kw
from harness import run, wait_until

pytestmark = pytest.mark.timeout(120)

TIMEOUT = kw.DEFAULT_TIMEOUT  # 5 s for every socket operation
SERVED_WITHIN = 10.0  # how long a freed slot may take to become usable


@pytest.fixture
def conns():
    """``conns(broker, source=None)`` opens a KafkaConn (from ``source`` when given); all closed at
    teardown."""
    opened: list[kw.KafkaConn] = []

    def open_(broker, source: str | None = None) -> kw.KafkaConn:
        c = kw.KafkaConn(broker.host, broker.port, source_address=(source, 0) if source else None)
        opened.append(c)
        return c

    yield open_
    for c in opened:
        c.close()


def answers(c: kw.KafkaConn) -> bool:
    """True if ``c`` answers an ApiVersions request; False if the broker closed it instead."""
    try:
        av = c.api_versions(3)
    except (kw.ConnectionClosed, ConnectionResetError, BrokenPipeError):
        return False
    assert av["error_code"] == kw.NONE, av
    return True


def served(conns, broker, source: str | None = None, within: float = SERVED_WITHIN) -> kw.KafkaConn:
    """A new connection that has been answered, retrying while the broker refuses it (a slot
    given back is freed asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        c = conns(broker, source)
        if answers(c):
            return c
        c.close()
        if time.monotonic() >= deadline:
            raise AssertionError(f"no connection from {source or '127.0.0.1'} was served within {within}s")
        time.sleep(0.1)


def refused(conns, broker, source: str | None = None) -> kw.KafkaConn:
    """A new connection that the broker closes without reading from it (EOF or reset)."""
    c = conns(broker, source)
    c.wait_closed(TIMEOUT)
    return c


def log_line(broker, *needles: str, timeout: float = TIMEOUT) -> str:
    """The first broker log line containing every one of ``needles`` (waits for it)."""
    def find():
        for line in broker.log_text().splitlines():
            if not line.startswith("===== harness:") and all(n in line for n in needles):
                return line
        return None

    return wait_until(find, timeout=timeout, message=f"a broker log line with {needles}")


def local_peer(c: kw.KafkaConn) -> str:
    host, port = c.sock.getsockname()[:2]
    return f"{host}:{port}"


# ============================================================================================
# max.connections
# ============================================================================================


def test_max_connections_refuses_one_more_and_frees_the_slot_on_close(broker_factory, conns):
    broker = broker_factory(settings={"max.connections": 3})
    held = [served(conns, broker) for _ in range(3)]

    extra = refused(conns, broker)
    line = log_line(broker, "WARN", f"refusing connection from {local_peer(extra)}", "max.connections (3)")
    print(line)

    # The connections it holds are served as before.
    for c in held:
        assert answers(c), "a held connection was disturbed by the refused one"

    held.pop().close()
    replacement = served(conns, broker)
    assert answers(replacement)
    for c in held:
        assert answers(c)
    assert broker.is_running()


# ============================================================================================
# max.connections.per.ip and max.connections.per.ip.overrides
# ============================================================================================


def test_max_connections_per_ip_counts_each_source_address(broker_factory, conns):
    broker = broker_factory(settings={"max.connections.per.ip": 2})
    local = [served(conns, broker) for _ in range(2)]

    extra = refused(conns, broker)
    log_line(broker, "WARN", f"refusing connection from {local_peer(extra)}",
             "127.0.0.1 already has max.connections.per.ip (2)")

    other = served(conns, broker, source="127.0.0.2")
    assert local_peer(other).startswith("127.0.0.2:")
    for c in local:
        assert answers(c)

    # A slot of 127.0.0.1 freed is one more connection from 127.0.0.1.
    local.pop().close()
    served(conns, broker)


def test_per_ip_overrides_replace_the_default_for_their_address(broker_factory, conns):
    broker = broker_factory(settings={
        "max.connections.per.ip": 0,  # only the addresses listed below may connect
        "max.connections.per.ip.overrides": "127.0.0.1:2, 127.0.0.3:3",
    })
    blocked = refused(conns, broker, source="127.0.0.2")
    log_line(broker, f"refusing connection from {local_peer(blocked)}",
             "127.0.0.2 already has max.connections.per.ip (0)")

    threes = [served(conns, broker, source="127.0.0.3") for _ in range(3)]
    extra = refused(conns, broker, source="127.0.0.3")
    log_line(broker, f"refusing connection from {local_peer(extra)}",
             "127.0.0.3 already has max.connections.per.ip.overrides (3)")

    ones = [served(conns, broker) for _ in range(2)]
    refused(conns, broker)
    for c in threes + ones:
        assert answers(c)


@pytest.mark.parametrize("settings, says", [
    ({"max.connections.per.ip.overrides": "127.0.0.1:5,localhost:3"}, "`localhost` in `localhost:3` is not an IP address"),
    ({"max.connections.per.ip.overrides": "127.0.0.1=5"}, "not IP:COUNT"),
    ({"max.connections.per.ip.overrides": "127.0.0.1:lots"}, "not a connection count"),
    ({"max.connections.per.ip": 0}, "max.connections.per.ip can be 0 only if max.connections.per.ip.overrides is set"),
    ({"max.connections": -1}, "max.connections: Value must be at least 0"),
], ids=["host-name", "no-colon", "bad-count", "zero-without-overrides", "negative-max"])
def test_bad_limit_settings_stop_start_up_with_one_line(broker_factory, settings, says):
    b = broker_factory(settings=settings, start=False)
    b.data_dir.mkdir(parents=True, exist_ok=True)
    result = run(b.command(), timeout=30, check=False)
    assert result.returncode != 0, f"started with {settings}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sluice: ") and says in lines[0], result.stderr


# ============================================================================================
# connections.max.idle.ms
# ============================================================================================

IDLE_MS = 500


def test_an_idle_connection_is_closed(broker_factory, conns):
    broker = broker_factory(settings={"connections.max.idle.ms": IDLE_MS})
    c = served(conns, broker)
    c.wait_closed(TIMEOUT)
    log_line(broker, "closing idle connection", f"{IDLE_MS} ms")
    # Half a request is not a request in progress: it idles out too.
    half = served(conns, broker)
    half.send_raw(kw.i32(100) + b"\x00\x12")
    half.wait_closed(TIMEOUT)
    assert broker.is_running()


def test_a_connection_with_traffic_stays_open(broker_factory, conns):
    broker = broker_factory(settings={"connections.max.idle.ms": IDLE_MS})
    c = served(conns, broker)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:  # four idle times
        time.sleep(0.2)
        assert answers(c), f"closed after {time.monotonic() - t0:.2f}s although it sent a request every 200 ms"
    # Once quiet, it idles out like any other.
    c.wait_closed(TIMEOUT)


def test_a_long_poll_longer_than_the_idle_time_is_not_idle(broker_factory, conns):
    broker = broker_factory(settings={"connections.max.idle.ms": IDLE_MS})
    c = served(conns, broker)
    topic = f"limits-{uuid.uuid4().hex[:8]}"
    # Metadata auto-creates the topic.
    wait_until(lambda: c.metadata([topic], version=12)["topics"][0]["error_code"] == kw.NONE,
               timeout=TIMEOUT, message=f"topic {topic}")
    # The topic is empty: the fetch waits its whole max wait (four idle times) and is answered.
    t0 = time.monotonic()
    p = c.fetch(topic, 0, 0, version=12, max_wait_ms=4 * IDLE_MS, timeout=TIMEOUT + 4 * IDLE_MS / 1000)
    assert p["error_code"] == kw.NONE, kw.error_name(p["error_code"])
    assert time.monotonic() - t0 >= IDLE_MS / 1000, "the fetch did not long-poll; the test proves nothing"
    assert answers(c)


# ============================================================================================
# A real client under limits
# ============================================================================================


def test_confluent_kafka_produces_and_consumes_under_the_limits(broker_factory, client_log):
    broker = broker_factory(settings={
        "max.connections": 10,
        "max.connections.per.ip": 10,
        "connections.max.idle.ms": 60000,
    })
    topic = f"limits-{uuid.uuid4().hex[:8]}"
    common = {"bootstrap.servers": broker.bootstrap, "logger": client_log.logger}
    p = Producer({**common, "linger.ms": 5, "message.timeout.ms": 20000})
    values = [f"v{i}".encode() for i in range(5)]
    for v in values:
        p.produce(topic, v)
    assert p.flush(30) == 0, "records still undelivered"

    c = Consumer({**common, "group.id": "limits-unused", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < len(values) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                got.append(m.value())
        assert got == values
    finally:
        c.close()
    assert "refusing connection" not in broker.log_text(), "a client connection hit a limit"
