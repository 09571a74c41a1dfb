"""Decompose a critical-path segment of a span into kernel causes.

While a span's own time is on the critical path, its thread is either on a
CPU (the span's own work), waiting for a CPU (run-queue), reclaiming memory,
or blocked; a blocked interval is explained by its enclosing syscall, by
retransmits on the thread's connections, or by its waker. The pieces tile the
segment exactly, so contributions still add up to the end-to-end latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from causal_processor.causal import model
from causal_processor.causal.culprits import Culprits, Share
from causal_processor.causal.spans import AppSpan
from causal_processor.causal.table import (
    PREEMPTED,
    T_FSYNC,
    T_READ,
    T_RECLAIM,
    T_RECV,
    T_SWITCH,
    T_WRITE,
    EventTable,
)

SELF = "self"  # the span's own work: application code
TIMER_SLACK_NS = 2_000_000  # a timer wakeup this close to a failed span's end is its deadline
RETRANSMIT_SLACK_NS = 1_000_000


@dataclass
class Piece:
    """A sub-interval of a segment with its cause."""

    start: int
    end: int
    mechanism: str  # a model mechanism or SELF
    row: int = -1  # the kernel interval's row (switch/reclaim), -1 for on-CPU
    via_row: int = -1  # the enclosing syscall's row, when there is one
    culprits: list[Share] = field(default_factory=list)
    relation: str = model.ON_CPU
    evidence: list[str] = field(default_factory=list)


def _subtract(iv: list[tuple[int, int]], cover: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Parts of intervals `iv` not covered by the sorted, disjoint `cover`."""
    out = []
    for s, e in iv:
        cur = s
        for cs, ce in cover:
            if ce <= cur or cs >= e:
                continue
            if cs > cur:
                out.append((cur, cs))
            cur = max(cur, ce)
            if cur >= e:
                break
        if cur < e:
            out.append((cur, e))
    return out


