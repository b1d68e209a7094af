"""``sluice export`` / ``sluice import`` (issue 14, item 3) against the real broker.

Records are written by confluent-kafka (every compression codec, a transaction committed and
one aborted), exported by the real ``sluice`` binary to both formats, imported into new topics,
and read back with confluent-kafka (read_committed): keys, values, headers, timestamps and
partitions must come back byte for byte, the aborted transaction never. An import killed with
SIGKILL midway and run again ends with exactly the source records; a second run of a finished
import adds nothing; truncated, corrupt and malformed files are refused with a clear error.
No assertion depends on timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from harness import run, sluice_bin, wait_until
from transactions_common import new_topic

TIMEOUT = 120
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
# Recent enough that retention (7 days by default) keeps every record.
BASE_TS = int(time.time() * 1000) - 3_600_000


def cli(broker, *args, check=True, timeout=TIMEOUT):
    return run([sluice_bin(), *[str(a) for a in args], "-b", broker.bootstrap], check=check, timeout=timeout)


def produce(bootstrap, topic, records, **conf):
    """records: (partition, key, value, headers, timestamp) tuples."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, **conf})
    for part, key, value, headers, ts in records:
        p.produce(topic, key=key, value=value, headers=headers, partition=part, timestamp=ts)
    assert p.flush(30) == 0


