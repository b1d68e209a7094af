#!/usr/bin/env python3
"""The scale figures of scripts/bench-scale.sh (scripts/bench.sh --scale): what partitions and
connections cost a broker as their number grows. Figures only: nothing here passes or fails.

  bench_scale.py partitions BIN DIR P1,P2,...   per count: CreateTopics time, descriptors, maps,
                                                RSS (anonymous and file-backed), produce throughput
                                                spread over all partitions (random partition per
                                                record), clean shutdown time, then start time on
                                                that data and the same figures after it
  bench_scale.py groups BIN DIR G1,G2,...       per count: G consumer groups (KIP-848) of 10 members
                                                each committing once a second (examples/groups_load.rs,
                                                $GROUPS_LOAD, $GROUPS_SECONDS): commit rate and latency,
                                                broker CPU and RSS, __consumer_offsets size, and the
                                                clean restart that replays the groups
  bench_scale.py lifecycle BIN DIR P1,P2,...    per count: a topic of P partitions, records in up to
                                                1,000 of them; clean shutdown with all open, start,
                                                Metadata of every partition, shutdown with none
                                                touched, then records in 100, kill -9 and the start
                                                after it (topics of at most 5,000 partitions, the
                                                broker restarted after each: created partitions
                                                hold descriptors until a restart)
  bench_scale.py written BIN DIR P1,P2,...      per count: a topic of P partitions, one record in
                                                every one of them (all open), clean shutdown, start,
                                                every partition's offsets (ListOffsets), shutdown
                                                with none touched, start, kill -9, start, and how
                                                many partitions were still unopened after it
  bench_scale.py connections BIN DIR C1,C2,...  per count: C idle connections (one ApiVersions
                                                each, then held), broker RSS and the produce
                                                latency (p50/p99, acks=1, one record at a time) of
                                                one extra producer beside them

Clients: confluent-kafka (librdkafka) from the project's .venv, one process; the connections
are plain sockets of this process (its soft descriptor limit raised to the hard one).
"""
from __future__ import annotations

import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration-tests"))
from harness import free_port  # noqa: E402  (stdlib only; never hands a port out twice)


def wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.0005)
    return False


class Broker:
    def __init__(self, binary: str, data: str, log: str, settings: dict[str, str] | None = None):
        self.binary, self.data, self.log = binary, data, log
        self.settings = settings or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        """Starts the broker; seconds until its port accepts."""
        args = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data,
                "--set", "sluice.http.listen=", "--set", "sluice.schema.registry.listen="]
        for k, v in self.settings.items():
            args += ["--set", f"{k}={v}"]
        t0 = time.monotonic()
        with open(self.log, "a") as logf:
            self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait_port(self.port, 600):
            raise SystemExit(f"broker did not start, see {self.log}")
        return time.monotonic() - t0

    def stop(self) -> float:
        """SIGTERM; seconds until the process has exited."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(600)
        return time.monotonic() - t0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stats(self) -> dict[str, float]:
        pid = self.proc.pid
        st = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    st[k] = int(v.split()[0]) / 1024
        st["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/maps") as f:
            st["maps"] = sum(1 for _ in f)
        return st


def fmt_stats(s: dict[str, float]) -> str:
    return (f"RSS {s['VmRSS']:.0f} MiB (anon {s.get('RssAnon', 0):.0f}, file {s.get('RssFile', 0):.0f}), "
            f"{s['fds']} fds, {s['maps']} maps")


def produce_spread(bootstrap: str, topic: str, partitions: int, records: int, size: int = 100) -> float:
    """Records/s of `records` records of `size` bytes, each to a random partition."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "enable.idempotence": False,
                  "queue.buffering.max.messages": 1000000, "batch.num.messages": 10000})
    value = b"x" * size
    rnd = random.Random(1)
    failed: dict[str, int] = {}

    def delivered(err, _msg):
        if err is not None:
            failed[err.name()] = failed.get(err.name(), 0) + 1

    t0 = time.monotonic()
    for _ in range(records):
        while True:
            try:
                p.produce(topic, value, partition=rnd.randrange(partitions), on_delivery=delivered)
                break
            except BufferError:
                p.poll(0.01)
    left = p.flush(300)
    dt = time.monotonic() - t0
    del p
    if left:
        print(f"  ({left} records not delivered)")
    if failed:
        print(f"  (records failed: {failed})")
    return (records - left - sum(failed.values())) / dt


