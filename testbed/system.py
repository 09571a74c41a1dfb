"""The payment system: three services and the batch job, their disks and cgroup.

Layout (what the faults rely on):
- settlement-svc is pinned to the last CPU; the other processes to the rest, so a
  hog on settlement's CPU delays only settlement and a hog elsewhere is a distractor.
- settlement-svc and batch-job share one memory cgroup (the "ledger pool"), no
  limit until memory-pressure sets one.
- the ledger lives on its own loop volume; the batch export on another.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from testbed.errors import TestbedError, require_root
from testbed.kernel import naming
from testbed.kernel.cgroups import MemoryCgroup
from testbed.kernel.volumes import LoopVolume
from testbed.procs import Child, child_env
from testbed.truth import ProcessInfo

PAYMENT_HANDLER = "payment-handler"
RISK_CHECK = "risk-check"
SETTLEMENT = "settlement-svc"
BATCH_JOB = "batch-job"
SERVICES = (PAYMENT_HANDLER, RISK_CHECK, SETTLEMENT, BATCH_JOB)
# every comm the testbed's processes and culprits run under: a capture by comm sees
# the whole incident (services, batch job, hogs, disk writer, the lock holder thread)
CAPTURE_COMMS = (PAYMENT_HANDLER, RISK_CHECK, SETTLEMENT, BATCH_JOB, "cpu-hog", "disk-writer",
                 "ledger-compact")
_MODULES = {
    PAYMENT_HANDLER: "testbed.services.payment_handler",
    RISK_CHECK: "testbed.services.risk_check",
    SETTLEMENT: "testbed.services.settlement",
    BATCH_JOB: "testbed.services.batch_job",
}


@dataclass
class SystemConfig:
    """How to run the system; the defaults are the seeds' incident."""

    timeout_ms: int = 750
    ledger_block_bytes: int = 256 * 1024
    otlp_endpoint: str | None = None  # None: keep the caller's OTEL_* env, else no export
    otlp_protocol: str = "grpc"
    export_delay_ms: int = 200  # BatchSpanProcessor delay: spans reach the collector fast
    extra_env: dict[str, str] = field(default_factory=dict)


