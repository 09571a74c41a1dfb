"""Application spans of a transaction and their critical path (Jaeger / CRISP).

Spans arrive as `AppSpan`s (the processor's store) or as dicts, in the API's
shape or as `otel_traces` rows; `spans_from` reads both, so the rest of the
engine sees one `AppSpan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from causal_processor.app_span import AppSpan, from_dict


def spans_from(rows: Iterable[Mapping[str, Any] | AppSpan]) -> list[AppSpan]:
    return [r if isinstance(r, AppSpan) else from_dict(r) for r in rows]


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
