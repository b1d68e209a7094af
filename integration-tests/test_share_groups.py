"""KIP-932 share groups with confluent-kafka's ShareConsumer (librdkafka 2.16 preview).

Each test starts the real broker, creates a one-partition topic, sets the group's
``share.auto.offset.reset=earliest`` through IncrementalAlterConfigs on the GROUP resource
(kafka-python's admin client, which sends Kafka's resource type 32), and drives real share
consumers: distinct records for members sharing a partition, ACCEPT/RELEASE/REJECT, redelivery
after the acquisition lock runs out, the delivery count limit archiving a poison record, and
acknowledgements surviving a kill -9 of the broker.

ShareFetch/ShareAcknowledge v2 (acquire modes, RENEW) go over the raw protocol (share_wire.py):
librdkafka 2.16's ShareConsumer negotiates v1 only. The ``share.version`` feature is driven with
``sluice feature`` as an operator would.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import AcknowledgeType, Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

import kafka_wire as kw
import share_wire as sw
from harness import free_port

# Short locks so redelivery tests finish quickly; the broker-wide minimum is lowered to allow it.
SETTINGS = {
    "group.share.min.record.lock.duration.ms": "1000",
    "group.share.record.lock.duration.ms": "2000",
    "group.share.delivery.count.limit": "2",
}


def create_topic(b, topic):
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(15)


def produce(b, topic, values):
    p = Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True})
    for v in values:
        p.produce(topic, value=v)
    assert p.flush(15) == 0


def consumer(b, group, explicit=True):
    c = ShareConsumer({
        "bootstrap.servers": b.bootstrap,
        "group.id": group,
        "share.acknowledgement.mode": "explicit" if explicit else "implicit",
    })
    return c


def poll_until(c, want, timeout=40):
    """Polls until `want` records arrived (or the timeout); returns them."""
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        for m in c.poll(0.5) or []:
            assert m.error() is None, m.error()
            got.append(m)
    return got


def setup(b, topic, group):
    create_topic(b, topic)
    sw.set_group_configs(b.bootstrap, group, {"share.auto.offset.reset": "earliest"})


def test_members_sharing_a_partition_get_distinct_records(broker_factory):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q1", "g1")
    produce(b, "q1", [b"a%d" % i for i in range(10)])
    first = consumer(b, "g1")
    second = consumer(b, "g1")
    try:
        first.subscribe(["q1"])
        second.subscribe(["q1"])
        held = poll_until(first, 10)
        assert sorted(m.offset() for m in held) == list(range(10))
        # `first` holds 0..9 unacknowledged: `second` only ever gets the new records.
        produce(b, "q1", [b"b%d" % i for i in range(10)])
        other = poll_until(second, 10)
        assert sorted(m.offset() for m in other) == list(range(10, 20))
        assert all(m.delivery_count() == 1 for m in held + other)
        for m in held:
            first.acknowledge(m)
        first.commit_sync()
        for m in other:
            second.acknowledge(m)
        second.commit_sync()
    finally:
        first.close()
        second.close()


def test_accept_release_reject(broker_factory):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q2", "g2")
    produce(b, "q2", [b"accept", b"release", b"reject"])
    c = consumer(b, "g2")
    try:
        c.subscribe(["q2"])
        got = poll_until(c, 3)
        by_value = {m.value(): m for m in got}
        assert set(by_value) == {b"accept", b"release", b"reject"}
        c.acknowledge(by_value[b"accept"], AcknowledgeType.ACCEPT)
        c.acknowledge(by_value[b"release"], AcknowledgeType.RELEASE)
        c.acknowledge(by_value[b"reject"], AcknowledgeType.REJECT)
        c.commit_sync()
        produce(b, "q2", [b"marker"])
        # Only the released record comes back (second delivery), then the new one.
        again = poll_until(c, 2)
        assert [(m.value(), m.delivery_count()) for m in sorted(again, key=lambda m: m.offset())] == [
            (b"release", 2), (b"marker", 1)]
        for m in again:
            c.acknowledge(m)
        c.commit_sync()
    finally:
        c.close()
    # The share group is listed as one (ListGroups v5 type filter) and, once empty, deleted.
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=10000)
    try:
        listed = admin.list_groups(types_filter=["share"])
        assert [(g["group_id"], g["group_type"], g["protocol_type"]) for g in listed] == [
            ("g2", "share", "share")]
        assert all(g["group_id"] != "g2" for g in admin.list_groups(types_filter=["consumer"]))
        assert admin.delete_groups(["g2"]) == {"g2": "OK"}
        assert admin.list_groups(types_filter=["share"]) == []
    finally:
        admin.close()


def test_unacknowledged_record_comes_back_after_the_lock(broker_factory):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q3", "g3")
    produce(b, "q3", [b"x"])
    holder = consumer(b, "g3")
    other = consumer(b, "g3")
    try:
        holder.subscribe(["q3"])
        got = poll_until(holder, 1)
        assert [m.value() for m in got] == [b"x"]
        # `holder` never acknowledges: once its lock runs out the record goes to `other`.
        other.subscribe(["q3"])
        again = poll_until(other, 1)
        assert [(m.value(), m.offset(), m.delivery_count()) for m in again] == [(b"x", 0, 2)]
        other.acknowledge(again[0])
        other.commit_sync()
    finally:
        other.close()
        holder.close()


def test_delivery_count_limit_archives_a_poison_record(broker_factory):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q4", "g4")
    produce(b, "q4", [b"poison"])
    c = consumer(b, "g4")
    deliveries = 0
    try:
        c.subscribe(["q4"])
        for _ in range(2):
            got = poll_until(c, 1)
            assert [m.value() for m in got] == [b"poison"]
            deliveries += 1
            c.acknowledge(got[0], AcknowledgeType.RELEASE)
            c.commit_sync()
        # Released at the limit (2): archived. The next record is all that comes.
        produce(b, "q4", [b"good"])
        got = poll_until(c, 1)
        assert [(m.value(), m.offset()) for m in got] == [(b"good", 1)]
        c.acknowledge(got[0])
        c.commit_sync()
        assert deliveries == 2
    finally:
        c.close()


def test_acknowledgements_survive_kill9(broker_factory):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q5", "g5")
    produce(b, "q5", [b"r%d" % i for i in range(20)])
    c = consumer(b, "g5")
    c.subscribe(["q5"])
    got = poll_until(c, 20)
    assert sorted(m.offset() for m in got) == list(range(20))
    accepted = [m for m in got if m.offset() < 10]
    for m in accepted:
        c.acknowledge(m)
    c.commit_sync()  # answered once the acknowledgements are durable
    b.kill9()
    b.start()
    c2 = consumer(b, "g5")
    try:
        c2.subscribe(["q5"])
        again = poll_until(c2, 10)
        # Nothing accepted comes back; every unaccepted record does.
        assert sorted(m.offset() for m in again) == list(range(10, 20))
        for m in again:
            c2.acknowledge(m)
        c2.commit_sync()
        produce(b, "q5", [b"after"])
        tail = poll_until(c2, 1)
        assert [(m.offset(), m.value()) for m in tail] == [(20, b"after")]
        c2.acknowledge(tail[0])
        c2.commit_sync()
    finally:
        c2.close()
        c.close()


def test_read_committed_share_group_never_delivers_aborted_records(broker_factory):
    b = broker_factory(settings=SETTINGS)
    create_topic(b, "q6")
    sw.set_group_configs(b.bootstrap, "g6", {"share.auto.offset.reset": "earliest",
                                "share.isolation.level": "read_committed"})
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "share-txn"})
    p.init_transactions(15)
    p.begin_transaction()
    p.produce("q6", value=b"aborted")
    p.flush(15)
    p.abort_transaction(15)
    p.begin_transaction()
    p.produce("q6", value=b"committed")
    p.commit_transaction(15)
    c = consumer(b, "g6")
    try:
        c.subscribe(["q6"])
        got = poll_until(c, 1)
        assert [m.value() for m in got] == [b"committed"]
        c.acknowledge(got[0])
        c.commit_sync()
        produce(b, "q6", [b"plain"])
        got = poll_until(c, 1)
        assert [m.value() for m in got] == [b"plain"]
        c.acknowledge(got[0])
        c.commit_sync()
    finally:
        c.close()


def topic_id(b, topic) -> uuid.UUID:
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=10000)
    try:
        (t,) = admin.describe_topic_partitions([topic])["topics"]
        return uuid.UUID(str(t["topic_id"]))
    finally:
        admin.close()


def test_share_fetch_and_acknowledge_v2_raw(broker_factory):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q7", "g7")
    # Two producer batches: offsets 0-2 and 3-5.
    produce(b, "q7", [b"a", b"b", b"c"])
    produce(b, "q7", [b"d", b"e", b"f"])
    tid = topic_id(b, "q7")
    with kw.KafkaConn.to(b.bootstrap) as c:
        keys = c.api_versions(3)["api_keys"]
    assert keys[sw.SHARE_FETCH] == (1, 2) and keys[sw.SHARE_ACKNOWLEDGE] == (1, 2)
    for m in ("m1", "m2"):
        assert sw.heartbeat(b.bootstrap, "g7", m, 0, ["q7"])[0] == 0

    # Record limit: exactly MaxRecords records, in one range.
    f = sw.share_fetch(b.bootstrap, "g7", "m1", 0, tid, max_records=2, acquire_mode=sw.RECORD_LIMIT)
    assert f["error"] == 0 and f["lock_ms"] == 2000, f
    assert f["partition"]["acquired"] == [(0, 1, 1)]
    # Batch-optimized: one record asked, the rest of its producer batch comes with it.
    f = sw.share_fetch(b.bootstrap, "g7", "m2", 0, tid, max_records=1, acquire_mode=sw.BATCH_OPTIMIZED)
    assert f["partition"]["acquired"] == [(2, 2, 1)], f
    f = sw.share_fetch(b.bootstrap, "g7", "m2", 1, tid, max_records=1, acquire_mode=sw.BATCH_OPTIMIZED)
    assert f["partition"]["acquired"] == [(3, 5, 1)], f

    # IsRenewAck with fetch bounds is an invalid request; with zero bounds it renews only.
    f = sw.share_fetch(b.bootstrap, "g7", "m1", 1, tid, [(0, 1, [sw.RENEW])], renew=True)
    assert f["error"] == kw.INVALID_REQUEST, f
    f = sw.share_fetch(b.bootstrap, "g7", "m1", 1, tid, [(0, 1, [sw.RENEW])], renew=True,
                       max_wait_ms=0, min_bytes=0, max_bytes=0, max_records=0)
    assert f["error"] == 0 and f["partition"]["ack_error"] == 0 and f["partition"]["acquired"] == [], f
    # ShareAcknowledge v2: RENEW answers the lock duration; RENEW at v1 is refused.
    a = sw.share_acknowledge(b.bootstrap, "g7", "m1", 2, tid, [(0, 1, [sw.RENEW])], renew=True)
    assert (a["error"], a["partition_error"], a["lock_ms"]) == (0, 0, 2000), a
    a = sw.share_acknowledge(b.bootstrap, "g7", "m1", 3, tid, [(0, 1, [sw.RENEW])], version=1)
    assert a["partition_error"] == kw.INVALID_REQUEST, a
    a = sw.share_acknowledge(b.bootstrap, "g7", "m1", 4, tid, [(0, 1, [sw.ACCEPT])])
    assert (a["error"], a["partition_error"]) == (0, 0), a
    # m2 acknowledges nothing: its records come back after the lock and go to m1, one count
    # higher. The two acquisitions' locks run out apart (as far apart as m2's two fetches
    # were), so m1 may get them in one fetch or in two.
    deadline = time.time() + 30
    got = []
    epoch = 5
    while sum(last - first + 1 for first, last, _ in got) < 4 and time.time() < deadline:
        f = sw.share_fetch(b.bootstrap, "g7", "m1", epoch, tid, max_wait_ms=500)
        epoch += 1
        got += f["partition"]["acquired"] if f["partition"] else []
    assert got == [(2, 2, 2), (3, 5, 2)], got
    a = sw.share_acknowledge(b.bootstrap, "g7", "m1", epoch, tid, [(2, 5, [sw.ACCEPT])])
    assert (a["error"], a["partition_error"]) == (0, 0), a


def test_share_version_0_refuses_share_groups(broker_factory, sluice_binary):
    b = broker_factory(settings=SETTINGS)
    create_topic(b, "q8")

    def feature(*args):
        out = subprocess.run([str(sluice_binary), "feature", *args, "-b", b.bootstrap],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    assert "share.version" in feature("describe")
    feature("downgrade", "--feature", "share.version=0")
    assert sw.heartbeat(b.bootstrap, "g8", "m1", 0, ["q8"])[0] == kw.UNSUPPORTED_VERSION
    f = sw.share_fetch(b.bootstrap, "g8", "m1", 0, topic_id(b, "q8"))
    assert f["error"] == kw.UNSUPPORTED_VERSION, f
    assert sw.describe_offsets(b.bootstrap, "g8", 1)["error"] == kw.UNSUPPORTED_VERSION
    # The level is durable across a kill -9, and level 1 turns share groups back on.
    b.kill9()
    b.start()
    assert sw.heartbeat(b.bootstrap, "g8", "m1", 0, ["q8"])[0] == kw.UNSUPPORTED_VERSION
    feature("upgrade", "--feature", "share.version=1")
    assert sw.heartbeat(b.bootstrap, "g8", "m1", 0, ["q8"]) == (0, 1)


def state_topic_end(b) -> int:
    """The end offset of __share_group_state's one partition (the test sets one)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "state-watch"})
    try:
        return c.get_watermark_offsets(TopicPartition("__share_group_state", 0), timeout=10)[1]
    finally:
        c.close()


