"""memory-pressure: the seeds' incident.

The batch job, in settlement's memory cgroup, pins anonymous memory and streams
an export onto the (slow) batch volume. The cgroup limit is set just above what
is in use, so the cgroup fills with dirty and under-writeback export pages; on
cgroup v1 reclaim cannot write them itself and waits for writeback (on v2 it is
throttled), so settlement's ledger append blocks in memcg reclaim until the batch
volume has written enough. The culprit is the batch job.

Nothing of the export is reclaimable until the first of its writeback bios
completes: on this kernel ext4 submits it in 4 MiB bios (large folios), which the
throttle lets through after 4 MiB / mbps. At 2 MiB/s that came 2 s into the fault,
inside the payment window, and the 4 MiB it freed let settlement through whenever
its reclaim waited on one of those folios; at 1 MiB/s it comes at ~4 s, after the
window (the last payment's deadline is ~2.8 s after the start).
"""

from __future__ import annotations

import json
import time

from testbed.errors import TestbedError
from testbed.faults.base import Fault
from testbed.kernel.cgroups import MemoryCgroup
from testbed.system import BATCH_JOB, SETTLEMENT
from testbed.truth import ProcessInfo


class MemoryPressure(Fault):
    kind = "memory-pressure"
    mechanism = "memory-reclaim"
    default_target = SETTLEMENT
    defaults = {  # noqa: RUF012
        "writers": 3,  # export writer threads: more of them, fewer clean pages to reclaim
        "anon_mb": 36,  # batch heap pinned (no swap: never reclaimable)
        "headroom_mb": 28,  # limit above current use before the export starts
        "mbps": 1,  # batch volume write bandwidth, MiB/s: reclaim waits on it
    }
    incident_after_s = 1.0
    removal_order = 2

    def inject(self) -> list[ProcessInfo]:
        system = self.system
        if self.target != SETTLEMENT:
            raise TestbedError("memory-pressure targets settlement-svc (it shares the batch job's cgroup)")
        assert system.pool is not None and system.batch_volume is not None
        p = self.params
        _clear_last_export(system)
        system.batch_volume.throttle_writes(int(p["mbps"] * (1 << 20)), system.pool.path)
        # the same starting state every run: no clean page cache (the ledger's
        # fsynced entries, what the services read at start-up) that reclaim would
        # take at once instead of waiting for the export's writeback
        system.pool.reclaim()
        limit = system.pool.usage_bytes() + int((p["anon_mb"] + p["headroom_mb"]) * (1 << 20))
        system.pool.set_limit(limit)
        self._oom_before = system.pool.oom_kills()
        hits = system.pool.limit_hits()
        batch = system.child(BATCH_JOB)
        answer = batch.send_line(json.dumps({
            "cmd": "pressure", "anon_mb": int(p["anon_mb"]), "writers": int(p["writers"]),
            "dir": str(system.batch_volume.mountpoint), "file_mb": 128,
        }))
        if json.loads(answer).get("ok") != "pressure":
            raise TestbedError(f"batch-job refused the export: {answer}")
        assert self.truth is not None
        self.truth.measured["limit_bytes"] = limit
        self.truth.measured["fill_ms"] = _wait_for_limit(system.pool, hits)
        # at full strength from here, as the cpu-contention hogs are when their start returns:
        # how fast the export fills the cgroup depends on the host (0.06 s quiet, later on a
        # busy one, when a payment sent at +0.5 s still found room)
        self.truth.start_ns = time.time_ns()
        return [ProcessInfo(role=BATCH_JOB, pid=batch.pid, comm=BATCH_JOB,
                            cpus=tuple(system.cpus_of(BATCH_JOB)))]

    def remove(self) -> None:
        # lift the limit and the throttle first: the export's writers, stuck in
        # reclaim and writeback, then finish their last write at once
        system = self.system
        if system.pool is not None:
            system.pool.set_limit(None)
            if self.truth is not None:
                self.truth.measured["oom_kills"] = system.pool.oom_kills() - self._oom_before
        if system.batch_volume is not None and system.pool is not None:
            system.batch_volume.throttle_writes(None, system.pool.path)
        batch = system.children.get(BATCH_JOB)
        if batch is not None and batch.proc.poll() is None:
            batch.send_line(json.dumps({"cmd": "stop"}))

    def predicts_failure(self, timeout_ms: int) -> bool:
        return True


def _wait_for_limit(pool: MemoryCgroup, hits_before: int, timeout_s: float = 5.0) -> int:
    """Milliseconds until the cgroup met its limit: from then every charge, settlement's
    ledger append included, reclaims first, and reclaim waits for the export's writeback."""
    t0 = time.monotonic()
    while pool.limit_hits() == hits_before:
        if time.monotonic() - t0 > timeout_s:
            raise TestbedError(f"the export did not fill the cgroup in {timeout_s} s")
        time.sleep(0.005)
    return round((time.monotonic() - t0) * 1000)


def _clear_last_export(system: object, timeout_s: float = 10.0) -> None:
    """Delete the previous run's export and wait until its writeback has drained.
    Its pages stay charged to the cgroup after the run: measured into the next
    limit, then freed when the next export truncates the files, they would give
    every run a different headroom, and once written back they are clean pages
    that reclaim takes at once instead of waiting."""
    volume, pool = system.batch_volume, system.pool  # type: ignore[attr-defined]
    for path in volume.mountpoint.glob("export-*.dat"):
        path.unlink()
    key = "writeback" if pool.version == 1 else "file_writeback"
    deadline = time.monotonic() + timeout_s
    while pool.stat().get(key, 0) > (1 << 20) and time.monotonic() < deadline:
        time.sleep(0.05)
