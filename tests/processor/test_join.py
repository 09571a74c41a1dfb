"""The join on synthesized kernel events (the capture-driven test is test_end_to_end.py).

Two transactions served at the same time by two threads of one process, plus an accept
thread and an exporter thread of the same process: every event lands in exactly its
transaction, innermost span first, in any arrival order.
"""

from __future__ import annotations

import random

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from causal_processor.app_span import SPAN_KIND_NAMES, AppSpan
from causal_processor.join.joiner import JoinConfig, Joiner
from kprobe import events

MS = 1_000_000
T0 = 1_800_000_000_000_000_000
PID = 4242
SERVER_PORT = 8080


def _span(trace: str, sid: str, parent: str, kind: int, start: int, end: int, name: str, **attrs):
    return AppSpan(trace_id=trace * 16, span_id=sid * 8, parent_span_id=parent * 8 if parent else "",
                   name=name, kind=SPAN_KIND_NAMES[kind], service="payments", start_ns=start, end_ns=end,
                   attributes=attrs, resource={"service.name": "payments"})


def _ev(et: str, tid: int, ts: int, **kw):
    return events.make_event(et, pid=PID, tid=tid, timestamp_ns=ts, **kw)


def _workload():
    """(spans, events, expected txn id by event_id, expected innermost span by event_id)."""
    spans, evs, want_txn, want_span = [], [], {}, {}
    for i, (tid, cport, tstart) in enumerate(((201, 50001, 0), (202, 50002, 3 * MS))):
        trace, root, child, internal = f"a{i}", f"b{i}", f"c{i}", f"d{i}"
        start, end = T0 + tstart + MS, T0 + tstart + 20 * MS
        txn = f"pay-{i}"
        spans.append(_span(trace, root, "", trace_pb2.Span.SPAN_KIND_SERVER, start, end, "POST /pay",
                           **{"net.peer.ip": "127.0.0.1", "net.peer.port": cport, "payment.id": txn}))
        spans.append(_span(trace, internal, root, trace_pb2.Span.SPAN_KIND_INTERNAL, start + 2 * MS,
                           start + 4 * MS, "validate"))
        spans.append(_span(trace, child, root, trace_pb2.Span.SPAN_KIND_CLIENT, start + 5 * MS,
                           start + 9 * MS, "POST ledger",
                           **{"server.address": "127.0.0.1", "server.port": 9000}))
        recv = _ev("TCPRecv", tid, start - 200_000, saddr="127.0.0.1", sport=SERVER_PORT,
                   daddr="127.0.0.1", dport=cport, bytes=300, ret=300)
        mine = [
            (recv, root),
            (_ev("SyscallWrite", tid, start + 1 * MS, fd=5, bytes=10, ret=10), root),
            (_ev("PageFault", tid, start + 3 * MS, address=4096), internal),
            (_ev("TCPSend", tid, start + 6 * MS, saddr="127.0.0.1", sport=40000 + i,
                 daddr="127.0.0.1", dport=9000, bytes=50, ret=50), child),
            (_ev("SchedSwitch", tid, start + 6 * MS + 1000, duration_ns=2 * MS,
                 off_cpu_reason="BLOCKED"), child),
            (_ev("TCPSend", tid, end - MS, saddr="127.0.0.1", sport=SERVER_PORT,
                 daddr="127.0.0.1", dport=cport, bytes=99, ret=99), root),
        ]
        for ev, sid in mine:
            evs.append(ev)
            want_txn[ev["event_id"]] = txn
            want_span[ev["event_id"]] = sid * 8
        # the same thread before its request and after its response: not the transaction's
        evs.append(_ev("SyscallRead", tid, start - 5 * MS, fd=3, bytes=1, ret=1))
        evs.append(_ev("SyscallRead", tid, end + 5 * MS, fd=3, bytes=1, ret=1))
    # the accept thread and the SDK's exporter thread run meanwhile
    for k in range(20):
        evs.append(_ev("SyscallRead", 200, T0 + k * MS, fd=3, bytes=1, ret=1))
        evs.append(_ev("TCPSend", 203, T0 + k * MS + 500, saddr="127.0.0.1", sport=41000,
                       daddr="127.0.0.1", dport=4318, bytes=800, ret=800))
    return spans, evs, want_txn, want_span


def _check(out, want_txn, want_span):
    got = {ev["event_id"]: ctx for ev, ctx in out.joined}  # later rows win, as in storage
    assert {k: c["transaction_id"] for k, c in got.items()} == want_txn
    assert {k: c["span_id"] for k, c in got.items()} == want_span
    assert {c["join_method"] for c in got.values()} <= {"server_recv", "client_send", "parent_thread"}
    assert sorted(t.transaction_id for t in out.transactions) == ["pay-0", "pay-1"]


