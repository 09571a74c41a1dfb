"""Faults inside a service, driven through its admin hook (the management port).

lock-contention: settlement's compactor thread holds the ledger lock for hold_ms
every every_ms, so a ledger write blocks on the lock and is woken by the holder.
slow-dependency: risk-check sleeps delay_ms in user space; the kernel is innocent.
"""

from __future__ import annotations

import requests

from testbed.errors import TestbedError
from testbed.faults.base import Fault
from testbed.system import RISK_CHECK, SETTLEMENT
from testbed.truth import ProcessInfo


def _admin(url: str, body: dict[str, float]) -> dict[str, object]:
    r = requests.post(url, json=body, timeout=30)
    if r.status_code != 200:
        raise TestbedError(f"admin call {url} failed: HTTP {r.status_code} {r.text[:200]}")
    return dict(r.json())


class LockContention(Fault):
    kind = "lock-contention"
    mechanism = "lock-contention"
    default_target = SETTLEMENT
    defaults = {"hold_ms": 1200, "every_ms": 1500}  # noqa: RUF012
    incident_after_s = 0.1  # a payment arriving now waits for most of the first hold

    def inject(self) -> list[ProcessInfo]:
        if self.target != SETTLEMENT:
            raise TestbedError("lock-contention targets settlement-svc (the ledger lock)")
        answer = _admin(self.system.admin_url(SETTLEMENT, "/admin/ledger-lock"),
                        {"hold_ms": self.params["hold_ms"], "every_ms": self.params["every_ms"]})
        child = self.system.child(SETTLEMENT)
        return [ProcessInfo(role="lock-holder", pid=child.pid, tid=int(answer["tid"]),  # type: ignore[call-overload]
                            comm=str(answer["comm"]), cpus=tuple(self.system.cpus_of(SETTLEMENT)))]

    def remove(self) -> None:
        if SETTLEMENT in self.system.children:
            _admin(self.system.admin_url(SETTLEMENT, "/admin/ledger-lock"), {"hold_ms": 0})

    def predicts_failure(self, timeout_ms: int) -> bool:
        return self.params["hold_ms"] - self.incident_after_s * 1000 > timeout_ms


class SlowDependency(Fault):
    kind = "slow-dependency"
    mechanism = "downstream-latency"
    default_target = RISK_CHECK
    defaults = {"delay_ms": 900}  # noqa: RUF012
    incident_after_s = 0.1

    def inject(self) -> list[ProcessInfo]:
        if self.target != RISK_CHECK:
            raise TestbedError("slow-dependency targets risk-check")
        _admin(self.system.admin_url(RISK_CHECK, "/admin/delay"), {"delay_ms": self.params["delay_ms"]})
        return []

    def remove(self) -> None:
        if RISK_CHECK in self.system.children:
            _admin(self.system.admin_url(RISK_CHECK, "/admin/delay"), {"delay_ms": 0})

    def predicts_failure(self, timeout_ms: int) -> bool:
        return self.params["delay_ms"] > timeout_ms