def partitions(binary: str, base: str, counts: list[int]) -> None:
    print("| partitions | create (s) | after create | produce (rec/s, 100 B, random partition) "
          "| clean shutdown (s) | start (s) | after start |")
    print("|---|---|---|---|---|---|---|")
    for n in counts:
        data = os.path.join(base, f"p{n}")
        log = os.path.join(base, f"p{n}.log")
        b = Broker(binary, data, log)
        b.start()
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        t0 = time.monotonic()
        try:
            admin.create_topics([NewTopic("scale", n, 1)], operation_timeout=600)["scale"].result(timeout=900)
            create = f"{time.monotonic() - t0:.2f}"
        except Exception as e:  # a figure: the limit hit is what is measured
            create = f"failed after {time.monotonic() - t0:.1f} s: {e}"
            print(f"| {n} | {create} | {fmt_stats(b.stats())} | - | {b.stop():.2f} | - | - |", flush=True)
            continue
        after_create = b.stats()
        rate = produce_spread(b.bootstrap, "scale", n, max(20000, 20 * n))
        shutdown = b.stop()
        start = b.start()
        after_start = b.stats()
        b.stop()
        print(f"| {n} | {create} | {fmt_stats(after_create)} | {rate:,.0f} | {shutdown:.2f} | {start:.2f} "
              f"| {fmt_stats(after_start)} |", flush=True)


def table_per_count(binary: str, base: str, name: str, counts: list[int], headers: list[str], fill) -> None:
    """Prints a Markdown table with a row per count: a fresh broker (data in base/<name><count>),
    `fill(broker, count, row)` appends the cells. An exception ends the row with "failed: ..."
    (the limit hit is the figure) and "-" for the cells left."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for n in counts:
        b = Broker(binary, os.path.join(base, f"{name}{n}"), os.path.join(base, f"{name}{n}.log"))
        row = [str(n)]
        try:
            fill(b, n, row)
        except Exception as e:  # a figure: the limit hit is what is measured
            row.append(f"failed: {e}")
            if b.proc and b.proc.poll() is None:
                b.stop()
        row += ["-"] * (len(headers) - len(row))
        print("| " + " | ".join(row) + " |", flush=True)


def written(binary: str, base: str, counts: list[int]) -> None:
    """Clean shutdown and start when every partition was written since the start (issue 15
    item 4): each partition's log is open and must be closed."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    def fill(b: Broker, n: int, row: list[str]) -> None:
        b.start()
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        t0 = time.monotonic()
        admin.create_topics([NewTopic("w", n, 1)], operation_timeout=900)["w"].result(timeout=900)
        row.append(f"{time.monotonic() - t0:.2f}")
        t0 = time.monotonic()
        produce_each(b.bootstrap, "w", n, 1)
        row.append(f"{time.monotonic() - t0:.2f}")
        row.append(f"{b.stop():.2f}")
        row.append(f"{b.start():.2f}")
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        t0 = time.monotonic()
        asked = {TopicPartition("w", p): OffsetSpec.latest() for p in range(n)}
        ends = {tp.partition: f.result(300).offset for tp, f in admin.list_offsets(asked, request_timeout=300).items()}
        row.append(f"{time.monotonic() - t0:.2f}")
        wrong = [p for p, end in ends.items() if end != 1]
        if wrong:
            raise RuntimeError(f"{len(wrong)} partitions do not end at offset 1, e.g. {wrong[:5]}")
        row.append(f"{b.stop():.2f}")
        row.append(f"{b.start():.2f}")
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(60)
        row.append(f"{b.start():.2f}")
        time.sleep(3)  # a housekeeping pass or two: would it open partitions to recover them?
        b.stop()
        with open(b.log) as f:
            closing = [line for line in f if "closing partition logs" in line]
        row.append(closing[-1].split("never_opened=")[1].split()[0] if closing else "?")

    table_per_count(binary, base, "w", counts, [
        "partitions", "create (s)", "one record in each (s)", "clean shutdown (s)", "start (s)",
        "ListOffsets, all (s)", "shutdown, none touched (s)", "start (s)", "start after kill -9 (s)",
        "never opened after it"], fill)


