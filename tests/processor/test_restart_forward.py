"""Durability across a restart, and OTLP forwarding (to a live and to a dead backend)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from causal_processor import config, server
from causal_processor.live import JOINED, STORED
from causal_processor.pipeline import Processor, Unavailable
from kprobe import events, otlp

MS = 1_000_000
PID = 5151


def _config(dsn: str, *, window_s: float, idle_s: float, forward: str = "") -> config.ProcessorConfig:
    cfg = config.local(dsn, window_s=window_s, idle_flush_s=idle_s, http=False, forward=forward)
    cfg.forward.max_retries = 1
    cfg.forward.timeout_s = 2
    return cfg


def _payments(grpc_port: int, n: int) -> dict[str, tuple[str, list[dict]]]:
    """n payments through the real SDK exporter, plus each one's kernel events over OTLP.

    Returns payment id -> (trace id, its kernel events).
    """
    provider = TracerProvider(resource=Resource.create({"service.name": "payments"}))
    provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)))
    tracer = provider.get_tracer("t")
    out, evs = {}, []
    for i in range(n):
        port = 40000 + i
        start = time.time_ns()
        span = tracer.start_span("POST /pay", kind=SpanKind.SERVER, start_time=start, attributes={
            "payment.id": f"r-{i}", "net.peer.ip": "127.0.0.1", "net.peer.port": port})
        mine = [events.make_event("TCPRecv", pid=PID, tid=100 + i, timestamp_ns=start - 50_000,
                                  saddr="127.0.0.1", sport=8080, daddr="127.0.0.1", dport=port,
                                  bytes=200, ret=200)]
        mine += [events.make_event("SyscallWrite", pid=PID, tid=100 + i, timestamp_ns=start + k * 1000,
                                   fd=7, bytes=64, ret=64) for k in range(1, 4)]
        span.end(end_time=start + 2 * MS)
        out[f"r-{i}"] = (format(span.get_span_context().trace_id, "032x"), mine)
        evs += mine
    provider.shutdown()
    stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
    req = otlp.events_to_request(evs, {PID: otlp.process_resource(PID, "python3", service="payments")})
    assert stub.Export(req, timeout=10).partial_success.rejected_spans == 0
    return out


def _wait(pred, timeout=45.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_restart_loses_nothing_acknowledged(dsn):
    first = server.start(_config(dsn, window_s=600, idle_s=3600))  # joins nothing before the crash
    sent = _payments(first.grpc_port, 5)
    assert first.processor.store.transaction_events("r-0") == []
    first.stop(flush=False)  # abandon the in-memory join state, as a crash would

    second = server.start(_config(dsn, window_s=0.05, idle_s=0.2))
    try:
        store = second.processor.store
        for pay, (trace_id, evs) in sent.items():
            assert _wait(lambda p=pay: len(store.transaction_events(p)) == 4)
            got = store.transaction_events(pay)
            assert [e["event_id"] for e in got] == [e["event_id"] for e in evs]
            assert {e["financial_context"]["trace_id"] for e in got} == {trace_id}
            assert [s.name for s in store.trace_spans(trace_id)] == ["POST /pay"]
        n = store.client.query("SELECT count() FROM kernel_events FINAL").result_rows[0][0]
        assert n == 20
    finally:
        second.stop()


def test_forwarding_reparents_kernel_spans_and_a_dead_backend_blocks_nothing(dsn, chdb_dir):
    sink = server.start(_config(f"chdb://{chdb_dir}?database=sink_{time.time_ns()}", window_s=600, idle_s=3600))
    cfg = _config(dsn, window_s=0.05, idle_s=0.2, forward=f"127.0.0.1:{sink.grpc_port}")
    processor = Processor(cfg)
    published: dict[str, list[int]] = {STORED: [], JOINED: []}
    processor.live.subscribe(lambda kind, evs: published[kind].extend(e["event_id"] for e in evs))
    proc = server.start(cfg, processor)
    try:
        sent = _payments(proc.grpc_port, 3)
        for pay, (trace_id, _) in sent.items():
            assert _wait(lambda p=pay: len(sink.processor.store.transaction_events(p)) == 4)
            spans = sink.processor.store.trace_spans(trace_id)
            assert [s.name for s in spans] == ["POST /pay"]  # the app span, passed through
            got = sink.processor.store.transaction_events(pay)
            assert {e["financial_context"]["span_id"] for e in got} == {spans[0].span_id}
        assert proc.processor.forwarder.drain(10)
        ids = sorted(e["event_id"] for _, evs in sent.values() for e in evs)
        assert sorted(published[STORED]) == ids and sorted(published[JOINED]) == ids  # the live hook
        m = proc.processor.metrics
        assert m.spans_out._value.get() == 3 + 12 and m.spans_dropped._value.get() == 0
    finally:
        proc.stop()
        sink.stop()

    dead_port = sink.grpc_port  # nothing listens there any more
    fresh = f"chdb://{chdb_dir}?database=dead_{time.time_ns()}"
    proc = server.start(_config(fresh, window_s=0.05, idle_s=0.2, forward=f"127.0.0.1:{dead_port}"))
    try:
        t0 = time.monotonic()
        sent = _payments(proc.grpc_port, 2)
        assert time.monotonic() - t0 < 5  # acknowledged without waiting for the backend
        for pay in sent:
            assert _wait(lambda p=pay: len(proc.processor.store.transaction_events(p)) == 4)
        # the join hands its kernel spans to the forwarder just after it stores their contexts
        dropped = proc.processor.metrics.spans_dropped
        assert _wait(lambda: proc.processor.forwarder.drain(1) and dropped._value.get() >= 2 + 8)
        assert dropped._value.get() == 2 + 8
    finally:
        proc.stop()


APP = Path(__file__).parent / "apps" / "wal_processor.py"


def _app(mode: str, dsn: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(APP), mode, dsn], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parents[2])


def _report(dsn: str) -> dict:
    proc = _app("report", dsn)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    return json.loads(out.splitlines()[-1])


def test_a_killed_processor_loses_nothing_acknowledged_and_a_replay_duplicates_nothing(tmp_path):
    dsn = f"chdb://{tmp_path / 'clickhouse'}?database=crash"  # its own directory: other processes open it
    killed = _app("serve", dsn)
    try:
        port = int(killed.stdout.readline())
        stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        t0 = time.time_ns()
        sent = [events.make_event("SyscallWrite", pid=PID, tid=100 + i % 3, timestamp_ns=t0 + i * 1000,
                                  fd=7, bytes=64, ret=64) for i in range(30)]
        res = {PID: otlp.process_resource(PID, "python3", service="payments")}
        for i in range(0, 30, 10):  # three requests, each acknowledged before the next
            assert stub.Export(otlp.events_to_request(sent[i:i + 10], res), timeout=10).partial_success.rejected_spans == 0
        provider = TracerProvider(resource=Resource.create({"service.name": "payments"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
        provider.get_tracer("t").start_span("POST /pay", kind=SpanKind.SERVER).end()
        provider.shutdown()
    finally:
        killed.kill()  # SIGKILL: nothing acknowledged has been inserted (batches wait an hour)
        killed.wait(10)
    ids = sorted(e["event_id"] for e in sent)

    first = _report(dsn)  # the restart replays the log
    assert first["replayed_events"] == 30
    assert first["event_ids"] == ids and first["span_names"] == ["POST /pay"]
    end = first["wal_state"][0]
    assert end > 0 and first["wal_state"] == [end, end]

    # as if that restart had crashed after its insert, before committing: the batch is in flight again
    with open(Path(first["wal_dir"]) / "state", "w") as f:
        f.write(f"0 {end}\n")
    again = _report(dsn)
    assert again["replayed_events"] == 30  # inserted again, under the same tokens: ClickHouse drops it
    assert again["event_ids"] == ids and again["span_names"] == ["POST /pay"]
    assert again["wal_state"] == [end, end]


def test_acknowledged_rows_waiting_for_storage_are_bounded(dsn):
    cfg = _config(dsn, window_s=600, idle_s=3600)
    cfg.storage.batch_ms, cfg.storage.batch_rows, cfg.storage.max_pending_rows = 3_600_000, 10**9, 10
    running = server.start(cfg)
    try:
        p = running.processor
        t0 = time.time_ns()
        res = {PID: otlp.process_resource(PID, "python3", service="payments")}
        bodies = [otlp.events_to_request([events.make_event("PageFault", pid=PID, tid=1, timestamp_ns=t0 + 10 * k + i)
                                          for i in range(10)], res).SerializeToString() for k in range(2)]
        assert p.export_body(bodies[0]).rejected == 0  # acknowledged: 10 rows wait for storage
        assert p.metrics.wal_bytes._value.get() == len(bodies[0]) + 8
        with pytest.raises(Unavailable, match="storage is behind: 10 acknowledged rows"):
            p.export_body(bodies[1], timeout=0.2)
        assert p.wait_stored()  # inserted now, without waiting for a fuller batch
        assert p.metrics.wal_bytes._value.get() == 0
        assert p.export_body(bodies[1]).rejected == 0 and p.wait_stored()
        n = p.store.client.query("SELECT count() FROM kernel_events").result_rows[0][0]
        assert n == 20
    finally:
        running.stop()
