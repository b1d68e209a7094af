"""A local OTLP/HTTP trace receiver for scripts/bench.sh (the span export's cost).

    python otlp_sink.py PORT

Answers POST /v1/traces with 200 and an empty ExportTraceServiceResponse, as a collector
does, and counts requests, bytes and (when the `opentelemetry-proto` package is
importable, as in the project's .venv) the spans they carry. GET /stats returns the
counts as JSON. Never used by tests: integration-tests/test_otlp.py has its own."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
except ImportError:  # counts requests and bytes only
    ExportTraceServiceRequest = None

STATS = {"requests": 0, "bytes": 0, "spans": None if ExportTraceServiceRequest is None else 0}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        spans = None
        if ExportTraceServiceRequest is not None:
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            spans = sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        with LOCK:
            STATS["requests"] += 1
            STATS["bytes"] += len(body)
            if spans is not None:
                STATS["spans"] += spans
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with LOCK:
            out = json.dumps(STATS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
