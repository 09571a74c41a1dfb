"""FaultSpec: a fault as the user names it (`KIND:key=value,...`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from testbed.errors import TestbedError

KINDS = ("memory-pressure", "cpu-contention", "disk-stall", "packet-loss", "lock-contention",
         "slow-dependency")


@dataclass(frozen=True)
class FaultSpec:
    """What to inject, where, how hard and when (seconds after the load starts)."""

    kind: str
    target: str | None = None  # a service name; None: the fault's default target
    start_s: float = 0.5
    params: dict[str, float] = field(default_factory=dict)  # intensity knobs, per kind

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TestbedError(f"unknown fault {self.kind!r}; expected one of {', '.join(KINDS)}")


def parse_fault(text: str) -> FaultSpec:
    """`memory-pressure:writers=4,start=0.3` or `cpu-contention:cpu=0` -> FaultSpec."""
    kind, _, rest = text.partition(":")
    target: str | None = None
    start_s = 0.5
    params: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise TestbedError(f"fault option {item!r} is not key=value (in {text!r})")
        if key == "target":
            target = value
            continue
        try:
            number = float(value)
        except ValueError:
            raise TestbedError(f"fault option {key}={value!r} is not a number (in {text!r})") from None
        if key == "start":
            start_s = number
        else:
            params[key] = number
    return FaultSpec(kind.strip(), target, start_s, params)
