"""A memory cgroup shared by settlement and the batch job, on cgroup v1 or v2.

On v1 (this machine: the memory controller is a v1 hierarchy) the cgroup is
created under the runner's own memory cgroup, so it nests inside whatever limits
the runner already has. On v2 it is created under the runner's cgroup when that
cgroup delegates `memory`, else at the root. The limit is what turns the batch
job's page cache into reclaim in settlement's allocations.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")


def cgroup_version() -> int:
    """1 when the memory controller is mounted as cgroup v1, else 2."""
    if (V1_ROOT / "memory.limit_in_bytes").exists():
        return 1
    controllers = V2_ROOT / "cgroup.controllers"
    if controllers.exists() and "memory" in controllers.read_text().split():
        return 2
    raise OSError("no memory cgroup controller found (neither /sys/fs/cgroup/memory nor cgroup v2)")


def _own_cgroup(controller: str | None) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if (controller is None and ctrls == "") or (controller and controller in ctrls.split(",")):
            return path
    return "/"


class MemoryCgroup:
    """One memory cgroup directory with the few knobs the testbed turns."""

    def __init__(self, name: str) -> None:
        self.version = cgroup_version()
        if self.version == 1:
            self.path = V1_ROOT / _own_cgroup("memory").lstrip("/") / name
        else:
            parent = V2_ROOT / _own_cgroup(None).lstrip("/")
            subtree = parent / "cgroup.subtree_control"
            if not (subtree.exists() and "memory" in subtree.read_text().split()):
                parent = V2_ROOT
            self.path = parent / name
        self.path.mkdir()

    @property
    def procs_file(self) -> str:
        return str(self.path / "cgroup.procs")

    def usage_bytes(self) -> int:
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return int((self.path / name).read_text())

    def set_limit(self, limit_bytes: int | None) -> None:
        """Set the hard limit; None removes it."""
        if self.version == 1:
            value = "-1" if limit_bytes is None else str(limit_bytes)
            (self.path / "memory.limit_in_bytes").write_text(value)
        else:
            (self.path / "memory.max").write_text("max" if limit_bytes is None else str(limit_bytes))

    def reclaim(self) -> None:
        """Reclaim all the cgroup holds that can be reclaimed (clean page cache,
        slab); without swap, anonymous memory stays. What a service read at start-up
        is charged here, and how much of it there is depends on what the host had
        cached: reclaimed first, it cannot differ between runs."""
        if self.version == 1:
            (self.path / "memory.force_empty").write_text("0")
            return
        # EAGAIN: less was reclaimable than asked for, as expected
        with contextlib.suppress(BlockingIOError):
            (self.path / "memory.reclaim").write_text(str(self.usage_bytes()))

    def stat(self) -> dict[str, int]:
        return self._counters("memory.stat")

    def _counters(self, name: str) -> dict[str, int]:
        """A "key value" per line file (memory.events, memory.oom_control, memory.stat)."""
        out = {}
        for line in (self.path / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            out[key] = int(value)
        return out

    def limit_hits(self) -> int:
        """How many times a charge met the limit (and had to reclaim first)."""
        if self.version == 1:
            return int((self.path / "memory.failcnt").read_text())
        return self._counters("memory.events").get("max", 0)

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return self._counters(name).get("oom_kill", 0)

    def pids(self) -> list[int]:
        return [int(p) for p in Path(self.procs_file).read_text().split()]

    def remove(self, timeout_s: float = 5.0) -> None:
        """rmdir once the last task has left (exiting tasks linger a moment)."""
        remove_cgroup_dir(self.path, timeout_s)


def remove_cgroup_dir(path: Path, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def stale_cgroup_dirs() -> list[Path]:
    """Testbed cgroup directories anywhere under the memory hierarchy root."""
    root = V1_ROOT if (V1_ROOT / "memory.limit_in_bytes").exists() else V2_ROOT
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            if d.startswith("kprobe-testbed-"):
                found.append(Path(dirpath) / d)
        dirnames[:] = [d for d in dirnames if not d.startswith("kprobe-testbed-")]
    return found
