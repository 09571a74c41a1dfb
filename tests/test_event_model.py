"""The event model is read from events.proto and round-trips through every form."""

from __future__ import annotations

import pytest

from kprobe import events, otlp


def test_types_are_the_seeds_six_plus_four() -> None:
    assert events.EVENT_TYPE_NAMES == (
        "TCPSend", "TCPRecv", "SyscallRead", "SyscallWrite", "SchedSwitch", "PageFault",
        "SchedWakeup", "MemoryReclaim", "TCPRetransmit", "SyscallFsync",
    )


def test_common_fields_are_the_seeds_fields() -> None:
    for name in ("timestamp_ns", "pid", "tid", "cpu", "event_type", "duration_ns"):
        assert name in events.COMMON_FIELDS
    assert {f.name for f in events.CONTEXT_FIELDS} >= {"transaction_id", "service", "operation"}


def test_type_specific_fields_belong_only_to_their_types() -> None:
    sw = {f.name for f in events.fields_for("SchedSwitch")}
    assert {"off_cpu_reason", "runq_wait_ns", "waker_pid", "waker_tid", "waker_comm"} <= sw
    assert "bytes" not in sw
    send = {f.name for f in events.fields_for("TCPSend")}
    assert {"saddr", "sport", "daddr", "dport", "bytes", "fd"} <= send
    with pytest.raises(ValueError, match="do not belong"):
        events.make_event("PageFault", bytes=3)
    with pytest.raises(ValueError, match="unknown event type"):
        events.make_event("Nope")


@pytest.mark.parametrize("et", events.EVENT_TYPE_NAMES)
def test_every_type_round_trips_through_proto_and_otlp(et: str) -> None:
    values = {
        f.name: (
            "x" if f.kind == "str"
            else True if f.kind == "bool"
            else 1.5 if f.kind == "float"
            else list(f.enum_names.values())[1] if f.kind == "enum" and f.name != "event_type"
            else 7
        )
        for f in events.fields_for(et)
        if f.name not in ("event_type", "event_id")
    }
    if "saddr" in values:
        values.update(saddr="10.0.0.1", daddr="::1")
    if "address" in values:
        values["address"] = (1 << 63) + 5
    ev = events.make_event(et, **values)
    events.validate_event(ev)
    assert events.from_proto(events.to_proto(ev)) == ev
    back = otlp.request_to_events(otlp.events_to_request([ev], {}))
    assert back == [ev]


def test_joined_context_survives_otlp() -> None:
    ctx = {
        "transaction_id": "pay-98721", "service": "settlement-svc", "operation": "POST /settle",
        "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
        "join_method": "socket", "join_confidence": 0.95,
    }
    ev = events.make_event("SyscallWrite", pid=4, tid=5, timestamp_ns=10, bytes=3,
                           financial_context=ctx)
    span = otlp.event_to_span(ev)
    assert span.trace_id.hex() == ctx["trace_id"]
    assert span.parent_span_id.hex() == ctx["span_id"]
    assert otlp.span_to_event(span, 4) == ev


def test_event_id_is_stable_and_distinct() -> None:
    a = events.event_id(1, 2, 3, 4)
    assert a == events.event_id(1, 2, 3, 4)
    assert a != events.event_id(1, 2, 3, 5)
    assert 0 < a < 1 << 64


def test_application_spans_are_not_kernel_events() -> None:
    from opentelemetry.proto.trace.v1 import trace_pb2

    span = trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="GET /")
    assert not otlp.is_kernel_span(span)
    with pytest.raises(ValueError):
        otlp.span_to_event(span, 1)