API_VERSIONS = struct.pack(">hhih", 18, 0, 7, 5) + b"bench"
API_VERSIONS = struct.pack(">i", len(API_VERSIONS)) + API_VERSIONS


def recv_exact(s: socket.socket, k: int) -> bytes:
    b = b""
    while len(b) < k:
        chunk = s.recv(k - len(b))
        if not chunk:
            raise ConnectionError("closed")
        b += chunk
    return b


def latency(bootstrap: str, topic: str, n: int = 2000) -> tuple[float, float]:
    """p50 and p99 (ms) of produce round trips, one record at a time (acks=1, linger 0)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 0, "enable.idempotence": False})
    p.produce(topic, b"warm-up", partition=0)
    p.flush(30)
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        p.produce(topic, b"x" * 100, partition=0)
        p.flush(30)
        lat.append(time.perf_counter() - t0)
    del p
    lat.sort()
    return lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000


def connections(binary: str, base: str, counts: list[int]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("| idle connections | broker RSS (MiB) | RSS per connection (KiB) | fds | produce p50 (ms) | produce p99 (ms) |")
    print("|---|---|---|---|---|---|")
    b = Broker(binary, os.path.join(base, "conns"), os.path.join(base, "conns.log"))
    b.start()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("lat", 1, 1)])["lat"].result(30)
    base_rss = b.stats()["VmRSS"]
    socks: list[socket.socket] = []
    for n in counts:
        while len(socks) < n:
            s = socket.create_connection(("127.0.0.1", b.port), timeout=60)
            socks.append(s)
            s.sendall(API_VERSIONS)
        for s in socks:
            s.settimeout(60)
        # Every connection answered once (the ones opened in earlier steps again too).
        for s in socks:
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            recv_exact(s, size)
        st = b.stats()
        p50, p99 = latency(b.bootstrap, "lat")
        per = (st["VmRSS"] - base_rss) * 1024 / n if n else 0
        print(f"| {n} | {st['VmRSS']:.0f} | {per:.1f} | {st['fds']} | {p50:.2f} | {p99:.2f} |", flush=True)
        for s in socks:
            s.sendall(API_VERSIONS)
    for s in socks:
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        recv_exact(s, size)
        s.close()
    b.stop()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def groups(binary: str, base: str, counts: list[int]) -> None:
    """Per count: a fresh broker, `count` KIP-848 groups of 10 members committing once a second
    (the groups_load example, $GROUPS_LOAD), then a clean restart that replays the groups."""
    load = os.environ.get("GROUPS_LOAD") or "target/release/examples/groups_load"
    seconds = int(os.environ.get("GROUPS_SECONDS", "20"))
    print("| groups x members | commits/s | commit p50 / p99 / p99.9 (ms) | heartbeat p99 (ms) | errors "
          "| broker CPU (% of one core) | RSS (MiB) | __consumer_offsets (MiB) | restart (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in counts:
        data = os.path.join(base, f"groups-{n}")
        b = Broker(binary, data, os.path.join(base, f"groups-{n}.log"))
        b.start()
        cpu0, t0 = cpu_seconds(b.proc.pid), time.monotonic()
        out = subprocess.run([load, "--bootstrap", b.bootstrap, "--groups", str(n), "--members", "10",
                              "--seconds", str(seconds), "--connections", str(min(200, max(10, n // 5)))],
                             capture_output=True, text=True, timeout=600 + seconds)
        cpu = (cpu_seconds(b.proc.pid) - cpu0) / (time.monotonic() - t0) * 100
        st = b.stats()
        lines = {l.split(":", 1)[0]: l.split(":", 1)[1].strip() for l in out.stdout.splitlines() if ":" in l}
        if out.returncode != 0:
            print(f"| {n} x 10 | load generator failed: {out.stderr.strip()[-200:]} |", flush=True)
            b.stop()
            continue

        def pick(key: str, *names: str) -> str:
            words = lines.get(key, "").split()
            return " / ".join(words[words.index(n) + 1] for n in names if n in words) or "?"

        rate = lines.get("commits", "?").split("(")[-1].split("/s")[0]
        errors = "; ".join(v for k, v in lines.items() if k == "errors") or "none"
        offsets = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data)
                      if "__consumer_offsets" in d for f in fs) / (1 << 20)
        b.stop()
        restart = b.start()
        b.stop()
        print(f"| {n} x 10 | {rate} | {pick('commit latency ms', 'p50', 'p99', 'p99.9')} "
              f"| {pick('heartbeat latency ms', 'p99')} | {errors} | {cpu:.0f} | {st['VmRSS']:.0f} "
              f"| {offsets:.1f} | {restart:.2f} |", flush=True)


def produce_each(bootstrap: str, topic: str, parts: int, per_partition: int) -> None:
    """`per_partition` 100 B records to each of partitions 0..parts-1 (acks=1)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "enable.idempotence": False,
                  "queue.buffering.max.messages": 1000000})
    for part in range(parts):
        for _ in range(per_partition):
            while True:
                try:
                    p.produce(topic, b"x" * 100, partition=part)
                    break
                except BufferError:
                    p.poll(0.01)
    p.flush(300)
    del p


