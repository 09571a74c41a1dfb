"""The causal engine as the API's CausalAnalyzer.

The graph is converted from `Explanation.to_dict()`, the very document
`kprobe explain --json` prints, so what the API serves and what the CLI
prints cannot disagree.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from causal_processor.causal.explain import explain
from causal_processor.causal.store_source import StoreSource
from causal_processor.graphstore import GraphStore, record_from
from causal_processor.storage.store import EventStore
from kprobe.v1 import api_common_pb2, causal_graph_pb2, events_pb2

from .services.convert import transaction_summary

_NODE_KIND = {
    "transaction": causal_graph_pb2.NODE_KIND_TRANSACTION,
    "span": causal_graph_pb2.NODE_KIND_SPAN,
    "kernel_event": causal_graph_pb2.NODE_KIND_KERNEL_EVENT,
    "process": causal_graph_pb2.NODE_KIND_PROCESS,
}
_STATUS = {"OK": api_common_pb2.TRANSACTION_STATUS_OK, "ERROR": api_common_pb2.TRANSACTION_STATUS_ERROR}
_NODE_SCALARS = ("id", "label", "start_ns", "duration_ns", "pid", "tid", "comm", "service",
                 "event_id", "span_id", "on_critical_path", "critical_path_ns")
_EDGE_SCALARS = ("source", "target", "relation", "inferred", "confidence", "share",
                 "latency_contribution_ns", "on_critical_path")


class GraphCache:
    """Recently built graphs for `ttl_s`: a dashboard refreshing, or several people
    opening the same incident, cost one explain. A graph can lag late-joined
    events by at most the ttl."""

    def __init__(self, ttl_s: float = 5.0, size: int = 256) -> None:
        self.ttl_s = ttl_s
        self._size = size
        self._items: OrderedDict[str, tuple[float, causal_graph_pb2.CausalGraph]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> causal_graph_pb2.CausalGraph | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl_s:
                return None
            self._items.move_to_end(key)
        out = causal_graph_pb2.CausalGraph()
        out.CopyFrom(hit[1])  # callers may add events to their copy
        return out

    def put(self, key: str, graph: causal_graph_pb2.CausalGraph) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic(), graph)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class EngineAnalyzer:
    """explain() on the processor's store, served as CausalGraph messages; each
    graph is also written to the graph store (when there is one), which makes
    it searchable by culprit and mechanism."""

    def __init__(self, store: EventStore, graphs: GraphStore | None = None, cache_ttl_s: float = 5.0) -> None:
        self._store = store
        self._source = StoreSource(store)
        self._graphs = graphs
        self.cache = GraphCache(cache_ttl_s)

    def causal_graph(self, transaction_id: str) -> causal_graph_pb2.CausalGraph | None:
        cached = self.cache.get(transaction_id)
        if cached is not None:
            return cached
        graph = self.explain(transaction_id)
        if graph is not None:
            self.cache.put(transaction_id, graph)
            out = causal_graph_pb2.CausalGraph()
            out.CopyFrom(graph)
            return out
        return None

    def explain(self, transaction_id: str) -> causal_graph_pb2.CausalGraph | None:
        """Build the graph now (no cache); writes it to the graph store."""
        try:
            x = explain(self._source, transaction_id)
        except LookupError:
            return None
        if self._graphs is not None:
            self._graphs.write(record_from(x))
        graph = graph_message(x.to_dict(with_graph=True))
        txn = self._store.transaction(transaction_id)
        if txn is not None:
            graph.transaction.CopyFrom(transaction_summary(txn))
        else:
            g = x.graph
            graph.transaction.MergeFrom(api_common_pb2.TransactionSummary(
                service=g.service, operation=g.operation, start_ns=g.start_ns,
                duration_ns=g.end_to_end_ns, trace_id=g.trace_id, status_message=g.status_message))
        graph.transaction.transaction_id = transaction_id
        graph.transaction.status = _STATUS.get(x.status, api_common_pb2.TRANSACTION_STATUS_UNSPECIFIED)
        return graph


def graph_message(doc: Mapping[str, Any]) -> causal_graph_pb2.CausalGraph:
    """A CausalGraph from the `kprobe explain --json` document."""
    out = causal_graph_pb2.CausalGraph(
        end_to_end_latency_ns=doc["end_to_end_latency_ns"],
        critical_path_ns=doc["critical_path_ns"],
        story=doc.get("story", []),
    )
    out.transaction.transaction_id = doc["transaction_id"]
    rc = doc["root_cause"]
    out.root_cause.CopyFrom(causal_graph_pb2.RootCause(
        mechanism=rc["mechanism"], contribution_ns=rc["contribution_ns"], evidence=rc["evidence"],
        node_id=rc.get("node_id") or "", confidence=rc.get("confidence") or 0.0,
        summary=next((ln for ln in doc.get("story", []) if ln.startswith("Root cause:")), ""),
    ))
    if rc.get("culprit"):
        c = rc["culprit"]
        out.root_cause.culprit.CopyFrom(api_common_pb2.Culprit(pid=c["pid"], comm=c["comm"], service=c["service"] or ""))
    out.chain.extend(causal_graph_pb2.ChainStep(**s) for s in doc["chain"])
    for n in doc["graph"]["nodes"]:
        node = out.nodes.add(kind=_NODE_KIND[n["kind"]], **{k: n[k] for k in _NODE_SCALARS})
        if n.get("event_type"):
            node.event_type = events_pb2.EventType.Value(n["event_type"])
        node.attributes.update({k: str(v) for k, v in n.get("attributes", {}).items()})
    for e in doc["graph"]["edges"]:
        out.edges.add(**{k: e[k] for k in _EDGE_SCALARS})
    return out
