"""``sluice replay`` (issue 14, item 4) against the real broker.

A source topic written by confluent-kafka holds records before, inside and after a time range,
and an aborted transaction inside it. Replaying the range into another topic must give exactly
the committed records of the range (keys, values, headers, per-key order), with the source's
relative timestamps, exactly once (a second run adds nothing). The pace check is deliberately
loose: at 1x the replay may not finish in less than 80% of the range's span (it cannot be early
by design; a slow machine only makes it later, which is not checked).
"""

from __future__ import annotations

import time
import uuid

from harness import run, sluice_bin
from test_export_import import produce, read_all
from transactions_common import new_topic

TIMEOUT = 120


def cli(broker, *args, check=True, timeout=TIMEOUT):
    return run([sluice_bin(), *[str(a) for a in args], "-b", broker.bootstrap], check=check, timeout=timeout)


def test_replay_keeps_records_order_and_pace_exactly_once(broker):
    from confluent_kafka import Producer

    src = new_topic(broker.bootstrap, 2, "replay-src")
    t1 = int(time.time() * 1000) - 600_000
    span_ms = 2_500
    before = [(i % 2, f"k{i % 5}".encode(), f"before-{i}".encode(), [], t1 - 10_000 + i) for i in range(10)]
    inside = [
        (i % 2, f"k{i % 5}".encode(), f"in-{i}".encode(), [("n", str(i).encode()), ("bin", bytes([0xFF, i]))], t1 + i * span_ms // 49)
        for i in range(50)
    ]
    after = [(i % 2, f"k{i % 5}".encode(), f"after-{i}".encode(), [], t1 + 10_000 + i) for i in range(10)]
    produce(broker.bootstrap, src, before + inside[:25])
    tp = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex[:6]}"})
    tp.init_transactions(30)
    tp.begin_transaction()
    for i in range(5):
        tp.produce(src, key=b"k0", value=f"aborted-{i}".encode(), partition=i % 2, timestamp=t1 + 100 + i)
    tp.flush(30)
    tp.abort_transaction(30)
    produce(broker.bootstrap, src, inside[25:] + after)
    t2 = t1 + 5_000

    dst = f"replay-dst-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    r = cli(broker, "replay", src, "--to", dst, "--from-timestamp", t1, "--to-timestamp", t2, "--speed", "1x")
    elapsed = time.monotonic() - started
    assert "replayed 50 records" in r.stderr, r.stderr
    first, last = inside[0][4], inside[-1][4]
    assert elapsed >= 0.8 * (last - first) / 1000, (elapsed, last - first)

    got = read_all(broker.bootstrap, dst, 2)
    recs = [rec for rs in got.values() for rec in rs]
    values = sorted(v for _, v, _, _, _ in recs)
    assert values == sorted(v for _, _, v, _, _ in inside)
    by_value = {v: (k, h) for _, k, v, h, _ in inside}
    for k, v, h, _, _ in recs:
        assert (k, h) == by_value[v]
    # Per key, the source order (which is per partition and key here) is kept.
    for key in {k for _, k, _, _, _ in inside}:
        src_order = [v for _, k, v, _, _ in inside if k == key]
        dst_order = [v for rs in got.values() for k, v, _, _, _ in rs if k == key]
        assert dst_order == src_order
    # Relative timestamps are the source's (the replay stamps each record with its due time).
    src_ts = {v: ts for _, _, v, _, ts in inside}
    dst_ts = {v: ts for _, v, _, ts, _ in recs}
    base = dst_ts[inside[0][2]]
    assert all(dst_ts[v] - base == src_ts[v] - first for v in src_ts)

    # Exactly once: the same replay again adds nothing.
    r = cli(broker, "replay", src, "--to", dst, "--from-timestamp", t1, "--to-timestamp", t2)
    assert "nothing to replay" in r.stderr, r.stderr
    assert sum(len(v) for v in read_all(broker.bootstrap, dst, 2).values()) == 50

    # Another id replays the range again; at max speed, without an end it takes the rest.
    r = cli(broker, "replay", src, "--to", dst, "--from-timestamp", t1, "--speed", "max", "--id", "again")
    assert "replayed 60 records" in r.stderr, r.stderr
    again = [v for rs in read_all(broker.bootstrap, dst, 2).values() for _, v, _, _, _ in rs]
    assert len(again) == 110 and not any(v.startswith(b"aborted") or v.startswith(b"before") for v in again)


def test_replay_refuses_a_bad_speed_and_range(broker):
    src = new_topic(broker.bootstrap, 1, "replay-bad")
    r = cli(broker, "replay", src, "--to", "x", "--from-timestamp", 5, "--speed", "fast", check=False)
    assert r.returncode != 0 and "--speed" in r.stderr
    r = cli(broker, "replay", src, "--to", "x", "--from-timestamp", 5, "--to-timestamp", 5, check=False)
    assert r.returncode != 0 and "--to-timestamp" in r.stderr
