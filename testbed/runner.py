"""The scenario runner: the API every causal test, accuracy test and bench calls.

    with Testbed(SystemConfig(otlp_endpoint="localhost:4317")) as tb:
        truth = tb.run(scenario("memory-pressure"))

A Testbed keeps the payment system up across runs (starting it costs ~2 s); each
`run` starts the load, injects the faults at their start times, sends the named
payment when the faults are at full strength, waits for every payment to finish,
removes the faults and returns the GroundTruth. `run_scenario` is the one-shot
form. Faults are always removed, also on errors and Ctrl-C.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from testbed.errors import TestbedError
from testbed.faults import Fault, build_fault
from testbed.load import LoadGenerator
from testbed.scenarios import ScenarioSpec, scenario
from testbed.system import PAYMENT_HANDLER, PaymentSystem, SystemConfig
from testbed.truth import GroundTruth

StartedHook = Callable[[PaymentSystem], None]


class Testbed:
    """A running payment system that runs scenarios on demand."""

    __test__ = False  # not a pytest test class

    def __init__(self, config: SystemConfig | None = None) -> None:
        self.system = PaymentSystem(config)
        self._runs = 0

    def __enter__(self) -> Testbed:
        self.system.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.system.close()

    def run(self, spec: ScenarioSpec | str) -> GroundTruth:
        """Run one scenario on the live system and return what really happened."""
        if isinstance(spec, str):
            spec = scenario(spec)
        self._runs += 1
        system = self.system
        run_id = f"{system.tag}-{self._runs}"
        faults = [build_fault(f, system) for f in spec.faults]
        named_at = spec.named_at_s
        if named_at is None:
            named_at = max((f.spec.start_s + f.incident_after_s for f in faults), default=0.5)
        timeout_s = system.config.timeout_ms / 1000
        duration = max(spec.duration_s, named_at + timeout_s + 0.5)
        load = LoadGenerator(system.url(PAYMENT_HANDLER, "/payments"), spec.rate_per_s,
                             id_prefix=f"pay-{run_id}")
        started_ns = time.time_ns()
        t0 = time.monotonic()
        injected: list[Fault] = []
        events = sorted([(f.spec.start_s, i) for i, f in enumerate(faults)] + [(named_at, -1)])
        system.empty_ledger()
        try:
            load.start()
            for at, index in events:
                _sleep_until(t0 + at)
                if index < 0:
                    load.submit(spec.named_payment_id, spec.named_amount, named=True)
                else:
                    injected.append(faults[index])
                    faults[index].start()
            _sleep_until(t0 + duration)
        finally:
            try:
                payments = load.stop()  # in-flight payments finish under the faults
            finally:
                _remove(injected)
        truths = [f.truth for f in injected if f.truth is not None]
        expected = "failed" if any(t.predicts_failure for t in truths) else "succeeded"
        return GroundTruth(
            run_id=run_id,
            scenario=spec.name,
            timeout_ms=system.config.timeout_ms,
            started_ns=started_ns,
            ended_ns=time.time_ns(),
            services=system.service_info(),
            faults=truths,
            payments=payments,
            named_payment_id=spec.named_payment_id,
            expected_named_status=expected,
        )


def run_scenario(spec: ScenarioSpec | str, config: SystemConfig | None = None,
                 on_started: StartedHook | None = None) -> GroundTruth:
    """Start the system, run one scenario, tear everything down.

    `on_started` is called once the services are up and before any traffic, e.g.
    to point a capture at their pids.
    """
    with Testbed(config) as tb:
        if on_started is not None:
            on_started(tb.system)
        return tb.run(spec)


def _remove(faults: list[Fault]) -> None:
    """Remove every fault, network and CPU first, even if one of them fails."""
    errors = []
    for fault in sorted(faults, key=lambda f: f.removal_order):
        try:
            fault.stop()
        except Exception as e:
            errors.append(f"{fault.kind}: {e}")
    if errors:
        raise TestbedError("could not remove faults: " + "; ".join(errors))


def _sleep_until(deadline: float) -> None:
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)
