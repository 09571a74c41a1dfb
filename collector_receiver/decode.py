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
    """The filled records of whole batches, ordered by start time."""
    data = b"".join(chunks)
    if not data:
        return np.empty(0, RECORD_DTYPE)
    batches = np.frombuffer(data, BATCH_DTYPE)
    recs = batches["rec"][_SLOTS[None, :] < batches["n"][:, None]]
    return recs[np.argsort(recs["ts"], kind="stable")]


class EventDecoder:
    """Turns records into event dicts; caches the strings it formats."""

    def __init__(self, offset_ns: int) -> None:
        self.offset_ns = offset_ns
        self._comm: dict[bytes, str] = {}
        self._addr: dict[tuple[int, bytes], str] = {}
        self._build: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
            t.value: getattr(self, "_" + t.name) for t in events.EventType
        }

    def events(self, recs: np.ndarray) -> list[dict[str, Any]]:
        if not len(recs):
            return []
        cols = {name: recs[name].tolist() for name in (
            "ts", "dur", "cgroup", "aux", "ret", "pid", "tid", "pid2", "tid2", "fd", "cpu",
            "type", "flags", "sport", "dport", "family",
        )}
        cols["comm"] = [self.comm(c) for c in recs["comm"].tolist()]
        cols["comm2"] = [self.comm(c) for c in recs["comm2"].tolist()]
        saddr, daddr = recs["saddr"], recs["daddr"]
        out = []
        keys = list(cols)
        rows = zip(*(cols[k] for k in keys), strict=True)
        for i, row in enumerate(rows):
            r = dict(zip(keys, row, strict=True))
            if r["family"]:
                r["saddr"] = self.addr(r["family"], saddr[i].tobytes())
                r["daddr"] = self.addr(r["family"], daddr[i].tobytes())
            out.append(self._build[r["type"]](r))
        return out

    def comm(self, raw: bytes) -> str:
        s = self._comm.get(raw)
        if s is None:
            s = self._comm[raw] = raw.decode("utf-8", "replace")
        return s

    def addr(self, family: int, raw: bytes) -> str:
        key = (family, raw)
        s = self._addr.get(key)
        if s is None:
            ip = ipaddress.IPv4Address(raw[:4]) if family == _AF_INET else ipaddress.IPv6Address(raw)
            s = self._addr[key] = str(ip)
        return s

    def _common(self, r: dict[str, Any]) -> dict[str, Any]:
        ts = r["ts"] + self.offset_ns
        return {
            "event_id": events.event_id(r["pid"], r["tid"], ts, r["type"]),
            "timestamp_ns": ts,
            "pid": r["pid"],
            "tid": r["tid"],
            "cpu": r["cpu"],
            "event_type": _TYPE_NAME[r["type"]],
            "duration_ns": r["dur"],
            "comm": r["comm"],
            "cgroup_id": r["cgroup"],
        }

    def _io(self, r: dict[str, Any], with_bytes: bool = True) -> dict[str, Any]:
        ev = self._common(r)
        ret = r["ret"]
        ev["fd"] = r["fd"]
        if with_bytes:
            ev["bytes"] = ret if ret > 0 else 0
        ev["ret"] = ret
        ev["errno"] = -ret if ret < 0 else 0
        return ev

    def _tuple(self, ev: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
        ev["saddr"] = r.get("saddr", "")
        ev["sport"] = r["sport"]
        ev["daddr"] = r.get("daddr", "")
        ev["dport"] = r["dport"]
        return ev

    def _done(self, ev: dict[str, Any]) -> dict[str, Any]:
        ev["financial_context"] = events.empty_context()
        return ev

    def _SyscallRead(self, r: dict[str, Any]) -> dict[str, Any]:
        return self._done(self._io(r))

    _SyscallWrite = _SyscallRead

    def _SyscallFsync(self, r: dict[str, Any]) -> dict[str, Any]:
        return self._done(self._io(r, with_bytes=False))

    def _TCPSend(self, r: dict[str, Any]) -> dict[str, Any]:
        return self._done(self._tuple(self._io(r), r))

    _TCPRecv = _TCPSend

    def _TCPRetransmit(self, r: dict[str, Any]) -> dict[str, Any]:
        ev = self._tuple(self._common(r), r)
        ev["segments"] = r["aux"]
        ev["tcp_state"] = r["flags"]
        return self._done(ev)

    def _SchedSwitch(self, r: dict[str, Any]) -> dict[str, Any]:
        ev = self._common(r)
        ev["off_cpu_reason"] = _REASON[r["flags"]]
        ev["runq_wait_ns"] = r["aux"]
        ev["waker_pid"] = r["pid2"]
        ev["waker_tid"] = r["tid2"]
        ev["waker_comm"] = r["comm2"]
        ev["prev_state"] = r["ret"]
        return self._done(ev)

    def _SchedWakeup(self, r: dict[str, Any]) -> dict[str, Any]:
        ev = self._common(r)
        ev["target_pid"] = r["pid2"]
        ev["target_tid"] = r["tid2"]
        ev["target_comm"] = r["comm2"]
        return self._done(ev)

    def _PageFault(self, r: dict[str, Any]) -> dict[str, Any]:
        ev = self._common(r)
        ev["address"] = r["aux"]
        ev["major"] = bool(r["flags"])
        return self._done(ev)

    def _MemoryReclaim(self, r: dict[str, Any]) -> dict[str, Any]:
        ev = self._common(r)
        ev["pages_reclaimed"] = r["aux"]
        ev["reclaim_kind"] = _KIND[r["flags"]]
        return self._done(ev)
