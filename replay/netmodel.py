"""A timing model of the TCP connections inside the recorded tree.

When the replay changes timing (a slow write made fast, a timeout raised), the
results of timed waits are no longer the recorded ones: whether a poll() sees the
peer's answer depends on *when* the answer arrives. The recording has what is
needed to decide: each connection's endpoints (so client and server sides pair
up), every send with its bytes and time, and each thread's durations. Arrival
times move with the injected durations of the sending thread (`shift`), and a
thread that leaves the recording is served its connections' bytes from here.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from replay.recording import Event
from replay.syscalls import NR, READS, WRITES

_CONNECTS = {NR["connect"]}
_ACCEPTS = {NR["accept"], NR["accept4"]}


@dataclass
class Conn:
    id: int
    tgid: int
    fd: int
    endpoints: tuple[str, str]
    sends: list[tuple[int, int, bytes]] = field(default_factory=list)  # (idx, tid, data)
    reads: list[tuple[int, int]] = field(default_factory=list)  # (idx, bytes)
    peer: int | None = None


class NetModel:
    def __init__(self, events: list[Event], tgid_of: Callable[[int], int],
                 data: Callable[[str], bytes]) -> None:
        self.events = events
        self.conns: list[Conn] = []
        self.conn_of_event: dict[int, int] = {}
        self.timeline: dict[tuple[int, int], list[tuple[int, int | None]]] = {}
        open_: dict[tuple[int, int], int] = {}
        for i, ev in enumerate(events):
            if ev.nr < 0 or not ev.args:
                continue
            tgid = tgid_of(ev.tid)
            if ev.nr in _CONNECTS | _ACCEPTS and ev.x.get("sock"):
                fd = ev.args[0] if ev.nr in _CONNECTS else ev.ret
                local, remote = ev.x["sock"]
                c = Conn(len(self.conns), tgid, fd, (local, remote))
                self.conns.append(c)
                open_[(tgid, fd)] = c.id
                self.timeline.setdefault((tgid, fd), []).append((i, c.id))
                continue
            fd = ev.args[0]
            key = (tgid, fd)
            cid = open_.get(key)
            if cid is None:
                continue
            if ev.nr == NR["close"]:
                del open_[key]
                self.timeline[key].append((i, None))
                continue
            self.conn_of_event[i] = cid
            if ev.nr in WRITES and ev.ret > 0 and "data" in ev.x:
                self.conns[cid].sends.append((i, ev.tid, data(ev.x["data"])))
            elif ev.nr in READS and ev.ret > 0:
                self.conns[cid].reads.append((i, ev.ret))
        by_ends = {c.endpoints: c.id for c in self.conns}
        for c in self.conns:
            c.peer = by_ends.get((c.endpoints[1], c.endpoints[0]))
        self.shift: dict[int, int] = {}  # event index -> ns its thread moved up to and incl. it

    def set_shifts(self, delta: dict[int, int]) -> None:
        """Per-event duration changes (injected - recorded) accumulate along each thread."""
        acc: dict[int, int] = {}
        for i, ev in enumerate(self.events):
            acc[ev.tid] = acc.get(ev.tid, 0) + delta.get(i, 0)
            if acc[ev.tid]:
                self.shift[i] = acc[ev.tid]

    def time_before(self, idx: int) -> int:
        """When event idx starts on the changed timeline (its own change not yet applied)."""
        ev = self.events[idx]
        own = self.shift.get(idx, 0) - self._prev_shift(idx)
        return ev.t + self.shift.get(idx, 0) - own

    def _prev_shift(self, idx: int) -> int:
        tid = self.events[idx].tid
        for j in range(idx - 1, -1, -1):
            if self.events[j].tid == tid:
                return self.shift.get(j, 0)
        return 0

    def conn_at(self, tgid: int, fd: int, idx: int) -> int | None:
        tl = self.timeline.get((tgid, fd))
        if not tl:
            return None
        pos = bisect_right([i for i, _ in tl], idx) - 1
        return tl[pos][1] if pos >= 0 else None

    def consumed_before(self, cid: int, idx: int) -> int:
        return sum(n for i, n in self.conns[cid].reads if i < idx)

    def arrivals(self, cid: int) -> list[tuple[int, int]]:
        """(arrival ns on the changed timeline, cumulative bytes) of what the peer sent."""
        peer = self.conns[cid].peer
        if peer is None:
            return []
        out, total = [], 0
        for i, _tid, data in self.conns[peer].sends:
            ev = self.events[i]
            total += len(data)
            out.append((ev.t + ev.d + self.shift.get(i, 0), total))
        return out

    def peer_bytes(self, cid: int) -> bytes:
        peer = self.conns[cid].peer
        return b"".join(d for _, _, d in self.conns[peer].sends) if peer is not None else b""

    def ready_at(self, cid: int, consumed: int) -> int | None:
        """When the first byte past `consumed` arrives (None: it never does)."""
        for at, total in self.arrivals(cid):
            if total > consumed:
                return at
        return None

    def available(self, cid: int, consumed: int, now: int) -> int:
        best = consumed
        for at, total in self.arrivals(cid):
            if at <= now:
                best = max(best, total)
        return best - consumed
