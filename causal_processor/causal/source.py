"""Where the engine reads a transaction from, behind one small interface.

The engine needs three queries: the application spans of a transaction, the
transaction's own kernel events (for a transaction without spans), and every
kernel event in a time window (causes live in other processes). The
processor's ClickHouse store answers them in production; `MemorySource`
answers them from event and span dicts (tests, recordings, the demo).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from causal_processor.app_span import AppSpan
from causal_processor.causal.build import TransactionData
from causal_processor.causal.culprits import DISK_LOOKBACK_NS, MEMORY_LOOKBACK_NS
from causal_processor.causal.spans import spans_from
from causal_processor.causal.table import EventTable

LOOKBACK_NS = max(MEMORY_LOOKBACK_NS, DISK_LOOKBACK_NS)


@runtime_checkable
class TransactionSource(Protocol):
    def transaction_spans(self, transaction_id: str) -> Sequence[Mapping[str, Any] | AppSpan]:
        """Application spans of the transaction's trace (any order)."""

    def transaction_events(self, transaction_id: str) -> EventTable:
        """Kernel events joined to the transaction."""

    def events_between(self, start_ns: int, end_ns: int) -> EventTable:
        """Every kernel event overlapping [start_ns, end_ns)."""


class MemorySource:
    """A TransactionSource over event dicts and span dicts held in memory."""

    def __init__(self, events: Sequence[Mapping[str, Any]], spans: Sequence[Mapping[str, Any] | AppSpan] = ()) -> None:
        self.table = EventTable.from_events(events)
        self.spans = spans_from(spans)

    def transaction_spans(self, transaction_id: str) -> list[AppSpan]:
        traces = {s.trace_id for s in self.spans if s.transaction_id == transaction_id}
        return [s for s in self.spans if s.trace_id in traces]

    def transaction_events(self, transaction_id: str) -> EventTable:
        return self.table.take(np.flatnonzero(self.table.txn == transaction_id))

    def events_between(self, start_ns: int, end_ns: int) -> EventTable:
        t = self.table
        return t.take(np.flatnonzero((t.ts < end_ns) & (t.end >= start_ns)))


def load_transaction(source: TransactionSource, transaction_id: str) -> TransactionData:
    """Spans and the kernel events of the transaction's window (plus the lookback
    in which pressure builds up). LookupError for an unknown transaction."""
    spans = spans_from(source.transaction_spans(transaction_id))
    if spans:
        start = min(s.start_ns for s in spans)
        end = max(s.end_ns for s in spans)
    else:
        own = source.transaction_events(transaction_id)
        if len(own) == 0:
            raise LookupError(f"unknown transaction {transaction_id!r}: no spans and no kernel events")
        start, end = int(own.ts.min()), int(own.end.max())
    table = source.events_between(start - LOOKBACK_NS, end)
    return TransactionData(transaction_id, spans, table)
