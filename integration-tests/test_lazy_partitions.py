"""Partitions found at start-up are opened on first touch (issue 15, item 4).

One broker with a topic of 2,000 partitions, records in a few of them. After a clean restart
every record reads back with its offset while the partitions nobody touched hold no file
descriptor (the broker's /proc/<pid>/fd stays far below one per partition, where eager opening
held three) and are reported as never opened when the broker shuts down. Then a producer is
killed mid-stream together with the broker (kill -9): after the restart every acknowledged
record is there exactly once, and the untouched partitions are still not opened.
"""

import os
import re
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.on_disk

PARTITIONS = 2000
WRITTEN = 50  # partitions 0..49 get records before the clean restart
PER_PARTITION = 20
CRASHED = 10  # partitions 0..9 are written while the broker is killed


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def never_opened_at_last_shutdown(broker) -> int:
    counts = re.findall(r"closing partition logs.*?never_opened=(\d+)", broker.log_text())
    assert counts, broker.log_tail()
    return int(counts[-1])


def read_all(bootstrap: str, topic: str, partitions: range, expected: dict[int, int]) -> dict[int, list[tuple[int, bytes]]]:
    """(offset, value) of every record in `partitions`, read until `expected[p]` records each."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "lazy-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    })
    c.assign([TopicPartition(topic, p, 0) for p in partitions])
    got: dict[int, list[tuple[int, bytes]]] = {p: [] for p in partitions}
    deadline = time.monotonic() + 60
    while any(len(got[p]) < expected[p] for p in partitions) and time.monotonic() < deadline:
        for m in c.consume(500, timeout=1):
            assert m.error() is None, m.error()
            got[m.partition()].append((m.offset(), m.value()))
    c.close()
    return got


def test_untouched_partitions_stay_closed_across_clean_and_crash_restarts(broker_factory):
    b = broker_factory()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("lazy", PARTITIONS, 1)])["lazy"].result(120)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5})
    for part in range(WRITTEN):
        for i in range(PER_PARTITION):
            p.produce("lazy", f"{part}:{i}".encode(), partition=part)
    assert p.flush(60) == 0
    created_fds = fds(b.pid)
    # A new partition gives its descriptor back as soon as it is made; only the written
    # ones hold theirs (until they have been idle a while).
    assert created_fds < PARTITIONS // 4, f"{created_fds} descriptors after creating {PARTITIONS} partitions"

    # Clean restart: nothing is opened until touched.
    b.restart(timeout=30)
    assert fds(b.pid) < PARTITIONS // 4, f"{fds(b.pid)} descriptors right after start"
    md = admin.list_topics("lazy", timeout=30).topics["lazy"]
    assert len(md.partitions) == PARTITIONS and md.error is None
    got = read_all(b.bootstrap, "lazy", range(WRITTEN), {p: PER_PARTITION for p in range(WRITTEN)})
    for part in range(WRITTEN):
        assert got[part] == [(i, f"{part}:{i}".encode()) for i in range(PER_PARTITION)], part
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "lazy-offsets"})
    assert c.get_watermark_offsets(TopicPartition("lazy", 7), timeout=30) == (0, PER_PARTITION)
    assert c.get_watermark_offsets(TopicPartition("lazy", PARTITIONS - 1), timeout=30) == (0, 0)
    c.close()
    assert fds(b.pid) < PARTITIONS // 4, "reading 51 partitions opened no others"
    b.stop()
    # 51 partitions were touched; __consumer_offsets may have been created beside them.
    assert never_opened_at_last_shutdown(b) >= PARTITIONS - WRITTEN - 1

    # kill -9 in the middle of acks=all produce to partitions 0..9.
    b.start(timeout=30)
    acked: list[tuple[int, int, bytes]] = []
    stop = threading.Event()
    producer = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 1,
                         "enable.idempotence": True, "message.timeout.ms": 5000})

    def on_delivery(err, msg):
        if err is None:
            acked.append((msg.partition(), msg.offset(), msg.value()))

    def produce():
        n = 0
        while not stop.is_set():
            try:
                producer.produce("lazy", f"crash:{n}".encode(), partition=n % CRASHED, on_delivery=on_delivery)
                n += 1
            except BufferError:
                pass
            producer.poll(0.001)

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    b.kill9()
    stop.set()
    t.join(10)
    producer.purge()
    producer.flush(1)
    crash_acked = list(acked)
    assert len(crash_acked) >= 500

    b.start(timeout=30)
    assert fds(b.pid) < PARTITIONS // 4, f"{fds(b.pid)} descriptors right after the start after kill -9"
    per_part: dict[int, int] = {p: PER_PARTITION for p in range(WRITTEN)}
    for part, offset, _ in crash_acked:
        per_part[part] = max(per_part[part], offset + 1)
    got = read_all(b.bootstrap, "lazy", range(WRITTEN), per_part)
    for part in range(WRITTEN):
        values = [v for _, v in got[part]]
        assert values[:PER_PARTITION] == [f"{part}:{i}".encode() for i in range(PER_PARTITION)], part
        offsets = [o for o, _ in got[part]]
        assert offsets == list(range(len(offsets))), f"offsets of partition {part} are contiguous"
    for part, offset, value in crash_acked:
        records = got[part]
        assert offset < len(records) and records[offset] == (offset, value), (part, offset, value)
        assert [v for _, v in records].count(value) == 1, f"{value!r} there once"
    b.stop()
    assert never_opened_at_last_shutdown(b) >= PARTITIONS - WRITTEN - 1
