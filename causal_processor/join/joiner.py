"""The join: which transaction each kernel event ran on behalf of.

Event time, not arrival time. Spans and events are buffered; the watermark is the
largest timestamp seen minus the allowed lateness (`window_ns`), or that largest
timestamp itself once input has been idle for `idle_flush_s`. A span is joined when
its trace's root span has ended before the watermark (then the whole trace, with its
transaction id, is known), or when the span itself ended a window before it (the root
may live in a service that does not export to us).

Threads come from what the kernel saw, because OTel records no kernel thread ids:
  - SERVER span: the thread that received (TCPRecv) from the span's client address/port
    at the span's start; its work starts at that receive.
  - CLIENT span: the thread that sent (TCPSend) to the span's server address/port inside
    the span, preferring the parent span's thread.
  - other spans: the parent's thread (synchronous in-process children).
Events of that (pid, tid) inside the interval get the innermost span's context. Spans
with no thread fall back to pid + time overlap (pid from the resource's process.pid),
on threads no resolved span owns at that time, with a low confidence.

Events and resolved spans stay in memory for `retention_ns` after the watermark, so a
span arriving late still joins events that arrived long before it (and vice versa).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from causal_processor.app_span import CLIENT, SERVER, AppSpan
from causal_processor.ingest.event_frame import TYPE_CODE, EventFrame
from causal_processor.join.peers import normalize_address, peer
from causal_processor.storage.records import Transaction

DEFAULT_TRANSACTION_KEYS = (
    "transaction.id", "payment.id", "settlement.id", "order.id", "transfer.id",
    "transaction_id", "payment_id", "txn.id",
)

SERVER_RECV = "server_recv"
CLIENT_CONN = "client_conn"
CLIENT_SEND = "client_send"
SERVER_CHILD = "server_child"
PARENT_THREAD = "parent_thread"
SERVER_WAKEUP = "server_wakeup"
PID_TIME = "pid_time"
_PRUNE_STEP_NS = 1_000_000_000  # spans, connections and wake-ups are swept once per second of event time
_OFF_CPU_MARGIN_NS = 20_000  # ≫ the measured kernel-app clock skew (±1 µs)
_TCP_RECV, _TCP_SEND, _SWITCH = TYPE_CODE["TCPRecv"], TYPE_CODE["TCPSend"], TYPE_CODE["SchedSwitch"]
CONFIDENCE = {SERVER_RECV: 0.95, CLIENT_CONN: 0.95, CLIENT_SEND: 0.9, SERVER_CHILD: 0.9,
              PARENT_THREAD: 0.85, SERVER_WAKEUP: 0.7, PID_TIME: 0.3}


@dataclass(frozen=True)
class JoinConfig:
    transaction_keys: tuple[str, ...] = DEFAULT_TRANSACTION_KEYS
    window_ns: int = 5_000_000_000  # allowed lateness between the two streams
    retention_ns: int = 30_000_000_000  # how long joined-or-not data stays joinable
    clock_tolerance_ns: int = 1_000_000  # kernel vs application clock (measured: see docs)
    recv_lookback_ns: int = 5_000_000_000  # how far before a server span its request may arrive
    idle_flush_s: float = 2.0
    max_buffered_events: int = 1_000_000  # memory bound: the oldest go first (they stay stored)


@dataclass
class JoinOutput:
    joined: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    # an event moved to another transaction: its old context, join_method "" (a tombstone)
    revoked: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    spans_resolved: dict[str, int] = field(default_factory=dict)  # method -> count
    spans_unresolved: int = 0

    def extend(self, other: JoinOutput) -> None:
        self.joined += other.joined
        self.revoked += other.revoked
        self.transactions += other.transactions
        for k, v in other.spans_resolved.items():
            self.spans_resolved[k] = self.spans_resolved.get(k, 0) + v
        self.spans_unresolved += other.spans_unresolved


@dataclass
class _Owner:
    """A span placed on a kernel thread over [lo, hi]."""

    span: AppSpan
    pid: int
    tid: int
    lo: int
    hi: int
    method: str
    depth: int


@dataclass
class _Assignment:
    trace_id: str
    depth: int
    confidence: float
    context: dict[str, Any]
    timestamp_ns: int  # the event's: assignments are forgotten with the event


class _ThreadEvents:
    """One thread's buffered events as columns (time, frame, row, type), sorted on demand.

    Events arrive a frame at a time; a frame's rows of this thread are appended as one part
    and the parts are merged (stable, by time) only when the thread is read or pruned."""

    __slots__ = ("_parts", "fids", "oldest", "rows", "times", "types")

    def __init__(self) -> None:
        self.times = np.zeros(0, np.int64)
        self.fids = np.zeros(0, np.int64)
        self.rows = np.zeros(0, np.int64)
        self.types = np.zeros(0, np.int16)
        self._parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []
        self.oldest = 2**64

    def __len__(self) -> int:
        return len(self.times) + sum(len(p[0]) for p in self._parts)

    def add(self, times: np.ndarray, fid: int, rows: np.ndarray, types: np.ndarray) -> None:
        self._parts.append((times, fid, rows, types))
        self.oldest = min(self.oldest, int(times.min()))

    def _merge(self) -> None:
        if not self._parts:
            return
        parts = self._parts
        self._parts = []
        times = np.concatenate([self.times, *(p[0] for p in parts)])
        fids = np.concatenate([self.fids, *(np.full(len(p[0]), p[1], np.int64) for p in parts)])
        rows = np.concatenate([self.rows, *(p[2] for p in parts)])
        types = np.concatenate([self.types, *(p[3] for p in parts)])
        if len(times) > 1 and (np.diff(times) < 0).any():
            order = np.argsort(times, kind="stable")
            times, fids, rows, types = times[order], fids[order], rows[order], types[order]
        self.times, self.fids, self.rows, self.types = times, fids, rows, types

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """Index range of the events with lo <= time <= hi."""
        self._merge()
        return (int(np.searchsorted(self.times, lo, "left")), int(np.searchsorted(self.times, hi, "right")))

    def prune(self, before: int) -> np.ndarray:
        """Drop the events older than `before`; returns the frames they came from (one per event)."""
        if self.oldest >= before:
            return np.zeros(0, np.int64)  # nothing that old: no merge, no copy
        self._merge()
        i = int(np.searchsorted(self.times, before, "left"))
        gone = self.fids[:i]
        self.times, self.fids, self.rows, self.types = (
            self.times[i:], self.fids[i:], self.rows[i:], self.types[i:])
        self.oldest = int(self.times[0]) if len(self.times) else 2**64
        return gone


class Joiner:
    """Joins kernel events to application spans; feed it, then call advance()."""

    def __init__(self, config: JoinConfig | None = None):
        self.config = config or JoinConfig()
        self._spans: dict[str, AppSpan] = {}
        self._traces: dict[str, set[str]] = {}
        self._roots: dict[str, str] = {}  # trace_id -> root span_id
        self._done: set[str] = set()
        self._unresolved: set[str] = set()
        self._owners: dict[str, _Owner] = {}
        self._thread_owners: dict[tuple[int, int], list[_Owner]] = {}
        self._threads: dict[tuple[int, int], _ThreadEvents] = {}
        # (peer address, peer port) -> (ts, type, pid, tid, local port) of TCP sends/receives
        self._conn: dict[tuple[str, int], list[tuple[int, str, int, int, int]]] = {}
        # (waker pid, waker tid) -> (time the woken thread ran, pid, tid)
        self._wakes: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        self._event_loops: set[tuple[int, int]] = set()  # (pid, tid) seen handing requests on
        self._children: dict[str, list[str]] = {}
        self._assigned: dict[int, _Assignment] = {}
        self._frames: dict[int, EventFrame] = {}  # frames some buffered event still comes from
        self._frame_live: dict[int, int] = {}  # frame -> its events still buffered
        self._next_frame = 0
        self._unindexed: list[int] = []  # frames whose TCP events and wake-ups _index has not read
        self._max_seen = 0
        self._pruned_to = 0
        self._last_input = time.monotonic()
        self.watermark = 0
        self._late: JoinOutput = JoinOutput()

    # ---- input --------------------------------------------------------------

    def add_spans(self, spans: Iterable[AppSpan]) -> None:
        for s in spans:
            if s.span_id in self._spans:
                continue
            self._spans[s.span_id] = s
            self._traces.setdefault(s.trace_id, set()).add(s.span_id)
            if s.parent_span_id:
                self._children.setdefault(s.parent_span_id, []).append(s.span_id)
            if not s.parent_span_id:
                self._roots[s.trace_id] = s.span_id
            self._max_seen = max(self._max_seen, s.end_ns)
        self._last_input = time.monotonic()

    def add_events(self, evs: Iterable[dict[str, Any]]) -> None:
        """Events as dicts (reloaded from storage, tests): the dicts given get their contexts."""
        self.add_frame(EventFrame.from_dicts(list(evs)))

    def add_frame(self, frame: EventFrame) -> None:
        """Buffer a frame's events by thread; only TCP events and wake-ups are read one by one
        (they place spans on threads), and events landing in an already joined span."""
        n = len(frame)
        if not n:
            return
        fid = self._next_frame
        self._next_frame += 1
        self._frames[fid] = frame
        self._frame_live[fid] = n
        key = (frame.pid << 32) | frame.tid
        order = np.argsort(key, kind="stable")
        sk = key[order]
        bounds = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1], True]).tolist()
        for a, b in itertools.pairwise(bounds):
            rows = order[a:b]
            k = (int(frame.pid[rows[0]]), int(frame.tid[rows[0]]))
            th = self._threads.get(k)
            if th is None:
                th = self._threads[k] = _ThreadEvents()
            times = frame.ts[rows]
            th.add(times, fid, rows, frame.types[rows])
            owners = self._thread_owners.get(k)
            if owners:  # late events in joined spans
                inside = np.zeros(len(rows), bool)
                for o in owners:
                    inside |= (times >= o.lo) & (times <= o.hi)
                if inside.any():
                    late = rows[inside]
                    self._assign_events(k, frame.events(late[np.argsort(frame.ts[late], kind="stable")]), self._late)
        self._unindexed.append(fid)
        self._max_seen = max(self._max_seen, int(frame.ts.max()))
        self._last_input = time.monotonic()

    def _index(self) -> None:
        """TCP events by connection and wake-ups by waker, of the frames added since the last
        call: only spans look them up, so kernel traffic with no spans to join never pays."""
        for fid in self._unindexed:
            frame = self._frames.get(fid)
            if frame is not None:
                self._index_frame(frame)
        self._unindexed.clear()

    def _index_frame(self, frame: EventFrame) -> None:
        tcp = np.flatnonzero((frame.types == _TCP_RECV) | (frame.types == _TCP_SEND))
        norm: dict[str, str] = {}
        for ts, code, pid, tid, sport, daddr, dport in frame.fields(
                tcp, ("timestamp_ns", "event_type", "pid", "tid", "sport", "daddr", "dport")):
            a = norm.get(daddr)
            if a is None:
                a = norm[daddr] = normalize_address(daddr)
            self._conn.setdefault((a, dport), []).append((ts, code, pid, tid, sport))
        switches = np.flatnonzero(frame.types == _SWITCH)
        for ts, dur, pid, tid, wpid, wtid in frame.fields(
                switches, ("timestamp_ns", "duration_ns", "pid", "tid", "waker_pid", "waker_tid")):
            if wtid:
                self._wakes.setdefault((wpid, wtid), []).append((ts + dur, pid, tid))

    def _between(self, th: _ThreadEvents, lo: int, hi: int) -> list[dict[str, Any]]:
        a, b = th.span(lo, hi)
        return self._events_at(th, np.arange(a, b))

    def _events_at(self, th: _ThreadEvents, idx: np.ndarray) -> list[dict[str, Any]]:
        """The dicts of the thread's events at these (merged) indexes, in that order."""
        if not len(idx):
            return []
        fids, rows = th.fids[idx], th.rows[idx]
        out: list[dict[str, Any]] = [{}] * len(idx)
        for f in np.unique(fids).tolist():
            at = np.flatnonzero(fids == f)
            for i, ev in zip(at.tolist(), self._frames[f].events(rows[at]), strict=True):
                out[i] = ev
        return out

    # ---- progress -----------------------------------------------------------

    def advance(self, watermark_ns: int | None = None) -> JoinOutput:
        """Join everything the watermark has passed; returns the new results."""
        if watermark_ns is None:
            idle = time.monotonic() - self._last_input >= self.config.idle_flush_s
            watermark_ns = self._max_seen if idle else self._max_seen - self.config.window_ns
        self.watermark = max(self.watermark, watermark_ns)
        out, self._late = self._late, JoinOutput()
        w = self.watermark
        due = []
        for sid, s in self._spans.items():
            if sid in self._done:
                continue
            root = self._spans.get(self._roots.get(s.trace_id, ""))
            if (root is not None and root.end_ns <= w) or s.end_ns <= w - self.config.window_ns:
                due.append(s)
        due.sort(key=lambda s: (s.kind != SERVER, s.start_ns))
        for s in due:
            self._done.add(s.span_id)
            self._unresolved.add(s.span_id)
        if self._unresolved:
            self._index()
        newly: list[_Owner] = []
        progress, guess = True, False
        while progress or not guess:  # a span's thread can come from its parent's or children's
            if not progress:
                guess = True  # exact evidence is exhausted: allow the wake-up heuristic once
            progress = False
            for s in sorted((self._spans[i] for i in self._unresolved if i in self._spans),
                            key=lambda s: (s.kind != SERVER, s.start_ns)):
                owner = self._resolve(s, guess)
                if owner is None:
                    continue
                progress = True
                self._unresolved.discard(s.span_id)
                self._owners[s.span_id] = owner
                self._thread_owners.setdefault((owner.pid, owner.tid), []).append(owner)
                newly.append(owner)
                out.spans_resolved[owner.method] = out.spans_resolved.get(owner.method, 0) + 1
        for owner in newly:
            key = (owner.pid, owner.tid)
            th = self._threads.get(key)
            if th is not None:
                self._assign_events(key, self._between(th, owner.lo, owner.hi), out)
        fallback = [self._spans[sid] for sid in self._unresolved if sid in self._spans]
        out.spans_unresolved = len(fallback)
        due_ids = {s.span_id for s in due}
        self._fallback([s for s in fallback if s.span_id in due_ids], out)
        out.transactions = self._transactions(due)
        self._prune(w - self.config.retention_ns)
        horizon = w - self.config.retention_ns
        while self._buffered() > self.config.max_buffered_events and horizon < self._max_seen:
            horizon += max(1, (self._max_seen - horizon) // 2)
            self._prune(horizon)
        return out

    def _buffered(self) -> int:
        return sum(len(t) for t in self._threads.values())

    def flush(self) -> JoinOutput:
        """Join everything buffered (shutdown, replays, tests)."""
        return self.advance(self._max_seen + self.config.window_ns + 1)

    # ---- threads ------------------------------------------------------------

    def _resolve(self, s: AppSpan, guess: bool) -> _Owner | None:
        parent = self._owners.get(s.parent_span_id)
        depth = self._depth(s)
        addr, port = peer(s)
        if s.kind == SERVER:
            return self._resolve_server(s, addr, port, depth, guess)
        if s.kind == CLIENT and port:
            # exact: the connection's local port, named by the callee's SERVER span
            for cid in self._children.get(s.span_id, ()):
                child = self._spans.get(cid)
                cport = peer(child)[1] if child is not None and child.kind == SERVER else None
                if cport:
                    hits = {(r[2], r[3]) for r in self._sends_to(addr, port, s) if r[4] == cport}
                    if len(hits) == 1:
                        pid, tid = hits.pop()
                        return _Owner(s, pid, tid, s.start_ns, s.end_ns, CLIENT_CONN, depth)
            sends = {(r[2], r[3]) for r in self._sends_to(addr, port, s)}
            if parent and (parent.pid, parent.tid) in sends:
                return _Owner(s, parent.pid, parent.tid, s.start_ns, s.end_ns, CLIENT_SEND, depth)
            if len(sends) == 1 and parent is None and not self._has_server_child(s):
                pid, tid = next(iter(sends))
                return _Owner(s, pid, tid, s.start_ns, s.end_ns, CLIENT_SEND, depth)
        if parent is not None and self._spans[parent.span.span_id].service == s.service:
            return _Owner(s, parent.pid, parent.tid, s.start_ns, s.end_ns, PARENT_THREAD, depth)
        return None

    def _resolve_server(self, s: AppSpan, addr: str | None, port: int | None, depth: int,
                        guess: bool) -> _Owner | None:
        """The request's receiving thread, unless it is an event loop handing requests to
        worker threads (it receives other connections meanwhile, or is off-CPU when the span
        starts): then the worker, from the span's client calls (exact) or, as a last resort,
        from the one runnable, unowned thread the loop woke before the span started."""
        tol = self.config.clock_tolerance_ns
        if not (addr and port):
            return None
        recvs = [r for r in self._conn.get((addr, port), ())
                 if r[1] == "TCPRecv" and s.start_ns - self.config.recv_lookback_ns <= r[0] <= s.start_ns + tol]
        if not recvs:
            return None
        ts, _, pid, tid, _ = max(recvs)
        if not self._is_event_loop(pid, tid, (addr, port), ts, s):
            lo = self._request_start((addr, port), pid, tid, ts)
            return _Owner(s, pid, tid, lo, s.end_ns, SERVER_RECV, depth)
        workers = {(o.pid, o.tid) for cid in self._children.get(s.span_id, ())
                   if (o := self._owners.get(cid)) is not None and o.method == CLIENT_CONN}
        if len(workers) == 1:
            wpid, wtid = workers.pop()
            return _Owner(s, wpid, wtid, s.start_ns, s.end_ns, SERVER_CHILD, depth)
        if self._has_server_grandchild(s) or not guess:
            return None  # wait: a client call of this span will name the worker exactly
        woken = {(p, t) for run_ts, p, t in self._wakes.get((pid, tid), ())
                 if ts <= run_ts <= s.start_ns + tol and (p, t) != (pid, tid)
                 and not self._off_cpu_at(p, t, s.start_ns) and not self._owned_at(p, t, s.start_ns)}
        if len(woken) == 1:
            wpid, wtid = woken.pop()
            return _Owner(s, wpid, wtid, s.start_ns, s.end_ns, SERVER_WAKEUP, depth)
        return None

    def _is_event_loop(self, pid: int, tid: int, conn: tuple[str, int], recv_ts: int, s: AppSpan) -> bool:
        """Once a thread is seen handing requests on, it stays an event loop: the last
        request of a burst has no other connection received during it to tell."""
        if (pid, tid) in self._event_loops:
            return True
        th = self._threads.get((pid, tid))
        if th is None:
            return False
        a, b = th.span(recv_ts, s.end_ns)
        recvs = a + np.flatnonzero(th.types[a:b] == _TCP_RECV)
        if self._off_cpu_at(pid, tid, s.start_ns) or any(
                (normalize_address(e["daddr"]), e["dport"]) != conn for e in self._events_at(th, recvs)):
            self._event_loops.add((pid, tid))  # off-CPU at the span's start, or serving others
            return True
        return False

    def _off_cpu_at(self, pid: int, tid: int, t: int) -> bool:
        """The thread was switched out over t (by its SchedSwitch events, when captured)."""
        th = self._threads.get((pid, tid))
        if th is None:
            return False
        margin = min(self.config.clock_tolerance_ns, _OFF_CPU_MARGIN_NS)
        a, b = th.span(t - self.config.recv_lookback_ns, t)
        a = max(a, b - 256)
        switches = np.flatnonzero(th.types[a:b] == _SWITCH)
        if not len(switches):
            return False
        e = self._events_at(th, switches[-1:] + a)[0]
        return e["timestamp_ns"] < t - margin and e["timestamp_ns"] + e["duration_ns"] > t + margin

    def _owned_at(self, pid: int, tid: int, t: int) -> bool:
        return any(o.lo <= t <= o.hi for o in self._thread_owners.get((pid, tid), ()))

    def _sends_to(self, addr: str | None, port: int, s: AppSpan) -> list[tuple[int, str, int, int, int]]:
        tol = self.config.clock_tolerance_ns
        cands = self._conn.get((addr or "", port), []) if addr else []
        if not cands:  # a host name, not an address: the port alone
            cands = [r for (_, p), rs in self._conn.items() if p == port for r in rs]
        return [r for r in cands if r[1] == "TCPSend" and s.start_ns - tol <= r[0] <= s.end_ns + tol]

    def _has_server_child(self, s: AppSpan) -> bool:
        return any((c := self._spans.get(cid)) is not None and c.kind == SERVER and peer(c)[1]
                   for cid in self._children.get(s.span_id, ()))

    def _has_server_grandchild(self, s: AppSpan) -> bool:
        return any((c := self._spans.get(cid)) is not None and c.kind == CLIENT and self._has_server_child(c)
                   for cid in self._children.get(s.span_id, ()))

    def _request_start(self, conn: tuple[str, int], pid: int, tid: int, recv_ts: int) -> int:
        """The first receive of this request on the thread: after its previous response."""
        mine = sorted(r for r in self._conn[conn] if r[2] == pid and r[3] == tid and r[0] <= recv_ts)
        start = recv_ts
        for ts, et, *_ in reversed(mine):
            if et == "TCPSend":
                break
            start = ts
        return start

    def _depth(self, s: AppSpan) -> int:
        d, seen, cur = 0, set(), s
        while cur.parent_span_id and cur.parent_span_id in self._spans and cur.span_id not in seen:
            seen.add(cur.span_id)
            cur = self._spans[cur.parent_span_id]
            d += 1
        return d

    # ---- contexts -----------------------------------------------------------

    def _assign_events(self, key: tuple[int, int], evs: list[dict[str, Any]], out: JoinOutput) -> None:
        owners = self._thread_owners.get(key, [])
        for ev in evs:
            ts = ev["timestamp_ns"]
            best = None
            for o in owners:
                if o.lo <= ts <= o.hi and (best is None or o.depth > best.depth or
                                           (o.depth == best.depth and o.lo > best.lo)):
                    best = o
            if best is not None:
                self._assign(ev, best.span, best.depth, CONFIDENCE[best.method], best.method, out)

    def _assign(self, ev: dict[str, Any], span: AppSpan, depth: int, confidence: float,
                method: str, out: JoinOutput) -> None:
        cur = self._assigned.get(ev["event_id"])
        if cur is not None and not (
            (cur.trace_id == span.trace_id and depth > cur.depth) or confidence > cur.confidence
        ):
            return
        ctx = {
            "transaction_id": self.transaction_id(span),
            "service": span.service,
            "operation": span.name,
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "join_method": method,
            "join_confidence": confidence,
        }
        if cur is not None and cur.context["transaction_id"] != ctx["transaction_id"]:
            out.revoked.append((ev, {**cur.context, "join_method": "", "join_confidence": 0.0}))
        self._assigned[ev["event_id"]] = _Assignment(span.trace_id, depth, confidence, ctx, ev["timestamp_ns"])
        ev["financial_context"] = ctx
        out.joined.append((ev, ctx))

    def _fallback(self, spans: list[AppSpan], out: JoinOutput) -> None:
        """pid + time overlap for spans whose thread is unknown, on unowned threads."""
        by_pid: dict[int, list[AppSpan]] = {}
        for s in spans:
            if s.pid:
                by_pid.setdefault(s.pid, []).append(s)
        for pid, candidates in by_pid.items():
            for key, th in self._threads.items():
                if key[0] != pid:
                    continue
                owners = self._thread_owners.get(key, [])
                for s in candidates:
                    overlapping = sum(1 for o in candidates if o.start_ns <= s.end_ns and s.start_ns <= o.end_ns)
                    for ev in self._between(th, s.start_ns, s.end_ns):
                        ts = ev["timestamp_ns"]
                        if any(o.lo <= ts <= o.hi for o in owners):
                            continue
                        self._assign(ev, s, self._depth(s), CONFIDENCE[PID_TIME] / overlapping, PID_TIME, out)

    def transaction_id(self, span: AppSpan) -> str:
        """The nearest transaction key on the span or its ancestors, else any in the trace,
        else the trace id."""
        keys = self.config.transaction_keys
        cur: AppSpan | None = span
        seen = set()
        while cur is not None and cur.span_id not in seen:
            seen.add(cur.span_id)
            for k in keys:
                v = cur.attributes.get(k)
                if v not in (None, ""):
                    return str(v)
            cur = self._spans.get(cur.parent_span_id)
        for sid in sorted(self._traces.get(span.trace_id, ()), key=lambda i: self._spans[i].start_ns):
            attrs = self._spans[sid].attributes
            for k in keys:
                if attrs.get(k) not in (None, ""):
                    return str(attrs[k])
        return span.trace_id

    def _transactions(self, due: list[AppSpan]) -> list[Transaction]:
        """A transaction row for each outermost span carrying a transaction key (or trace root)."""
        out = []
        keys = self.config.transaction_keys
        for s in due:
            own = next((str(s.attributes[k]) for k in keys if s.attributes.get(k) not in (None, "")), None)
            if own is None and s.parent_span_id:
                continue
            parent = self._spans.get(s.parent_span_id)
            txn = own or self.transaction_id(s)
            if parent is not None and self.transaction_id(parent) == txn:
                continue
            status = {"Error": "error", "Ok": "ok"}.get(s.status_code, "unset")
            out.append(Transaction(
                transaction_id=txn, trace_id=s.trace_id, span_id=s.span_id, service=s.service,
                operation=s.name, status=status, start_ns=s.start_ns,
                duration_ns=s.end_ns - s.start_ns,
                error=s.status_message or s.error_detail if status == "error" else ""))
        return out

    # ---- memory -------------------------------------------------------------

    def _prune(self, horizon: int) -> None:
        gone = []
        for key in list(self._threads):
            th = self._threads[key]
            gone.append(th.prune(horizon))
            if not len(th):
                del self._threads[key]
                self._event_loops.discard(key)  # gone quiet (or exited: its tid may come back)
        fids, counts = np.unique(np.concatenate(gone) if gone else np.zeros(0, np.int64), return_counts=True)
        for f, c in zip(fids.tolist(), counts.tolist(), strict=True):
            self._frame_live[f] -= c
            if not self._frame_live[f]:
                del self._frame_live[f], self._frames[f]
        if len(self._unindexed) > len(self._frames):
            self._unindexed = [f for f in self._unindexed if f in self._frames]
        if horizon - self._pruned_to < _PRUNE_STEP_NS:
            return
        self._pruned_to = horizon
        self._assigned = {k: a for k, a in self._assigned.items() if a.timestamp_ns >= horizon}
        for conn in list(self._conn):
            rs = [r for r in self._conn[conn] if r[0] >= horizon - self.config.recv_lookback_ns]
            if rs:
                self._conn[conn] = rs
            else:
                del self._conn[conn]
        for key in list(self._wakes):
            ws = [w for w in self._wakes[key] if w[0] >= horizon - self.config.recv_lookback_ns]
            if ws:
                self._wakes[key] = ws
            else:
                del self._wakes[key]
        old = [sid for sid, s in self._spans.items() if s.end_ns < horizon and sid in self._done]
        for sid in old:
            s = self._spans.pop(sid)
            self._children.pop(sid, None)
            self._done.discard(sid)
            self._unresolved.discard(sid)
            owner = self._owners.pop(sid, None)
            if owner is not None:
                lst = self._thread_owners.get((owner.pid, owner.tid), [])
                if owner in lst:
                    lst.remove(owner)
                if not lst:
                    self._thread_owners.pop((owner.pid, owner.tid), None)
            tr = self._traces.get(s.trace_id)
            if tr is not None:
                tr.discard(sid)
                if not tr:
                    del self._traces[s.trace_id]
                    self._roots.pop(s.trace_id, None)

    def stats(self) -> Mapping[str, int]:
        return {
            "spans": len(self._spans),
            "events": self._buffered(),
            "unresolved_spans": len(self._unresolved),
        }
