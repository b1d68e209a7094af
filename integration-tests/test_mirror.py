"""``sluice mirror`` (issue 14, item 5): one Sluice mirrored to another while a producer
writes and a consumer group commits, with kill -9 of the mirror, of the destination and of the
source broker along the way. At the end both topics hold the same records (partition, key,
value, headers, timestamp, order), the topic's partition count and explicit config were copied,
a topic outside the pattern was not, and the group's committed offsets on the destination point
at the copies of the records the group had not consumed (possibly a few earlier ones, never a
later one). Waits are bounded polls of the observable state, no timing assertions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid

from harness import run, sluice_bin, wait_until
from test_export_import import read_all

PARTITIONS = 3


def start_mirror(a, b, *extra):
    return subprocess.Popen(
        [str(sluice_bin()), "mirror", "--from", a.bootstrap, "--to", b.bootstrap, "--topics", "m-.*",
         "--groups", "app.*", "--poll-ms", "200", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


def kill(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def count(bootstrap, topic):
    try:
        return sum(len(v) for v in read_all(bootstrap, topic, PARTITIONS, timeout=20).values())
    except Exception:
        return -1


def committed(bootstrap, group, topic):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in got}
    finally:
        c.close()


def values_from(bootstrap, topic, partition, offset):
    """Committed values of one partition from `offset` on."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"v-{uuid.uuid4().hex[:6]}",
                  "enable.partition.eof": True, "isolation.level": "read_committed", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, partition, offset)])
        out = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                continue
            out.append(m.value())
        raise AssertionError("no end of partition")
    finally:
        c.close()


def test_mirror_through_kills_ends_identical_with_translated_offsets(broker_factory):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    a = broker_factory()
    b = broker_factory()
    topic = f"m-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    for f in admin.create_topics([NewTopic(topic, PARTITIONS, 1, config={"retention.ms": "123456789"}),
                                  NewTopic("other", 1, 1)]).values():
        f.result(30)

    n = 3000
    done = threading.Event()
    # The producer holds its last third back until the test is ready to kill A, so A's kill
    # always lands mid-stream however slow or fast the machine is.
    held_from, release = 2000, threading.Event()
    errors = []

    def produce():
        try:
            p = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True, "linger.ms": 5,
                          "message.timeout.ms": 60000})
            for i in range(n):
                if i == held_from:
                    p.flush(60)
                    release.wait(180)
                while True:
                    try:
                        p.produce(topic, key=f"k{i % 17}".encode(), value=f"v{i}".encode(),
                                  headers=[("i", str(i).encode())], partition=i % PARTITIONS)
                        break
                    except BufferError:
                        p.poll(0.1)
                if i % 10 == 0:  # spread over seconds, so the kills below land mid-stream
                    p.poll(0)
                    time.sleep(0.03)
            assert p.flush(90) == 0
        except Exception as e:  # reported by the main thread
            errors.append(e)
        finally:
            done.set()

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    mirror = start_mirror(a, b)
    try:
        wait_until(lambda: count(b.bootstrap, topic) > 100, timeout=60, message="the mirror copies")
        kill(mirror)
        mirror = start_mirror(a, b)
        wait_until(lambda: count(b.bootstrap, topic) > 600, timeout=60, message="the restarted mirror copies")
        b.kill9()
        b.start()
        wait_until(lambda: count(b.bootstrap, topic) > 1200, timeout=90, message="copies after B's restart")
        assert not done.is_set(), "the producer finished before the kills"
        release.set()
        time.sleep(0.5)  # a few batches of the last third are in flight
        a.kill9()
        a.start()
        assert done.wait(120) and not errors, errors
        source = read_all(a.bootstrap, topic, PARTITIONS)
        assert sum(len(v) for v in source.values()) == n
        wait_until(lambda: count(b.bootstrap, topic) == n, timeout=120, message="every record on B")

        # The group consumes part of A and commits: offsets 0 (nothing), 400, and the end.
        ends = {p: len(source[p]) for p in range(PARTITIONS)}
        marks = {0: 0, 1: 400, 2: ends[2]}
        c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "app-1", "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, p, o) for p, o in marks.items()], asynchronous=False)
        finally:
            c.close()

        def synced():
            got = committed(b.bootstrap, "app-1", topic)
            return all(got.get(p, -1) >= 0 for p in range(PARTITIONS))

        wait_until(synced, timeout=60, message="group offsets synced to B")
        on_b = committed(b.bootstrap, "app-1", topic)
        for p, c_off in marks.items():
            want = [v for _, v, _, _, _ in source[p]][c_off:]
            got = values_from(b.bootstrap, topic, p, on_b[p])
            # Never past an unconsumed record (consumed ones may come again).
            assert got[len(got) - len(want):] == want, (p, c_off, on_b[p], got[:5], want[:5])
    finally:
        kill(mirror)
        err = mirror.stderr.read().decode(errors="replace") if mirror.stderr else ""

    copied = read_all(b.bootstrap, topic, PARTITIONS)
    strip = lambda recs: {p: [(k, v, h, ts) for k, v, h, ts, _ in rs] for p, rs in recs.items()}
    assert strip(copied) == strip(source), err[-2000:]

    # Partition count and the explicit config came along; the other topic did not.
    b_admin = AdminClient({"bootstrap.servers": b.bootstrap})
    md = b_admin.list_topics(timeout=10)
    assert len(md.topics[topic].partitions) == PARTITIONS and "other" not in md.topics
    from confluent_kafka.admin import ConfigResource

    cfg = list(b_admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values())[0].result(30)
    assert cfg["retention.ms"].value == "123456789"

    # A --once run afterwards copies nothing new.
    r = run([sluice_bin(), "mirror", "--from", a.bootstrap, "--to", b.bootstrap, "--topics", "m-.*", "--once"], timeout=60)
    assert "mirrored 0 records" in r.stderr, r.stderr
    assert strip(read_all(b.bootstrap, topic, PARTITIONS)) == strip(source)
