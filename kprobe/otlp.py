"""Kernel events <-> OTLP spans: the one mapping the receiver and processor share.

A kernel event becomes one INTERNAL span: its time interval is the span's,
its id is the span id, and every field with an `otel` option in events.proto
becomes an attribute under that key. The pid lives in the span's resource
(`process.pid`), one resource per observed process. The kernel thread id is
`kprobe.tid`, not OTel's `thread.id` (which means a runtime's own thread id).
"""

from __future__ import annotations

import errno as errno_mod
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from kprobe import events

SCOPE_NAME = "kprobe.collector_receiver"
SCOPE_VERSION = "0.1.0"
EVENT_TYPE_KEY = "kprobe.event_type"
_TCP_TYPES = frozenset({"TCPSend", "TCPRecv", "TCPRetransmit"})
_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1
_TRACE_PREFIX = b"kprobe\x00\x00"  # unjoined kernel spans: a trace of their own

_KEY_TO_FIELD = {f.otel_key: f for f in events.EVENT_FIELDS if f.otel_key}
_KEY_TO_CONTEXT = {f.otel_key: f for f in events.CONTEXT_FIELDS if f.otel_key}


def _any(kind: str, v: Any, enum_names: Mapping[int, str] | None = None) -> common_pb2.AnyValue:
    if kind == "str":
        return common_pb2.AnyValue(string_value=v)
    if kind == "enum":
        return common_pb2.AnyValue(string_value=v if isinstance(v, str) else enum_names[v])  # type: ignore[index]
    if kind == "bool":
        return common_pb2.AnyValue(bool_value=bool(v))
    if kind == "float":
        return common_pb2.AnyValue(double_value=float(v))
    v = int(v)
    return common_pb2.AnyValue(int_value=v - _U64 if v > _I64_MAX else v)


def _from_any(kind: str, a: common_pb2.AnyValue) -> Any:
    if kind in ("str", "enum"):
        return a.string_value
    if kind == "bool":
        return a.bool_value
    if kind == "float":
        return a.double_value if a.HasField("double_value") else float(a.int_value)
    v = a.int_value
    return v + _U64 if kind == "uint" and v < 0 else v


def kv(key: str, value: str | int | float | bool) -> common_pb2.KeyValue:
    """A KeyValue from a plain Python value."""
    if isinstance(value, bool):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(bool_value=value))
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    if isinstance(value, float):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(double_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=str(value)))


def attributes_dict(attrs: Any) -> dict[str, Any]:
    """Plain dict of an OTLP attribute list (scalars and arrays of scalars)."""
    out: dict[str, Any] = {}
    for a in attrs:
        out[a.key] = any_value(a.value)
    return out


def any_value(a: common_pb2.AnyValue) -> Any:
    which = a.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(x) for x in a.array_value.values]
    if which == "kvlist_value":
        return {x.key: any_value(x.value) for x in a.kvlist_value.values}
    return getattr(a, which)


def process_resource(
    pid: int, executable: str, host: str | None = None, service: str | None = None
) -> resource_pb2.Resource:
    """The resource of one observed process."""
    return resource_pb2.Resource(
        attributes=[
            kv("service.name", service or f"unknown_service:{executable}"),
            kv("process.pid", pid),
            kv("process.executable.name", executable),
            kv("host.name", host or socket.gethostname()),
        ]
    )


class _SpanPlan:
    """A prebuilt span per event type: keys, kinds and constant attributes are set once.

    Building a span copies the template (one C-level copy) and writes only the
    values, which is several times cheaper than constructing each KeyValue.
    """

    def __init__(self, event_type: str) -> None:
        self.fields = [f for f in events.fields_for(event_type) if f.otel_key]
        self.template = trace_pb2.Span(name=event_type, kind=trace_pb2.Span.SPAN_KIND_INTERNAL)
        for f in self.fields:
            self.template.attributes.add(key=f.otel_key)
        self.tcp = event_type in _TCP_TYPES
        if self.tcp:
            self.template.attributes.append(kv("network.transport", "tcp"))
            self.template.attributes.append(kv("network.type", "ipv4"))
        self.setters = [(f.name, _SETTERS[f.kind], f.enum_names) for f in self.fields]


def _set_str(a: common_pb2.AnyValue, v: Any, _names: Any) -> None:
    a.string_value = v


def _set_enum(a: common_pb2.AnyValue, v: Any, names: Mapping[int, str] | None) -> None:
    a.string_value = v if isinstance(v, str) else names[v]  # type: ignore[index]


def _set_bool(a: common_pb2.AnyValue, v: Any, _names: Any) -> None:
    a.bool_value = bool(v)


def _set_float(a: common_pb2.AnyValue, v: Any, _names: Any) -> None:
    a.double_value = float(v)


def _set_int(a: common_pb2.AnyValue, v: Any, _names: Any) -> None:
    v = int(v)
    a.int_value = v - _U64 if v > _I64_MAX else v


_SETTERS = {"str": _set_str, "enum": _set_enum, "bool": _set_bool, "float": _set_float,
            "int": _set_int, "uint": _set_int}
_PLANS = {et: _SpanPlan(et) for et in events.EVENT_TYPE_NAMES}


