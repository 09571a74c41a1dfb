"""SearchService: transactions, events and causal chains."""

from __future__ import annotations

import heapq
from typing import Any

from kprobe.v1 import search_pb2, timeline_pb2

from .. import paging
from ..backends import Backends
from ..errors import invalid_argument
from .convert import store_statuses, time_range, transaction_summary
from .timeline import events_page

MAX_SERVICES = 32


class SearchApi:
    service = search_pb2.DESCRIPTOR.services_by_name["SearchService"]

    def __init__(self, backends: Backends) -> None:
        self._b = backends

    async def SearchTransactions(self, req: search_pb2.SearchTransactionsRequest) -> search_pb2.SearchTransactionsResponse:
        start, end = time_range(req.time_range)
        if req.max_latency_ns and req.min_latency_ns > req.max_latency_ns:
            raise invalid_argument(f"min_latency_ns {req.min_latency_ns} exceeds max_latency_ns {req.max_latency_ns}")
        if len(req.services) > MAX_SERVICES:
            raise invalid_argument(f"at most {MAX_SERVICES} services per search")
        statuses = store_statuses(req.status)
        size = paging.page_size(req.page)
        offset = paging.offset("transactions", req.page.page_token)
        store = self._b.need("store")
        rows = await self._b.blocking(_find, store, req, start, end, statuses, offset + size + 1)
        page = rows[offset:offset + size]
        out = search_pb2.SearchTransactionsResponse(transactions=[transaction_summary(t) for t in page])
        if len(rows) > offset + size:
            out.next_page_token = paging.offset_token("transactions", offset + size)
        return out

    async def SearchEvents(self, req: search_pb2.SearchEventsRequest) -> timeline_pb2.EventPage:
        return await events_page(self._b, req.time_range, req.filter, req.page)

    async def SearchCausalChains(self, req: search_pb2.SearchCausalChainsRequest) -> search_pb2.SearchCausalChainsResponse:
        start, end = time_range(req.time_range)
        size = paging.page_size(req.page)
        offset = paging.offset("chains", req.page.page_token)
        chains = self._b.need("chains")
        found = await self._b.blocking(chains.chains, req.culprit, req.mechanism, start, end, size + 1, offset)
        out = search_pb2.SearchCausalChainsResponse(matches=found[:size])
        if len(found) > size:
            out.next_page_token = paging.offset_token("chains", offset + size)
        return out

    async def TopRootCauses(self, req: search_pb2.TopRootCausesRequest) -> search_pb2.TopRootCausesResponse:
        start, end = time_range(req.time_range)
        if req.limit > 1000:
            raise invalid_argument(f"limit {req.limit} exceeds 1000")
        chains = self._b.need("chains")
        causes = await self._b.blocking(chains.top_root_causes, start, end, req.limit or 10)
        return search_pb2.TopRootCausesResponse(causes=causes)


def _find(store: Any, req: search_pb2.SearchTransactionsRequest, start: int, end: int,
          statuses: tuple[str | None, ...], limit: int) -> list[Any]:
    """The first `limit` matches, newest first, merging one store query per
    (service, status) pair because the store filters on single values."""
    common = {
        "start_ns": start, "end_ns": end,
        "min_duration_ns": req.min_latency_ns or None,
        "max_duration_ns": req.max_latency_ns or None,
    }
    if req.transaction_id:
        t = store.transaction(req.transaction_id)
        return [t] if t is not None and _matches(t, req, start, end, statuses) else []
    lists = [
        store.find_transactions(**common, status=st, service=sv, limit=limit)
        for st in statuses for sv in (list(req.services) or [None])
    ]
    if len(lists) == 1:
        return lists[0]
    merged = heapq.merge(*lists, key=lambda t: (-t.start_ns, t.transaction_id))
    out: list[Any] = []
    seen: set[str] = set()
    for t in merged:
        if t.transaction_id not in seen:
            seen.add(t.transaction_id)
            out.append(t)
            if len(out) == limit:
                break
    return out


def _matches(t: Any, req: search_pb2.SearchTransactionsRequest, start: int, end: int,
             statuses: tuple[str | None, ...]) -> bool:
    return (
        start <= t.start_ns < end
        and (None in statuses or t.status in statuses)
        and (not req.services or t.service in req.services)
        and t.duration_ns >= req.min_latency_ns
        and (not req.max_latency_ns or t.duration_ns <= req.max_latency_ns)
    )
