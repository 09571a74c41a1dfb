"""Futexes kept by the tracer, for fuzzed replays (a seeded scheduler decides who runs).

A fuzzed replay changes which thread runs when, so the recorded futex results no longer
fit: the tracer then plays the kernel's part itself. A wait whose word still holds the
expected value blocks the thread here (stopped at its entry); a wake releases waiters in
the order they came; a timed wait times out only when no thread can run (logical time).
Which released thread runs next is the scheduler's choice, never the kernel's, so a seed
gives the same interleaving every time.
"""

from __future__ import annotations

from dataclasses import dataclass

WAIT, WAKE, WAIT_BITSET, WAKE_BITSET = 0, 1, 9, 10
MODELLED = frozenset((WAIT, WAKE, WAIT_BITSET, WAKE_BITSET))
ALL_BITS = 0xFFFFFFFF
EAGAIN, ETIMEDOUT = 11, 110
CLONE_CHILD_CLEARTID = 0x200000


@dataclass
class Waiter:
    tid: int
    key: tuple[int, int]  # (thread group, address): private futexes of one process
    bits: int
    timed: bool


class FutexTable:
    """The waiters of every futex of the tree, in arrival order."""

    def __init__(self) -> None:
        self.waiters: list[Waiter] = []

    def wait(self, tid: int, key: tuple[int, int], bits: int, timed: bool) -> None:
        self.waiters.append(Waiter(tid, key, bits or ALL_BITS, timed))

    def wake(self, key: tuple[int, int], count: int, bits: int = ALL_BITS) -> list[int]:
        """Release up to `count` waiters of `key` whose bitset overlaps `bits`."""
        woken: list[Waiter] = []
        for w in self.waiters:
            if len(woken) >= count:
                break
            if w.key == key and w.bits & bits:
                woken.append(w)
        for w in woken:
            self.waiters.remove(w)
        return [w.tid for w in woken]

    def expire(self) -> tuple[int, int] | None:
        """Nobody can run: the first timed waiter times out; failing that the first
        waiter wakes spuriously (0), which futex users must tolerate. (tid, result)."""
        for w in self.waiters:
            if w.timed:
                self.waiters.remove(w)
                return w.tid, -ETIMEDOUT
        if self.waiters:
            return self.waiters.pop(0).tid, 0
        return None

    def drop(self, tid: int) -> None:
        self.waiters = [w for w in self.waiters if w.tid != tid]
