"""A payment incident sent through the processor's real OTLP path.

Application spans come from the real OpenTelemetry SDK (one TracerProvider
per service, OTLP/gRPC exporter) and kernel events as OTLP spans built by
kprobe.otlp, sent with a real OTLP gRPC client; the processor joins them.
The story is the seeds': settlement's ledger write stalls in memory-cgroup
reclaim driven by a batch job, the handler's 750 ms timeout fires, the
payment fails. A second, healthy payment follows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import grpc
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from kprobe import events, otlp

MS = 1_000_000
HANDLER, SETTLE, BATCH = 4100, 4300, 4400
TID = {HANDLER: 4101, SETTLE: 4301, BATCH: 4401}
COMM = {HANDLER: "payment-handler", SETTLE: "settlement-svc", BATCH: "batch-job"}
SERVICE = {HANDLER: "payment-handler", SETTLE: "settlement-svc", BATCH: "batch-job"}
FAILED, HEALTHY = "pay-api-failed", "pay-api-ok"
SETTLE_PORT = 9000


@dataclass
class Incident:
    t0: int
    events: list[dict] = field(default_factory=list)
    transactions: tuple[str, ...] = (FAILED, HEALTHY)


def _ev(kind: str, pid: int, t: int, dur: int = 0, **kw) -> dict:
    return events.make_event(kind, pid=pid, tid=TID[pid], comm=COMM[pid], timestamp_ns=t, duration_ns=dur, **kw)


def _payment(tracers: dict[int, trace.Tracer], txn: str, t0: int, settle_ms: float, cport: int) -> list[dict]:
    """Spans via the SDK (explicit times) and the kernel events of one payment."""
    late = settle_ms > 750
    h, s = tracers[HANDLER], tracers[SETTLE]
    root_end = t0 + int((752 + 8 if late else settle_ms + 10) * MS)
    root = h.start_span("POST /pay", kind=SpanKind.SERVER, start_time=t0,
                        attributes={"payment.id": txn, "net.peer.ip": "127.0.0.1", "net.peer.port": 50000 + cport})
    ctx = trace.set_span_in_context(root)
    client_end = t0 + int((752 if late else settle_ms + 4) * MS)
    client = h.start_span("POST settlement", kind=SpanKind.CLIENT, context=ctx, start_time=t0 + 2 * MS,
                          attributes={"server.address": "127.0.0.1", "server.port": SETTLE_PORT,
                                      **({"payment.timeout_ms": 750} if late else {})})
    sctx = trace.set_span_in_context(client)
    srv_start = t0 + int(2.3 * MS)
    srv_end = srv_start + int(settle_ms * MS) + MS
    server = s.start_span("POST /settle", kind=SpanKind.SERVER, context=sctx, start_time=srv_start,
                          attributes={"net.peer.ip": "127.0.0.1", "net.peer.port": cport})
    wctx = trace.set_span_in_context(server)
    write = s.start_span("ledger.write", kind=SpanKind.INTERNAL, context=wctx, start_time=srv_start + MS // 5)
    write.end(end_time=srv_end - MS // 2)
    server.end(end_time=srv_end)
    if late:
        client.set_status(Status(StatusCode.ERROR, "timeout after 750 ms"))
        root.set_status(Status(StatusCode.ERROR, "settlement timed out"))
    client.end(end_time=client_end)
    root.end(end_time=root_end)
    w_start = srv_start + int(0.3 * MS)
    w_dur = int(settle_ms * MS) - MS // 2
    evs = [
        _ev("TCPRecv", HANDLER, t0 - MS // 5, saddr="127.0.0.1", sport=8080, daddr="127.0.0.1",
            dport=50000 + cport, bytes=300, ret=300),
        _ev("TCPSend", HANDLER, t0 + int(2.1 * MS), saddr="127.0.0.1", sport=cport, daddr="127.0.0.1",
            dport=SETTLE_PORT, bytes=200, ret=200),
        _ev("SchedSwitch", HANDLER, t0 + int(2.2 * MS), client_end - t0 - int(2.2 * MS),
            off_cpu_reason="BLOCKED", waker_comm="swapper/1"),
        _ev("TCPRecv", SETTLE, srv_start, saddr="127.0.0.1", sport=SETTLE_PORT, daddr="127.0.0.1",
            dport=cport, bytes=200, ret=200),
        _ev("SyscallWrite", SETTLE, w_start, w_dur, fd=7, bytes=4096, ret=4096),
        _ev("TCPSend", SETTLE, srv_end - MS // 10, saddr="127.0.0.1", sport=SETTLE_PORT, daddr="127.0.0.1",
            dport=cport, bytes=64, ret=64),
        _ev("TCPSend", HANDLER, root_end - MS // 10, saddr="127.0.0.1", sport=8080, daddr="127.0.0.1",
            dport=50000 + cport, bytes=99, ret=99),
    ]
    if late:
        evs.append(_ev("MemoryReclaim", SETTLE, w_start + MS // 10, w_dur - MS, pages_reclaimed=512,
                       reclaim_kind="MEMCG", cgroup_id=77))
    evs += [_ev("PageFault", SETTLE, srv_start + k * 10_000, cgroup_id=77, address=4096 * k) for k in range(20)]
    return evs


def _batch_job(t0: int) -> list[dict]:
    evs = [_ev("PageFault", BATCH, t0 - 1000 * MS + k * int(1.8 * MS), cgroup_id=77, address=4096 * k)
           for k in range(1000)]
    evs += [_ev("MemoryReclaim", BATCH, t0 - 500 * MS + k * 20 * MS, 5 * MS, pages_reclaimed=64,
                reclaim_kind="MEMCG", cgroup_id=77) for k in range(50)]
    return evs


def _providers(grpc_port: int) -> dict[int, TracerProvider]:
    providers = {
        pid: TracerProvider(resource=Resource.create(
            {"service.name": SERVICE[pid], "process.pid": pid, "process.executable.name": COMM[pid]}))
        for pid in (HANDLER, SETTLE)
    }
    for p in providers.values():
        p.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)))
    return providers


def send_events(grpc_port: int, evs: list[dict]) -> None:
    """Kernel events as OTLP spans over a real OTLP/gRPC client."""
    resources = {pid: otlp.process_resource(pid, COMM[pid], service=SERVICE[pid]) for pid in COMM}
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as ch:
        stub = trace_service_pb2_grpc.TraceServiceStub(ch)
        for i in range(0, len(evs), 500):
            stub.Export(otlp.events_to_request(evs[i:i + 500], resources), timeout=30)


def send_payment(grpc_port: int, txn: str, t0: int, settle_ms: float, cport: int) -> list[dict]:
    """One more payment (spans then kernel events); returns its kernel events."""
    providers = _providers(grpc_port)
    evs = _payment({pid: p.get_tracer("kprobe.tests.api") for pid, p in providers.items()}, txn, t0, settle_ms, cport)
    for p in providers.values():
        p.shutdown()
    send_events(grpc_port, evs)
    return evs


def send(grpc_port: int) -> Incident:
    """Send both payments; returns what was sent (the processor assigns contexts)."""
    t0 = time.time_ns() - 10_000 * MS
    providers = _providers(grpc_port)
    tracers = {pid: p.get_tracer("kprobe.tests.api") for pid, p in providers.items()}
    inc = Incident(t0)
    inc.events += _batch_job(t0)
    inc.events += _payment(tracers, FAILED, t0, 800.0, 40001)
    inc.events += _payment(tracers, HEALTHY, t0 + 3000 * MS, 5.0, 40002)
    for p in providers.values():
        p.shutdown()
    send_events(grpc_port, inc.events)
    return inc
