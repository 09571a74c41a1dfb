"""Ring-buffer batches -> numpy records -> event dicts of kprobe/events.py.

A batch is viewed with numpy.frombuffer on the dtype made from record.py, so
the per-event cost in Python is paid only for events that become dicts (the
policy drops or aggregates the rest while they are still numpy rows).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from collector_receiver import record
from kprobe import events

BATCH_DTYPE = record.batch_dtype()
RECORD_DTYPE = record.record_dtype()
_SLOTS = np.arange(record.BATCH_SIZE)
_AF_INET = 2
_TYPE_NAME = {t.value: t.name for t in events.EventType}
_REASON = events.FIELD_BY_NAME["off_cpu_reason"].enum_names or {}
_KIND = events.FIELD_BY_NAME["reclaim_kind"].enum_names or {}


def records_from_batches(chunks: Iterable[bytes]) -> np.ndarray:
    """The filled records of whole batches (per CPU in order; not sorted across CPUs)."""
    data = b"".join(chunks)
    if not data:
        return np.empty(0, RECORD_DTYPE)
    batches = np.frombuffer(data, BATCH_DTYPE)
    return batches["rec"][_SLOTS[None, :] < batches["n"][:, None]]


class EventDecoder:
    """Turns records into event dicts, one event type at a time, column-wise.

    Each column is converted to Python objects once (tolist) and the dicts are
    built by one comprehension per type; strings (comms, addresses) are cached.
    """

    def __init__(self, offset_ns: int) -> None:
        self.offset_ns = offset_ns
        self._comm: dict[bytes, str] = {}
        self._addr: dict[tuple[int, bytes], str] = {}
        self._build: dict[int, Callable[[dict[str, list[Any]]], list[dict[str, Any]]]] = {
            t.value: getattr(self, "_" + t.name) for t in events.EventType
        }

    def events(self, recs: np.ndarray) -> list[dict[str, Any]]:
        """Event dicts of these records, in the records' order."""
        n = len(recs)
        if not n:
            return []
        out: list[Any] = [None] * n
        types = recs["type"]
        for t in np.unique(types).tolist():
            idx = np.flatnonzero(types == t)
            built = self._build[t](self._columns(recs[idx], t))
            for i, ev in zip(idx.tolist(), built, strict=True):
                out[i] = ev
        return out

    def _columns(self, recs: np.ndarray, t: int) -> dict[str, list[Any]]:
        cols: dict[str, list[Any]] = {
            "ts": (recs["ts"] + np.uint64(self.offset_ns)).tolist(),
            "pid": recs["pid"].tolist(),
            "tid": recs["tid"].tolist(),
        }
        cols["id"] = [events.event_id(p, tid, ts, t)
                      for p, tid, ts in zip(cols["pid"], cols["tid"], cols["ts"], strict=True)]
        for name in ("dur", "cgroup", "aux", "ret", "pid2", "tid2", "fd", "cpu", "flags",
                     "sport", "dport"):
            cols[name] = recs[name].tolist()
        comm = self.comm
        cols["comm"] = [comm(c) for c in recs["comm"].tolist()]
        cols["comm2"] = [comm(c) for c in recs["comm2"].tolist()]
        if recs["family"].any():
            fam = recs["family"].tolist()
            addr = self.addr
            cols["saddr"] = [addr(f, a) for f, a in zip(fam, _raw(recs["saddr"]), strict=True)]
            cols["daddr"] = [addr(f, a) for f, a in zip(fam, _raw(recs["daddr"]), strict=True)]
        else:
            cols["saddr"] = cols["daddr"] = [""] * len(recs)
        return cols

    def comm(self, raw: bytes) -> str:
        s = self._comm.get(raw)
        if s is None:
            s = self._comm[raw] = raw.decode("utf-8", "replace")
        return s

    def addr(self, family: int, raw: bytes) -> str:
        if not family:
            return ""
        key = (family, raw)
        s = self._addr.get(key)
        if s is None:
            raw = raw.ljust(16, b"\0")  # numpy's S16 drops trailing NULs
            ip = ipaddress.IPv4Address(raw[:4]) if family == _AF_INET else ipaddress.IPv6Address(raw)
            s = self._addr[key] = str(ip)
        return s

    @staticmethod
    def _common(c: dict[str, list[Any]], et: str) -> list[dict[str, Any]]:
        return [
            {"event_id": i, "timestamp_ns": ts, "pid": p, "tid": t, "cpu": cpu, "event_type": et,
             "duration_ns": d, "comm": comm, "cgroup_id": cg}
            for i, ts, p, t, cpu, d, comm, cg in zip(
                c["id"], c["ts"], c["pid"], c["tid"], c["cpu"], c["dur"], c["comm"], c["cgroup"],
                strict=True)
        ]

    def _io(self, c: dict[str, list[Any]], et: str, with_bytes: bool = True,
            with_tuple: bool = False) -> list[dict[str, Any]]:
        evs = self._common(c, et)
        for ev, fd, ret in zip(evs, c["fd"], c["ret"], strict=True):
            ev["fd"] = fd
            if with_bytes:
                ev["bytes"] = ret if ret > 0 else 0
            ev["ret"] = ret
            ev["errno"] = -ret if ret < 0 else 0
        if with_tuple:
            self._tuple(evs, c)
        return _with_context(evs)

    @staticmethod
    def _tuple(evs: list[dict[str, Any]], c: dict[str, list[Any]]) -> None:
        for ev, sa, sp, da, dp in zip(evs, c["saddr"], c["sport"], c["daddr"], c["dport"], strict=True):
            ev["saddr"], ev["sport"], ev["daddr"], ev["dport"] = sa, sp, da, dp

    def _SyscallRead(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        return self._io(c, "SyscallRead")

    def _SyscallWrite(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        return self._io(c, "SyscallWrite")

    def _SyscallFsync(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        return self._io(c, "SyscallFsync", with_bytes=False)

    def _TCPSend(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        return self._io(c, "TCPSend", with_tuple=True)

    def _TCPRecv(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        return self._io(c, "TCPRecv", with_tuple=True)

    def _TCPRetransmit(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        evs = self._common(c, "TCPRetransmit")
        self._tuple(evs, c)
        for ev, segs, state in zip(evs, c["aux"], c["flags"], strict=True):
            ev["segments"], ev["tcp_state"] = segs, state
        return _with_context(evs)

    def _SchedSwitch(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        evs = self._common(c, "SchedSwitch")
        for ev, reason, runq, wp, wt, wc, state in zip(
                evs, c["flags"], c["aux"], c["pid2"], c["tid2"], c["comm2"], c["ret"], strict=True):
            ev["off_cpu_reason"] = _REASON[reason]
            ev["runq_wait_ns"] = runq
            ev["waker_pid"], ev["waker_tid"], ev["waker_comm"] = wp, wt, wc
            ev["prev_state"] = state
        return _with_context(evs)

    def _SchedWakeup(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        evs = self._common(c, "SchedWakeup")
        for ev, tp, tt, tc in zip(evs, c["pid2"], c["tid2"], c["comm2"], strict=True):
            ev["target_pid"], ev["target_tid"], ev["target_comm"] = tp, tt, tc
        return _with_context(evs)

    def _PageFault(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        evs = self._common(c, "PageFault")
        for ev, addr, major in zip(evs, c["aux"], c["flags"], strict=True):
            ev["address"], ev["major"] = addr, bool(major)
        return _with_context(evs)

    def _MemoryReclaim(self, c: dict[str, list[Any]]) -> list[dict[str, Any]]:
        evs = self._common(c, "MemoryReclaim")
        for ev, pages, kind in zip(evs, c["aux"], c["flags"], strict=True):
            ev["pages_reclaimed"], ev["reclaim_kind"] = pages, _KIND[kind]
        return _with_context(evs)


def _raw(addrs: np.ndarray) -> list[bytes]:
    """Each row of a (n, 16) uint8 array as bytes."""
    return addrs.view("S16").ravel().tolist() if addrs.flags.c_contiguous else [
        a.tobytes() for a in addrs
    ]


_EMPTY_CONTEXT = events.empty_context()


def _with_context(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event gets its own (not yet joined) financial context."""
    copy = _EMPTY_CONTEXT.copy
    for ev in evs:
        ev["financial_context"] = copy()
    return evs
