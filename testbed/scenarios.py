"""The named scenarios: the seeds' story, one per fault, distractors, combinations."""

from __future__ import annotations

from dataclasses import dataclass, field

from testbed.errors import TestbedError
from testbed.faults.spec import FaultSpec


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario: its faults, how long the load runs, and the named payment."""

    name: str
    faults: tuple[FaultSpec, ...] = ()
    duration_s: float = 3.0  # load duration; stretched to cover the named payment's deadline
    rate_per_s: float = 8.0
    named_payment_id: str = "pay-98721"
    named_amount: float = 50000.0
    named_at_s: float | None = None  # None: when the last fault reaches full strength
    params: dict[str, float] = field(default_factory=dict)


# one ordinary-priority hog on core 0: settlement runs on the last core, so this hog
# only slows the other services a little (on a 2-core machine they share core 0)
_DISTRACTOR = {"cpu": 0, "hogs": 1, "nice": 0}

_CATALOG: dict[str, tuple[FaultSpec, ...]] = {
    "none": (),
    "memory-pressure": (FaultSpec("memory-pressure"),),
    "cpu-contention": (FaultSpec("cpu-contention"),),
    "disk-stall": (FaultSpec("disk-stall"),),
    "packet-loss": (FaultSpec("packet-loss"),),
    "lock-contention": (FaultSpec("lock-contention"),),
    "slow-dependency": (FaultSpec("slow-dependency"),),
    # a hog on a core settlement does not use: payments succeed, nothing to blame
    "cpu-distractor": (FaultSpec("cpu-contention", params=dict(_DISTRACTOR)),),
    # the seeds' story with a distractor hog beside it
    "memory-pressure+distractor": (
        FaultSpec("memory-pressure"), FaultSpec("cpu-contention", params=dict(_DISTRACTOR))),
    "memory-pressure+slow-dependency": (
        FaultSpec("memory-pressure"), FaultSpec("slow-dependency", params={"delay_ms": 300})),
}
SCENARIOS: tuple[str, ...] = tuple(_CATALOG)
# Under memory pressure every settlement request stalls for about a second, so
# the seeds' story runs at 2:47 am traffic: fewer requests queue behind it, and
# the named payment's own ledger write is the one that meets the reclaim.
_NIGHT: dict[str, object] = {"rate_per_s": 2.0}
_SETTINGS: dict[str, dict[str, object]] = {
    "memory-pressure": _NIGHT,
    "memory-pressure+distractor": _NIGHT,
    "memory-pressure+slow-dependency": _NIGHT,
}


def scenario(name: str, extra_faults: tuple[FaultSpec, ...] = (), **overrides: object) -> ScenarioSpec:
    """The catalog scenario `name` (or "custom" with only `extra_faults`), plus extra faults."""
    if name == "custom":
        base: tuple[FaultSpec, ...] = ()
    elif name in _CATALOG:
        base = _CATALOG[name]
    else:
        raise TestbedError(f"unknown scenario {name!r}; expected one of {', '.join(SCENARIOS)}, custom")
    settings: dict[str, object] = dict(_SETTINGS.get(name, {}))
    settings.update(overrides)
    return ScenarioSpec(name=name, faults=base + tuple(extra_faults), **settings)  # type: ignore[arg-type]
