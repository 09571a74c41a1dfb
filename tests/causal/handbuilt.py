"""Hand-built transactions with known causes, for exact unit tests of the engine.

Times are in milliseconds from T0 and converted to Unix ns; every event is a
real kprobe.events dict (make_event), so the schema is the one the receiver
produces.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from kprobe.events import make_event

# an hour ago, whole seconds: stores apply retention TTLs to event time
T0 = (time.time_ns() // 1_000_000_000 - 3600) * 1_000_000_000
MS = 1_000_000

HANDLER, RISK, SETTLE, BATCH, HOG, OTHER = 100, 200, 300, 400, 500, 600
TID = {HANDLER: 101, RISK: 201, SETTLE: 301, BATCH: 401, HOG: 501, OTHER: 601}
COMM = {HANDLER: "payment-handler", RISK: "risk-check", SETTLE: "settlement-svc", BATCH: "batch-job", HOG: "cpu-hog", OTHER: "other"}
SERVICE = {HANDLER: "payment-handler", RISK: "risk-check", SETTLE: "settlement-svc"}
TXN = "pay-98721"
TRACE = "0af7651916cd43dd8448eb211c80319c"


def ns(ms: float) -> int:
    return T0 + round(ms * MS)


def ev(kind: str, pid: int, start_ms: float, dur_ms: float = 0.0, *, tid: int | None = None,
       span: str = "", **fields: Any) -> dict[str, Any]:
    ctx = {}
    if span:
        ctx = {"transaction_id": TXN, "trace_id": TRACE, "span_id": span, "service": SERVICE.get(pid, "")}
    return make_event(kind, pid=pid, tid=tid or TID[pid], comm=COMM[pid], timestamp_ns=ns(start_ms),
                      duration_ns=round(dur_ms * MS), financial_context=ctx, **fields)


def span(span_id: str, parent: str, name: str, pid: int, start_ms: float, end_ms: float,
         kind: str = "SPAN_KIND_SERVER", status: str = "OK", **attrs: Any) -> dict[str, Any]:
    return {
        "trace_id": TRACE, "span_id": span_id, "parent_span_id": parent, "name": name,
        "service": SERVICE[pid], "kind": kind, "start_ns": ns(start_ms), "end_ns": ns(end_ms),
        "status": status, "transaction_id": TXN if not parent else "", "pid": pid, "attributes": attrs,
    }


def payment_spans(settle_ms: float, *, timeout_ms: float = 750.0, risk_ms: float = 1.4) -> list[dict[str, Any]]:
    """payment-handler -> risk-check, then -> settlement-svc (ledger.write inside).

    The handler's client span to settlement fails at the timeout when
    settlement takes longer; the payment then fails 8 ms later.
    """
    risk_end = 0.5 + risk_ms
    settle_start = risk_end + 0.3
    settle_end = settle_start + settle_ms
    late = settle_ms > timeout_ms
    client_end = settle_start + (timeout_ms if late else settle_ms + 0.2)
    root_end = client_end + 8.0
    st = "ERROR" if late else "OK"
    return [
        span("a1", "", "POST /pay", HANDLER, 0.0, root_end, status=st),
        span("a2", "a1", "POST risk-check", HANDLER, 0.4, risk_end + 0.1, kind="SPAN_KIND_CLIENT"),
        span("b1", "a2", "POST /risk", RISK, 0.5, risk_end),
        span("a3", "a1", "POST settlement", HANDLER, settle_start - 0.1, client_end, kind="SPAN_KIND_CLIENT",
             status=st, **({"payment.timeout_ms": str(int(timeout_ms))} if late else {})),
        span("c1", "a3", "POST /settle", SETTLE, settle_start, settle_end),
        span("c2", "c1", "ledger.write", SETTLE, settle_start + 0.2, settle_end - 0.1, kind="SPAN_KIND_INTERNAL"),
    ]


def as_transaction(evs: list[dict[str, Any]], spans: list[dict[str, Any]], txn: str,
                   shift_ms: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A copy of a hand-built transaction under another id, shifted in time
    (new span ids, event ids and trace id), to fill a store with several."""
    shift = round(shift_ms * MS)
    trace = hashlib.blake2b(txn.encode(), digest_size=16).hexdigest()
    out_evs = []
    for e in evs:
        fields = {k: v for k, v in e.items() if k not in ("event_id", "event_type", "financial_context")}
        fields["timestamp_ns"] += shift
        ctx = dict(e["financial_context"])
        if ctx.get("transaction_id"):
            ctx.update(transaction_id=txn, trace_id=trace, span_id=f"{txn}-{ctx['span_id']}")
        out_evs.append(make_event(e["event_type"], financial_context=ctx, **fields))
    out_spans = []
    for s in spans:
        c = dict(s, trace_id=trace, span_id=f"{txn}-{s['span_id']}", start_ns=s["start_ns"] + shift,
                 end_ns=s["end_ns"] + shift)
        c["parent_span_id"] = f"{txn}-{s['parent_span_id']}" if s["parent_span_id"] else ""
        c["transaction_id"] = txn if s["transaction_id"] else ""
        out_spans.append(c)
    return out_evs, out_spans


