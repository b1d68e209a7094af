"""Free loopback ports for the benchmark scripts (the test harness has its own in
integration-tests/harness.py, which tests import without the scripts on their path).

The kernel may hand a port it has just released straight back, so two calls in a row could
name the same port; `free_port` never names a port twice in one process."""

from __future__ import annotations

import socket

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now that this process was never given before."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no loopback port that was not handed out before")
