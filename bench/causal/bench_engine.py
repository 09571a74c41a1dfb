"""Causal engine speed: graph build + root cause per transaction, and `explain` on a
store holding 10M events.

    .venv/bin/python -m bench.causal.bench_engine [--events 10000] [--store-events 10000000]

Times are CPU time of this process (wall time beside it): the machine is shared.

1. Build + root cause of one transaction whose analysis window holds N kernel
   events (the seeds' memory story plus N context events of 64 other threads),
   from columns as the store returns them. Baseline in the same run: one plain
   Python pass over the same N event dicts (EventTable.from_events), i.e. what
   merely touching each event once per-object costs.
2. `explain(StoreSource(store), txn)` on a chdb store with M events (generated
   inside ClickHouse) plus the story. Baseline in the same run: the processor's
   own `store.transaction_events(txn)` query (events of one transaction).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from causal_processor.causal.build import TransactionData, build_graph
from causal_processor.causal.rootcause import root_cause
from causal_processor.causal.spans import spans_from
from causal_processor.causal.table import EventTable
from kprobe.events import make_event
from tests.causal.handbuilt import MS, T0, TXN, memory_story

TYPES = ("SchedSwitch", "SyscallRead", "SyscallWrite", "TCPSend", "TCPRecv", "PageFault", "SchedWakeup")


def context_events(n: int, seed: int = 7) -> list[dict]:
    """n events of 64 threads of 16 other processes around the transaction's window."""
    rng = np.random.default_rng(seed)
    out = []
    ts = np.sort(rng.integers(T0 - 2_000 * MS, T0 + 800 * MS, n))
    for k in range(n):
        et = TYPES[k % len(TYPES)]
        pid = 1000 + int(rng.integers(0, 16))
        fields = dict(pid=pid, tid=pid * 10 + int(rng.integers(0, 4)), cpu=int(rng.integers(0, 2)),
                      comm=f"svc-{pid}", timestamp_ns=int(ts[k]), duration_ns=int(rng.integers(1_000, 3 * MS)))
        if et == "SchedSwitch":
            fields.update(off_cpu_reason="PREEMPTED" if k % 3 else "BLOCKED", runq_wait_ns=50_000)
        elif et in ("TCPSend", "TCPRecv"):
            fields.update(saddr="127.0.0.1", sport=30000 + pid, daddr="127.0.0.1", dport=8000, bytes=200, fd=5)
        elif et in ("SyscallRead", "SyscallWrite"):
            fields.update(fd=3, bytes=4096)
        out.append(make_event(et, **fields))
    return out


def _columns(evs: list[dict]) -> dict[str, np.ndarray]:
    t = EventTable.from_events(evs)
    names = {"ts": "timestamp_ns", "dur": "duration_ns", "pid": "pid", "tid": "tid", "cpu": "cpu",
             "etype": "event_type", "runq": "runq_wait_ns", "waker_pid": "waker_pid", "waker_tid": "waker_tid",
             "off_reason": "off_cpu_reason", "fd": "fd", "nbytes": "bytes", "ret": "ret", "sport": "sport",
             "dport": "dport", "target_tid": "target_tid", "pages": "pages_reclaimed", "major": "major",
             "cgroup": "cgroup_id", "event_id": "event_id", "comm": "comm", "waker_comm": "waker_comm",
             "saddr": "saddr", "daddr": "daddr", "txn": "transaction_id", "span": "span_id",
             "service": "service"}
    return {col: getattr(t, attr) for attr, col in names.items()}


def bench_build(n: int, reps: int) -> dict[str, float]:
    story, span_dicts = memory_story()
    evs = story + context_events(n - len(story))
    spans = spans_from(span_dicts)
    cols = _columns(evs)

    def once() -> None:
        g = build_graph(TransactionData(TXN, spans, EventTable.from_columns(cols)))
        rc, _ = root_cause(g)
        assert rc.mechanism == "memory-reclaim"

    def baseline() -> None:
        EventTable.from_events(evs)

    once()
    times = [_timed(once) for _ in range(reps)]
    walls = [_wall(once) for _ in range(reps)]
    base = [_timed(baseline) for _ in range(reps)]
    return {"events": len(evs), "median_ms": statistics.median(times), "p90_ms": _p90(times),
            "wall_median_ms": statistics.median(walls), "baseline_median_ms": statistics.median(base)}


