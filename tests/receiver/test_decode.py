"""Records decode into exactly the event dicts kprobe/events.py makes; the C struct matches the dtype."""

from __future__ import annotations

import socket

import numpy as np

from collector_receiver import record
from collector_receiver.decode import EventDecoder, records_from_batches
from collector_receiver.policy import Aggregates, Policy
from kprobe import events


def _rec(**values: object) -> np.ndarray:
    r = np.zeros(1, record.record_dtype())
    for k, v in values.items():
        r[k] = v
    return r


def _batch(recs: np.ndarray) -> bytes:
    b = np.zeros(1, record.batch_dtype())
    b["n"] = len(recs)
    b["rec"][0, : len(recs)] = recs
    return b.tobytes()


def test_c_struct_is_generated_from_the_dtype() -> None:
    text = record.c_definitions()
    for f in record.RECORD_FIELDS:
        assert f" {f.name}" in text
    assert record.record_dtype().itemsize == 136
    assert record.batch_dtype().itemsize == 16 + 136 * record.BATCH_SIZE


def test_every_type_decodes_to_the_shared_event_shape() -> None:
    v6 = socket.inet_pton(socket.AF_INET6, "fd00::1:0")
    v4 = socket.inet_pton(socket.AF_INET, "10.1.0.0")
    common = {"ts": 1_000, "dur": 50, "pid": 7, "tid": 8, "cpu": 1, "cgroup": 99, "comm": b"svc"}
    rows = [
        _rec(type=events.EventType.SyscallWrite, fd=3, ret=-32, **common),
        _rec(type=events.EventType.SyscallFsync, fd=4, ret=0, **common),
        _rec(type=events.EventType.TCPSend, fd=5, ret=100, family=10, sport=80, dport=5000,
             saddr=np.frombuffer(v6, np.uint8), daddr=np.frombuffer(v6, np.uint8), **common),
        _rec(type=events.EventType.TCPRecv, fd=5, ret=10, family=2, sport=80, dport=5000,
             saddr=np.frombuffer(v4.ljust(16, b"\0"), np.uint8),
             daddr=np.frombuffer(v4.ljust(16, b"\0"), np.uint8), **common),
        _rec(type=events.EventType.SchedSwitch, flags=2, aux=40, pid2=1, tid2=2, comm2=b"w",
             ret=256, **common),
        _rec(type=events.EventType.SchedWakeup, pid2=3, tid2=4, comm2=b"t", **common),
        _rec(type=events.EventType.PageFault, aux=1 << 63, flags=1, **common),
        _rec(type=events.EventType.MemoryReclaim, aux=12, flags=2, **common),
        _rec(type=events.EventType.TCPRetransmit, aux=2, flags=1, family=2, sport=1, dport=2,
             saddr=np.frombuffer(v4.ljust(16, b"\0"), np.uint8), **common),
    ]
    recs = records_from_batches([_batch(np.concatenate(rows))])
    got = EventDecoder(offset_ns=10**18).events(recs)
    base = {"timestamp_ns": 10**18 + 1_000, "duration_ns": 50, "pid": 7, "tid": 8, "cpu": 1,
            "cgroup_id": 99, "comm": "svc"}
    want = [
        events.make_event("SyscallWrite", fd=3, bytes=0, ret=-32, errno=32, **base),
        events.make_event("SyscallFsync", fd=4, **base),
        events.make_event("TCPSend", fd=5, bytes=100, ret=100, saddr="fd00::1:0", sport=80,
                          daddr="fd00::1:0", dport=5000, **base),
        events.make_event("TCPRecv", fd=5, bytes=10, ret=10, saddr="10.1.0.0", sport=80,
                          daddr="10.1.0.0", dport=5000, **base),
        events.make_event("SchedSwitch", off_cpu_reason="PREEMPTED", runq_wait_ns=40, waker_pid=1,
                          waker_tid=2, waker_comm="w", prev_state=256, **base),
        events.make_event("SchedWakeup", target_pid=3, target_tid=4, target_comm="t", **base),
        events.make_event("PageFault", address=1 << 63, major=True, **base),
        events.make_event("MemoryReclaim", pages_reclaimed=12, reclaim_kind="MEMCG", **base),
        events.make_event("TCPRetransmit", segments=2, tcp_state=1, saddr="10.1.0.0", sport=1,
                          daddr="0.0.0.0", dport=2, **base),
    ]
    assert got == want
    for ev in got:
        events.validate_event(ev)


def test_policy_splits_and_aggregates() -> None:
    rows = np.concatenate([
        _rec(type=events.EventType.PageFault, pid=5, flags=0, dur=0),
        _rec(type=events.EventType.PageFault, pid=5, flags=0, dur=0),
        _rec(type=events.EventType.PageFault, pid=5, flags=1, dur=0),
        _rec(type=events.EventType.SyscallRead, pid=5, dur=30),
        _rec(type=events.EventType.SyscallRead, pid=6, dur=20),
    ])
    policy = Policy().with_modes(SyscallRead="metric")
    spans, metric = policy.split(rows)
    assert spans.tolist() == [False, False, True, False, False]
    assert metric.tolist() == [True, True, False, True, True]
    agg = Aggregates()
    agg.add(rows[metric])
    assert {k: (c.count, c.duration_ns) for k, c in agg.counters.items()} == {
        ("PageFault", 5, False): (2, 0), ("SyscallRead", 5, False): (1, 30),
        ("SyscallRead", 6, False): (1, 20),
    }
    assert Policy().kernel_types(["PageFault"]) == ["PageFault"]
    assert Policy().with_modes(PageFault="drop").kernel_types(["PageFault"]) == []
