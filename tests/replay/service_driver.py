"""Drive one testbed service under a command prefix: start, one payment, SIGTERM.

Used by the replay tests and the benchmark: `run_service(prefix, ...)` starts
`prefix + [python, -m, testbed.services.settlement]`, waits for READY, posts N
settlements, then SIGTERMs the service (the child of `prefix` when there is one).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_PY = str(ROOT / ".venv" / "bin" / "python")


def service_env(tmp: str) -> dict[str, str]:
    return dict(os.environ, LEDGER_PATH=os.path.join(tmp, "ledger.log"),
                LEDGER_BLOCK_BYTES="4096", OTEL_TRACES_EXPORTER="none",
                PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")


def _service_pid(proc: subprocess.Popen, traced: bool) -> int:
    if not traced:
        return proc.pid
    for _ in range(200):
        try:
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.01)
    raise RuntimeError("the traced service did not start")


def run_service(prefix: list[str], tmp: str, payments: int = 1,
                service: str = "settlement") -> tuple[subprocess.CompletedProcess, list[dict], float]:
    """(completed process, responses, seconds from READY to the last response)."""
    cmd = [*prefix, VENV_PY, "-m", f"testbed.services.{service}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=service_env(tmp), cwd=str(ROOT))
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().decode()
        match = re.search(r"port=(\d+)", line)
        if not line.startswith("READY") or match is None:
            raise RuntimeError(f"service did not start: {line!r}")
        port = int(match.group(1))
        answers = []
        t0 = time.monotonic()
        for i in range(payments):
            body = json.dumps({"payment_id": f"pay-{i}", "amount": 50000}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/settlements", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                answers.append(json.loads(resp.read()))
        elapsed = time.monotonic() - t0
        # SIGTERM to the main thread (tgkill): a process-directed signal may land on any of
        # the worker threads, and how that thread wakes the main one is user-space scheduling
        pid = _service_pid(proc, bool(prefix))
        ctypes.CDLL(None, use_errno=True).syscall(234, pid, pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, line.encode() + out, err), answers, elapsed


if __name__ == "__main__":
    done, answers, secs = run_service(sys.argv[1:], "/tmp")
    print(done.returncode, answers, secs, done.stdout, done.stderr[-300:])
