"""The shape every fault has: defaults, a target, start/stop, and its ground truth."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import ClassVar

from testbed.errors import TestbedError
from testbed.faults.spec import FaultSpec
from testbed.system import PaymentSystem
from testbed.truth import FaultTruth, ProcessInfo


class Fault(ABC):
    """One injected fault. Subclasses set the class constants and start/stop it."""

    kind: ClassVar[str]
    mechanism: ClassVar[str]  # the kernel (or app) mechanism a correct verdict names
    default_target: ClassVar[str]
    defaults: ClassVar[dict[str, float]]
    incident_after_s: ClassVar[float] = 0.5  # when, after start, the fault is at full strength
    # faults go in this order (lowest first): the network and the CPU are
    # freed before the admin hooks, which need settlement to answer
    removal_order: ClassVar[int] = 5

    @classmethod
    def check_options(cls, spec: FaultSpec) -> None:
        unknown = set(spec.params) - set(cls.defaults)
        if unknown:
            raise TestbedError(
                f"{cls.kind} has no option {', '.join(sorted(unknown))}; "
                f"options: {', '.join(sorted(cls.defaults))}, target, start"
            )

    def __init__(self, spec: FaultSpec, system: PaymentSystem) -> None:
        self.check_options(spec)
        self.spec = spec
        self.system = system
        self.params = {**self.defaults, **spec.params}
        self.target = spec.target or self.default_target
        if self.target not in system.children:
            raise TestbedError(f"{self.kind}: no service {self.target!r} to target")
        self.truth: FaultTruth | None = None

    def start(self) -> FaultTruth:
        target = self.system.child(self.target)
        self.truth = FaultTruth(
            kind=self.kind,
            mechanism=self.mechanism,
            target_service=self.target,
            target_pid=target.pid,
            target_comm=self.target[:15],
            intensity=dict(self.params),
            start_ns=time.time_ns(),
            predicts_failure=self.predicts_failure(self.system.config.timeout_ms),
        )
        culprits = self.inject()
        self.truth.culprits.extend(culprits)
        self.system.culprit_pids.update(c.pid for c in culprits)
        return self.truth

    def stop(self) -> None:
        if self.truth is None:
            return
        try:
            self.remove()
        finally:
            self.truth.end_ns = time.time_ns()

    @abstractmethod
    def inject(self) -> list[ProcessInfo]:
        """Cause the fault for real; return the culprit processes it started or used."""

    @abstractmethod
    def remove(self) -> None:
        """Undo inject completely (idempotent)."""

    @abstractmethod
    def predicts_failure(self, timeout_ms: int) -> bool:
        """Whether a payment caught in the fault is expected to miss the deadline."""
