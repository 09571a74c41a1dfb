"""The GraphStore interface and the flat record every store writes and reads.

A causal graph is stored per transaction: a Transaction node carrying the
verdict (root cause), the transaction's span and kernel-event nodes, and
Process nodes shared by every transaction they hurt. Edges are cause ->
effect and carry the transaction id, so one process can be linked to many
transactions and each link keeps its own contribution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from causal_processor.causal.explain import Explanation

UPSTREAM = "upstream"  # towards causes
DOWNSTREAM = "downstream"  # towards effects
MAX_DEPTH = 25

NODE_FIELDS = ("id", "kind", "label", "txn", "start_ns", "duration_ns", "pid", "tid", "comm", "service",
               "event_type", "event_id", "span_id", "on_critical_path", "critical_path_ns")
EDGE_FIELDS = ("source", "target", "relation", "txn", "inferred", "confidence", "share",
               "latency_contribution_ns", "on_critical_path")
TXN_FIELDS = ("id", "start_ns", "duration_ns", "status", "service", "operation", "trace_id",
              "root_mechanism", "root_pid", "root_comm", "root_service", "root_contribution_ns",
              "root_node_id", "chain")


@dataclass
class GraphRecord:
    """One transaction's graph, flat and JSON-friendly (ids and event ids as strings)."""

    transaction: dict[str, Any]
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_from(x: Explanation) -> GraphRecord:
    """The record of an explanation (what every store writes)."""
    g = x.graph
    rc = x.root_cause
    c = rc.culprit
    txn = {
        "id": g.transaction_id, "start_ns": g.start_ns, "duration_ns": g.end_to_end_ns, "status": g.status,
        "service": g.service, "operation": g.operation, "trace_id": g.trace_id,
        "root_mechanism": rc.mechanism, "root_pid": c.pid if c else 0, "root_comm": c.comm if c else "",
        "root_service": c.service if c else "", "root_contribution_ns": rc.contribution_ns,
        "root_node_id": rc.node_id, "chain": [s.node_id for s in x.chain],
    }
    nodes = []
    for n in g.nodes.values():
        nodes.append({
            "id": n.id, "kind": n.kind, "label": n.label, "txn": "" if n.kind == "process" else g.transaction_id,
            "start_ns": n.start_ns, "duration_ns": n.duration_ns, "pid": n.pid, "tid": n.tid, "comm": n.comm,
            "service": n.service, "event_type": n.event_type, "event_id": str(n.event_id) if n.event_id else "",
            "span_id": n.span_id, "on_critical_path": n.on_critical_path,
            "critical_path_ns": 0 if n.kind == "process" else n.critical_path_ns,
        })
    edges = [{
        "source": e.source, "target": e.target, "relation": e.relation, "txn": g.transaction_id,
        "inferred": e.inferred, "confidence": float(e.confidence), "share": float(e.share),
        "latency_contribution_ns": int(e.latency_contribution_ns), "on_critical_path": e.on_critical_path,
    } for e in g.edges.values()]
    return GraphRecord(txn, nodes, edges)


class GraphStoreError(Exception):
    """A graph store cannot be reached or opened; the message says what to change."""


class GraphStore(Protocol):
    """What the engine writes and the API reads; Neo4j, Ladybug (embedded) and memory
    implement it and pass the same contract tests."""

    def write(self, rec: GraphRecord) -> None:
        """Store a transaction's graph; writing it again replaces it (idempotent)."""

    def graph(self, txn_id: str) -> GraphRecord | None:
        """The stored graph of a transaction, or None."""

    def chain(self, txn_id: str) -> list[dict[str, Any]]:
        """Nodes from the transaction down to its root cause, along critical edges."""

    def traverse(self, node_id: str, direction: str, max_depth: int = MAX_DEPTH,
                 txn_id: str = "") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(nodes, edges) reachable from a node towards causes (UPSTREAM) or effects
        (DOWNSTREAM), within one transaction's edges when txn_id is given."""

    def transactions_hit_by(self, *, pid: int | None = None, comm: str | None = None,
                            service: str | None = None, mechanism: str | None = None,
                            start_ns: int = 0, end_ns: int | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
        """Transactions whose root cause is this culprit/mechanism, newest first."""

    def top_root_causes(self, start_ns: int = 0, end_ns: int | None = None,
                        limit: int = 10) -> list[dict[str, Any]]:
        """(mechanism, culprit) ranked by total contribution over transactions in the range:
        dicts with mechanism, pid, comm, service, transactions, contribution_ns."""

    def close(self) -> None: ...


END_OF_TIME = (1 << 63) - 1


def check_direction(direction: str, max_depth: int) -> int:
    if direction not in (UPSTREAM, DOWNSTREAM):
        raise ValueError(f"direction must be {UPSTREAM!r} or {DOWNSTREAM!r}, not {direction!r}")
    if max_depth <= 0 or max_depth > MAX_DEPTH:
        return MAX_DEPTH
    return int(max_depth)


def breadth_first(hop, node_id: str, direction: str, depth: int) -> tuple[set[str], dict[tuple, dict[str, Any]]]:
    """Walk edges level by level: `hop(frontier)` returns the edges entering (UPSTREAM)
    or leaving (DOWNSTREAM) the frontier. One bounded query per level, never a
    path enumeration that explodes on a dense graph."""
    seen = {node_id}
    edges: dict[tuple, dict[str, Any]] = {}
    frontier = [node_id]
    for _ in range(depth):
        if not frontier:
            break
        nxt = []
        for e in hop(frontier):
            edges[(e["source"], e["target"], e["relation"], e["txn"])] = e
            other = e["source"] if direction == UPSTREAM else e["target"]
            if other not in seen:
                seen.add(other)
                nxt.append(other)
        frontier = nxt
    return seen, edges


def transaction_row(rec: GraphRecord) -> dict[str, Any]:
    """The Transaction node's properties: its graph node merged with the verdict."""
    t = dict(rec.transaction)
    txn_id = t.pop("id")
    node = next((n for n in rec.nodes if n["kind"] == "transaction"), {})
    return {**node, **t, "id": f"txn:{txn_id}", "txn": txn_id}


def transaction_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """The transaction dict (GraphRecord.transaction) back from a Transaction node."""
    return {k: (row["txn"] if k == "id" else row.get(k)) for k in TXN_FIELDS}
