"""The engine on hand-built transactions whose cause is known exactly."""

from __future__ import annotations

import itertools

import pytest

from causal_processor.app_span import AppSpan
from causal_processor.causal import model
from causal_processor.causal.explain import explain
from causal_processor.causal.source import MemorySource
from causal_processor.causal.spans import critical_path
from tests.causal.handbuilt import (
    BATCH,
    HANDLER,
    HOG,
    MS,
    OTHER,
    RISK,
    SETTLE,
    T0,
    TID,
    TXN,
    cpu_story,
    ev,
    healthy_story,
    memory_story,
    ns,
    payment_spans,
    slow_dependency_story,
)


def _check_tiling(x) -> None:
    """Critical-path pieces tile the root span: contributions add up to the latency."""
    cp = x.graph.critical_path
    assert cp[0].start_ns == x.graph.start_ns
    for a, b in itertools.pairwise(cp):
        assert a.end_ns == b.start_ns
    assert cp[-1].end_ns == x.graph.start_ns + x.end_to_end_ns
    assert x.graph.critical_path_ns == x.end_to_end_ns


def test_memory_reclaim_story_exact() -> None:
    evs, spans = memory_story()
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    assert x.status == "ERROR"
    assert x.end_to_end_ns == ns(760.2) - T0
    rc = x.root_cause
    assert rc.mechanism == "memory-reclaim"
    assert (rc.culprit.pid, rc.culprit.comm) == (BATCH, "batch-job")
    # the reclaim interval from its start (2.6 ms) to the timeout boundary (752.2 ms)
    assert rc.contribution_ns == ns(752.2) - ns(2.6)
    segs = [(s.mechanism, s.start_ns - T0, s.end_ns - T0) for s in x.graph.critical_path]
    assert segs == [
        ("self", 0, ns(0.4) - T0), ("self", ns(0.4) - T0, ns(0.5) - T0), ("self", ns(0.5) - T0, ns(1.9) - T0),
        ("self", ns(1.9) - T0, ns(2.0) - T0), ("self", ns(2.0) - T0, ns(2.1) - T0),
        ("self", ns(2.1) - T0, ns(2.2) - T0), ("self", ns(2.2) - T0, ns(2.4) - T0),
        ("self", ns(2.4) - T0, ns(2.6) - T0), ("memory-reclaim", ns(2.6) - T0, ns(752.2) - T0),
        ("self", ns(752.2) - T0, ns(760.2) - T0),
    ]
    kinds = [x.graph.nodes[s.node_id].kind for s in x.chain]
    assert kinds == ["transaction", "span", "span", "span", "span", "kernel_event", "kernel_event", "process"]
    assert [s.relation for s in x.chain] == ["", "parent-child", "parent-child", "parent-child", "parent-child",
                                             "program-order", "reclaim", "memory-pressure"]
    write, reclaim = (x.graph.nodes[s.node_id] for s in x.chain[5:7])
    assert (write.event_type, reclaim.event_type) == ("SyscallWrite", "MemoryReclaim")
    edge = x.graph.edges[(f"proc:{BATCH}", reclaim.id, "memory-pressure")]
    assert edge.inferred and edge.share == 1.0 and edge.latency_contribution_ns == rc.contribution_ns
    text = x.render()
    assert "Ledger write initiated" in text and "TIMEOUT: payment-handler exceeded 750 ms" in text
    assert "batch-job pid 400" in text


def test_cpu_contention_blames_the_hog_on_that_cpu_not_the_distractor() -> None:
    evs, spans = cpu_story()
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    assert rc.mechanism == "cpu-contention"
    assert rc.culprit.pid == HOG
    assert rc.contribution_ns == 80 * MS
    assert not any(n.pid == OTHER for n in x.graph.nodes.values())


