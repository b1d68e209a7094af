"""Log compaction with real clients against the real broker: a compacted topic with many
updates and tombstones replays to the latest state per key, keyless records are refused,
a kill -9 in the middle of cleaning still replays correctly after a restart, and the
compacted internal topics (__consumer_offsets, __transaction_state) rebuild the same
committed offsets and transaction state after cleaning and a kill -9.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import wait_until
from transactions_common import describe_transaction

TIMEOUT = 60
COMPACT = {
    "cleanup.policy": "compact",
    "segment.bytes": "8192",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "100",
}
FAST_CLEANER = {"log.cleaner.backoff.ms": 100}


def create(broker, configs: dict) -> str:
    name = f"compact-{uuid.uuid4().hex[:8]}"
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic(name, 1, 1, config=configs)])[name].result(TIMEOUT)
    return name


def produce_history(broker, topic: str, n: int, keys: int, seed: int = 0, conf: dict | None = None) -> dict:
    """n updates over `keys` keys; every 7th update of a key is a tombstone. Returns the
    expected latest state (deleted keys absent)."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "batch.num.messages": 50,
                  "enable.idempotence": True, **(conf or {})})
    state: dict[bytes, bytes] = {}
    errors = []
    for i in range(n):
        k = f"key-{(i * 7919 + seed) % keys}".encode()
        if i % 7 == 3:
            v = None
            state.pop(k, None)
        else:
            v = f"value-{i}-{'x' * (i % 40)}".encode()
            state[k] = v
        p.produce(topic, key=k, value=v, partition=0,
                  on_delivery=lambda err, _m: errors.append(err) if err else None)
        if i % 500 == 499:
            p.poll(0)
    assert p.flush(TIMEOUT) == 0
    assert not errors, errors[:3]
    return state


def replay(broker, topic: str) -> tuple[dict, int, int]:
    """Reads the partition from the beginning to its end: (state, records, tombstones)."""
    c = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "sluice-it-unused",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
    })
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        state: dict[bytes, bytes] = {}
        records = tombstones = 0
        last = -1
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return state, records, tombstones
                raise AssertionError(f"consumer error: {m.error()}")
            assert m.offset() > last, "offsets only grow"
            last = m.offset()
            records += 1
            if m.value() is None:
                tombstones += 1
                state.pop(m.key(), None)
            else:
                state[m.key()] = m.value()
        raise AssertionError("timed out replaying")
    finally:
        c.close()


def cleaned_passes(broker) -> int:
    return broker.log_text().count("log cleaner compacted segments")


def test_compacted_topic_replays_latest_state_per_key(broker_factory):
    broker = broker_factory(settings=FAST_CLEANER)
    topic = create(broker, COMPACT)
    want = produce_history(broker, topic, 6000, 150)
    wait_until(lambda: cleaned_passes(broker) >= 1, timeout=TIMEOUT, message="a cleaning pass")
    state, records, tombstones = replay(broker, topic)
    assert state == want
    assert records < 6000 // 2, f"compaction kept {records} of 6000 records"
    # More updates make the old section dirty again; tombstones older than
    # delete.retention.ms below the cleaned range are then removed.
    time.sleep(0.3)
    passes = cleaned_passes(broker)
    want = produce_history(broker, topic, 3000, 150, seed=1)
    wait_until(lambda: cleaned_passes(broker) > passes, timeout=TIMEOUT, message="a second pass")
    state, records2, tombstones2 = replay(broker, topic)
    assert state == want
    assert tombstones2 < 9000 // 7, f"{tombstones2} tombstones left"
    # The state survives a restart.
    broker.restart()
    assert replay(broker, topic)[0] == want


def test_keyless_records_are_refused_by_a_compacted_topic(broker):
    topic = create(broker, COMPACT)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "retries": 0})
    errors = []
    p.produce(topic, value=b"no key", partition=0, on_delivery=lambda err, _m: errors.append(err))
    p.flush(TIMEOUT)
    assert errors and errors[0] is not None
    assert errors[0].code() == KafkaError.INVALID_RECORD, errors[0]
    # A keyed record is fine.
    errors.clear()
    p.produce(topic, key=b"k", value=b"v", partition=0, on_delivery=lambda err, _m: errors.append(err))
    p.flush(TIMEOUT)
    assert errors == [None]


