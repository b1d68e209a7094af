"""Pytest wiring for Sluice's integration tests: broker fixtures and failure reports.

The fixtures (``broker``, ``broker_factory``, ``sluice_binary``) are documented in harness.py.
"""

from __future__ import annotations

import shutil
import signal
import subprocess

import pytest

from harness import Broker, LogTail, cleanup_all_brokers, in_memory_default, sluice_bin


def pytest_configure(config):
    # A SIGTERM (a CI timeout, `timeout`, a user's kill) would end pytest without running the
    # tests' finally blocks or fixture teardown, leaving brokers and client processes behind.
    # As a KeyboardInterrupt it unwinds like Ctrl-C: every test cleans up, then pytest exits.
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    config.addinivalue_line("markers", "on_disk: reads the broker's files; skipped with SLUICE_STORAGE=memory")


def pytest_collection_modifyitems(config, items):
    if not in_memory_default():
        return
    skip = pytest.mark.skip(reason="reads the broker's files, and an in-memory broker has none")
    for item in items:
        if "on_disk" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    b = sluice_bin()
    lines = [f"sluice binary: {b} ({'present' if b.exists() else 'MISSING'})",
             f"broker storage: {'memory (--in-memory)' if in_memory_default() else 'disk'} ($SLUICE_STORAGE)"]
    kcat = shutil.which("kcat")
    if kcat:
        try:
            v = subprocess.run([kcat, "-V"], capture_output=True, text=True, timeout=10).stdout
            lines.append("kcat: " + " ".join(l.strip() for l in v.splitlines() if "librdkafka" in l or "version" in l.lower())[:150])
        except Exception as e:  # header only; never fail here
            lines.append(f"kcat: {e}")
    return lines


@pytest.fixture(scope="session")
def sluice_binary():
    b = sluice_bin()
    if not b.exists():
        pytest.fail(f"broker binary {b} does not exist: run `cargo build --release` or set SLUICE_BIN", pytrace=False)
    return b


@pytest.fixture
def broker_factory(request, tmp_path, sluice_binary):
    """``broker_factory(settings=None, start=True, **Broker kwargs) -> Broker``; all stopped at teardown."""
    made: list[Broker] = []
    request.node._sluice_brokers = made

    def make(settings=None, start=True, **kw):
        n = len(made)
        kw.setdefault("data_dir", tmp_path / (f"data{n}" if n else "data"))
        b = Broker(settings=settings, binary=sluice_binary, **kw)
        made.append(b)
        if start:
            b.start()
        return b

    yield make
    for b in made:
        if b.is_running():
            b.stop(check=False)


@pytest.fixture
def broker(broker_factory) -> Broker:
    """A started broker on a free 127.0.0.1 port with a fresh data dir (``tmp_path/'data'``)."""
    return broker_factory()


# Group tests: no initial rebalance delay, and session timeouts short enough to remove a
# killed member within seconds.
GROUP_SETTINGS = {"group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000}


@pytest.fixture
def gbroker(broker_factory) -> Broker:
    """A started broker with GROUP_SETTINGS, for the consumer group tests."""
    return broker_factory(settings=GROUP_SETTINGS)


@pytest.fixture
def workers():
    """A list the test appends its ``groups_common.Worker`` processes to; all are cleaned up."""
    made = []
    yield made
    for w in made:
        w.cleanup()


@pytest.fixture
def client_log(request) -> LogTail:
    """A bounded client log, attached to the report when the test fails."""
    tail = LogTail()
    request.node._sluice_client_log = tail
    return tail


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in getattr(item, "_sluice_brokers", []):
            rep.sections.append((f"sluice broker log {b.bootstrap} ({b.log_path})", b.log_tail(120)))
        tail = getattr(item, "_sluice_client_log", None)
        if tail is not None and tail.lines:
            rep.sections.append(("client log (tail)", tail.text()))


def pytest_sessionfinish(session, exitstatus):
    cleanup_all_brokers()
