"""cpu-contention: CPU hogs on one core, at high priority.

On settlement's core they queue its threads behind them (run-queue delay); on
any other core they are a distractor that must not be blamed. `cpu=-1` means the
target's core; `nice` is the hogs' niceness (a batch job started with a higher
priority than the services).
"""

from __future__ import annotations

from testbed.faults.base import Fault
from testbed.procs import Child, child_env
from testbed.system import SETTLEMENT
from testbed.truth import ProcessInfo


class CpuContention(Fault):
    kind = "cpu-contention"
    mechanism = "cpu-contention"
    default_target = SETTLEMENT
    defaults = {"hogs": 3, "nice": -20, "cpu": -1}  # noqa: RUF012
    incident_after_s = 0.3
    removal_order = 1

    def _cpu(self) -> int:
        cpu = int(self.params["cpu"])
        return self.system.cpus_of(self.target)[0] if cpu < 0 else cpu

    @property
    def is_distractor(self) -> bool:
        return self._cpu() not in self.system.cpus_of(self.target)

    def inject(self) -> list[ProcessInfo]:
        cpu = self._cpu()
        self._hogs = [
            Child("cpu-hog", ["-m", "testbed.culprits", "cpu-hog", "--cpu", str(cpu),
                              "--nice", str(int(self.params["nice"]))],
                  child_env({}), self.system.workdir / f"cpu-hog-{i}.log")
            for i in range(int(self.params["hogs"]))
        ]
        for hog in self._hogs:
            hog.wait_ready()
        assert self.truth is not None
        if self.is_distractor:
            self.truth.distractor = True
            self.truth.target_service = None
            self.truth.target_pid = 0
            self.truth.target_comm = ""
            self.truth.predicts_failure = False
        self.truth.measured["cpu"] = cpu
        return [ProcessInfo(role="cpu-hog", pid=h.pid, comm="cpu-hog", cpus=(cpu,))
                for h in self._hogs]

    def remove(self) -> None:
        for hog in getattr(self, "_hogs", []):
            hog.stop(grace_s=1.0)
        self._hogs = []

    def predicts_failure(self, timeout_ms: int) -> bool:
        return not self.is_distractor
