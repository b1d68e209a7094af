"""Stand-in for kafka-python's `test/service.py`, which its 3.0.12 sdist leaves out.

scripts/compat-kafka-python.sh copies this file to `test/service.py` in the unpacked sdist
(and writes an empty `test/__init__.py`). kafka-python's fixtures import `ExternalService` and
`SpawnedService` from it. Only the existing-broker case is covered: with `KAFKA_URI` set the
fixtures build an `ExternalService` for the running Sluice broker and never spawn anything.
"""
import logging

log = logging.getLogger(__name__)


class ExternalService:
    """A broker that is already running (Sluice, started by the compat script)."""

    def __init__(self, host, port):
        log.info("Using already running service at %s:%d", host, port)
        self.host = host
        self.port = port

    def open(self):
        pass

    def close(self):
        pass

    def stop(self):
        pass

    def dump_logs(self):
        pass

    def wait_for(self, pattern, timeout=30):
        return True


class SpawnedService:
    """Only reached when a fixture would start Kafka or ZooKeeper itself (no KAFKA_URI)."""

    def __init__(self, args=None, env=None):
        raise RuntimeError(
            "this shim only supports an existing broker: set KAFKA_URI=PLAINTEXT://127.0.0.1:PORT"
        )
