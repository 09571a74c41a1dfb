"""Remove what a killed runner left behind (its name carries its pid; see naming).

A runner stopped by SIGKILL cannot clean up: its children exit by themselves
(parent-death signal) but its cgroup, loop volumes, nft table and work directory
remain. Every new run first sweeps the objects whose owner pid is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from testbed.kernel import naming
from testbed.kernel.cgroups import remove_cgroup_dir, stale_cgroup_dirs
from testbed.kernel.nftables import delete_table, testbed_tables
from testbed.kernel.volumes import loop_devices_backed_by


def _mounts_of(device: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[0] == device]


def sweep_stale() -> list[str]:
    """Delete leftovers of dead runs; return what was removed (for logs and tests)."""
    removed: list[str] = []
    tmp = Path(tempfile.gettempdir())
    for device, backing in loop_devices_backed_by(str(tmp / naming.PREFIX)):
        run_dir = Path(backing).parent.name
        if naming.owner_alive(run_dir):
            continue
        for mnt in _mounts_of(device):
            subprocess.run(["umount", mnt], capture_output=True)
        for rule_file in ("blkio.throttle.write_bps_device",):
            path = Path("/sys/fs/cgroup/blkio") / rule_file
            if path.exists():
                st = os.stat(device)
                with contextlib.suppress(OSError):
                    path.write_text(f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)} 0")
        subprocess.run(["losetup", "--detach", device], capture_output=True)
        removed.append(device)
    for path in stale_cgroup_dirs():
        if naming.owner_alive(path.name):
            continue
        with contextlib.suppress(OSError):
            for pid in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        with contextlib.suppress(OSError):
            remove_cgroup_dir(path)
            removed.append(str(path))
    for table in testbed_tables():
        if not naming.owner_alive(table):
            delete_table(table)
            removed.append(f"nft inet {table}")
    for entry in tmp.glob(f"{naming.PREFIX}-*"):
        if entry.is_dir() and not naming.owner_alive(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed
