"""The clock buffer: clock reads recorded without a ptrace stop, replayed like traced ones."""

from __future__ import annotations

import subprocess

import pytest
from replay_helpers import PY, needs_tracing

from replay import sysbuf
from replay.recorder import Recorder
from replay.replayer import ReplayOptions
from replay.session import replay_captured
from replay.syscalls import NR

pytestmark = [needs_tracing, pytest.mark.skipif(sysbuf.library_path() is None,
                                                reason="the clock library is built by `make setup`")]

READS = 40_000  # more than the library's flush period (8,192): flush stops on the way

PROGRAM = f"""
import os, time
v = [time.monotonic_ns() for _ in range({READS})]
pid = os.fork()
if pid == 0:
    print("child", time.time_ns(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent", v[0], v[-1], len(set(v)) > 1, time.time_ns(), flush=True)
"""


def _record(tmp_path, clock_buffer: bool):
    script = tmp_path / "clocks.py"
    script.write_text(PROGRAM)
    return Recorder([PY, str(script)], cwd=str(tmp_path), syscall_buffer=clock_buffer).run()


def test_clock_reads_cost_no_stop_and_replay_byte_identical(tmp_path):
    natives = [subprocess.run([PY, "-c", PROGRAM], capture_output=True, timeout=60).stdout for _ in range(2)]
    assert natives[0] != natives[1]
    buffered = _record(tmp_path, clock_buffer=True)
    reads = [e for e in buffered.recording.events if e.nr == NR["clock_gettime"]]
    assert len(reads) >= READS + 2 and buffered.exit_status == 0
    traced = _record(tmp_path, clock_buffer=False)
    assert traced.stops - buffered.stops >= READS  # the stop each read cost when traced

    recorded = buffered.recording
    out = recorded.blobs.get(recorded.meta["output"]["1"])
    assert out.startswith(b"child ") and b"\nparent " in out
    for seed in range(3):
        got = replay_captured(recorded, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


def test_the_loader_reading_the_library_is_not_the_programs_to_count(tmp_path):
    rec = _record(tmp_path, clock_buffer=True).recording
    lib = [e for e in rec.events if "kprobe" in e.x and not sysbuf.own_call(e.nr, e.args, e.ret)]
    assert lib and lib[0].nr == NR["openat"] and lib[0].x["path"] == sysbuf.library_path()
    assert lib[-1].nr == NR["close"] and rec.meta["env"]["LD_PRELOAD"] == sysbuf.library_path()