@pytest.mark.parametrize("order", ["spans_first", "events_first", "shuffled"])
def test_concurrent_transactions_on_a_thread_pool(order):
    spans, evs, want_txn, want_span = _workload()
    j = Joiner(JoinConfig(window_ns=50 * MS))
    out = j.advance(0)
    if order == "spans_first":
        j.add_spans(spans)
        j.add_events(evs)
    elif order == "events_first":
        j.add_events(evs)
        j.add_spans(spans)
    else:
        items = [("s", s) for s in spans] + [("e", e) for e in evs]
        random.Random(7).shuffle(items)
        for kind, x in items:
            (j.add_spans if kind == "s" else j.add_events)([x])
            out.extend(j.advance())
    out.extend(j.flush())
    _check(out, want_txn, want_span)
    root = next(ctx for ev, ctx in out.joined if ev["event_type"] == "TCPRecv")
    assert root["operation"] == "POST /pay" and root["service"] == "payments"
    assert root["join_method"] == "server_recv" and root["join_confidence"] == pytest.approx(0.95)


def test_events_arriving_after_their_spans_were_joined():
    spans, evs, want_txn, want_span = _workload()
    j = Joiner(JoinConfig(window_ns=50 * MS))
    recvs = [e for e in evs if e["event_type"] in ("TCPRecv", "TCPSend")]
    j.add_events(recvs)
    j.add_spans(spans)
    out = j.flush()
    j.add_events([e for e in evs if e not in recvs])  # late: after the spans were joined
    out.extend(j.advance())
    _check(out, want_txn, want_span)


def test_watermark_waits_for_the_window():
    spans, evs, want_txn, _ = _workload()
    j = Joiner(JoinConfig(window_ns=10_000 * MS, idle_flush_s=3600))
    j.add_events(evs)
    j.add_spans(spans)
    assert j.advance().joined == []  # everything is inside the lateness window
    assert len({ev["event_id"] for ev, _ in j.flush().joined}) == len(want_txn)


def test_pid_time_fallback_when_the_span_names_no_peer():
    s = _span("e1", "f1", "", trace_pb2.Span.SPAN_KIND_SERVER, T0, T0 + 10 * MS, "job",
              **{"transaction.id": "batch-9"})
    s.resource = {"service.name": "payments", "process.pid": PID}
    inside = _ev("SyscallWrite", 300, T0 + MS, fd=4, bytes=1, ret=1)
    outside = _ev("SyscallWrite", 300, T0 + 11 * MS, fd=4, bytes=1, ret=1)
    j = Joiner()
    j.add_spans([s])
    j.add_events([inside, outside])
    out = j.flush()
    assert [(e["event_id"], c["transaction_id"], c["join_method"]) for e, c in out.joined] == [
        (inside["event_id"], "batch-9", "pid_time")]
    assert out.joined[0][1]["join_confidence"] == pytest.approx(0.3)
    assert out.transactions[0].transaction_id == "batch-9"


def test_trace_id_is_the_transaction_id_without_a_key():
    s = _span("77", "88", "", trace_pb2.Span.SPAN_KIND_SERVER, T0, T0 + MS, "GET /",
              **{"client.address": "10.0.0.2", "client.port": 3333})
    ev = events.make_event("TCPRecv", pid=1, tid=2, timestamp_ns=T0, saddr="10.0.0.1", sport=80,
                           daddr="::ffff:10.0.0.2", dport=3333, bytes=1, ret=1)
    j = Joiner()
    j.add_spans([s])
    j.add_events([ev])
    out = j.flush()
    assert out.joined[0][1]["transaction_id"] == "77" * 16


def test_a_better_join_moves_an_event_and_revokes_the_old_context():
    guess = _span("e2", "f2", "", trace_pb2.Span.SPAN_KIND_SERVER, T0, T0 + 10 * MS, "job",
                  **{"transaction.id": "batch-1"})
    guess.resource = {"service.name": "payments", "process.pid": PID}
    ev = _ev("SyscallWrite", 300, T0 + 5 * MS, fd=4, bytes=1, ret=1)
    j = Joiner(JoinConfig(window_ns=MS))
    j.add_spans([guess])
    j.add_events([ev])
    first = j.flush()
    assert [c["transaction_id"] for _, c in first.joined] == ["batch-1"]
    exact = _span("e3", "f3", "", trace_pb2.Span.SPAN_KIND_SERVER, T0 + 4 * MS, T0 + 6 * MS, "POST /pay",
                  **{"payment.id": "pay-7", "client.address": "127.0.0.1", "client.port": 61000})
    recv = _ev("TCPRecv", 300, T0 + 4 * MS - 1000, saddr="127.0.0.1", sport=80, daddr="127.0.0.1",
               dport=61000, bytes=5, ret=5)
    j.add_spans([exact])
    j.add_events([recv])
    second = j.flush()
    moved = {e["event_id"]: c["transaction_id"] for e, c in second.joined}
    assert moved == {ev["event_id"]: "pay-7", recv["event_id"]: "pay-7"}
    assert [(e["event_id"], c["transaction_id"], c["join_method"]) for e, c in second.revoked] == [
        (ev["event_id"], "batch-1", "")]


def test_memory_bound_evicts_the_oldest_events():
    j = Joiner(JoinConfig(window_ns=MS, retention_ns=10**12, max_buffered_events=100))
    j.add_events([_ev("SyscallRead", 1, T0 + k * MS, fd=3, bytes=1, ret=1) for k in range(1000)])
    j.advance()
    left = j.stats()["events"]
    assert 0 < left <= 100
