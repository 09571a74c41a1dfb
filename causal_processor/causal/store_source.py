"""TransactionSource on the processor's EventStore (ClickHouse).

Spans and a transaction's own events come through the EventStore interface;
the window of every process's events, the big read, is one columnar query on
the store's client (kernel_events + the join's event_context), so 10k+ events
arrive as columns and never become dicts.
"""

from __future__ import annotations

from typing import Any

from causal_processor.causal.spans import AppSpan
from causal_processor.causal.table import EventTable
from causal_processor.storage import schema
from causal_processor.storage.records import SpanRecord
from causal_processor.storage.store import ClickHouseEventStore, EventStore

_EVENT_COLS = tuple(n for n, _ in schema.EVENT_COLUMNS if n not in ("service_name", "host_name"))
_WINDOW_SQL = (
    "SELECT {cols}, c.transaction_id, c.span_id, if(c.service != '', c.service, e.service_name) "
    "FROM (SELECT {inner}, service_name FROM kernel_events "
    "      WHERE timestamp_ns >= {{lo:UInt64}} AND timestamp_ns < {{hi:UInt64}} LIMIT 1 BY event_id) AS e "
    "LEFT JOIN (SELECT event_id, argMax(transaction_id, joined_at_ns) AS transaction_id, "
    "      argMax(span_id, joined_at_ns) AS span_id, argMax(service, joined_at_ns) AS service "
    "      FROM event_context WHERE timestamp_ns >= {{lo:UInt64}} AND timestamp_ns < {{hi:UInt64}} "
    "      GROUP BY event_id) AS c ON e.event_id = c.event_id"
).format(
    cols=", ".join(f"e.`{n}`" for n in _EVENT_COLS),
    inner=", ".join(f"`{n}`" for n in _EVENT_COLS),
)


def span_from_record(r: SpanRecord) -> AppSpan:
    attrs = dict(r.attributes)
    pid = r.resource_attributes.get("process.pid", "0")
    return AppSpan(
        trace_id=r.trace_id,
        span_id=r.span_id,
        parent_span_id=r.parent_span_id,
        name=r.name,
        service=r.service,
        kind=r.kind,
        start_ns=int(r.start_ns),
        end_ns=int(r.start_ns) + int(r.duration_ns),
        status="ERROR" if r.status_code.lower() == "error" else "OK",
        status_message=r.status_message,
        transaction_id=attrs.get("transaction.id") or attrs.get("payment.id") or "",
        pid=int(pid) if str(pid).isdigit() else 0,
        attributes=attrs,
    )


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
        return [span_from_record(r) for r in self.store.trace_spans(trace)]

    def transaction_events(self, transaction_id: str) -> EventTable:
        return EventTable.from_events(self.store.transaction_events(transaction_id))

    def events_between(self, start_ns: int, end_ns: int) -> EventTable:
        client = getattr(self.store, "client", None)
        if client is None:
            return EventTable.from_events(self._paged(start_ns, end_ns))
        res = client.query(_WINDOW_SQL, parameters={"lo": max(0, start_ns), "hi": end_ns})
        cols: dict[str, Any] = dict(zip((*_EVENT_COLS, "transaction_id", "span_id", "service"),
                                        res.result_columns, strict=True)) if res.result_columns else {}
        if not cols:
            return EventTable.from_events([])
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