def _fill_span(span: trace_pb2.Span, ev: Mapping[str, Any]) -> None:
    et = ev["event_type"]
    plan = _PLANS[et]
    span.CopyFrom(plan.template)
    attrs = span.attributes
    for a, (name, setter, names) in zip(attrs, plan.setters, strict=False):
        setter(a.value, ev[name], names)
    if plan.tcp and ":" in ev["saddr"]:
        attrs[-1].value.string_value = "ipv6"
    ctx = ev.get("financial_context") or {}
    if ctx.get("transaction_id") or ctx.get("trace_id"):
        attrs.extend(
            common_pb2.KeyValue(key=f.otel_key, value=_any(f.kind, ctx[f.name]))
            for f in events.CONTEXT_FIELDS
            if f.otel_key and ctx.get(f.name) not in (None, "")
        )
    span_id = int(ev["event_id"]).to_bytes(8, "big")
    span.span_id = span_id
    span.trace_id = bytes.fromhex(ctx["trace_id"]) if ctx.get("trace_id") else _TRACE_PREFIX + span_id
    if ctx.get("span_id"):
        span.parent_span_id = bytes.fromhex(ctx["span_id"])
    start = ev["timestamp_ns"]
    span.start_time_unix_nano = start
    span.end_time_unix_nano = start + ev["duration_ns"]
    ret = ev.get("ret", 0)
    if isinstance(ret, int) and ret < 0:
        code = ev.get("errno") or -ret
        span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
        span.status.message = errno_mod.errorcode.get(code, f"errno {code}")


def event_to_span(ev: Mapping[str, Any]) -> trace_pb2.Span:
    """One kernel event as an OTLP span."""
    span = trace_pb2.Span()
    _fill_span(span, ev)
    return span


def is_kernel_span(span: trace_pb2.Span) -> bool:
    """True for spans made by event_to_span (they carry kprobe.event_type)."""
    return any(a.key == EVENT_TYPE_KEY for a in span.attributes)


def span_to_event(span: trace_pb2.Span, pid: int) -> dict[str, Any]:
    """The event dict of a kernel span; pid comes from the span's resource.

    Raises ValueError when the span is not a well-formed kernel span.
    """
    values: dict[str, Any] = {}
    ctx: dict[str, Any] = {}
    et = None
    for a in span.attributes:
        if a.key == EVENT_TYPE_KEY:
            et = a.value.string_value
        elif a.key in _KEY_TO_FIELD:
            f = _KEY_TO_FIELD[a.key]
            values[f.name] = _from_any(f.kind, a.value)
        elif a.key in _KEY_TO_CONTEXT:
            f = _KEY_TO_CONTEXT[a.key]
            ctx[f.name] = _from_any(f.kind, a.value)
    if et not in events.EVENT_TYPE_NAMES:
        raise ValueError(f"span {span.span_id.hex()} has no valid {EVENT_TYPE_KEY} ({et!r})")
    if len(span.span_id) != 8:
        raise ValueError("kernel span without an 8-byte span id")
    own = {f.name for f in events.fields_for(et)}
    values = {k: v for k, v in values.items() if k in own}
    if ctx:
        if not span.trace_id.startswith(_TRACE_PREFIX):
            ctx["trace_id"] = span.trace_id.hex()
        if span.parent_span_id:
            ctx["span_id"] = span.parent_span_id.hex()
    return events.make_event(
        et,
        **values,
        event_id=int.from_bytes(span.span_id, "big"),
        timestamp_ns=span.start_time_unix_nano,
        duration_ns=max(0, span.end_time_unix_nano - span.start_time_unix_nano),
        pid=pid,
        financial_context=ctx,
    )


def resource_pid(resource: resource_pb2.Resource) -> int | None:
    for a in resource.attributes:
        if a.key == "process.pid":
            return a.value.int_value
    return None


def iter_spans(
    req: trace_service_pb2.ExportTraceServiceRequest,
) -> Iterator[tuple[resource_pb2.Resource, trace_pb2.Span]]:
    """Every span of an export request with its resource."""
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield rs.resource, span


def events_to_request(
    evs: Sequence[Mapping[str, Any]],
    resources: Mapping[int, resource_pb2.Resource],
) -> trace_service_pb2.ExportTraceServiceRequest:
    """An export request carrying these events, grouped by process resource.

    `resources` maps pid to its resource; pids without one get a minimal resource.
    """
    by_pid: dict[int, list[Mapping[str, Any]]] = {}
    for ev in evs:
        by_pid.setdefault(ev["pid"], []).append(ev)
    req = trace_service_pb2.ExportTraceServiceRequest()
    scope = common_pb2.InstrumentationScope(name=SCOPE_NAME, version=SCOPE_VERSION)
    for pid, group in by_pid.items():
        rs = req.resource_spans.add()
        rs.resource.CopyFrom(resources.get(pid) or process_resource(pid, "unknown"))
        ss = rs.scope_spans.add()
        ss.scope.CopyFrom(scope)
        add = ss.spans.add
        for ev in group:
            _fill_span(add(), ev)
    return req


def request_to_events(req: trace_service_pb2.ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """The kernel events in an export request (application spans are skipped)."""
    out = []
    for res, span in iter_spans(req):
        if is_kernel_span(span):
            out.append(span_to_event(span, resource_pid(res) or 0))
    return out
