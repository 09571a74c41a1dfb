"""TransactionSource on the processor's EventStore (ClickHouse).

Spans and a transaction's own events come through the EventStore interface;
the window of every process's events, the big read, is one columnar query on
the store's client (kernel_events + the join's event_context), so 10k+ events
arrive as columns and never become dicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from causal_processor.app_span import AppSpan
from causal_processor.causal.table import EventTable
from causal_processor.storage import schema
from causal_processor.storage.store import ClickHouseEventStore, EventStore

_EVENT_COLS = tuple(n for n, _ in schema.EVENT_COLUMNS if n not in ("service_name", "host_name"))
_EVENTS_SQL = (
    "SELECT {cols}, service_name FROM kernel_events "
    "WHERE timestamp_ns >= {{lo:UInt64}} AND timestamp_ns < {{hi:UInt64}}"
).format(cols=", ".join(f"`{n}`" for n in _EVENT_COLS))
_CONTEXT_SQL = (
    "SELECT event_id, transaction_id, span_id, service, joined_at_ns FROM event_context "
    "WHERE timestamp_ns >= {lo:UInt64} AND timestamp_ns < {hi:UInt64}"
)


def _arrow_columns(client: Any, sql: str, params: dict[str, Any]) -> list[np.ndarray]:
    """Columns of a query as numpy arrays, through Arrow: decoding 10k rows value by
    value in Python would cost more than the query itself."""
    table = client.query_arrow(sql, parameters=params)
    return [np.asarray(c.to_numpy(zero_copy_only=False)) for c in table.columns]


class StoreSource:
    """Reads one transaction's spans and event window from an EventStore."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    @classmethod
    def open(cls, dsn: str | None) -> StoreSource:
        return cls(ClickHouseEventStore(dsn))

    def transaction_spans(self, transaction_id: str) -> list[AppSpan]:
        txn = self.store.transaction(transaction_id)
        trace = txn.trace_id if txn else ""
        if not trace:
            own = self.store.transaction_events(transaction_id)
            trace = next((e["financial_context"].get("trace_id", "") for e in own
                          if e["financial_context"].get("trace_id")), "")
        if not trace:
            return []
        return self.store.trace_spans(trace)

    def transaction_events(self, transaction_id: str) -> EventTable:
        return EventTable.from_events(self.store.transaction_events(transaction_id))

    def events_between(self, start_ns: int, end_ns: int) -> EventTable:
        client = getattr(self.store, "client", None)
        if client is None:
            return EventTable.from_events(self._paged(start_ns, end_ns))
        params = {"lo": max(0, start_ns), "hi": end_ns}
        # two plain range scans, joined and deduplicated here: a JOIN or LIMIT BY in SQL
        # costs ten times the scans on a big table (measured, BENCHMARKS.md `## causal`)
        ev = _arrow_columns(client, _EVENTS_SQL, params)
        if not ev or not len(ev[0]):
            return EventTable.from_events([])
        cols: dict[str, Any] = dict(zip((*_EVENT_COLS, "service_name"), ev, strict=True))
        ids = cols["event_id"].astype(np.uint64)
        _, first = np.unique(ids, return_index=True)  # a row written twice is one event
        if len(first) < len(ids):
            cols = {k: v[first] for k, v in cols.items()}
            ids = ids[first]
        n = len(ids)
        txn = np.full(n, "", dtype=object)
        span = np.full(n, "", dtype=object)
        service = np.asarray(cols.pop("service_name"), dtype=object)
        ctx = _arrow_columns(client, _CONTEXT_SQL, params)
        if ctx and len(ctx[0]):
            cid = np.asarray(ctx[0], dtype=np.uint64)
            order = np.lexsort((np.asarray(ctx[4], dtype=np.uint64), cid))  # the latest join wins
            cid = cid[order]
            last = np.r_[cid[1:] != cid[:-1], True]
            cid = cid[last]
            pick = order[last]
            sort_ids = np.argsort(ids)
            pos = np.searchsorted(ids[sort_ids], cid)
            ok = pos < n
            ok[ok] = ids[sort_ids][pos[ok]] == cid[ok]
            rows = sort_ids[pos[ok]]
            src = pick[ok]
            txn[rows] = np.asarray(ctx[1], dtype=object)[src]
            span[rows] = np.asarray(ctx[2], dtype=object)[src]
            joined_svc = np.asarray(ctx[3], dtype=object)[src]
            has = joined_svc != ""
            service[rows[has]] = joined_svc[has]
        cols.update(transaction_id=txn, span_id=span, service=service)
        return EventTable.from_columns(cols)

    def _paged(self, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.store.events_in_range(start_ns, end_ns, limit=10_000, after=after)
            out.extend(page.events)
            if page.next_cursor is None:
                return out
            after = page.next_cursor
