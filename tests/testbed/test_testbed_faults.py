"""Each fault, run with the eBPF receiver attached, shows its mechanism in the
captured kernel events and gives the payment outcome the scenario predicts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from testbed import GroundTruth, Testbed, scenario
from testbed.evidence import runq_ns, union_ns
from tests.testbed.otlp_sink import SpanSink, span_named

pytestmark = pytest.mark.ebpf

COMMS = ["payment-handler", "risk-check", "settlement-svc", "batch-job", "cpu-hog",
         "disk-writer", "ledger-compact"]
MS = 1_000_000
Event = dict[str, Any]


@pytest.fixture(scope="module")
def capture_cls() -> Iterator[Any]:
    capture = pytest.importorskip("collector_receiver").Capture
    yield capture


def captured(capture_cls: Any, testbed: Testbed, name: str) -> tuple[GroundTruth, list[Event]]:
    with capture_cls(comms=COMMS) as cap:
        truth = testbed.run(scenario(name))
    return truth, cap.events


def overlap_ns(e: Event, start_ns: int, end_ns: int) -> int:
    return max(0, min(e["timestamp_ns"] + e["duration_ns"], end_ns) - max(e["timestamp_ns"], start_ns))


def of(evs: list[Event], event_type: str, pid: int | None = None) -> list[Event]:
    return [e for e in evs if e["event_type"] == event_type and (pid is None or e["pid"] == pid)]


def caught_payment(truth: GroundTruth, stage: str, reasons: tuple[str, ...] = ("timeout",),
                   share: float = 0.5, full_ns: int | None = None) -> None:
    """The scenario's predicted outcome: payments caught in the fault miss the deadline.

    Judged on the payment the demo and the engine explain (`focus_payment`: the
    named one when it failed, as it nearly always does, else the slowest failure)
    and on the payments sent while the fault was at full strength (from `full_ns`;
    default 100 ms after the last fault started), at least `share` of which must
    fail; payments done before the fault started were healthy.
    """
    assert truth.expected_named_status == "failed"
    focus = truth.focus_payment()
    assert focus is not None
    assert (focus.status, focus.stage) == ("failed", stage)
    assert focus.reason in reasons
    assert focus.latency_ms >= truth.timeout_ms
    full = full_ns if full_ns is not None else max(f.start_ns for f in truth.faults) + 100 * MS
    caught = [p for p in truth.payments if full <= p.sent_ns <= truth.faults[0].end_ns]
    assert caught and len([p for p in caught if p.status == "failed"]) >= share * len(caught)
    first = min(f.start_ns for f in truth.faults)
    before = [p for p in truth.payments if p.done_ns < first]
    assert before and all(p.status == "succeeded" for p in before)


def settlement_call(sink: SpanSink, truth: GroundTruth) -> dict[str, Any]:
    """payment-handler's client span of the focus payment's call to settlement. The
    handler exports it in its own batch, which can arrive after settlement's spans: wait
    for it too, not only for the names the trace is known by."""
    focus = truth.focus_payment()
    assert focus is not None
    deadline = time.monotonic() + 10
    while True:
        spans = sink.wait_for(focus.trace_id, {"POST /risk/check", "ledger.write"})
        risk = span_named(spans, "POST /risk/check")
        # the handler's other client call: not the one risk-check's server span answered (its
        # end can come after the handler's next call started: it ends after the response went)
        call = next((s for s in spans if s["service"] == "payment-handler" and s["name"] == "POST"
                     and s["span_id"] != risk["parent_span_id"] and s["start_ns"] > risk["start_ns"]), None)
        if call is not None:
            return call
        assert time.monotonic() < deadline, sorted((s["service"], s["name"]) for s in spans)
        time.sleep(0.1)


def settlement_window(sink: SpanSink, truth: GroundTruth, span: str) -> dict[str, Any]:
    focus = truth.focus_payment()
    assert focus is not None
    spans = sink.wait_for(focus.trace_id, {span})
    return span_named(spans, span, "settlement-svc")


def test_memory_pressure_stalls_the_ledger_append_in_reclaim(
        capture_cls: Any, testbed: Testbed, span_sink: SpanSink) -> None:
    truth, evs = captured(capture_cls, testbed, "memory-pressure")
    caught_payment(truth, "settlement-svc")
    fault = truth.faults[0]
    assert fault.mechanism == "memory-reclaim" and fault.measured["oom_kills"] == 0
    batch = fault.culprits[0]
    assert (batch.role, batch.comm) == ("batch-job", "batch-job")

    # while payment-handler waited for settlement (its client span, cut by the
    # deadline), settlement was in memcg reclaim most of the time: in the focus
    # payment's own ledger write, in the thread its append queued behind (appends
    # to one file serialize on the inode lock), or in a page fault holding the GIL
    call = settlement_call(span_sink, truth)
    settlement = truth.services["settlement-svc"].pid
    reclaim = of(evs, "MemoryReclaim", settlement)
    assert reclaim and all(e["reclaim_kind"] == "MEMCG" for e in reclaim)
    covered = union_ns([(max(e["timestamp_ns"], call["start_ns"]),
                         min(e["timestamp_ns"] + e["duration_ns"], call["end_ns"])) for e in reclaim])
    assert covered >= (call["end_ns"] - call["start_ns"]) // 2
    assert max(e["duration_ns"] for e in reclaim) >= 300 * MS
    # the culprit was reclaiming too: the pressure came from its own allocations
    assert of(evs, "MemoryReclaim", batch.pid)


def test_cpu_contention_queues_settlement_behind_the_hogs(
        capture_cls: Any, testbed: Testbed, span_sink: SpanSink) -> None:
    truth, evs = captured(capture_cls, testbed, "cpu-contention")
    # The hogs are at full strength once the fault's start returned (each hog pinned,
    # reniced and READY), which is when the runner sends the named payment: starting
    # three Python processes takes 0.3-2 s on a loaded machine, so "100 ms after the
    # start" would judge payments sent before any hog ran (they succeed).
    assert truth.named is not None
    caught_payment(truth, "settlement-svc", full_ns=truth.named.sent_ns)
    fault = truth.faults[0]
    cpu = fault.measured["cpu"]
    assert [cpu] == list(truth.services["settlement-svc"].cpus)
    hogs = {c.pid for c in fault.culprits}
    assert len(hogs) == 3

    call = settlement_call(span_sink, truth)
    settlement = truth.services["settlement-svc"].pid
    waits = [runq_ns(e) for e in of(evs, "SchedSwitch", settlement)
             if overlap_ns(e, call["start_ns"], call["end_ns"])]
    assert max(waits) >= 50 * MS
    assert sum(waits) >= 200 * MS
    # the hogs ran on settlement's CPU meanwhile
    hog_events = [e for e in evs if e["pid"] in hogs
                  and overlap_ns(e, call["start_ns"], call["end_ns"])]
    assert hog_events and {e["cpu"] for e in hog_events} == {cpu}


def test_disk_stall_makes_the_ledger_fsync_slow(
        capture_cls: Any, testbed: Testbed, span_sink: SpanSink) -> None:
    truth, evs = captured(capture_cls, testbed, "disk-stall")
    caught_payment(truth, "settlement-svc")
    writer = truth.faults[0].culprits[0]
    assert writer.comm == "disk-writer"

    fsync_span = settlement_window(span_sink, truth, "ledger.fsync")
    settlement = truth.services["settlement-svc"].pid
    fsyncs = [e for e in of(evs, "SyscallFsync", settlement)
              if overlap_ns(e, fsync_span["start_ns"], fsync_span["end_ns"])]
    assert fsyncs and max(e["duration_ns"] for e in fsyncs) >= 300 * MS
    # the writer was pushing data to the same volume meanwhile
    assert [e for e in of(evs, "SyscallWrite", writer.pid)
            if e["timestamp_ns"] < fsync_span["end_ns"]]


def test_packet_loss_retransmits_on_the_settlement_flow(
        capture_cls: Any, testbed: Testbed) -> None:
    truth, evs = captured(capture_cls, testbed, "packet-loss")
    # past the deadline either way: no answer in time, or the connection gave up
    caught_payment(truth, "settlement-svc", ("timeout", "unreachable"))
    fault = truth.faults[0]
    port = truth.services["settlement-svc"].port
    assert fault.measured["port"] == port and fault.measured["dropped_packets"] > 0
    retransmits = of(evs, "TCPRetransmit")
    on_flow = [e for e in retransmits if port in (e["sport"], e["dport"])]
    # far more than the odd tail-loss probe a busy machine sends anyway
    assert len(on_flow) >= 3
    assert max(Counter(flow(e) for e in on_flow).values()) >= 2  # backed-off retries of one flow
    assert all(fault.start_ns <= e["timestamp_ns"] <= fault.end_ns for e in on_flow)


def test_lock_contention_blocks_writers_until_the_holder_wakes_them(
        capture_cls: Any, testbed: Testbed, span_sink: SpanSink) -> None:
    truth, evs = captured(capture_cls, testbed, "lock-contention")
    # a payment fails when it meets the first (1200 - 750) ms of a hold: 30% of the cycle
    caught_payment(truth, "settlement-svc", share=0.2)
    holder = truth.faults[0].culprits[0]
    settlement = truth.services["settlement-svc"].pid
    assert (holder.pid, holder.comm) == (settlement, "ledger-compact") and holder.tid

    # the focus payment's thread slept through its lock wait, and the holder woke
    # it (as it woke the writers queued with it)
    lock_wait = settlement_window(span_sink, truth, "ledger.lock.wait")
    blocked = [e for e in of(evs, "SchedSwitch", settlement)
               if e["tid"] != holder.tid and e["off_cpu_reason"] == "BLOCKED"
               and e["timestamp_ns"] >= lock_wait["start_ns"] and e["duration_ns"] >= 300 * MS
               and e["timestamp_ns"] + e["duration_ns"] <= lock_wait["end_ns"] + 5 * MS]
    holder_key = (settlement, holder.tid, "ledger-compact")
    named_thread = min(blocked, key=lambda e: e["timestamp_ns"] - lock_wait["start_ns"])
    assert named_thread["timestamp_ns"] - lock_wait["start_ns"] < 50 * MS
    assert (named_thread["waker_pid"], named_thread["waker_tid"], named_thread["waker_comm"]) == holder_key
    woken_by_holder = [e for e in blocked
                       if (e["waker_pid"], e["waker_tid"], e["waker_comm"]) == holder_key]
    assert len(woken_by_holder) * 2 >= len(blocked)


def test_slow_dependency_is_app_time_with_an_innocent_kernel(
        capture_cls: Any, testbed: Testbed, span_sink: SpanSink) -> None:
    truth, evs = captured(capture_cls, testbed, "slow-dependency")
    caught_payment(truth, "risk-check")
    assert truth.faults[0].culprits == []
    focus = truth.focus_payment()
    assert focus is not None
    spans = span_sink.wait_for(focus.trace_id, {"risk.score"})
    score = span_named(spans, "risk.score", "risk-check")
    risk = truth.services["risk-check"].pid
    asleep = [e for e in of(evs, "SchedSwitch", risk)
              if e["off_cpu_reason"] == "BLOCKED"
              and score["start_ns"] <= e["timestamp_ns"] <= score["start_ns"] + 20 * MS
              and e["duration_ns"] >= 500 * MS]
    # one sleep as long as the injected delay: a timer ended it, nothing else did
    delay_ns = int(truth.faults[0].intensity["delay_ms"]) * MS
    assert len(asleep) == 1
    assert delay_ns <= asleep[0]["duration_ns"] <= delay_ns + 100 * MS
    assert_kernel_quiet(truth, evs, "risk-check")


def test_no_fault_shows_no_mechanism(capture_cls: Any, testbed: Testbed) -> None:
    truth, evs = captured(capture_cls, testbed, "none")
    assert truth.expected_named_status == "succeeded"
    assert truth.named is not None and truth.named.status == "succeeded"
    # (a heavily loaded machine can push the odd payment past 750 ms on its own)
    assert len(truth.failed) <= len(truth.payments) // 10
    assert_kernel_quiet(truth, evs, "settlement-svc")


def test_a_hog_on_another_core_is_only_a_distractor(capture_cls: Any, testbed: Testbed) -> None:
    truth, evs = captured(capture_cls, testbed, "cpu-distractor")
    fault = truth.faults[0]
    assert fault.distractor and fault.target_service is None and not fault.predicts_failure
    assert truth.expected_named_status == "succeeded"
    assert truth.named is not None and truth.named.status == "succeeded"
    assert fault.measured["cpu"] not in truth.services["settlement-svc"].cpus
    hog = [e["cpu"] for e in evs if e["pid"] == fault.culprits[0].pid]
    assert hog.count(fault.measured["cpu"]) >= 0.9 * len(hog)
    assert_kernel_quiet(truth, evs, "settlement-svc")


def assert_kernel_quiet(truth: GroundTruth, evs: list[Event], service: str) -> None:
    """None of the kernel mechanisms touched `service` while the named payment ran.

    Run-queue waits are not judged here: without hogs of ours, a wait is other
    work on a shared machine, which the cpu-contention test tells apart by the
    hogs' pids."""
    info = truth.services[service]
    assert truth.named is not None
    lo, hi = truth.named.sent_ns, truth.named.done_ns
    inside = [e for e in evs if overlap_ns(e, lo, hi) or lo <= e["timestamp_ns"] <= hi]
    assert of(inside, "MemoryReclaim", info.pid) == []
    # a reply slower than the sender's probe timeout draws one tail-loss probe (the
    # receiver delays its ACK): normal; a loss is retransmitted again and again
    probes = Counter(flow(e) for e in of(inside, "TCPRetransmit") if info.port in (e["sport"], e["dport"]))
    assert max(probes.values(), default=0) <= 1
    assert max((e["duration_ns"] for e in of(inside, "SyscallFsync", info.pid)), default=0) < 200 * MS


def flow(e: Event) -> tuple[str, int, str, int]:
    return (e["saddr"], e["sport"], e["daddr"], e["dport"])
