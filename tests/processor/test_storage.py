"""ClickHouseEventStore on real chdb: schema, dedup, and the queries the API/engine use."""

from __future__ import annotations

import re
import time

import pytest

from causal_processor.causal.store_source import _CONTEXT_SQL, _EVENTS_SQL, StoreSource
from causal_processor.storage import schema
from causal_processor.storage.clickhouse import StorageError, connect, split_dsn
from causal_processor.storage.records import Transaction, span_row
from causal_processor.storage.store import ClickHouseEventStore, batch_token
from kprobe import events, otlp


def _ctx(txn: str, **kw):
    return dict(events.empty_context(), transaction_id=txn, service="payments", operation="POST /pay",
                trace_id="ab" * 16, span_id="cd" * 8, join_method="server_recv",
                join_confidence=0.95, **kw)


def test_kernel_events_columns_come_from_the_proto():
    names = [n for n, _ in schema.EVENT_COLUMNS]
    assert names[: len(events.EVENT_FIELDS)] == [f.name for f in events.EVENT_FIELDS]
    types = dict(schema.EVENT_COLUMNS)
    assert types["event_id"] == "UInt64" and types["bytes"] == "Int64"
    assert types["event_type"] == "LowCardinality(String)" and types["major"] == "Bool"


def test_migrations_are_idempotent(store):
    assert schema.migrate(store.client) == []
    tables = {r[0] for r in store.client.query("SHOW TABLES").result_rows}
    assert {"otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv", "kernel_events",
            "event_context", "transactions", "schema_migrations", "otel_metrics_sum",
            "otel_metrics_gauge"} <= tables
    versions = store.client.query("SELECT version FROM schema_migrations ORDER BY version").result_rows
    assert versions == [(1,), (2,), (3,), (4,), (5,)]
    for table in ("otel_traces", "kernel_events", "event_context", "transactions"):
        ddl = store.client.query(f"SHOW CREATE TABLE {table}").result_rows[0][0]
        assert "TTL" in ddl and "toIntervalDay(30)" in ddl, table
    for table in ("kernel_events", "event_context"):
        assert "PROJECTION by_time" in store.client.query(f"SHOW CREATE TABLE {table}").result_rows[0][0]
    context_columns = [r[0] for r in store.client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'event_context'"
        ).result_rows]
    assert context_columns == [*(n for n, _ in schema.CONTEXT_COLUMNS), "event"]


def test_contexts_written_before_migration_4_get_their_events(dsn):
    """A database of the previous schema: its event_context rows carry no event; the events of
    such a transaction are read from kernel_events."""
    client = connect(dsn)
    client.command(schema._MIGRATIONS_TABLE)
    for m in schema.migrations(30)[:3]:
        for stmt in m.statements:
            client.command(stmt)
        client.insert("schema_migrations", [[m.version, m.name, 0]], column_names=["version", "name", "applied_at"])
    now = time.time_ns()
    evs = [events.make_event("TCPSend", pid=7, tid=8, timestamp_ns=now + i, fd=4, bytes=10 + i, ret=10 + i,
                             saddr="10.0.0.1", sport=80, daddr="10.0.0.2", dport=9000) for i in range(5)]
    store = ClickHouseEventStore(dsn, migrate=False)
    store.write_events(evs, {7: {"service.name": "payments"}})
    client.insert("event_context", [[e["event_id"], e["timestamp_ns"], 7, 8, "TCPSend",
                                     *(_ctx("pay-old")[f.name] for f in events.CONTEXT_FIELDS), 1] for e in evs],
                  column_names=[n for n, _ in schema.CONTEXT_COLUMNS])
    assert schema.migrate(client) == [4, 5]
    got = store.transaction_events("pay-old")
    assert [{k: v for k, v in e.items() if k != "financial_context"} for e in got] == [
        {k: v for k, v in e.items() if k != "financial_context"} for e in evs]
    assert {e["financial_context"]["transaction_id"] for e in got} == {"pay-old"}
    store.close()


