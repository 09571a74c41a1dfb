"""Hand-built transactions with known causes, for exact unit tests of the engine.

Times are in milliseconds from T0 and converted to Unix ns; every event is a
real kprobe.events dict (make_event), so the schema is the one the receiver
produces.
"""

from __future__ import annotations

from typing import Any

from kprobe.events import make_event

T0 = 1_763_000_000_000_000_000
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
