"""Kernel health by service: the four mechanisms kprobe blames most, as rates over time."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import panels
from dashboards.queries import sql
from dashboards.sql import ns_bucket, ns_range, per_second

UID = "kprobe-kernel-health"


def _by_service(value: str, where: str) -> str:
    return (
        f"SELECT {ns_bucket()}, service_name, {value} AS value FROM kernel_events "
        f"WHERE {where} AND {ns_range()} GROUP BY time, service_name ORDER BY time"
    )


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("kprobe — kernel health")
        .uid(UID)
        .tags(["kprobe"])
        .time("now-1h", "now")
        .refresh("30s")
        .with_panel(panels.series(
            "Off-CPU (blocked) time per second",
            sql("A", _by_service(per_second("sum(duration_ns) / 1e9"),
                                 "event_type = 'SchedSwitch' AND off_cpu_reason = 'BLOCKED'")),
            "s", description="Seconds threads of each service spent blocked, per second."))
        .with_panel(panels.series(
            "Run-queue delay per second",
            sql("A", _by_service(per_second("sum(runq_wait_ns) / 1e9"), "event_type = 'SchedSwitch'")),
            "s", description="Seconds runnable threads waited for a CPU: CPU contention."))
        .with_panel(panels.series(
            "Memory reclaim time per second",
            sql("A", _by_service(per_second("sum(duration_ns) / 1e9"), "event_type = 'MemoryReclaim'")),
            "s", description="Direct and cgroup reclaim stalls inside each service's threads."))
        .with_panel(panels.series(
            "TCP retransmits per second",
            sql("A", _by_service(per_second("count()"), "event_type = 'TCPRetransmit'")),
            "ops"))
        .with_panel(panels.series(
            "Slow fsyncs (> 10 ms) per second",
            sql("A", _by_service(per_second("count()"),
                                 "event_type = 'SyscallFsync' AND duration_ns > 10000000")),
            "ops", width=24))
    )
