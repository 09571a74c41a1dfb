"""The typed records the store reads and writes, and their row forms.

A span row follows the OpenTelemetry Collector ClickHouse exporter: ids as lowercase
hex, kind and status as the collector's names ("Server", "Error"), attribute values
as strings (numbers in decimal, booleans "true"/"false", arrays and maps as JSON).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from causal_processor.app_span import SPAN_KIND_NAMES, STATUS_NAMES, AppSpan
from kprobe import otlp

# the columns of otel_traces that `span_from_row` reads, in its order
SPAN_COLUMNS = ("TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, "
                "toUnixTimestamp64Nano(Timestamp), Duration, StatusCode, StatusMessage, "
                "SpanAttributes, ResourceAttributes")


def span_from_row(row: Sequence[Any]) -> AppSpan:
    """The AppSpan of an otel_traces row selected as SPAN_COLUMNS."""
    start = int(row[6])
    return AppSpan(
        trace_id=row[0], span_id=row[1], parent_span_id=row[2], name=row[3], kind=row[4],
        service=row[5], start_ns=start, end_ns=start + int(row[7]), status_code=row[8],
        status_message=row[9], attributes=dict(row[10]), resource=dict(row[11]),
    )


@dataclass(frozen=True)
class Transaction:
    """One financial transaction: its outermost application span, for search."""

    transaction_id: str
    trace_id: str
    span_id: str
    service: str
    operation: str
    status: str  # "ok", "error" or "unset"
    start_ns: int
    duration_ns: int
    error: str = ""


@dataclass(frozen=True)
class EventPage:
    """A page of events in (timestamp_ns, event_id) order and the cursor of the next."""

    events: list[dict[str, Any]]
    next_cursor: tuple[int, int] | None


def value_string(a: common_pb2.AnyValue) -> str:
    """An attribute value as the collector's exporter stores it (pcommon AsString)."""
    which = a.WhichOneof("value")
    if which == "string_value":
        return a.string_value
    if which == "bool_value":
        return "true" if a.bool_value else "false"
    if which == "int_value":
        return str(a.int_value)
    if which == "double_value":
        return repr(a.double_value)
    if which == "bytes_value":
        return base64.b64encode(a.bytes_value).decode()
    if which is None:
        return ""
    return json.dumps(otlp.any_value(a), separators=(",", ":"), default=str)


def attr_map(attrs: Any) -> dict[str, str]:
    return {a.key: value_string(a.value) for a in attrs}


def span_row(
    span: trace_pb2.Span,
    resource_attrs: Mapping[str, str],
    scope_name: str,
    scope_version: str,
    attributes: Mapping[str, str] | None = None,
) -> list[Any]:
    """The otel_traces row of a span, in OTEL_TRACES_COLUMNS order (attributes: attr_map's)."""
    return [
        span.start_time_unix_nano,
        span.trace_id.hex(),
        span.span_id.hex(),
        span.parent_span_id.hex(),
        span.trace_state,
        span.name,
        SPAN_KIND_NAMES.get(span.kind, "Unspecified"),
        resource_attrs.get("service.name", ""),
        dict(resource_attrs),
        scope_name,
        scope_version,
        dict(attributes) if attributes is not None else attr_map(span.attributes),
        max(0, span.end_time_unix_nano - span.start_time_unix_nano),
        STATUS_NAMES.get(span.status.code, "Unset"),
        span.status.message,
        [e.time_unix_nano for e in span.events],
        [e.name for e in span.events],
        [attr_map(e.attributes) for e in span.events],
        [ln.trace_id.hex() for ln in span.links],
        [ln.span_id.hex() for ln in span.links],
        [ln.trace_state for ln in span.links],
        [attr_map(ln.attributes) for ln in span.links],
    ]
