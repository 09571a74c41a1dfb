"""A real OTLP/gRPC trace server that keeps what the testbed's services export."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from kprobe.otlp import attributes_dict


class SpanSink(trace_service_pb2_grpc.TraceServiceServicer):
    """Collects spans as flat dicts (service, pid, ids, times, attributes)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SpanSink:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=1).wait()

    def Export(self, request: Any, context: Any) -> Any:
        rows = []
        for rs in request.resource_spans:
            res = attributes_dict(rs.resource.attributes)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    rows.append({
                        "service": res.get("service.name"),
                        "pid": res.get("process.pid"),
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "name": s.name,
                        "start_ns": s.start_time_unix_nano,
                        "end_ns": s.end_time_unix_nano,
                        "status": s.status.code,
                        "attributes": attributes_dict(s.attributes),
                    })
        with self._lock:
            self.spans.extend(rows)
        return trace_service_pb2.ExportTraceServiceResponse()

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]

    def wait_for(self, trace_id: str, names: set[str], timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The trace's spans once every span name in `names` has arrived."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.trace(trace_id)
            if names <= {s["name"] for s in spans} or time.monotonic() > deadline:
                return spans
            time.sleep(0.1)


def span_named(spans: list[dict[str, Any]], name: str, service: str | None = None) -> dict[str, Any]:
    matches = [s for s in spans if s["name"] == name and (service is None or s["service"] == service)]
    assert matches, f"no span {name!r} ({service}) among {sorted({s['name'] for s in spans})}"
    return matches[0]
