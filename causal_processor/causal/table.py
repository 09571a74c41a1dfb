"""Kernel events as columns (numpy), so a transaction with 10k events is analysed
with vectorised interval queries instead of per-event Python.

Built either from event dicts (kprobe/events.py form) or from columns as a
columnar store returns them (proto field names; the joined context flattened
as `transaction_id`, `span_id`, `service`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kprobe.events import EventType

T_SEND = EventType.TCPSend.value
T_RECV = EventType.TCPRecv.value
T_READ = EventType.SyscallRead.value
T_WRITE = EventType.SyscallWrite.value
T_SWITCH = EventType.SchedSwitch.value
T_FAULT = EventType.PageFault.value
T_WAKEUP = EventType.SchedWakeup.value
T_RECLAIM = EventType.MemoryReclaim.value
T_RETRANS = EventType.TCPRetransmit.value
T_FSYNC = EventType.SyscallFsync.value

PREEMPTED = 2

_INT_COLS = (
    "timestamp_ns",
    "duration_ns",
    "pid",
    "tid",
    "cpu",
    "runq_wait_ns",
    "waker_pid",
    "waker_tid",
    "fd",
    "bytes",
    "ret",
    "target_pid",
    "target_tid",
    "pages_reclaimed",
    "cgroup_id",
)
_STR_COLS = ("comm", "waker_comm", "saddr", "daddr", "transaction_id", "span_id", "service")


_TYPE_CODES = {t.name: t.value for t in EventType}


def _codes(raw: Sequence[Any] | np.ndarray, names: Mapping[str, int], n: int) -> np.ndarray:
    """Enum codes of a column given as numbers or as names (vectorised: names are
    mapped once per distinct value)."""
    a = np.asarray(raw)
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    if a.dtype.kind in "iub":
        return a.astype(np.int8)
    uniq, inv = np.unique(a.astype(str), return_inverse=True)
    return np.array([names.get(u, 0) for u in uniq], dtype=np.int8)[inv.reshape(n)]
_OFFCPU_CODES = {"BLOCKED": 1, "PREEMPTED": 2}


@dataclass
class EventTable:
    """Columns of one analysis window, sorted by (tid, timestamp)."""

    ts: np.ndarray
    end: np.ndarray
    dur: np.ndarray
    pid: np.ndarray
    tid: np.ndarray
    cpu: np.ndarray
    etype: np.ndarray
    runq: np.ndarray
    waker_pid: np.ndarray
    waker_tid: np.ndarray
    off_reason: np.ndarray
    fd: np.ndarray
    nbytes: np.ndarray
    ret: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    target_tid: np.ndarray
    pages: np.ndarray
    major: np.ndarray
    cgroup: np.ndarray
    event_id: np.ndarray
    comm: np.ndarray  # object
    waker_comm: np.ndarray  # object
    saddr: np.ndarray  # object
    daddr: np.ndarray  # object
    txn: np.ndarray  # object: joined transaction id ("" if none)
    span: np.ndarray  # object: joined span id ("" if none)
    service: np.ndarray  # object

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def from_columns(cls, cols: Mapping[str, Sequence[Any] | np.ndarray]) -> EventTable:
        n = len(cols["timestamp_ns"])

        def ints(name: str) -> np.ndarray:
            v = cols.get(name)
            if v is None:
                return np.zeros(n, dtype=np.int64)
            return np.asarray(v).astype(np.int64, copy=False)

        def strs(name: str) -> np.ndarray:
            v = cols.get(name)
            if v is None:
                return np.full(n, "", dtype=object)
            return np.asarray(v, dtype=object)

        etype = _codes(cols["event_type"], _TYPE_CODES, n)
        off_raw = cols.get("off_cpu_reason")
        off = np.zeros(n, dtype=np.int8) if off_raw is None else _codes(off_raw, _OFFCPU_CODES, n)
        ts = ints("timestamp_ns")
        dur = ints("duration_ns")
        tid = ints("tid")
        order = np.lexsort((ts, tid))
        raw_major = cols.get("major")
        major = np.zeros(n, dtype=bool) if raw_major is None else np.asarray(raw_major, dtype=bool)
        ev_id = cols.get("event_id")
        event_ids = (
            np.zeros(n, dtype=np.uint64) if ev_id is None else np.asarray(ev_id, dtype=np.uint64)
        )
        t = cls(
            ts=ts,
            end=ts + dur,
            dur=dur,
            pid=ints("pid"),
            tid=tid,
            cpu=ints("cpu"),
            etype=etype,
            runq=ints("runq_wait_ns"),
            waker_pid=ints("waker_pid"),
            waker_tid=ints("waker_tid"),
            off_reason=off,
            fd=ints("fd"),
            nbytes=ints("bytes"),
            ret=ints("ret"),
            sport=ints("sport"),
            dport=ints("dport"),
            target_tid=ints("target_tid"),
            pages=ints("pages_reclaimed"),
            major=major,
            cgroup=np.asarray(cols.get("cgroup_id", np.zeros(n)), dtype=np.uint64),
            event_id=event_ids,
            comm=strs("comm"),
            waker_comm=strs("waker_comm"),
            saddr=strs("saddr"),
            daddr=strs("daddr"),
            txn=strs("transaction_id"),
            span=strs("span_id"),
            service=strs("service"),
        )
        return t.take(order)

    @classmethod
    def from_events(cls, evs: Sequence[Mapping[str, Any]]) -> EventTable:
        cols: dict[str, list[Any]] = {c: [] for c in (*_INT_COLS, *_STR_COLS)}
        extra: dict[str, list[Any]] = {"event_type": [], "off_cpu_reason": [], "major": [], "event_id": [], "sport": [], "dport": []}
        get_cols = [(c, cols[c]) for c in (*_INT_COLS, "comm", "waker_comm", "saddr", "daddr")]
        for ev in evs:
            for name, out in get_cols:
                out.append(ev.get(name) or 0 if name in _INT_COLS else ev.get(name) or "")
            ctx = ev.get("financial_context") or {}
            cols["transaction_id"].append(ctx.get("transaction_id") or "")
            cols["span_id"].append(ctx.get("span_id") or "")
            cols["service"].append(ctx.get("service") or "")
            extra["event_type"].append(ev["event_type"])
            extra["off_cpu_reason"].append(ev.get("off_cpu_reason") or 0)
            extra["major"].append(bool(ev.get("major")))
            extra["event_id"].append(int(ev.get("event_id") or 0))
            extra["sport"].append(ev.get("sport") or 0)
            extra["dport"].append(ev.get("dport") or 0)
        if not evs:
            extra["event_type"] = np.zeros(0, dtype=np.int8)  # type: ignore[assignment]
        return cls.from_columns({**cols, **extra})

    def take(self, idx: np.ndarray) -> EventTable:
        if len(idx) == len(self.ts) and (len(idx) == 0 or (np.diff(idx) == 1).all()):
            return self  # already in order: nothing to copy
        return EventTable(**{k: v[idx] for k, v in self.__dict__.items()})

    def thread_slice(self, tid: int) -> slice:
        """Rows of one thread (the table is sorted by tid, then time)."""
        lo = int(np.searchsorted(self.tid, tid, side="left"))
        hi = int(np.searchsorted(self.tid, tid, side="right"))
        return slice(lo, hi)

    def flow_key(self, i: int) -> tuple[tuple[str, int], tuple[str, int]]:
        """Direction-free key of a TCP event's connection."""
        a = (str(self.saddr[i]), int(self.sport[i]))
        b = (str(self.daddr[i]), int(self.dport[i]))
        return (a, b) if a <= b else (b, a)

    def event(self, i: int) -> dict[str, Any]:
        """A compact, JSON-friendly view of one row (for evidence and nodes)."""
        return {
            "event_id": int(self.event_id[i]),
            "event_type": EventType(int(self.etype[i])).name,
            "timestamp_ns": int(self.ts[i]),
            "duration_ns": int(self.dur[i]),
            "pid": int(self.pid[i]),
            "tid": int(self.tid[i]),
            "cpu": int(self.cpu[i]),
            "comm": str(self.comm[i]),
        }