def bench_explain(m: int, reps: int) -> dict[str, float]:
    from causal_processor.causal.explain import explain
    from causal_processor.causal.store_source import StoreSource
    from causal_processor.storage.store import ClickHouseEventStore
    from tests.causal.test_clickhouse_graph import _store_with

    with tempfile.TemporaryDirectory(prefix="kprobe-bench-", ignore_cleanup_errors=True) as d:
        dsn = f"chdb://{d}/ch?database=bench"
        story, spans = memory_story()
        store = _store_with(dsn, story, spans)
        t0 = time.monotonic()
        # M background events over an hour around the story, generated inside ClickHouse
        store.client.command(
            "INSERT INTO kernel_events (timestamp_ns, pid, tid, cpu, event_type, duration_ns, event_id, comm, "
            "off_cpu_reason, bytes, fd) SELECT "
            f"toUInt64({T0 - 1800 * 1000 * MS}) + intDiv(number * {3600 * 1000 * MS}, {m}), "
            "2000 + number % 200, 20000 + number % 800, number % 2, "
            f"arrayElement({list(TYPES)!r}, (number % {len(TYPES)}) + 1), 1000 + number % 2000000, "
            "sipHash64(number), concat('bg-', toString(number % 200)), 'BLOCKED', 4096, 3 "
            f"FROM numbers({m})")
        fill_s = time.monotonic() - t0
        total = store.client.query("SELECT count() FROM kernel_events").result_rows[0][0]
        source = StoreSource(store)
        x = explain(source, TXN)
        assert x.root_cause.mechanism == "memory-reclaim", x.root_cause
        times = [_timed(lambda: explain(source, TXN)) for _ in range(reps)]
        walls = [_wall(lambda: explain(source, TXN)) for _ in range(reps)]
        base = [_timed(lambda: store.transaction_events(TXN)) for _ in range(reps)]
        window = len(source.events_between(x.graph.start_ns - 2_000 * MS, x.graph.start_ns + x.end_to_end_ns))
        store.close()
        del ClickHouseEventStore
    return {"store_events": total, "fill_s": fill_s, "window_events": window,
            "median_ms": statistics.median(times), "p90_ms": _p90(times),
            "wall_median_ms": statistics.median(walls), "baseline_median_ms": statistics.median(base)}


def _timed(fn) -> float:
    """CPU ms of this process (all its threads, chdb's included): on a shared machine
    under load, wall time measures the neighbours more than the code."""
    t0 = time.process_time()
    fn()
    return (time.process_time() - t0) * 1000


def _wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _p90(xs: list[float]) -> float:
    return sorted(xs)[int(0.9 * (len(xs) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.causal.bench_engine")
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--store-events", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--skip-store", action="store_true", help="only the in-memory build benchmark")
    args = ap.parse_args()
    b = bench_build(args.events, args.reps)
    print(f"build+root cause, {b['events']} events: CPU median {b['median_ms']:.2f} ms, p90 {b['p90_ms']:.2f} ms "
          f"(wall median {b['wall_median_ms']:.2f} ms); "
          f"baseline (one Python pass over the event dicts) {b['baseline_median_ms']:.2f} ms; "
          f"ratio {b['median_ms'] / b['baseline_median_ms']:.2f}")
    if args.skip_store:
        return
    e = bench_explain(args.store_events, max(5, args.reps // 3))
    print(f"explain on a store of {e['store_events']} events (filled in {e['fill_s']:.0f} s, "
          f"{e['window_events']} events in the window): CPU median {e['median_ms']:.1f} ms, p90 {e['p90_ms']:.1f} ms "
          f"(wall median {e['wall_median_ms']:.1f} ms); "
          f"baseline store.transaction_events {e['baseline_median_ms']:.1f} ms; "
          f"ratio {e['median_ms'] / e['baseline_median_ms']:.2f}")


if __name__ == "__main__":
    main()
