"""The ground truth of one scenario run: what was injected and what happened.

Every causal test and benchmark compares kprobe's verdict against this record,
so it holds only facts the testbed knows first-hand: the processes it started,
the faults it injected (with their culprit processes and start/end times), and
each payment's outcome as the payment-handler reported it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProcessInfo:
    """A process the testbed started: a service or a culprit."""

    role: str  # service name, or the culprit's role ("batch-job", "cpu-hog", ...)
    pid: int
    comm: str
    tid: int = 0  # a specific thread when the culprit is one (the lock holder)
    cpus: tuple[int, ...] = ()
    port: int = 0


@dataclass
class FaultTruth:
    """One injected fault as it really ran."""

    kind: str
    mechanism: str  # what the kernel should show: see testbed.faults.MECHANISMS
    target_service: str | None  # None for a distractor that hits no service
    target_pid: int
    target_comm: str
    intensity: dict[str, float]
    start_ns: int
    end_ns: int = 0
    culprits: list[ProcessInfo] = field(default_factory=list)
    distractor: bool = False
    predicts_failure: bool = False
    measured: dict[str, Any] = field(default_factory=dict)  # e.g. nft drop counter, OOM kills


@dataclass(frozen=True)
class PaymentOutcome:
    """One payment as the load generator sent it and the handler answered."""

    payment_id: str
    amount: float
    sent_ns: int
    done_ns: int
    status: str  # "succeeded" | "failed" | "error" (no answer from the handler)
    reason: str  # "", "timeout", "unreachable", ...
    stage: str  # the service that was being called when it failed
    latency_ms: float  # measured by the handler, from receipt to outcome
    trace_id: str
    named: bool = False


@dataclass
class GroundTruth:
    """Everything the run knows for certain; `to_dict()` is its JSON form."""

    run_id: str
    scenario: str
    timeout_ms: int
    started_ns: int
    ended_ns: int
    services: dict[str, ProcessInfo]
    faults: list[FaultTruth]
    payments: list[PaymentOutcome]
    named_payment_id: str
    expected_named_status: str

    @property
    def named(self) -> PaymentOutcome | None:
        return next((p for p in self.payments if p.named), None)

    @property
    def failed(self) -> list[PaymentOutcome]:
        return [p for p in self.payments if p.status != "succeeded"]

    @property
    def reproduced(self) -> bool:
        """Did the incident happen as injected? The payment kprobe is asked to explain
        (`focus_payment`) ended as the faults predict, by the handler's own answer. A
        fault that did not bite this time (the kernel decides how hard memory or CPU
        pressure hits) makes a run to repeat, not a verdict for kprobe to explain."""
        focus = self.focus_payment()
        if focus is None:
            return False
        return (focus.status != "succeeded") == (self.expected_named_status == "failed")

    def culprits(self) -> list[ProcessInfo]:
        return [c for f in self.faults for c in f.culprits]

    def focus_payment(self) -> PaymentOutcome | None:
        """The payment to explain: the named one if it failed, else the slowest failure
        or, with no failure, the slowest payment."""
        named = self.named
        if named is not None and named.status != "succeeded":
            return named
        pool = self.failed or self.payments
        return max(pool, key=lambda p: p.latency_ms, default=None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["named_payment"] = asdict(self.named) if self.named else None
        return out