def test_disk_io_blames_the_other_writer() -> None:
    spans = payment_spans(220.0)
    evs = [
        ev("SyscallFsync", SETTLE, 10.0, 200.0, span="c2", fd=8),
        ev("SchedSwitch", SETTLE, 10.1, 199.8, span="c2", off_cpu_reason="BLOCKED", waker_comm="swapper/0"),
    ]
    evs += [ev("SyscallWrite", OTHER, -500 + k * 5, 0.5, fd=4, bytes=1 << 20, ret=1 << 20) for k in range(140)]
    # the other process also writes to a socket: not disk traffic
    evs += [ev("TCPSend", OTHER, -400, 0.01, fd=3, bytes=100, saddr="127.0.0.1", sport=5000,
               daddr="127.0.0.1", dport=6000)]
    evs += [ev("SyscallWrite", OTHER, -400, 0.01, fd=3, bytes=1 << 30, ret=1 << 30)]
    evs += [ev("SyscallWrite", BATCH, -300, 0.5, fd=9, bytes=1 << 20, ret=1 << 20)]
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    assert rc.mechanism == "disk-io"
    assert rc.culprit.pid == OTHER
    assert rc.contribution_ns == ns(209.9) - ns(10.1)
    sharing = {e.source: e.share for e in x.graph.edges.values() if e.relation == "disk-io" and e.source.startswith("proc:")}
    assert sharing == pytest.approx({f"proc:{OTHER}": 140 / 141, f"proc:{BATCH}": 1 / 141})


def test_lock_contention_names_the_holding_thread() -> None:
    spans = payment_spans(220.0)
    holder = TID[SETTLE] + 1
    evs = [
        ev("SchedSwitch", SETTLE, 10.0, 200.0, span="c2", off_cpu_reason="BLOCKED", waker_pid=SETTLE,
           waker_tid=holder, waker_comm="ledger-compact"),
        ev("SchedSwitch", SETTLE, 9.0, 200.5, tid=holder, off_cpu_reason="BLOCKED", waker_comm="swapper/0"),
    ]
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    assert rc.mechanism == "lock-contention"
    assert (rc.culprit.pid, rc.culprit.tid, rc.culprit.comm) == (SETTLE, holder, "ledger-compact")
    assert rc.culprit.service == "settlement-svc"
    assert rc.contribution_ns == 200 * MS


def _lost_request_story() -> tuple[list, list]:
    """The handler's request to settlement is lost and retransmitted 205 ms later."""
    spans = payment_spans(50.0)
    flow = {"saddr": "127.0.0.1", "sport": 41000, "daddr": "127.0.0.1", "dport": 9003}
    back = {"saddr": "127.0.0.1", "sport": 9003, "daddr": "127.0.0.1", "dport": 41000}
    # settlement's span starts late: the request's first transmission was lost
    for s in spans:
        if s["span_id"] in ("c1", "c2"):
            s["start_ns"] += 210 * MS
            s["end_ns"] += 210 * MS
        if s["span_id"] in ("a1", "a3"):
            s["end_ns"] += 210 * MS
    evs = [
        ev("TCPSend", HANDLER, 2.15, 0.02, span="a3", fd=5, bytes=300, **flow),
        ev("SchedSwitch", HANDLER, 2.2, 260.0, span="a3", off_cpu_reason="BLOCKED", waker_pid=SETTLE,
           waker_tid=TID[SETTLE], waker_comm="settlement-svc"),
        ev("TCPRetransmit", HANDLER, 207.0, tid=0, segments=1, **flow),
        ev("TCPRecv", SETTLE, 212.2, 0.02, span="c1", fd=9, bytes=300, **back),
        ev("TCPSend", SETTLE, 261.0, 0.02, span="c1", fd=9, bytes=80, **back),
        ev("TCPRecv", HANDLER, 262.3, 0.02, span="a3", fd=5, bytes=80, **flow),
    ]
    return evs, spans


def test_retransmit_to_a_starved_local_receiver_blames_what_starved_it() -> None:
    """On one host a segment is dropped only by a receiver that cannot keep up: settlement's
    threads waited for CPU 1 behind a hog for the whole wait, so the hog is the cause."""
    evs, spans = _lost_request_story()
    evs += [ev("SchedSwitch", SETTLE, 1.0 + 20 * k, 19.0, tid=TID[SETTLE] + k % 2, off_cpu_reason="PREEMPTED",
               runq_wait_ns=19 * MS, cpu=1) for k in range(11)]
    evs += [ev("SchedSwitch", HOG, 20.0 * k, 1.0, off_cpu_reason="PREEMPTED", runq_wait_ns=MS, cpu=1)
            for k in range(12)]
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    # the wait until the retransmit, then the wait for settlement, starved until 220 ms
    assert (rc.mechanism, rc.culprit.pid, rc.contribution_ns) == ("cpu-contention", HOG, ns(220.0) - ns(2.2))
    assert any("the receiver, pid 300 (settlement-svc), was stalled" in e for e in rc.evidence), rc.evidence


