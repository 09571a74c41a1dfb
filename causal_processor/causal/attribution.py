"""Decompose a critical-path segment of a span into kernel causes.

While a span's own time is on the critical path, its thread is either on a
CPU (the span's own work), waiting for a CPU (run-queue), reclaiming memory,
or blocked; a blocked interval is explained by its enclosing syscall, by
retransmits on the thread's connections, or by its waker. The pieces tile the
segment exactly, so contributions still add up to the end-to-end latency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from causal_processor.app_span import AppSpan
from causal_processor.causal import model
from causal_processor.causal.culprits import DISK_WRITE_MIN_BYTES, Culprits, Share
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
PEER_MIN_FRACTION = 0.2  # a peer's kernel stall must cover this much of our wait to be its cause
PEER_WINDOW_NS = 1_000_000_000  # connections a thread used this close to its span are its own
SIBLING_RECLAIM_COVER = 0.5  # the wakers' reclaim must cover this much of the wait to be its cause
SIBLING_CHAIN_MAX = 8  # wakers followed back (threads queued on one inode lock)
RECLAIM_BEHIND_IO = 0.5  # others reclaiming this much of a slow disk syscall: memory pressure
RECEIVER_STALL_FRACTION = 0.5  # a local receiver stalled this much of a retransmit's wait dropped it
RECEIVER_STALLS = frozenset({model.CPU_CONTENTION, model.MEMORY_RECLAIM_CAUSE})


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
    cause_row: int = -1  # a kernel event that caused it elsewhere (a retransmit, the peer's stall)
    peer_send: int = -1  # the request this thread waits on


_URL_PORT = re.compile(r"^[a-z]+://[^/:]+:(\d+)")
_PORT_KEYS = ("server.port", "net.peer.port", "net.sock.peer.port")
_URL_KEYS = ("url.full", "http.url")


_STALL_WORDS = {
    model.MEMORY_RECLAIM_CAUSE: "in memory reclaim",
    model.DISK_IO_CAUSE: "writing to disk",
    model.CPU_CONTENTION: "waiting for a CPU",
    model.LOCK_CONTENTION: "waiting for a lock",
}
_KERNEL_STALLS = frozenset(_STALL_WORDS) - {model.LOCK_CONTENTION}  # what a lock holder can pass on


def server_ports(span: AppSpan) -> frozenset[int]:
    """Ports a client span says it called (OTel HTTP client attributes): the
    connection may still be in its handshake, with no kernel event of its own yet."""
    if not span.kind.upper().endswith("CLIENT"):
        return frozenset()
    out = set()
    for k in _PORT_KEYS:
        v = span.attributes.get(k)
        if v is not None and str(v).isdigit():
            out.add(int(v))
    for k in _URL_KEYS:
        m = _URL_PORT.match(str(span.attributes.get(k, "")))
        if m:
            out.add(int(m.group(1)))
    return frozenset(out)


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
        kinds = t.etype[rows]
        rec = rows[kinds == T_RECLAIM]
        reclaim = sorted(zip(np.maximum(t.ts[rec], a).tolist(), np.minimum(t.end[rec], b).tolist(),
                             rec.tolist(), strict=True))
        cover = [(s, e) for s, e, _ in reclaim]
        pieces: list[Piece] = []
        for s, e, r in reclaim:
            pieces.append(self._reclaim(s, e, r, tid))
        sw = rows[kinds == T_SWITCH]
        for r, s, e, dur, rq, why in zip(sw.tolist(), t.ts[sw].tolist(), t.end[sw].tolist(), t.dur[sw].tolist(),
                                         t.runq[sw].tolist(), t.off_reason[sw].tolist(), strict=True):
            runq = dur if why == PREEMPTED else min(rq, e - s)
            parts = [((max(s, a), min(e - runq, b)), "blocked"), ((max(e - runq, a), min(e, b)), "runq")]
            for (ps, pe), what in parts:
                if ps >= pe:
                    continue
                for qs, qe in _subtract([(ps, pe)], cover):
                    if what == "runq":
                        pieces.append(self._runq(qs, qe, r, tid))
                    else:
                        pieces.extend(self._blocked(qs, qe, r, tid, span))
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
        pid = int(t.pid[r])
        # the service's own threads competing for its CPU are its own load, not a culprit
        seen = self.c.cpu(cpu, s, e, tid)
        shares = [x for x in seen if x.pid != pid]
        if not shares and seen:
            return Piece(s, e, SELF, r, -1, [], model.RUNQUEUE, [f"waited for CPU {cpu} behind its own threads"])
        if not shares:  # whoever ran there is not recorded: contention, but nobody to name
            return Piece(s, e, model.CPU_CONTENTION, r, -1, [], model.RUNQUEUE,
                         [f"waited for CPU {cpu} behind processes that were not recorded"])
        ev = [f"runnable but waiting for CPU {cpu}"]
        ev += [f"pid {x.pid} ({x.comm}) ran {x.weight / 1e6:.2f} ms on CPU {cpu} meanwhile" for x in shares[:3]]
        return Piece(s, e, model.CPU_CONTENTION, r, -1, shares, model.RUNQUEUE, ev)

    def _blocked(self, s: int, e: int, r: int, tid: int, span: AppSpan) -> list[Piece]:
        t = self.t
        pid = int(t.pid[r])
        via = self._enclosing_syscall(tid, s, e)
        if via >= 0 and self._disk_syscall(via):
            lo, hi = int(t.ts[via]), int(t.end[via])
            behind = self._sibling_reclaim(r, tid, s, e)
            if behind >= 0:
                return [self._behind_reclaim(s, e, r, via, behind)]
            if self.c.reclaim_time(lo, hi, pid) >= RECLAIM_BEHIND_IO * (hi - lo):
                # the device is busy writing back what memory reclaim pushed out: the
                # pressure, not the disk, is the cause (memcg writeback throttling)
                shares = self.c.memory(lo, hi, pid, int(t.cgroup[via]))
                ev = [f"{'fsync' if t.etype[via] == T_FSYNC else 'write'}(fd={int(t.fd[via])}) took "
                      f"{(hi - lo) / 1e6:.1f} ms while other processes reclaimed memory (writeback)"]
                ev += [f"pid {x.pid} ({x.comm}) drove {x.share:.0%} of the pressure" for x in shares[:3]]
                return [Piece(s, e, model.MEMORY_RECLAIM_CAUSE, r, via, shares, model.RECLAIM, ev)]
            shares = self.c.disk(lo, hi, pid)
            name = "fsync" if t.etype[via] == T_FSYNC else "write"
            ev = [f"{name}(fd={int(t.fd[via])}) took {int(t.dur[via]) / 1e6:.1f} ms, blocked on the device"]
            ev += [f"pid {x.pid} ({x.comm}) wrote {x.weight / 1e6:.1f} MB meanwhile" for x in shares[:3]]
            if not shares:  # the device was slow, but no other writer was recorded: name nobody
                ev.append("no other writer was recorded")
            return [Piece(s, e, model.DISK_IO_CAUSE, r, via, shares, model.DISK_IO, ev)]
        out: list[Piece] = []
        peers = self.c.peers_of(tid, span.start_ns - PEER_WINDOW_NS, span.end_ns + PEER_WINDOW_NS)
        rt = self.c.retransmits(peers, s - RETRANSMIT_SLACK_NS, e, server_ports(span))
        if len(rt):
            # the wait until the last retransmit went out is the loss's; what follows
            # (the peer's work on the late data) is explained like any other wait
            last = int(rt[np.argmax(t.ts[rt])])
            cut = min(e, max(s, int(t.ts[last])))
            flow = f"{t.saddr[last]}:{t.sport[last]} -> {t.daddr[last]}:{t.dport[last]}"
            ev = [f"{len(rt)} retransmit(s) on {flow}; the wait until the last one cost {(cut - s) / 1e6:.1f} ms"]
            if cut > s:
                out.append(self._receiver_stall(s, cut, r, via, last, ev)
                           or Piece(s, cut, model.TCP_RETRANSMIT, r, via, [], model.RETRANSMIT, ev, cause_row=last))
                s = cut
            if s >= e:
                return out
        return [*out, self._woken(s, e, r, via, tid, span)]

    def _receiver_stall(self, s: int, e: int, r: int, via: int, rt: int, ev: list[str]) -> Piece | None:
        """A retransmit to a socket of a recorded process on this host: a local receiver
        drops only when it cannot keep up (a full accept or receive queue), so when that
        process was itself starved of CPU or stuck in reclaim for most of the wait, its
        stall is the cause and the retransmit only passed it on. A packet dropped by a
        rule or a link (its receiver idle) stays the retransmit's."""
        t = self.t
        owner = self.c.socket_owner(str(t.daddr[rt]), int(t.dport[rt]))
        if owner is None or owner[0] == int(t.pid[r]):
            return None
        ppid, _, pcomm = owner
        stall = self._main_stall(ppid, s, e, RECEIVER_STALLS, RECEIVER_STALL_FRACTION)
        if stall is None:
            return None
        mech, ns, row = stall
        shares = self._stall_culprits(mech, row, ppid, s, e)
        ev = [*ev, f"the receiver, pid {ppid} ({pcomm}), was stalled: its threads spent {ns / 1e6:.1f} ms "
                   f"{_STALL_WORDS[mech]} meanwhile (a local receiver drops only when it cannot keep up)"]
        ev += [f"pid {x.pid} ({x.comm}) {x.share:.0%} of the cause" for x in shares[:3]]
        return Piece(s, e, mech, r, via, shares, model.RETRANSMIT, ev, cause_row=row)

    def _sibling_reclaim(self, r: int, tid: int, s: int, e: int) -> int:
        """The reclaim interval this blocked wait queued behind: the thread of the same
        process that woke it held what it waited for (appends to one file serialize
        on its inode lock) while stalled in reclaim, or queued itself behind one that
        was (the chain of wakers is followed). The reclaim intervals along the chain
        must cover most of the wait; the one covering most of it is returned, -1 when
        there is none."""
        t = self.t
        pid = int(t.pid[r])
        seen = {tid}
        row = r
        found: list[tuple[int, int]] = []  # (overlap, reclaim row)
        for _ in range(SIBLING_CHAIN_MAX):
            wtid = int(t.waker_tid[row])
            if int(t.waker_pid[row]) != pid or not wtid or wtid in seen:
                break
            seen.add(wtid)
            sl = t.thread_slice(wtid)
            near = np.flatnonzero((t.ts[sl] < e) & (t.end[sl] > s)) + sl.start
            overlap = np.minimum(t.end[near], e) - np.maximum(t.ts[near], s)
            rec = t.etype[near] == T_RECLAIM
            found += list(zip(overlap[rec].tolist(), near[rec].tolist(), strict=True))
            blocked = (t.etype[near] == T_SWITCH) & (t.off_reason[near] != PREEMPTED)
            if not blocked.any():
                break
            row = int(near[blocked][np.argmax(overlap[blocked])])
        if not found:
            return -1
        covered = sum(ns for ns, _ in found)  # threads of one chain reclaim one after another
        return max(found)[1] if covered >= SIBLING_RECLAIM_COVER * (e - s) else -1

    def _behind_reclaim(self, s: int, e: int, r: int, via: int, behind: int) -> Piece:
        t = self.t
        shares = self.c.memory(int(t.ts[behind]), int(t.end[behind]), int(t.pid[behind]), int(t.cgroup[behind]))
        name = "fsync" if t.etype[via] == T_FSYNC else "write"
        ev = [f"{name}(fd={int(t.fd[via])}) waited {(e - s) / 1e6:.1f} ms behind thread {int(t.tid[behind])} "
              f"of the same process, itself {int(t.dur[behind]) / 1e6:.1f} ms in memory reclaim"]
        ev += [f"pid {x.pid} ({x.comm}) drove {x.share:.0%} of the pressure" for x in shares[:3]]
        return Piece(s, e, model.MEMORY_RECLAIM_CAUSE, r, via, shares, model.RECLAIM, ev, cause_row=behind)

    def _disk_syscall(self, row: int) -> bool:
        t = self.t
        if t.etype[row] == T_FSYNC:
            return True
        return (t.etype[row] == T_WRITE and int(t.nbytes[row]) >= DISK_WRITE_MIN_BYTES
                and (int(t.pid[row]), int(t.fd[row])) not in self.c._socket_fds)

    def _woken(self, s: int, e: int, r: int, via: int, tid: int, span: AppSpan) -> Piece:
        """A blocked wait explained by who woke it, or by the peer it waited for."""
        t = self.t
        pid = int(t.pid[r])
        peer = self._peer(tid, span, s)
        if peer is not None:  # a request is out and unanswered: whoever woke us, we waited for it
            return self._peer_wait(s, e, r, via, peer)
        wpid, wtid = int(t.waker_pid[r]), int(t.waker_tid[r])
        wcomm = str(t.waker_comm[r])
        if wpid == pid and wtid and wtid != tid:
            holder = self._holder_stall(s, e, r, via, wpid, wtid, wcomm)
            if holder is not None:
                return holder
            ev = [f"blocked {(e - s) / 1e6:.1f} ms until thread {wtid} ({wcomm}) of the same process woke it"]
            return Piece(s, e, model.LOCK_CONTENTION, r, via, [Share(wpid, wtid, wcomm, 1.0, float(e - s))], model.LOCK, ev)
        # woken from interrupt context: a timer (or an IRQ), not a culprit
        if span.status == "ERROR" and abs(span.end_ns - e) <= TIMER_SLACK_NS:
            ev = [f"timer fired after {(e - s) / 1e6:.1f} ms blocked; {span.name} failed at its deadline"]
            return Piece(s, e, model.TIMEOUT_CAUSE, r, via, [], model.TIMEOUT, ev)
        ev = [f"slept {(e - s) / 1e6:.1f} ms in {span.service} (timer wakeup, no kernel cause)"]
        return Piece(s, e, SELF, r, via, [], model.WAKEUP, ev)

    def _holder_stall(self, s: int, e: int, r: int, via: int, pid: int, wtid: int, wcomm: str) -> Piece | None:
        """A lock (a mutex, the GIL) held by a thread that was itself stalled in the kernel:
        the stall is the cause, the lock only passed it on."""
        stall = self._main_stall(pid, s, e, _KERNEL_STALLS, PEER_MIN_FRACTION, tid=wtid)
        if stall is None:
            return None
        mech, ns, row = stall
        shares = self._stall_culprits(mech, row, pid, s, e)
        ev = [f"blocked {(e - s) / 1e6:.1f} ms on a lock held by thread {wtid} ({wcomm})",
              f"which spent {ns / 1e6:.1f} ms in {mech} meanwhile"]
        ev += [f"pid {x.pid} ({x.comm}) {x.share:.0%} of the cause" for x in shares[:3]]
        return Piece(s, e, mech, r, via, shares, model.LOCK, ev, cause_row=row)

    def _main_stall(self, pid: int, s: int, e: int, mechs: frozenset[str], fraction: float,
                    tid: int = 0) -> tuple[str, int, int] | None:
        """The mechanism in which the process's threads (or one thread) lost the most of
        [s, e), among `mechs`, when that is at least `fraction` of it: (mechanism, ns lost,
        the row of its largest interval)."""
        lost = {m: v for m, v in self.c.peer_lost_time(pid, s, e, tid=tid).items() if m in mechs}
        if not lost:
            return None
        mech, (ns, row) = max(lost.items(), key=lambda kv: kv[1][0])
        return (mech, ns, row) if ns >= fraction * (e - s) and row >= 0 else None

    def _stall_culprits(self, mech: str, row: int, pid: int, s: int, e: int) -> list[Share]:
        t = self.t
        if mech == model.MEMORY_RECLAIM_CAUSE:
            return self.c.memory(int(t.ts[row]), int(t.end[row]), pid, int(t.cgroup[row]))
        if mech == model.DISK_IO_CAUSE:
            return self.c.disk(int(t.ts[row]), int(t.end[row]), pid)
        return [x for x in self.c.cpu(int(t.cpu[row]), max(s, int(t.ts[row])), min(e, int(t.end[row])),
                                      int(t.tid[row])) if x.pid != pid]

    def _peer(self, tid: int, span: AppSpan, s: int) -> tuple[int, int, str, int] | None:
        """(pid, tid, comm, send row) of the process the thread waits on: the owner of the
        other end of its last request before blocking, if no answer came back yet."""
        t = self.t
        send = self.c.last_send(tid, span.start_ns, s)
        if send < 0 or self.c.answered(send, s):
            return None
        owner = self.c.socket_owner(str(t.daddr[send]), int(t.dport[send]))
        if owner is None or owner[0] == int(t.pid[send]):
            return None
        return (*owner, send)

    def _peer_wait(self, s: int, e: int, r: int, via: int, peer: tuple[int, int, str, int]) -> Piece:
        """Waiting for a peer that had not answered: what the peer's threads lost meanwhile
        is the cause (the active path through the peer), else the peer's own work."""
        t = self.t
        ppid, ptid, pcomm, send = peer
        stall = self._main_stall(ppid, s, e, frozenset(_STALL_WORDS), PEER_MIN_FRACTION)
        head = f"waited {(e - s) / 1e6:.1f} ms for pid {ppid} ({pcomm}) to answer"
        if stall is not None:
            mech, ns, row = stall
            if mech == model.LOCK_CONTENTION:
                shares = [Share(ppid, int(t.waker_tid[row]), str(t.waker_comm[row]), 1.0, float(ns))]
            else:
                shares = self._stall_culprits(mech, row, ppid, s, e)
            what = _STALL_WORDS[mech]
            ev = [head, f"its threads spent {ns / 1e6:.1f} ms {what} meanwhile"]
            ev += [f"pid {x.pid} ({x.comm}) {x.share:.0%} of the cause" for x in shares[:3]]
            return Piece(s, e, mech, r, via, shares, model.WAKEUP, ev, cause_row=row, peer_send=send)
        ev = [head, "its threads lost no time in the kernel: its own work"]
        return Piece(s, e, model.DOWNSTREAM_LATENCY, r, via, [Share(ppid, ptid, pcomm, 1.0, float(e - s))],
                     model.WAKEUP, ev, peer_send=send)
