"""`kprobe demo` and `kprobe testbed` as a user runs them: real processes, real output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KPROBE = [str(Path(sys.executable).parent / "kprobe")]  # the console script, as users run it
ROOT = Path(__file__).resolve().parents[2]


def kprobe(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KPROBE, *args], capture_output=True, text=True, cwd=ROOT, timeout=240,
                          **kw)  # type: ignore[call-overload]


@pytest.mark.ebpf
def test_demo_json_explains_the_seeds_incident() -> None:
    if os.geteuid() != 0:
        pytest.skip("the demo needs root")
    done = kprobe("demo", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    truth = report["ground_truth"]
    txn = report["transaction"]
    assert report["scenario"] == "memory-pressure" and report["timeout_ms"] == 750
    # the payment explained failed on the settlement deadline: the named ₹50,000 one
    # when it failed (nearly always), else the slowest failure
    named = truth["named_payment"]
    assert (txn["status"], txn["reason"], txn["stage"]) == ("failed", "timeout", "settlement-svc")
    assert txn["latency_ms"] >= 750 and len(txn["trace_id"]) == 32
    if named["status"] == "failed":
        assert (txn["id"], txn["trace_id"], txn["named"]) == ("pay-98721", named["trace_id"], True)
    else:
        slowest = max((p for p in truth["payments"] if p["status"] == "failed"),
                      key=lambda p: p["latency_ms"])
        assert (txn["id"], txn["named"]) == (slowest["payment_id"], False)
    # the injected truth: memory pressure on settlement, the batch job as culprit
    [fault] = report["injected"]
    batch = truth["services"]["batch-job"]
    assert fault["kind"] == "memory-pressure" and fault["mechanism"] == "memory-reclaim"
    assert fault["target"]["pid"] == truth["services"]["settlement-svc"]["pid"]
    assert fault["culprits"] == [{"role": "batch-job", "pid": batch["pid"], "tid": 0,
                                  "comm": "batch-job"}]
    # captured evidence: settlement spent time in memcg reclaim inside the payment's window
    assert report["evidence"]["settlement_memcg_reclaim_ms"] > 100
    # the engine's verdict, next to the truth
    rc = report["root_cause"]
    assert report["engine_error"] is None and rc is not None
    assert isinstance(rc["mechanism"], str) and rc["contribution_ns"] > 0
    assert report["explanation"]["transaction_id"] == txn["id"]  # pay-98721 when it failed
    assert set(report["agreement"]) == {"mechanism", "culprit"}


# Everything is imported as root, then the process drops to nobody and runs the CLI
# (nobody could not even read the checkout).
_AS_NOBODY = """
import os, sys
import kprobe.cli, testbed.demo, testbed.runner
kprobe.cli.build_parser()
os.setgid(65534); os.setuid(65534)
sys.exit(kprobe.cli.main(sys.argv[1:]))
"""


def test_demo_and_testbed_say_clearly_when_not_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("dropping to nobody needs root to start with")
    for args in (["demo"], ["testbed", "--scenario", "none"]):
        done = subprocess.run([sys.executable, "-c", _AS_NOBODY, *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            "kprobe: the testbed needs root: it creates memory cgroups, loop devices (losetup, "
            "mount), blkio throttles and nftables rules (CAP_SYS_ADMIN + CAP_NET_ADMIN); run as root"]


@pytest.mark.parametrize(("fault", "message"), [
    ("cpu-contention:bogus=1", "kprobe: cpu-contention has no option bogus; options: cpu, hogs, nice, target, start"),
    ("tsunami", "kprobe: unknown fault 'tsunami'; expected one of memory-pressure, cpu-contention, "
     "disk-stall, packet-loss, lock-contention, slow-dependency"),
    ("disk-stall:mbps=fast", "kprobe: fault option mbps='fast' is not a number (in 'disk-stall:mbps=fast')"),
    ("packet-loss:loss", "kprobe: fault option 'loss' is not key=value (in 'packet-loss:loss')"),
])
def test_bad_fault_specs_are_one_line_errors(fault: str, message: str) -> None:
    done = kprobe("testbed", "--fault", fault)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [message]
    assert done.stdout == ""
