"""Fault injection: each fault causes its mechanism for real in the kernel.

Mechanism names are the causal engine's (causal_processor.causal.model), so a
verdict compares with the truth by string equality.

| kind | mechanism | what the kernel shows | culprit |
|---|---|---|---|
| memory-pressure | memory-reclaim | MemoryReclaim inside settlement's ledger append | batch-job |
| cpu-contention | cpu-contention | run-queue waits of settlement threads | cpu-hog processes |
| disk-stall | disk-io | slow SyscallFsync of the ledger | disk-writer |
| packet-loss | tcp-retransmit | TCPRetransmit on the settlement flow | none (the network) |
| lock-contention | lock-contention | settlement blocked, woken by the holder | ledger-compact thread |
| slow-dependency | downstream-latency | risk-check asleep on a timer, kernel innocent | none |
"""

from __future__ import annotations

from testbed.faults.app import LockContention, SlowDependency
from testbed.faults.base import Fault
from testbed.faults.cpu import CpuContention
from testbed.faults.disk import DiskStall
from testbed.faults.memory import MemoryPressure
from testbed.faults.network import PacketLoss
from testbed.faults.spec import KINDS, FaultSpec, parse_fault
from testbed.system import PaymentSystem

FAULTS: dict[str, type[Fault]] = {
    f.kind: f
    for f in (MemoryPressure, CpuContention, DiskStall, PacketLoss, LockContention, SlowDependency)
}
MECHANISMS: dict[str, str] = {kind: f.mechanism for kind, f in FAULTS.items()}


def build_fault(spec: FaultSpec, system: PaymentSystem) -> Fault:
    return FAULTS[spec.kind](spec, system)


def check_spec(spec: FaultSpec) -> None:
    """Reject unknown options before anything starts (TestbedError)."""
    FAULTS[spec.kind].check_options(spec)


__all__ = ["FAULTS", "KINDS", "MECHANISMS", "Fault", "FaultSpec", "build_fault", "check_spec", "parse_fault"]
