"""The plain in-process GraphStore: dicts and adjacency lists, no persistence.

Measured beside Ladybug in bench/causal (docs/ARCHITECTURE.md says which is the
default and why); it is also the reference the contract tests hold the
Cypher stores to.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict, deque
from typing import Any

from causal_processor.graphstore.base import (
    END_OF_TIME,
    UPSTREAM,
    GraphRecord,
    check_direction,
)


class MemoryGraphStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._txns: dict[str, dict[str, Any]] = {}
        self._nodes: dict[str, dict[str, Any]] = {}
        self._edges: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._out: dict[str, set] = defaultdict(set)  # node -> edge keys leaving it
        self._in: dict[str, set] = defaultdict(set)
        self._by_txn: dict[str, set] = defaultdict(set)  # txn -> edge keys

    def write(self, rec: GraphRecord) -> None:
        rec = copy.deepcopy(rec)
        tid = rec.transaction["id"]
        with self._lock:
            for k in self._by_txn.pop(tid, set()):
                e = self._edges.pop(k)
                self._out[e["source"]].discard(k)
                self._in[e["target"]].discard(k)
            self._txns[tid] = rec.transaction
            keep = {n["id"] for n in rec.nodes}
            for stale in [i for i, n in self._nodes.items() if n.get("txn") == tid and i not in keep]:
                del self._nodes[stale]
            for n in rec.nodes:
                self._nodes[n["id"]] = {**self._nodes.get(n["id"], {}), **n}
            self._nodes[f"txn:{tid}"] = {**self._nodes.get(f"txn:{tid}", {}), "txn": tid}
            for e in rec.edges:
                k = (e["source"], e["target"], e["relation"], tid)
                self._edges[k] = e
                self._out[e["source"]].add(k)
                self._in[e["target"]].add(k)
                self._by_txn[tid].add(k)

    def graph(self, txn_id: str) -> GraphRecord | None:
        with self._lock:
            txn = self._txns.get(txn_id)
            if txn is None:
                return None
            edges = [dict(self._edges[k]) for k in self._by_txn.get(txn_id, ())]
            ids = {e["source"] for e in edges} | {e["target"] for e in edges}
            ids |= {i for i, n in self._nodes.items() if n.get("txn") == txn_id}
            return GraphRecord(dict(txn), [dict(self._nodes[i]) for i in ids if i in self._nodes], edges)

    def chain(self, txn_id: str) -> list[dict[str, Any]]:
        with self._lock:
            txn = self._txns.get(txn_id)
            if txn is None:
                return []
            return [dict(self._nodes[i]) for i in txn.get("chain", []) if i in self._nodes]

    def traverse(self, node_id: str, direction: str, max_depth: int = 25, txn_id: str = "") -> tuple[list, list]:
        depth = check_direction(direction, max_depth)
        with self._lock:
            if node_id not in self._nodes:
                return [], []
            seen = {node_id}
            edges: dict[tuple, dict] = {}
            q = deque([(node_id, 0)])
            while q:
                cur, d = q.popleft()
                if d >= depth:
                    continue
                keys = self._in[cur] if direction == UPSTREAM else self._out[cur]
                for k in keys:
                    e = self._edges[k]
                    if txn_id and e["txn"] != txn_id:
                        continue
                    edges[k] = dict(e)
                    nxt = e["source"] if direction == UPSTREAM else e["target"]
                    if nxt not in seen:
                        seen.add(nxt)
                        q.append((nxt, d + 1))
            return [dict(self._nodes[i]) for i in seen if i in self._nodes], list(edges.values())

    def transactions_hit_by(self, *, pid: int | None = None, comm: str | None = None, service: str | None = None,
                            mechanism: str | None = None, start_ns: int = 0, end_ns: int | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
        end = END_OF_TIME if end_ns is None else end_ns
        with self._lock:
            out = [dict(t) for t in self._txns.values()
                   if t["root_mechanism"] != "none" and start_ns <= t["start_ns"] < end
                   and (pid is None or t["root_pid"] == pid) and (comm is None or t["root_comm"] == comm)
                   and (service is None or t["root_service"] == service)
                   and (mechanism is None or t["root_mechanism"] == mechanism)]
        out.sort(key=lambda t: (-t["start_ns"], t["id"]))
        return out[:limit]

    def top_root_causes(self, start_ns: int = 0, end_ns: int | None = None, limit: int = 10) -> list[dict[str, Any]]:
        end = END_OF_TIME if end_ns is None else end_ns
        agg: dict[tuple, dict[str, Any]] = {}
        with self._lock:
            for t in self._txns.values():
                if t["root_mechanism"] == "none" or not start_ns <= t["start_ns"] < end:
                    continue
                key = (t["root_mechanism"], t["root_pid"], t["root_comm"], t["root_service"])
                a = agg.setdefault(key, {"mechanism": key[0], "pid": key[1], "comm": key[2], "service": key[3],
                                         "transactions": 0, "contribution_ns": 0})
                a["transactions"] += 1
                a["contribution_ns"] += t["root_contribution_ns"]
        out = sorted(agg.values(), key=lambda a: (-a["contribution_ns"], a["mechanism"], a["pid"]))
        return out[:limit]

    def close(self) -> None:
        pass
