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
CPU_BOUND_WINDOW_NS = 1_000_000_000
DISK_WRITE_MIN_BYTES = 4096  # smaller writes (eventfds, pipes, logs) do not wait on a disk


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
        """On-CPU intervals of every thread: the gaps between its off-CPU intervals.

        Before a thread's first switch in the window and after its last one, only
        what it was seen doing is known: a pool worker blocked since before the
        window (its switch row starts earlier, so it is not loaded) or blocked still
        (the row is written when it runs again) did not run meanwhile. So those two
        open intervals are bounded by the thread's first and last event of any kind,
        not stretched to the window's edges, where idle workers would seem to hog
        every CPU."""
        t = self.t
        sw = np.flatnonzero(t.etype == T_SWITCH)
        if len(sw) == 0:
            e = np.zeros(0, dtype=np.int64)
            return e, e, e, e, e, np.zeros(0, dtype=object)
        tid, ts, end, cpu = t.tid[sw], t.ts[sw], t.end[sw], t.cpu[sw]
        first = np.ones(len(sw), dtype=bool)
        first[1:] = tid[1:] != tid[:-1]
        # the table is sorted by (tid, time): each thread's first and last event of any kind
        tids_all, lo_row = np.unique(t.tid, return_index=True)
        seen_from = t.ts[lo_row]
        seen_to = np.maximum.reduceat(t.end, lo_row)
        k = np.searchsorted(tids_all, tid)
        # interval before each switch-out: from the previous switch-in of the same thread
        start = np.where(first, np.minimum(seen_from[k], ts), np.concatenate(([0], end[:-1])))
        icpu = np.where(first, cpu, np.concatenate(([0], cpu[:-1])))
        last = np.ones(len(sw), dtype=bool)
        last[:-1] = tid[:-1] != tid[1:]
        starts = np.concatenate((start, end[last]))
        ends = np.concatenate((ts, np.maximum(seen_to[k[last]], end[last])))
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
        # Short off-CPU intervals are not recorded (the receiver's threshold), so a thread
        # that sleeps briefly and often looks on-CPU in between. Threads that were
        # preempted on this CPU around the wait are CPU-bound for sure: prefer them.
        bound = self._cpu_bound(cpu, start - CPU_BOUND_WINDOW_NS, end + CPU_BOUND_WINDOW_NS)
        sure = m & np.isin(tids, bound)
        if sure.any():
            m = sure
        shares = _shares(pids[m], tids[m], comms[m], ov[m])
        # a share is the part of the wait the process really ran: time taken by
        # processes that were not recorded stays unattributed instead of being
        # handed to whoever happened to be visible
        ran = sum(x.weight for x in shares)
        scale = 1.0 / max(float(end - start), ran) if shares else 0.0
        return [Share(x.pid, x.tid, x.comm, x.weight * scale, x.weight) for x in shares]

    def _cpu_bound(self, cpu: int, start: int, end: int) -> np.ndarray:
        t = self.t
        m = (t.etype == T_SWITCH) & (t.off_reason == 2) & (t.cpu == cpu) & (t.ts < end) & (t.end > start)
        return np.unique(t.tid[m])

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
        big = (t.etype == T_WRITE) & (t.nbytes >= DISK_WRITE_MIN_BYTES)
        m = (big | (t.etype == T_FSYNC)) & (t.ts < end) & (t.end >= lo)
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

    def peers_of(self, tid: int, start: int, end: int) -> set[tuple[str, int]]:
        """Remote ends (address, port) a thread talked to in a window."""
        t = self.t
        sl = t.thread_slice(tid)
        rows = np.flatnonzero(
            ((t.etype[sl] == T_SEND) | (t.etype[sl] == T_RECV)) & (t.ts[sl] < end) & (t.end[sl] >= start)
        ) + sl.start
        return {(str(t.daddr[i]), int(t.dport[i])) for i in rows}

    def retransmits(self, peers: set[tuple[str, int]], start: int, end: int,
                    ports: frozenset[int] = frozenset()) -> np.ndarray:
        """Rows of retransmits in [start, end) on connections to these remote ends, in
        either direction. Matched by the remote end only: a connection still in its
        handshake has no other event yet, and its local port is not known."""
        t = self.t
        if not peers and not ports:
            return np.zeros(0, dtype=np.int64)
        idx = np.flatnonzero((t.etype == T_RETRANS) & (t.ts >= start) & (t.ts < end))
        return np.array([i for i in idx if (str(t.daddr[i]), int(t.dport[i])) in peers
                         or (str(t.saddr[i]), int(t.sport[i])) in peers
                         or int(t.dport[i]) in ports or int(t.sport[i]) in ports], dtype=np.int64)

    def reclaim_time(self, start: int, end: int, exclude_pid: int) -> float:
        """ns other processes spent in memory reclaim during [start, end)."""
        t = self.t
        m = (t.etype == T_RECLAIM) & (t.pid != exclude_pid) & (t.ts < end) & (t.end > start)
        return float((np.minimum(t.end[m], end) - np.maximum(t.ts[m], start)).clip(0).sum())

    def socket_owner(self, addr: str, port: int) -> tuple[int, int, str] | None:
        """The process whose socket has this local end (from its TCP events)."""
        t = self.t
        m = ((t.etype == T_SEND) | (t.etype == T_RECV)) & (t.sport == port) & (t.saddr == addr)
        idx = np.flatnonzero(m)
        if len(idx) == 0:
            return None
        i = int(idx[0])
        return int(t.pid[i]), int(t.tid[i]), str(t.comm[i])

    def last_send(self, tid: int, start: int, before: int) -> int:
        """Row of the thread's last TCPSend in [start, before): the request it waits on."""
        t = self.t
        sl = t.thread_slice(tid)
        idx = np.flatnonzero((t.etype[sl] == T_SEND) & (t.ts[sl] >= start) & (t.ts[sl] <= before))
        return int(idx[-1]) + sl.start if len(idx) else -1

    def answered(self, send: int, before: int) -> bool:
        """Whether the sending thread received on that connection after the send."""
        t = self.t
        sl = t.thread_slice(int(t.tid[send]))
        idx = np.flatnonzero((t.etype[sl] == T_RECV) & (t.ts[sl] > t.ts[send]) & (t.ts[sl] < before)) + sl.start
        key = t.flow_key(send)
        return any(t.flow_key(int(i)) == key for i in idx)

    def peer_lost_time(self, pid: int, start: int, end: int, tid: int = 0) -> dict[str, tuple[int, int]]:
        """Time the peer process's threads lost in [start, end), per kernel mechanism:
        {mechanism: (ns summed over threads, row of its largest interval)}. Blocked
        time is left out: idle pool workers are blocked too, for no fault of anyone,
        and waits woken by siblings are mostly the interpreter lock and work queues."""
        t = self.t
        m = (t.pid == pid) & (t.ts < end) & (t.end > start)
        if tid:
            m &= t.tid == tid
        big = (t.etype == T_WRITE) & (t.nbytes >= DISK_WRITE_MIN_BYTES)
        idx = np.flatnonzero(m & ((t.etype == T_RECLAIM) | (t.etype == T_SWITCH) | (t.etype == T_FSYNC) | big))
        out: dict[str, tuple[int, int]] = {}

        def add(mech: str, ns: int, row: int) -> None:
            if ns <= 0:
                return
            tot, best = out.get(mech, (0, -1))
            if best < 0 or ns > self._clip(best, start, end):
                best = row
            out[mech] = (tot + ns, best)

        for i in idx.tolist():
            ov = self._clip(i, start, end)
            et = t.etype[i]
            if et == T_RECLAIM:
                add("memory-reclaim", ov, i)
            elif et in (T_FSYNC, T_WRITE):
                if (int(t.pid[i]), int(t.fd[i])) not in self._socket_fds:
                    add("disk-io", ov, i)
            else:
                runq = int(t.dur[i]) if t.off_reason[i] == 2 else int(t.runq[i])
                if runq > 0:
                    rs = max(int(t.end[i]) - runq, start)
                    add("cpu-contention", max(0, min(int(t.end[i]), end) - rs), i)
        return out

    def _clip(self, i: int, start: int, end: int) -> int:
        return max(0, min(int(self.t.end[i]), end) - max(int(self.t.ts[i]), start))
