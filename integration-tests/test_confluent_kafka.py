"""confluent-kafka (Python binding of librdkafka 2.x, bundled in the wheel) against the real broker.

Consumer groups do not exist yet in Sluice: consumers use ``assign()`` with explicit offsets and
never commit (librdkafka insists on a group.id, which is then only used for FindCoordinator).
Producers run with ``enable.idempotence=false``.
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from harness import partition_batches

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ACKS = [0, 1, -1]
DEBUG = "protocol,broker"  # librdkafka debug contexts, logged into the client log shown on failure
_LOGGER = None


@pytest.fixture(autouse=True)
def _librdkafka_log(client_log):
    """Route every librdkafka client's log (with DEBUG contexts) into the test's client log."""
    global _LOGGER
    _LOGGER = client_log.logger
    yield
    _LOGGER = None


def common(broker, **conf) -> dict:
    base = {"bootstrap.servers": broker.bootstrap, "debug": DEBUG, "logger": _LOGGER}
    base.update(conf)
    return {k: v for k, v in base.items() if v is not None}


def value_of(tag: str, i: int) -> bytes:
    # Compressible on purpose, so that every codec really shrinks each batch.
    return f"{tag}-{i:06d}-".encode() + b"abcdefgh" * 16


def seq_of(value: bytes) -> int:
    return int(value.split(b"-")[-2])


def admin(broker) -> AdminClient:
    return AdminClient(common(broker))


def create_topic(broker, name: str, partitions: int = 1) -> None:
    a = admin(broker)  # keep a reference: a destroyed AdminClient fails its futures
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                         operation_timeout=15, request_timeout=15)
    fs[name].result(timeout=30)


def producer(broker, **conf) -> Producer:
    return Producer(common(broker, **{
        "enable.idempotence": False,
        "linger.ms": 5,
        "message.timeout.ms": 20000,
        **conf,
    }))


class Deliveries:
    """Delivery-report collector: ``ok`` holds (partition, offset, value), ``failed`` (value, error)."""

    def __init__(self):
        self.ok = []
        self.failed = []
        self.lock = threading.Lock()

    def __call__(self, err, msg):
        with self.lock:
            if err is None:
                self.ok.append((msg.partition(), msg.offset(), msg.value()))
            else:
                self.failed.append((msg.value(), err))


def flush_all(p: Producer, timeout: float = 30) -> None:
    left = p.flush(timeout)
    assert left == 0, f"{left} messages still undelivered after {timeout}s flush"


def consumer(broker, **conf) -> Consumer:
    return Consumer(common(broker, **{
        "group.id": "sluice-it-unused",  # required by librdkafka; we only assign(), never commit
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
        **conf,
    }))


def consume(broker, topic: str, partitions, start=OFFSET_BEGINNING, timeout: float = 30, expect: int | None = None):
    """Assign ``partitions`` at ``start`` (offset or dict partition->offset) and read until EOF on all
    (and, with ``expect``, until that many records arrived). Returns the list of messages."""
    c = consumer(broker)
    try:
        starts = start if isinstance(start, dict) else {p: start for p in partitions}
        c.assign([TopicPartition(topic, p, starts[p]) for p in partitions])
        msgs, eof = [], set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    if eof >= set(partitions) and (expect is None or len(msgs) >= expect):
                        return msgs
                    continue
                raise AssertionError(f"consumer error: {m.error()}")
            eof.discard(m.partition())
            msgs.append(m)
        raise AssertionError(
            f"timed out after {timeout}s reading {topic} {sorted(partitions)}: got {len(msgs)} records, EOF on {sorted(eof)}"
        )
    finally:
        c.close()


# -- 1. admin + metadata ----------------------------------------------------------------------


def test_create_topic_and_metadata(broker):
    a = admin(broker)
    fs = a.create_topics([NewTopic("orders", num_partitions=3, replication_factor=1),
                          NewTopic("doomed", num_partitions=1, replication_factor=1)], operation_timeout=15)
    for name, f in fs.items():
        f.result(timeout=30)

    md = a.list_topics(timeout=15)
    assert set(md.brokers) == {1}, md.brokers
    b1 = md.brokers[1]
    assert (b1.host, b1.port) == ("127.0.0.1", broker.port)
    assert md.controller_id == 1
    t = md.topics["orders"]
    assert t.error is None, t.error
    assert sorted(t.partitions) == [0, 1, 2]
    for p in t.partitions.values():
        assert p.error is None, p.error
        assert p.leader == 1
        assert list(p.replicas) == [1] and list(p.isrs) == [1]

    # Creating it again is an error (TOPIC_ALREADY_EXISTS), not a silent success.
    again = a.create_topics([NewTopic("orders", num_partitions=3, replication_factor=1)], operation_timeout=15)
    with pytest.raises(KafkaException) as ei:
        again["orders"].result(timeout=30)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    # DeleteTopics removes it from metadata.
    a.delete_topics(["doomed"], operation_timeout=15)["doomed"].result(timeout=30)
    deadline = time.monotonic() + 10
    while "doomed" in a.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, "deleted topic still listed in metadata after 10s"
        time.sleep(0.2)


def test_auto_create_on_produce(broker_factory):
    broker = broker_factory(settings={"num.partitions": 3})  # auto-created topics get 3 partitions
    p = producer(broker, **{"acks": "all"})
    d = Deliveries()
    for i in range(30):
        p.produce("auto-made", value=value_of("auto", i), partition=i % 3, on_delivery=d)
    flush_all(p)
    assert not d.failed, d.failed
    for part in range(3):
        assert [off for pp, off, _ in d.ok if pp == part] == list(range(10))
    md = admin(broker).list_topics(topic="auto-made", timeout=10)
    t = md.topics["auto-made"]
    assert sorted(t.partitions) == [0, 1, 2]
    assert all(p.leader == 1 for p in t.partitions.values())


# -- 2. every codec x every acks, read back from earliest, codec checked on disk --------------


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume_codec_and_acks(broker, codec):
    topic = f"codec-{codec}"
    create_topic(broker, topic, partitions=2)
    expected = {0: [], 1: []}
    n = 300
    for acks in ACKS:
        d = Deliveries()
        p = producer(broker, **{"acks": str(acks), "compression.type": codec, "linger.ms": 20})
        tag = f"{codec}.acks{acks}"
        for i in range(n):
            v = value_of(tag, i)
            part = i % 2
            p.produce(topic, value=v, key=f"key-{i}".encode(), partition=part,
                      headers=[("seq", str(i).encode()), ("acks", str(acks).encode())], on_delivery=d)
            expected[part].append((f"key-{i}".encode(), v, [("seq", str(i).encode()), ("acks", str(acks).encode())]))
            if i % 100 == 99:
                p.poll(0)
        flush_all(p)
        assert not d.failed, f"acks={acks}: delivery failures: {d.failed[:5]}"
        assert len(d.ok) == n
        if acks != 0:
            # Offsets in delivery reports are dense per partition and start after the previous round.
            for part in (0, 1):
                offs = [off for pp, off, _ in d.ok if pp == part]
                assert offs == sorted(offs) and len(set(offs)) == len(offs)

    msgs = consume(broker, topic, [0, 1])
    for part in (0, 1):
        got = [(m.key(), m.value(), m.headers()) for m in msgs if m.partition() == part]
        assert len(got) == len(expected[part]), f"partition {part}: {len(got)} records, expected {len(expected[part])}"
        assert got == expected[part]
        offsets = [m.offset() for m in msgs if m.partition() == part]
        assert offsets == list(range(len(expected[part]))), "offsets are not 0..n-1 in order"

    # On disk, every batch carries the codec the producer used (stored as sent).
    if broker.in_memory:
        return  # no files to read
    for part in (0, 1):
        batches = partition_batches(broker.data_dir, topic, part)
        codecs = {b.codec_name for b in batches}
        assert codecs == {codec}, f"partition {part}: batch codecs on disk {codecs}, produced with {codec}"
        assert sum(b.records_count for b in batches) == len(expected[part])
        assert batches[-1].last_offset == len(expected[part]) - 1


# -- 3. start positions: latest, explicit offset, timestamp -----------------------------------


def _produce_sync(broker, topic, values, timestamps=None, partition=0, **conf):
    p = producer(broker, **{"acks": "all", **conf})
    d = Deliveries()
    for i, v in enumerate(values):
        kw = {"timestamp": timestamps[i]} if timestamps else {}
        p.produce(topic, value=v, partition=partition, on_delivery=d, **kw)
    flush_all(p)
    assert not d.failed, d.failed[:5]
    return d.ok


def test_consume_from_latest(broker):
    create_topic(broker, "latest")
    _produce_sync(broker, "latest", [value_of("old", i) for i in range(50)])
    c = consumer(broker)
    try:
        c.assign([TopicPartition("latest", 0, OFFSET_END)])
        # Let the consumer resolve "latest" (ListOffsets) and reach EOF before new records arrive.
        deadline = time.monotonic() + 15
        while True:
            m = c.poll(0.2)
            assert time.monotonic() < deadline, "no EOF at latest within 15s"
            if m is not None:
                assert m.error() and m.error().code() == KafkaError._PARTITION_EOF, \
                    f"consumer at latest returned an old record or error: {m.error() or m.value()}"
                assert m.offset() == 50, f"EOF reported at offset {m.offset()}, log end is 50"
                break
        _produce_sync(broker, "latest", [value_of("new", i) for i in range(20)])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 20 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or (m.error() and m.error().code() == KafkaError._PARTITION_EOF):
                continue
            assert not m.error(), m.error()
            got.append((m.offset(), m.value()))
        assert got == [(50 + i, value_of("new", i)) for i in range(20)]
    finally:
        c.close()


def test_consume_from_explicit_offset(broker):
    create_topic(broker, "explicit")
    # Several batches, so the start offset falls inside a batch.
    for chunk in range(4):
        _produce_sync(broker, "explicit", [value_of("e", chunk * 25 + i) for i in range(25)])
    msgs = consume(broker, "explicit", [0], start=37)
    assert [m.offset() for m in msgs] == list(range(37, 100))
    assert [m.value() for m in msgs] == [value_of("e", i) for i in range(37, 100)]


def test_consume_from_timestamp(broker):
    create_topic(broker, "bytime")
    base = int(time.time() * 1000) - 3_600_000
    ts = [base + i * 1000 for i in range(100)]
    for chunk in range(5):  # 5 produce requests -> several batches to search across
        idx = range(chunk * 20, chunk * 20 + 20)
        _produce_sync(broker, "bytime", [value_of("t", i) for i in idx], timestamps=[ts[i] for i in idx])

    msgs = consume(broker, "bytime", [0])
    assert [m.timestamp()[1] for m in msgs] == ts, "CreateTime timestamps not preserved"

    c = consumer(broker)
    try:
        for target, want in [(base + 41_500, 42), (base + 10_000, 10), (base - 5, 0), (base + 99_000, 99)]:
            [r] = c.offsets_for_times([TopicPartition("bytime", 0, target)], timeout=15)
            assert r.error is None, r.error
            assert r.offset == want, f"offsets_for_times({target - base:+d}ms) = {r.offset}, want {want}"
        [r] = c.offsets_for_times([TopicPartition("bytime", 0, base + 100_000)], timeout=15)
        assert r.offset == -1, f"timestamp after the last record must give offset -1, got {r.offset}"
    finally:
        c.close()

    first = consume(broker, "bytime", [0], start=42)[0]
    assert first.timestamp()[1] >= base + 41_500 and first.value() == value_of("t", 42)

    # ListOffsets through the admin API: earliest, latest, max timestamp, by timestamp.
    a = admin(broker)
    tp = TopicPartition("bytime", 0)
    for spec, want in [(OffsetSpec.earliest(), 0), (OffsetSpec.latest(), 100),
                       (OffsetSpec.max_timestamp(), 99), (OffsetSpec.for_timestamp(base + 41_500), 42)]:
        res = a.list_offsets({tp: spec}, request_timeout=15)[tp].result(timeout=30)
        assert res.offset == want, f"list_offsets({spec}) = {res.offset}, want {want}"


# -- 4. restart ---------------------------------------------------------------------------------


def test_restart_keeps_everything(broker):
    create_topic(broker, "durable", partitions=2)
    p = producer(broker, **{"acks": "all", "compression.type": "gzip"})
    d = Deliveries()
    for i in range(400):
        p.produce("durable", value=value_of("r", i), key=str(i).encode(), partition=i % 2, on_delivery=d)
    flush_all(p)
    assert not d.failed

    broker.restart()  # SIGTERM (must exit 0) + start on the same port and data dir

    msgs = consume(broker, "durable", [0, 1])
    for part in (0, 1):
        assert [m.value() for m in msgs if m.partition() == part] == [value_of("r", i) for i in range(part, 400, 2)]

    # Appends after the restart continue the offsets; nothing is overwritten.
    d2 = Deliveries()
    p2 = producer(broker, **{"acks": "all"})
    for i in range(400, 420):
        p2.produce("durable", value=value_of("r", i), partition=0, on_delivery=d2)
    flush_all(p2)
    assert not d2.failed
    assert [off for _, off, _ in d2.ok] == list(range(200, 220))
    msgs = consume(broker, "durable", [0])
    assert [m.value() for m in msgs] == [value_of("r", i) for i in list(range(0, 400, 2)) + list(range(400, 420))]


# -- 5. kill -9 during an acks=all produce loop -------------------------------------------------


def test_kill9_during_acks_all_produce(broker):
    create_topic(broker, "crash", partitions=2)
    d = Deliveries()
    p = producer(broker, **{
        "acks": "all",
        "retries": 0,  # message.send.max.retries: a message is acknowledged by its first attempt or fails
        "linger.ms": 2,
        "max.in.flight.requests.per.connection": 5,
        "message.timeout.ms": 4000,
        "debug": None,  # too chatty over thousands of requests
    })
    killed = threading.Event()

    def killer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with d.lock:
                if len(d.ok) >= 1500:
                    break
            time.sleep(0.001)
        broker.kill9()
        killed.set()

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    sent = 0
    deadline = time.monotonic() + 90
    while not killed.is_set() and time.monotonic() < deadline:
        try:
            p.produce("crash", value=value_of("k", sent), partition=sent % 2, on_delivery=d)
            sent += 1
        except BufferError:
            p.poll(0.01)
        if sent % 50 == 0:
            p.poll(0)
    assert killed.is_set(), "the broker was never killed (too few acknowledgements?)"
    p.flush(15)  # everything still pending fails (retries off, broker down)
    acked = {v for _, _, v in d.ok}
    assert len(acked) >= 1500
    assert len(d.ok) + len(d.failed) == sent, "some messages got no delivery report"

    broker.start()
    msgs = consume(broker, "crash", [0, 1], timeout=60)
    vals = [m.value() for m in msgs]
    dups = {v for v in vals if vals.count(v) > 1} if len(set(vals)) != len(vals) else set()
    assert not dups, f"{len(dups)} values stored more than once, e.g. {sorted(dups)[:3]}"
    missing = acked - set(vals)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing, key=seq_of)[:5]}"
    assert set(vals) <= {value_of("k", i) for i in range(sent)}, "unknown values in the log"
    for part in (0, 1):
        seqs = [seq_of(m.value()) for m in msgs if m.partition() == part]
        assert seqs == sorted(seqs), f"partition {part}: records out of production order after recovery"
        assert [m.offset() for m in msgs if m.partition() == part] == list(range(len(seqs)))
    # The recovered log accepts appends at the right offset.
    after = _produce_sync(broker, "crash", [b"after-crash"], partition=0)
    n0 = sum(1 for m in msgs if m.partition() == 0)
    assert after[0][1] == n0


def test_timestamps_outside_the_topic_window_are_refused(broker):
    """message.timestamp.before/after.max.ms (KIP-937): a record whose CreateTime timestamp is
    outside the window fails with INVALID_TIMESTAMP and is not stored; others go through; the
    window changes at run time with IncrementalAlterConfigs."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = "ts-window"
    a.create_topics([NewTopic(topic, 1, 1, config={"message.timestamp.before.max.ms": "3600000",
                                                      "message.timestamp.after.max.ms": "3600000"})])[topic].result(30)

    def send(timestamp_ms: int):
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "retries": 0})
        outcome = []
        p.produce(topic, value=str(timestamp_ms).encode(), partition=0, timestamp=timestamp_ms,
                  on_delivery=lambda err, _m: outcome.append(err))
        assert p.flush(30) == 0
        return outcome[0]

    now = int(time.time() * 1000)
    day = 24 * 3600 * 1000
    assert send(now) is None
    for bad in (now - day, now + day):
        err = send(bad)
        assert err is not None and err.code() == KafkaError.INVALID_TIMESTAMP, (bad, err)
    # Widen the past side at run time: a day-old record is accepted now.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("message.timestamp.before.max.ms", str(2 * day),
                    incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result(30)
    assert send(now - day) is None
    stored = [int(m.value()) for m in consume(broker, topic, [0])]
    assert stored == [now, now - day]


