"""OTLP in, storage, OTLP out with the real OpenTelemetry SDK exporters and real chdb."""

from __future__ import annotations

import gzip
import time
import urllib.request

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from kprobe import events, otlp

MS = 1_000_000


def _tracer(exporter, service="payments"):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _kernel_request(pid: int, evs):
    return otlp.events_to_request(evs, {pid: otlp.process_resource(pid, "python3", service="payments")})


def _wait(pred, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_exporters_spans_are_stored(running, transport):
    if transport == "grpc":
        exp = GrpcExporter(endpoint=f"127.0.0.1:{running.grpc_port}", insecure=True)
    else:
        exp = HttpExporter(endpoint=f"http://127.0.0.1:{running.http_port}/v1/traces")
    provider = _tracer(exp)
    tracer = provider.get_tracer("test")
    with (tracer.start_as_current_span("POST /pay", kind=SpanKind.SERVER,
                                       attributes={"payment.id": f"p-{transport}"}) as root,
          tracer.start_as_current_span("ledger write")):
        pass
    provider.shutdown()
    assert running.processor.wait_stored()  # acknowledged = in the write-ahead log; stored soon after
    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = running.processor.store.trace_spans(trace_id)
    assert [(s.name, s.kind) for s in spans] == [("POST /pay", "Server"), ("ledger write", "Internal")]
    assert spans[0].attributes["payment.id"] == f"p-{transport}"
    assert spans[0].service == "payments" and spans[1].parent_span_id == spans[0].span_id
    assert _wait(lambda: running.processor.store.transaction(f"p-{transport}") is not None)
    t = running.processor.store.transaction(f"p-{transport}")
    assert (t.trace_id, t.service, t.operation, t.status) == (trace_id, "payments", "POST /pay", "unset")


def test_kernel_spans_partial_success_and_bad_requests(running):
    now = time.time_ns()
    good = [events.make_event("SyscallWrite", pid=77, tid=78, timestamp_ns=now + i, fd=1, bytes=3, ret=3)
            for i in range(5)]
    req = _kernel_request(77, good)
    bad = req.resource_spans[0].scope_spans[0].spans.add()
    bad.CopyFrom(req.resource_spans[0].scope_spans[0].spans[0])
    bad.span_id = b"\x01" * 8
    bad.attributes[[a.key for a in bad.attributes].index("kprobe.event_type")].value.string_value = "Bogus"
    channel = grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    resp = stub.Export(req)
    assert resp.partial_success.rejected_spans == 1
    assert "Bogus" in resp.partial_success.error_message

    # malformed, truncated, oversized: refused with the OTLP status, the server keeps serving
    raw = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    with pytest.raises(grpc.RpcError) as e:
        raw(b"\xff\xff\xff\xff")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "malformed" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        raw(req.SerializeToString()[:-7])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        raw(b"\x0a" + b"\x80\x80\x10" + b"\x00" * 300_000)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    url = f"http://127.0.0.1:{running.http_port}/v1/traces"
    r = requests.post(url, data=b"\xff\xff", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and b"malformed" in r.content
    r = requests.post(url, data=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = requests.post(url, data=b"\x00" * 300_000, headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 413
    r = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    bomb = gzip.compress(b"\x00" * 2_000_000)  # 2 KB on the wire, 2 MB decoded
    r = requests.post(url, data=bomb, headers={"Content-Type": "application/x-protobuf",
                                               "Content-Encoding": "gzip"})
    assert r.status_code == 413

    # good traffic still flows: protobuf+gzip over HTTP and OTLP/JSON with hex ids
    more = [events.make_event("PageFault", pid=77, tid=79, timestamp_ns=now + 100 + i, address=i)
            for i in range(3)]
    body = gzip.compress(_kernel_request(77, more).SerializeToString())
    r = requests.post(url, data=body, headers={"Content-Type": "application/x-protobuf",
                                               "Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert trace_service_pb2.ExportTraceServiceResponse.FromString(r.content).partial_success.rejected_spans == 0
    doc = ('{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"j"}}]},'
           '"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
           f'"name":"json span","kind":2,"startTimeUnixNano":"{now}","endTimeUnixNano":"{now + MS}",'
           '"unknownField":1}]}]}]}')
    r = requests.post(url, data=doc, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert running.processor.wait_stored()
    stored = running.processor.store.events_in_range(now, now + 1000, pids=[77]).events
    assert sorted(e["event_type"] for e in stored) == ["PageFault"] * 3 + ["SyscallWrite"] * 5
    assert [s.name for s in running.processor.store.trace_spans("5b8efff798038103d269b633813fc60c")] == ["json span"]

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{running.http_port}/metrics").read().decode()
    assert 'kprobe_processor_spans_received_total{kind="kernel"} 8.0' in metrics
    assert 'kprobe_processor_spans_rejected_total{reason="invalid_span"} 1.0' in metrics
    assert "kprobe_processor_queue_depth" in metrics and "kprobe_processor_batch_seconds" in metrics
    assert "kprobe_processor_wal_pending_bytes 0.0" in metrics  # everything acknowledged is stored
