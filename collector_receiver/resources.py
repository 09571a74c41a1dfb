"""One OTLP resource per observed process, read from /proc while it still exists.

service.name comes from the process's own OTEL_SERVICE_NAME (or service.name
in OTEL_RESOURCE_ATTRIBUTES), so kernel spans land under the same service as
the application's spans; otherwise it is `unknown_service:<executable>` as
the OTel SDKs do.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from opentelemetry.proto.resource.v1 import resource_pb2

from kprobe import otlp


def service_name_from_environ(environ: bytes) -> str | None:
    env = dict(
        kv.split(b"=", 1) for kv in environ.split(b"\0") if b"=" in kv
    )
    name = env.get(b"OTEL_SERVICE_NAME")
    if name:
        return name.decode(errors="replace")
    for item in env.get(b"OTEL_RESOURCE_ATTRIBUTES", b"").split(b","):
        key, _, value = item.partition(b"=")
        if key.strip() == b"service.name" and value:
            return value.strip().decode(errors="replace")
    return None


class ProcessResources:
    """Cache of pid -> Resource; `observe` reads /proc the first time a pid is seen."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc
        self.host = socket.gethostname()
        self._by_pid: dict[int, resource_pb2.Resource] = {}

    def observe(self, pid: int, comm: str) -> None:
        if pid in self._by_pid:
            return
        base = self.proc / str(pid)
        try:
            executable = os.path.basename(os.readlink(base / "exe"))
        except OSError:
            executable = comm
        try:
            service = service_name_from_environ((base / "environ").read_bytes())
        except OSError:
            service = None
        self._by_pid[pid] = otlp.process_resource(pid, executable or comm, self.host, service)

    def get(self, pid: int) -> resource_pb2.Resource | None:
        return self._by_pid.get(pid)

    def all(self) -> dict[int, resource_pb2.Resource]:
        return dict(self._by_pid)
