"""The official Java client (kafka-clients 3.9.1) against the real broker.

integration-tests/java/SluiceClient.java is compiled once per session (into pytest's tmp dir)
against the jars scripts/install-test-deps.sh put in ``$HOME/.cache/sluice-test/java``, and run
once per client operation; its stdout is parsed here, its stderr (the client's log through a tiny
SLF4J binding, level ``$SLUICE_JAVA_LOG``, default info) is shown when a command fails.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import INTEGRATION_DIR, partition_batches, run

JAVA_LIB_DIR = Path(os.environ.get("SLUICE_JAVA_LIB_DIR", Path.home() / ".cache" / "sluice-test" / "java"))
JARS = ["kafka-clients.jar", "lz4-java.jar", "snappy-java.jar", "zstd-jni.jar", "slf4j-api.jar"]
SOURCES = ["SluiceClient.java", "org/slf4j/impl/StaticLoggerBinder.java"]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ACKS = ["0", "1", "all"]
JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss1m", "-Xmx256m"]


def value_of(tag: str, i: int) -> str:
    return f"{tag}-{i:06d}-" + "abcdefgh" * 16


@pytest.fixture(scope="session")
def java_classpath(tmp_path_factory):
    missing = [j for j in JARS if not (JAVA_LIB_DIR / j).is_file()]
    assert not missing, f"missing {missing} in {JAVA_LIB_DIR}: run scripts/install-test-deps.sh"
    jars = [str(JAVA_LIB_DIR / j) for j in JARS]
    classes = tmp_path_factory.mktemp("java-classes")
    src = INTEGRATION_DIR / "java"
    run(["javac", "-nowarn", "-cp", os.pathsep.join(jars), "-d", classes, *[src / s for s in SOURCES]], timeout=180)
    return os.pathsep.join([str(classes), *jars])


class JavaClient:
    def __init__(self, classpath, broker, tmp):
        self.classpath = classpath
        self.broker = broker
        self.tmp = tmp  # snappy-java / zstd-jni unpack their native libraries here

    def cmd(self, *args):
        return ["java", *JVM_FLAGS, f"-Djava.io.tmpdir={self.tmp}", "-cp", self.classpath,
                "SluiceClient", self.broker.bootstrap, *map(str, args)]

    def __call__(self, *args, timeout=120):
        r = run(self.cmd(*args), timeout=timeout, tail_lines=120)
        return [line.split("\t") for line in r.stdout.splitlines() if line]


@pytest.fixture
def java(java_classpath, broker, tmp_path):
    return JavaClient(java_classpath, broker, tmp_path)


def records(lines):
    return [{"partition": int(l[1]), "offset": int(l[2]), "ts": int(l[3]), "key": l[4], "value": l[5], "seq": l[6]}
            for l in lines if l[0] == "REC"]


# -- 1. admin + metadata ----------------------------------------------------------------------------


def test_create_topic_and_metadata(java, broker):
    assert java("create-topic", "j-orders", 3) == [["CREATED", "j-orders"]]
    assert java("create-topic", "j-orders", 3) == [["EXISTS", "j-orders"]]
    lines = java("metadata", "j-orders")
    assert ["BROKER", "1", "127.0.0.1", str(broker.port)] in lines, lines
    assert [l for l in lines if l[0] == "BROKER"] == [["BROKER", "1", "127.0.0.1", str(broker.port)]]
    assert ["CONTROLLER", "1"] in lines, lines
    parts = sorted(l[1:] for l in lines if l[0] == "PARTITION")
    assert parts == [[str(p), "1", "1", "1"] for p in range(3)], lines


# -- 2. every codec x every acks --------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume_codec_and_acks(java, broker, codec):
    topic = f"j-{codec}"
    java("create-topic", topic, 2)
    expected = {0: [], 1: []}
    for acks in ACKS:
        for part in (0, 1):
            tag = f"{codec}.acks{acks}.p{part}"
            acked = [l for l in java("produce", topic, part, codec, acks, 150, tag) if l[0] == "ACK"]
            assert len(acked) == 150
            if acks != "0":
                offs = [int(l[3]) for l in acked]
                assert offs == list(range(offs[0], offs[0] + 150)), "acknowledged offsets not consecutive"
            expected[part] += [(f"k{i}", value_of(tag, i), str(i)) for i in range(150)]
    recs = records(java("consume", topic, "0,1", "earliest", 30000))
    for part in (0, 1):
        got = [(r["key"], r["value"], r["seq"]) for r in recs if r["partition"] == part]
        assert len(got) == len(expected[part])
        assert got == expected[part]
        assert [r["offset"] for r in recs if r["partition"] == part] == list(range(len(expected[part])))
        codecs = {b.codec_name for b in partition_batches(broker.data_dir, topic, part)}
        assert codecs == {codec}, f"partition {part}: codecs on disk {codecs}, produced with {codec}"


# -- 3. start positions ---------------------------------------------------------------------------------


def test_consume_from_latest(java):
    java("create-topic", "j-latest", 1)
    java("produce", "j-latest", 0, "none", "all", 50, "old")
    lines = java("latest", "j-latest", 0, 20)
    assert lines[0] == ["POSITION", "50"], lines[:3]
    recs = records(lines)
    assert [(r["offset"], r["value"]) for r in recs] == [(50 + i, value_of("new", i)) for i in range(20)]


def test_consume_from_explicit_offset(java):
    java("create-topic", "j-offset", 1)
    for chunk in range(4):
        java("produce", "j-offset", 0, "gzip", "all", 25, f"e{chunk}")
    recs = records(java("consume", "j-offset", "0", "37", 30000))
    assert [r["offset"] for r in recs] == list(range(37, 100))
    want = [value_of(f"e{c}", i) for c in range(4) for i in range(25)][37:]
    assert [r["value"] for r in recs] == want


def test_consume_from_timestamp(java):
    java("create-topic", "j-time", 1)
    base = int(time.time() * 1000) - 3_600_000
    for chunk in range(5):  # 5 producer runs -> several batches; record i has timestamp base + 1000 i
        java("produce", "j-time", 0, "lz4", "all", 20, f"t{chunk}", base + chunk * 20_000, 1000)
    recs = records(java("consume", "j-time", "0", "earliest", 30000))
    assert [r["ts"] for r in recs] == [base + i * 1000 for i in range(100)]
    for target, want in [(base + 41_500, 42), (base + 10_000, 10), (base - 5, 0), (base + 99_000, 99)]:
        [line] = java("offsets-for-times", "j-time", 0, target)
        assert line == ["OFFSET", str(want), str(base + want * 1000)], f"offsetsForTimes(+{target - base}ms): {line}"
    assert java("offsets-for-times", "j-time", 0, base + 100_000) == [["NONE"]]
    got = records(java("consume", "j-time", "0", f"ts:{base + 41_500}", 30000))
    assert got[0]["offset"] == 42 and got[0]["ts"] >= base + 41_500
    assert java("list-offsets", "j-time", 0) == [["EARLIEST", "0"], ["LATEST", "100"], ["MAXTS", "99", str(base + 99_000)]]


# -- 4. restart -------------------------------------------------------------------------------------------


def test_restart_keeps_everything(java, broker):
    java("create-topic", "j-durable", 2)
    for part in (0, 1):
        java("produce", "j-durable", part, "snappy", "all", 200, f"r{part}")
    broker.restart()
    recs = records(java("consume", "j-durable", "0,1", "earliest", 30000))
    for part in (0, 1):
        assert [r["value"] for r in recs if r["partition"] == part] == [value_of(f"r{part}", i) for i in range(200)]
    acked = java("produce", "j-durable", 1, "none", "all", 1, "after")
    assert acked[0][3] == "200", acked


# -- 5. kill -9 during synchronous acks=all sends -------------------------------------------------------


def test_kill9_during_acks_all_produce(java, broker):
    java("create-topic", "j-crash", 2)
    proc = subprocess.Popen(java.cmd("produce-sync", "j-crash", 2, 100000, "k"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    acked, fail, err = [], [], []
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            f = line.rstrip("\n").split("\t")
            if f[0] == "ACK":
                acked.append(int(f[1]))
                if len(acked) == 400:
                    broker.kill9()
            elif f[0] == "FAIL":
                fail.append(f)
            assert time.monotonic() < deadline, "produce-sync ran too long"
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert len(acked) >= 400, f"only {len(acked)} acks before the producer stopped: {fail}\n{''.join(err[-40:])}"
    assert fail, "the producer never saw the broker die"
    assert acked == list(range(len(acked))), "acks out of order"
    attempted = len(acked) + 1  # the failed send may or may not be stored

    broker.start()
    recs = records(java("consume", "j-crash", "0,1", "earliest", 60000))
    seqs = [int(r["seq"]) for r in recs]
    assert len(seqs) == len(set(seqs)), "records stored more than once after recovery"
    assert set(acked) <= set(seqs), f"lost acknowledged records: {sorted(set(acked) - set(seqs))[:10]}"
    assert set(seqs) <= set(range(attempted)), f"records never sent: {sorted(set(seqs) - set(range(attempted)))[:10]}"
    for part in (0, 1):
        ps = [r for r in recs if r["partition"] == part]
        assert [r["offset"] for r in ps] == list(range(len(ps)))
        assert [int(r["seq"]) for r in ps] == sorted(int(r["seq"]) for r in ps)
