"""The one application-span record of the processor: ingest, join, storage, engine, API.

Every reader gets the same `AppSpan`, whichever way the span came in: decoded from
OTLP at ingest (`from_proto`), read back from `otel_traces` (`records.span_from_row`),
or given as a dict in the API's shape or as an `otel_traces` row dict (`from_dict`:
tests, recordings, the demo). Kind and status are the OpenTelemetry Collector
ClickHouse exporter's names ("Server", "Error"): the form `otel_traces` stores and
Grafana shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.trace.v1 import trace_pb2

SPAN_KIND_NAMES: dict[int, str] = {
    trace_pb2.Span.SPAN_KIND_UNSPECIFIED: "Unspecified",
    trace_pb2.Span.SPAN_KIND_INTERNAL: "Internal",
    trace_pb2.Span.SPAN_KIND_SERVER: "Server",
    trace_pb2.Span.SPAN_KIND_CLIENT: "Client",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "Producer",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "Consumer",
}
STATUS_NAMES: dict[int, str] = {
    trace_pb2.Status.STATUS_CODE_UNSET: "Unset",
    trace_pb2.Status.STATUS_CODE_OK: "Ok",
    trace_pb2.Status.STATUS_CODE_ERROR: "Error",
}
SERVER = SPAN_KIND_NAMES[trace_pb2.Span.SPAN_KIND_SERVER]
CLIENT = SPAN_KIND_NAMES[trace_pb2.Span.SPAN_KIND_CLIENT]
ERROR = STATUS_NAMES[trace_pb2.Status.STATUS_CODE_ERROR]

# the keys by which a span names its own transaction (the join's configured keys
# also look at ancestors; this is what the span itself says)
TRANSACTION_ID_KEYS = ("transaction.id", "payment.id", "kprobe.transaction.id")

_KIND_BY_WORD = {name.upper(): name for name in SPAN_KIND_NAMES.values()}
_OK_STATUSES = {"OK", "STATUS_CODE_OK", "Ok", 1}
_UNSET_STATUSES = {"", "UNSET", "STATUS_CODE_UNSET", "Unset", 0}


@dataclass
class AppSpan:
    """One application span."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    kind: str  # "Server", "Client", "Internal", "Producer", "Consumer", "Unspecified"
    start_ns: int
    end_ns: int
    status_code: str = "Unset"  # "Unset", "Ok", "Error"
    status_message: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    resource: Mapping[str, Any] = field(default_factory=dict)
    transaction_id: str = ""  # default: the span's own transaction key (TRANSACTION_ID_KEYS)
    error_detail: str = ""  # exception.type: exception.message from the span's events

    def __post_init__(self) -> None:
        if not self.transaction_id:
            self.transaction_id = _own_transaction_id(self.attributes)

    @property
    def pid(self) -> int:
        """The resource's `process.pid`; 0 when it names none."""
        raw = self.resource.get("process.pid")
        try:
            return int(raw) if raw not in (None, "") else 0
        except (TypeError, ValueError):
            return 0

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def status(self) -> str:
        """Whether the span failed, as "OK" or "ERROR" (OTel: unset means not failed)."""
        return "ERROR" if self.status_code == ERROR else "OK"


def from_proto(span: trace_pb2.Span, resource: Mapping[str, Any], attrs: Mapping[str, Any]) -> AppSpan:
    """The AppSpan of an OTLP span (resource and attrs: its attributes, already mapped)."""
    detail = ""
    for e in span.events:
        if e.name == "exception":
            ea = {a.key: a.value.string_value for a in e.attributes}
            detail = f"{ea.get('exception.type', '')}: {ea.get('exception.message', '')}".strip(": ")
            break
    return AppSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        name=span.name,
        service=str(resource.get("service.name", "")),
        kind=SPAN_KIND_NAMES.get(span.kind, "Unspecified"),
        start_ns=span.start_time_unix_nano,
        end_ns=max(span.end_time_unix_nano, span.start_time_unix_nano),
        status_code=STATUS_NAMES.get(span.status.code, "Unset"),
        status_message=span.status.message,
        attributes=attrs,
        resource=resource,
        error_detail=detail,
    )


def from_dict(d: Mapping[str, Any]) -> AppSpan:
    """The AppSpan of an API-shaped dict (proto field names) or an `otel_traces` row dict."""
    if "SpanId" in d:
        attrs = dict(d.get("SpanAttributes") or {})
        resource = dict(d.get("ResourceAttributes") or {})
        start = _ns(d["Timestamp"])
        return AppSpan(
            trace_id=d["TraceId"],
            span_id=d["SpanId"],
            parent_span_id=d.get("ParentSpanId") or "",
            name=d.get("SpanName", ""),
            service=d.get("ServiceName", ""),
            kind=kind_name(d.get("SpanKind", "")),
            start_ns=start,
            end_ns=start + int(d.get("Duration", 0)),
            status_code=status_name(d.get("StatusCode", "")),
            status_message=d.get("StatusMessage", ""),
            attributes=attrs,
            resource=resource,
            transaction_id=str(d.get("transaction_id") or ""),
        )
    start = int(d["start_ns"])
    end = int(d["end_ns"]) if "end_ns" in d else start + int(d.get("duration_ns", 0))
    attrs = dict(d.get("attributes") or {})
    pid = int(d.get("pid", 0) or 0)
    return AppSpan(
        trace_id=d.get("trace_id", ""),
        span_id=d["span_id"],
        parent_span_id=d.get("parent_span_id") or "",
        name=d.get("name", ""),
        service=d.get("service", ""),
        kind=kind_name(d.get("kind", "")),
        start_ns=start,
        end_ns=end,
        status_code=status_name(d.get("status", "")),
        status_message=d.get("status_message", ""),
        attributes=attrs,
        resource={"process.pid": pid} if pid else {},
        transaction_id=d.get("transaction_id", "") or "",
    )


def kind_name(raw: Any) -> str:
    """The collector's kind name of any spelling: 2, "SPAN_KIND_SERVER", "SERVER", "Server"."""
    if isinstance(raw, int):
        return SPAN_KIND_NAMES.get(raw, "Unspecified")
    return _KIND_BY_WORD.get(str(raw).upper().rsplit("_", 1)[-1], "Unspecified")


def status_name(raw: Any) -> str:
    """The collector's status name: anything not OK-like or unset-like is an error."""
    if raw in _UNSET_STATUSES:
        return "Unset"
    return "Ok" if raw in _OK_STATUSES else ERROR


def _own_transaction_id(attrs: Mapping[str, Any]) -> str:
    for key in TRANSACTION_ID_KEYS:
        if attrs.get(key):
            return str(attrs[key])
    return ""


def _ns(ts: Any) -> int:
    if isinstance(ts, int):
        return ts
    # datetime from clickhouse-connect
    return int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000
