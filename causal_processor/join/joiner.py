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

import bisect
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from causal_processor.app_span import CLIENT, SERVER, AppSpan
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


class _ThreadEvents:
    """One thread's buffered events, sorted by time on demand."""

    __slots__ = ("dirty", "events", "oldest", "times")

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.times: list[int] = []
        self.dirty = False
        self.oldest = 2**64

    def add(self, ev: dict[str, Any]) -> None:
        ts = ev["timestamp_ns"]
        if self.times and ts < self.times[-1]:
            self.dirty = True
        self.oldest = min(self.oldest, ts)
        self.events.append(ev)
        self.times.append(ts)

    def between(self, lo: int, hi: int) -> list[dict[str, Any]]:
        if self.dirty:
            self.events.sort(key=lambda e: e["timestamp_ns"])
            self.times = [e["timestamp_ns"] for e in self.events]
            self.dirty = False
        return self.events[bisect.bisect_left(self.times, lo): bisect.bisect_right(self.times, hi)]

    def prune(self, before: int) -> list[dict[str, Any]]:
        if self.oldest >= before:
            return []  # nothing that old: no sort, no copy
        self.between(0, 0)
        i = bisect.bisect_left(self.times, before)
        gone = self.events[:i]
        del self.events[:i]
        del self.times[:i]
        self.oldest = self.times[0] if self.times else 2**64
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
        for ev in evs:
            key = (ev["pid"], ev["tid"])
            th = self._threads.get(key)
            if th is None:
                th = self._threads[key] = _ThreadEvents()
            th.add(ev)
            et = ev["event_type"]
            if et == "TCPRecv" or et == "TCPSend":
                conn = (normalize_address(ev["daddr"]), ev["dport"])
                self._conn.setdefault(conn, []).append(
                    (ev["timestamp_ns"], et, ev["pid"], ev["tid"], ev["sport"]))
            elif et == "SchedSwitch" and ev["waker_tid"]:
                self._wakes.setdefault((ev["waker_pid"], ev["waker_tid"]), []).append(
                    (ev["timestamp_ns"] + ev["duration_ns"], ev["pid"], ev["tid"]))
            ts = ev["timestamp_ns"]
            self._max_seen = max(self._max_seen, ts)
            for owner in self._thread_owners.get(key, ()):  # a late event in a joined span
                if owner.lo <= ts <= owner.hi:
                    self._assign_events(key, [ev], self._late)
                    break
        self._last_input = time.monotonic()

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
                self._assign_events(key, th.between(owner.lo, owner.hi), out)
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
        return sum(len(t.events) for t in self._threads.values())

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
        if self._off_cpu_at(pid, tid, s.start_ns) or any(
                e["event_type"] == "TCPRecv" and (normalize_address(e["daddr"]), e["dport"]) != conn
                for e in th.between(recv_ts, s.end_ns)):
            self._event_loops.add((pid, tid))  # off-CPU at the span's start, or serving others
            return True
        return False

    def _off_cpu_at(self, pid: int, tid: int, t: int) -> bool:
        """The thread was switched out over t (by its SchedSwitch events, when captured)."""
        th = self._threads.get((pid, tid))
        if th is None:
            return False
        margin = min(self.config.clock_tolerance_ns, _OFF_CPU_MARGIN_NS)
        before = th.between(t - self.config.recv_lookback_ns, t)
        for e in reversed(before[-256:]):
            if e["event_type"] == "SchedSwitch":
                return e["timestamp_ns"] < t - margin and e["timestamp_ns"] + e["duration_ns"] > t + margin
        return False

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
        self._assigned[ev["event_id"]] = _Assignment(span.trace_id, depth, confidence, ctx)
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
                    for ev in th.between(s.start_ns, s.end_ns):
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
        for key in list(self._threads):
            th = self._threads[key]
            for ev in th.prune(horizon):
                self._assigned.pop(ev["event_id"], None)
            if not th.events:
                del self._threads[key]
                self._event_loops.discard(key)  # gone quiet (or exited: its tid may come back)
        if horizon - self._pruned_to < _PRUNE_STEP_NS:
            return
        self._pruned_to = horizon
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
