"""The log's budget of descriptors and memory maps (`sluice.log.max.open.files`,
`sluice.log.max.mmaps`, issue 15 item 3): closed segments' files are opened when a fetch
needs them and closed again, least recently used first, when the budget is exceeded.

A broker with a small map budget and its descriptor limit lowered (prlimit) far below what
holding every segment's three files would take: a confluent-kafka producer fills many
partitions with many small segments while consumers read old and new data across all of
them. Every record comes back, in order, and the broker's descriptors (/proc/PID/fd) and
its maps of segment files (/proc/PID/maps) stay within the budget plus the active segments,
the sockets and a constant. /metrics reports the same counts.
"""

import os
import re
import subprocess
import urllib.request
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import free_port, wait_until

pytestmark = pytest.mark.on_disk

PARTITIONS = 12
RECORDS_PER_PARTITION = 400
MAX_MMAPS = 48
MAX_OPEN_FILES = 32
# Descriptors the broker holds besides segment files: listeners, the epoll and eventfd of the
# runtime, std streams, the data directory lock, a few files opened briefly.
CONSTANT_FDS = 48


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def sockets(pid: int) -> int:
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def segment_maps(pid: int, data_dir) -> int:
    """Mappings of files under the data directory (segments' .log, .index, .timeindex)."""
    root = str(data_dir)
    with open(f"/proc/{pid}/maps") as f:
        return sum(1 for line in f if root in line)


def segment_files(data_dir) -> int:
    return sum(1 for _, _, files in os.walk(data_dir) for name in files if name.endswith(".log"))


def metric(base: str, name: str) -> int:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf"^{name} (\d+)", text, re.M)
    assert m, f"{name} not in /metrics"
    return int(m.group(1))


def value(p: int, i: int) -> bytes:
    return f"p{p}-{i:06d}-".encode() + b"x" * 80


def test_a_tiny_budget_serves_old_and_new_data_across_many_segments(broker_factory):
    http_port = free_port()
    broker = broker_factory(settings={
        "sluice.log.max.mmaps": MAX_MMAPS,
        "sluice.log.max.open.files": MAX_OPEN_FILES,
        "sluice.http.listen": f"127.0.0.1:{http_port}",
    })
    base = f"http://127.0.0.1:{http_port}"
    pid = broker.pid
    assert "log budget of descriptors and memory maps" in broker.log_text()
    # Holding every segment's three files would take more than 3 x the segments; the limit
    # leaves room for the active segments, the sockets and the constant only.
    limit = PARTITIONS + 40 + CONSTANT_FDS + MAX_OPEN_FILES
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={limit}:{limit}"], check=True, timeout=10)

    topic = f"budget-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(topic, PARTITIONS, 1, config={
        "segment.bytes": "2048", "segment.index.bytes": "4096", "index.interval.bytes": "512",
    })])
    futures[topic].result(30)

    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5,
                         "batch.num.messages": 10})

    def produce(first: int, last: int) -> None:
        for i in range(first, last):
            for p in range(PARTITIONS):
                producer.produce(topic, value(p, i), partition=p)
            producer.poll(0)
        assert producer.flush(60) == 0

    half = RECORDS_PER_PARTITION // 2
    produce(0, half)
    assert segment_files(broker.data_dir) >= PARTITIONS * 6, "many small segments"

    def consume_all(expect: int) -> None:
        """Reads every partition from the beginning, checking order and content."""
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
                      "enable.auto.commit": False, "fetch.max.bytes": 8192,
                      "message.max.bytes": 8192, "max.partition.fetch.bytes": 2048})
        try:
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
            got = {p: 0 for p in range(PARTITIONS)}
            def step():
                for m in c.consume(200, timeout=1):
                    assert m.error() is None, m.error()
                    p = m.partition()
                    assert m.offset() == got[p], (p, m.offset(), got[p])
                    assert m.value() == value(p, got[p])
                    got[p] += 1
                return all(n >= expect for n in got.values())
            wait_until(step, timeout=90, interval=0, message=f"consume {expect} per partition: {got}")
            assert all(n == expect for n in got.values()), got
        finally:
            c.close()

    # Old data, then new data produced while a second consumer reads from the start again.
    consume_all(half)
    produce(half, RECORDS_PER_PARTITION)
    consume_all(RECORDS_PER_PARTITION)

    segments = segment_files(broker.data_dir)
    assert segments >= PARTITIONS * 12, segments
    assert metric(base, "sluice_log_max_mmaps") == MAX_MMAPS
    # Closed segments hold no descriptor; the active ones hold one each, and a rolled
    # segment keeps its own until its data is fdatasynced (acks=all: at once).
    open_files = metric(base, "sluice_log_open_files")
    assert open_files <= PARTITIONS + 4, open_files
    assert fds(pid) <= open_files + sockets(pid) + CONSTANT_FDS, (fds(pid), sockets(pid))
    assert fds(pid) < segments, "far fewer descriptors than segments"
    # Maps: the budget, plus the active segments' (three each at most) which it never closes.
    maps = segment_maps(pid, broker.data_dir)
    assert maps <= MAX_MMAPS + 3 * PARTITIONS, maps
    assert metric(base, "sluice_log_mmaps") <= MAX_MMAPS + 3 * PARTITIONS
    assert maps < segments, "far fewer maps than segments"
    broker.stop()
