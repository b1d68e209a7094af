"""Request spans exported with OTLP (issue 12, item 5; `sluice.otlp.endpoint`).

The broker exports to an OTLP/HTTP receiver run by the test: a plain HTTP server whose
POST /v1/traces body is decoded by OpenTelemetry's own protobuf definitions
(`opentelemetry-proto`, ExportTraceServiceRequest), as a collector decodes it. The
client is confluent-kafka. A second test points the broker at a port where nothing
listens: requests are served all the same (spans are dropped, never waited for)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from confluent_kafka import Consumer, Producer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from harness import free_port, wait_until

CLIENT_ID = "otlp-test-client"


class Receiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1: keeps every decoded span."""

    def __init__(self):
        self.spans: list[tuple[dict, Span]] = []  # (resource attributes, span)
        self.content_types: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    receiver.content_types.add(self.headers.get("Content-Type", ""))
                    for rs in request.resource_spans:
                        resource = {a.key: value(a.value) for a in rs.resource.attributes}
                        for ss in rs.scope_spans:
                            for span in ss.spans:
                                receiver.spans.append((resource, span))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def named(self, name: str) -> list[tuple[dict, Span]]:
        with self.lock:
            return [(r, s) for r, s in self.spans if s.name == name]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attributes(span: Span) -> dict:
    return {a.key: value(a.value) for a in span.attributes}


def produce(bootstrap: str, topic: str, n: int):
    p = Producer({"bootstrap.servers": bootstrap, "client.id": CLIENT_ID, "acks": "all"})
    for i in range(n):
        p.produce(topic, f"v{i}".encode())
    assert p.flush(30) == 0


def test_request_spans_reach_an_otlp_receiver(broker_factory, monkeypatch):
    receiver = Receiver()
    try:
        # Batches every 200 ms instead of the SDK's 5 s, through OpenTelemetry's own knob.
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        b = broker_factory(settings={
            "sluice.otlp.endpoint": f"http://127.0.0.1:{receiver.port}",
            "sluice.otlp.service.name": "sluice-under-test",
            "group.initial.rebalance.delay.ms": 0,
        })
        produce(b.bootstrap, "traced", 3)
        c = Consumer({
            "bootstrap.servers": b.bootstrap,
            "group.id": "otlp-readers",
            "client.id": CLIENT_ID,
            "auto.offset.reset": "earliest",
        })
        try:
            c.subscribe(["traced"])
            wait_until(lambda: _read_one(c), timeout=30, message="a record consumed")
        finally:
            c.close()

        wait_until(lambda: receiver.named("Produce") and receiver.named("Fetch"),
                   timeout=30, message="Produce and Fetch spans at the receiver")
        assert receiver.content_types == {"application/x-protobuf"}
        resource, span = receiver.named("Produce")[0]
        assert resource["service.name"] == "sluice-under-test"
        assert span.kind == Span.SPAN_KIND_SERVER
        attrs = attributes(span)
        assert attrs["kafka.api_key"] == 0
        assert 3 <= attrs["kafka.api_version"] <= 13
        assert attrs["messaging.client.id"] == CLIENT_ID
        assert attrs["api"] == "Produce"
        assert int(attrs["request_id"]) > 0  # a u64 field: exported as its decimal string
        assert span.end_time_unix_nano >= span.start_time_unix_nano > 0
        # Each request is its own span with its own id.
        ids = [attributes(s)["request_id"] for _, s in receiver.spans]
        assert len(ids) == len(set(ids))
        names = {s.name for _, s in receiver.spans}
        assert {"ApiVersions", "Metadata", "Produce", "Fetch"} <= names, names
        fetch = attributes(receiver.named("Fetch")[0][1])
        assert fetch["kafka.api_key"] == 1
        # The log keeps its request span; the OTLP name is only added to it.
        assert "request{request_id=" in b.log_text()
    finally:
        receiver.close()


def _read_one(consumer) -> bool:
    m = consumer.poll(0.5)
    return m is not None and not m.error()


def test_an_unreachable_collector_never_holds_back_requests(broker_factory, monkeypatch):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    dead = free_port()
    b = broker_factory(settings={
        "sluice.otlp.endpoint": f"http://127.0.0.1:{dead}",
        "sluice.otlp.max.queue.spans": "4",
    })
    # Far more spans than the queue holds, while every export fails.
    for _ in range(5):
        produce(b.bootstrap, "untraced", 20)
    assert b.is_running()
    # Said once, not once per failed batch.
    wait_until(lambda: "OTLP export failed" in b.log_text(), timeout=10, message="the export failure logged")
    assert b.log_text().count("OTLP export failed") == 1