def test_a_lock_expiring_with_no_fetcher_returns_the_record(broker_factory):
    b = broker_factory(settings={**SETTINGS, "share.coordinator.state.topic.num.partitions": "1"})
    setup(b, "q9", "g9")
    produce(b, "q9", [b"held"])
    tid = topic_id(b, "q9")
    assert sw.heartbeat(b.bootstrap, "g9", "holder", 0, ["q9"])[0] == 0
    f = sw.share_fetch(b.bootstrap, "g9", "holder", 0, tid)
    assert f["partition"]["acquired"] == [(0, 0, 1)], f
    # Nobody fetches or acknowledges from here on: only the broker's lock timer can return
    # the record, and it records that in __share_group_state (delivery count 1, available).
    before = state_topic_end(b)
    deadline = time.time() + 30
    while state_topic_end(b) == before and time.time() < deadline:
        time.sleep(0.2)
    assert state_topic_end(b) > before, "the expired lock was never recorded"
    # The record went back to the group: after a kill -9 (acquisitions are not durable, the
    # expiry is) another consumer gets it as a second delivery.
    b.kill9()
    b.start()
    other = consumer(b, "g9")
    try:
        other.subscribe(["q9"])
        got = poll_until(other, 1)
        assert [(m.value(), m.delivery_count()) for m in got] == [(b"held", 2)]
        other.acknowledge(got[0])
        other.commit_sync()
    finally:
        other.close()