def read_all(bootstrap, topic, partitions, timeout=60):
    """Every committed record of every partition: {partition: [(key, value, headers, ts, ts_type)]}."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"check-{uuid.uuid4().hex[:6]}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
    })
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        got = {p: [] for p in range(partitions)}
        at_end = set()
        deadline = time.monotonic() + timeout
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, f"reading {topic} did not reach the end"
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                continue
            at_end.discard(m.partition())
            ts_type, ts = m.timestamp()
            got[m.partition()].append((m.key(), m.value(), m.headers() or [], ts, ts_type))
        return got
    finally:
        c.close()


def source_records(codec, partitions=3, n=40):
    """Awkward records: binary and non-UTF-8 bytes, empty and absent keys and values,
    headers with binary and null values, timestamps out of order."""
    out = []
    for i in range(n):
        key = None if i % 7 == 0 else (b"" if i % 11 == 0 else f"{codec}-k{i}".encode() + bytes([0xFF, i]))
        value = None if i % 13 == 5 else (b"" if i % 9 == 0 else bytes(range(i % 256)) * 3 + codec.encode())
        headers = [] if i % 4 == 0 else [("h1", f"v{i}".encode()), ("bin", bytes([0, 0xFE, i])), ("none", None)]
        ts = BASE_TS + (i * 37) % 1000 + CODECS.index(codec) * 10_000
        out.append((i % partitions, key, value, headers, ts))
    return out


@pytest.fixture
def history(broker):
    """A 3-partition topic holding a batch per codec, a committed and an aborted transaction."""
    from confluent_kafka import Producer

    topic = new_topic(broker.bootstrap, 3, "src")
    for codec in CODECS:
        produce(broker.bootstrap, topic, source_records(codec), **{"compression.type": codec})
    tp = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex[:6]}"})
    tp.init_transactions(30)
    tp.begin_transaction()
    for i in range(6):
        tp.produce(topic, key=b"tx", value=f"committed-{i}".encode(), partition=i % 3, headers=[("t", b"1")])
    tp.commit_transaction(30)
    tp.begin_transaction()
    for i in range(6):
        tp.produce(topic, key=b"tx", value=f"aborted-{i}".encode(), partition=i % 3)
    tp.flush(30)
    tp.abort_transaction(30)
    produce(broker.bootstrap, topic, [(0, b"after", b"abort", [], BASE_TS + 99_999)])
    return topic


def comparable(records):
    """(key, value, headers as a list of tuples, timestamp) per partition, order kept."""
    return {p: [(k, v, [(hk, hv) for hk, hv in h], ts) for k, v, h, ts, _ in rs] for p, rs in records.items()}


@pytest.mark.parametrize("fmt", ["archive", "jsonl"])
def test_round_trip_is_byte_exact_across_codecs(broker, history, tmp_path, fmt):
    ext = "sluice" if fmt == "archive" else "jsonl"
    out = tmp_path / f"export.{ext}"
    r = cli(broker, "export", history, "--output", out)
    source = read_all(broker.bootstrap, history, 3)
    total = sum(len(v) for v in source.values())
    assert f"exported {total} records" in r.stderr, r.stderr
    assert not (tmp_path / f"export.{ext}.partial").exists()
    values = [v for rs in source.values() for _, v, _, _, _ in rs]
    assert not any(v and v.startswith(b"aborted") for v in values)
    assert sum(1 for v in values if v and v.startswith(b"committed")) == 6

    if fmt == "jsonl":
        lines = [json.loads(l) for l in out.read_text().splitlines()]
        assert len(lines) == total
        for l in lines:
            assert {"partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers"} <= l.keys()
        assert all(l["timestamp_type"] == "CreateTime" for l in lines)
        assert not any((l["value"] or "").startswith("aborted") for l in lines)

    dst = f"dst-{uuid.uuid4().hex[:6]}"
    r = cli(broker, "import", out, "--topic", dst, "--preserve-partitions", "--preserve-timestamps")
    assert "created topic" in r.stderr and f"imported {total} records" in r.stderr, r.stderr
    copied = read_all(broker.bootstrap, dst, 3)
    assert comparable(copied) == comparable(source)
    assert all(t == 1 for rs in copied.values() for *_, t in rs)  # CreateTime

    # A second run of the same import adds nothing.
    r = cli(broker, "import", out, "--topic", dst, "--preserve-partitions", "--preserve-timestamps")
    assert "nothing to import" in r.stderr, r.stderr
    assert comparable(read_all(broker.bootstrap, dst, 3)) == comparable(source)


REPEATED_HEADERS = [
    ("dup", b"1"), ("", b"empty key"), ("dup", b"2"), ("dup", None), ("x", b"\x00\xff"),
    ("", None), ("dup", b"1"),
]


@pytest.mark.parametrize("fmt", ["archive", "jsonl"])
def test_repeated_header_keys_round_trip_in_order(broker, tmp_path, fmt):
    """Kafka headers are an ordered list: a key may repeat, be empty, carry a null value.
    Every header comes back, in order, through export and import (compressed and not)."""
    topic = new_topic(broker.bootstrap, 2, "hdr")
    for part, codec in ((0, "none"), (1, "zstd")):
        produce(broker.bootstrap, topic, [
            (part, b"k", b"repeated", REPEATED_HEADERS, BASE_TS + 1),
            (part, None, b"plain", [("a", b"1"), ("b", b"2")], BASE_TS + 2),
            (part, b"k2", b"twice", [("a", b"1"), ("a", b"1")], BASE_TS + 3),
        ], **{"compression.type": codec})
    source = read_all(broker.bootstrap, topic, 2)
    # The broker kept what the client sent (so a loss below is the copy's).
    assert all(rs[0][2] == REPEATED_HEADERS for rs in source.values()), source

    ext = "sluice" if fmt == "archive" else "jsonl"
    out = tmp_path / f"hdr.{ext}"
    cli(broker, "export", topic, "--output", out)
    if fmt == "jsonl":
        first = json.loads(out.read_text().splitlines()[0])
        assert [h["key"] for h in first["headers"]] == [k for k, _ in REPEATED_HEADERS]
    dst = f"hdr-dst-{uuid.uuid4().hex[:6]}"
    cli(broker, "import", out, "--topic", dst, "--preserve-partitions", "--preserve-timestamps")
    copied = read_all(broker.bootstrap, dst, 2)
    assert comparable(copied) == comparable(source)
    assert [h for rs in copied.values() for _, _, h, _, _ in rs][0] == REPEATED_HEADERS


def test_import_without_preserving_partitions_or_timestamps(broker, history, tmp_path):
    out = tmp_path / "e.sluice"
    cli(broker, "export", history, "--output", out)
    source = read_all(broker.bootstrap, history, 3)
    dst = new_topic(broker.bootstrap, 2, "dst")  # an existing topic with another partition count
    before = int(time.time() * 1000)
    cli(broker, "import", out, "--topic", dst)
    copied = read_all(broker.bootstrap, dst, 2)
    flat_src = sorted(((k or b"", v or b"", repr(h)) for rs in source.values() for k, v, h, _, _ in rs))
    flat_dst = sorted(((k or b"", v or b"", repr(h)) for rs in copied.values() for k, v, h, _, _ in rs))
    assert flat_dst == flat_src
    # Timestamps are the import's, not the source's.
    assert all(ts >= before - 1000 for rs in copied.values() for *_, ts, _ in rs)


def test_offset_and_timestamp_ranges_and_one_partition(broker, tmp_path):
    topic = new_topic(broker.bootstrap, 2, "rng")
    produce(broker.bootstrap, topic, [(p, f"k{i}".encode(), f"p{p}-{i}".encode(), [], BASE_TS + i * 1000) for p in (0, 1) for i in range(20)])

    def exported(*flags, fmt="jsonl"):
        out = tmp_path / f"{uuid.uuid4().hex[:6]}.{fmt}"
        cli(broker, "export", topic, "--output", out, *flags)
        if fmt == "jsonl":
            return [(l["partition"], l["offset"]) for l in map(json.loads, out.read_text().splitlines())]
        dst = f"r-{uuid.uuid4().hex[:6]}"
        cli(broker, "import", out, "--topic", dst, "--preserve-partitions")
        return {p: [v for _, v, _, _, _ in rs] for p, rs in read_all(broker.bootstrap, dst, 2).items()}

    got = exported("--from-offset", 5, "--to-offset", 12)
    assert sorted(got) == [(p, o) for p in (0, 1) for o in range(5, 12)]
    got = exported("--from-timestamp", BASE_TS + 3000, "--to-timestamp", BASE_TS + 8000)
    assert sorted(got) == [(p, o) for p in (0, 1) for o in range(3, 8)]
    got = exported("--partition", 1, "--from-offset", 18)
    assert got == [(1, 18), (1, 19)]
    got = exported("--from-timestamp", BASE_TS + 17_000, fmt="sluice")
    assert got == {p: [f"p{p}-{i}".encode() for i in (17, 18, 19)] for p in (0, 1)}
    assert exported("--from-offset", 50) == []


def test_import_killed_midway_then_rerun_has_every_record_once(broker, tmp_path):
    from confluent_kafka import Consumer, TopicPartition

    topic = new_topic(broker.bootstrap, 2, "big")
    n = 3000
    produce(broker.bootstrap, topic, [(i % 2, f"k{i}".encode(), f"v{i}".encode(), [("i", str(i).encode())], BASE_TS + i) for i in range(n)])
    out = tmp_path / "big.sluice"
    cli(broker, "export", topic, "--output", out)
    dst = f"kill-{uuid.uuid4().hex[:6]}"
    cmd = [str(sluice_bin()), "import", str(out), "--topic", dst, "--preserve-partitions",
           "--preserve-timestamps", "--transaction-records", "5", "-b", broker.bootstrap]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "w", "isolation.level": "read_committed"})
        try:
            def some_written():
                try:
                    return c.get_watermark_offsets(TopicPartition(dst, 0), timeout=2)[1] > 100
                except Exception:
                    return False
            wait_until(some_written, timeout=60, message="the import writes")
        finally:
            c.close()
        assert proc.poll() is None, "the import finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    partial = read_all(broker.bootstrap, dst, 2)
    assert 0 < sum(len(v) for v in partial.values()) < n

    r = cli(broker, "import", out, "--topic", dst, "--preserve-partitions", "--preserve-timestamps",
            "--transaction-records", "500")
    assert "resuming after" in r.stderr, r.stderr
    source = read_all(broker.bootstrap, topic, 2)
    copied = read_all(broker.bootstrap, dst, 2)
    assert comparable(copied) == comparable(source)
    values = [v for rs in copied.values() for _, v, _, _, _ in rs]
    assert len(values) == len(set(values)) == n

    r = cli(broker, "import", out, "--topic", dst, "--preserve-partitions", "--preserve-timestamps")
    assert "nothing to import" in r.stderr
    assert sum(len(v) for v in read_all(broker.bootstrap, dst, 2).values()) == n


def test_truncated_corrupt_and_malformed_files_are_refused(broker, tmp_path):
    topic = new_topic(broker.bootstrap, 1, "bad")
    produce(broker.bootstrap, topic, [(0, b"k", os.urandom(200), [], BASE_TS + i) for i in range(500)])
    good = tmp_path / "good.sluice"
    cli(broker, "export", topic, "--output", good)
    data = good.read_bytes()

    def refused(name, content, *words):
        f = tmp_path / name
        f.write_bytes(content)
        dst = f"never-{uuid.uuid4().hex[:6]}"
        r = cli(broker, "import", f, "--topic", dst, check=False)
        assert r.returncode != 0, r
        err = r.stderr.strip()
        assert err.startswith("sluice: ") and len(err.splitlines()) == 1, err
        for w in words:
            assert w in err, err
        # Nothing was written: the topic was not even created.
        assert dst not in cli(broker, "topic", "list").stdout.split()

    refused("half.sluice", data[: len(data) // 2], "truncated", "did not finish")
    refused("no-end.sluice", data[:-16], "truncated")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    refused("flipped.sluice", bytes(flipped), "corrupt", "CRC")
    refused("garbage.sluice", b"this is not an archive at all\n", "not a Sluice archive")
    refused("trailing.sluice", data + b"x", "corrupt", "after the end block")
    refused("bad.jsonl", b'{"partition":0,"offset":0,"timestamp":1,"key":null,"value":"a","headers":[]}\n{"partition": 0,\n', "line 2")
    refused("bad64.jsonl", b'{"partition":0,"offset":0,"timestamp":1,"key":null,"value":"@@","value_encoding":"base64","headers":[]}\n', "base64")
    r = cli(broker, "import", tmp_path / "x.txt", "--topic", "t", check=False)
    assert r.returncode != 0 and ".jsonl or .sluice" in r.stderr
