"""Dashboards as code: the committed JSON is what the code generates, and every query runs
against the real ClickHouse schema (chdb) with the values a known data set predicts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from causal_processor.graphstore.clickhouse import ClickHouseGraphTables
from causal_processor.metrics import ProcessorMetrics
from causal_processor.storage.records import Transaction
from causal_processor.storage.store import ClickHouseEventStore
from dashboards import build
from kprobe import events

# A whole minute, recent enough to be inside the tables' retention TTL.
T0_S = (int(time.time()) // 60 - 2) * 60
FROM_MS, TO_MS, INTERVAL_S = T0_S * 1000, (T0_S + 60) * 1000, 60


def _targets(model: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))

    for panel in walk(model["panels"]):
        for t in panel.get("targets", []):
            yield panel["title"], t


def _expand(sql: str, transaction: str) -> str:
    """The ClickHouse data source's macros, as its backend expands them."""
    sql = sql.replace("$__fromTime_ms", f"fromUnixTimestamp64Milli({FROM_MS})")
    sql = sql.replace("$__toTime_ms", f"fromUnixTimestamp64Milli({TO_MS})")
    sql = sql.replace("$__interval_s", str(INTERVAL_S))
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)",
                 rf"\1 >= toDateTime({T0_S}) AND \1 <= toDateTime({T0_S + 60})", sql)
    sql = re.sub(r"\$__timeInterval\(([^)]+)\)",
                 rf"toStartOfInterval(toDateTime(\1), INTERVAL {INTERVAL_S} second)", sql)
    sql = sql.replace("${transaction}", transaction)
    assert "$" not in sql, f"unexpanded macro in {sql}"
    return sql


def test_committed_json_is_generated() -> None:
    for name, make in build.DASHBOARDS.items():
        committed = build.OUT_DIR / name
        assert committed.exists(), f"{name} missing: run `kprobe dashboards build`"
        assert committed.read_text() == build.to_text(build.render(make)), (
            f"{name} is stale: run `kprobe dashboards build`")


def test_panel_ids_are_unique_and_uids_fixed() -> None:
    uids = set()
    for make in build.DASHBOARDS.values():
        model = build.render(make)
        uids.add(model["uid"])
        ids = [t for t, _ in _targets(model)]
        assert ids, f"{model['title']} has no queries"
    assert uids == {"kprobe-overview", "kprobe-transaction", "kprobe-kernel-health"}


@pytest.fixture
def loaded_store(dsn: str) -> Iterator[ClickHouseEventStore]:
    """A minute of known data: 120 writes, 30 blocked switches of 2 ms, 3 retransmits, 1 reclaim."""
    store = ClickHouseEventStore(dsn)
    ClickHouseGraphTables(store.client)
    base = T0_S * 1_000_000_000
    evs = [events.make_event("SyscallWrite", pid=10, tid=10, timestamp_ns=base + i * 1000,
                             duration_ns=500, bytes=8, fd=3, ret=8) for i in range(120)]
    evs += [events.make_event("SchedSwitch", pid=10, tid=11, timestamp_ns=base + i * 10_000_000,
                              duration_ns=2_000_000, off_cpu_reason="BLOCKED",
                              runq_wait_ns=1_000) for i in range(30)]
    evs += [events.make_event("TCPRetransmit", pid=10, tid=10, timestamp_ns=base + i,
                              saddr="127.0.0.1", sport=1, daddr="127.0.0.1", dport=2)
            for i in range(3)]
    evs.append(events.make_event("MemoryReclaim", pid=10, tid=10, timestamp_ns=base + 5,
                                 duration_ns=800_000_000, reclaim_kind="MEMCG"))
    store.write_events(evs, {10: {"service.name": "settlement-svc", "host.name": "h"}})
    ctx = {**events.empty_context(), "transaction_id": "pay-1", "service": "settlement-svc",
           "operation": "POST /settle", "join_method": "socket", "join_confidence": 0.9}
    store.write_contexts([(ev, ctx) for ev in evs[:5]])
    store.write_transactions([
        Transaction("pay-1", "ab" * 16, "cd" * 8, "payment-handler", "POST /payments", "error",
                    base, 800_000_000, "timeout"),
        Transaction("pay-2", "ef" * 16, "01" * 8, "payment-handler", "POST /payments", "ok",
                    base + 1, 20_000_000),
    ])
    yield store
    store.close()


def _run(store: ClickHouseEventStore, sql: str) -> list[tuple[Any, ...]]:
    return list(store.client.query(_expand(sql, "pay-1")).result_rows)


def test_every_clickhouse_query_runs_on_the_real_schema(loaded_store: ClickHouseEventStore) -> None:
    ran = 0
    for make in build.DASHBOARDS.values():
        for _title, target in _targets(build.render(make)):
            if target["datasource"]["type"] == "grafana-clickhouse-datasource":
                _run(loaded_store, target["rawSql"])
                ran += 1
    assert ran >= 12


def _query(dashboard: str, title: str) -> str:
    model = build.render(build.DASHBOARDS[dashboard])
    return next(t["rawSql"] for t_title, t in _targets(model) if t_title == title)


def test_queries_give_the_known_values(loaded_store: ClickHouseEventStore) -> None:
    rows = _run(loaded_store, _query("kprobe-overview.json", "Kernel events/s by type"))
    per_type = {r[1]: r[2] for r in rows}
    assert per_type == {"SyscallWrite": 2.0, "SchedSwitch": 0.5, "TCPRetransmit": 0.05,
                        "MemoryReclaim": 1 / 60}
    rows = _run(loaded_store, _query("kprobe-overview.json", "Failed transactions"))
    assert [(r[1], r[2]) for r in rows] == [("payment-handler", 1)]
    rows = _run(loaded_store, _query("kprobe-kernel-health.json", "Off-CPU (blocked) time per second"))
    assert [(r[1], round(r[2], 9)) for r in rows] == [("settlement-svc", 0.001)]
    rows = _run(loaded_store, _query("kprobe-kernel-health.json", "Memory reclaim time per second"))
    assert [(r[1], round(r[2], 9)) for r in rows] == [("settlement-svc", round(0.8 / 60, 9))]
    rows = _run(loaded_store, _query("kprobe-transaction.json", "Kernel events of the transaction"))
    assert len(rows) == 5 and all(r[9] == "settlement-svc" for r in rows)


def test_prometheus_metrics_exist_in_the_processor() -> None:
    families = {f.name for f in ProcessorMetrics().registry.collect()}
    used = set()
    for make in build.DASHBOARDS.values():
        for _, target in _targets(build.render(make)):
            if target["datasource"]["type"] == "prometheus":
                used |= set(re.findall(r"kprobe_processor_[a-z_]+", target["expr"]))
    assert used
    for name in used:
        assert name.removesuffix("_total") in families, name


def test_every_data_source_a_dashboard_uses_is_provisioned() -> None:
    import yaml

    provisioned = {
        ds["uid"]: ds["type"]
        for path in (build.OUT_DIR.parent / "datasources").glob("*.yaml")
        for ds in yaml.safe_load(path.read_text())["datasources"]
    }
    used = {
        (t["datasource"]["uid"], t["datasource"]["type"])
        for make in build.DASHBOARDS.values()
        for _, t in _targets(build.render(make))
    }
    assert {uid for uid, _ in used} == {"kprobe-clickhouse", "kprobe-prometheus", "kprobe-api"}
    for uid, kind in used:
        assert provisioned.get(uid) == kind, f"{uid} ({kind}) is not provisioned as such"
