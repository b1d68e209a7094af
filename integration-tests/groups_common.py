"""Shared pieces of the consumer-group tests (test_groups_*.py).

Worker processes
    ``Worker(cmd, name, env=None, cwd=None)`` runs one consumer-group member as its own process
    (so a crash is a real ``kill -9``). Protocol, the same for every client's worker:
      stdin  ``idle``  stop consuming after the record in hand (and its commit); answer ``IDLE``
             ``stop``  close the consumer (LeaveGroup, unless static) and exit 0
      stdout ``REC <partition> <offset>``  printed only after the record's synchronous commit
                                           succeeded, so a record is "consumed" exactly when printed
             ``ASSIGN <p,p,...>`` / ``REVOKE <p,...>`` on rebalances; anything else is informational.
    ``records()`` -> list of (partition, offset); ``lines``; ``wait_for(pred, timeout)``;
    ``send(text)``; ``kill9()``; ``stop(timeout)`` (asserts exit 0); ``output()`` for failure messages.

Records
    ``produce(bootstrap, topic, partitions, count, tag)`` produces ``count`` records round-robin over
    ``partitions`` partitions with confluent-kafka (idempotence off) and returns their (partition,
    offset) pairs as acknowledged.

Checks
    ``assert_exactly_once(workers, expected)`` every expected (partition, offset) printed by exactly one
    worker, nothing else printed.
    ``wait_consumed(workers, n, timeout)`` until the workers printed at least ``n`` records in total.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time

from confluent_kafka import Producer


class Worker:
    def __init__(self, cmd, name: str, env=None, cwd=None):
        self.name = name
        self.cmd = [str(c) for c in cmd]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1, env=full_env, cwd=cwd, start_new_session=True,
        )
        self.lines: list[str] = []
        self.err = collections.deque(maxlen=200)
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True).start()

    def _read(self, stream, sink):
        for line in stream:
            with self._lock:
                sink.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def records(self) -> list[tuple[int, int]]:
        out = []
        for line in self.snapshot():
            parts = line.split()
            if parts and parts[0] == "REC":
                out.append((int(parts[1]), int(parts[2])))
        return out

    def assignments(self) -> list[list[int]]:
        out = []
        for line in self.snapshot():
            parts = line.split()
            if parts and parts[0] == "ASSIGN":
                out.append([int(p) for p in parts[1].split(",") if p] if len(parts) > 1 else [])
        return out

    def output(self) -> str:
        with self._lock:
            out = "\n".join(self.lines[-40:])
            err = "\n".join(list(self.err)[-60:])
        return f"--- {self.name} stdout (tail) ---\n{out}\n--- {self.name} stderr (tail) ---\n{err}"

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait_for(self, pred, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred(self)
            if v:
                return v
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the readers drain
                v = pred(self)
                if v:
                    return v
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before {what}\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {self.name}: {what}\n{self.output()}")

    def wait_line(self, word: str, timeout: float = 60):
        return self.wait_for(lambda w: any(l.split()[:1] == [word] for l in w.snapshot()), timeout, word)

    def kill9(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 60) -> None:
        if self.proc.poll() is None:
            try:
                self.send("stop")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(f"{self.name} did not stop within {timeout}s\n{self.output()}")
        time.sleep(0.1)
        assert self.proc.returncode == 0, f"{self.name} exited {self.proc.returncode}\n{self.output()}"

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.kill9()


def produce(bootstrap: str, topic: str, partitions: int, count: int, tag: str) -> list[tuple[int, int]]:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "linger.ms": 5,
                  "message.timeout.ms": 20000})
    acked, failed = [], []

    def report(err, msg):
        (failed if err else acked).append(err or (msg.partition(), msg.offset()))

    for i in range(count):
        p.produce(topic, value=f"{tag}-{i:06d}".encode(), partition=i % partitions, on_delivery=report)
        if i % 500 == 0:
            p.poll(0)
    left = p.flush(30)
    assert left == 0 and not failed, f"produce failed: {left} undelivered, errors {failed[:3]}"
    return acked


def total(workers) -> int:
    return sum(len(w.records()) for w in workers)


def wait_consumed(workers, n: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while total(workers) < n:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s: workers consumed {total(workers)} of {n}\n"
                + "\n".join(w.output() for w in workers))
        time.sleep(0.1)


def wait_assigned(workers, timeout: float = 60) -> None:
    """Wait until each worker has been given an assignment (an empty one counts).

    A member that joins while its group waits for a crashed member's session to expire is only
    assigned once that rebalance ends; a test that stops it before then would find it never
    took part."""
    for w in workers:
        w.wait_for(lambda w: w.assignments(), timeout, "an assignment")


def assert_exactly_once(workers, expected) -> None:
    seen = collections.Counter()
    for w in workers:
        seen.update(w.records())
    dups = {k: v for k, v in seen.items() if v > 1}
    missing = set(expected) - set(seen)
    extra = set(seen) - set(expected)
    assert not dups, (f"{len(dups)} records consumed more than once, e.g. {sorted(dups.items())[:5]}\n"
                      + "\n".join(_history(w, sorted(dups)[0]) for w in workers))
    assert not missing, f"{len(missing)} records never consumed, e.g. {sorted(missing)[:5]}"
    assert not extra, f"unexpected records {sorted(extra)[:5]}"


def _history(worker, record) -> str:
    """What a worker printed about the partition of ``record`` (assignments, revocations, that
    partition's records and failed commits), so a duplicate can be traced to a generation."""
    partition = record[0]
    keep = []
    for i, line in enumerate(worker.snapshot()):
        parts = line.split()
        if not parts:
            continue
        if parts[0] in ("ASSIGN", "REVOKE", "IDLE", "CLOSED") or (
                parts[0] in ("REC", "COMMITFAIL", "STALE") and parts[1:2] == [str(partition)]):
            keep.append(f"{i:5d} {line}")
    if len(keep) > 60:
        keep = keep[:30] + ["  ..."] + keep[-30:]
    return f"--- {worker.name}: partition {partition} ---\n" + "\n".join(keep)
