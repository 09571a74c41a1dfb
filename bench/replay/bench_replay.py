"""Record overhead against the native run and `strace -f`, and replay speed against record.

    .venv/bin/python bench/replay/bench_replay.py [--syscalls 20000] [--payments 20]

Workloads (each variant measured in the same run, on the same machine load):
- syscall-heavy: `dd if=/dev/zero of=/dev/null bs=1 count=N` (one read + one write per
  byte; every read is an outside input the recorder must store);
- a testbed service: settlement-svc (waitress, 32 threads, flock + write + fsync per
  payment) handling P payments over HTTP, then SIGTERM. Two numbers: the time to
  answer the payments (what a recorded production service pays per request) and the
  whole run including interpreter start-up.
Variants: native; `strace -f -qq -o /dev/null`; `kprobe replay record`; and the replay
of that recording (inside its own network namespace, the clients gone). The service's
variants run in interleaved rounds (best and median reported): the host's speed moves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "replay"))
from service_driver import run_service, service_env  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
RECORD = [PY, "-m", "replay", "record", "-q", "-o"]


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.monotonic()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, cwd=str(ROOT))
    return time.monotonic() - t0


def _best(fn, repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def bench_dd(n: int, tmp: str, repeat: int) -> dict[str, float]:
    dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={n}"]
    rec = os.path.join(tmp, "dd.kpr")
    out = {
        "native": _best(lambda: _timed(dd), repeat),
        "strace -f": _best(lambda: _timed(["strace", "-f", "-qq", "-o", "/dev/null", *dd]), repeat),
        "record": _best(lambda: _timed([*RECORD, rec, "--", *dd]), repeat),
    }
    out["replay"] = _best(lambda: _timed([PY, "-m", "replay", "run", rec]), repeat)
    return out


def bench_service(payments: int, tmp: str, repeat: int) -> dict[str, list[tuple[float, float]]]:
    """Each round runs every variant once, in turn, so that a slow phase of a shared host
    falls on all of them: (answering, whole run) per round."""
    rec = os.path.join(tmp, "svc.kpr")

    def once(prefix: list[str]) -> tuple[float, float]:
        t0 = time.monotonic()
        done, answers, serving = run_service(prefix, tmp, payments)
        assert len(answers) == payments and done.returncode == 0, done.stderr[-500:]
        return serving, time.monotonic() - t0

    variants = {"native": [], "strace -f": ["strace", "-f", "-qq", "-o", "/dev/null"],
                "record": [*RECORD, rec, "--"]}
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for _ in range(repeat):
        for k, prefix in variants.items():
            out[k].append(once(prefix))
    replay = _best(lambda: _timed([PY, "-m", "replay", "run", rec], env=service_env(tmp)), 1)
    out["replay"] = [(float("nan"), replay)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--syscalls", type=int, default=20000, help="dd bytes (2 syscalls each)")
    ap.add_argument("--payments", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dd = bench_dd(a.syscalls, tmp, a.repeat)
        svc = bench_service(a.payments, tmp, a.repeat)
    print(f"load average: {os.getloadavg()[0]:.1f}")
    print(f"\n### syscall-heavy: dd bs=1 count={a.syscalls} ({2 * a.syscalls} syscalls)\n")
    print("| variant | seconds | ratio to native |\n|---|---|---|")
    for k, v in dd.items():
        print(f"| {k} | {v:.3f} | {v / dd['native']:.1f} |")
    print(f"\nreplay / record: {dd['replay'] / dd['record']:.2f}")
    print(f"\n### testbed settlement-svc, {a.payments} payments, {a.repeat} interleaved rounds\n")
    print("| variant | answering the payments, best (s) | ratio to native | median (s) | ratio to native "
          "| whole run incl. start-up, best (s) | ratio to native |")
    print("|---|---|---|---|---|---|---|")
    serve = {k: sorted(r[0] for r in v) for k, v in svc.items()}
    total = {k: min(r[1] for r in v) for k, v in svc.items()}
    for k in svc:
        if k == "replay":
            s = "— | — | — | —"
        else:
            best, med = serve[k][0], statistics.median(serve[k])
            s = (f"{best:.3f} | {best / serve['native'][0]:.2f} | {med:.3f} | "
                 f"{med / statistics.median(serve['native']):.2f}")
        print(f"| {k} | {s} | {total[k]:.3f} | {total[k] / total['native']:.2f} |")
    rounds = list(zip(*(svc[k] for k in ("native", "strace -f", "record")), strict=True))
    per_round = {k: statistics.median(r[i][0] / r[0][0] for r in rounds) for i, k in ((1, "strace -f"), (2, "record"))}
    print(f"\nmedian of the rounds' own ratios (answering): record / native {per_round['record']:.2f}, "
          f"strace -f / native {per_round['strace -f']:.2f}, record / strace -f "
          f"{statistics.median(r[2][0] / r[1][0] for r in rounds):.2f}")
    print(f"replay / record (whole run): {total['replay'] / total['record']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
