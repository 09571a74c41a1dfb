"""CausalGraphService: a transaction's causal graph, its verdict, and traversal."""

from __future__ import annotations

from collections import deque

from kprobe import events as event_model
from kprobe.v1 import causal_graph_pb2

from ..backends import Backends
from ..errors import invalid_argument, not_found
from .convert import require_id

UP = causal_graph_pb2.TRAVERSAL_DIRECTION_UPSTREAM
DOWN = causal_graph_pb2.TRAVERSAL_DIRECTION_DOWNSTREAM


class CausalGraphApi:
    service = causal_graph_pb2.DESCRIPTOR.services_by_name["CausalGraphService"]

    def __init__(self, backends: Backends) -> None:
        self._b = backends

    async def _graph(self, transaction_id: str) -> causal_graph_pb2.CausalGraph:
        txn_id = require_id("transaction_id", transaction_id)
        analyzer = self._b.need("analyzer")
        graph = await self._b.blocking(analyzer.causal_graph, txn_id)
        if graph is None:
            raise not_found(f"unknown transaction {txn_id!r}")
        return graph

    async def _attach_events(self, graph: causal_graph_pb2.CausalGraph) -> None:
        store = self._b.need("store")
        evs = await self._b.blocking(store.transaction_events, graph.transaction.transaction_id)
        by_id = {e["event_id"]: e for e in evs}
        for node in graph.nodes:
            ev = by_id.get(node.event_id) if node.event_id else None
            if ev is not None:
                node.event.CopyFrom(event_model.to_proto(ev))

    async def GetCausalGraph(self, req: causal_graph_pb2.GetCausalGraphRequest) -> causal_graph_pb2.CausalGraph:
        graph = await self._graph(req.transaction_id)
        if req.include_events:
            await self._attach_events(graph)
        return graph

    async def GetRootCause(self, req: causal_graph_pb2.GetRootCauseRequest) -> causal_graph_pb2.RootCauseResponse:
        graph = await self._graph(req.transaction_id)
        return causal_graph_pb2.RootCauseResponse(
            transaction=graph.transaction, root_cause=graph.root_cause, chain=graph.chain
        )

    async def Traverse(self, req: causal_graph_pb2.TraverseRequest) -> causal_graph_pb2.CausalGraph:
        if req.direction not in (UP, DOWN):
            raise invalid_argument("direction must be TRAVERSAL_DIRECTION_UPSTREAM or TRAVERSAL_DIRECTION_DOWNSTREAM")
        which = req.WhichOneof("start")
        if which is None:
            raise invalid_argument("start is required: node_id or event_id")
        if which == "node_id" and not req.node_id:
            raise invalid_argument("node_id is empty")
        graph = await self._graph(req.transaction_id)
        nodes = {n.id: n for n in graph.nodes}
        if which == "node_id":
            start = req.node_id
            if start not in nodes:
                raise not_found(f"node {start!r} is not in the causal graph of {req.transaction_id!r}")
        else:
            start = next((n.id for n in graph.nodes if n.event_id == req.event_id), "")
            if not start:
                raise not_found(f"event {req.event_id} is not in the causal graph of {req.transaction_id!r}")
        sub = traverse(graph, start, req.direction, req.max_depth)
        if req.include_events:
            await self._attach_events(sub)
        return sub


def traverse(graph: causal_graph_pb2.CausalGraph, start: str, direction: int, max_depth: int) -> causal_graph_pb2.CausalGraph:
    """Breadth-first walk along edges towards causes (UPSTREAM: effect -> cause)
    or effects; returns the visited nodes and the edges walked."""
    nexts: dict[str, list[causal_graph_pb2.CausalEdge]] = {}
    for e in graph.edges:
        key = e.target if direction == UP else e.source
        nexts.setdefault(key, []).append(e)
    depth = {start: 0}
    walked: list[causal_graph_pb2.CausalEdge] = []
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if max_depth and depth[node] >= max_depth:
            continue
        for e in nexts.get(node, ()):
            other = e.source if direction == UP else e.target
            walked.append(e)
            if other not in depth:
                depth[other] = depth[node] + 1
                queue.append(other)
    out = causal_graph_pb2.CausalGraph(transaction=graph.transaction)
    out.nodes.extend(n for n in graph.nodes if n.id in depth)
    out.edges.extend(walked)
    out.end_to_end_latency_ns = graph.end_to_end_latency_ns
    return out
