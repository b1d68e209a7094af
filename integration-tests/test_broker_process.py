"""The broker as a process: start-up, SIGTERM, kill -9, restart, advertised listener, one
owner per data directory, topic creation that runs out of descriptors."""

from __future__ import annotations

import os
import resource
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import free_port, sluice_bin, wait_for_port


def test_sigterm_exits_zero_quickly_and_restarts_on_same_port(broker):
    t0 = time.monotonic()
    assert broker.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 5, "SIGTERM shutdown took more than 5s"
    assert not wait_for_port("127.0.0.1", broker.port, 0.3), "port still accepting after exit"
    broker.start()  # same port right away (SO_REUSEADDR), same data dir
    assert broker.is_running()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert set(md.brokers) == {1}


def test_kill9_then_restart(broker):
    broker.kill9()
    assert broker.returncode == -9
    broker.start()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert md.brokers[1].port == broker.port


def test_advertised_listener_is_what_metadata_returns(broker_factory):
    other = free_port()
    b = broker_factory(advertised=f"127.0.0.1:{other}")
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    assert (md.brokers[1].host, md.brokers[1].port) == ("127.0.0.1", other)



def test_a_second_broker_on_the_same_data_dir_refuses_to_start(broker):
    other = free_port()
    second = subprocess.run(
        [str(sluice_bin()), "serve", "--listen", f"127.0.0.1:{other}", "--data-dir", str(broker.data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert second.returncode != 0
    assert "is in use by another process" in second.stderr, second.stderr
    assert f"pid {broker.pid}" in second.stderr, second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert not wait_for_port("127.0.0.1", other, 0.3), "the refused broker opened its port"
    # The owner is undisturbed, and after a kill -9 (no clean release) the directory is free again.
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert set(md.brokers) == {1}
    broker.kill9()
    broker.start()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert set(md.brokers) == {1}


def _set_nofile(pid: int, soft: int, hard: int) -> None:
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={soft}:{hard}"], check=True, timeout=10)


def test_create_topics_out_of_descriptors_leaves_no_trace_and_the_broker_keeps_serving(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    # The admin client's connections (bootstrap and controller) are open before the
    # limit drops: a CreateTopics opens the controller connection.
    admin.create_topics([NewTopic("before", 1, 1)])["before"].result(timeout=30)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir(f"/proc/{broker.pid}/fd"))
    # No room for one more descriptor: a new partition gives its descriptor back as soon
    # as it is made (see the test below), so only a limit at the count in use makes
    # creation run out, at its first partition's files.
    _set_nofile(broker.pid, in_use, hard)
    try:
        fut = admin.create_topics([NewTopic("too-big", 300, 1)], operation_timeout=30)["too-big"]
        with pytest.raises(KafkaException) as raised:
            fut.result(timeout=60)
        assert raised.value.args[0].code() == KafkaError.KAFKA_STORAGE_ERROR, raised.value
    finally:
        _set_nofile(broker.pid, soft, hard)
    left = [p.name for p in broker.data_dir.iterdir() if p.name.startswith("too-big-")]
    assert left == [], f"partition directories left behind: {left[:5]}"
    assert "too-big" not in admin.list_topics(timeout=10).topics
    # The same name can be created now, and the broker serves it.
    admin.create_topics([NewTopic("too-big", 3, 1)])["too-big"].result(timeout=30)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("too-big", b"after", partition=2)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g", "enable.auto.commit": False})
    consumer.assign([TopicPartition("too-big", 2, 0)])
    msg = None
    deadline = time.monotonic() + 30
    while msg is None and time.monotonic() < deadline:
        msg = consumer.poll(1)
    consumer.close()
    assert msg is not None and msg.error() is None and msg.value() == b"after"
    # And after a restart the failed creation has not come back half-made.
    broker.restart()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert len(md.topics["too-big"].partitions) == 3


def test_a_topic_of_more_partitions_than_descriptors_is_created_and_served(broker):
    """New partitions hold no descriptor until written (issue 15 item 3): 300 partitions
    are created under a limit of 30 spare descriptors, and records sent to all of them
    are read back, with the broker's descriptors bounded throughout."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.list_topics(timeout=10)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir(f"/proc/{broker.pid}/fd"))
    _set_nofile(broker.pid, in_use + 30, hard)
    try:
        admin.create_topics([NewTopic("wide", 300, 1)], operation_timeout=60)["wide"].result(timeout=90)
        held = len(os.listdir(f"/proc/{broker.pid}/fd"))
        assert held <= in_use + 30, f"{held} descriptors after creating 300 partitions"
        assert len(admin.list_topics(timeout=10).topics["wide"].partitions) == 300
    finally:
        _set_nofile(broker.pid, soft, hard)
    # Written to, the partitions take descriptors again (the limit is back to normal).
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for p in range(300):
        producer.produce("wide", f"r{p}".encode(), partition=p)
    assert producer.flush(60) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "wide", "enable.auto.commit": False})
    consumer.assign([TopicPartition("wide", p, 0) for p in range(300)])
    got = {}
    deadline = time.monotonic() + 60
    while len(got) < 300 and time.monotonic() < deadline:
        msg = consumer.poll(1)
        if msg is not None and msg.error() is None:
            got[msg.partition()] = msg.value()
    consumer.close()
    assert got == {p: f"r{p}".encode() for p in range(300)}


def test_kill9_in_the_middle_of_creating_a_topic_leaves_all_or_nothing(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("half", 1000, 1)], operation_timeout=60)
    # Kill as soon as the first partition directories exist, while the rest are being made.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(p.name.startswith("half-") for p in broker.data_dir.iterdir()):
        time.sleep(0.001)
    broker.kill9()
    made = sum(1 for p in broker.data_dir.iterdir() if p.name.startswith("half-"))
    assert made > 0, "no partition directory appeared before the kill"
    broker.start()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    dirs = sum(1 for p in broker.data_dir.iterdir() if p.name.startswith("half-"))
    if "half" in md.topics:
        assert (len(md.topics["half"].partitions), dirs) == (1000, 1000)
    else:
        assert dirs == 0, f"{dirs} directories of an uncommitted topic survived the restart ({made} at the kill)"


def test_preallocated_segments_keep_acknowledged_data_through_kill9_and_are_trimmed_on_shutdown(
    broker_factory,
):
    """`log.preallocate=true`: the active segment grows ahead of the appends with written
    zeros; a kill -9 leaves them and recovery cuts them without losing an acknowledged
    record; a clean shutdown trims them, so the file is its batches and nothing else."""
    from harness import read_batches, run, segment_files

    b = broker_factory(settings={"log.preallocate": "true"})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in admin.create_topics([NewTopic("pre", 1, 1)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(300):
        p.produce("pre", value=f"v{i}".encode())
        p.poll(0)
    assert p.flush(30) == 0
    [seg] = segment_files(b.data_dir, "pre", 0)
    data_bytes = sum(h.total_size for h in read_batches(seg))
    assert seg.stat().st_size >= 4 << 20 > data_bytes, "a preallocated zero tail follows the batches"
    # dump-log reads a live preallocated segment without reporting a problem.
    assert "OK" in run([sluice_bin(), "dump-log", "--verify", seg.parent]).stdout

    b.kill9()
    b.start()
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "pre", "auto.offset.reset": "earliest"})
    c.assign([TopicPartition("pre", 0, 0)])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 300 and time.monotonic() < deadline:
        m = c.poll(1)
        if m is not None and m.error() is None:
            got.append(m.value().decode())
    c.close()
    assert got == [f"v{i}" for i in range(300)]
    assert seg.stat().st_size == data_bytes, "recovery cut the zeros and nothing else"

    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    p.produce("pre", value=b"after")
    assert p.flush(30) == 0
    assert seg.stat().st_size > data_bytes + 100, "preallocated again on the next append"
    assert b.stop() == 0
    batches = read_batches(seg)
    assert len(batches) >= 2 and sum(h.total_size for h in batches) == seg.stat().st_size
