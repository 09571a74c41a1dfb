"""Starting and stopping the testbed's child processes.

Children run in their own session (Ctrl-C reaches only the runner, which then
stops them in order and lets them flush their spans) and receive SIGTERM if the
runner dies (PR_SET_PDEATHSIG, set by the child itself).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from testbed.errors import TestbedError


class Child:
    """One child process with its log file."""

    def __init__(self, role: str, args: list[str], env: dict[str, str], log: Path,
                 stdin_pipe: bool = False) -> None:
        self.role = role
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 (lives as long as the child)
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            env=env,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            start_new_session=True,
        )
        self.port = 0
        self.admin_port = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout_s: float = 30.0) -> int:
        """Wait for the child's `READY port=N [admin=M]` line; return N."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TestbedError(f"{self.role} did not start: {self.log_tail()}")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    continue
                buf += chunk
        line = buf.split(b"\n", 1)[0].decode()
        if not line.startswith("READY port="):
            raise TestbedError(f"{self.role} said {line!r}: {self.log_tail()}")
        fields = dict(item.split("=", 1) for item in line.split()[1:])
        self.port = int(fields["port"])
        self.admin_port = int(fields.get("admin", 0))
        return self.port

    def send_line(self, line: str, timeout_s: float = 30.0) -> str:
        """Write one command line to the child's stdin and read its one-line answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            raise TestbedError(f"{self.role} did not answer {line!r}")
        return self.proc.stdout.readline().decode().strip()

    def log_tail(self, n: int = 600) -> str:
        self._log_file.flush()
        try:
            text = self.log.read_text(errors="replace").strip()
        except OSError:
            return "(no log)"
        return text[-n:] or "(empty log)"

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM (or EOF on stdin), then SIGKILL after grace_s."""
        if self.proc.poll() is None:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stdin):
            if stream is not None and not stream.closed:
                stream.close()
        self._log_file.close()


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The runner's environment plus `extra`, with the repo importable."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env