class Attributor:
    def __init__(self, table: EventTable, culprits: Culprits) -> None:
        self.t = table
        self.c = culprits

    def decompose(self, tid: int, span: AppSpan, a: int, b: int) -> list[Piece]:
        t = self.t
        sl = t.thread_slice(tid)
        rows = np.flatnonzero((t.ts[sl] < b) & (t.end[sl] > a)) + sl.start
        reclaim = [(max(int(t.ts[r]), a), min(int(t.end[r]), b), int(r)) for r in rows if t.etype[r] == T_RECLAIM]
        reclaim.sort()
        cover = [(s, e) for s, e, _ in reclaim]
        pieces: list[Piece] = []
        for s, e, r in reclaim:
            pieces.append(self._reclaim(s, e, r, tid))
        for r in rows:
            if t.etype[r] != T_SWITCH:
                continue
            s, e = int(t.ts[r]), int(t.end[r])
            runq = int(t.dur[r]) if t.off_reason[r] == PREEMPTED else min(int(t.runq[r]), e - s)
            parts = [((max(s, a), min(e - runq, b)), "blocked"), ((max(e - runq, a), min(e, b)), "runq")]
            for (ps, pe), what in parts:
                if ps >= pe:
                    continue
                for qs, qe in _subtract([(ps, pe)], cover):
                    if what == "runq":
                        pieces.append(self._runq(qs, qe, int(r), tid))
                    else:
                        pieces.append(self._blocked(qs, qe, int(r), tid, span))
        pieces.sort(key=lambda p: p.start)
        out: list[Piece] = []
        cur = a
        for p in pieces:
            if p.start > cur:
                out.append(Piece(cur, p.start, SELF))
            out.append(p)
            cur = p.end
        if cur < b:
            out.append(Piece(cur, b, SELF))
        return out

    def _enclosing_syscall(self, tid: int, s: int, e: int) -> int:
        t = self.t
        sl = t.thread_slice(tid)
        et = t.etype[sl]
        m = ((et == T_FSYNC) | (et == T_WRITE) | (et == T_READ) | (et == T_RECV)) & (t.ts[sl] <= s) & (t.end[sl] >= e)
        idx = np.flatnonzero(m)
        return int(idx[-1]) + sl.start if len(idx) else -1

    def _reclaim(self, s: int, e: int, r: int, tid: int) -> Piece:
        t = self.t
        shares = self.c.memory(int(t.ts[r]), int(t.end[r]), int(t.pid[r]), int(t.cgroup[r]))
        via = self._enclosing_syscall(tid, s, e)
        ev = [f"reclaim interval of {int(t.dur[r]) / 1e6:.1f} ms ({int(t.pages[r])} pages) in tid {tid}"]
        ev += [f"pid {x.pid} ({x.comm}) drove {x.share:.0%} of the pressure" for x in shares[:3]]
        return Piece(s, e, model.MEMORY_RECLAIM_CAUSE, r, via, shares, model.RECLAIM, ev)

    def _runq(self, s: int, e: int, r: int, tid: int) -> Piece:
        t = self.t
        cpu = int(t.cpu[r])
        shares = self.c.cpu(cpu, s, e, tid)
        ev = [f"runnable but waiting for CPU {cpu}"]
        ev += [f"pid {x.pid} ({x.comm}) ran {x.weight / 1e6:.2f} ms on CPU {cpu} meanwhile" for x in shares[:3]]
        return Piece(s, e, model.CPU_CONTENTION, r, -1, shares, model.RUNQUEUE, ev)

    def _blocked(self, s: int, e: int, r: int, tid: int, span: AppSpan) -> Piece:
        t = self.t
        pid = int(t.pid[r])
        via = self._enclosing_syscall(tid, s, e)
        if via >= 0 and (t.etype[via] == T_FSYNC or (t.etype[via] == T_WRITE and (pid, int(t.fd[via])) not in self.c._socket_fds)):
            shares = self.c.disk(int(t.ts[via]), int(t.end[via]), pid)
            name = "fsync" if t.etype[via] == T_FSYNC else "write"
            ev = [f"{name}(fd={int(t.fd[via])}) took {int(t.dur[via]) / 1e6:.1f} ms, blocked on the device"]
            ev += [f"pid {x.pid} ({x.comm}) wrote {x.weight / 1e6:.1f} MB meanwhile" for x in shares[:3]]
            if not shares:
                shares = [Share(pid, tid, str(t.comm[r]), 1.0, float(e - s))]
            return Piece(s, e, model.DISK_IO_CAUSE, r, via, shares, model.DISK_IO, ev)
        flows = self.c.flows_of(tid, span.start_ns - 1_000_000_000, span.end_ns)
        rt = self.c.retransmits(flows, s - RETRANSMIT_SLACK_NS, e + RETRANSMIT_SLACK_NS)
        if len(rt):
            i = int(rt[0])
            owner = self.c.socket_owner(str(t.saddr[i]), int(t.sport[i]))
            flow = f"{t.saddr[i]}:{t.sport[i]} -> {t.daddr[i]}:{t.dport[i]}"
            ev = [f"{len(rt)} retransmit(s) on {flow} while blocked {(e - s) / 1e6:.1f} ms"]
            shares = [Share(owner[0], owner[1], owner[2], 1.0, float(len(rt)))] if owner else []
            return Piece(s, e, model.TCP_RETRANSMIT, r, via, shares, model.RETRANSMIT, ev)
        wpid, wtid = int(t.waker_pid[r]), int(t.waker_tid[r])
        wcomm = str(t.waker_comm[r])
        if wpid == pid and wtid and wtid != tid:
            ev = [f"blocked {(e - s) / 1e6:.1f} ms until thread {wtid} ({wcomm}) of the same process woke it"]
            return Piece(s, e, model.LOCK_CONTENTION, r, via, [Share(wpid, wtid, wcomm, 1.0, float(e - s))], model.LOCK, ev)
        if wpid and wpid != pid and self.c.linked_by_tcp(pid, wpid):
            ev = [f"blocked {(e - s) / 1e6:.1f} ms waiting for pid {wpid} ({wcomm}) over TCP"]
            return Piece(s, e, model.DOWNSTREAM_LATENCY, r, via, [Share(wpid, wtid, wcomm, 1.0, float(e - s))], model.SEND_RECV, ev)
        # woken from interrupt context: a timer (or an IRQ), not a culprit
        if span.status == "ERROR" and abs(span.end_ns - e) <= TIMER_SLACK_NS:
            ev = [f"timer fired after {(e - s) / 1e6:.1f} ms blocked; {span.name} failed at its deadline"]
            return Piece(s, e, model.TIMEOUT_CAUSE, r, via, [], model.TIMEOUT, ev)
        ev = [f"slept {(e - s) / 1e6:.1f} ms in {span.service} (timer wakeup, no kernel cause)"]
        return Piece(s, e, SELF, r, via, [], model.WAKEUP, ev)
