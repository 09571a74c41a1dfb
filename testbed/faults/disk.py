"""disk-stall: a heavy writer on the ledger's (slow) volume.

ext4 in data=ordered mode commits a transaction only after the data it covers is
on disk, so settlement's fsync of one ledger block waits behind the writer's
megabytes on a volume whose bandwidth is `mbps`.
"""

from __future__ import annotations

from testbed.errors import TestbedError
from testbed.faults.base import Fault
from testbed.procs import Child, child_env
from testbed.system import SETTLEMENT
from testbed.truth import ProcessInfo


class DiskStall(Fault):
    kind = "disk-stall"
    mechanism = "disk-io"
    default_target = SETTLEMENT
    defaults = {"writers": 1, "mbps": 8, "chunk_kb": 1024}  # noqa: RUF012
    incident_after_s = 1.0
    removal_order = 3

    def inject(self) -> list[ProcessInfo]:
        if self.target != SETTLEMENT:
            raise TestbedError("disk-stall targets settlement-svc (the ledger volume)")
        volume = self.system.ledger_volume
        assert volume is not None
        volume.throttle_writes(int(self.params["mbps"] * (1 << 20)),
                               self.system.pool.path if self.system.pool else None)
        self._writers = [
            Child("disk-writer", ["-m", "testbed.culprits", "disk-writer",
                                  "--dir", str(volume.mountpoint),
                                  "--chunk-kb", str(int(self.params["chunk_kb"])),
                                  "--file-mb", "128"],
                  child_env({}), self.system.workdir / f"disk-writer-{i}.log")
            for i in range(int(self.params["writers"]))
        ]
        for writer in self._writers:
            writer.wait_ready()
        return [ProcessInfo(role="disk-writer", pid=w.pid, comm="disk-writer")
                for w in self._writers]

    def remove(self) -> None:
        for w in getattr(self, "_writers", []):
            w.stop(grace_s=2.0)
        self._writers = []
        volume = self.system.ledger_volume
        if volume is not None:
            volume.throttle_writes(None, self.system.pool.path if self.system.pool else None)

    def predicts_failure(self, timeout_ms: int) -> bool:
        return True