CHUNK = 5000  # partitions per topic: created partitions are open until the next restart


def start_checked(b: Broker) -> float | None:
    """Seconds until the broker's port accepts, or None if the broker exited first."""
    args_log = open(b.log, "a")
    args = [b.binary, "serve", "--listen", f"127.0.0.1:{b.port}", "--data-dir", b.data,
            "--set", "sluice.http.listen=", "--set", "sluice.schema.registry.listen="]
    t0 = time.monotonic()
    b.proc = subprocess.Popen(args, stdout=args_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    args_log.close()
    while b.proc.poll() is None:
        if wait_port(b.port, 0.05):
            return time.monotonic() - t0
    return None


def lifecycle(binary: str, base: str, counts: list[int]) -> None:
    """Start and shutdown as partitions grow, with most partitions untouched (issue 15 item 4).

    Topics of at most CHUNK partitions, the broker restarted after each but the last (a
    created partition holds its descriptors until then); records in up to 1,000 partitions;
    clean shutdown with the last topic's partitions and those 1,000 open; start; Metadata of
    every partition; shutdown with none touched; records in 100 partitions, kill -9, start."""

    def fill(b: Broker, n: int, row: list[str]) -> None:
        if start_checked(b) is None:
            raise RuntimeError("no start")
        create, made, i = 0.0, 0, 0
        while made < n:
            k = min(CHUNK, n - made)
            admin = AdminClient({"bootstrap.servers": b.bootstrap})
            t0 = time.monotonic()
            admin.create_topics([NewTopic(f"life-{i}", k, 1)], operation_timeout=900)[f"life-{i}"].result(timeout=900)
            create += time.monotonic() - t0
            made, i = made + k, i + 1
            if made < n:
                b.stop()
                if start_checked(b) is None:
                    raise RuntimeError(f"broker exited at start-up with {made} partitions")
        row.append(f"{create:.2f}" + (f" ({i} topics)" if i > 1 else ""))
        produce_each(b.bootstrap, "life-0", min(n, 1000), 20)
        row.append(f"{b.stop():.2f}")
        start = start_checked(b)
        if start is None:
            raise RuntimeError(f"broker exited at start-up with {n} partitions")
        row += [f"{start:.2f}", fmt_stats(b.stats())]
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        t0 = time.monotonic()
        md = admin.list_topics(timeout=300)
        row.append(f"{time.monotonic() - t0:.2f}")
        assert sum(len(t.partitions) for name, t in md.topics.items() if name.startswith("life-")) == n
        row.append(f"{b.stop():.2f}")
        if start_checked(b) is None:
            raise RuntimeError("no start")
        produce_each(b.bootstrap, "life-0", min(n, 100), 20)
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(60)
        start = start_checked(b)
        if start is None:
            raise RuntimeError("broker exited at start-up after kill -9")
        row += [f"{start:.2f}", fmt_stats(b.stats())]
        b.stop()

    table_per_count(binary, base, "life", counts, [
        "partitions", "create (s)", "shutdown (s)", "start (s)", "after start", "Metadata, all (s)",
        "shutdown, none touched (s)", "start after kill -9 (s)", "after start after kill -9"], fill)


def main(argv: list[str]) -> None:
    what, binary, base, counts = argv[1], argv[2], argv[3], [int(c) for c in argv[4].split(",")]
    os.makedirs(base, exist_ok=True)
    {"partitions": partitions, "connections": connections, "groups": groups,
     "lifecycle": lifecycle, "written": written}[what](binary, base, counts)


if __name__ == "__main__":
    main(sys.argv)
