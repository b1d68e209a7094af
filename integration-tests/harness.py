"""Test harness for Sluice's integration tests: start the real broker, run clients, read segments.

Every integration test (client matrix and raw-protocol tests alike) imports from here.
The API below is stable; extend it, don't change what exists.

Broker binary
    ``sluice_bin()``: ``$SLUICE_BIN`` if set, else ``<repo>/target/release/sluice``.

Broker process
    ``Broker(data_dir, port=None, settings=None, extra_args=(), advertised=None, log_path=None, binary=None)``
        Not started by the constructor. ``port`` defaults to a free loopback port (``free_port()``),
        chosen once, so ``restart()`` reuses it. ``settings`` is a dict of Kafka-named broker settings
        passed as ``--set NAME=VALUE``. ``advertised`` ('HOST:PORT') becomes ``--advertised-listener``.
        The broker's stderr/stdout go to ``log_path`` (default ``<data_dir>/../sluice-<port>.log``),
        appended to across restarts, with a marker line per start.
      ``start(timeout=10)``    spawn ``sluice serve --listen 127.0.0.1:PORT --data-dir DIR ...`` and wait
                               until the port accepts TCP connections; raises ``BrokerError`` (with
                               the log tail) if the process exits or the port is not ready in time.
      ``stop(timeout=10, check=True)``  SIGTERM, wait; returns the exit code. If the broker has not
                               exited after ``timeout`` s it is SIGKILLed; with ``check`` a late exit
                               or a non-zero exit code raises ``BrokerError``.
      ``kill9()``              SIGKILL and reap (no flush: simulates a crash).
      ``restart(timeout=10)``  ``stop()`` then ``start()``: same port, same data dir.
      ``is_running()``, ``pid``, ``returncode``
      ``bootstrap``            '127.0.0.1:PORT' (never 'localhost': librdkafka may try ::1 first)
      ``host``, ``port``, ``data_dir`` (Path), ``log_path`` (Path), ``log_tail(lines=80)``, ``log_text()``,
      ``command()`` (the argv it starts), ``starts`` (how many times it was started)
      Also a context manager (``with Broker(...) as b:`` starts and always stops it).
    Storage: ``Broker(..., in_memory=None)``; ``None`` follows ``$SLUICE_STORAGE`` (``memory`` or,
        by default, ``disk``). In memory the broker runs ``--in-memory`` instead of ``--data-dir``,
        in an empty working directory (``<data_dir>/../cwd-<port>``) that must still be empty when it
        stops (``stop(check=True)`` raises ``BrokerError`` otherwise), and ``data_dir`` is never
        created. A second ``start()`` of an in-memory broker skips the test: the broker starts
        empty, so what a restart test checks afterwards does not apply. Tests that read segment
        files carry ``@pytest.mark.on_disk`` and are skipped in memory (conftest.py).
        ``in_memory_default()`` says which storage ``$SLUICE_STORAGE`` picks.
    Every started broker is registered; ``cleanup_all_brokers()`` SIGKILLs any still alive (the
    fixtures and an atexit hook call it), so no test leaves a process behind, even on timeout.

Pytest fixtures (in conftest.py)
    ``broker``          function scope: a started ``Broker`` with a fresh data dir under ``tmp_path``.
    ``broker_factory``  function scope: ``broker_factory(settings=None, **kw) -> Broker`` (started
                        unless ``start=False``); for tests that need settings or several brokers.
    ``sluice_binary``   session scope: Path of the binary; every test that needs a broker ERRORS
                        (never skips) with a clear message if it does not exist.
    On a test failure, the tail of the log of every broker the test started is attached to the
    report (section "sluice broker log").

Processes
    ``free_port()``                    a currently free TCP port on 127.0.0.1.
    ``wait_for_port(host, port, timeout)``  True once a TCP connect succeeds.
    ``run(cmd, timeout=60, check=True, input=None, env=None, cwd=None, tail_lines=60)``
        run a command (list of args), capture stdout/stderr as text, kill its whole process group on
        timeout; on timeout or (with ``check``) a non-zero exit raise ``CommandFailed`` whose message
        shows the command, exit code and the tails of stdout and stderr. Returns CompletedProcess.
        ``input`` may be str or bytes (then stdout/stderr are bytes too). ``env`` is added to os.environ.
    ``wait_until(predicate, timeout=10, interval=0.1, message=...)``  poll until truthy, else AssertionError.

Client logs
    ``LogTail(maxlen=400)``  bounded in-memory log: ``.write(text)``, ``.text()``, and ``.logger``, a
                             ``logging.Logger`` feeding it (give it to confluent-kafka's ``logger``
                             config, or attach ``.handler`` to kafka-python's ``kafka`` logger).
    ``client_log`` fixture (conftest): a ``LogTail`` whose content is attached to the report of a
                             failing test (section "client log").

On-disk segments (Kafka layout: ``<data_dir>/<topic>-<partition>/<20-digit base offset>.log``)
    ``segment_files(data_dir, topic, partition)``  sorted list of the partition's ``.log`` files.
    ``read_batches(path)``   list of ``BatchHeader`` (v2 record batch headers) in one segment file.
    ``partition_batches(data_dir, topic, partition)``  all batch headers of a partition, in order.
    ``BatchHeader``          base_offset, batch_length, magic, crc, attributes, last_offset_delta,
                             base_timestamp, max_timestamp, producer_id/epoch, base_sequence,
                             records_count, file_position; properties codec, codec_name,
                             timestamp_type, last_offset, total_size.
    ``CODEC_NAMES``          {0: 'none', 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd'}
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
INTEGRATION_DIR = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"

CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
CODEC_IDS = {name: cid for cid, name in CODEC_NAMES.items()}


class BrokerError(AssertionError):
    """The broker process misbehaved (did not start, did not stop cleanly, ...)."""


class CommandFailed(AssertionError):
    """A client command exited non-zero or timed out."""


def in_memory_default() -> bool:
    """True when ``$SLUICE_STORAGE`` asks for in-memory brokers (``memory``); else disk."""
    storage = os.environ.get("SLUICE_STORAGE", "disk")
    if storage not in ("disk", "memory"):
        raise ValueError(f"SLUICE_STORAGE must be 'disk' or 'memory', not {storage!r}")
    return storage == "memory"


def sluice_bin() -> Path:
    """The broker binary under test: ``$SLUICE_BIN``, else ``<repo>/target/release/sluice``."""
    env = os.environ.get("SLUICE_BIN")
    if env:
        return Path(env).resolve()
    return REPO_ROOT / "target" / "release" / "sluice"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now and that this process never handed out
    before. The kernel may give a port it just released straight back, so two calls in a row
    could name the same port: a CI run once started a broker whose schema registry port was its
    Kafka port, and one whose four listeners got two equal ports."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no TCP port on 127.0.0.1 that was not handed out already")


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _tail(text, lines: int = 60) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    parts = text.splitlines()
    if len(parts) > lines:
        return f"[... {len(parts) - lines} lines cut ...]\n" + "\n".join(parts[-lines:])
    return "\n".join(parts)


def run(
    cmd: Sequence[str],
    timeout: float = 60,
    check: bool = True,
    input=None,
    env: Mapping[str, str] | None = None,
    cwd=None,
    tail_lines: int = 60,
) -> subprocess.CompletedProcess:
    """Run ``cmd`` bounded in time; raise ``CommandFailed`` with its output on failure."""
    __tracebackhide__ = True
    cmd = [str(c) for c in cmd]
    text = not isinstance(input, (bytes, bytearray))
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=text,
        env=full_env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        raise CommandFailed(
            f"command timed out after {timeout}s: {' '.join(cmd)}\n"
            f"--- stdout (tail) ---\n{_tail(out, tail_lines)}\n--- stderr (tail) ---\n{_tail(err, tail_lines)}"
        ) from None
    except BaseException:
        _kill_group(proc)
        raise
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"command exited {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout (tail) ---\n{_tail(out, tail_lines)}\n--- stderr (tail) ---\n{_tail(err, tail_lines)}"
        )
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass


_LIVE_BROKERS: "list[Broker]" = []


def cleanup_all_brokers() -> None:
    """SIGKILL every broker this process started that is still running."""
    for b in list(_LIVE_BROKERS):
        if b.is_running():
            b.kill9()
    _LIVE_BROKERS.clear()


atexit.register(cleanup_all_brokers)


# The HTTP services' address settings; see Broker.http_defaults.
HTTP_SERVICE_SETTINGS = ("sluice.http.listen", "sluice.schema.registry.listen")


class Broker:
    """One ``sluice serve`` process on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        data_dir,
        port: int | None = None,
        settings: Mapping[str, object] | None = None,
        extra_args: Iterable[str] = (),
        advertised: str | None = None,
        log_path=None,
        binary=None,
        http_defaults: bool = False,
        in_memory: bool | None = None,
    ):
        self.host = LOOPBACK
        # Test brokers run without the HTTP services unless a test names their address (or
        # asks for the defaults): otherwise every broker would race for the fixed default
        # ports 9644 and 8081 and all but the first would log the busy-port warning.
        self.http_defaults = http_defaults
        self.data_dir = Path(data_dir)
        self.port = port if port is not None else free_port()
        self.settings = dict(settings or {})
        self.extra_args = list(extra_args)
        self.advertised = advertised
        self.binary = Path(binary) if binary else sluice_bin()
        self.log_path = Path(log_path) if log_path else self.data_dir.parent / f"sluice-{self.port}.log"
        self.in_memory = in_memory_default() if in_memory is None else in_memory
        # In memory the broker runs here, and nothing may appear in it.
        self.work_dir = self.data_dir.parent / f"cwd-{self.port}"
        self._proc: subprocess.Popen | None = None
        self._log_file = None
        self.starts = 0

    # -- properties ---------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        cmd = [str(self.binary), "serve", "--listen", self.bootstrap]
        cmd += ["--in-memory"] if self.in_memory else ["--data-dir", str(self.data_dir)]
        if self.advertised:
            cmd += ["--advertised-listener", self.advertised]
        settings = dict(self.settings)
        if not self.http_defaults:
            for name in HTTP_SERVICE_SETTINGS:
                settings.setdefault(name, "")
        for name, value in settings.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            cmd += ["--set", f"{name}={value}"]
        return cmd + self.extra_args

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 10) -> "Broker":
        if self.is_running():
            raise BrokerError(f"broker on {self.bootstrap} already running")
        if not self.binary.exists():
            raise BrokerError(f"broker binary {self.binary} does not exist (build it or set SLUICE_BIN)")
        if self.in_memory:
            if self.starts > 0:
                import pytest

                pytest.skip("in memory a restarted broker starts empty: what this test checks after the restart does not apply")
            self.work_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log_file = open(self.log_path, "ab")
        cmd = self.command()
        self.starts += 1
        self._log_file.write(f"\n===== harness: start #{self.starts}: {' '.join(cmd)}\n".encode())
        self._log_file.flush()
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=self.work_dir if self.in_memory else None,
        )
        _LIVE_BROKERS.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"broker exited with code {self._proc.returncode} during start-up\n"
                    f"--- broker log ({self.log_path}) ---\n{self.log_tail()}"
                )
            if wait_for_port(self.host, self.port, 0.2):
                return self
            time.sleep(0.05)
        self.kill9()
        raise BrokerError(
            f"broker did not accept connections on {self.bootstrap} within {timeout}s\n"
            f"--- broker log ({self.log_path}) ---\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 10, check: bool = True) -> int | None:
        """SIGTERM and wait; returns the exit code (None if it was never started)."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            t0 = time.monotonic()
            self._signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait()
                self._finish()
                if check:
                    raise BrokerError(
                        f"broker did not exit within {timeout}s of SIGTERM (killed)\n"
                        f"--- broker log ({self.log_path}) ---\n{self.log_tail()}"
                    )
                return self._proc.returncode
            self._note(f"stopped by SIGTERM: exit code {self._proc.returncode} after {time.monotonic() - t0:.2f}s")
        self._finish()
        rc = self._proc.returncode
        if check and rc != 0:
            raise BrokerError(
                f"broker exited with code {rc} on SIGTERM (expected 0)\n"
                f"--- broker log ({self.log_path}) ---\n{self.log_tail()}"
            )
        if check and self.in_memory:
            created = sorted(p.name for p in self.work_dir.iterdir()) if self.work_dir.exists() else []
            if created or self.data_dir.exists():
                raise BrokerError(f"an in-memory broker created files: {created or self.data_dir}")
        return rc

    def kill9(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self._proc.wait()
            self._note("killed with SIGKILL")
        self._finish()

    def restart(self, timeout: float = 10) -> "Broker":
        self.stop()
        return self.start(timeout=timeout)

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop(check=False)

    # -- logs ---------------------------------------------------------------------------------
    def log_text(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        return _tail(self.log_text(), lines)

    # -- internals ----------------------------------------------------------------------------
    def _signal(self, sig) -> None:
        try:
            self._proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def _signal_group(self, sig) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            self._signal(sig)

    def _note(self, msg: str) -> None:
        if self._log_file and not self._log_file.closed:
            self._log_file.write(f"===== harness: {msg}\n".encode())
            self._log_file.flush()

    def _finish(self) -> None:
        if self in _LIVE_BROKERS:
            _LIVE_BROKERS.remove(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file and not self._log_file.closed:
            self._log_file.close()
        self._log_file = None

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<Broker {self.bootstrap} {state} data_dir={self.data_dir}>"


class LogTail:
    """The last ``maxlen`` lines a client logged, to show when a test fails."""

    _count = 0

    def __init__(self, maxlen: int = 400):
        import collections
        import logging

        self.lines = collections.deque(maxlen=maxlen)
        self.dropped = 0
        LogTail._count += 1
        self.logger = logging.getLogger(f"sluice.client.{LogTail._count}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        tail = self

        class _Handler(logging.Handler):
            def emit(self, record):
                tail.write(f"{record.levelname} {record.name}: {record.getMessage()}")

        self.handler = _Handler(level=logging.DEBUG)
        self.logger.addHandler(self.handler)

    def write(self, text: str) -> None:
        for line in str(text).splitlines() or [""]:
            if len(self.lines) == self.lines.maxlen:
                self.dropped += 1
            self.lines.append(f"{time.strftime('%H:%M:%S')} {line}")

    def text(self) -> str:
        head = f"[... {self.dropped} earlier lines dropped ...]\n" if self.dropped else ""
        return head + "\n".join(self.lines)


# -- on-disk record batches -------------------------------------------------------------------


@dataclass(frozen=True)
class BatchHeader:
    """The fixed 61-byte header of a Kafka v2 record batch, as found in a segment file."""

    file_position: int
    base_offset: int
    batch_length: int  # bytes after the length field; total size is 12 + batch_length
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def codec(self) -> int:
        return self.attributes & 0x07

    @property
    def codec_name(self) -> str:
        return CODEC_NAMES.get(self.codec, f"unknown({self.codec})")

    @property
    def timestamp_type(self) -> int:
        """0 = CreateTime, 1 = LogAppendTime."""
        return (self.attributes >> 3) & 1

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def total_size(self) -> int:
        return 12 + self.batch_length


_HEADER = struct.Struct(">qiibIhiqqqhii")  # 61 bytes


def read_batches(path) -> list[BatchHeader]:
    """Walk the v2 record batches of one segment file; raises AssertionError on a malformed file.

    A zero-filled tail (preallocated space) ends the walk, as does a trailing partial batch (which
    a crash may leave; the test decides whether that is acceptable by comparing sizes)."""
    data = Path(path).read_bytes()
    batches = []
    pos = 0
    while pos + 12 <= len(data):
        base_offset, batch_length = struct.unpack_from(">qi", data, pos)
        if batch_length == 0:
            break  # zero padding (preallocated space)
        assert batch_length >= _HEADER.size - 12, f"{path}: batch at byte {pos} has length {batch_length}"
        if pos + 12 + batch_length > len(data):
            break  # partial batch at the end
        fields = _HEADER.unpack_from(data, pos)
        batches.append(BatchHeader(pos, *fields))
        assert fields[3] == 2, f"{path}: batch at byte {pos} has magic {fields[3]}, expected 2"
        pos += 12 + batch_length
    return batches


def segment_files(data_dir, topic: str, partition: int) -> list[Path]:
    pdir = Path(data_dir) / f"{topic}-{partition}"
    return sorted(pdir.glob("*.log"))


def partition_batches(data_dir, topic: str, partition: int) -> list[BatchHeader]:
    files = segment_files(data_dir, topic, partition)
    assert files, f"no segment files in {Path(data_dir) / f'{topic}-{partition}'}"
    out: list[BatchHeader] = []
    for f in files:
        out.extend(read_batches(f))
    return out


def wait_until(predicate, timeout: float = 10, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate()`` until it returns a truthy value (returned) or raise AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
