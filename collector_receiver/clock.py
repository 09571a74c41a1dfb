"""CLOCK_MONOTONIC (what bpf_ktime_get_ns returns) to Unix time, converted once.

The offset REALTIME - MONOTONIC is measured by reading REALTIME between two
MONOTONIC reads, many times, and keeping the tightest bracket: its midpoint is
the monotonic instant of the realtime read, off by at most half the bracket
(typically < 50 ns). Every record of a capture uses the same offset, so
intervals stay exact even if NTP steps the wall clock during the capture.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockOffset:
    offset_ns: int  # add to a CLOCK_MONOTONIC ns value to get Unix ns
    uncertainty_ns: int  # half the tightest bracket

    def to_unix(self, monotonic_ns: int) -> int:
        return monotonic_ns + self.offset_ns


def measure(samples: int = 200) -> ClockOffset:
    """Measure REALTIME - MONOTONIC with the tightest of `samples` bracketed reads."""
    mono, real = time.CLOCK_MONOTONIC, time.CLOCK_REALTIME
    get = time.clock_gettime_ns
    best_width, best_offset = None, 0
    for _ in range(samples):
        m1 = get(mono)
        r = get(real)
        m2 = get(mono)
        width = m2 - m1
        if best_width is None or width < best_width:
            best_width, best_offset = width, r - (m1 + m2) // 2
    assert best_width is not None
    return ClockOffset(best_offset, best_width // 2)
