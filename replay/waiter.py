"""waitpid(-1, __WALL) with a deadline, for tracers that also keep timers.

A blocking waitpid when nothing is due; short WNOHANG polls while a thread is
held (delay injection, replay order) so the tracer can act when its time comes.
"""

from __future__ import annotations

import os
import time

from replay.ptrace_ops import WALL

SPIN = 200


def wait_stop(deadline: float | None) -> tuple[int, int] | None:
    """Next (tid, status), or None once `deadline` (time.monotonic) has passed."""
    if deadline is None:
        try:
            for _ in range(SPIN):  # the next stop usually comes within microseconds: staying
                got = os.waitpid(-1, WALL | os.WNOHANG)  # on the CPU saves a wake-up per stop
                if got[0]:
                    return got
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
