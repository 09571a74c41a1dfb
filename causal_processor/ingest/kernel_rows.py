"""Kernel spans -> kernel_events rows and event dicts, in one pass per span.

The hot path of ingest. It is kprobe.otlp.span_to_event specialised for throughput:
the same attribute keys (from events.proto), the same result, but each span's values
go straight into a row of kernel_events' columns and the event dict is cut from that
row, without make_event's per-field defaults and checks. A test holds the two equal.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.trace.v1 import trace_pb2

from causal_processor.storage import schema
from kprobe import events, otlp

_U64 = 1 << 64
_KIND_CODE = {"uint": 0, "int": 1, "str": 2, "enum": 2, "bool": 3, "float": 4}
COLUMNS: tuple[str, ...] = tuple(n for n, _ in schema.EVENT_COLUMNS)
_INDEX = {n: i for i, n in enumerate(COLUMNS)}
_ZERO = {"int": 0, "uint": 0, "float": 0.0, "bool": False, "str": "", "enum": ""}
DEFAULT_ROW: tuple[Any, ...] = tuple(
    _ZERO[events.FIELD_BY_NAME[n].kind] if n in events.FIELD_BY_NAME else "" for n in COLUMNS)

_ATTR: dict[str, tuple[int, int]] = {
    f.otel_key: (_INDEX[f.name], _KIND_CODE[f.kind]) for f in events.EVENT_FIELDS if f.otel_key
}
_CTX_ATTR = {f.otel_key: f for f in events.CONTEXT_FIELDS if f.otel_key}
_OWN: dict[str, tuple[tuple[str, int], ...]] = {
    t: tuple((f.name, _INDEX[f.name]) for f in events.fields_for(t)) for t in events.EVENT_TYPE_NAMES
}
_FOREIGN: dict[str, tuple[int, ...]] = {
    t: tuple(_INDEX[f.name] for f in events.EVENT_FIELDS if f.applies and t not in f.applies)
    for t in events.EVENT_TYPE_NAMES
}
_I_ID, _I_TS, _I_PID, _I_DUR, _I_TYPE = (_INDEX[n] for n in ("event_id", "timestamp_ns", "pid",
                                                              "duration_ns", "event_type"))
_I_SERVICE, _I_HOST = _INDEX["service_name"], _INDEX["host_name"]
_EMPTY_CONTEXT = events.empty_context()
_ENUM_DEFAULTS = {
    f.name: f.enum_names[0] for f in events.EVENT_FIELDS if f.enum_names is not None and f.name != "event_type"
}


def kernel_row(span: trace_pb2.Span, pid: int, service: str, host: str) -> tuple[list[Any], dict[str, Any]]:
    """(kernel_events row, event dict) of a kernel span; ValueError when it is not one."""
    row = list(DEFAULT_ROW)
    ctx: dict[str, Any] | None = None
    for a in span.attributes:
        spec = _ATTR.get(a.key)
        if spec is not None:
            i, kind = spec
            v = a.value
            if kind == 0:
                x = v.int_value
                row[i] = x + _U64 if x < 0 else x
            elif kind == 1:
                row[i] = v.int_value
            elif kind == 2:
                row[i] = v.string_value
            elif kind == 3:
                row[i] = v.bool_value
            else:
                row[i] = v.double_value if v.HasField("double_value") else float(v.int_value)
        elif a.key in _CTX_ATTR:
            f = _CTX_ATTR[a.key]
            ctx = ctx or {}
            ctx[f.name] = otlp.any_value(a.value)
    et = row[_I_TYPE]
    own = _OWN.get(et)
    if own is None:
        raise ValueError(f"span {span.span_id.hex()} has no valid {otlp.EVENT_TYPE_KEY} ({et!r})")
    if len(span.span_id) != 8:
        raise ValueError("kernel span without an 8-byte span id")
    for i in _FOREIGN[et]:
        row[i] = DEFAULT_ROW[i]
    row[_I_ID] = int.from_bytes(span.span_id, "big")
    start = span.start_time_unix_nano
    row[_I_TS] = start
    row[_I_PID] = pid
    row[_I_DUR] = max(0, span.end_time_unix_nano - start)
    row[_I_SERVICE] = service
    row[_I_HOST] = host
    ev = {name: row[i] for name, i in own}
    for name, default in _ENUM_DEFAULTS.items():
        if name in ev and ev[name] == "":
            ev[name] = row[_INDEX[name]] = default
    context = dict(_EMPTY_CONTEXT)
    if ctx:
        context.update(ctx)
        if not span.trace_id.startswith(otlp._TRACE_PREFIX):
            context["trace_id"] = span.trace_id.hex()
        if span.parent_span_id:
            context["span_id"] = span.parent_span_id.hex()
    ev["financial_context"] = context
    return row, ev
