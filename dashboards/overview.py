"""kprobe overview: is capture healthy, are joins happening, which transactions fail and why."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import panels
from dashboards.queries import kprobe, promql, sql
from dashboards.sql import ns_bucket, ns_range, per_second

UID = "kprobe-overview"


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("kprobe — overview")
        .uid(UID)
        .tags(["kprobe"])
        .time("now-1h", "now")
        .refresh("30s")
        .with_row(dashboard.Row("Capture"))
        .with_panel(panels.series(
            "Kernel events/s by type",
            sql("A", f"SELECT {ns_bucket()}, event_type, {per_second('count()')} AS events "
                     f"FROM kernel_events WHERE {ns_range()} GROUP BY time, event_type ORDER BY time"),
            "ops", width=16,
            description="Events stored by the processor, per event type."))
        .with_panel(panels.series(
            "Lost kernel events/s",
            promql("A", "sum(rate(kprobe_receiver_lost_events_total[$__rate_interval]))", "lost"),
            "ops", width=8,
            description="Ring-buffer reservations that failed in the receiver: never silent."))
        .with_row(dashboard.Row("Join"))
        .with_panel(panels.series(
            "Join rate",
            promql("A", "sum(rate(kprobe_processor_events_joined_total[$__rate_interval])) / "
                        "sum(rate(kprobe_processor_events_stored_total[$__rate_interval]))", "joined"),
            "percentunit", width=12,
            description="Share of stored kernel events that got a transaction context."))
        .with_panel(panels.series(
            "Joins by method",
            sql("A", f"SELECT {ns_bucket()}, join_method, count() AS events FROM event_context "
                     f"WHERE {ns_range()} GROUP BY time, join_method ORDER BY time"),
            "short", width=12))
        .with_row(dashboard.Row("Transactions"))
        .with_panel(panels.series(
            "Failed transactions",
            sql("A", f"SELECT {ns_bucket('start_ns')}, service, count() AS failed "
                     f"FROM transactions FINAL WHERE status = 'error' AND {ns_range('start_ns')} "
                     "GROUP BY time, service ORDER BY time"),
            "short", width=12))
        .with_panel(panels.series(
            "Latency by service (p99 of server spans)",
            sql("A", "SELECT $__timeInterval(Timestamp) AS time, ServiceName, "
                     "quantile(0.99)(Duration) / 1e6 AS p99_ms FROM otel_traces "
                     "WHERE $__timeFilter(Timestamp) AND SpanKind = 'Server' "
                     "GROUP BY time, ServiceName ORDER BY time"),
            "ms", width=12))
        .with_panel(panels.grid(
            "Top root causes",
            kprobe("A", "topRootCauses", limit=10), width=12))
        .with_panel(panels.grid(
            "Slowest failed transactions",
            sql("A", "SELECT transaction_id, service, operation, duration_ns / 1e6 AS duration_ms, "
                     "error FROM transactions FINAL WHERE status = 'error' AND "
                     f"{ns_range('start_ns')} ORDER BY duration_ns DESC LIMIT 50", "table"), width=12))
    )
