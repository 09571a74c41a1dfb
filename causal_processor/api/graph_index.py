"""Cross-transaction causal queries on the graph store, and what keeps it filled.

`GraphChains` answers SearchCausalChains/TopRootCauses from a GraphStore
(Neo4j, Ladybug or memory). The store holds the graphs of explained
transactions: the API writes every graph it serves, and `GraphIndexer`
explains transactions as the processor completes them, so a search by
culprit covers transactions nobody has opened yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from causal_processor.graphstore import GraphStore
from causal_processor.storage.store import EventStore
from kprobe.v1 import api_common_pb2, causal_graph_pb2, search_pb2

from .engine import EngineAnalyzer

log = logging.getLogger(__name__)

_STATUS = {"OK": api_common_pb2.TRANSACTION_STATUS_OK, "ERROR": api_common_pb2.TRANSACTION_STATUS_ERROR}


def _culprit(pid: int, comm: str, service: str) -> api_common_pb2.Culprit:
    return api_common_pb2.Culprit(pid=int(pid or 0), comm=comm or "", service=service or "")


class GraphChains:
    """ChainIndex on a GraphStore."""

    def __init__(self, graphs: GraphStore) -> None:
        self._graphs = graphs

    def chains(self, culprit: api_common_pb2.Culprit, mechanism: str, start_ns: int, end_ns: int,
               limit: int, offset: int) -> list[search_pb2.CausalChainMatch]:
        rows = self._graphs.transactions_hit_by(
            pid=culprit.pid or None, comm=culprit.comm or None, service=culprit.service or None,
            mechanism=mechanism or None, start_ns=start_ns, end_ns=end_ns, limit=offset + limit)
        return [self._match(t) for t in rows[offset:]]

    def _match(self, t: dict[str, Any]) -> search_pb2.CausalChainMatch:
        m = search_pb2.CausalChainMatch(
            transaction=api_common_pb2.TransactionSummary(
                transaction_id=t["id"], service=t.get("service") or "", operation=t.get("operation") or "",
                status=_STATUS.get(t.get("status") or "", api_common_pb2.TRANSACTION_STATUS_UNSPECIFIED),
                start_ns=int(t.get("start_ns") or 0), duration_ns=int(t.get("duration_ns") or 0),
                trace_id=t.get("trace_id") or ""),
            root_cause=causal_graph_pb2.RootCause(
                mechanism=t["root_mechanism"], contribution_ns=int(t.get("root_contribution_ns") or 0),
                node_id=t.get("root_node_id") or "",
                culprit=_culprit(t.get("root_pid") or 0, t.get("root_comm") or "", t.get("root_service") or "")),
        )
        m.chain.extend(causal_graph_pb2.ChainStep(node_id=n["id"], label=n.get("label") or "")
                       for n in self._graphs.chain(t["id"]))
        return m

    def top_root_causes(self, start_ns: int, end_ns: int, limit: int) -> list[search_pb2.RootCauseCount]:
        return [
            search_pb2.RootCauseCount(
                mechanism=a["mechanism"], culprit=_culprit(int(a["pid"] or 0), a["comm"], a["service"]),
                # stores aggregate with their own number types (Ladybug: Decimal)
                transactions=int(a["transactions"]), total_contribution_ns=int(a["contribution_ns"]))
            for a in self._graphs.top_root_causes(start_ns, end_ns, limit)
        ]


class GraphIndexer:
    """Explains the transactions the processor completes and writes their graphs.

    Polls the store for transactions that started in the last `lookback_s`
    (completion order is not start order) and skips those already indexed.
    Only failed ones and those slower than `min_latency_ms` are explained (a
    fast, successful payment has no root cause to search for), at most
    `max_per_pass` per poll so a burst cannot starve the API.
    """

    def __init__(self, store: EventStore, analyzer: EngineAnalyzer, interval_s: float = 2.0,
                 lookback_s: float = 120.0, remember: int = 100_000, min_latency_ms: float = 100.0,
                 max_per_pass: int = 200) -> None:
        self._store = store
        self._analyzer = analyzer
        self._min_latency_ns = int(min_latency_ms * 1e6)
        self._max_per_pass = max_per_pass
        self._interval = interval_s
        self._lookback_ns = int(lookback_s * 1e9)
        self._done: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kprobe-graph-index", daemon=True)
        self.indexed = 0

    def start(self) -> GraphIndexer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def index_new(self) -> int:
        """One pass; returns how many transactions it explained."""
        since = time.time_ns() - self._lookback_ns
        n = 0
        for t in self._store.find_transactions(start_ns=since, limit=1000):
            if t.transaction_id in self._done or self._stop.is_set() or n >= self._max_per_pass:
                continue
            if t.status != "error" and t.duration_ns < self._min_latency_ns:
                continue
            try:
                self._analyzer.explain(t.transaction_id)
            except Exception:
                log.exception("indexing the causal graph of %s failed", t.transaction_id)
            self._done[t.transaction_id] = None
            if len(self._done) > self._remember:
                self._done.popitem(last=False)
            n += 1
        self.indexed += n
        return n

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.index_new()
            except Exception:
                log.exception("graph index pass failed; retrying")
