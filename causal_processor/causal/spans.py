"""Application spans of a transaction and their critical path (Jaeger / CRISP).

Spans arrive as dicts, either in the API's AppSpan shape (proto field names)
or as rows of the OTel Collector's `otel_traces` table; both are read here so
the rest of the engine sees one `AppSpan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_OK_STATUSES = {"", "OK", "UNSET", "STATUS_CODE_OK", "STATUS_CODE_UNSET", "Ok", "Unset", 0, 1}


@dataclass
class AppSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    kind: str
    start_ns: int
    end_ns: int
    status: str  # "OK" or "ERROR"
    status_message: str = ""
    transaction_id: str = ""
    pid: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def _status(raw: Any) -> str:
    return "OK" if raw in _OK_STATUSES else "ERROR"


def span_from_dict(d: Mapping[str, Any]) -> AppSpan:
    """An AppSpan from an API-shaped dict or an `otel_traces` row."""
    if "SpanId" in d:  # otel_traces row
        attrs = dict(d.get("SpanAttributes") or {})
        res = dict(d.get("ResourceAttributes") or {})
        start = _ns(d["Timestamp"])
        pid = res.get("process.pid") or 0
        return AppSpan(
            trace_id=d["TraceId"],
            span_id=d["SpanId"],
            parent_span_id=d.get("ParentSpanId") or "",
            name=d.get("SpanName", ""),
            service=d.get("ServiceName", ""),
            kind=str(d.get("SpanKind", "")),
            start_ns=start,
            end_ns=start + int(d.get("Duration", 0)),
            status=_status(d.get("StatusCode", "")),
            status_message=d.get("StatusMessage", ""),
            transaction_id=str(d.get("transaction_id") or _txn_attr(attrs)),
            pid=int(pid),
            attributes=attrs,
        )
    start = int(d["start_ns"])
    end = int(d["end_ns"]) if "end_ns" in d else start + int(d.get("duration_ns", 0))
    return AppSpan(
        trace_id=d.get("trace_id", ""),
        span_id=d["span_id"],
        parent_span_id=d.get("parent_span_id") or "",
        name=d.get("name", ""),
        service=d.get("service", ""),
        kind=str(d.get("kind", "")),
        start_ns=start,
        end_ns=end,
        status=_status(d.get("status", "")),
        status_message=d.get("status_message", ""),
        transaction_id=d.get("transaction_id", "") or _txn_attr(d.get("attributes") or {}),
        pid=int(d.get("pid", 0) or 0),
        attributes=dict(d.get("attributes") or {}),
    )


def _txn_attr(attrs: Mapping[str, Any]) -> str:
    for key in ("transaction.id", "payment.id", "kprobe.transaction.id"):
        if attrs.get(key):
            return str(attrs[key])
    return ""


def _ns(ts: Any) -> int:
    if isinstance(ts, int):
        return ts
    # datetime from clickhouse-connect
    return int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000


def spans_from(rows: Iterable[Mapping[str, Any] | AppSpan]) -> list[AppSpan]:
    return [r if isinstance(r, AppSpan) else span_from_dict(r) for r in rows]


def root_index(spans: list[AppSpan], transaction_id: str = "") -> int:
    """The transaction's top span: parentless (within the set), earliest, preferring
    the one that carries the transaction id."""
    ids = {s.span_id for s in spans}
    roots = [i for i, s in enumerate(spans) if s.parent_span_id not in ids]
    if not roots:
        roots = list(range(len(spans)))
    return min(
        roots,
        key=lambda i: (spans[i].transaction_id != transaction_id, spans[i].start_ns, -spans[i].end_ns),
    )


def children_of(spans: list[AppSpan]) -> dict[int, list[int]]:
    index = {s.span_id: i for i, s in enumerate(spans)}
    kids: dict[int, list[int]] = {}
    for i, s in enumerate(spans):
        p = index.get(s.parent_span_id)
        if p is not None and p != i:
            kids.setdefault(p, []).append(i)
    return kids


def critical_path(spans: list[AppSpan], root: int) -> list[tuple[int, int, int]]:
    """Critical path of the span tree as (span index, start_ns, end_ns), in time order.

    Jaeger's algorithm: from the end of a span, take the last-finishing child
    that ends before the current boundary; the span's own time after it is
    critical; recurse into the child; move the boundary to the child's start.
    Children overflowing their parent are clipped first. The pieces tile the
    root span exactly.
    """
    kids = children_of(spans)
    out: list[tuple[int, int, int]] = []

    def walk(i: int, start: int, end: int, seen: frozenset[int]) -> None:
        clipped = []
        for c in kids.get(i, ()):
            if c in seen:
                continue
            cs, ce = max(spans[c].start_ns, start), min(spans[c].end_ns, end)
            if cs < ce:
                clipped.append((ce, cs, c))
        clipped.sort(reverse=True)
        boundary = end
        for ce, cs, c in clipped:
            if ce > boundary:
                continue  # overlaps a child already on the path
            if ce < boundary:
                out.append((i, ce, boundary))
            walk(c, cs, ce, seen | {c})
            boundary = cs
        if boundary > start:
            out.append((i, start, boundary))

    r = spans[root]
    walk(root, r.start_ns, r.end_ns, frozenset({root}))
    out.reverse()
    return out
