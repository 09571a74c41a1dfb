"""Remove what a killed runner left behind (its name carries its pid; see naming).

A runner stopped by SIGKILL cannot clean up: its children exit by themselves
(parent-death signal) but its cgroup, loop volumes, throttles, nft table and work
directory remain, and a child stuck in throttled writeback under the dead run's
memory limit exits slowly. Every new run first sweeps the objects whose owner
pid is gone, freeing the stuck tasks before unmounting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from testbed.kernel import naming
from testbed.kernel.cgroups import remove_cgroup_dir, stale_cgroup_dirs
from testbed.kernel.nftables import delete_table, testbed_tables
from testbed.kernel.volumes import drop_throttle_rule, loop_devices_backed_by


def _mounts_of(device: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[0] == device]


def _lift_throttle(device: str) -> None:
    st = os.stat(device)
    drop_throttle_rule(f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")


def _free_cgroup(path: Path) -> None:
    """Lift the limit (tasks stuck in reclaim can run again) and kill what is left."""
    for knob, value in (("memory.limit_in_bytes", "-1"), ("memory.max", "max")):
        with contextlib.suppress(OSError):
            (path / knob).write_text(value)
    with contextlib.suppress(OSError):
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def _umount(mountpoint: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while subprocess.run(["umount", mountpoint], capture_output=True).returncode != 0:
        if time.monotonic() > deadline or not os.path.ismount(mountpoint):
            return
        time.sleep(0.1)


def sweep_stale() -> list[str]:
    """Delete leftovers of dead runs; return what was removed (for logs and tests)."""
    removed: list[str] = []
    tmp = Path(tempfile.gettempdir())
    cgroups = [p for p in stale_cgroup_dirs() if not naming.owner_alive(p.name)]
    loops = [(dev, back) for dev, back in loop_devices_backed_by(str(tmp / naming.PREFIX))
             if not naming.owner_alive(Path(back).parent.name)]
    for path in cgroups:
        _free_cgroup(path)
    for device, _ in loops:
        _lift_throttle(device)
    for path in cgroups:
        with contextlib.suppress(OSError):
            remove_cgroup_dir(path, timeout_s=10.0)
            removed.append(str(path))
    for device, _ in loops:
        for mountpoint in _mounts_of(device):
            _umount(mountpoint)
        subprocess.run(["losetup", "--detach", device], capture_output=True)
        _lift_throttle(device)
        removed.append(device)
    for table in testbed_tables():
        if not naming.owner_alive(table):
            delete_table(table)
            removed.append(f"nft inet {table}")
    for entry in tmp.glob(f"{naming.PREFIX}-*"):
        if entry.is_dir() and not naming.owner_alive(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed
