"""The payment testbed: a real payment system with real kernel faults.

It is kprobe's demo and the ground truth of every causal test. The public API:

- `Testbed(config)` (context manager) and `Testbed.run(spec) -> GroundTruth`
- `run_scenario(spec, config=None, on_started=None) -> GroundTruth`
- `scenario(name, extra_faults=(), **overrides) -> ScenarioSpec`, `SCENARIOS`
- `FaultSpec`, `parse_fault("kind:key=value,...")`, `MECHANISMS`
- `SystemConfig` (timeout, OTLP endpoint), `GroundTruth` and its parts

Attributes load lazily so `python -m testbed.culprits` starts in milliseconds.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Testbed": "testbed.runner",
    "run_scenario": "testbed.runner",
    "scenario": "testbed.scenarios",
    "ScenarioSpec": "testbed.scenarios",
    "SCENARIOS": "testbed.scenarios",
    "FaultSpec": "testbed.faults.spec",
    "parse_fault": "testbed.faults.spec",
    "MECHANISMS": "testbed.faults",
    "SystemConfig": "testbed.system",
    "PaymentSystem": "testbed.system",
    "GroundTruth": "testbed.truth",
    "FaultTruth": "testbed.truth",
    "PaymentOutcome": "testbed.truth",
    "ProcessInfo": "testbed.truth",
    "TestbedError": "testbed.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'testbed' has no attribute {name!r}")
