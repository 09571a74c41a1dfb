"""Process-level setup every testbed process does first, before heavy imports.

Joining the cgroup and pinning the CPU happen inside the process (not from the
parent with preexec_fn) so every page the service ever touches is charged to its
cgroup; the parent-death signal makes an orphaned service exit with its runner.
"""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)


def set_comm(name: str) -> None:
    """Name the calling thread (and threads it creates later) as the kernel sees it."""
    _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def die_with_parent() -> None:
    """SIGTERM this process when the runner that started it dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        os.kill(os.getpid(), signal.SIGTERM)


def apply_placement(cgroup_procs: str | None, cpus: str | None) -> None:
    """Join a cgroup (its cgroup.procs file) and pin to a CPU list like "1" or "0,1"."""
    if cgroup_procs:
        with open(cgroup_procs, "w") as f:
            f.write(str(os.getpid()))
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def setup_from_env(comm: str) -> None:
    """The standard start of a testbed process, configured by TESTBED_* variables."""
    apply_placement(os.environ.get("TESTBED_CGROUP_PROCS"), os.environ.get("TESTBED_CPUS"))
    set_comm(comm)  # after placement: every event under this name is on the right CPUs
    die_with_parent()
