"""Per-type emission policy: which records become spans, metrics, or nothing.

Scheduler and fault events can reach millions per second; a causal analysis
needs far fewer. Thresholds that cut volume at the source (off-CPU minimum)
are applied in the kernel; the span/metric split is applied to numpy rows
before any Python object is built. Defaults keep what the causal engine uses:
syscalls, TCP I/O, retransmits, reclaim, off-CPU intervals >= 100 us with their
wakers; minor page faults (cheap, frequent) become per-process counters while
major faults (I/O inside a memory access) stay spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType

import numpy as np

from kprobe import events

SPAN, METRIC, DROP = "span", "metric", "drop"
MODES = (SPAN, METRIC, DROP)
_PAGE_FAULT = events.EventType["PageFault"].value

DEFAULT_MODES: Mapping[str, str] = MappingProxyType(
    {t: METRIC if t == "PageFault" else SPAN for t in events.EVENT_TYPE_NAMES}
)


@dataclass(frozen=True)
class Policy:
    modes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MODES))
    min_offcpu_ns: int = 100_000  # applied in the kernel to SchedSwitch and its SchedWakeup
    major_faults_as_spans: bool = True  # a major fault is a span even when PageFault is "metric"

    def __post_init__(self) -> None:
        for t, m in self.modes.items():
            if t not in events.EVENT_TYPE_NAMES:
                raise ValueError(f"unknown event type {t!r} in policy")
            if m not in MODES:
                raise ValueError(f"policy for {t} must be one of {MODES}, not {m!r}")

    def with_modes(self, **modes: str) -> Policy:
        """This policy with some types' modes changed, e.g. with_modes(PageFault="span")."""
        return replace(self, modes={**self.modes, **modes})

    def mode(self, event_type: str) -> str:
        return self.modes.get(event_type, DEFAULT_MODES[event_type])

    def kernel_types(self, types: Iterable[str]) -> list[str]:
        """The types the kernel must record (dropped ones are never attached)."""
        return [t for t in types if self.mode(t) != DROP]

    @cached_property
    def _codes(self) -> np.ndarray:
        """Mode per type number (0 drop, 1 span, 2 metric): one table lookup per row."""
        table = np.zeros(256, np.uint8)
        for t in events.EventType:
            table[t.value] = {DROP: 0, SPAN: 1, METRIC: 2}[self.mode(t.name)]
        return table

    def split(self, recs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks of the rows that become spans and of those aggregated into metrics."""
        codes = self._codes[recs["type"]]
        spans = codes == 1
        metric = codes == 2
        if self.major_faults_as_spans and self.mode("PageFault") == METRIC:
            major = (recs["type"] == _PAGE_FAULT) & (recs["flags"] == 1)
            spans |= major
            metric &= ~major
        return spans, metric


@dataclass
class Counter:
    count: int = 0
    duration_ns: int = 0


class Aggregates:
    """Cumulative per-process counters of the rows a policy turns into metrics."""

    def __init__(self) -> None:
        # (event_type name, pid, major) -> Counter; major is only meaningful for PageFault
        self.counters: dict[tuple[str, int, bool], Counter] = {}

    def add(self, recs: np.ndarray) -> None:
        if not len(recs):
            return
        is_fault = (recs["type"] == _PAGE_FAULT).astype(np.uint64)
        keys = (recs["type"].astype(np.uint64) << np.uint64(40)
                | (recs["flags"].astype(np.uint64) & is_fault) << np.uint64(32)
                | recs["pid"].astype(np.uint64))
        uniq, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse, minlength=len(uniq))
        durs = np.bincount(inverse, weights=recs["dur"].astype(np.float64), minlength=len(uniq))
        for key, n, d in zip(uniq.tolist(), counts.tolist(), durs.tolist(), strict=True):
            name = events.EventType(key >> 40).name
            c = self.counters.setdefault((name, key & 0xFFFFFFFF, bool(key >> 32 & 0xFF)), Counter())
            c.count += n
            c.duration_ns += int(d)
