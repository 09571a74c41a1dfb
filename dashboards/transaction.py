"""One transaction, drilled down: causal graph, timeline and replay side by side, then the evidence."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from causal_processor.graphstore.clickhouse import EDGES_SQL, NODES_SQL
from dashboards import panels
from dashboards.datasources import plugin_id
from dashboards.queries import kprobe, sql

UID = "kprobe-transaction"
TXN = "${transaction}"

_TRACE_OF_TXN = (
    f"(SELECT trace_id FROM transactions FINAL WHERE transaction_id = '{TXN}' LIMIT 1)"
)


def _engine_sql(text: str) -> str:
    """The causal engine's own node/edge query, bound to the dashboard's transaction variable."""
    return text.replace("{txn:String}", f"'{TXN}'")


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("kprobe — transaction")
        .uid(UID)
        .tags(["kprobe"])
        .time("now-6h", "now")
        .with_variable(
            dashboard.TextBoxVariable("transaction")
            .label("Transaction id")
            .description("payment.id / transaction.id, or the trace id")
        )
        .with_panel(panels.plugin_panel(
            plugin_id("panels/causal-graph"), "Causal graph",
            kprobe("A", "graph", transactionId=TXN), width=12, height=14))
        .with_panel(panels.plugin_panel(
            plugin_id("panels/timeline"), "Timeline (ns)",
            kprobe("A", "timeline", transactionId=TXN), width=12, height=14))
        .with_panel(panels.plugin_panel(
            plugin_id("panels/replay"), "Replay",
            kprobe("A", "graph", transactionId=TXN), width=24, height=10))
        .with_panel(panels.node_graph(
            "Causal graph (Grafana Node Graph, from ClickHouse)",
            sql("nodes", _engine_sql(NODES_SQL), "table"),
            sql("edges", _engine_sql(EDGES_SQL), "table")))
        .with_panel(panels.grid(
            "Transaction",
            sql("A", "SELECT transaction_id, trace_id, service, operation, status, "
                     "duration_ns / 1e6 AS duration_ms, error FROM transactions FINAL "
                     f"WHERE transaction_id = '{TXN}'", "table"), height=4))
        .with_panel(panels.grid(
            "Trace (application and kernel spans)",
            sql("A", "SELECT TraceId AS traceID, SpanId AS spanID, ParentSpanId AS parentSpanID, "
                     "ServiceName AS serviceName, SpanName AS operationName, "
                     "toUnixTimestamp64Nano(Timestamp) / 1e6 AS startTime, Duration / 1e6 AS duration, "
                     "arrayMap(k -> map('key', k, 'value', SpanAttributes[k]), "
                     "mapKeys(SpanAttributes)) AS tags, "
                     "arrayMap(k -> map('key', k, 'value', ResourceAttributes[k]), "
                     "mapKeys(ResourceAttributes)) AS serviceTags "
                     f"FROM otel_traces WHERE TraceId = {_TRACE_OF_TXN}", "traces"), height=12))
        .with_panel(panels.grid(
            "Kernel events of the transaction",
            sql("A", "SELECT e.timestamp_ns, e.pid, e.tid, e.comm, e.event_type, e.duration_ns, "
                     "e.fd, e.bytes, e.ret, c.service, c.operation, c.join_method, c.join_confidence "
                     "FROM kernel_events AS e INNER JOIN "
                     "(SELECT * FROM event_context FINAL "
                     f"WHERE transaction_id = '{TXN}') AS c ON c.event_id = e.event_id "
                     "ORDER BY e.timestamp_ns LIMIT 5000", "table"), height=12))
    )