def test_retransmit_delays_the_wait_for_the_reply() -> None:
    evs, spans = _lost_request_story()
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    assert rc.mechanism == "tcp-retransmit"
    assert rc.culprit is None  # the flow lost the segment: no process is to blame
    # the wait until the retransmit went out; settlement's work after it is its own
    assert rc.contribution_ns == ns(207.0) - ns(2.2)
    assert x.graph.nodes[rc.node_id].event_type == "TCPRetransmit"
    assert [(s.mechanism, round(s.duration_ns / MS, 1)) for s in x.graph.critical_path if s.duration_ns >= MS] == [
        ("self", 1.4), ("tcp-retransmit", 204.8), ("downstream-latency", 5.2), ("self", 49.7), ("self", 8.0)]
    # send -> recv matched by connection and byte order, both directions
    sr = {(x.graph.nodes[e.source].event_type, x.graph.nodes[e.target].event_type, x.graph.nodes[e.source].pid)
          for e in x.graph.edges.values() if e.relation == "send-recv"}
    assert sr == {("TCPSend", "TCPRecv", HANDLER), ("TCPSend", "TCPRecv", SETTLE)}


def test_slow_dependency_blames_the_application_span() -> None:
    evs, spans = slow_dependency_story()  # the timer fired while a hog ran: not a culprit
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    assert rc.mechanism == "downstream-latency"
    assert (rc.culprit.pid, rc.culprit.service) == (RISK, "risk-check")
    assert rc.contribution_ns == ns(300.5) - ns(0.5)
    assert not any(n.pid == HOG and n.kind == "process" for n in x.graph.nodes.values())


def test_timeout_without_a_deeper_cause() -> None:
    spans = [s for s in payment_spans(800.0) if s["span_id"] not in ("c1", "c2")]  # settlement never answered
    evs = [ev("SchedSwitch", HANDLER, 2.2, 750.0, span="a3", off_cpu_reason="BLOCKED", waker_comm="swapper/1")]
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    assert x.root_cause.mechanism == "timeout"
    assert x.root_cause.culprit is None or x.root_cause.culprit.pid in (0, HANDLER)
    assert x.root_cause.contribution_ns == 750 * MS


def test_healthy_transaction_blames_nobody() -> None:
    evs, spans = healthy_story()
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    assert x.root_cause.mechanism == "none"
    assert x.root_cause.culprit is None
    assert x.to_dict()["root_cause"]["culprit"] is None


def test_unknown_transaction_is_a_lookup_error() -> None:
    evs, spans = memory_story()
    with pytest.raises(LookupError, match="unknown transaction 'nope'"):
        explain(MemorySource(evs, spans), "nope")


def test_crisp_clips_overflowing_children_and_skips_overlaps() -> None:
    def sp(i: str, parent: str, a: int, b: int) -> AppSpan:
        return AppSpan("t", i, parent, i, "svc", "Internal", a, b)

    spans = [sp("r", "", 0, 100), sp("x", "r", 10, 60), sp("y", "r", 50, 130), sp("z", "r", 20, 40),
             sp("w", "x", 5, 30)]
    path = [(spans[i].span_id, a, b) for i, a, b in critical_path(spans, 0)]
    # y overflows r: clipped to [50, 100); x overlaps y's start and ends after it: skipped;
    # z is the last child ending before 50
    assert path == [("r", 0, 20), ("z", 20, 40), ("r", 40, 50), ("y", 50, 100)]