def test_group_configs_and_membership_survive_kill9(broker_factory):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q10", "g10")  # share.auto.offset.reset=earliest
    produce(b, "q10", [b"early"])
    err, epoch = sw.heartbeat(b.bootstrap, "g10", "kept", 0, ["q10"])
    assert err == 0
    b.kill9()
    b.start()
    # The member carries on at its epoch (no UNKNOWN_MEMBER_ID, no rejoin), then leaves.
    assert sw.heartbeat(b.bootstrap, "g10", "kept", epoch) == (0, epoch)
    assert sw.heartbeat(b.bootstrap, "g10", "kept", -1)[0] == 0
    # Still earliest after the restart: the record written before anyone joined is delivered.
    c = consumer(b, "g10")
    try:
        c.subscribe(["q10"])
        got = poll_until(c, 1)
        assert [m.value() for m in got] == [b"early"]
        c.acknowledge(got[0])
        c.commit_sync()
    finally:
        c.close()


def test_cli_consume_and_describe_share_and_consumer_groups(broker_factory, sluice_binary):
    b = broker_factory(settings=SETTINGS)
    setup(b, "q11", "g11")
    produce(b, "q11", [b"v%d" % i for i in range(5)])

    def sluice(*args, check=True):
        out = subprocess.run([str(sluice_binary), *args, "-b", b.bootstrap],
                             capture_output=True, text=True, timeout=60)
        if check:
            assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    # RELEASE: the two records come back to the group, with a higher delivery count.
    out = sluice("consume", "q11", "--share-group", "g11", "-n", "2", "--release", "--timeout-ms", "20000")
    assert out.split() == ["v0", "v1"], out
    # ACCEPT (the default): all five, the released two again among them.
    out = sluice("consume", "q11", "--share-group", "g11", "-n", "5", "--timeout-ms", "20000")
    assert sorted(out.split()) == ["v0", "v1", "v2", "v3", "v4"], out
    # Everything accepted: the start offset reached the end, with no lag.
    out = sluice("group", "describe", "g11")
    assert "Type: share" in out and "Members: 0" in out, out
    row = [line.split() for line in out.splitlines() if line.startswith("q11")]
    assert row == [["q11", "0", "5", "5", "0"]], out

    # A member shows with its epoch and assignment while it consumes.
    c = consumer(b, "g11")
    try:
        c.subscribe(["q11"])
        deadline = time.time() + 30
        while time.time() < deadline:
            c.poll(0.5)
            out = sluice("group", "describe", "g11")
            if "Members: 1" in out and "assignment=q11:0" in out:
                break
        assert "Members: 1" in out and "epoch=" in out and "assignment=q11:0" in out, out
    finally:
        c.close()

    # A KIP-848 consumer group: members with epochs and assignments, and the offsets table.
    from confluent_kafka import Consumer
    cg = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "cg11", "group.protocol": "consumer",
                   "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        cg.subscribe(["q11"])
        got = []
        deadline = time.time() + 30
        while len(got) < 5 and time.time() < deadline:
            m = cg.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m)
        assert len(got) == 5
        cg.commit(got[-1], asynchronous=False)
        out = sluice("group", "describe", "cg11")
        assert "Type: consumer" in out and "Members: 1" in out and "assignment=q11:0" in out, out
        row = [line.split()[:5] for line in out.splitlines() if line.startswith("q11")]
        assert row == [["q11", "0", "5", "5", "0"]], out
    finally:
        cg.close()


