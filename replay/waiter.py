"""waitpid(-1, __WALL) with a deadline, for tracers that also keep timers.

A blocking waitpid when nothing is due; short WNOHANG polls while a thread is
held (delay injection, replay order) so the tracer can act when its time comes.
"""

from __future__ import annotations

import os
import time

from replay.ptrace_ops import WALL


def wait_stop(deadline: float | None) -> tuple[int, int] | None:
    """Next (tid, status), or None once `deadline` (time.monotonic) has passed."""
    if deadline is None:
        try:
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
