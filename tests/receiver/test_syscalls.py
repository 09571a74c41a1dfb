"""Syscall capture against exact truth: N writes of B bytes are N SyscallWrite with bytes == B."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collector_receiver import Capture
from kprobe import events

PY = sys.executable

pytestmark = [pytest.mark.ebpf, pytest.mark.usefixtures("loaded_programs")]


def test_n_writes_of_b_bytes(tmp_path: Path) -> None:
    n, b = 1000, 37
    out = tmp_path / "w.jsonl"
    script = (
        "import os\n"
        "fd = os.open(os.devnull, os.O_WRONLY)\n"
        f"for _ in range({n}): os.write(fd, b'x' * {b})\n"
        "os.write(1, f\"{fd}\\n\".encode())\n"
    )
    with Capture(command=[PY, "-c", script], types=["SyscallWrite", "SyscallRead"],
                 output=out) as cap:
        cap.wait(timeout=60)
    pid = cap.process.pid
    fd = None
    writes = cap.events_of("SyscallWrite", pid)
    big = [e for e in writes if e["bytes"] == b]
    assert len(big) == n
    fd = big[0]["fd"]
    assert all(e["fd"] == fd and e["ret"] == b and e["errno"] == 0 for e in big)
    assert all(e["duration_ns"] > 0 and e["tid"] == pid for e in big)
    # the final report of fd is one more write, to stdout
    assert [e["bytes"] for e in writes if e["fd"] == 1] == [len(f"{fd}\n")]
    for e in writes:
        events.validate_event(e)
    assert cap.stats.lost_events == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == cap.events


def test_timestamps_are_unix_ns_inside_the_capture() -> None:
    before = time.time_ns()
    with Capture(command=[PY, "-c", "import os, time\nos.write(1, b'a')\ntime.sleep(0.05)\nos.write(1, b'b')"],
                 types=["SyscallWrite"], command_stdout=subprocess.DEVNULL) as cap:
        cap.wait(timeout=60)
    after = time.time_ns()
    first, second = (e for e in cap.events_of("SyscallWrite", cap.process.pid) if e["fd"] == 1)
    assert before < first["timestamp_ns"] < second["timestamp_ns"] < after
    assert 50_000_000 <= second["timestamp_ns"] - first["timestamp_ns"] < 1_000_000_000
    assert cap.clock.uncertainty_ns < 1_000_000


def test_failed_syscall_carries_errno() -> None:
    script = "import os\ntry:\n    os.write(987, b'abc')\nexcept OSError:\n    pass\n"
    with Capture(command=[PY, "-c", script], types=["SyscallWrite"]) as cap:
        cap.wait(timeout=60)
    bad = [e for e in cap.events_of("SyscallWrite", cap.process.pid) if e["fd"] == 987]
    assert len(bad) == 1
    assert bad[0]["ret"] == -9 and bad[0]["errno"] == 9 and bad[0]["bytes"] == 0
