"""The broker as a process: start-up, SIGTERM, kill -9, restart, advertised listener, one
owner per data directory."""

from __future__ import annotations

import subprocess
import time

from confluent_kafka.admin import AdminClient

from harness import free_port, sluice_bin, wait_for_port


def test_sigterm_exits_zero_quickly_and_restarts_on_same_port(broker):
    t0 = time.monotonic()
    assert broker.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 5, "SIGTERM shutdown took more than 5s"
    assert not wait_for_port("127.0.0.1", broker.port, 0.3), "port still accepting after exit"
    broker.start()  # same port right away (SO_REUSEADDR), same data dir
    assert broker.is_running()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert set(md.brokers) == {1}


def test_kill9_then_restart(broker):
    broker.kill9()
    assert broker.returncode == -9
    broker.start()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert md.brokers[1].port == broker.port


def test_advertised_listener_is_what_metadata_returns(broker_factory):
    other = free_port()
    b = broker_factory(advertised=f"127.0.0.1:{other}")
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    assert (md.brokers[1].host, md.brokers[1].port) == ("127.0.0.1", other)



def test_a_second_broker_on_the_same_data_dir_refuses_to_start(broker):
    other = free_port()
    second = subprocess.run(
        [str(sluice_bin()), "serve", "--listen", f"127.0.0.1:{other}", "--data-dir", str(broker.data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert second.returncode != 0
    assert "is in use by another process" in second.stderr, second.stderr
    assert f"pid {broker.pid}" in second.stderr, second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert not wait_for_port("127.0.0.1", other, 0.3), "the refused broker opened its port"
    # The owner is undisturbed, and after a kill -9 (no clean release) the directory is free again.
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert set(md.brokers) == {1}
    broker.kill9()
    broker.start()
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert set(md.brokers) == {1}
