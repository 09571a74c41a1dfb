"""Where a recording runs: the recorded tree on one CPU, the tracer on the others.

One thread of the tree runs at a time (the turn, replay/recorder.py), so the tree loses no
parallelism on a single CPU, and gains on it: a thread resumed after a stop finds its
caches where it left them, and the tracer, which spins on waitpid between stops, never
takes the CPU the tree needs (rr binds its tracees to one CPU for the same reasons). The
CPU is chosen at random among those allowed, as rr does, so that concurrent recordings
spread over the machine. The program is not told: its sched_getaffinity answers the CPUs it
was allowed before (the recorder writes them over the kernel's answer), so a pool sized by
them is the size it would have been; /proc/self/status does show the one CPU.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator


def split(allowed: set[int]) -> tuple[int, set[int]] | None:
    """(the tree's CPU, the tracer's CPUs), or None when there is only one CPU to share."""
    if len(allowed) < 2:
        return None
    cpu = random.choice(sorted(allowed))
    return cpu, allowed - {cpu}


def mask_bytes(allowed: set[int]) -> bytes:
    """`allowed` as the kernel's cpu_set_t bytes (whole 64-bit words, as sched_getaffinity
    returns them)."""
    words = max(allowed) // 64 + 1 if allowed else 1
    return sum(1 << c for c in allowed).to_bytes(8 * words, "little")


@contextlib.contextmanager
def tracer_on(cpus: set[int] | None) -> Iterator[None]:
    """Run the calling thread (the tracer) on `cpus` for the block, then as before."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
