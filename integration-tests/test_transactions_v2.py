"""Transactions v2 (KIP-890 part 2) and finalized features, over the raw protocol.

No client installed here speaks transactions v2 (the Java 4.x client would), so these tests send
what such a client sends, byte for byte (layouts from Kafka's message definitions): ApiVersions
v3/v4 with the finalized ``transaction.version``, InitProducerId v5, Produce v12 with a
transactional batch and no AddPartitionsToTxn, EndTxn v5, UpdateFeatures v2. Readers are
confluent-kafka consumers (read_committed / read_uncommitted). A kill -9 between a transaction's
decision and its markers uses the broker's fault-injection switch
``SLUICE_TEST_HOLD_TRANSACTION_MARKERS=1`` (markers are never written while it is set), then
restarts without it. A transactions-v1 client (confluent-kafka) keeps working while v2 is
finalized. ``sluice feature`` is driven as a user would.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

import kafka_wire as kw
from harness import wait_until
from transactions_common import describe_transaction, new_topic, read_values

INIT_PRODUCER_ID, END_TXN, UPDATE_FEATURES = 22, 26, 57
INVALID_PRODUCER_EPOCH, INVALID_UPDATE_VERSION = 47, 95
TRANSACTIONAL = 0x10  # batch attribute bit 4


def call(bootstrap: str, key: int, version: int, body: bytes, flexible: bool = True) -> kw.Reader:
    c = kw.KafkaConn.to(bootstrap)
    try:
        c.send_raw(kw.request(key, version, c.next_correlation_id(), body, flexible=flexible))
        r = kw.Reader(c.recv_frame())
    finally:
        c.close()
    r.i32()  # correlation id
    if key != kw.API_VERSIONS:
        r.tagged_fields()
    return r


def features(bootstrap: str, version: int) -> dict:
    """ApiVersions v3/v4: {supported: {name: (min, max)}, finalized: {name: level}, epoch}."""
    r = call(bootstrap, kw.API_VERSIONS, version, kw.api_versions_body(version), flexible=True)
    assert r.i16() == 0
    r.compact_array(lambda r: (r.i16(), r.i16(), r.i16(), r.tagged_fields()))
    r.i32()
    out = {"supported": {}, "finalized": {}, "epoch": -1}
    for tag, raw in r.tagged_fields().items():
        t = kw.Reader(raw)
        if tag == 0:
            for name, lo, hi in t.compact_array(lambda t: (t.compact_string(), t.i16(), t.i16(), t.tagged_fields())[:3]):
                out["supported"][name] = (lo, hi)
        elif tag == 1:
            out["epoch"] = t.i64()
        elif tag == 2:
            for name, hi, lo in t.compact_array(lambda t: (t.compact_string(), t.i16(), t.i16(), t.tagged_fields())[:3]):
                assert hi == lo
                out["finalized"][name] = hi
    return out


def init_producer_id(bootstrap: str, txn_id: str) -> tuple[int, int]:
    body = kw.compact_string(txn_id) + kw.i32(60000) + kw.i64(-1) + kw.i16(-1) + kw.TAGS
    r = call(bootstrap, INIT_PRODUCER_ID, 5, body)
    r.i32()
    err, pid, epoch = r.i16(), r.i64(), r.i16()
    assert err == 0, err
    return pid, epoch


def produce_v12(bootstrap: str, txn_id: str, topic: str, pid: int, epoch: int, seq: int, values) -> int:
    """One transactional batch to partition 0 with Produce v12 (no AddPartitionsToTxn before)."""
    batch = kw.record_batch([(None, v.encode()) for v in values], attributes=TRANSACTIONAL,
                            producer_id=pid, producer_epoch=epoch, base_sequence=seq)
    body = kw.produce_body(9, {topic: {0: batch}}, acks=-1, transactional_id=txn_id)  # v9-v12 bodies are alike
    c = kw.KafkaConn.to(bootstrap)
    try:
        c.send_raw(kw.request(kw.PRODUCE, 12, c.next_correlation_id(), body))
        resp = kw.decode_produce(c.recv_frame(), 9)
    finally:
        c.close()
    return resp["topics"][topic][0]["error_code"]


def end_txn_body(txn_id: str, pid: int, epoch: int, commit: bool) -> bytes:
    return kw.compact_string(txn_id) + kw.i64(pid) + kw.i16(epoch) + kw.boolean(commit) + kw.TAGS


def end_txn(bootstrap: str, txn_id: str, pid: int, epoch: int, commit: bool) -> tuple[int, int, int]:
    """EndTxn v5 -> (error, producer id, epoch) from the answer."""
    r = call(bootstrap, END_TXN, 5, end_txn_body(txn_id, pid, epoch, commit))
    r.i32()
    return r.i16(), r.i64(), r.i16()


def update_features(bootstrap: str, updates, validate_only=False) -> tuple[int, str | None]:
    """UpdateFeatures v2; updates: [(feature, level, upgrade_type)]."""
    enc = lambda u: kw.compact_string(u[0]) + kw.i16(u[1]) + kw.i8(u[2]) + kw.TAGS  # noqa: E731
    body = kw.i32(10000) + kw.compact_array(updates, enc) + kw.boolean(validate_only) + kw.TAGS
    r = call(bootstrap, UPDATE_FEATURES, 2, body)
    r.i32()
    return r.i16(), r.compact_string()


def test_features_are_kafka_4_2s_and_v3_leaves_out_minimum_0(broker):
    v4 = features(broker.bootstrap, 4)
    assert v4["supported"] == {"metadata.version": (7, 29), "transaction.version": (0, 2),
                               "share.version": (0, 1)}
    assert v4["finalized"] == {"metadata.version": 29, "transaction.version": 2, "share.version": 1}
    assert v4["epoch"] >= 0
    v3 = features(broker.bootstrap, 3)
    # Below v4 a feature whose minimum is 0 is left out (KAFKA-17492), as Kafka does.
    assert v3["supported"] == {"metadata.version": (7, 29)}
    assert v3["finalized"] == v4["finalized"]


def test_tv2_commit_abort_and_fencing(broker):
    b = broker.bootstrap
    topic = new_topic(b, 1, "tv2")
    txn = f"tv2-{uuid.uuid4().hex[:8]}"
    pid, e0 = init_producer_id(b, txn)
    assert produce_v12(b, txn, topic, pid, e0, 0, ["c1", "c2"]) == 0
    d = describe_transaction(b, txn)
    assert (d["state"], d["partitions"]) == ("Ongoing", [(topic, 0)]), d
    assert read_values(b, topic, 1, "read_committed") == []
    # The commit bumps the epoch and says so.
    assert end_txn(b, txn, pid, e0, True) == (0, pid, e0 + 1)
    assert read_values(b, topic, 1, "read_committed") == ["c1", "c2"]
    # A write of the old epoch is fenced by the marker's new epoch.
    assert produce_v12(b, txn, topic, pid, e0, 2, ["late"]) == INVALID_PRODUCER_EPOCH
    # The next transaction runs at the new epoch from sequence 0; its abort hides it.
    assert produce_v12(b, txn, topic, pid, e0 + 1, 0, ["a1"]) == 0
    assert end_txn(b, txn, pid, e0 + 1, False) == (0, pid, e0 + 2)
    assert read_values(b, topic, 1, "read_committed") == ["c1", "c2"]
    assert read_values(b, topic, 1, "read_uncommitted") == ["c1", "c2", "a1"]
    # A retry of that EndTxn (its answer lost) gets the same answer.
    assert end_txn(b, txn, pid, e0 + 1, False) == (0, pid, e0 + 2)
    assert describe_transaction(b, txn)["state"] == "CompleteAbort"


@pytest.mark.on_disk
def test_tv2_decided_transaction_completes_after_kill_9(broker_factory, monkeypatch):
    monkeypatch.setenv("SLUICE_TEST_HOLD_TRANSACTION_MARKERS", "1")
    broker = broker_factory()
    b = broker.bootstrap
    topic = new_topic(b, 1, "tv2k")
    txn = f"tv2k-{uuid.uuid4().hex[:8]}"
    pid, e0 = init_producer_id(b, txn)
    assert produce_v12(b, txn, topic, pid, e0, 0, ["k1", "k2", "k3"]) == 0
    c = kw.KafkaConn.to(b)
    c.send_raw(kw.request(END_TXN, 5, c.next_correlation_id(), end_txn_body(txn, pid, e0, True), flexible=True))
    # The decision (PrepareCommit, the epoch bumped) is durable; no marker is written.
    wait_until(lambda: describe_transaction(b, txn)["state"] == "PrepareCommit", timeout=30)
    assert describe_transaction(b, txn)["epoch"] == e0 + 1
    broker.kill9()
    c.close()
    monkeypatch.delenv("SLUICE_TEST_HOLD_TRANSACTION_MARKERS")
    broker.start()
    assert "completing a transaction decided before the restart" in broker.log_text()
    assert read_values(b, topic, 1, "read_committed") == ["k1", "k2", "k3"]
    d = describe_transaction(b, txn)
    assert (d["state"], d["producer_id"], d["epoch"]) == ("CompleteCommit", pid, e0 + 1)
    # The producer's retry of its EndTxn gets the new epoch; the old epoch is fenced.
    assert end_txn(b, txn, pid, e0, True) == (0, pid, e0 + 1)
    assert produce_v12(b, txn, topic, pid, e0, 3, ["late"]) == INVALID_PRODUCER_EPOCH
    assert produce_v12(b, txn, topic, pid, e0 + 1, 0, ["n1"]) == 0
    assert end_txn(b, txn, pid, e0 + 1, True) == (0, pid, e0 + 2)
    assert read_values(b, topic, 1, "read_committed") == ["k1", "k2", "k3", "n1"]


def test_tv1_client_keeps_tv1_while_tv2_is_finalized(broker):
    from confluent_kafka import Producer

    b = broker.bootstrap
    assert features(b, 4)["finalized"]["transaction.version"] == 2
    topic = new_topic(b, 1, "tv1")
    txn = f"tv1-{uuid.uuid4().hex[:8]}"
    p = Producer({"bootstrap.servers": b, "transactional.id": txn})
    p.init_transactions(30)
    epoch = describe_transaction(b, txn)["epoch"]
    p.begin_transaction()
    p.produce(topic, value=b"kept", partition=0)
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce(topic, value=b"dropped", partition=0)
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic, value=b"kept2", partition=0)
    p.commit_transaction(30)
    assert read_values(b, topic, 1, "read_committed") == ["kept", "kept2"]
    # A transactions-v1 client's commits leave the epoch alone.
    assert describe_transaction(b, txn)["epoch"] == epoch


@pytest.mark.on_disk
def test_update_features_and_the_cli(broker, sluice_binary):
    b = broker.bootstrap

    def cli(*args) -> subprocess.CompletedProcess:
        return subprocess.run([str(sluice_binary), "feature", *args, "-b", b],
                              capture_output=True, text=True, timeout=60)

    before = features(b, 4)
    # An upgrade type that lowers the level is refused; validate_only changes nothing.
    err, msg = update_features(b, [("transaction.version", 1, 1)])
    assert err == INVALID_UPDATE_VERSION and "downgrade" in msg, msg
    assert update_features(b, [("transaction.version", 0, 2)], validate_only=True) == (0, None)
    assert features(b, 4) == before
    assert update_features(b, [("no.such.feature", 1, 1)])[0] == INVALID_UPDATE_VERSION
    # 23 (4.0-IV1) changed the metadata format: a downgrade below it is refused.
    assert update_features(b, [("metadata.version", 22, 2)])[0] == INVALID_UPDATE_VERSION

    out = cli("describe")
    assert out.returncode == 0, out.stderr
    assert "transaction.version" in out.stdout and "FinalizedVersionLevel: 2" in out.stdout, out.stdout
    assert "4.2-IV1" in out.stdout, out.stdout
    out = cli("downgrade", "--feature", "transaction.version=0")
    assert out.returncode == 0, out.stdout + out.stderr
    after = features(b, 4)
    assert "transaction.version" not in after["finalized"]
    assert after["epoch"] > before["epoch"]
    out = cli("upgrade", "--feature", "transaction.version=1", "--dry-run")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "transaction.version" not in features(b, 4)["finalized"]
    out = cli("upgrade", "--feature", "transaction.version=9")
    assert out.returncode != 0 and "INVALID_UPDATE_VERSION" in (out.stdout + out.stderr), out.stdout + out.stderr
    # Durable: a restart (even after kill -9) keeps the level and the epoch.
    broker.kill9()
    broker.start()
    assert features(b, 4) == after
    out = cli("upgrade", "--feature", "transaction.version=2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert features(b, 4)["finalized"]["transaction.version"] == 2


def txn_offset_commit_v5(bootstrap: str, txn_id: str, group: str, pid: int, epoch: int, topic: str,
                         offset: int) -> int:
    """TxnOffsetCommit v5 of partition 0 (no AddOffsetsToTxn before) -> its error code."""
    part = kw.i32(0) + kw.i64(offset) + kw.i32(-1) + kw.compact_string(None) + kw.TAGS
    topics = kw.compact_array([topic], lambda t: kw.compact_string(t) + kw.compact_array([part]) + kw.TAGS)
    body = (kw.compact_string(txn_id) + kw.compact_string(group) + kw.i64(pid) + kw.i16(epoch) + kw.i32(-1)
            + kw.compact_string("") + kw.compact_string(None) + topics + kw.TAGS)
    r = call(bootstrap, 28, 5, body)
    r.i32()

    def p(r):
        out = (r.i32(), r.i16())
        r.tagged_fields()
        return out

    def t(r):
        out = (r.compact_string(), r.compact_array(p))
        r.tagged_fields()
        return out

    return r.compact_array(t)[0][1][0][1]


def test_tv2_offsets_commit_with_the_transaction(broker):
    from confluent_kafka import Consumer, TopicPartition

    b = broker.bootstrap
    topic = new_topic(b, 1, "tv2o")
    txn, group = f"tv2o-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"

    def committed() -> int:
        c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False})
        try:
            return c.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
        finally:
            c.close()

    pid, e0 = init_producer_id(b, txn)
    # TxnOffsetCommit v5 adds the group's offsets partition itself (no AddOffsetsToTxn).
    assert txn_offset_commit_v5(b, txn, group, pid, e0, topic, 7) == 0
    assert describe_transaction(b, txn)["state"] == "Ongoing"
    # (A read_committed OffsetFetch now would get UNSTABLE_OFFSET_COMMIT until the end.)
    assert end_txn(b, txn, pid, e0, True) == (0, pid, e0 + 1)
    assert committed() == 7
    # An aborted transaction's offsets are dropped.
    assert txn_offset_commit_v5(b, txn, group, pid, e0 + 1, topic, 9) == 0
    assert end_txn(b, txn, pid, e0 + 1, False) == (0, pid, e0 + 2)
    assert committed() == 7
    # The old epoch is fenced (PRODUCER_FENCED, 90).
    assert txn_offset_commit_v5(b, txn, group, pid, e0 + 1, topic, 11) == 90


def test_java_admin_describe_and_update_features(broker, tmp_path):
    import os

    from harness import INTEGRATION_DIR, run
    from test_java_client import JARS, JAVA_LIB_DIR, JVM_FLAGS

    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    cp = os.pathsep.join(str(JAVA_LIB_DIR / j) for j in JARS)
    r = run(["java", *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_path}", "-cp", cp,
             str(INTEGRATION_DIR / "java" / "FeatureChecks.java"), broker.bootstrap], timeout=180)
    lines = [l for l in r.stdout.splitlines() if l.startswith("OK ")]
    assert len(lines) == 7, r.stdout