def memory_story() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The seeds' story: the ledger write stalls 800 ms in memcg reclaim driven by the
    batch job; the handler's 750 ms timeout fires; the payment fails."""
    spans = payment_spans(800.0)
    evs = [
        ev("SyscallWrite", SETTLE, 2.5, 799.0, span="c2", fd=7, bytes=4096, ret=4096),
        ev("MemoryReclaim", SETTLE, 2.6, 798.0, span="c2", pages_reclaimed=512, reclaim_kind="MEMCG", cgroup_id=77),
        ev("SchedSwitch", HANDLER, 2.2, 750.0, span="a3", off_cpu_reason="BLOCKED", waker_comm="swapper/1"),
    ]
    evs += [ev("PageFault", BATCH, -1000 + k * 1.8, cgroup_id=77, address=4096 * k) for k in range(1000)]
    evs += [ev("MemoryReclaim", BATCH, -500 + k * 20, 5.0, pages_reclaimed=64, reclaim_kind="MEMCG", cgroup_id=77)
            for k in range(50)]
    evs += [ev("PageFault", SETTLE, 1.0 + k * 0.01, cgroup_id=77) for k in range(20)]
    # a process faulting a lot in ANOTHER cgroup is not blamed
    evs += [ev("PageFault", OTHER, -900 + k * 0.5, cgroup_id=99) for k in range(3000)]
    return evs, spans


def cpu_story() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Settlement waits 8 ms for CPU 1 ten times while a hog runs there; a distractor
    hog spins on CPU 0."""
    spans = payment_spans(100.0)
    evs = []
    for k in range(10):
        evs.append(ev("SchedSwitch", SETTLE, 5 + 9 * k, 8.0, span="c2", off_cpu_reason="PREEMPTED",
                      runq_wait_ns=8 * MS, cpu=1))
        evs.append(ev("SchedSwitch", HOG, 13 + 9 * k, 1.0, off_cpu_reason="PREEMPTED", runq_wait_ns=MS, cpu=1))
        evs.append(ev("SchedSwitch", OTHER, 13 + 9 * k, 1.0, off_cpu_reason="PREEMPTED", runq_wait_ns=MS, cpu=0))
    return evs, spans


def slow_dependency_story() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """risk-check sleeps 300 ms in user space; the timer fires while a hog runs."""
    spans = payment_spans(3.0, risk_ms=300.0)
    evs = [ev("SchedSwitch", RISK, 0.6, 300.0, span="b1", off_cpu_reason="BLOCKED", waker_pid=HOG,
              waker_tid=TID[HOG], waker_comm="cpu-hog")]
    return evs, spans


def healthy_story() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    spans = payment_spans(4.0)
    evs = [
        ev("SyscallWrite", SETTLE, 2.5, 0.3, span="c2", fd=7, bytes=4096, ret=4096),
        ev("SchedSwitch", SETTLE, 3.0, 0.2, span="c2", off_cpu_reason="PREEMPTED", runq_wait_ns=200_000, cpu=1),
        ev("SchedSwitch", HOG, 1.0, 2.0, off_cpu_reason="PREEMPTED", runq_wait_ns=MS, cpu=1),
    ]
    return evs, spans
