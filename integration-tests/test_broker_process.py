"""The broker as a process: start-up, SIGTERM, kill -9, restart, advertised listener."""

from __future__ import annotations

import time

from confluent_kafka.admin import AdminClient

from harness import free_port, wait_for_port


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

