"""Nothing the testbed creates outlives it: on exit, on Ctrl-C, and after a SIGKILL
(the next run sweeps what a killed runner left)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from testbed import Testbed, parse_fault, run_scenario, scenario
from testbed.kernel.cgroups import stale_cgroup_dirs
from testbed.kernel.nftables import testbed_tables as nft_tables
from testbed.kernel.stale import sweep_stale
from testbed.kernel.volumes import loop_devices_backed_by, throttle_rules

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the testbed needs root")


def leftovers(owner_pid: int) -> list[str]:
    """Every kernel object, mount and directory named after this runner pid."""
    tag = f"kprobe-testbed-{owner_pid}-"
    tmp = Path(tempfile.gettempdir())
    found = [str(p) for p in stale_cgroup_dirs() if p.name.startswith(tag)]
    found += [t for t in nft_tables() if t.startswith(f"kprobe_testbed_{owner_pid}_")]
    found += [dev for dev, _ in loop_devices_backed_by(str(tmp / tag))]
    with open("/proc/self/mounts") as f:
        found += [line.split()[1] for line in f if tag in line.split()[1]]
    found += [str(p) for p in tmp.glob(f"{tag}*")]
    return found


def alive(pid: int) -> bool:
    """Any thread of the process still running (an exited leader shows Z before its threads)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    return True
        except FileNotFoundError:
            continue
    return False


def wait_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


ALL_FAULTS = tuple(parse_fault(f) for f in (
    "memory-pressure", "cpu-contention:hogs=1", "disk-stall", "packet-loss", "lock-contention",
    "slow-dependency"))


def test_a_run_with_every_fault_removes_everything_and_can_run_again() -> None:
    # Other testbeds of this pytest process (session fixtures of other tests) may be up:
    # judge only the objects this test's own testbeds create.
    before = set(leftovers(os.getpid()))
    with Testbed() as tb:
        assert tb.system.pool is not None and tb.system.pool.path.is_dir()
        assert len(set(leftovers(os.getpid())) - before) >= 6  # cgroup, 2 loops, 2 mounts, work dir
        volumes = [v.dev_numbers for v in (tb.system.ledger_volume, tb.system.batch_volume) if v]
        truth = tb.run(scenario("custom", ALL_FAULTS, duration_s=1.5))
        assert not set(volumes) & set(throttle_rules())  # lifted with their faults
        # while the system is up, the per-run faults are gone already
        assert not [t for t in nft_tables() if t.startswith(f"kprobe_testbed_{os.getpid()}_")]
    assert [f.kind for f in truth.faults] == [f.kind for f in ALL_FAULTS]
    assert truth.named is not None and truth.named.status == "failed"
    pids = [p.pid for p in truth.services.values()] + [c.pid for c in truth.culprits()]
    assert wait_gone(pids) == []
    assert set(leftovers(os.getpid())) - before == set()
    assert not set(volumes) & set(throttle_rules())
    # a second run right after the first works
    again = run_scenario(scenario("none", duration_s=1.0))
    assert again.named is not None and again.named.status == "succeeded"
    assert set(leftovers(os.getpid())) - before == set()


_KILLED_RUNNER = """
import json, sys, time
from testbed import Testbed, parse_fault
from testbed.faults import build_fault
tb = Testbed()
tb.__enter__()
culprits = []
for text in ("packet-loss", "cpu-contention:cpu=0,hogs=1,nice=0", "memory-pressure"):
    fault = build_fault(parse_fault(text), tb.system)
    culprits += [c.pid for c in fault.start().culprits]
print(json.dumps([c.pid for c in tb.system.children.values()] + culprits), flush=True)
time.sleep(600)
"""


def test_a_killed_runner_is_swept_by_the_next_run() -> None:
    runner = subprocess.Popen([sys.executable, "-c", _KILLED_RUNNER], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        line = runner.stdout.readline() if runner.stdout else ""
        pids = json.loads(line)
        left = leftovers(runner.pid)
        assert any("kprobe_testbed_" in x for x in left)  # its nft table
        loops = [x for x in left if x.startswith("/dev/loop")]
        assert loops
        numbers = {f"{os.major(os.stat(d).st_rdev)}:{os.minor(os.stat(d).st_rdev)}" for d in loops}
        assert numbers & set(throttle_rules())  # memory-pressure throttles the batch volume
    finally:
        runner.kill()
        runner.wait()
    # its children noticed (parent-death signal) and exited by themselves
    assert wait_gone(pids) == []
    assert leftovers(runner.pid) != []
    removed = sweep_stale()
    assert leftovers(runner.pid) == []
    assert not numbers & set(throttle_rules())
    assert any(str(runner.pid) in r for r in removed)


def _sigint_as_a_terminal_gives_it() -> None:
    """Ctrl-C's default disposition in the child: a suite started in the background by a
    shell without job control inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt (the CLI ran to the end and exited 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_mid_run_cleans_up() -> None:
    cli = subprocess.Popen([str(Path(sys.executable).parent / "kprobe"), "testbed",
                            "--scenario", "packet-loss", "--duration", "8"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                           preexec_fn=_sigint_as_a_terminal_gives_it)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("kprobe_testbed_" in x for x in leftovers(cli.pid)):
        time.sleep(0.1)
    assert any("kprobe_testbed_" in x for x in leftovers(cli.pid)), "the fault never started"
    cli.send_signal(signal.SIGINT)
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == 130, err
    assert leftovers(cli.pid) == []
