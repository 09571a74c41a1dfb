"""GraphStore on Neo4j through the official driver.

Writes of one graph are one transaction: stale edges of the transaction are
deleted, then nodes and edges are upserted in batches (UNWIND + MERGE, one
statement per label / relationship type), so writing a graph twice leaves
the same graph. Every statement comes from cypher.py (checked by a parser
test); `_run` refuses any other.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from causal_processor.graphstore import cypher
from causal_processor.graphstore.base import (
    EDGE_FIELDS,
    END_OF_TIME,
    UPSTREAM,
    GraphRecord,
    GraphStoreError,
    breadth_first,
    check_direction,
    transaction_from_row,
    transaction_row,
)

BATCH = 1000


def _run(tx: Any, statement: str, **params: Any) -> list[Any]:
    if statement not in cypher.STATEMENTS:
        raise AssertionError("statement not in the checked Cypher library")
    return list(tx.run(statement, params))


def _edge(rec: Any) -> dict[str, Any]:
    props = dict(rec["props"])
    e = {k: props.get(k) for k in EDGE_FIELDS}
    e.update(source=rec["source"], target=rec["target"], relation=cypher.rel_type_to_relation(rec["type"]))
    return e


class Neo4jGraphStore:
    def __init__(self, uri: str, user: str = "neo4j", password: str = "", database: str | None = None) -> None:
        import neo4j

        self.database = database
        try:
            self.driver = neo4j.GraphDatabase.driver(uri, auth=(user, password) if password else None)
            self.driver.verify_connectivity()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError, ValueError) as e:
            raise GraphStoreError(f"cannot reach Neo4j at {uri}: {e}") from e
        with self._session() as s:
            for stmt in cypher.SCHEMA:
                s.execute_write(_run, stmt)

    def _session(self) -> Any:
        return self.driver.session(database=self.database) if self.database else self.driver.session()

    def write(self, rec: GraphRecord) -> None:
        txn = rec.transaction["id"]
        by_kind: dict[str, list[dict]] = defaultdict(list)
        for n in rec.nodes:
            if n["kind"] != "transaction":
                by_kind[n["kind"]].append(n)
        by_kind["transaction"] = [transaction_row(rec)]
        by_rel: dict[str, list[dict]] = defaultdict(list)
        for e in rec.edges:
            props = {k: e[k] for k in EDGE_FIELDS if k not in ("source", "target", "relation")}
            by_rel[e["relation"]].append({"source": e["source"], "target": e["target"], "txn": txn, "props": props})
        ids = [n["id"] for n in rec.nodes if n["kind"] != "process"] + [f"txn:{txn}"]

        def work(tx: Any) -> None:
            _run(tx, cypher.DELETE_STALE, txn=txn)
            _run(tx, cypher.DELETE_STALE_NODES, txn=txn, ids=ids)
            for kind, rows in by_kind.items():
                for i in range(0, len(rows), BATCH):
                    _run(tx, cypher.merge_nodes(kind), rows=rows[i:i + BATCH])
            for rel, rows in by_rel.items():
                for i in range(0, len(rows), BATCH):
                    _run(tx, cypher.merge_edges(rel), rows=rows[i:i + BATCH])
            t = rec.transaction
            if t["root_node_id"]:
                _run(tx, cypher.MERGE_ROOT_CAUSE, txn_node=f"txn:{txn}", root=t["root_node_id"],
                     mechanism=t["root_mechanism"], contribution_ns=t["root_contribution_ns"])

        with self._session() as s:
            s.execute_write(work)

    def _read(self, statement: str, **params: Any) -> list[Any]:
        with self._session() as s:
            return s.execute_read(_run, statement, **params)

    def graph(self, txn_id: str) -> GraphRecord | None:
        t = self._read(cypher.TRANSACTION, txn_node=f"txn:{txn_id}")
        if not t:
            return None
        nodes = [dict(r["n"]) for r in self._read(cypher.GRAPH_NODES, txn=txn_id)]
        for n in nodes:
            if n["kind"] == "transaction":
                n["id"], n["txn"] = f"txn:{txn_id}", txn_id
        edges = [_edge(r) for r in self._read(cypher.GRAPH_EDGES, txn=txn_id)]
        return GraphRecord(transaction_from_row(dict(t[0]["t"])), _node_fields(nodes), edges)

    def chain(self, txn_id: str) -> list[dict[str, Any]]:
        t = self._read(cypher.TRANSACTION, txn_node=f"txn:{txn_id}")
        if not t:
            return []
        row = dict(t[0]["t"])
        if not row.get("root_node_id"):
            return _node_fields([row])
        rows = self._read(cypher.CHAIN, txn_node=f"txn:{txn_id}", txn=txn_id)
        if not rows:
            return []
        return _node_fields(list(reversed([dict(n) for n in rows[0]["nodes"]])))

    def traverse(self, node_id: str, direction: str, max_depth: int = 25, txn_id: str = "") -> tuple[list, list]:
        depth = check_direction(direction, max_depth)
        stmt = cypher.UPSTREAM_HOP if direction == UPSTREAM else cypher.DOWNSTREAM_HOP
        if not self._read(cypher.NODES_BY_ID, ids=[node_id]):
            return [], []
        seen, edges = breadth_first(
            lambda frontier: [_edge(r) for r in self._read(stmt, frontier=frontier, txn=txn_id)],
            node_id, direction, depth)
        nodes = [dict(r["n"]) for r in self._read(cypher.NODES_BY_ID, ids=sorted(seen))]
        return _node_fields(nodes), list(edges.values())

    def transactions_hit_by(self, *, pid: int | None = None, comm: str | None = None, service: str | None = None,
                            mechanism: str | None = None, start_ns: int = 0, end_ns: int | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
        rows = self._read(cypher.HIT_BY, pid=pid, comm=comm, service=service, mechanism=mechanism,
                          start_ns=start_ns, end_ns=END_OF_TIME if end_ns is None else end_ns, limit=int(limit))
        return [transaction_from_row(dict(r["t"])) for r in rows]

    def top_root_causes(self, start_ns: int = 0, end_ns: int | None = None, limit: int = 10) -> list[dict[str, Any]]:
        rows = self._read(cypher.TOP_ROOT_CAUSES, start_ns=start_ns,
                          end_ns=END_OF_TIME if end_ns is None else end_ns, limit=int(limit))
        return [dict(r) for r in rows]

    def close(self) -> None:
        self.driver.close()


def _node_fields(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from causal_processor.graphstore.base import NODE_FIELDS

    return [{k: n.get(k) for k in NODE_FIELDS} for n in nodes]
