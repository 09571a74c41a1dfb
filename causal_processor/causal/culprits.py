"""Who caused a lost interval: inference over the other processes in the window.

Each function answers one mechanism's question with vectorised interval
arithmetic over an EventTable and returns (pid, tid, comm, share) rows whose
shares add up to 1 (empty when nobody can be named: better than guessing).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from causal_processor.causal.table import (
    T_FAULT,
    T_FSYNC,
    T_RECLAIM,
    T_RECV,
    T_RETRANS,
    T_SEND,
    T_SWITCH,
    T_WRITE,
    EventTable,
)

# Where SchedSwitch.cpu was read: at switch-in (the CPU the thread then runs
# on). The on-CPU interval after an off-CPU event therefore ran on its cpu.
MEMORY_LOOKBACK_NS = 2_000_000_000  # pressure builds up before the stall
DISK_LOOKBACK_NS = 1_000_000_000  # dirty data written this long ago is still being flushed
_INF = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class Share:
    pid: int
    tid: int
    comm: str
    share: float
    weight: float  # what the share was computed from (ns on CPU, faults, bytes)


def _shares(pids: np.ndarray, tids: np.ndarray, comms: np.ndarray, w: np.ndarray) -> list[Share]:
    """Aggregate weights per pid and normalise; the largest first."""
    keep = w > 0
    if not keep.any():
        return []
    pids, tids, comms, w = pids[keep], tids[keep], comms[keep], w[keep].astype(np.float64)
    uniq, inv = np.unique(pids, return_inverse=True)
    tot = np.bincount(inv, weights=w)
    # representative thread per pid: the heaviest one
    best = np.zeros(len(uniq), dtype=np.int64)
    best_w = np.full(len(uniq), -1.0)
    for i in range(len(w)):
        if w[i] > best_w[inv[i]]:
            best_w[inv[i]] = w[i]
            best[inv[i]] = i
    total = tot.sum()
    out = [
        Share(int(uniq[k]), int(tids[best[k]]), str(comms[best[k]]), float(tot[k] / total), float(tot[k]))
        for k in range(len(uniq))
    ]
    out.sort(key=lambda s: -s.weight)
    return out


class Culprits:
    """Culprit inference over one analysis window (precomputes what queries share)."""

    def __init__(self, table: EventTable) -> None:
        self.t = table

    @cached_property
    def _on_cpu(self) -> tuple[np.ndarray, ...]:
        """On-CPU intervals of every thread: the gaps between its off-CPU intervals."""
        t = self.t
        sw = np.flatnonzero(t.etype == T_SWITCH)
        if len(sw) == 0:
            e = np.zeros(0, dtype=np.int64)
            return e, e, e, e, e, np.zeros(0, dtype=object)
        tid, ts, end, cpu = t.tid[sw], t.ts[sw], t.end[sw], t.cpu[sw]
        first = np.ones(len(sw), dtype=bool)
        first[1:] = tid[1:] != tid[:-1]
        # interval before each switch-out: from the previous switch-in of the same thread
        start = np.where(first, -_INF, np.concatenate(([0], end[:-1])))
        icpu = np.where(first, cpu, np.concatenate(([0], cpu[:-1])))
        last = np.ones(len(sw), dtype=bool)
        last[:-1] = tid[:-1] != tid[1:]
        starts = np.concatenate((start, end[last]))
        ends = np.concatenate((ts, np.full(int(last.sum()), _INF)))
        cpus = np.concatenate((icpu, cpu[last]))
        tids = np.concatenate((tid, tid[last]))
        pids = np.concatenate((t.pid[sw], t.pid[sw][last]))
        comms = np.concatenate((t.comm[sw], t.comm[sw][last]))
        return starts, ends, cpus, tids, pids, comms

    def cpu(self, cpu: int, start: int, end: int, victim_tid: int) -> list[Share]:
        """Threads that ran on `cpu` while the victim waited to run, by on-CPU time."""
        s, e, c, tids, pids, comms = self._on_cpu
        if len(s) == 0:
            return []
        ov = np.minimum(e, end) - np.maximum(s, start)
        m = (c == cpu) & (ov > 0) & (tids != victim_tid) & (pids != 0)
        return _shares(pids[m], tids[m], comms[m], ov[m])

    def memory(self, start: int, end: int, victim_pid: int, cgroup: int) -> list[Share]:
        """Processes that drove memory pressure: page faults and their own reclaim
        in the preceding window, preferring the victim's cgroup."""
        t = self.t
        lo = start - MEMORY_LOOKBACK_NS
        in_win = (t.ts < end) & (t.end >= lo)
        faults = in_win & (t.etype == T_FAULT)
        reclaim = in_win & (t.etype == T_RECLAIM)
        # a fault counts once; time spent reclaiming counts per 10 µs, so a process
        # stalling in its own reclaim weighs like one faulting at that rate
        w = faults.astype(np.float64) + np.where(reclaim, t.dur / 10_000.0, 0.0)
        others = t.pid != victim_pid
        if cgroup:
            same = others & (t.cgroup == cgroup) & (w > 0)
            if same.any():
                others = others & (t.cgroup == cgroup)
        m = others & (w > 0)
        if not m.any():
            m = (t.pid == victim_pid) & (w > 0)
        return _shares(t.pid[m], t.tid[m], t.comm[m], w[m])

    @cached_property
    def _socket_fds(self) -> set[tuple[int, int]]:
        t = self.t
        tcp = np.flatnonzero((t.etype == T_SEND) | (t.etype == T_RECV))
        return {(int(p), int(f)) for p, f in zip(t.pid[tcp], t.fd[tcp], strict=True)}

    def disk(self, start: int, end: int, victim_pid: int) -> list[Share]:
        """Other writers on the host's disks around a slow fsync/write, by bytes written
        (fsync time when no bytes are known)."""
        t = self.t
        lo = start - DISK_LOOKBACK_NS
        m = ((t.etype == T_WRITE) | (t.etype == T_FSYNC)) & (t.ts < end) & (t.end >= lo)
        m &= t.pid != victim_pid
        idx = np.flatnonzero(m)
        sockets = self._socket_fds
        if sockets:
            idx = np.array([i for i in idx if (int(t.pid[i]), int(t.fd[i])) not in sockets], dtype=np.int64)
        if len(idx) == 0:
            return []
        w = np.where(t.etype[idx] == T_WRITE, np.maximum(t.nbytes[idx], 0).astype(np.float64), 0.0)
        if w.sum() == 0:
            w = (np.minimum(t.end[idx], end) - np.maximum(t.ts[idx], start)).clip(0).astype(np.float64)
        return _shares(t.pid[idx], t.tid[idx], t.comm[idx], w)

    def flows_of(self, tid: int, start: int, end: int) -> set[tuple]:
        """Connections a thread used in a window (direction-free keys)."""
        t = self.t
        sl = t.thread_slice(tid)
        rows = np.flatnonzero(
            ((t.etype[sl] == T_SEND) | (t.etype[sl] == T_RECV)) & (t.ts[sl] < end) & (t.end[sl] >= start)
        )
        return {t.flow_key(sl.start + int(i)) for i in rows}

    def retransmits(self, flows: set[tuple], start: int, end: int) -> np.ndarray:
        """Rows of retransmits on these flows in [start, end)."""
        t = self.t
        if not flows:
            return np.zeros(0, dtype=np.int64)
        idx = np.flatnonzero((t.etype == T_RETRANS) & (t.ts >= start) & (t.ts < end))
        return np.array([i for i in idx if t.flow_key(int(i)) in flows], dtype=np.int64)

    def socket_owner(self, addr: str, port: int) -> tuple[int, int, str] | None:
        """The process whose socket has this local end (from its TCP events)."""
        t = self.t
        m = ((t.etype == T_SEND) | (t.etype == T_RECV)) & (t.sport == port) & (t.saddr == addr)
        idx = np.flatnonzero(m)
        if len(idx) == 0:
            return None
        i = int(idx[0])
        return int(t.pid[i]), int(t.tid[i]), str(t.comm[i])

    def linked_by_tcp(self, pid_a: int, pid_b: int) -> bool:
        """Whether two processes talk over a TCP connection in the window."""
        t = self.t
        tcp = (t.etype == T_SEND) | (t.etype == T_RECV)
        a = {(str(s), int(p)) for s, p in zip(t.saddr[tcp & (t.pid == pid_a)], t.sport[tcp & (t.pid == pid_a)], strict=True)}
        if not a:
            return False
        m = tcp & (t.pid == pid_b)
        return any((str(d), int(p)) in a for d, p in zip(t.daddr[m], t.dport[m], strict=True))