def test_cli_and_console_show_what_is_in_flight(broker_factory, sluice_binary):
    port = free_port()
    # Locks long enough that the acquired records are still held when the CLI looks.
    b = broker_factory(settings={**SETTINGS, "group.share.record.lock.duration.ms": "30000",
                                 "sluice.http.listen": f"127.0.0.1:{port}"})
    setup(b, "q12", "g12")
    produce(b, "q12", [b"a", b"b", b"c", b"d"])
    tid = topic_id(b, "q12")
    assert sw.heartbeat(b.bootstrap, "g12", "m1", 0, ["q12"])[0] == 0
    f = sw.share_fetch(b.bootstrap, "g12", "m1", 0, tid)
    assert f["partition"]["acquired"] == [(0, 3, 1)], f
    # Accept 0 (the start offset moves to 1), release 1 (available after one delivery);
    # 2 and 3 stay acquired by m1.
    a = sw.share_acknowledge(b.bootstrap, "g12", "m1", 1, tid, [(0, 0, [sw.ACCEPT]), (1, 1, [sw.RELEASE])])
    assert (a["error"], a["partition_error"]) == (0, 0), a

    def describe(http):
        out = subprocess.run([str(sluice_binary), "group", "describe", "g12", "--http", http, "-b", b.bootstrap],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    out = describe(f"127.0.0.1:{port}")
    runs = [line.split() for line in out.splitlines() if line.startswith("q12") and len(line.split()) == 7]
    assert runs[0] == ["q12", "0", "1", "available", "1", "-", "-"], out
    assert runs[1][:6] == ["q12", "0", "2-3", "acquired", "1", "m1"], out
    assert 0 < int(runs[1][6]) <= 30000, out
    assert len(runs) == 2, out

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/share-groups/g12", timeout=10) as r:
        (p,) = json.loads(r.read())["offsets"]
    assert p["start_offset"] == 1 and p["in_flight"]["records"] == {"available": 1, "acquired": 2}, p
    assert p["in_flight"]["end_offset"] == 4 and p["in_flight"]["truncated"] is False, p

    # Without the HTTP side the rest is still described, and the command says what it left out.
    out = describe(f"127.0.0.1:{free_port()}")
    assert "Type: share" in out and "In flight: not shown (cannot connect" in out, out
