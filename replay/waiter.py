"""waitpid(-1, __WALL) with a deadline, for tracers that also keep timers.

A short spin of WNOHANG polls first (the next stop usually comes within microseconds), then
a blocking waitpid when nothing is due, or polls with growing sleeps while a thread is held
(delay injection, replay order, a turn to check) so the tracer can act when its time comes.
"""

from __future__ import annotations

import os
import time

from replay.ptrace_ops import WALL

# ~1 us a poll: about a millisecond on the CPU before sleeping in waitpid. With the tree on a
# CPU of its own (replay/cpus.py) the spin takes nothing from it; settlement-svc, 30 payments,
# median of rounds' ratios to native, two interleaved runs: 200 polls 1.55/1.66, 1,000
# polls 1.45/1.45, 3,000 polls 1.65, 50 polls 1.67.
SPIN = 1000


def wait_stop(deadline: float | None) -> tuple[int, int] | None:
    """Next (tid, status), or None once `deadline` (time.monotonic) has passed."""
    try:
        for _ in range(SPIN):  # the next stop usually comes within microseconds: staying
            got = os.waitpid(-1, WALL | os.WNOHANG)  # on the CPU saves a wake-up per stop
            if got[0]:
                return got
        if deadline is None:
            return os.waitpid(-1, WALL)
    except ChildProcessError:
        return None
    pause = 0.00005
    while True:
        try:
            tid, status = os.waitpid(-1, WALL | os.WNOHANG)
        except ChildProcessError:
            return None
        if tid:
            return tid, status
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.002)
