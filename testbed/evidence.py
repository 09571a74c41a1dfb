"""What the captured kernel events say about one payment's window, per mechanism.

Measured straight from the receiver's events (no inference), so the demo can put
them next to the injected truth and the engine's verdict: reclaim time in
settlement, its run-queue waits, its slowest fsync, retransmits on its port,
the lock waits the holder ended, and risk-check's longest sleep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from testbed.system import RISK_CHECK, SETTLEMENT
from testbed.truth import GroundTruth, PaymentOutcome

Event = Mapping[str, Any]
_MS = 1e6


def _clip(e: Event, lo: int, hi: int) -> tuple[int, int]:
    return max(e["timestamp_ns"], lo), min(e["timestamp_ns"] + e["duration_ns"], hi)


def union_ns(intervals: Iterable[tuple[int, int]]) -> int:
    """Total length covered by intervals (overlaps counted once)."""
    total = end = 0
    for lo, hi in sorted(i for i in intervals if i[1] > i[0]):
        lo = max(lo, end)
        if hi > lo:
            total += hi - lo
            end = hi
    return total


def runq_ns(e: Event) -> int:
    """Runnable-but-not-running time of an off-CPU interval."""
    return int(e["duration_ns"]) if e["off_cpu_reason"] == "PREEMPTED" else int(e["runq_wait_ns"])


def payment_evidence(truth: GroundTruth, payment: PaymentOutcome, events: Iterable[Event]) -> dict[str, Any]:
    """Kernel evidence inside [payment sent, payment answered]."""
    lo, hi = payment.sent_ns, payment.done_ns
    settlement = truth.services[SETTLEMENT]
    risk = truth.services[RISK_CHECK]
    holders = {c.tid for f in truth.faults for c in f.culprits if c.tid}
    reclaim: list[tuple[int, int]] = []
    runq = fsync = sleep = 0
    retransmits = 0
    lock_waits: list[tuple[int, int]] = []
    for e in events:
        start, end = e["timestamp_ns"], e["timestamp_ns"] + e["duration_ns"]
        if end < lo or start > hi:
            continue
        et, pid = e["event_type"], e["pid"]
        if et == "TCPRetransmit" and settlement.port in (e["sport"], e["dport"]):
            retransmits += 1
        elif pid == settlement.pid:
            if et == "MemoryReclaim":
                reclaim.append(_clip(e, lo, hi))
            elif et == "SyscallFsync":
                fsync = max(fsync, int(e["duration_ns"]))
            elif et == "SchedSwitch":
                runq = max(runq, runq_ns(e))
                if e["off_cpu_reason"] == "BLOCKED" and e["waker_tid"] in holders:
                    lock_waits.append(_clip(e, lo, hi))
        elif pid == risk.pid and et == "SchedSwitch" and e["off_cpu_reason"] == "BLOCKED":
            sleep = max(sleep, int(e["duration_ns"]))
    return {
        "window_ms": round((hi - lo) / _MS, 1),
        "settlement_memcg_reclaim_ms": round(union_ns(reclaim) / _MS, 1),
        "settlement_reclaim_intervals": len(reclaim),
        "settlement_longest_runq_wait_ms": round(runq / _MS, 1),
        "settlement_slowest_fsync_ms": round(fsync / _MS, 1),
        "settlement_tcp_retransmits": retransmits,
        "settlement_blocked_by_lock_holder_ms": round(union_ns(lock_waits) / _MS, 1),
        "risk_check_longest_sleep_ms": round(sleep / _MS, 1),
    }
