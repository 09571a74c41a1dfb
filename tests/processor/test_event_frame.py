"""EventFrame: the join's columns of a request, and event dicts made only for the rows read."""

from __future__ import annotations

import numpy as np

from causal_processor.ingest.decode import decode, decode_body, parse_protobuf
from causal_processor.ingest.event_frame import TYPE_CODE, FrameEvents
from causal_processor.join.joiner import Joiner
from kprobe import events, otlp

T0 = 1_800_000_000_000_000_000


def _request(n: int = 60):
    types = ("TCPRecv", "SyscallWrite", "SchedSwitch", "TCPSend", "PageFault")
    evs = []
    for i in range(n):
        t = types[i % len(types)]
        kw: dict = {}
        if t.startswith("TCP"):
            kw = dict(fd=4, bytes=10, ret=10, saddr="10.0.0.1", sport=8080, daddr="10.0.0.2", dport=40000 + i)
        elif t == "SchedSwitch":
            kw = dict(off_cpu_reason="BLOCKED", waker_pid=7, waker_tid=8 + i % 2)
        evs.append(events.make_event(t, pid=7, tid=8 + i % 3, cpu=0, timestamp_ns=T0 + (n - i) * 1000,
                                     duration_ns=10, comm="w", **kw))
    return otlp.events_to_request(evs, {7: otlp.process_resource(7, "w", service="svc")}), evs


def test_a_bulk_frame_makes_dicts_only_for_the_rows_asked_and_equal_to_upb():
    req, evs = _request()
    body = req.SerializeToString()
    bulk, upb = decode_body(body).events, decode(parse_protobuf(body)).events
    assert bulk.table is not None and len(bulk) == len(upb) == 60
    for name in ("pid", "tid", "ts", "types"):
        assert np.array_equal(getattr(bulk, name), getattr(upb, name))
    assert bulk.types[0] == TYPE_CODE["TCPRecv"]
    assert sum(d is not None for d in bulk._dicts) == 0
    assert bulk.events([5, 2]) == upb.events([5, 2])
    assert sum(d is not None for d in bulk._dicts) == 2
    assert bulk.fields(np.array([0, 3]), ("dport", "sport")) == [(40000, 8080), (40003, 8080)]
    assert bulk.all() == upb.all() == [{**e, "pid": 7} for e in evs]
    assert list(FrameEvents([bulk, upb]))[60:] == upb.all() and FrameEvents([bulk, upb])[61] == upb.all()[1]


def test_the_join_forgets_a_frame_once_its_events_are_pruned():
    req, _ = _request(30)
    frame = decode_body(req.SerializeToString()).events
    j = Joiner()
    j.add_frame(frame)
    j.add_events([events.make_event("PageFault", pid=9, tid=9, timestamp_ns=T0 + 10**12)])
    assert len(j._frames) == 2 and j.stats()["events"] == 31
    j._prune(T0 + 10**9)  # older than every event of the first frame
    assert len(j._frames) == 1 and j.stats()["events"] == 1
    assert (7, 8) not in j._threads and (9, 9) in j._threads
