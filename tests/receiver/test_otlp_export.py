"""The same capture over OTLP (to a real gRPC TraceService) and in JSONL carries the same events."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from collector_receiver import Capture
from collector_receiver.exporter import OtlpExporter
from kprobe import otlp

pytestmark = [pytest.mark.ebpf, pytest.mark.usefixtures("loaded_programs")]
PY = sys.executable

WORKLOAD = r"""
import os, socket, threading, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
port = srv.getsockname()[1]
def serve():
    s, _ = srv.accept()
    while data := s.recv(100):
        s.sendall(data)
t = threading.Thread(target=serve); t.start()
c = socket.create_connection(("127.0.0.1", port))
for i in range(20):
    c.sendall(b"p" * 100); c.recv(100)
    os.write(1, b"w" * 10)
    time.sleep(0.002)
c.close(); t.join()
"""


class Collector(trace_service_pb2_grpc.TraceServiceServicer, metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self) -> None:
        self.traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.lock = threading.Lock()

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        with self.lock:
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                self.traces.append(request)
                return trace_service_pb2.ExportTraceServiceResponse()
            self.metrics.append(request)
            return metrics_service_pb2.ExportMetricsServiceResponse()


def _serve(port: int = 0) -> tuple[grpc.Server, Collector, int]:
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(collector, server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, collector, port


@pytest.fixture
def otlp_server() -> Iterator[tuple[Collector, int]]:
    server, collector, port = _serve()
    yield collector, port
    server.stop(0)


def _received(collector: Collector) -> list[dict]:
    evs = [e for req in collector.traces for e in otlp.request_to_events(req)]
    return sorted(evs, key=lambda e: e["event_id"])


def _jsonl(path: Path) -> list[dict]:
    return sorted((json.loads(line) for line in path.read_text().splitlines()),
                  key=lambda e: e["event_id"])


def test_otlp_and_jsonl_carry_the_same_events(otlp_server: tuple[Collector, int], tmp_path: Path) -> None:
    collector, port = otlp_server
    out = tmp_path / "cap.jsonl"
    exporter = OtlpExporter(endpoint=f"http://127.0.0.1:{port}", protocol="grpc",
                            max_spans_per_request=16)
    with Capture(command=[PY, "-c", WORKLOAD], output=out, exporter=exporter,
                 command_stdout=open("/dev/null", "w"),
                 command_env={"OTEL_SERVICE_NAME": "ledger-svc"}) as cap:
        cap.wait(timeout=60)
    assert exporter.flush(timeout_s=30)
    exporter.shutdown()
    from_file = _jsonl(out)
    assert len(from_file) > 80  # 20 x (2 TCPSend, 2 TCPRecv, 1 SyscallWrite) at least
    assert _received(collector) == from_file
    sizes = [sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
             for req in collector.traces]
    assert max(sizes) <= 16 and sum(sizes) == len(from_file)
    pid = cap.process.pid
    resources = {otlp.resource_pid(rs.resource): otlp.attributes_dict(rs.resource.attributes)
                 for req in collector.traces for rs in req.resource_spans}
    assert resources[pid]["service.name"] == "ledger-svc"
    assert resources[pid]["process.executable.name"].startswith("python")
    assert resources[pid]["host.name"] == socket.gethostname()
    names = {m.name for req in collector.metrics for rm in req.resource_metrics
             for sm in rm.scope_metrics for m in sm.metrics}
    assert "kprobe.receiver.lost_events" in names


def test_unreachable_endpoint_buffers_and_delivers_later(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "cap.jsonl"
    exporter = OtlpExporter(endpoint=f"http://127.0.0.1:{port}", protocol="grpc",
                            timeout_s=1, max_backoff_s=0.5)
    with Capture(command=[PY, "-c", WORKLOAD], output=out, exporter=exporter,
                 command_stdout=open("/dev/null", "w")) as cap:
        cap.wait(timeout=60)
    assert not exporter.flush(timeout_s=1)
    assert exporter.buffered_spans == len(_jsonl(out)) > 0
    server, collector, _ = _serve(port)
    try:
        assert exporter.flush(timeout_s=30)
        exporter.shutdown()
        assert _received(collector) == _jsonl(out)
        assert exporter.dropped_spans == 0
    finally:
        server.stop(0)


def test_buffer_bound_drops_only_new_events(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exporter = OtlpExporter(endpoint=f"http://127.0.0.1:{port}", protocol="grpc",
                            max_buffered_spans=30, timeout_s=1, max_backoff_s=0.5)
    with Capture(command=[PY, "-c", WORKLOAD], exporter=exporter,
                 command_stdout=open("/dev/null", "w")) as cap:
        cap.wait(timeout=60)
    kept = exporter.buffered_spans
    assert 0 < kept <= 30
    assert kept + exporter.dropped_spans == len(cap.events)
    server, collector, _ = _serve(port)
    try:
        assert exporter.flush(timeout_s=30)
        exporter.shutdown()
        got = _received(collector)
        assert len(got) == kept
        # what arrived is the earliest part of the capture
        first_ids = {e["event_id"] for e in cap.events[:kept]}
        assert {e["event_id"] for e in got} == first_ids
    finally:
        server.stop(0)
