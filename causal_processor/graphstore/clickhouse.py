"""Causal graphs as ClickHouse tables shaped for Grafana's Node Graph panel.

Columns carry the panel's field names (id, title, subtitle, mainstat,
secondarystat, color, arc__*, detail__* for nodes; id, source, target,
mainstat, secondarystat, thickness, color, strokeDasharray, detail__* for
edges), so a panel reads a transaction's graph with plain SQL: NODES_SQL and
EDGES_SQL below (Grafana: replace {txn:String} with the dashboard variable).
Every write of a transaction's graph carries one version; reads keep the
newest version only, so a graph re-explained later leaves nothing stale.
"""

from __future__ import annotations

import time
from typing import Any

from causal_processor.graphstore.base import GraphRecord

RETENTION_DAYS = 30
_TTL = "TTL toDateTime(intDiv(version_ns, 1000000000)) + toIntervalDay({days})"

NODES_DDL = """CREATE TABLE IF NOT EXISTS causal_nodes (
  transaction_id String, id String, title String, subtitle String, mainstat String,
  secondarystat String, color String, arc__critical Float64, arc__other Float64,
  detail__kind LowCardinality(String), detail__pid UInt32, detail__tid UInt32, detail__comm String,
  detail__service LowCardinality(String), detail__event_type LowCardinality(String),
  detail__event_id String, start_ns UInt64, duration_ns UInt64, critical_path_ns UInt64,
  on_critical_path Bool, version_ns UInt64
) ENGINE = ReplacingMergeTree(version_ns) ORDER BY (transaction_id, id) """ + _TTL

EDGES_DDL = """CREATE TABLE IF NOT EXISTS causal_edges (
  transaction_id String, id String, source String, target String, mainstat String,
  secondarystat String, color String, thickness Float64, strokeDasharray String,
  detail__relation LowCardinality(String), detail__inferred Bool, detail__share Float64,
  detail__confidence Float64, latency_contribution_ns UInt64, on_critical_path Bool, version_ns UInt64
) ENGINE = ReplacingMergeTree(version_ns) ORDER BY (transaction_id, id) """ + _TTL

_LATEST = "version_ns = (SELECT max(version_ns) FROM {t} WHERE transaction_id = {{txn:String}})"
NODES_SQL = (
    "SELECT id, title, subtitle, mainstat, secondarystat, color, arc__critical, arc__other, "
    "detail__kind, detail__pid, detail__comm, detail__service, detail__event_type "
    "FROM causal_nodes FINAL WHERE transaction_id = {txn:String} AND " + _LATEST.format(t="causal_nodes")
    + " ORDER BY start_ns, id"
)
EDGES_SQL = (
    "SELECT id, source, target, mainstat, secondarystat, color, thickness, strokeDasharray, "
    "detail__relation, detail__inferred, detail__share "
    "FROM causal_edges FINAL WHERE transaction_id = {txn:String} AND " + _LATEST.format(t="causal_edges")
    + " ORDER BY id"
)

NODE_COLUMNS = ("transaction_id", "id", "title", "subtitle", "mainstat", "secondarystat", "color",
                "arc__critical", "arc__other", "detail__kind", "detail__pid", "detail__tid", "detail__comm",
                "detail__service", "detail__event_type", "detail__event_id", "start_ns", "duration_ns",
                "critical_path_ns", "on_critical_path", "version_ns")
EDGE_COLUMNS = ("transaction_id", "id", "source", "target", "mainstat", "secondarystat", "color", "thickness",
                "strokeDasharray", "detail__relation", "detail__inferred", "detail__share", "detail__confidence",
                "latency_contribution_ns", "on_critical_path", "version_ns")
_COLORS = {"transaction": "#5794F2", "span": "#73BF69", "kernel_event": "#FF9830", "process": "#F2495C"}


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.2f} ms"


class ClickHouseGraphTables:
    """Writes and reads causal_nodes / causal_edges through a clickhouse-connect client
    (obtain it from causal_processor.storage.clickhouse.connect)."""

    def __init__(self, client: Any, retention_days: int = RETENTION_DAYS) -> None:
        self.client = client
        client.command(NODES_DDL.format(days=retention_days))
        client.command(EDGES_DDL.format(days=retention_days))

    def write(self, rec: GraphRecord) -> None:
        txn = rec.transaction["id"]
        e2e = max(1, int(rec.transaction["duration_ns"]))
        version = time.time_ns()
        nodes = []
        for n in rec.nodes:
            crit = int(n["critical_path_ns"] or 0)
            frac = min(1.0, crit / e2e)
            nodes.append([
                txn, n["id"], n["label"], n["service"] or n["comm"] or n["kind"],
                _ms(crit) if crit else _ms(int(n["duration_ns"] or 0)),
                f"pid {n['pid']}" if n["pid"] else "", _COLORS.get(n["kind"], "#8AB8FF"),
                frac, 1.0 - frac, n["kind"], int(n["pid"] or 0), int(n["tid"] or 0), n["comm"] or "",
                n["service"] or "", n["event_type"] or "", n["event_id"] or "", int(n["start_ns"] or 0),
                int(n["duration_ns"] or 0), crit, bool(n["on_critical_path"]), version,
            ])
        edges = []
        for e in rec.edges:
            c = int(e["latency_contribution_ns"])
            edges.append([
                txn, f"{e['source']}>{e['target']}>{e['relation']}", e["source"], e["target"],
                _ms(c) if c else "", e["relation"] + (f" {e['share']:.0%}" if e["inferred"] else ""),
                "#F2495C" if e["on_critical_path"] else "#8E8E8E", 1.0 + 9.0 * min(1.0, c / e2e),
                "5 3" if e["inferred"] else "", e["relation"], bool(e["inferred"]), float(e["share"]),
                float(e["confidence"]), c, bool(e["on_critical_path"]), version,
            ])
        if nodes:
            self.client.insert("causal_nodes", nodes, column_names=list(NODE_COLUMNS))
        if edges:
            self.client.insert("causal_edges", edges, column_names=list(EDGE_COLUMNS))

    def node_graph(self, txn_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(nodes, edges) frames as the Node Graph panel reads them."""
        n = self.client.query(NODES_SQL, parameters={"txn": txn_id})
        e = self.client.query(EDGES_SQL, parameters={"txn": txn_id})
        return ([dict(zip(n.column_names, r, strict=True)) for r in n.result_rows],
                [dict(zip(e.column_names, r, strict=True)) for r in e.result_rows])
