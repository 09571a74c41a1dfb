"""The ingest fast path decodes exactly what kprobe.otlp.span_to_event decodes."""

from __future__ import annotations

import pytest

from causal_processor.ingest.kernel_rows import COLUMNS, kernel_row
from kprobe import events, otlp

SAMPLES = {
    "TCPSend": dict(fd=5, bytes=100, ret=100, saddr="10.0.0.1", sport=80, daddr="::ffff:10.0.0.2", dport=5),
    "TCPRecv": dict(fd=5, bytes=-1, ret=-104, errno=104, saddr="::1", sport=80, daddr="::2", dport=9),
    "SyscallRead": dict(fd=3, bytes=7, ret=7),
    "SyscallWrite": dict(fd=3, bytes=2**40, ret=2**40),
    "SchedSwitch": dict(off_cpu_reason="PREEMPTED", runq_wait_ns=2**63 + 5, waker_pid=1, waker_tid=2,
                        waker_comm="kworker", prev_state=0x100),
    "PageFault": dict(address=2**64 - 4096, major=True),
    "SchedWakeup": dict(target_pid=9, target_tid=10, target_comm="x"),
    "MemoryReclaim": dict(pages_reclaimed=32, reclaim_kind="MEMCG"),
    "TCPRetransmit": dict(saddr="1.1.1.1", sport=1, daddr="2.2.2.2", dport=2, segments=3, tcp_state=1),
    "SyscallFsync": dict(fd=9, ret=0),
}


@pytest.mark.parametrize("event_type", events.EVENT_TYPE_NAMES)
@pytest.mark.parametrize("joined", [False, True])
def test_kernel_row_matches_span_to_event(event_type, joined):
    ctx = dict(transaction_id="pay-1", service="s", operation="op", trace_id="ab" * 16, span_id="cd" * 8,
               join_method="server_recv", join_confidence=0.95) if joined else {}
    ev = events.make_event(event_type, pid=42, tid=43, cpu=1, timestamp_ns=1_800_000_000_000_000_000,
                           duration_ns=1234, comm="worker", cgroup_id=77, financial_context=ctx,
                           **SAMPLES[event_type])
    span = otlp.event_to_span(ev)
    row, got = kernel_row(span, 42, "payments", "h1")
    assert got == otlp.span_to_event(span, 42) == ev
    assert dict(zip(COLUMNS, row, strict=True))["service_name"] == "payments"
    assert {k: v for k, v in zip(COLUMNS, row, strict=True) if k in ev} == {k: v for k, v in ev.items()
                                                                           if k != "financial_context"}


def test_kernel_row_rejects_a_span_without_a_type():
    span = otlp.event_to_span(events.make_event("PageFault", pid=1, tid=1, timestamp_ns=1))
    del span.attributes[:]
    with pytest.raises(ValueError, match=r"kprobe\.event_type"):
        kernel_row(span, 1, "", "")