class PaymentSystem:
    """Starts the system on enter, removes every trace of it on exit."""

    def __init__(self, config: SystemConfig | None = None) -> None:
        self.config = config or SystemConfig()
        self.tag = naming.new_run_tag()
        self.name = naming.run_name(self.tag)
        self.children: dict[str, Child] = {}
        self.culprit_pids: set[int] = set()  # processes faults started, as they start them
        self.workdir = Path(tempfile.gettempdir()) / self.name
        self.pool: MemoryCgroup | None = None
        self.ledger_volume: LoopVolume | None = None
        self.batch_volume: LoopVolume | None = None
        cpus = sorted(os.sched_getaffinity(0))
        self.settlement_cpus = cpus[-1:]
        self.other_cpus = cpus[:-1] or cpus

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> PaymentSystem:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        require_root()
        from testbed.kernel.stale import sweep_stale

        sweep_stale()
        try:
            self.workdir.mkdir(mode=0o700)
            naming.write_owner(self.workdir)
            self.ledger_volume = LoopVolume(
                self.workdir / "ledger.img", self.workdir / "ledger", 512)
            self.batch_volume = LoopVolume(
                self.workdir / "batch.img", self.workdir / "batch", 1024)
            self.pool = MemoryCgroup(self.name)
            self._start_children()
        except BaseException:
            self.close()
            raise

    def _start_children(self) -> None:
        assert self.pool is not None and self.ledger_volume is not None
        cfg = self.config
        common = {"OTEL_BSP_SCHEDULE_DELAY": str(cfg.export_delay_ms)}
        if cfg.otlp_endpoint is not None:
            common["OTEL_EXPORTER_OTLP_ENDPOINT"] = cfg.otlp_endpoint
            common["OTEL_EXPORTER_OTLP_PROTOCOL"] = cfg.otlp_protocol
        elif not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                  or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
            common["OTEL_TRACES_EXPORTER"] = "none"
        common.update(cfg.extra_env)
        other = ",".join(map(str, self.other_cpus))
        self._spawn(RISK_CHECK, {**common, "TESTBED_CPUS": other})
        self._spawn(SETTLEMENT, {
            **common,
            "TESTBED_CPUS": ",".join(map(str, self.settlement_cpus)),
            "TESTBED_CGROUP_PROCS": self.pool.procs_file,
            "LEDGER_PATH": str(self.ledger_path),
            "LEDGER_BLOCK_BYTES": str(cfg.ledger_block_bytes),
        })
        self._spawn(BATCH_JOB, {
            **common, "TESTBED_CPUS": other, "TESTBED_CGROUP_PROCS": self.pool.procs_file,
        }, stdin_pipe=True)
        for role in (RISK_CHECK, SETTLEMENT, BATCH_JOB):
            self.children[role].wait_ready()
        self._spawn(PAYMENT_HANDLER, {
            **common,
            "TESTBED_CPUS": other,
            "RISK_URL": f"http://127.0.0.1:{self.children[RISK_CHECK].port}/risk/check",
            "SETTLEMENT_URL": f"http://127.0.0.1:{self.children[SETTLEMENT].port}/settlements",
            "PAYMENT_TIMEOUT_MS": str(cfg.timeout_ms),
        })
        self.children[PAYMENT_HANDLER].wait_ready()

    def _spawn(self, role: str, env: dict[str, str], stdin_pipe: bool = False) -> None:
        self.children[role] = Child(
            role, ["-m", _MODULES[role]], child_env(env), self.workdir / f"{role}.log", stdin_pipe
        )

    def close(self) -> None:
        """Stop every child, then remove cgroup, volumes and the work directory."""
        errors: list[str] = []
        for role in (PAYMENT_HANDLER, RISK_CHECK, SETTLEMENT, BATCH_JOB):
            child = self.children.pop(role, None)
            if child is not None:
                child.stop()
        for action in (self._remove_pool, self._remove_volumes):
            try:
                action()
            except OSError as e:
                errors.append(str(e))
        shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise TestbedError("cleanup incomplete: " + "; ".join(errors))

    def _remove_pool(self) -> None:
        if self.pool is not None:
            self.pool.remove()
            self.pool = None

    def _remove_volumes(self) -> None:
        for attr in ("ledger_volume", "batch_volume"):
            vol = getattr(self, attr)
            if vol is not None:
                vol.remove()
                setattr(self, attr, None)

    # -- what faults and the runner need ---------------------------------------
    def child(self, role: str) -> Child:
        try:
            return self.children[role]
        except KeyError:
            raise TestbedError(f"no running service {role!r}") from None

    def url(self, role: str, path: str) -> str:
        return f"http://127.0.0.1:{self.child(role).port}{path}"

    def admin_url(self, role: str, path: str) -> str:
        """A service's management port (fault hooks), separate from its traffic."""
        return f"http://127.0.0.1:{self.child(role).admin_port}{path}"

    @property
    def ledger_path(self) -> Path:
        assert self.ledger_volume is not None
        return self.ledger_volume.mountpoint / "ledger.dat"

    def empty_ledger(self) -> None:
        """Archive the ledger between runs (truncate it; settlement appends with O_APPEND):
        at 256 KiB an entry, the 512 MiB volume holds ~2,000 payments, about 60 scenario
        runs, and a full volume fails every payment after that."""
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.ledger_path, 0)

    def cpus_of(self, role: str) -> list[int]:
        return self.settlement_cpus if role == SETTLEMENT else self.other_cpus

    def run_pids(self) -> set[int]:
        """Every process of this run (services and culprits so far): what a capture
        by comm must keep, since other runs on the machine use the same comms."""
        return {c.pid for c in self.children.values()} | self.culprit_pids

    def service_info(self) -> dict[str, ProcessInfo]:
        return {
            role: ProcessInfo(role=role, pid=c.pid, comm=role[:15],
                              cpus=tuple(self.cpus_of(role)), port=c.port)
            for role, c in self.children.items()
        }
