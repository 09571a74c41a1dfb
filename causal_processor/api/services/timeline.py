"""TimelineService: events of a transaction or a time range, and the live stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from kprobe import events as event_model
from kprobe.v1 import api_common_pb2, timeline_pb2

from .. import paging
from ..backends import Backends
from ..errors import not_found
from ..filters import CompiledFilter, compile_filter
from ..hub import Dropped
from .convert import app_span, require_id, time_range, transaction_summary

STORE_PAGE = 2000  # rows fetched per store round trip when post-filtering


class TimelineApi:
    service = timeline_pb2.DESCRIPTOR.services_by_name["TimelineService"]

    def __init__(self, backends: Backends) -> None:
        self._b = backends

    async def GetTransactionTimeline(self, req: timeline_pb2.GetTransactionTimelineRequest) -> timeline_pb2.TransactionTimeline:
        txn_id = require_id("transaction_id", req.transaction_id)
        types = compile_filter(api_common_pb2.EventFilter(event_types=req.event_types)).event_types
        size = paging.page_size(req.page)
        cursor = paging.event_cursor(req.page.page_token)
        store = self._b.need("store")
        txn, evs = await self._b.blocking(lambda: (store.transaction(txn_id), store.transaction_events(txn_id)))
        if txn is None and not evs:
            raise not_found(f"unknown transaction {txn_id!r}")
        total = len(evs)
        if types:
            evs = [e for e in evs if e["event_type"] in types]
        if cursor is not None:
            evs = [e for e in evs if (e["timestamp_ns"], e["event_id"]) > cursor]
        page = evs[:size]
        out = timeline_pb2.TransactionTimeline(events=[event_model.to_proto(e) for e in page])
        if txn is not None:
            out.transaction.CopyFrom(transaction_summary(txn, kernel_event_count=total))
            if req.include_spans and cursor is None and txn.trace_id:
                spans = await self._b.blocking(store.trace_spans, txn.trace_id)
                out.spans.extend(app_span(s) for s in spans)
                out.transaction.span_count = len(spans)
        if len(evs) > size:
            out.next_page_token = paging.event_token(page[-1])
        return out

    async def GetEvents(self, req: timeline_pb2.GetEventsRequest) -> timeline_pb2.EventPage:
        return await events_page(self._b, req.time_range, req.filter, req.page)

    async def StreamEvents(self, req: timeline_pb2.StreamEventsRequest) -> AsyncIterator[timeline_pb2.LiveMessage]:
        flt = compile_filter(req.filter)
        hub = self._b.need("hub")
        sub = hub.subscribe(flt)
        try:
            while True:
                batch = await sub.next_batch()
                if not batch:
                    return
                for rec in batch:
                    if isinstance(rec, Dropped):
                        yield timeline_pb2.LiveMessage(
                            sequence=rec.first_sequence,
                            dropped=timeline_pb2.DroppedEvents(count=rec.count, first_sequence=rec.first_sequence),
                        )
                    else:
                        seq, item = rec
                        yield timeline_pb2.LiveMessage(sequence=seq, event=item.proto)
        finally:
            hub.unsubscribe(sub)


async def events_page(
    b: Backends, tr: api_common_pb2.TimeRange, filter_msg: api_common_pb2.EventFilter, page: api_common_pb2.PageRequest
) -> timeline_pb2.EventPage:
    """One page of stored events matching the filter, shared by Timeline and Search."""
    start, end = time_range(tr)
    flt = compile_filter(filter_msg)
    size = paging.page_size(page)
    cursor = paging.event_cursor(page.page_token)
    store = b.need("store")
    found, nxt = await b.blocking(_scan, store, start, end, flt, size, cursor)
    out = timeline_pb2.EventPage(events=[event_model.to_proto(e) for e in found])
    if nxt is not None:
        out.next_page_token = paging.encode("events", list(nxt))
    return out


def _scan(store: Any, start: int, end: int, flt: CompiledFilter, size: int, cursor: tuple[int, int] | None) -> tuple[list[dict], tuple[int, int] | None]:
    """Page through the store, applying in Python the filters it cannot (comms,
    transaction_ids); the next cursor is the last event returned."""
    post = CompiledFilter(transaction_ids=flt.transaction_ids, comms=flt.comms)
    found: list[dict] = []
    while True:
        want = size + 1 - len(found) if post.is_empty else STORE_PAGE
        page = store.events_in_range(
            start, end, pids=sorted(flt.pids), services=sorted(flt.services),
            event_types=sorted(flt.event_types), limit=want, after=cursor,
        )
        for ev in page.events:
            if post.is_empty or post.matches(ev):
                found.append(ev)
                if len(found) > size:
                    last = found[size - 1]
                    return found[:size], (last["timestamp_ns"], last["event_id"])
        if page.next_cursor is None:
            return found, None
        cursor = page.next_cursor
