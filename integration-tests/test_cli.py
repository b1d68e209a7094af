"""The ``sluice`` command-line client (topic, produce, consume, group, dump-log) against the real
broker: the same binary plays both parts.

Every CLI run is bounded (``run(..., timeout=...)``) and consumers stop by themselves (``-e``,
``--max-messages``), so a hang fails the test instead of blocking the suite. No assertion depends
on timing: timestamps are read back from the records themselves.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from harness import partition_batches, read_batches, run, segment_files, sluice_bin

TIMEOUT = 60


def cli(broker, *args, input=None, check=True, timeout=TIMEOUT):
    """Run ``sluice <args> -b <broker>``; the bootstrap flag is global, so it may come last."""
    cmd = [sluice_bin(), *[str(a) for a in args]]
    if broker is not None:
        cmd += ["-b", broker.bootstrap]
    return run(cmd, input=input, check=check, timeout=timeout)


def consume_json(broker, topic, *extra):
    r = cli(broker, "consume", topic, "-e", "--format", "json", *extra)
    return [json.loads(line) for line in r.stdout.splitlines()]


def one_error_line(r):
    """A failed command: non-zero exit, stderr exactly one line starting with ``sluice:``."""
    assert r.returncode != 0, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sluice: "), r.stderr
    return lines[0]


def test_topic_create_list_describe_delete(broker):
    r = cli(broker, "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=86400000")
    assert "created topic orders" in r.stdout
    assert "orders" in cli(broker, "topic", "list").stdout.split()

    d = cli(broker, "topic", "describe", "orders").stdout
    assert "Topic: orders" in d and "Partitions: 3" in d
    rows = [l.split() for l in d.splitlines() if l[:1].isdigit()]
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert all(r[4] == "0" and r[5] == "0" for r in rows), d  # start and end offsets
    assert any(l.split()[:2] == ["retention.ms", "86400000"] for l in d.splitlines()), d

    again = cli(broker, "topic", "create", "orders", "--partitions", "3", check=False)
    assert "TOPIC_ALREADY_EXISTS" in one_error_line(again)

    assert "deleted topic orders" in cli(broker, "topic", "delete", "orders").stdout
    assert "orders" not in cli(broker, "topic", "list").stdout.split()
    gone = cli(broker, "topic", "describe", "orders", check=False)
    assert "UNKNOWN_TOPIC_OR_PARTITION" in one_error_line(gone)


def test_topic_alter_when_served(broker):
    cli(broker, "topic", "create", "cfg", "--partitions", "1")
    r = cli(broker, "topic", "alter", "cfg", "--set", "retention.ms=3600000", check=False)
    if r.returncode != 0:
        line = one_error_line(r)
        if "does not serve IncrementalAlterConfigs" in line:
            pytest.skip("the broker does not advertise IncrementalAlterConfigs yet")
        pytest.fail(line)
    assert "altered topic cfg" in r.stdout
    d = cli(broker, "topic", "describe", "cfg").stdout
    assert any(l.split()[:2] == ["retention.ms", "3600000"] for l in d.splitlines()), d
    cli(broker, "topic", "alter", "cfg", "--delete", "retention.ms")
    d = cli(broker, "topic", "describe", "cfg").stdout
    assert not any(l.split()[:1] == ["retention.ms"] for l in d.splitlines()), d


def test_produce_then_consume_raw_json_offset_and_timestamp(broker):
    cli(broker, "topic", "create", "events", "--partitions", "1")
    first = ["k0:alpha", "k1:beta", "gamma", "k3:delta:with:colons"]
    cli(broker, "produce", "events", "--key-separator", ":", "--header", "source=cli",
        "--header", "n=1", input="\n".join(first) + "\n")

    raw = cli(broker, "consume", "events", "--from-beginning", "-e").stdout
    assert raw.splitlines() == ["alpha", "beta", "gamma", "delta:with:colons"]

    recs = consume_json(broker, "events", "--from-beginning")
    assert [r["offset"] for r in recs] == [0, 1, 2, 3]
    assert [r["key"] for r in recs] == ["k0", "k1", None, "k3"]
    assert all(r["topic"] == "events" and r["partition"] == 0 for r in recs)
    assert all(r["value_encoding"] == "utf8" for r in recs)
    assert recs[0]["headers"] == [
        {"key": "source", "value": "cli", "value_encoding": "utf8"},
        {"key": "n", "value": "1", "value_encoding": "utf8"},
    ]
    assert all(r["timestamp_type"] == "CreateTime" and r["timestamp"] > 0 for r in recs)

    keyed = cli(broker, "consume", "events", "--from-beginning", "-e", "--key-separator", "=").stdout
    assert keyed.splitlines()[0] == "k0=alpha"

    from_two = cli(broker, "consume", "events", "--offset", "2", "-e").stdout
    assert from_two.splitlines() == ["gamma", "delta:with:colons"]

    # A second produce strictly later than every record so far (the clock is only polled,
    # never asserted on), then a consume by the second batch's timestamp.
    last_ts = max(r["timestamp"] for r in recs)
    while int(time.time() * 1000) <= last_ts:
        time.sleep(0.01)
    cli(broker, "produce", "events", input=b"later-1\nlater-2\n\xff\xfe\n")
    recs = consume_json(broker, "events", "--from-beginning")
    assert len(recs) == 7
    binary = recs[6]
    assert binary["value_encoding"] == "base64" and binary["value"] == "//4="
    second_ts = recs[4]["timestamp"]
    assert second_ts > last_ts
    by_time = consume_json(broker, "events", "--timestamp", second_ts)
    assert [r["offset"] for r in by_time] == [4, 5, 6]
    assert [r["value"] for r in by_time[:2]] == ["later-1", "later-2"]

    # The default start is the end: nothing to read.
    assert cli(broker, "consume", "events", "-e").stdout == ""
    # --max-messages stops early.
    assert cli(broker, "consume", "events", "--from-beginning", "-n", "2").stdout.splitlines() == ["alpha", "beta"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_produce_compressed_batches(broker, codec):
    topic = f"z-{codec}"
    cli(broker, "topic", "create", topic, "--partitions", "1")
    lines = [f"{codec}-{i:04d}-" + "x" * 40 for i in range(200)]
    cli(broker, "produce", topic, "--compression", codec, "--acks", "1", input="\n".join(lines) + "\n")
    assert cli(broker, "consume", topic, "--from-beginning", "-e").stdout.splitlines() == lines
    batches = partition_batches(broker.data_dir, topic, 0)
    assert batches and all(b.codec_name == codec for b in batches)
    assert all(b.producer_id == -1 and b.base_sequence == -1 for b in batches)


def test_keyed_records_keep_their_partition(broker):
    cli(broker, "topic", "create", "keyed", "--partitions", "3")
    lines = [f"user-{i % 7}|v{i}" for i in range(70)]
    cli(broker, "produce", "keyed", "-K", "|", input="\n".join(lines) + "\n")
    recs = consume_json(broker, "keyed", "--from-beginning")
    assert sorted(r["value"] for r in recs) == sorted(l.split("|")[1] for l in lines)
    partition_of = {}
    for r in recs:
        assert partition_of.setdefault(r["key"], r["partition"]) == r["partition"]
    # Order within a key is the produce order.
    for key in partition_of:
        values = [int(r["value"][1:]) for r in recs if r["key"] == key]
        assert values == sorted(values)
    one = consume_json(broker, "keyed", "--from-beginning", "--partition", "1")
    assert all(r["partition"] == 1 for r in one)
    assert len(one) == sum(1 for r in recs if r["partition"] == 1)


def test_dump_log_prints_batches_and_verify_detects_a_flipped_byte(broker_factory, tmp_path):
    broker = broker_factory(settings={"log.index.interval.bytes": "1"})
    cli(broker, "topic", "create", "dump", "--partitions", "1")
    for i in range(3):
        cli(broker, "produce", "dump", "-K", ":", "-H", "h=1", "-H", "h=2",
            input=f"k{i}:value-{i}-a\nk{i}:value-{i}-b\n")
    seg = segment_files(broker.data_dir, "dump", 0)[0]
    # A live segment (indexes preallocated with zeros) verifies too.
    assert "OK" in run([sluice_bin(), "dump-log", "--verify", seg.parent]).stdout
    broker.stop()  # a clean close trims the indexes
    headers = read_batches(seg)
    assert len(headers) == 3

    out = run([sluice_bin(), "dump-log", seg]).stdout
    batch_lines = [l for l in out.splitlines() if l.startswith("baseOffset:")]
    assert len(batch_lines) == 3
    assert "baseOffset: 0 lastOffset: 1 count: 2" in batch_lines[0]
    assert "producerId: -1" in batch_lines[0] and "compresscodec: none" in batch_lines[0]
    assert f"crc: {headers[0].crc}" in batch_lines[0] and "isvalid: true" in batch_lines[0]
    assert "CreateTime:" in batch_lines[0]
    data = run([sluice_bin(), "dump-log", "--print-data-log", seg]).stdout
    assert "| offset: 3 " in data and "key: k1 payload: value-1-b" in data and "headerKeys: [h,h]" in data

    ok = run([sluice_bin(), "dump-log", "--verify", seg]).stdout
    assert "OK" in ok
    index_out = run([sluice_bin(), "dump-log", seg.with_suffix(".index")]).stdout
    assert "offset: 3 position:" in index_out

    # Flip one byte inside the last record of the second batch, in a copy.
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    for f in seg.parent.glob(seg.stem + ".*"):
        shutil.copy(f, copy_dir / f.name)
    bad = copy_dir / seg.name
    data = bytearray(bad.read_bytes())
    second = headers[1]
    data[second.file_position + second.total_size - 3] ^= 0x20
    bad.write_bytes(bytes(data))
    r = run([sluice_bin(), "dump-log", "--verify", bad], check=False)
    assert r.returncode != 0
    line = one_error_line(r)
    assert "offsets 2..3" in line and f"position {second.file_position}" in line and "crc" in line
    assert "CORRUPT" in r.stdout


def test_group_consume_commits_and_describe_shows_lag(broker):
    cli(broker, "topic", "create", "jobs", "--partitions", "1")
    cli(broker, "produce", "jobs", input="".join(f"job-{i}\n" for i in range(5)))

    first = cli(broker, "consume", "jobs", "--group", "workers", "--from-beginning", "-n", "3").stdout
    assert first.splitlines() == ["job-0", "job-1", "job-2"]

    groups = cli(broker, "group", "list").stdout
    assert "workers" in groups.split()
    d = cli(broker, "group", "describe", "workers").stdout
    rows = [l.split() for l in d.splitlines() if l.startswith("jobs ")]
    assert rows, d
    topic, partition, current, end, lag = rows[0][:5]
    assert (topic, partition, current, end, lag) == ("jobs", "0", "3", "5", "2"), d

    # The next member of the group starts at the committed offset.
    rest = cli(broker, "consume", "jobs", "--group", "workers", "--from-beginning", "-e").stdout
    assert rest.splitlines() == ["job-3", "job-4"]
    d = cli(broker, "group", "describe", "workers").stdout
    rows = [l.split() for l in d.splitlines() if l.startswith("jobs ")]
    assert rows[0][2:5] == ["5", "5", "0"], d


def test_errors_are_one_clear_line(broker, tmp_path):
    r = cli(broker, "consume", "no-such-topic", "-e", check=False)
    assert "no-such-topic" in one_error_line(r)
    r = cli(broker, "produce", "no-such-topic", input="x\n", check=False)
    assert "UNKNOWN_TOPIC_OR_PARTITION" in one_error_line(r)
    r = run([sluice_bin(), "topic", "list", "-b", "127.0.0.1:1"], check=False)
    assert "cannot connect to 127.0.0.1:1" in one_error_line(r)
    r = run([sluice_bin(), "dump-log", tmp_path / "missing.log"], check=False)
    assert "missing.log" in one_error_line(r)
