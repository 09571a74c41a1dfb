""""Events of one transaction" with 10M stored events, beside a plain clickhouse-connect loop.

    .venv/bin/python bench/processor/bench_query.py [--events 10000000] [--queries 200] [--dir D]

(--dir keeps the data; a second run on the same D only queries.)

Data: N kernel events generated inside ClickHouse (INSERT ... SELECT FROM numbers),
20 consecutive events of one thread per transaction, half of the transactions joined
(event_context rows, with the event as the processor writes it). Ours: ClickHouseEventStore.transaction_events(txn), which returns
full event dicts with their financial context. Baseline, same run: a plain
clickhouse-connect loop on the naive layout, one flat MergeTree table with the context
columns, ordered by time, `SELECT * ... WHERE transaction_id = ?`.

Also the causal engine's read of a 10 ms window of every process's events (40 processes
interleaved) and their contexts: store_source's two queries with the time-ordered projections
`by_time` (what the optimizer picks) beside the same queries on the tables' own order
(optimize_use_projections=0).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time

from causal_processor.causal.store_source import _CONTEXT_SQL, _EVENTS_SQL
from causal_processor.storage import schema
from causal_processor.storage.clickhouse import connect
from causal_processor.storage.store import ClickHouseEventStore
from kprobe import events

TYPES = "['SyscallWrite','SyscallRead','TCPSend','TCPRecv','SchedSwitch','PageFault']"
PER_TXN = 20
WINDOW_EVENTS = 10_000  # 10 ms of every process's events
BASE_NS = 1_800_000_000_000_000_000

_GEN = {
    "event_id": "cityHash64(number)",
    "timestamp_ns": f"{BASE_NS} + number * 1000",
    "pid": "1000 + intDiv(number, 20) % 40",
    "tid": "2000 + intDiv(number, 20) % 400",
    "cpu": "number % 2",
    "event_type": f"{TYPES}[number % 6 + 1]",
    "duration_ns": "500 + number % 1000",
    "comm": "'worker'",
    "fd": "5",
    "bytes": "100 + number % 50",
    "ret": "100 + number % 50",
    "service_name": "'payments'",
}
_TXN = f"concat('tx-', toString(intDiv(number, {PER_TXN})))"
_JOINED = f"intDiv(number, {PER_TXN}) % 2 = 0"


def _select(columns: list[str], extra: dict[str, str]) -> str:
    gen = {**_GEN, **extra}
    return ", ".join(f"{gen[c]} AS `{c}`" for c in columns if c in gen)


def _json_object(fields: dict[str, str]) -> str:
    return "concat('{', " + ", ',', ".join(
        f"'\"{name}\":', toJSONString({expr})" for name, expr in fields.items()) + ", '}')"


def _event_json(context: dict[str, str]) -> str:
    """event_context.event as ClickHouseEventStore.write_contexts writes it: the type's own
    fields (as generated into kernel_events, zero when not generated) and the context."""
    zero = {"int": "0", "uint": "0", "float": "0.0", "bool": "false", "str": "''", "enum": "''"}
    ctx = _json_object(context)
    by_type = []
    for t in events.EVENT_TYPE_NAMES:
        own = {f.name: _GEN.get(f.name, zero[f.kind]) for f in events.fields_for(t)}
        body = _json_object(own)
        by_type.append(f"event_type = '{t}', concat(substring({body}, 1, length({body}) - 1), "
                       f"',\"financial_context\":', {ctx}, '}}')")
    return f"multiIf({', '.join(by_type)}, '')"


def load(store: ClickHouseEventStore, n: int) -> float:
    t0 = time.perf_counter()
    cols = [c for c, _ in schema.EVENT_COLUMNS if c in _GEN]
    store.client.command(f"INSERT INTO kernel_events ({', '.join(cols)}) SELECT {_select(cols, {})} "
                         f"FROM numbers({n})")
    ctx_cols = ["event_id", "timestamp_ns", "pid", "tid", "event_type", "transaction_id", "service",
                "operation", "trace_id", "span_id", "join_method", "join_confidence", "joined_at_ns", "event"]
    context = {"transaction_id": _TXN, "service": "'payments'", "operation": "'POST /pay'",
               "trace_id": "hex(cityHash64(intDiv(number, 20)))", "span_id": "hex(intDiv(number, 20))",
               "join_method": "'server_recv'", "join_confidence": "0.95"}
    extra = {**context, "joined_at_ns": "1", "event": _event_json(context)}
    store.client.command(f"INSERT INTO event_context ({', '.join(ctx_cols)}) SELECT "
                         f"{_select(ctx_cols, extra)} FROM numbers({n}) WHERE {_JOINED} "
                         "SETTINGS output_format_json_quote_64bit_integers = 0")
    store.client.command("OPTIMIZE TABLE kernel_events FINAL")
    store.client.command("OPTIMIZE TABLE event_context FINAL")
    return time.perf_counter() - t0


def load_baseline(client, n: int) -> float:
    t0 = time.perf_counter()
    cols = [(c, t) for c, t in schema.EVENT_COLUMNS if c in _GEN] + [("transaction_id", "String")]
    client.command("DROP TABLE IF EXISTS flat_events")
    client.command("CREATE TABLE flat_events ({}) ENGINE = MergeTree ORDER BY timestamp_ns".format(
        ", ".join(f"`{c}` {t}" for c, t in cols)))
    names = [c for c, _ in cols]
    extra = {"transaction_id": f"if({_JOINED}, {_TXN}, '')"}
    client.command(f"INSERT INTO flat_events ({', '.join(names)}) SELECT {_select(names, extra)} "
                   f"FROM numbers({n})")
    client.command("OPTIMIZE TABLE flat_events FINAL")
    return time.perf_counter() - t0


def timed(fn, txns: list[str], expect: int) -> dict:
    lat = []
    for t in txns:
        t0 = time.perf_counter()
        got = fn(t)
        lat.append((time.perf_counter() - t0) * 1000)
        assert len(got) == expect, (t, len(got))
    lat.sort()
    return {"median_ms": statistics.median(lat), "p95_ms": lat[int(len(lat) * 0.95) - 1],
            "queries": len(lat)}


def timed_windows(store: ClickHouseEventStore, starts: list[int], use_projections: int) -> dict:
    """The causal engine's read of every process's events in a window (store_source's query),
    with the time-ordered projection (what the optimizer picks) or without it (the pid-ordered
    table), plus the granules each reads (EXPLAIN)."""
    lat = []
    settings = {"optimize_use_projections": use_projections}
    for lo in starts:
        params = {"lo": lo, "hi": lo + WINDOW_EVENTS * 1000}
        t0 = time.perf_counter()
        got = store.client.query_arrow(_EVENTS_SQL, parameters=params, settings=settings)
        contexts = store.client.query_arrow(_CONTEXT_SQL, parameters=params, settings=settings)
        lat.append((time.perf_counter() - t0) * 1000)
        assert got.num_rows == WINDOW_EVENTS and contexts.num_rows in range(WINDOW_EVENTS // 2 - 20,
                                                                            WINDOW_EVENTS // 2 + 21)
    lat.sort()
    out = {"median_ms": statistics.median(lat), "p95_ms": lat[int(len(lat) * 0.95) - 1], "queries": len(lat)}
    for name, sql in (("events", _EVENTS_SQL), ("contexts", _CONTEXT_SQL)):
        plan = "\n".join(r[0] for r in store.client.query(
            f"EXPLAIN indexes = 1, projections = 1 {sql}", settings=settings,
            parameters={"lo": starts[0], "hi": starts[0] + WINDOW_EVENTS * 1000}).result_rows)
        out[name] = {"reads": re.findall(r"ReadFromMergeTree \((.*?)\)", plan)[0],
                     "granules": re.findall(r"Granules: (\d+/\d+)", plan)[-1]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--windows", type=int, default=50)
    a = ap.parse_args()
    data_dir = a.dir or tempfile.mkdtemp(prefix="kprobe-bench-q-")
    store = ClickHouseEventStore(f"chdb://{data_dir}?database=q_ours")
    base = connect(f"chdb://{data_dir}?database=q_base")
    while store.client.query("SELECT count() FROM system.mutations WHERE NOT is_done").result_rows[0][0]:
        time.sleep(1)  # a projection added by a migration is still being built
    loaded = store.client.query("SELECT count() FROM kernel_events").result_rows[0][0]
    if a.dir and loaded == a.events:  # --dir of an earlier run: query again without reloading
        load_s = base_load_s = 0.0
    else:
        load_s = load(store, a.events)
        base_load_s = load_baseline(base, a.events)
    rng = random.Random(1)
    n_txn = a.events // PER_TXN
    txns = [f"tx-{2 * rng.randrange(n_txn // 2)}" for _ in range(a.queries)]
    store.transaction_events(txns[0])  # warm caches for both
    base.query("SELECT * FROM flat_events WHERE transaction_id = 'tx-0'")
    ours = timed(store.transaction_events, txns, PER_TXN)
    baseline = timed(lambda t: base.query(
        "SELECT * FROM flat_events WHERE transaction_id = {t:String} ORDER BY timestamp_ns",
        parameters={"t": t}).result_rows, txns, PER_TXN)
    windows = [BASE_NS + rng.randrange(a.events - WINDOW_EVENTS) * 1000 for _ in range(a.windows)]
    by_time = timed_windows(store, windows, 1)
    by_pid = timed_windows(store, windows, 0)
    json.dump({"events": a.events, "load_s": {"ours": load_s, "baseline": base_load_s},
               "ours": ours, "baseline": baseline,
               "speedup_median": baseline["median_ms"] / ours["median_ms"],
               "window_all_processes": {"events": WINDOW_EVENTS, "by_time_projection": by_time,
                                        "without_projection": by_pid,
                                        "speedup_median": by_pid["median_ms"] / by_time["median_ms"]}},
              sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
