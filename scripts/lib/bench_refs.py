#!/usr/bin/env python3
"""Helpers for scripts/bench.sh: physical references, start-up timing, percentiles, RSS.

  bench_refs.py loopback SECONDS            one TCP stream over 127.0.0.1, 1 MiB sends -> MB/s
  bench_refs.py diskwrite DIR MIB           sequential 1 MiB writes to DIR, fsync at the end -> MB/s
  bench_refs.py fsyncrate DIR SECONDS       4 KiB append + fdatasync loop in DIR -> fsyncs/s
  bench_refs.py startup PORT LOG -- CMD...  spawns CMD, polls 127.0.0.1:PORT every 0.5 ms; prints
                                            "<ms> <pid>" once it accepts (the broker keeps running)
  bench_refs.py percentiles FILE [SKIP]     one latency (microseconds) a line -> "p50 p99 p99.9" in ms,
                                            leaving out the first SKIP lines (connection set-up)
  bench_refs.py rss PID                     "<VmRSS MiB> <VmHWM MiB>"
  bench_refs.py fsynclat DIR SECONDS RATE   one 4 KiB append + fdatasync every 1/RATE s in DIR (paced,
                                            as acks=all requests arrive) -> "p50 p99 p99.9" in ms of each
  bench_refs.py histq BEFORE AFTER NAME LABELS
                                            two /metrics scrapes (Prometheus text files); the histogram NAME's
                                            observations between them, on the series whose labels contain
                                            every LABELS item (comma-separated k="v") -> "count p50 p99 p99.9 mean"
                                            in ms, quantiles interpolated within buckets as Prometheus' histogram_quantile

Only the standard library; every figure is printed, never judged.
"""
import os
import socket
import subprocess
import sys
import threading
import time

MIB = 1 << 20


def loopback(seconds):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = [0]

    def sink():
        conn, _ = srv.accept()
        buf = bytearray(MIB)
        view = memoryview(buf)
        while True:
            n = conn.recv_into(view)
            if not n:
                break
            got[0] += n
        conn.close()

    t = threading.Thread(target=sink)
    t.start()
    cli = socket.create_connection(("127.0.0.1", port))
    payload = b"\0" * MIB
    # warm up, then measure what the receiver got in `seconds`
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        cli.sendall(payload)
    start_bytes, t0 = got[0], time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end:
        cli.sendall(payload)
    t1, end_bytes = time.monotonic(), got[0]
    cli.close()
    t.join()
    srv.close()
    print(f"{(end_bytes - start_bytes) / (t1 - t0) / 1e6:.1f}")


def diskwrite(d, mib):
    path = os.path.join(d, ".bench-diskwrite")
    buf = os.urandom(MIB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t0 = time.monotonic()
        for _ in range(mib):
            os.write(fd, buf)
        os.fsync(fd)
        dt = time.monotonic() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    print(f"{mib * MIB / dt / 1e6:.1f}")


def fsyncrate(d, seconds):
    path = os.path.join(d, ".bench-fsyncrate")
    buf = b"x" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    n = 0
    try:
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            os.write(fd, buf)
            os.fdatasync(fd)
            n += 1
        dt = time.monotonic() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    print(f"{n / dt:.0f}")


def fsynclat(d, seconds, rate):
    path = os.path.join(d, ".bench-fsynclat")
    buf = b"x" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    took = []
    try:
        interval = 1.0 / rate
        t0 = time.monotonic()
        next_at = t0
        while next_at < t0 + seconds:
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            start = time.monotonic()
            os.write(fd, buf)
            os.fdatasync(fd)
            took.append(time.monotonic() - start)
            next_at = max(next_at + interval, start)
    finally:
        os.close(fd)
        os.unlink(path)
    took.sort()
    def pct(q):
        return took[min(len(took) - 1, int(q * len(took)))] * 1000.0
    print(f"{pct(0.50):.2f} {pct(0.99):.2f} {pct(0.999):.2f}")


def _buckets(path, name, wanted):
    out = {}
    prefix = name + "_bucket{"
    for line in open(path):
        if not line.startswith(prefix):
            continue
        labels, _, value = line[len(prefix):].rpartition("} ")
        if not all(w in labels for w in wanted):
            continue
        le = labels.rsplit('le="', 1)[1].split('"', 1)[0]
        bound = float("inf") if le == "+Inf" else float(le)
        out[bound] = out.get(bound, 0.0) + float(value.split()[0])
    return out


def _sum(path, name, wanted):
    total = 0.0
    for line in open(path):
        if line.startswith(name + "_sum") and all(w in line for w in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


def histq(before, after, name, labels):
    wanted = [x for x in labels.split(",") if x]
    b, a = _buckets(before, name, wanted), _buckets(after, name, wanted)
    bounds = sorted(a)
    cum = [(le, a[le] - b.get(le, 0.0)) for le in bounds]
    total = cum[-1][1] if cum else 0.0
    if total <= 0:
        print("0 - - - -")
        return
    def q(x):
        rank = x * total
        lower, below = 0.0, 0.0
        for le, c in cum:
            if c >= rank:
                if le == float("inf"):
                    return lower * 1000.0
                inside = c - below
                return (lower + (le - lower) * ((rank - below) / inside if inside else 1.0)) * 1000.0
            lower, below = le, c
        return lower * 1000.0
    mean = (_sum(after, name, wanted) - _sum(before, name, wanted)) / total * 1000.0
    print(f"{total:.0f} {q(0.50):.2f} {q(0.99):.2f} {q(0.999):.2f} {mean:.2f}")


def startup(port, logf, cmd):
    with open(logf, "ab") as log:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=False)
        while True:
            if p.poll() is not None:
                print(f"broker exited with {p.returncode} during start-up", file=sys.stderr)
                sys.exit(1)
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.0005)
            finally:
                s.close()
            if time.monotonic() - t0 > 120:
                print("broker not accepting after 120 s", file=sys.stderr)
                sys.exit(1)
        print(f"{(time.monotonic() - t0) * 1000:.1f} {p.pid}")


def percentiles(path, skip=0):
    vals = sorted([int(x) for x in open(path) if x.strip()][skip:])
    if not vals:
        print("- - -")
        return
    def pct(q):
        return vals[min(len(vals) - 1, int(q * len(vals)))] / 1000.0
    print(f"{pct(0.50):.2f} {pct(0.99):.2f} {pct(0.999):.2f}")


def rss(pid):
    vals = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            vals[k] = int(v.split()[0]) / 1024
    print(f"{vals.get('VmRSS', 0):.1f} {vals.get('VmHWM', 0):.1f}")


def main(argv):
    cmd = argv[1]
    if cmd == "loopback":
        loopback(float(argv[2]))
    elif cmd == "diskwrite":
        diskwrite(argv[2], int(argv[3]))
    elif cmd == "fsyncrate":
        fsyncrate(argv[2], float(argv[3]))
    elif cmd == "startup":
        i = argv.index("--")
        startup(int(argv[2]), argv[3], argv[i + 1:])
    elif cmd == "percentiles":
        percentiles(argv[2], int(argv[3]) if len(argv) > 3 else 0)
    elif cmd == "rss":
        rss(argv[2])
    elif cmd == "fsynclat":
        fsynclat(argv[2], float(argv[3]), float(argv[4]))
    elif cmd == "histq":
        histq(argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else "")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
