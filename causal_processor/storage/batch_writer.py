"""A batch of acknowledged requests into ClickHouse exactly once, however often it is retried.

The batch is the write-ahead log's records [start, end). Every table's insert carries a
deduplication token made from the log's id and that range, so a retry, in this run or in a
restart's replay of the batch that was in flight at a crash, is dropped by ClickHouse as a
repeat (kernel_events keeps the last 1,000 tokens: `non_replicated_deduplication_window`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from causal_processor.ingest.decode import Decoded
from causal_processor.ingest.event_frame import EventFrame
from causal_processor.metrics import ProcessorMetrics
from causal_processor.storage.store import ClickHouseEventStore
from causal_processor.storage.wal import WriteAheadLog

log = logging.getLogger(__name__)


@dataclass
class Accepted:
    """A decoded request and its record in the log."""

    decoded: Decoded
    start: int
    end: int

    @property
    def rows(self) -> int:
        return len(self.decoded.events) + len(self.decoded.span_rows)


class BatchWriter:
    def __init__(self, store: ClickHouseEventStore, wal: WriteAheadLog, metrics: ProcessorMetrics) -> None:
        self.store, self.wal, self.metrics = store, wal, metrics

    def write(self, batch: Sequence[Accepted], events: EventFrame, give_up: Callable[[], bool]) -> bool:
        """Insert the batch (its kernel events as `events`, the batch's frames as one) retrying
        while storage refuses, and commit it in the log; False when give_up() said to stop first
        (the log keeps the batch for the next start)."""
        start, end = batch[0].start, batch[-1].end
        self.wal.begin(start, end)
        token = f"{self.wal.log_id}:{start}:{end}"
        attempt = 0
        while True:
            try:
                self._insert(batch, events, token)
                break
            except Exception:
                log.exception("storage write failed (attempt %d); the write-ahead log keeps the batch", attempt + 1)
                if give_up():
                    return False
                time.sleep(min(5.0, 0.1 * 2**attempt))
                attempt += 1
        self.wal.commit(end)
        self.metrics.wal_bytes.set(self.wal.end - end)
        return True

    def _insert(self, batch: Sequence[Accepted], events: EventFrame, token: str) -> None:
        rows = [r for a in batch for r in a.decoded.span_rows]
        upstream = [pair for a in batch for pair in a.decoded.upstream]
        t0 = time.perf_counter()
        if len(events):
            self.store.write_event_table(events.table, token=f"{token}:events")
        t1 = time.perf_counter()
        if rows:
            self.store.write_span_rows(rows, token=f"{token}:spans")
        t2 = time.perf_counter()
        if upstream:  # joined before they reached us (another processor upstream)
            self.store.write_contexts(upstream, token=f"{token}:contexts")
        if len(events):
            self.metrics.batch_seconds.labels("kernel_events").observe(t1 - t0)
        if rows:
            self.metrics.batch_seconds.labels("otel_traces").observe(t2 - t1)
