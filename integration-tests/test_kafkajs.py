"""kafkajs 2.2 (pure JS) against the real broker, through integration-tests/node/client.js.

Codecs: none, gzip (built in), snappy (kafkajs-snappy), lz4 (lz4js adapter in client.js). zstd is not
tested with kafkajs: its only codec package needs a native build. Reads use kafkajs's own Fetch layer
(its Consumer needs consumer groups, which Sluice does not have yet); see client.js.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from harness import INTEGRATION_DIR, partition_batches, run

NODE_DIR = INTEGRATION_DIR / "node"
CODECS = ["none", "gzip", "snappy", "lz4"]
ACKS = ["0", "1", "-1"]


def value_of(tag: str, i: int) -> str:
    return f"{tag}-{i:06d}-" + "abcdefgh" * 16


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    assert exe, "node is not installed"
    assert (NODE_DIR / "node_modules" / "kafkajs").is_dir(), "kafkajs missing: run scripts/install-test-deps.sh"
    return exe


@pytest.fixture
def js(node, broker):
    def call(*args, timeout=120):
        r = run([node, NODE_DIR / "client.js", broker.bootstrap, *map(str, args)], timeout=timeout,
                cwd=NODE_DIR, tail_lines=120)
        return json.loads(r.stdout)
    return call


def test_create_topic_and_metadata(js, broker):
    assert js("create-topic", "js-orders", 3) == {"created": True}
    assert js("create-topic", "js-orders", 3) == {"created": False}, "second create of the same topic"
    md = js("metadata", "js-orders")
    assert md["brokers"] == [{"nodeId": 1, "host": "127.0.0.1", "port": broker.port}], md
    assert md["controller"] == 1, md
    parts = sorted(md["partitions"], key=lambda p: p["partitionId"])
    assert [p["partitionId"] for p in parts] == [0, 1, 2]
    for p in parts:
        assert p["partitionErrorCode"] == 0 and p["leader"] == 1, p
        assert p["replicas"] == [1] and p["isr"] == [1], p


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume_codec_and_acks(js, broker, codec):
    topic = f"js-{codec}"
    js("create-topic", topic, 2)
    expected = {0: [], 1: []}
    for acks in ACKS:
        for part in (0, 1):
            tag = f"{codec}.acks{acks}.p{part}"
            res = js("produce", topic, part, codec, acks, 150, tag)["results"]
            if acks != "0":
                assert res and all(r["errorCode"] == 0 for r in res), res
            expected[part] += [(f"k{i}", value_of(tag, i), {"seq": str(i)}) for i in range(150)]
    recs = js("consume", topic, "0,1", "earliest")["records"]
    for part in (0, 1):
        got = [(r["key"], r["value"], r["headers"]) for r in recs if r["partition"] == part]
        assert len(got) == len(expected[part])
        assert got == expected[part]
        assert [r["offset"] for r in recs if r["partition"] == part] == list(range(len(expected[part])))
        codecs = {b.codec_name for b in partition_batches(broker.data_dir, topic, part)}
        assert codecs == {codec}, f"partition {part}: codecs on disk {codecs}, produced with {codec}"


def test_consume_from_latest(js):
    js("create-topic", "js-latest", 1)
    js("produce", "js-latest", 0, "none", "-1", 50, "old")
    r = js("latest", "js-latest", 0, 20)
    assert r["position"] == 50
    assert [(x["offset"], x["value"]) for x in r["records"]] == [(50 + i, value_of("new", i)) for i in range(20)]


def test_consume_from_explicit_offset(js):
    js("create-topic", "js-offset", 1)
    for chunk in range(2):
        js("produce", "js-offset", 0, "gzip", "-1", 50, f"e{chunk}")  # 50-record sends: 2x2 batches
    recs = js("consume", "js-offset", "0", "37")["records"]
    assert [r["offset"] for r in recs] == list(range(37, 100))
    want = [value_of(f"e{c}", i) for c in range(2) for i in range(50)][37:]
    assert [r["value"] for r in recs] == want


def test_consume_from_timestamp(js):
    js("create-topic", "js-time", 1)
    base = int(time.time() * 1000) - 3_600_000
    js("produce", "js-time", 0, "none", "-1", 100, "t", base, 1000)  # two sends of 50: two batches
    recs = js("consume", "js-time", "0", "earliest")["records"]
    assert [r["timestamp"] for r in recs] == [base + i * 1000 for i in range(100)]
    for target, want in [(base + 41_500, 42), (base + 10_000, 10), (base + 50_000, 50), (base - 5, 0), (base + 99_000, 99)]:
        offs = js("offsets-by-ts", "js-time", target)["offsets"]
        assert offs == [{"partition": 0, "offset": str(want)}], f"fetchTopicOffsetsByTimestamp(+{target - base}ms): {offs}"
    # After the last record kafkajs falls back to the high watermark (the broker must answer -1).
    assert js("offsets-by-ts", "js-time", base + 100_000)["offsets"] == [{"partition": 0, "offset": "100"}]
    got = js("consume", "js-time", "0", f"ts:{base + 41_500}")["records"]
    assert got[0]["offset"] == 42 and got[0]["timestamp"] >= base + 41_500
    offs = js("offsets", "js-time")["offsets"]
    assert [(o["partition"], o["low"], o["high"]) for o in offs] == [(0, "0", "100")], offs


def test_restart_keeps_everything(js, broker):
    js("create-topic", "js-durable", 2)
    for part in (0, 1):
        js("produce", "js-durable", part, "snappy", "-1", 200, f"r{part}")
    broker.restart()
    recs = js("consume", "js-durable", "0,1", "earliest")["records"]
    for part in (0, 1):
        assert [r["value"] for r in recs if r["partition"] == part] == [value_of(f"r{part}", i) for i in range(200)]
    res = js("produce", "js-durable", 1, "none", "-1", 1, "after")["results"]
    assert res[0]["baseOffset"] == "200", res
