"""kcat (Debian's, built on the old librdkafka 2.0) against the real broker.

librdkafka before 2.2 misreads ApiVersions answers carrying tagged fields, and picks its produce
features (compression included) from the advertised version ranges: it has been seen sending
``-z lz4`` batches UNcompressed against brokers that advertised only Kafka 4 ranges. So besides
reading everything back, these tests check ON DISK that each batch carries the requested codec.

kcat has no admin API: topics are auto-created by the first produce, checked with ``kcat -L``.
Every kcat run uses ``-d protocol,broker``: the stderr tail is shown when a command fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import pytest

from harness import partition_batches, run

KCAT = shutil.which("kcat")

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ACKS = ["0", "1", "all"]
FMT = r"%p\t%o\t%T\t%k\t%s\t%h\n"
DEBUG = ["-d", "protocol,broker"]


@pytest.fixture(scope="module")
def kcat():
    assert KCAT, "kcat is not installed (scripts/install-test-deps.sh installs it with apt-get)"
    return KCAT


def value_of(tag: str, i: int) -> str:
    return f"{tag}-{i:06d}-" + "abcdefgh" * 16


def produce(kcat, broker, topic, lines, partition=0, codec="none", acks="all", headers=(), key_delim=None, timeout=60):
    cmd = [kcat, "-P", "-b", broker.bootstrap, "-t", topic, "-p", str(partition),
           "-X", f"acks={acks}", "-X", "enable.idempotence=false", "-z", codec, *DEBUG]
    for h in headers:
        cmd += ["-H", h]
    if key_delim:
        cmd += ["-K", key_delim]
    # kcat -P exits 0 even when messages fail; it reports failures on stderr ("Delivery failed").
    r = run(cmd, input="".join(l + "\n" for l in lines), timeout=timeout, tail_lines=150)
    failed = [l for l in r.stderr.splitlines() if "Delivery failed" in l or "ERROR" in l]
    assert not failed, "kcat reported delivery failures:\n" + "\n".join(failed[:20]) + "\n--- stderr tail ---\n" + r.stderr[-6000:]
    return r


def consume(kcat, broker, topic, partition=0, offset="beginning", count=None, timeout=60):
    """Read from ``offset`` to the end (``-e``); returns dicts with partition/offset/ts/key/value/headers."""
    cmd = [kcat, "-C", "-b", broker.bootstrap, "-t", topic, "-p", str(partition), "-o", str(offset), "-e",
           "-f", FMT, *DEBUG]
    if count is not None:
        cmd += ["-c", str(count)]
    r = run(cmd, timeout=timeout, tail_lines=150)
    return parse(r.stdout)


def parse(out: str):
    recs = []
    for line in out.splitlines():
        if not line:
            continue
        p, o, ts, k, v, h = line.split("\t")
        recs.append({"partition": int(p), "offset": int(o), "ts": int(ts), "key": k, "value": v, "headers": h})
    return recs


def metadata(kcat, broker, topic=None):
    cmd = [kcat, "-L", "-J", "-b", broker.bootstrap, "-m", "15"]
    if topic:
        cmd += ["-t", topic]
    return json.loads(run(cmd, timeout=60).stdout)


# -- 1. metadata after auto-create --------------------------------------------------------------


def test_auto_create_and_metadata(kcat, broker):
    produce(kcat, broker, "kcat-auto", [value_of("a", i) for i in range(5)])
    md = metadata(kcat, broker)
    assert md["brokers"] == [{"id": 1, "name": f"127.0.0.1:{broker.port}"}], md["brokers"]
    topics = {t["topic"]: t for t in md["topics"]}
    assert "kcat-auto" in topics, f"auto-created topic missing from metadata: {list(topics)}"
    t = topics["kcat-auto"]
    assert "error" not in t, t
    assert len(t["partitions"]) == 1, "auto-created topics get num.partitions (default 1) partitions"
    p = t["partitions"][0]
    assert p["partition"] == 0 and p["leader"] == 1
    assert [r["id"] for r in p["replicas"]] == [1] and [r["id"] for r in p["isrs"]] == [1]


def test_auto_create_disabled(kcat, broker_factory):
    broker = broker_factory(settings={"auto.create.topics.enable": False})
    r = run([kcat, "-P", "-b", broker.bootstrap, "-t", "never", "-p", "0", "-X", "message.timeout.ms=3000",
             "-X", "topic.metadata.propagation.max.ms=2000", *DEBUG], input="x\n", timeout=60, check=False)
    md = metadata(kcat, broker)
    assert "never" not in {t["topic"] for t in md["topics"] if "error" not in t}, md["topics"]
    assert r.returncode != 0 or "Delivery failed" in r.stderr or "ERROR" in r.stderr, \
        "producing to a missing topic with auto-create off succeeded silently"


# -- 2 + 6. every codec x acks, read back, codec checked on disk -------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume_codec_on_disk(kcat, broker, codec):
    topic = f"kcat-{codec}"
    expected = []
    for acks in ACKS:
        lines = [f"key{acks}-{i}:" + value_of(f"{codec}.acks{acks}", i) for i in range(200)]
        produce(kcat, broker, topic, lines, codec=codec, acks=acks, headers=[f"acks={acks}"], key_delim=":")
        expected += [(l.split(":", 1)[0], l.split(":", 1)[1], f"acks={acks}") for l in lines]

    recs = consume(kcat, broker, topic)
    assert [r["offset"] for r in recs] == list(range(len(expected)))
    got = [(r["key"], r["value"], r["headers"]) for r in recs]
    assert len(got) == len(expected)
    assert got == expected

    batches = partition_batches(broker.data_dir, topic, 0)
    codecs = [b.codec_name for b in batches]
    assert set(codecs) == {codec}, (
        f"kcat -z {codec}: batch codecs on disk are {sorted(set(codecs))} ({len(batches)} batches); "
        "old librdkafka silently falls back to uncompressed when it dislikes the broker's ApiVersions"
    )
    assert sum(b.records_count for b in batches) == len(expected)


# -- 3. start positions ---------------------------------------------------------------------------


def test_consume_from_latest(kcat, broker):
    produce(kcat, broker, "kcat-latest", [value_of("old", i) for i in range(50)])
    proc = subprocess.Popen([kcat, "-C", "-b", broker.bootstrap, "-t", "kcat-latest", "-p", "0", "-o", "end",
                             "-c", "20", "-f", FMT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    at_end = threading.Event()
    err_lines = []

    def watch():
        for line in proc.stderr:
            err_lines.append(line)
            if "Reached end of topic" in line:
                at_end.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert at_end.wait(20), "kcat -o end never reached the end of the partition:\n" + "".join(err_lines[-40:])
        assert any("at offset 50" in l for l in err_lines), "".join(err_lines[-20:])
        produce(kcat, broker, "kcat-latest", [value_of("new", i) for i in range(20)])
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    recs = parse(out)
    assert [(r["offset"], r["value"]) for r in recs] == [(50 + i, value_of("new", i)) for i in range(20)]


def test_consume_from_explicit_offset(kcat, broker):
    for chunk in range(4):
        produce(kcat, broker, "kcat-offset", [value_of("e", chunk * 25 + i) for i in range(25)])
    recs = consume(kcat, broker, "kcat-offset", offset=37)
    assert [r["offset"] for r in recs] == list(range(37, 100))
    assert [r["value"] for r in recs] == [value_of("e", i) for i in range(37, 100)]


def test_consume_from_timestamp(kcat, broker):
    # kcat cannot set per-message timestamps: produce 5 groups 50 ms apart, then query by the
    # CreateTime librdkafka stamped on them.
    for g in range(5):
        produce(kcat, broker, "kcat-time", [value_of("t", g * 10 + i) for i in range(10)])
        time.sleep(0.05)
    recs = consume(kcat, broker, "kcat-time")
    assert len(recs) == 50
    ts = [r["ts"] for r in recs]
    for k in (10, 20, 30, 40, 0):
        target = ts[k]
        want = next(i for i, t in enumerate(ts) if t >= target)
        got = consume(kcat, broker, "kcat-time", offset=f"s@{target}")
        assert got, f"-o s@{target} returned nothing"
        assert got[0]["offset"] == want, f"-o s@{target}: first offset {got[0]['offset']}, want {want} (timestamps {ts})"
        assert got[0]["ts"] >= target
    # Between two groups: the first record of the later group.
    target = ts[29] + 1
    want = next(i for i, t in enumerate(ts) if t >= target)
    got = consume(kcat, broker, "kcat-time", offset=f"s@{target}")
    assert got[0]["offset"] == want and got[0]["ts"] >= target


# -- 4. restart -------------------------------------------------------------------------------------


def test_restart_keeps_everything(kcat, broker):
    produce(kcat, broker, "kcat-durable", [value_of("r", i) for i in range(300)], codec="lz4")
    broker.restart()
    recs = consume(kcat, broker, "kcat-durable")
    assert [r["value"] for r in recs] == [value_of("r", i) for i in range(300)]
    produce(kcat, broker, "kcat-durable", [value_of("r", i) for i in range(300, 310)])
    recs = consume(kcat, broker, "kcat-durable")
    assert [r["offset"] for r in recs] == list(range(310))
    assert [r["value"] for r in recs] == [value_of("r", i) for i in range(310)]
