"""`kprobe capture` end to end, OTLP over HTTP/protobuf, and lost events that are counted, not silent."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from collector_receiver import Capture, Policy
from collector_receiver.exporter import OtlpExporter
from kprobe import otlp

pytestmark = [pytest.mark.ebpf, pytest.mark.usefixtures("loaded_programs")]
KPROBE = str(Path(sys.executable).with_name("kprobe"))


def test_cli_writes_jsonl_of_the_command(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    r = subprocess.run(
        [KPROBE, "capture", "--types", "SyscallWrite", "-o", str(out), "--",
         sys.executable, "-c", "import os\nfor _ in range(7): os.write(1, b'12345')"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "12345" * 7
    evs = [json.loads(line) for line in out.read_text().splitlines()]
    mine = [e for e in evs if e["fd"] == 1]
    assert [e["bytes"] for e in mine] == [5] * 7
    assert f"{len(evs)} span events" in r.stderr and ", 0 lost" in r.stderr


class _OtlpHttp(BaseHTTPRequestHandler):
    """A real OTLP/HTTP endpoint (protobuf bodies), recording what it is sent."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.headers["Content-Type"] == "application/x-protobuf"
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_http() -> Iterator[str]:
    _OtlpHttp.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpHttp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _requests(path: str, cls: type) -> list:
    return [cls.FromString(b) for p, b in _OtlpHttp.received if p == path]


def test_otlp_http_protobuf_export(otlp_http: str) -> None:
    exporter = OtlpExporter(endpoint=otlp_http, protocol="http/protobuf")
    with Capture(command=[sys.executable, "-c", "import os\nfor _ in range(9): os.write(2, b'x')"],
                 types=["SyscallWrite"], exporter=exporter,
                 command_stderr=subprocess.DEVNULL) as cap:
        cap.wait(timeout=60)
    assert exporter.flush(timeout_s=30)
    exporter.shutdown()
    traces = _requests("/v1/traces", trace_service_pb2.ExportTraceServiceRequest)
    got = sorted((e for req in traces for e in otlp.request_to_events(req)), key=lambda e: e["event_id"])
    assert got == sorted(cap.events, key=lambda e: e["event_id"])
    assert len([e for e in got if e["fd"] == 2]) == 9
    assert _requests("/v1/metrics", metrics_service_pb2.ExportMetricsServiceRequest)


def test_lost_events_are_counted_logged_and_exported(
    otlp_http: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A consumer that stalls while dd floods the ring buffer: every syscall is a record or a loss."""
    n = 250_000  # 500k records of 136 B: twice the 32 MiB ring buffer
    stalled = threading.Event()
    holder: list[Capture] = []

    def stall(recs: np.ndarray) -> None:
        """Hold the consumer until dd is done: whatever did not fit in the ring is lost."""
        if not stalled.is_set():
            stalled.set()
            deadline = time.monotonic() + 120
            while holder[0].process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)

    exporter = OtlpExporter(endpoint=otlp_http, protocol="http/protobuf")
    policy = Policy().with_modes(SyscallRead="metric", SyscallWrite="metric")
    cap = Capture(
        command=["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={n}"],
        types=["SyscallRead", "SyscallWrite"], policy=policy, keep_events=False,
        on_records=stall, exporter=exporter, command_stderr=subprocess.DEVNULL,
    )
    holder.append(cap)
    with caplog.at_level(logging.WARNING), cap:
        cap.wait(timeout=180)
    assert exporter.flush(timeout_s=30)
    exporter.shutdown()
    lost = cap.stats.lost_events
    assert lost > 0
    assert 2 * n <= cap.stats.records + lost <= 2 * n + 100
    assert f"ring buffer full: {lost} events lost" in caplog.text
    [req] = _requests("/v1/metrics", metrics_service_pb2.ExportMetricsServiceRequest)
    by_name = {m.name: m for m in req.resource_metrics[0].scope_metrics[0].metrics}
    assert by_name["kprobe.receiver.lost_events"].sum.data_points[0].as_int == lost
    counted = sum(p.as_int for p in by_name["kprobe.events"].sum.data_points)
    assert counted == cap.stats.records
