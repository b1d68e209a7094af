#!/usr/bin/env python3
"""The cost of broker-side schema id validation, for scripts/bench.sh.

  bench_schema.py BOOTSTRAP REGISTRY_URL BROKER_PID COUNT RUNS

Registers one Avro schema, then, RUNS times and alternating which goes first, produces COUNT
records of 100 B (magic byte 0 + the schema's id + 95 bytes, as a Confluent serializer frames
them) to a fresh topic with confluent.value.schema.validation=false and to one with true (acks=1,
linger.ms=5, one partition, confluent-kafka). For each it measures the wall time and the broker's
CPU time (every thread of BROKER_PID, from /proc/PID/task/*/schedstat) and prints one line per run:

  off|on <records/s> <broker CPU microseconds per record>

The broker's CPU per record is the figure that isolates the check: the Python producer, not the
broker, bounds the records/s. Every figure is printed, never judged.
"""
import json
import os
import struct
import sys
import time
import urllib.request

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def broker_cpu_seconds(pid):
    """CPU time of every thread of PID, in seconds, from the scheduler's nanosecond counters
    (/proc/PID/task/*/schedstat; /proc/PID/stat counts 10 ms ticks, too coarse here)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{task}/schedstat").read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def register(url, subject):
    body = json.dumps({"schema": json.dumps({"type": "record", "name": "Bench", "fields": [
        {"name": "payload", "type": "bytes"}]})}).encode()
    req = urllib.request.Request(f"{url}/subjects/{subject}/versions", data=body, method="POST",
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["id"]


def produce(bootstrap, topic, value, count):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": 1,
                  "enable.idempotence": False, "batch.num.messages": 10000,
                  "queue.buffering.max.messages": 200000})
    failed = [0]

    def report(err, _msg):
        if err is not None:
            failed[0] += 1

    for _ in range(count):
        while True:
            try:
                p.produce(topic, value=value, on_delivery=report)
                break
            except BufferError:
                p.poll(0.005)
    p.flush(120)
    if failed[0]:
        raise SystemExit(f"{failed[0]} of {count} records to {topic} failed")


def main(argv):
    bootstrap, url, pid, count, runs = argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5])
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for run in range(runs):
        order = ("off", "on") if run % 2 == 0 else ("on", "off")
        for mode in order:
            topic = f"sv-{mode}-{run}"
            configs = {"confluent.value.schema.validation": "true" if mode == "on" else "false"}
            admin.create_topics([NewTopic(topic, 1, 1, config=configs)])[topic].result(30)
            schema_id = register(url, f"{topic}-value")
            value = b"\0" + struct.pack(">i", schema_id) + b"x" * 95
            produce(bootstrap, topic, value, min(1000, count))  # warm-up: metadata, segment
            cpu0, t0 = broker_cpu_seconds(pid), time.monotonic()
            produce(bootstrap, topic, value, count)
            cpu1, t1 = broker_cpu_seconds(pid), time.monotonic()
            print(f"{mode} {count / (t1 - t0):.0f} {(cpu1 - cpu0) * 1e6 / count:.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
