"""The ingest fast paths decode exactly what kprobe.otlp.span_to_event / decode.decode decode."""

from __future__ import annotations

import pytest

from causal_processor.ingest.decode import BadRequest, decode, decode_body, parse_protobuf
from causal_processor.ingest.kernel_columns import decode_kernel_request
from causal_processor.ingest.kernel_rows import COLUMNS, kernel_row
from kprobe import events, otlp

SAMPLES = {
    "TCPSend": dict(fd=5, bytes=100, ret=100, saddr="10.0.0.1", sport=80, daddr="::ffff:10.0.0.2", dport=5),
    "TCPRecv": dict(fd=5, bytes=-1, ret=-104, errno=104, saddr="::1", sport=80, daddr="::2", dport=9),
    "SyscallRead": dict(fd=3, bytes=7, ret=7),
    "SyscallWrite": dict(fd=3, bytes=2**40, ret=2**40),
    "SchedSwitch": dict(off_cpu_reason="PREEMPTED", runq_wait_ns=2**63 + 5, waker_pid=1, waker_tid=2,
                        waker_comm="kworker", prev_state=0x100),
    "PageFault": dict(address=2**64 - 4096, major=True),
    "SchedWakeup": dict(target_pid=9, target_tid=10, target_comm="x"),
    "MemoryReclaim": dict(pages_reclaimed=32, reclaim_kind="MEMCG"),
    "TCPRetransmit": dict(saddr="1.1.1.1", sport=1, daddr="2.2.2.2", dport=2, segments=3, tcp_state=1),
    "SyscallFsync": dict(fd=9, ret=0),
}


@pytest.mark.parametrize("event_type", events.EVENT_TYPE_NAMES)
@pytest.mark.parametrize("joined", [False, True])
def test_kernel_row_matches_span_to_event(event_type, joined):
    ctx = dict(transaction_id="pay-1", service="s", operation="op", trace_id="ab" * 16, span_id="cd" * 8,
               join_method="server_recv", join_confidence=0.95) if joined else {}
    ev = events.make_event(event_type, pid=42, tid=43, cpu=1, timestamp_ns=1_800_000_000_000_000_000,
                           duration_ns=1234, comm="worker", cgroup_id=77, financial_context=ctx,
                           **SAMPLES[event_type])
    span = otlp.event_to_span(ev)
    row, got = kernel_row(span, 42, "payments", "h1")
    assert got == otlp.span_to_event(span, 42) == ev
    assert dict(zip(COLUMNS, row, strict=True))["service_name"] == "payments"
    assert {k: v for k, v in zip(COLUMNS, row, strict=True) if k in ev} == {k: v for k, v in ev.items()
                                                                           if k != "financial_context"}


def test_kernel_row_rejects_a_span_without_a_type():
    span = otlp.event_to_span(events.make_event("PageFault", pid=1, tid=1, timestamp_ns=1))
    del span.attributes[:]
    with pytest.raises(ValueError, match=r"kprobe\.event_type"):
        kernel_row(span, 1, "", "")


def _tricky_request():
    """Every event type plus the spans decode() rejects or reads oddly."""
    evs = [events.make_event(t, pid=42, tid=43 + i, cpu=1, timestamp_ns=1_800_000_000_000_000_000 + i,
                             duration_ns=1234, comm="worker", cgroup_id=77, **SAMPLES[t])
           for i, t in enumerate(events.EVENT_TYPE_NAMES)]
    evs += [events.make_event("SyscallRead", pid=7, tid=8, timestamp_ns=5 + i, fd=3, bytes=1, ret=1)
            for i in range(3)]
    res = {42: otlp.process_resource(42, "python3", service="payments", host="h1"),
           7: otlp.process_resource(7, "ledger", host="h2")}
    req = otlp.events_to_request(evs, res)
    spans = req.resource_spans[0].scope_spans[0].spans

    def copy(i: int, span_id: bytes):
        s = spans.add()
        s.CopyFrom(spans[i])
        s.span_id = span_id
        return s

    bogus = copy(0, b"\x01" * 8)
    bogus.attributes[[a.key for a in bogus.attributes].index(otlp.EVENT_TYPE_KEY)].value.string_value = "Bogus"
    copy(1, b"\x02" * 8).trace_id = b"\x00" * 16  # zero trace id
    copy(1, b"\x00" * 7)  # short span id
    del copy(2, b"\x03" * 8).attributes[:]  # no event type at all
    twice = copy(3, b"\x04" * 8)  # a key given twice (the later wins) and a value of the wrong kind
    twice.attributes.extend([otlp.kv("kprobe.tid", 99), otlp.kv("kprobe.fd", "x"), otlp.kv("kprobe.cpu", 1.5)])
    copy(4, b"\x05" * 8).end_time_unix_nano = 1  # ends before it starts
    no_pid = req.resource_spans.add()
    no_pid.resource.attributes.append(otlp.kv("service.name", "nopid"))
    scope = no_pid.scope_spans.add()
    scope.scope.name = otlp.SCOPE_NAME
    scope.spans.add().CopyFrom(spans[5])
    return req


def test_bulk_decoder_matches_the_upb_decoder():
    body = _tricky_request().SerializeToString()
    bulk = decode_body(body)
    one_by_one = decode(parse_protobuf(body))
    assert decode_kernel_request(body) is not None  # the bulk path took it
    assert bulk.events.all() == one_by_one.events.all() and len(bulk.events) == len(events.EVENT_TYPE_NAMES) + 5
    assert one_by_one.events.table.equals(bulk.events.table)
    assert bulk.resources == one_by_one.resources
    assert (bulk.rejected, bulk.errors) == (one_by_one.rejected, one_by_one.errors) and bulk.rejected == 5
    assert "'Bogus'" in bulk.error_message and "(+2 more)" in bulk.error_message


def test_bulk_decoder_leaves_other_requests_to_upb():
    app = _tricky_request()
    app.resource_spans[0].scope_spans.add().spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="POST /pay")
    upstream = otlp.events_to_request([events.make_event(
        "PageFault", pid=1, tid=1, timestamp_ns=1, financial_context=dict(
            transaction_id="pay-1", service="s", operation="op", trace_id="ab" * 16, span_id="cd" * 8,
            join_method="server_recv", join_confidence=0.95))], {})
    array_attr = otlp.events_to_request([events.make_event("PageFault", pid=1, tid=1, timestamp_ns=1)], {})
    array_attr.resource_spans[0].resource.attributes.add(key="process.command_args").value.array_value.values.add(
        string_value="-v")
    for req in (app, upstream, array_attr):
        body = req.SerializeToString()
        assert decode_kernel_request(body) is None
        d = decode_body(body)
        assert d.events.all() == decode(parse_protobuf(body)).events.all()
    d = decode_body(upstream.SerializeToString())
    assert d.events.all()[0]["financial_context"]["transaction_id"] == "pay-1"
    assert [c["transaction_id"] for _, c in d.upstream] == ["pay-1"]
    for bad in (b"\xff\xff\xff\xff", app.SerializeToString()[:-7]):
        assert decode_kernel_request(bad) is None
        with pytest.raises(BadRequest, match="malformed OTLP protobuf"):
            decode_body(bad)
