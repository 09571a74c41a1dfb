"""The embedded GraphStore: LadybugDB (the maintained Kùzu fork), in-process Cypher.

Same graph as the Neo4j store, in Ladybug's dialect, which differs in ways
that shape the model (see docs/ARCHITECTURE.md, "Graph stores"):
- schema first: node and rel tables are declared with typed columns and a
  primary key; a node has exactly one table (label), so every node lives in
  `CausalNode` with a `kind` column, and the relation is a column of one
  `CausalEdge` rel table instead of a relationship type;
- no constraints or secondary indexes (the primary key is the index);
- variable-length patterns are capped (30 hops by default) and shortest paths
  are written `-[e:CausalEdge* SHORTEST 1..25 (r, n | WHERE ...)]->`;
  `rels(p)` instead of `relationships(p)`;
- one read-write process per database directory (a file lock), like chdb.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from causal_processor.graphstore.base import (
    EDGE_FIELDS,
    END_OF_TIME,
    NODE_FIELDS,
    TXN_FIELDS,
    UPSTREAM,
    GraphRecord,
    GraphStoreError,
    breadth_first,
    check_direction,
)

SCHEMA: tuple[str, ...] = (
    "CREATE NODE TABLE IF NOT EXISTS CausalNode(id STRING, kind STRING, label STRING, txn STRING, "
    "start_ns INT64, duration_ns INT64, pid INT64, tid INT64, comm STRING, service STRING, "
    "event_type STRING, event_id STRING, span_id STRING, on_critical_path BOOLEAN, "
    "critical_path_ns INT64, PRIMARY KEY(id))",
    "CREATE NODE TABLE IF NOT EXISTS TransactionRecord(id STRING, start_ns INT64, duration_ns INT64, "
    "status STRING, service STRING, operation STRING, trace_id STRING, root_mechanism STRING, "
    "root_pid INT64, root_comm STRING, root_service STRING, root_contribution_ns INT64, "
    "root_node_id STRING, chain STRING[], PRIMARY KEY(id))",
    "CREATE REL TABLE IF NOT EXISTS CausalEdge(FROM CausalNode TO CausalNode, relation STRING, "
    "txn STRING, inferred BOOLEAN, confidence DOUBLE, share DOUBLE, latency_contribution_ns INT64, "
    "on_critical_path BOOLEAN)",
)
DELETE_EDGES = "MATCH (a:CausalNode)-[e:CausalEdge]->(b:CausalNode) WHERE e.txn = $txn DELETE e"
DELETE_NODES = "MATCH (n:CausalNode) WHERE n.txn = $txn AND NOT list_contains($ids, n.id) DELETE n"
_NODE_SET = ", ".join(f"n.{f} = r.{f}" for f in NODE_FIELDS if f != "id")
MERGE_NODES = f"UNWIND $rows AS r MERGE (n:CausalNode {{id: r.id}}) SET {_NODE_SET}"
_EDGE_PROPS = ", ".join(f"{f}: r.{f}" for f in EDGE_FIELDS if f not in ("source", "target"))
CREATE_EDGES = (
    "UNWIND $rows AS r MATCH (a:CausalNode {id: r.source}), (b:CausalNode {id: r.target}) "
    f"CREATE (a)-[:CausalEdge {{{_EDGE_PROPS}}}]->(b)"
)
_TXN_SET = ", ".join(f"t.{f} = ${f}" for f in TXN_FIELDS if f != "id")
MERGE_TXN = f"MERGE (t:TransactionRecord {{id: $id}}) SET {_TXN_SET}"
_TXN_COLS = ", ".join(f"t.{f}" for f in TXN_FIELDS)
_NODE_COLS = ", ".join(f"n.{f}" for f in NODE_FIELDS)
_EDGE_COLS = "a.id, b.id, " + ", ".join(f"e.{f}" for f in EDGE_FIELDS if f not in ("source", "target"))
TRANSACTION = f"MATCH (t:TransactionRecord) WHERE t.id = $txn RETURN {_TXN_COLS}"
GRAPH_NODES = f"MATCH (n:CausalNode) WHERE n.txn = $txn RETURN {_NODE_COLS}"
GRAPH_PROCESSES = (
    "MATCH (n:CausalNode)-[e:CausalEdge]->(:CausalNode) WHERE e.txn = $txn AND n.kind = 'process' "
    f"RETURN DISTINCT {_NODE_COLS}"
)
GRAPH_EDGES = f"MATCH (a:CausalNode)-[e:CausalEdge]->(b:CausalNode) WHERE e.txn = $txn RETURN {_EDGE_COLS}"
CHAIN = (
    "MATCH (c:CausalNode {id: $root}), (t:CausalNode {id: $txn_node}) "
    "MATCH p = (c)-[:CausalEdge* SHORTEST 1..25 (r, n | WHERE r.txn = $txn AND r.on_critical_path)]->(t) "
    "RETURN properties(nodes(p), 'id')"
)
UPSTREAM_HOP = (
    "MATCH (a:CausalNode)-[e:CausalEdge]->(b:CausalNode) WHERE list_contains($frontier, b.id) "
    f"AND ($txn = '' OR e.txn = $txn) RETURN {_EDGE_COLS}"
)
DOWNSTREAM_HOP = UPSTREAM_HOP.replace("b.id)", "a.id)")
NODES_BY_ID = f"MATCH (n:CausalNode) WHERE list_contains($ids, n.id) RETURN {_NODE_COLS}"
HIT_BY = (
    f"MATCH (t:TransactionRecord) WHERE t.start_ns >= $start_ns AND t.start_ns < $end_ns "
    "AND t.root_mechanism <> 'none' AND ($pid < 0 OR t.root_pid = $pid) "
    "AND ($comm = '' OR t.root_comm = $comm) AND ($service = '' OR t.root_service = $service) "
    "AND ($mechanism = '' OR t.root_mechanism = $mechanism) "
    f"RETURN {_TXN_COLS} ORDER BY t.start_ns DESC, t.id LIMIT $limit"
)
TOP_ROOT_CAUSES = (
    "MATCH (t:TransactionRecord) WHERE t.start_ns >= $start_ns AND t.start_ns < $end_ns "
    "AND t.root_mechanism <> 'none' "
    "RETURN t.root_mechanism AS mechanism, t.root_pid AS pid, t.root_comm AS comm, t.root_service AS service, "
    "count(*) AS transactions, sum(t.root_contribution_ns) AS contribution_ns "
    "ORDER BY contribution_ns DESC, mechanism, pid LIMIT $limit"
)
_EDGE_NAMES = ("source", "target", *(f for f in EDGE_FIELDS if f not in ("source", "target")))


class LadybugGraphStore:
    """GraphStore in a Ladybug database directory (created on first use)."""

    def __init__(self, path: str) -> None:
        import ladybug

        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        try:
            self._db = ladybug.Database(path)
            self._conn = ladybug.Connection(self._db)
        except RuntimeError as e:
            raise GraphStoreError(
                f"cannot open the embedded graph store {path}: {e}. One process at a time may open it: "
                "stop the other user or use Neo4j (--graph-store bolt://...)") from e
        self._lock = threading.Lock()  # a connection runs one query at a time
        for stmt in SCHEMA:
            self._conn.execute(stmt)

    def _q(self, stmt: str, **params: Any) -> list[list[Any]]:
        with self._lock:
            return self._conn.execute(stmt, params).get_all()

    def write(self, rec: GraphRecord) -> None:
        t = rec.transaction
        txn = t["id"]
        nodes = [{f: n[f] for f in NODE_FIELDS} for n in rec.nodes]
        edges = [{f: e[f] for f in EDGE_FIELDS} for e in rec.edges]
        with self._lock:
            c = self._conn
            c.execute("BEGIN TRANSACTION")
            try:
                c.execute(DELETE_EDGES, {"txn": txn})
                c.execute(DELETE_NODES, {"txn": txn, "ids": [n["id"] for n in nodes]})
                if nodes:
                    c.execute(MERGE_NODES, {"rows": nodes})
                if edges:
                    c.execute(CREATE_EDGES, {"rows": edges})
                c.execute(MERGE_TXN, {f: t[f] for f in TXN_FIELDS})
                c.execute("COMMIT")
            except Exception:
                c.execute("ROLLBACK")
                raise

    def graph(self, txn_id: str) -> GraphRecord | None:
        t = self._q(TRANSACTION, txn=txn_id)
        if not t:
            return None
        rows = self._q(GRAPH_NODES, txn=txn_id) + self._q(GRAPH_PROCESSES, txn=txn_id)
        nodes = list({r[0]: dict(zip(NODE_FIELDS, r, strict=True)) for r in rows}.values())
        edges = [dict(zip(_EDGE_NAMES, r, strict=True)) for r in self._q(GRAPH_EDGES, txn=txn_id)]
        return GraphRecord(dict(zip(TXN_FIELDS, t[0], strict=True)), nodes, edges)

    def chain(self, txn_id: str) -> list[dict[str, Any]]:
        t = self._q(TRANSACTION, txn=txn_id)
        if not t:
            return []
        txn = dict(zip(TXN_FIELDS, t[0], strict=True))
        if not txn["root_node_id"]:
            ids = [f"txn:{txn_id}"]
        else:
            rows = self._q(CHAIN, root=txn["root_node_id"], txn_node=f"txn:{txn_id}", txn=txn_id)
            if not rows:
                return []
            ids = list(reversed(rows[0][0]))
        by_id = {r[0]: dict(zip(NODE_FIELDS, r, strict=True)) for r in self._q(NODES_BY_ID, ids=ids)}
        return [by_id[i] for i in ids if i in by_id]

    def traverse(self, node_id: str, direction: str, max_depth: int = 25, txn_id: str = "") -> tuple[list, list]:
        depth = check_direction(direction, max_depth)
        if not self._q(NODES_BY_ID, ids=[node_id]):
            return [], []
        stmt = UPSTREAM_HOP if direction == UPSTREAM else DOWNSTREAM_HOP
        seen, edges = breadth_first(
            lambda frontier: [dict(zip(_EDGE_NAMES, r, strict=True))
                              for r in self._q(stmt, frontier=frontier, txn=txn_id)],
            node_id, direction, depth)
        nodes = [dict(zip(NODE_FIELDS, r, strict=True)) for r in self._q(NODES_BY_ID, ids=sorted(seen))]
        return nodes, list(edges.values())

    def transactions_hit_by(self, *, pid: int | None = None, comm: str | None = None, service: str | None = None,
                            mechanism: str | None = None, start_ns: int = 0, end_ns: int | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
        rows = self._q(HIT_BY, pid=-1 if pid is None else pid, comm=comm or "", service=service or "",
                       mechanism=mechanism or "", start_ns=start_ns,
                       end_ns=END_OF_TIME if end_ns is None else end_ns, limit=int(limit))
        return [dict(zip(TXN_FIELDS, r, strict=True)) for r in rows]

    def top_root_causes(self, start_ns: int = 0, end_ns: int | None = None, limit: int = 10) -> list[dict[str, Any]]:
        rows = self._q(TOP_ROOT_CAUSES, start_ns=start_ns, end_ns=END_OF_TIME if end_ns is None else end_ns,
                       limit=int(limit))
        names = ("mechanism", "pid", "comm", "service", "transactions", "contribution_ns")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._db.close()