@pytest.mark.on_disk
def test_topic_compression_type_rebuilds_batches(broker):
    """compression.type on a topic: batches sent with lz4 by an idempotent producer are stored
    as zstd, read back unchanged (headers too: in order, repeated keys, empty values), and the
    codec can be changed at run time (uncompressed)."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = "recompressed"
    a.create_topics([NewTopic(topic, 1, 1, config={"compression.type": "zstd"})])[topic].result(30)
    values = [f"value-{i}-{'x' * (i % 50)}".encode() for i in range(500)]
    headers = [("trace", b"a"), ("trace", b"b"), ("", b""), ("trace", b"c")]

    def send(batch):
        p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "lz4",
                      "enable.idempotence": True, "linger.ms": 5})
        for v in batch:
            p.produce(topic, value=v, partition=0, headers=headers)
        assert p.flush(30) == 0

    send(values[:250])
    assert {b.codec_name for b in partition_batches(broker.data_dir, topic, 0)} == {"zstd"}
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("compression.type", "uncompressed", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result(30)
    send(values[250:])
    codecs = [b.codec_name for b in partition_batches(broker.data_dir, topic, 0)]
    assert set(codecs) == {"zstd", "none"} and codecs[-1] == "none", codecs
    got = consume(broker, topic, [0])
    assert [m.value() for m in got] == values
    assert all(m.headers() == headers for m in got), got[0].headers()