def test_kill9_during_cleaning_still_replays_latest_state(broker_factory):
    broker = broker_factory(settings={"log.cleaner.enable": False})
    topic = create(broker, {**COMPACT, "segment.bytes": "65536"})
    want = produce_history(broker, topic, 40000, 2000, conf={"compression.type": "lz4"})
    broker.stop()
    part_dir = broker.data_dir / f"{topic}-0"
    caught_mid_swap = 0
    for delay in (0.0, 0.05, 0.15, 0.3):
        broker.settings = dict(FAST_CLEANER)
        broker.start()
        deadline = time.monotonic() + delay + 5
        # Kill as soon as cleaned files exist (or after `delay`): mid-cleaning or mid-swap.
        while time.monotonic() < deadline:
            names = [p.name for p in part_dir.iterdir()]
            if any(n.endswith((".cleaned", ".swap")) for n in names):
                caught_mid_swap += 1
                time.sleep(delay / 10)
                break
            if delay and time.monotonic() > deadline - 5:
                break
            time.sleep(0.002)
        broker.kill9()
        broker.settings = {"log.cleaner.enable": False}
        broker.start()
        state, _, _ = replay(broker, topic)
        assert state == want, f"after kill -9 with delay {delay}"
        broker.stop()
    # Finally let the cleaner finish and check once more.
    broker.settings = dict(FAST_CLEANER)
    broker.start()
    # One of the runs above may already have finished a pass (the log file is shared),
    # or have been killed right after its swap (then only the checkpoint tells).
    wait_until(lambda: cleaned_passes(broker) >= 1 or (part_dir / "cleaner-offset.checkpoint").exists(),
               timeout=TIMEOUT, message="cleaning")
    time.sleep(1)
    state, records, _ = replay(broker, topic)
    assert state == want
    print(f"kills during cleaning files: {caught_mid_swap}, records after cleaning: {records}")


def internal_passes(broker, topic: str) -> int:
    return sum(1 for line in broker.log_text().splitlines()
               if "log cleaner compacted segments" in line and f"topic={topic}" in line)


def test_internal_topics_are_compacted_and_replay_to_the_same_state(broker_factory):
    """__consumer_offsets and __transaction_state are compacted topics: after the cleaner has
    rewritten their closed segments, a restart (kill -9) still rebuilds the same committed
    offsets (plain commits and transactional ones, aborted ones never applied) and the same
    transaction state."""
    from confluent_kafka import Consumer

    broker = broker_factory(settings={
        **FAST_CLEANER,
        "offsets.topic.num.partitions": 1, "offsets.topic.segment.bytes": 8192,
        "transaction.state.log.num.partitions": 1, "transaction.state.log.segment.bytes": 8192,
        "log.cleaner.min.cleanable.ratio": 0.01,
    })
    topic = create(broker, {})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(f"{topic}-3p", 3, 1)])[f"{topic}-3p"].result(TIMEOUT)

    # Plain commits: 600 commits of the same three partitions by a simple (unsubscribed) consumer.
    plain = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "plain-group",
                      "enable.auto.commit": False})
    for i in range(1, 201):
        plain.commit(offsets=[TopicPartition(f"{topic}-3p", p, i * 10 + p) for p in range(3)],
                     asynchronous=False)
    plain.close()

    # Transactional commits: 150 transactions, every third one aborted.
    txn_group = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "txn-group",
                          "enable.auto.commit": False})
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "compaction-tx",
                  "metadata.recovery.strategy": "none"})
    p.init_transactions(TIMEOUT)
    committed = None
    for i in range(1, 151):
        p.begin_transaction()
        p.produce(topic, value=f"txn-{i}".encode(), partition=0)
        p.send_offsets_to_transaction([TopicPartition(f"{topic}-3p", 0, i)],
                                      txn_group.consumer_group_metadata(), TIMEOUT)
        if i % 3 == 0:
            p.abort_transaction(TIMEOUT)
        else:
            p.commit_transaction(TIMEOUT)
            committed = i
    assert committed == 149

    def offsets(group: str, partitions: int) -> list[int]:
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                      "enable.auto.commit": False, "isolation.level": "read_committed"})
        try:
            got = c.committed([TopicPartition(f"{topic}-3p", q) for q in range(partitions)], timeout=TIMEOUT)
            return [tp.offset for tp in got]
        finally:
            c.close()

    want_plain, want_txn = [2000, 2001, 2002], [committed]
    assert offsets("plain-group", 3) == want_plain
    assert offsets("txn-group", 1) == want_txn

    wait_until(lambda: internal_passes(broker, "__consumer_offsets") >= 1, timeout=TIMEOUT,
               message="a cleaning pass over __consumer_offsets")
    wait_until(lambda: internal_passes(broker, "__transaction_state") >= 1, timeout=TIMEOUT,
               message="a cleaning pass over __transaction_state")
    before = describe_transaction(broker.bootstrap, "compaction-tx")
    assert before["state"] == "CompleteAbort", before
    broker.kill9()
    broker.start()
    # The last transaction was aborted: a pending offset left over from it would make these
    # read_committed (require_stable) lookups time out on UNSTABLE_OFFSET_COMMIT.
    assert offsets("plain-group", 3) == want_plain
    assert offsets("txn-group", 1) == want_txn
    after = describe_transaction(broker.bootstrap, "compaction-tx")
    assert (after["state"], after["producer_id"], after["epoch"]) == (
        "CompleteAbort", before["producer_id"], before["epoch"]), after
    # A new instance of the producer keeps the producer id and bumps the epoch.
    p2 = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "compaction-tx",
                   "metadata.recovery.strategy": "none"})
    p2.init_transactions(TIMEOUT)
    p2.begin_transaction()
    p2.produce(topic, value=b"after-restart", partition=0)
    p2.commit_transaction(TIMEOUT)
    final = describe_transaction(broker.bootstrap, "compaction-tx")
    assert (final["producer_id"], final["epoch"]) == (before["producer_id"], before["epoch"] + 1), final
