"""The kernel record: ONE definition, from which the C struct and the numpy dtype are made.

Each record is a fixed 136-byte struct; fields are shared between event types
(`aux`, `ret`, `flags`, `pid2`/`tid2`/`comm2` mean different things per type,
listed in RECORD_FIELDS' docs). The programs fill whole per-CPU batches of
BATCH_SIZE records and hand each batch to the ring buffer in one piece; the
consumer views a batch as a numpy structured array without copying per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kprobe import events
from kprobe.v1 import events_pb2


@dataclass(frozen=True)
class RecordField:
    name: str
    ctype: str  # kernel C type
    dtype: str  # numpy type
    count: int = 1  # array length (char/u8 arrays)
    doc: str = ""


RECORD_FIELDS: tuple[RecordField, ...] = (
    RecordField("ts", "__u64", "<u8", doc="CLOCK_MONOTONIC ns at the event's start"),
    RecordField("dur", "__u64", "<u8", doc="duration ns"),
    RecordField("cgroup", "__u64", "<u8", doc="cgroup v2 id of the task"),
    RecordField("aux", "__u64", "<u8",
                doc="SchedSwitch: run-queue wait; PageFault: address; MemoryReclaim: pages; "
                    "TCPRetransmit: segments"),
    RecordField("ret", "__s64", "<i8", doc="syscall/socket return value; SchedSwitch: prev_state"),
    RecordField("pid", "__u32", "<u4", doc="tgid (SchedWakeup: the waker's)"),
    RecordField("tid", "__u32", "<u4"),
    RecordField("pid2", "__u32", "<u4", doc="SchedSwitch: waker tgid; SchedWakeup: woken tgid"),
    RecordField("tid2", "__u32", "<u4", doc="SchedSwitch: waker tid; SchedWakeup: woken tid"),
    RecordField("fd", "__s32", "<i4"),
    RecordField("cpu", "__u16", "<u2"),
    RecordField("type", "__u8", "u1", doc="kprobe.v1.EventType number"),
    RecordField("flags", "__u8", "u1",
                doc="SchedSwitch: OffCpuReason; PageFault: 1 if major; MemoryReclaim: "
                    "ReclaimKind; TCPRetransmit: TCP state"),
    RecordField("sport", "__u16", "<u2", doc="local port, host order"),
    RecordField("dport", "__u16", "<u2", doc="peer port, host order"),
    RecordField("family", "__u16", "<u2", doc="AF_INET or AF_INET6"),
    RecordField("pad", "__u16", "<u2"),
    RecordField("saddr", "__u8", "u1", 16, doc="local address (IPv4 in the first 4 bytes)"),
    RecordField("daddr", "__u8", "u1", 16, doc="peer address"),
    RecordField("comm", "char", "S1", 16, doc="thread name"),
    RecordField("comm2", "char", "S1", 16, doc="SchedSwitch: waker comm; SchedWakeup: woken comm"),
)

BATCH_SIZE = 128  # records per ring-buffer entry; a power of two (the verifier masks indices)
STATS = ("lost_events", "inflight_full")  # per-CPU counters the programs keep


def record_dtype() -> np.dtype:
    """The numpy dtype of one record, laid out exactly like the C struct."""
    parts: list[tuple[Any, ...]] = []
    for f in RECORD_FIELDS:
        if f.dtype == "S1":
            parts.append((f.name, f"S{f.count}"))
        elif f.count > 1:
            parts.append((f.name, f.dtype, (f.count,)))
        else:
            parts.append((f.name, f.dtype))
    return np.dtype(parts, align=True)


def batch_dtype() -> np.dtype:
    """One ring-buffer entry: a count, then BATCH_SIZE record slots."""
    return np.dtype(
        [("n", "<u4"), ("cpu", "<u4"), ("first_ts", "<u8"), ("rec", record_dtype(), (BATCH_SIZE,))],
        align=True,
    )


def c_definitions() -> str:
    """The C side: the record and batch structs, type numbers, stat slots."""
    lines = ["struct kp_record {"]
    for f in RECORD_FIELDS:
        lines.append(f"    {f.ctype} {f.name}{f'[{f.count}]' if f.count > 1 else ''};")
    lines.append("};")
    lines.append(f"#define KP_BATCH {BATCH_SIZE}")
    lines.append(
        "struct kp_batch {\n    __u32 n;\n    __u32 cpu;\n    __u64 first_ts;\n"
        "    struct kp_record rec[KP_BATCH];\n};"
    )
    for t in events.EventType:
        lines.append(f"#define KP_{t.name} {t.value}")
    for enum in (events_pb2.OffCpuReason, events_pb2.ReclaimKind):
        for v in enum.DESCRIPTOR.values:
            if v.number:
                lines.append(f"#define KP_{v.name} {v.number}")
    for i, s in enumerate(STATS):
        lines.append(f"#define KP_STAT_{s.upper()} {i}")
    lines.append(f"#define KP_NSTATS {len(STATS)}")
    return "\n".join(lines) + "\n"


RECORD_SIZE = record_dtype().itemsize
assert RECORD_SIZE == 136, RECORD_SIZE
assert BATCH_SIZE & (BATCH_SIZE - 1) == 0
