"""The one seam between the demo and the causal engine.

`engine_verdict(store, transaction_id)` is the only place the testbed calls the
engine (causal_processor.causal.explain on the processor's store); everything
else in the demo works from the ground truth and the captured events, so a
change of engine API touches this file only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testbed.truth import FaultTruth, GroundTruth


@dataclass
class Verdict:
    """The engine's answer for one transaction, in the shape the demo reports."""

    transaction_id: str
    status: str
    mechanism: str
    culprit: dict[str, Any] | None  # {"pid", "comm", "service"}
    contribution_ns: int
    story: list[str]
    explanation: dict[str, Any]  # the engine's full JSON (without the graph)


def engine_verdict(store: Any, transaction_id: str) -> Verdict:
    """Explain one transaction with the causal engine, reading the processor's store."""
    from causal_processor.causal import explain
    from causal_processor.causal.store_source import StoreSource

    x = explain(StoreSource(store), transaction_id)
    rc = x.root_cause.to_dict()
    return Verdict(
        transaction_id=x.transaction_id,
        status=x.status,
        mechanism=rc["mechanism"],
        culprit=rc["culprit"],
        contribution_ns=int(rc["contribution_ns"]),
        story=list(x.story),
        explanation=x.to_dict(with_graph=False),
    )


def injected_cause(truth: GroundTruth) -> FaultTruth | None:
    """The fault the verdict should name: the first non-distractor that predicts a failure."""
    real = [f for f in truth.faults if not f.distractor]
    return next((f for f in real if f.predicts_failure), real[0] if real else None)


def agreement(truth: GroundTruth, verdict: Verdict) -> dict[str, bool | None]:
    """Does the verdict name the injected mechanism and one of its culprit processes?"""
    fault = injected_cause(truth)
    if fault is None:
        return {"mechanism": verdict.mechanism == "none", "culprit": verdict.culprit is None}
    culprit_pids = {c.pid for c in fault.culprits}
    culprit_ok: bool | None = None
    if culprit_pids:
        culprit_ok = bool(verdict.culprit) and verdict.culprit["pid"] in culprit_pids  # type: ignore[index]
    return {"mechanism": verdict.mechanism == fault.mechanism, "culprit": culprit_ok}
