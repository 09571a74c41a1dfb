"""EventStore: the typed interface to stored events, spans and transactions.

The processor writes through it; the causal engine, the API and replay read through
it. Queries deduplicate on read (`LIMIT 1 BY`), so a row written twice before
ReplacingMergeTree merges it is still returned once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from causal_processor.app_span import AppSpan
from causal_processor.storage import schema
from causal_processor.storage.clickhouse import connect
from causal_processor.storage.records import SPAN_COLUMNS, EventPage, Transaction, span_from_row
from kprobe import events

_EVENT_NAMES = tuple(n for n, _ in schema.EVENT_COLUMNS)
_CONTEXT_NAMES = tuple(n for n, _ in schema.CONTEXT_COLUMNS)
_TXN_NAMES = tuple(n for n, _ in schema.TRANSACTION_COLUMNS)
_CTX_FIELDS = tuple(f.name for f in events.CONTEXT_FIELDS)
_ZERO = {"int": 0, "uint": 0, "float": 0.0, "bool": False, "str": "", "enum": ""}
_EVENT_DEFAULTS = {f.name: _ZERO[f.kind] for f in events.EVENT_FIELDS}
_TRANSACTION_EVENTS_SQL = (
    "SELECT event FROM event_context WHERE transaction_id = {t:String} "
    "ORDER BY joined_at_ns DESC LIMIT 1 BY event_id"
)
# contexts written before event_context carried the event (schema migration 4)
_STORED_EVENTS_OF_TRANSACTION_SQL = (
    "SELECT " + ", ".join(f"e.`{n}`" for n in _EVENT_NAMES[:-2]) + ", c.ctx FROM kernel_events AS e "
    "INNER JOIN (SELECT event_id AS ctx_event_id, argMax(tuple(" + ", ".join(_CTX_FIELDS) + "), "
    "joined_at_ns) AS ctx FROM event_context WHERE transaction_id = {t:String} "
    "GROUP BY event_id) AS c ON e.event_id = c.ctx_event_id "
    "WHERE (e.pid, e.timestamp_ns) IN (SELECT pid, timestamp_ns FROM event_context "
    "WHERE transaction_id = {t:String}) ORDER BY e.timestamp_ns, e.event_id LIMIT 1 BY e.event_id "
    "SETTINGS output_format_json_quote_64bit_integers = 0, output_format_json_named_tuples_as_objects = 0"
)


def _event_json(ev: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    """The joined event as transaction_events returns it (its type's fields, the context)."""
    own = {f.name: ev.get(f.name, _EVENT_DEFAULTS[f.name]) for f in events.fields_for(ev["event_type"])}
    own["financial_context"] = {f: ctx[f] for f in _CTX_FIELDS}
    return json.dumps(own, separators=(",", ":"))


class EventStore(Protocol):
    """What the API, the causal engine and replay may ask of storage."""

    def transaction_events(self, transaction_id: str) -> list[dict[str, Any]]:
        """Every event joined to the transaction, time-ordered, context filled."""
        ...

    def events_in_range(
        self,
        start_ns: int,
        end_ns: int,
        *,
        pids: Sequence[int] = (),
        tids: Sequence[int] = (),
        services: Sequence[str] = (),
        event_types: Sequence[str] = (),
        limit: int = 1000,
        after: tuple[int, int] | None = None,
    ) -> EventPage:
        """Events in [start_ns, end_ns), any process unless filtered, one page."""
        ...

    def trace_spans(self, trace_id: str, *, include_kernel: bool = False) -> list[AppSpan]:
        """Spans of a trace, start-ordered (application spans unless include_kernel)."""
        ...

    def app_spans_since(self, start_ns: int) -> list[AppSpan]:
        """Application spans that ended at or after start_ns (to rebuild the join)."""
        ...

    def transaction(self, transaction_id: str) -> Transaction | None: ...

    def find_transactions(
        self,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        status: str | None = None,
        service: str | None = None,
        min_duration_ns: int | None = None,
        max_duration_ns: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Transaction]:
        """Transactions starting in the range, newest first."""
        ...


def batch_token(kind: str, keys: Iterable[Any]) -> str:
    """A deduplication token for a batch: the same rows retried give the same token."""
    h = hashlib.blake2b(kind.encode(), digest_size=16)
    for k in keys:
        h.update(str(k).encode())
        h.update(b"\0")
    return h.hexdigest()


class ClickHouseEventStore:
    """EventStore on ClickHouse (chdb or server), plus the processor's writes.

    One client per thread: clickhouse-connect clients must not stream two results at
    once, and chdb clients on one data directory share the engine cheaply.
    """

    def __init__(self, dsn: str | None = None, *, retention_days: int = 30, migrate: bool = True):
        self.dsn = dsn
        self._local = threading.local()
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()
        self._last_joined_at = 0
        if migrate:
            schema.migrate(self.client, retention_days)

    @property
    def client(self) -> Client:
        c = getattr(self._local, "client", None)
        if c is None:
            c = connect(self.dsn)
            self._local.client = c
            with self._clients_lock:
                self._clients.append(c)
        return c

    def close(self) -> None:
        with self._clients_lock:
            for c in self._clients:
                c.close()
            self._clients.clear()
        self._local = threading.local()

    # ---- writes -------------------------------------------------------------

    def _insert(self, table: str, names: Sequence[str], rows: Sequence[Sequence[Any]],
                token: str | None) -> None:
        if not rows:
            return
        settings = {"insert_deduplication_token": token} if token else None
        self.client.insert(table, rows, column_names=list(names), settings=settings)

    def write_span_rows(self, rows: Sequence[Sequence[Any]], token: str | None = None) -> None:
        """otel_traces rows as made by records.span_row."""
        self._insert("otel_traces", schema.OTEL_TRACES_COLUMNS, rows, token)

    def write_metric_rows(self, sums: Sequence[Sequence[Any]], gauges: Sequence[Sequence[Any]],
                          token: str | None = None) -> None:
        """otel_metrics_sum / otel_metrics_gauge rows as made by ingest.metrics_decode."""
        self._insert("otel_metrics_sum", (*schema.OTEL_METRICS_COLUMNS, "AggregationTemporality",
                                          "IsMonotonic"), sums, token)
        self._insert("otel_metrics_gauge", schema.OTEL_METRICS_COLUMNS, gauges, token)

    def write_events(
        self,
        evs: Sequence[Mapping[str, Any]],
        resources: Mapping[int, Mapping[str, str]] | None = None,
        token: str | None = None,
    ) -> None:
        """Kernel events (dicts of kprobe.events) with their process's resource."""
        resources = resources or {}
        rows = []
        for ev in evs:
            res = resources.get(ev["pid"], {})
            row = [ev.get(n, _EVENT_DEFAULTS.get(n)) for n in _EVENT_NAMES[:-2]]
            row.append(res.get("service.name", ""))
            row.append(res.get("host.name", ""))
            rows.append(row)
        self.write_event_rows(rows, token)

    def write_event_rows(self, rows: Sequence[Sequence[Any]], token: str | None = None) -> None:
        """kernel_events rows in schema.EVENT_COLUMNS order (the ingest fast path)."""
        if not rows:
            return
        settings = {"insert_deduplication_token": token} if token else None
        self.client.insert("kernel_events", list(zip(*rows, strict=True)), column_names=list(_EVENT_NAMES),
                           column_oriented=True, settings=settings)

    def write_event_table(self, table: Any, token: str | None = None) -> None:
        """kernel_events rows as an Arrow table of schema.EVENT_COLUMNS (the ingest path):
        ClickHouse reads Arrow natively, no per-value work in Python. The block is not
        deduplicated by key on insert (`optimize_on_insert`, ~10% of the processor's CPU per
        span): a span sent twice in one batch is one row once merged, and reads deduplicate."""
        if not table.num_rows:
            return
        settings: dict[str, Any] = {"optimize_on_insert": 0}
        if token:
            settings["insert_deduplication_token"] = token
        self.client.insert_arrow("kernel_events", table, settings=settings)

    def write_contexts(
        self, joined: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], token: str | None = None
    ) -> None:
        """(event, financial_context) pairs the join produced."""
        now = max(time.time_ns(), self._last_joined_at + 1)  # strictly newer than any earlier call
        self._last_joined_at = now
        rows = [
            [ev["event_id"], ev["timestamp_ns"], ev["pid"], ev["tid"], ev["event_type"],
             *(ctx[f] for f in _CTX_FIELDS), now, _event_json(ev, ctx)]
            for ev, ctx in joined
        ]
        self._insert("event_context", (*_CONTEXT_NAMES, "event"), rows, token)

    def write_transactions(self, txns: Sequence[Transaction], token: str | None = None) -> None:
        now = time.time_ns()
        rows = [
            [t.transaction_id, t.trace_id, t.span_id, t.service, t.operation, t.status,
             t.start_ns, t.duration_ns, t.error, now]
            for t in txns
        ]
        self._insert("transactions", _TXN_NAMES, rows, token)

    def set_state(self, key: str, value: int) -> None:
        self.client.insert("processor_state", [[key, value, time.time_ns()]],
                           column_names=["key", "value", "updated_ns"])

    def get_state(self, key: str) -> int | None:
        r = self.client.query("SELECT value FROM processor_state FINAL WHERE key = {k:String}",
                              parameters={"k": key}).result_rows
        return r[0][0] if r else None

    # ---- reads --------------------------------------------------------------

    def _events(self, where: str, params: dict[str, Any], tail: str = "") -> list[dict[str, Any]]:
        cols = ", ".join(f"`{n}`" for n in _EVENT_NAMES[:-2])
        q = (f"SELECT {cols} FROM kernel_events WHERE {where} "
             f"ORDER BY timestamp_ns, event_id LIMIT 1 BY event_id {tail}")
        names = _EVENT_NAMES[:-2]
        out = []
        for row in self.client.query(q, parameters=params).result_rows:
            d = dict(zip(names, row, strict=True))
            own = events.fields_for(d["event_type"])
            out.append({**{f.name: d[f.name] for f in own}, "financial_context": events.empty_context()})
        return out

    def _contexts(self, where: str, params: dict[str, Any]) -> dict[int, dict[str, Any]]:
        q = (f"SELECT event_id, {', '.join(_CTX_FIELDS)} FROM event_context WHERE {where} "
             "ORDER BY joined_at_ns DESC LIMIT 1 BY event_id")
        return {
            r[0]: dict(zip(_CTX_FIELDS, r[1:], strict=True))
            for r in self.client.query(q, parameters=params).result_rows
        }

    def transaction_events(self, transaction_id: str) -> list[dict[str, Any]]:
        # One primary-key range of one table, one column: event_context holds each joined event
        # whole. The latest context row per event wins; a revoked one (join_method '') hides it.
        stored = [json.loads(line) for line in self.client.raw_query(
            _TRANSACTION_EVENTS_SQL, parameters={"t": transaction_id}, fmt="JSONCompactEachRow").splitlines()]
        if any(not row[0] for row in stored):
            return self._stored_events_of_transaction(transaction_id)
        out = [ev for ev in (json.loads(row[0]) for row in stored) if ev["financial_context"]["join_method"]]
        out.sort(key=lambda e: (e["timestamp_ns"], e["event_id"]))
        return out

    def _stored_events_of_transaction(self, transaction_id: str) -> list[dict[str, Any]]:
        """Contexts from before migration 4: the events come from kernel_events."""
        raw = self.client.raw_query(_STORED_EVENTS_OF_TRANSACTION_SQL, parameters={"t": transaction_id},
                                    fmt="JSONCompactEachRow")
        out = []
        for line in raw.splitlines():
            *vals, ctx = json.loads(line)
            d = dict(zip(_EVENT_NAMES[:-2], vals, strict=True))
            ev = {f.name: d[f.name] for f in events.fields_for(d["event_type"])}
            ev["financial_context"] = dict(zip(_CTX_FIELDS, ctx, strict=True))
            if ev["financial_context"]["join_method"]:
                out.append(ev)
        return out

    def events_in_range(
        self,
        start_ns: int,
        end_ns: int,
        *,
        pids: Sequence[int] = (),
        tids: Sequence[int] = (),
        services: Sequence[str] = (),
        event_types: Sequence[str] = (),
        limit: int = 1000,
        after: tuple[int, int] | None = None,
    ) -> EventPage:
        where = ["timestamp_ns >= {lo:UInt64}", "timestamp_ns < {hi:UInt64}"]
        params: dict[str, Any] = {"lo": start_ns, "hi": end_ns}
        if pids:
            where.append("pid IN {p:Array(UInt32)}")
            params["p"] = list(pids)
        if tids:
            where.append("tid IN {tids:Array(UInt32)}")
            params["tids"] = list(tids)
        if event_types:
            where.append("event_type IN {et:Array(String)}")
            params["et"] = list(event_types)
        if services:
            where.append(
                "(service_name IN {sv:Array(String)} OR event_id IN (SELECT event_id FROM "
                "event_context WHERE service IN {sv:Array(String)} AND timestamp_ns >= {lo:UInt64} "
                "AND timestamp_ns < {hi:UInt64}))")
            params["sv"] = list(services)
        if after:
            where.append("(timestamp_ns, event_id) > ({ats:UInt64}, {aid:UInt64})")
            params["ats"], params["aid"] = after
        evs = self._events(" AND ".join(where), params, f"LIMIT {int(limit)}")
        if evs:
            ctx = self._contexts(
                "timestamp_ns BETWEEN {lo:UInt64} AND {hi:UInt64} AND event_id IN {ids:Array(UInt64)}",
                {"lo": evs[0]["timestamp_ns"], "hi": evs[-1]["timestamp_ns"],
                 "ids": [e["event_id"] for e in evs]})
            for ev in evs:
                ev["financial_context"] = ctx.get(ev["event_id"], ev["financial_context"])
        nxt = (evs[-1]["timestamp_ns"], evs[-1]["event_id"]) if len(evs) == limit else None
        return EventPage(evs, nxt)

    def trace_spans(self, trace_id: str, *, include_kernel: bool = False) -> list[AppSpan]:
        bounds = self.client.query(
            "SELECT min(Start), max(End) FROM otel_traces_trace_id_ts WHERE TraceId = {t:String}",
            parameters={"t": trace_id}).result_rows
        where = "TraceId = {t:String}"
        params: dict[str, Any] = {"t": trace_id}
        if bounds and bounds[0][0] and bounds[0][0].year > 1970:
            where += (" AND Timestamp >= toDateTime64({lo:DateTime}, 9) - 1"
                      " AND Timestamp <= toDateTime64({hi:DateTime}, 9) + 1")
            params["lo"], params["hi"] = bounds[0]
        if not include_kernel:
            where += " AND NOT mapContains(SpanAttributes, 'kprobe.event_type')"
        rows = self.client.query(
            f"SELECT {SPAN_COLUMNS} FROM otel_traces WHERE {where} "
            "ORDER BY Timestamp, SpanId LIMIT 1 BY SpanId", parameters=params).result_rows
        return [span_from_row(r) for r in rows]

    def app_spans_since(self, start_ns: int) -> list[AppSpan]:
        """Application spans that ended at or after start_ns (to rebuild the join)."""
        rows = self.client.query(
            f"SELECT {SPAN_COLUMNS} FROM otel_traces WHERE Timestamp >= fromUnixTimestamp64Nano("
            "{lo:Int64}) - INTERVAL 1 HOUR AND toUnixTimestamp64Nano(Timestamp) + Duration >= {lo:Int64} "
            "AND NOT mapContains(SpanAttributes, 'kprobe.event_type') LIMIT 1 BY TraceId, SpanId",
            parameters={"lo": start_ns}).result_rows
        return [span_from_row(r) for r in rows]

    def transaction(self, transaction_id: str) -> Transaction | None:
        rows = self._transactions("transaction_id = {t:String}", {"t": transaction_id}, "LIMIT 1")
        return rows[0] if rows else None

    def _transactions(self, where: str, params: dict[str, Any], tail: str) -> list[Transaction]:
        cols = ", ".join(_TXN_NAMES[:-1])
        rows = self.client.query(
            f"SELECT {cols} FROM transactions FINAL WHERE {where} ORDER BY start_ns DESC, "
            f"transaction_id {tail}", parameters=params).result_rows
        return [Transaction(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows]

    def find_transactions(
        self,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        status: str | None = None,
        service: str | None = None,
        min_duration_ns: int | None = None,
        max_duration_ns: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Transaction]:
        where = ["1"]
        params: dict[str, Any] = {}
        for cond, name, val in (
            ("start_ns >= {lo:UInt64}", "lo", start_ns),
            ("start_ns < {hi:UInt64}", "hi", end_ns),
            ("status = {st:String}", "st", status),
            ("service = {sv:String}", "sv", service),
            ("duration_ns >= {dmin:UInt64}", "dmin", min_duration_ns),
            ("duration_ns <= {dmax:UInt64}", "dmax", max_duration_ns),
        ):
            if val is not None:
                where.append(cond)
                params[name] = val
        return self._transactions(" AND ".join(where), params,
                                  f"LIMIT {int(limit)} OFFSET {int(offset)}")
