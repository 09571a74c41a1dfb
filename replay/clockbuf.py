"""The recorder's side of the clock buffer (replay/preload/kprobe_clock.c).

The preloaded library answers clock_gettime without a ptrace stop (a syscall from a page
the seccomp filter lets through) and appends each answer to a ring in the program's memory.
The recorder takes the new entries at the thread's next stop, through /proc/PID/mem, and
stores them as the clock_gettime events a fully traced run would have had, so replay needs
nothing new. Per process it remembers how many entries it has taken: a forked child starts
where its parent was, an exec'd image from zero.
"""

from __future__ import annotations

import struct
from pathlib import Path

from replay.ptrace_ops import Memory

PAGE_ADDR = 0x70000000  # the library's syscall page: the filter's exemption (seccomp.py)
RING_ADDR = 0x70001000
MAGIC = 0x6B70636C6F636B31
_HEADER = struct.Struct("<QQQQ")  # magic, written, capacity, entry size
_ENTRY = struct.Struct("<qQqqq")  # clock, timespec pointer, seconds, nanoseconds, return value

Read = tuple[int, int, int, int, int]


class ClockBufferError(RuntimeError):
    """The ring lost reads the recorder had not taken (it cannot happen with the library's
    periodic flush; if it does, the recording would not replay)."""


def library_path() -> str | None:
    """The built library (`make setup` compiles it), or None: record without it."""
    path = Path(__file__).parent / "preload" / "libkprobe_clock.so"
    return str(path) if path.is_file() else None


class ClockRings:
    """Takes each process's new ring entries, in order, exactly once."""

    def __init__(self, mem: Memory) -> None:
        self.mem = mem
        self.taken: dict[int, int] = {}

    def take(self, tgid: int) -> list[Read]:
        try:
            magic, written, capacity, size = _HEADER.unpack(self.mem.read(tgid, RING_ADDR, _HEADER.size))
        except (OSError, struct.error):
            return []  # no ring: the library is not loaded in this process
        taken = self.taken.get(tgid, 0)
        if magic != MAGIC or size != _ENTRY.size or written <= taken:
            return []
        if written - taken > capacity:
            raise ClockBufferError(f"process {tgid}: {written - taken - capacity} clock reads lost")
        out: list[Read] = []
        first, n = taken % capacity, written - taken
        while n:
            k = min(n, capacity - first)
            raw = self.mem.read(tgid, RING_ADDR + _HEADER.size + first * size, k * size)
            out.extend(_ENTRY.iter_unpack(raw))  # type: ignore[arg-type]
            n -= k
            first = 0
        self.taken[tgid] = written
        return out

    def forked(self, parent: int, child: int) -> None:
        self.taken[child] = self.taken.get(parent, 0)

    def exec(self, tgid: int) -> None:
        self.taken[tgid] = 0
