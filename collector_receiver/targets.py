"""What to trace, turned into the kernel filter's configuration.

--pid and `-- COMMAND` fill a map of traced tgids (children are added by the
sched_process_fork program); --comm fills a map of thread names; --cgroup
on a cgroup v2 directory compares the task's ancestor cgroup id at that
directory's level in the kernel. A cgroup v1 directory (hybrid hosts) has no
id the BPF helpers can see, so its member processes at start are traced by
pid, with their children.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collector_receiver.errors import CaptureError

MODE_OFF, MODE_ALL, MODE_PIDS, MODE_COMM, MODE_CGROUP = 0, 1, 2, 3, 4
MODES = {"OFF": MODE_OFF, "ALL": MODE_ALL, "PIDS": MODE_PIDS, "COMM": MODE_COMM,
         "CGROUP": MODE_CGROUP}


def c_definitions() -> str:
    """The filter modes as C defines for the programs (this module is their one definition)."""
    return "".join(f"#define KP_MODE_{name} {value}\n" for name, value in MODES.items())


@dataclass
class Target:
    mode: int
    pids: list[int] = field(default_factory=list)
    comms: list[str] = field(default_factory=list)
    cgroup_id: int = 0
    cgroup_level: int = 0
    follow: bool = False


def cgroup2_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    out = []
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[:1] == ["cgroup2"]:
            out.append(Path(left.split()[4]))
    return out


def cgroup_target(path: str) -> Target:
    p = Path(path).resolve()
    if not p.is_dir():
        raise CaptureError(f"cgroup {path} does not exist (give a directory under /sys/fs/cgroup)")
    for mount in sorted(cgroup2_mounts(), key=lambda m: len(m.parts), reverse=True):
        if p == mount or mount in p.parents:
            level = len(p.parts) - len(mount.parts)
            return Target(MODE_CGROUP, cgroup_id=os.stat(p).st_ino, cgroup_level=level)
    procs = p / "cgroup.procs"
    if not procs.exists():
        raise CaptureError(f"{path} is not a cgroup directory (no cgroup.procs)")
    pids = [int(x) for x in procs.read_text().split()]
    return Target(MODE_PIDS, pids=pids, follow=True)


def make_target(
    pids: Sequence[int] = (),
    comms: Sequence[str] = (),
    cgroup: str | None = None,
    command: Sequence[str] | None = None,
    follow_children: bool = True,
) -> Target:
    chosen = sum(bool(x) for x in (pids, comms, cgroup, command))
    if chosen > 1:
        raise CaptureError("choose one target: pids, comms, cgroup or a command")
    if command:
        return Target(MODE_PIDS, follow=True)  # the pid is added once the command is started
    if pids:
        for pid in pids:
            if not Path(f"/proc/{pid}").exists():
                raise CaptureError(f"no process {pid} (check the pid with `ps -p {pid}`)")
        return Target(MODE_PIDS, pids=list(pids), follow=follow_children)
    if comms:
        return Target(MODE_COMM, comms=[c[:15] for c in comms])
    if cgroup:
        return cgroup_target(cgroup)
    return Target(MODE_ALL)
