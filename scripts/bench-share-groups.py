#!/usr/bin/env python3
"""Consume throughput of a KIP-932 share group against a classic consumer, with one client.

    .venv/bin/python scripts/bench-share-groups.py [--records 20000] [--runs 3] [--consumers 1]

Starts the broker ($SLUICE_BIN, else target/release/sluice, else target/debug/sluice) on a free
127.0.0.1 port with a fresh data directory, produces --records 100-byte records to a
one-partition topic, then times, with confluent-kafka (librdkafka 2.16): a classic consumer
reading them all (the reference: no per-record state on the broker), and --consumers share
consumers in implicit acknowledgement mode (every record acquired, then accepted; each
acknowledgement written to __share_group_state and fsync'd before it is answered). Each run uses
a fresh group. Figures only: nothing here passes or fails. Prints per-run figures and medians.
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
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration-tests"))
from harness import free_port  # noqa: E402  (stdlib only; never hands a port out twice)

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

ROOT = Path(__file__).resolve().parent.parent


def binary() -> str:
    if os.environ.get("SLUICE_BIN"):
        return os.environ["SLUICE_BIN"]
    for p in (ROOT / "target/release/sluice", ROOT / "target/debug/sluice"):
        if p.exists():
            return str(p)
    raise SystemExit("no sluice binary: build it or set SLUICE_BIN")


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("broker did not start")


def classic(bootstrap: str, topic: str, n: int, run: int) -> float:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"classic-{run}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got, start = 0, None
    while got < n:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        start = start or time.time()
        got += 1
    elapsed = time.time() - start
    c.close()
    return elapsed


def share(bootstrap: str, topic: str, n: int, run: int, consumers: int) -> float:
    group = f"share-{run}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.alter_configs([ConfigResource(ConfigResourceType.GROUP, group,
                                        configs={"share.auto.offset.reset": "earliest"})],
                        incremental=True, raise_on_unknown=False)
    admin.close()
    cs = [ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group}) for _ in range(consumers)]
    for c in cs:
        c.subscribe([topic])
    seen, start = set(), None
    while len(seen) < n:
        for c in cs:
            for m in c.poll(0.2) or []:
                if m.error() is None:
                    start = start or time.time()
                    seen.add(m.offset())
    elapsed = time.time() - start
    for c in cs:
        c.commit_sync()
        c.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--consumers", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-share-"))
    port = free_port()
    log = open(tmp / "broker.log", "w")
    broker = subprocess.Popen([binary(), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                               str(tmp / "data")], stdout=log, stderr=log)
    try:
        wait_port(port)
        bootstrap = f"127.0.0.1:{port}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("bench", num_partitions=1, replication_factor=1)])["bench"].result(15)
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for i in range(args.records):
            p.produce("bench", value=b"x" * 100)
            if i % 10000 == 0:
                p.poll(0)
        p.flush(60)
        rows = {"classic consumer (reference)": [], f"share group, {args.consumers} consumer(s)": []}
        for run in range(args.runs):
            rows["classic consumer (reference)"].append(args.records / classic(bootstrap, "bench", args.records, run))
            rows[f"share group, {args.consumers} consumer(s)"].append(
                args.records / share(bootstrap, "bench", args.records, run, args.consumers))
        print(f"{args.records} records of 100 B, one partition, {args.runs} runs, binary {binary()}")
        for name, figures in rows.items():
            runs = ", ".join(f"{f:,.0f}" for f in figures)
            print(f"{name:40s} median {statistics.median(figures):10,.0f} records/s   (runs: {runs})")
    finally:
        broker.terminate()
        broker.wait(15)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