def test_otel_traces_has_the_collector_exporter_columns(store):
    cols = dict(store.client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = 'otel_traces'").result_rows)
    assert cols["Timestamp"] == "DateTime64(9)"
    assert cols["Duration"] == "UInt64"
    assert cols["SpanAttributes"] == "Map(LowCardinality(String), String)"
    assert cols["Events.Timestamp"] == "Array(DateTime64(9))"
    assert cols["Links.TraceId"] == "Array(String)"
    assert list(cols) == list(schema.OTEL_TRACES_COLUMNS)


def test_retried_batch_and_resent_rows_are_stored_once(store):
    now = time.time_ns()
    evs = [events.make_event("SyscallWrite", pid=7, tid=8, timestamp_ns=now + i, bytes=8, ret=8)
           for i in range(100)]
    token = batch_token("events", (e["event_id"] for e in evs))
    store.write_events(evs, token=token)
    store.write_events(evs, token=token)  # the same batch retried
    store.write_events([*evs[:10], events.make_event("PageFault", pid=7, tid=8, timestamp_ns=now)])
    n = store.client.query("SELECT count() FROM kernel_events FINAL").result_rows[0][0]
    assert n == 101
    page = store.events_in_range(now, now + 1000, limit=1000)
    assert len(page.events) == 101 and page.next_cursor is None


def test_transaction_events_and_pagination(store):
    now = time.time_ns()
    mine = [events.make_event("SyscallWrite", pid=7, tid=8, timestamp_ns=now + i * 10, bytes=1, ret=1)
            for i in range(30)]
    other = [events.make_event("SchedSwitch", pid=9, tid=9, timestamp_ns=now + i * 10 + 5,
                               off_cpu_reason="PREEMPTED") for i in range(30)]
    store.write_events(mine + other, {7: {"service.name": "payments"}})
    store.write_contexts([(e, _ctx("pay-1")) for e in mine])
    got = store.transaction_events("pay-1")
    assert [e["event_id"] for e in got] == [e["event_id"] for e in mine]
    assert {e["financial_context"]["transaction_id"] for e in got} == {"pay-1"}
    assert got[0]["financial_context"]["join_confidence"] == pytest.approx(0.95)
    events.validate_event(got[0])
    assert store.transaction_events("no-such-txn") == []

    seen, cursor = [], None
    while True:
        page = store.events_in_range(now, now + 10_000, limit=7, after=cursor)
        seen += page.events
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 60 and [e["timestamp_ns"] for e in seen] == sorted(e["timestamp_ns"] for e in seen)
    offcpu = store.events_in_range(now, now + 10_000, pids=[9], event_types=["SchedSwitch"])
    assert len(offcpu.events) == 30 and offcpu.events[0]["off_cpu_reason"] == "PREEMPTED"
    by_service = store.events_in_range(now, now + 10_000, services=["payments"])
    assert {e["pid"] for e in by_service.events} == {7}


def test_spans_and_transactions(store):
    now = time.time_ns()
    ev = events.make_event("TCPRecv", pid=7, tid=8, timestamp_ns=now, saddr="127.0.0.1", sport=80,
                           daddr="127.0.0.1", dport=5555, bytes=10, ret=10,
                           financial_context=_ctx("pay-2"))
    span = otlp.event_to_span(ev)
    store.write_span_rows([span_row(span, {"service.name": "payments"}, otlp.SCOPE_NAME, "1")])
    assert store.trace_spans("ab" * 16) == []
    spans = store.trace_spans("ab" * 16, include_kernel=True)
    assert len(spans) == 1 and spans[0].start_ns == now and spans[0].parent_span_id == "cd" * 8
    assert spans[0].attributes["kprobe.event_type"] == "TCPRecv"
    store.write_transactions([Transaction("pay-2", "ab" * 16, "cd" * 8, "payments", "POST /pay",
                                          "error", now, 5_000_000, "timeout")])
    store.write_transactions([Transaction("pay-3", "ef" * 16, "cd" * 8, "ledger", "write",
                                          "ok", now + 1, 1_000_000)])
    assert store.transaction("pay-2").error == "timeout"
    assert [t.transaction_id for t in store.find_transactions(status="error")] == ["pay-2"]
    assert [t.transaction_id for t in store.find_transactions(min_duration_ns=2_000_000)] == ["pay-2"]
    assert [t.transaction_id for t in store.find_transactions(start_ns=now)] == ["pay-3", "pay-2"]


def test_dsn_errors_are_one_line():
    with pytest.raises(StorageError, match="unsupported ClickHouse DSN"):
        split_dsn("mysql://x")
    assert split_dsn("chdb:///a/b?database=x") == ("chdb:///a/b", "x")
    assert split_dsn("http://h:8123/db") == ("http://h:8123", "db")


def test_a_second_chdb_directory_in_one_process_is_a_clear_error(store, tmp_path):
    with pytest.raises(StorageError, match="one data directory per process"):
        connect(f"chdb://{tmp_path}")


def test_a_revoked_context_hides_the_event_from_its_old_transaction(store):
    now = time.time_ns()
    ev = events.make_event("SyscallWrite", pid=7, tid=8, timestamp_ns=now, bytes=1, ret=1)
    store.write_events([ev])
    store.write_contexts([(ev, _ctx("old-txn"))])
    assert len(store.transaction_events("old-txn")) == 1
    time.sleep(0.001)
    store.write_contexts([(ev, {**_ctx("old-txn"), "join_method": ""})])
    store.write_contexts([(ev, _ctx("new-txn"))])
    assert store.transaction_events("old-txn") == []
    assert [e["event_id"] for e in store.transaction_events("new-txn")] == [ev["event_id"]]


def test_a_time_window_over_every_process_reads_the_time_ordered_projections(store):
    """kernel_events is ordered by pid first, event_context by transaction id: a window across 8
    interleaved processes would read a granule per pid, and every granule of the contexts; the
    causal engine's window reads go to the by_time projections instead."""
    base = 1_800_000_000_000_000_000
    store.client.command(
        "INSERT INTO kernel_events (event_id, timestamp_ns, pid, tid, event_type, comm) SELECT "
        f"cityHash64(number), {base} + number * 1000, 1000 + number % 8, 1, 'PageFault', 'w' "
        "FROM numbers(200000)")
    store.client.command(
        "INSERT INTO event_context (event_id, timestamp_ns, pid, tid, event_type, transaction_id, service, "
        f"join_method, joined_at_ns) SELECT cityHash64(number), {base} + number * 1000, 1000 + number % 8, 1, "
        "'PageFault', hex(cityHash64(intDiv(number, 20))), 'payments', 'server_recv', 1 FROM numbers(200000)")
    lo, hi = base + 100_000_000, base + 101_000_000  # 1 ms: 1000 events of all 8 processes
    params = {"lo": lo, "hi": hi}

    def plan(sql: str, use_projections: int) -> str:
        rows = store.client.query(f"EXPLAIN indexes = 1, projections = 1 {sql}", parameters=params,
                                  settings={"optimize_use_projections": use_projections}).result_rows
        return "\n".join(r[0] for r in rows)

    def granules(text: str) -> int:
        return int(re.findall(r"Granules: (\d+)/\d+", text)[-1])

    for sql in (_EVENTS_SQL, _CONTEXT_SQL):
        with_projection, without = plan(sql, 1), plan(sql, 0)
        assert "ReadFromMergeTree (by_time)" in with_projection and "by_time" not in without
        assert granules(with_projection) <= 2 < 8 <= granules(without)
    got = StoreSource(store).events_between(lo, hi)
    expected = dict(store.client.query(
        "SELECT event_id, transaction_id FROM event_context WHERE timestamp_ns >= {lo:UInt64} AND "
        "timestamp_ns < {hi:UInt64}", parameters=params, settings={"optimize_use_projections": 0}).result_rows)
    assert len(got) == len(expected) == 1000
    assert dict(zip(got.event_id.tolist(), got.txn.tolist(), strict=True)) == expected