def test_json_shape() -> None:
    evs, spans = memory_story()
    d = explain(MemorySource(evs, spans), TXN).to_dict()
    assert set(d) >= {"transaction_id", "status", "end_to_end_latency_ns", "root_cause", "chain", "graph"}
    assert set(d["root_cause"]) >= {"mechanism", "culprit", "contribution_ns", "evidence"}
    assert set(d["root_cause"]["culprit"]) == {"pid", "comm", "service"}
    edge = d["graph"]["edges"][0]
    assert {"source", "target", "relation", "inferred", "share", "latency_contribution_ns"} <= set(edge)
    ids = {n["id"] for n in d["graph"]["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in d["graph"]["edges"])
    assert model.TRANSACTION in {n["kind"] for n in d["graph"]["nodes"]}


def test_unanswered_request_is_explained_by_the_peers_stall() -> None:
    """Settlement's workers are stuck in reclaim, so the payment's request waits in its
    queue and the settlement span starts after the deadline: the handler's wait is
    explained by what the peer lost meanwhile (the active path through the peer)."""
    spans = [s for s in payment_spans(800.0) if s["span_id"] not in ("c1", "c2")]
    flow = {"saddr": "127.0.0.1", "sport": 41000, "daddr": "127.0.0.1", "dport": 9003}
    back = {"saddr": "127.0.0.1", "sport": 9003, "daddr": "127.0.0.1", "dport": 41000}
    worker = TID[SETTLE] + 5
    evs = [
        ev("TCPSend", HANDLER, 2.15, 0.02, span="a3", fd=5, bytes=300, **flow),
        ev("SchedSwitch", HANDLER, 2.2, 750.0, span="a3", off_cpu_reason="BLOCKED", waker_comm="swapper/0"),
        ev("TCPRecv", SETTLE, 2.3, 0.02, fd=9, bytes=300, **back),  # the acceptor read it
        ev("MemoryReclaim", SETTLE, -100.0, 900.0, tid=worker, pages_reclaimed=64, reclaim_kind="MEMCG", cgroup_id=77),
    ]
    evs += [ev("MemoryReclaim", BATCH, -600 + k * 20, 5.0, pages_reclaimed=64, reclaim_kind="MEMCG", cgroup_id=77)
            for k in range(30)]
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    assert (rc.mechanism, rc.culprit.pid) == ("memory-reclaim", BATCH)
    assert rc.contribution_ns == 750 * MS
    assert any("waited 750.0 ms for pid 300 (settlement-svc)" in e for e in rc.evidence)


def _explained_under_batch_pressure(evs: list, spans: list):
    """Explain the payment with the batch job faulting 400 pages into the shared cgroup
    meanwhile: the 200 ms stall must be named memory-reclaim driven by the batch job."""
    evs = [*evs, *(ev("PageFault", BATCH, -500 + k, cgroup_id=77) for k in range(400))]
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    assert (x.root_cause.mechanism, x.root_cause.culprit.pid) == ("memory-reclaim", BATCH)
    assert x.root_cause.contribution_ns == 200 * MS
    return x


def test_lock_held_by_a_stalled_thread_blames_the_stall() -> None:
    """A worker waits for a lock (the interpreter lock, say) held by a sibling that is
    itself stuck in reclaim: the reclaim is the cause, not the sibling."""
    spans = payment_spans(220.0)
    holder = TID[SETTLE] + 7
    evs = [
        ev("SchedSwitch", SETTLE, 10.0, 200.0, span="c2", off_cpu_reason="BLOCKED", waker_pid=SETTLE,
           waker_tid=holder, waker_comm="event_engine"),
        ev("MemoryReclaim", SETTLE, 9.0, 200.5, tid=holder, pages_reclaimed=32, reclaim_kind="MEMCG", cgroup_id=77),
    ]
    _explained_under_batch_pressure(evs, spans)


def test_ledger_append_queued_behind_a_sibling_in_reclaim() -> None:
    """Appends to one file serialize: the payment's write sleeps until the sibling
    worker whose append is stuck in reclaim finishes. The sibling's reclaim is the
    cause (in the chain, on its own thread) and the batch job drove it."""
    spans = payment_spans(220.0)
    sibling = TID[SETTLE] + 3
    evs = [
        ev("SyscallWrite", SETTLE, 9.9, 200.7, span="c2", fd=7, bytes=1 << 18, ret=1 << 18),
        ev("SchedSwitch", SETTLE, 10.0, 200.0, span="c2", off_cpu_reason="BLOCKED", waker_pid=SETTLE,
           waker_tid=sibling, waker_comm="waitress-3"),
        ev("SyscallWrite", SETTLE, 8.0, 202.6, tid=sibling, fd=7, bytes=1 << 18, ret=1 << 18),
        ev("MemoryReclaim", SETTLE, 8.1, 201.9, tid=sibling, pages_reclaimed=64, reclaim_kind="MEMCG",
           cgroup_id=77),
    ]
    x = _explained_under_batch_pressure(evs, spans)
    rc = x.root_cause
    assert rc.culprit.comm == "batch-job"
    chain = [x.graph.nodes[s.node_id] for s in x.chain]
    assert [(n.event_type, n.tid) for n in chain if n.kind == "kernel_event"] == [
        ("SyscallWrite", TID[SETTLE]), ("SchedSwitch", TID[SETTLE]), ("MemoryReclaim", sibling)]
    assert "waited 200.0 ms behind thread" in " ".join(rc.evidence)


def test_ledger_append_queued_behind_two_siblings_follows_the_wakers() -> None:
    """Three appends queue on one inode lock: the payment's wakes after the second
    sibling's, which woke after the first's reclaim; then the second reclaims too.
    The chain of wakers leads to the reclaim covering most of the wait."""
    spans = payment_spans(220.0)
    first, second = TID[SETTLE] + 1, TID[SETTLE] + 2
    evs = [
        ev("SyscallWrite", SETTLE, 9.9, 200.7, span="c2", fd=7, bytes=1 << 18, ret=1 << 18),
        ev("SchedSwitch", SETTLE, 10.0, 200.0, span="c2", off_cpu_reason="BLOCKED", waker_pid=SETTLE,
           waker_tid=second, waker_comm="waitress-2"),
        ev("SyscallWrite", SETTLE, 9.0, 201.0, tid=second, fd=7, bytes=1 << 18, ret=1 << 18),
        ev("SchedSwitch", SETTLE, 9.1, 140.0, tid=second, off_cpu_reason="BLOCKED", waker_pid=SETTLE,
           waker_tid=first, waker_comm="waitress-1"),
        ev("MemoryReclaim", SETTLE, 150.0, 59.0, tid=second, pages_reclaimed=64, reclaim_kind="MEMCG", cgroup_id=77),
        ev("SyscallWrite", SETTLE, 8.0, 141.5, tid=first, fd=7, bytes=1 << 18, ret=1 << 18),
        ev("MemoryReclaim", SETTLE, 8.1, 141.0, tid=first, pages_reclaimed=64, reclaim_kind="MEMCG", cgroup_id=77),
    ]
    x = _explained_under_batch_pressure(evs, spans)
    cause = [x.graph.nodes[s.node_id] for s in x.chain if x.graph.nodes[s.node_id].kind == "kernel_event"][-1]
    assert (cause.event_type, cause.tid, cause.start_ns) == ("MemoryReclaim", first, ns(8.1))


def test_cpu_contention_is_not_diluted_by_threads_blocked_since_before_the_window() -> None:
    """Three hogs take turns on settlement's CPU for the 700 ms its worker waits there.
    Ten idle pool workers blocked before the analysis window began: their first row in
    the window is a block that ends in it, and what they did before is unknown. They
    must not count as running on that CPU all along, or the hogs' share is diluted
    below what names a cause."""
    spans = payment_spans(720.0)
    evs = [ev("SchedSwitch", SETTLE, 10.0, 700.0, span="c2", off_cpu_reason="PREEMPTED",
              runq_wait_ns=700 * MS, cpu=1)]
    evs += [ev("SchedSwitch", HOG, 10.0 * k, 20.0, tid=TID[HOG] + k % 3, off_cpu_reason="PREEMPTED",
               runq_wait_ns=20 * MS, cpu=1) for k in range(73)]
    for j in range(10):  # preempted on that CPU too, so they are CPU-bound as far as anyone can see
        evs += [ev("SchedSwitch", SETTLE, 590.0, 5.0, tid=TID[SETTLE] + 10 + j, off_cpu_reason="PREEMPTED",
                   runq_wait_ns=5 * MS, cpu=1),
                ev("SchedSwitch", SETTLE, 600.0, 300.0, tid=TID[SETTLE] + 10 + j, off_cpu_reason="BLOCKED",
                   waker_comm="waitress-0", cpu=1)]
    x = explain(MemorySource(evs, spans), TXN)
    _check_tiling(x)
    rc = x.root_cause
    assert (rc.mechanism, rc.culprit.pid, rc.contribution_ns) == ("cpu-contention", HOG, 700 * MS)
    # the hogs ran 690 of the 700 ms (the first 10 ms come before any hog's first switch);
    # the workers' 5 ms each after their preemption at 590 ms is the service's own load
    assert sum(e.share for e in x.graph.edges.values() if e.source == f"proc:{HOG}") == pytest.approx(690 / 740)
