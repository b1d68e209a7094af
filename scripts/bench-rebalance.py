#!/usr/bin/env python3
"""Rebalance time of a consumer group when a member joins, per group protocol, with one client.

    .venv/bin/python scripts/bench-rebalance.py [--runs 3] [--partitions 12] [--members 3]

Starts the broker ($SLUICE_BIN, else target/release/sluice, else target/debug/sluice) on a free
127.0.0.1 port with a fresh data directory, and with confluent-kafka (librdkafka) measures, for
classic eager (range), classic cooperative (cooperative-sticky) and KIP-848 consumer groups: a group
of --members members is settled, then one more subscribes; the time until every member owns a
non-empty share and the shares cover every partition exactly once. Every member learns of a
rebalance at its next heartbeat, so both sides use a 1 s heartbeat (client heartbeat.interval.ms for
classic, the broker's group.consumer.heartbeat.interval.ms for KIP-848); the classic join phase
also waits for every member's JoinGroup. Prints a table: per protocol the median and every run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration-tests"))
from harness import free_port  # noqa: E402  (stdlib only; never hands a port out twice)


ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT_MS = 1000


def binary() -> str:
    if os.environ.get("SLUICE_BIN"):
        return os.environ["SLUICE_BIN"]
    for p in (ROOT / "target/release/sluice", ROOT / "target/debug/sluice"):
        if p.exists():
            return str(p)
    sys.exit("no broker binary: cargo build --release, or set SLUICE_BIN")


def member(bootstrap, group, protocol):
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest"}
    if protocol == "consumer":
        conf["group.protocol"] = "consumer"
    else:
        conf.update({"partition.assignment.strategy": protocol, "heartbeat.interval.ms": HEARTBEAT_MS,
                     "session.timeout.ms": 10000})
    return Consumer(conf)


def settled(consumers, partitions) -> bool:
    owned = [tp.partition for c in consumers for tp in c.assignment()]
    return all(c.assignment() for c in consumers) and sorted(owned) == list(range(partitions))


def poll_until(consumers, pred, timeout):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("group did not settle")
        for c in consumers:
            c.poll(0.005)


def run(bootstrap, topic, protocol, partitions, members, n):
    group = f"rebalance-{protocol}-{n}"
    consumers = [member(bootstrap, group, protocol) for _ in range(members)]
    for c in consumers:
        c.subscribe([topic])
    poll_until(consumers, lambda: settled(consumers, partitions), 120)
    quiet = time.monotonic() + 2  # let any trailing rebalance finish
    poll_until(consumers, lambda: time.monotonic() > quiet, 10)
    joiner = member(bootstrap, group, protocol)
    start = time.monotonic()
    joiner.subscribe([topic])
    everyone = consumers + [joiner]
    poll_until(everyone, lambda: settled(everyone, partitions), 120)
    took = time.monotonic() - start
    # Closed together: a cooperative member closing alone can wait on the others' rebalance
    # while nobody polls them (seen to hang until max.poll.interval.ms).
    closers = [threading.Thread(target=c.close, daemon=True) for c in everyone]
    for t in closers:
        t.start()
    for t in closers:
        t.join(60)
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--members", type=int, default=3)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="sluice-rebalance-")
    port = free_port()
    sets = {"group.initial.rebalance.delay.ms": 0,
            "group.consumer.min.heartbeat.interval.ms": HEARTBEAT_MS,
            "group.consumer.heartbeat.interval.ms": HEARTBEAT_MS}
    cmd = [binary(), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    broker = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bootstrap = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("broker did not start")
                time.sleep(0.05)
        topic = "rebalance"
        admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive for its future
        admin.create_topics([NewTopic(topic, num_partitions=args.partitions, replication_factor=1)])[topic].result(30)
        import confluent_kafka
        print(f"{args.members}-member group, one member joins; {args.partitions} partitions; "
              f"heartbeat {HEARTBEAT_MS} ms; librdkafka {confluent_kafka.libversion()[0]}; {binary()}")
        print(f"| {'protocol':42s} | median (s) | runs (s) |")
        print(f"|{'-' * 44}|------------|----------|")
        for protocol, label in (("range", "classic eager (range)"),
                                ("cooperative-sticky", "classic cooperative (cooperative-sticky)"),
                                ("consumer", "consumer (KIP-848, uniform)")):
            times = [run(bootstrap, topic, protocol, args.partitions, args.members, n) for n in range(args.runs)]
            print(f"| {label:42s} | {statistics.median(times):10.2f} | "
                  + " ".join(f"{t:.2f}" for t in times) + " |", flush=True)
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
