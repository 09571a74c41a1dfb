"""Targets are filtered in the kernel; missing privileges and tracepoints give one-line errors."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from collector_receiver import Capture, CaptureError, errors, loader
from collector_receiver.targets import cgroup2_mounts

pytestmark = [pytest.mark.ebpf, pytest.mark.usefixtures("loaded_programs")]
PY = sys.executable
KPROBE = str(Path(sys.executable).with_name("kprobe"))

WRITER = r"""
import ctypes, os, sys, time
if len(sys.argv) > 1:
    ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME
print("ready", flush=True)
fd = os.open(os.devnull, os.O_WRONLY)
while True:
    os.write(fd, b"abc")
    time.sleep(0.005)
"""


def _writer(*args: str, **kw: object) -> subprocess.Popen[str]:
    p = subprocess.Popen([PY, "-c", WRITER, *args], stdout=subprocess.PIPE, text=True, **kw)  # type: ignore[call-overload]
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


def _capture_for(seconds: float, **kw: object) -> Capture:
    with Capture(types=["SyscallWrite"], **kw) as cap:  # type: ignore[arg-type]
        time.sleep(seconds)
    return cap


def test_pid_target_sees_only_that_process() -> None:
    a, b = _writer(), _writer()
    try:
        cap = _capture_for(0.4, pids=[a.pid])
    finally:
        for p in (a, b):
            p.kill()
            p.wait()
    assert cap.events
    assert {e["pid"] for e in cap.events} == {a.pid}
    assert all(e["bytes"] == 3 for e in cap.events)


def test_comm_target_matches_the_thread_name() -> None:
    name = f"kpc{uuid.uuid4().hex[:8]}"
    a, b = _writer(name), _writer()
    try:
        cap = _capture_for(0.4, comms=[name])
    finally:
        for p in (a, b):
            p.kill()
            p.wait()
    assert cap.events
    assert {(e["pid"], e["comm"]) for e in cap.events} == {(a.pid, name)}


@pytest.mark.parametrize("hierarchy", ["v2", "v1"])
def test_cgroup_target(hierarchy: str, make_cgroup: Callable[[Path], Path]) -> None:
    if hierarchy == "v2":
        mounts = cgroup2_mounts()
        if not mounts:
            pytest.skip("no cgroup2 mount")
        root = mounts[0]
    else:
        root = Path("/sys/fs/cgroup/pids")
        if not (root / "cgroup.procs").exists() or root in cgroup2_mounts():
            pytest.skip("no cgroup v1 hierarchy")
    cg = make_cgroup(root)
    cg_id = os.stat(cg).st_ino
    a, b = _writer(), _writer()
    try:
        (cg / "cgroup.procs").write_text(str(a.pid))
        cap = _capture_for(0.4, cgroup=str(cg))
    finally:
        for p in (a, b):
            p.kill()
            p.wait()
    assert cap.events
    assert {e["pid"] for e in cap.events} == {a.pid}
    if hierarchy == "v2":
        assert {e["cgroup_id"] for e in cap.events} == {cg_id}


def test_everything_but_the_receiver_itself(tmp_path: Path) -> None:
    child = _writer()
    sink = os.open(tmp_path / "self.out", os.O_WRONLY | os.O_CREAT)
    try:
        with Capture(types=["SyscallWrite"]) as cap:
            for _ in range(50):
                os.write(sink, b"me")
            time.sleep(0.3)
    finally:
        os.close(sink)
        child.kill()
        child.wait()
    pids = {e["pid"] for e in cap.events}
    assert child.pid in pids
    assert os.getpid() not in pids


def test_not_root_is_one_line_naming_the_capabilities() -> None:
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) not installed")
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         KPROBE, "capture", "--", "true"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "CAP_BPF" in lines[0] and "CAP_PERFMON" in lines[0] and "root" in lines[0]


def test_absent_tracefs_says_how_to_mount_it(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="mount -t tracefs"):
        errors.tracefs_root((tmp_path,))


def test_missing_tracepoint_degrades_to_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A host without one tracepoint (and, in the same compile, without BTF: offsets then come
    from headers that match their kernel, via offsetof) still loads and captures the rest."""
    real = errors.tracefs_root()
    gone = "tcp:tcp_retransmit_skb"
    for tp in loader.program_tracepoints(loader.program_text()):
        if tp != gone:
            dst = tmp_path / "events" / tp.replace(":", "/")
            dst.mkdir(parents=True)
            shutil.copy(real / "events" / tp.replace(":", "/") / "format", dst / "format")
    with caplog.at_level(logging.WARNING):
        programs = loader.LoadedPrograms(tracefs=tmp_path, use_btf=False)
    try:
        assert programs.missing == [gone]
        assert "tracepoint tcp:tcp_retransmit_skb is missing on this kernel: TCPRetransmit will not be captured" in caplog.text
        assert programs.attach(["SyscallWrite", "TCPRetransmit"]) == ["TCPRetransmit"]
    finally:
        programs.close()


def test_unknown_type_or_command_is_a_user_error() -> None:
    with pytest.raises(CaptureError, match="unknown event type 'Nope'"):
        Capture(types=["Nope"])
    with pytest.raises(CaptureError, match="command not found: no-such-cmd-kp"):
        Capture(command=["no-such-cmd-kp"]).start()

