"""The syscall buffer beyond clocks: socket names and options, FIONBIO/FIONREAD, flocks that
cannot wait, close, send/recv/read/write on non-blocking descriptors, accepts on a non-blocking
listener, and futex wakes, recorded without a ptrace stop and
replayed like traced calls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from replay_helpers import KPROBE, PY, ROOT, needs_tracing

from replay import sysbuf
from replay.inject import parse_rule
from replay.recorder import Recorder
from replay.recording import SIGNAL_NR, Recording
from replay.replayer import ReplayOptions
from replay.session import replay_captured
from replay.syscalls import NR

pytestmark = [needs_tracing, pytest.mark.skipif(sysbuf.library_path() is None,
                                                reason="the library is built by `make setup`")]

K = 150  # rounds; the stop counts compared leave out the library's periodic flushes (_stops)
CALLS_PER_ROUND = 19  # the program's calls in one round
TRACED_PER_ROUND = 3  # dup, a send and a recv on a blocking socket
OWN_QUERIES_PER_ROUND = 4  # the library asks each send/recv's socket whether it may block
PROGRAM = """
import array, fcntl, os, socket, sys, termios
k = int(sys.argv[1])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
cli.sendall(b"12345")
lock = open(sys.argv[2], "w")
names, avail, got = set(), array.array("i", [0]), []
for _ in range(k):
    names.update((cli.getsockname(), cli.getpeername()))
    kind = cli.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.setblocking(False)
    cli.setblocking(False)
    cli.send(b"ab")
    got.append(conn.recv(2))
    cli.setblocking(True)
    conn.setblocking(True)
    cli.send(b"c")  # blocking sockets: these two stay traced
    got.append(conn.recv(1))
    fcntl.ioctl(conn.fileno(), termios.FIONREAD, avail)
    fcntl.flock(lock, fcntl.LOCK_EX)  # may wait, but nobody holds it: the library's try does
    fcntl.flock(lock, fcntl.LOCK_UN)
    fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.close(os.dup(lock.fileno()))
print(sorted(names), b"".join(got)[-9:], kind, avail[0], flush=True)
"""
CONTENDED = """
import fcntl, os, sys, time
lock = open(sys.argv[1], "w")
r, w = os.pipe()
if os.fork() == 0:
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.write(w, b"held")
    time.sleep(0.2)
    fcntl.flock(lock, fcntl.LOCK_UN)
    os._exit(0)
os.read(r, 4)
held = open(sys.argv[1], "w")  # a description of its own, so the child's lock is in the way
fcntl.flock(held, fcntl.LOCK_EX)  # the library's try fails: the traced call waits
print("got it", time.monotonic_ns(), flush=True)
os.wait()
"""
VFORK = """
import os, subprocess
os.close(os.dup(1))
# the vfork child closes the pipes' other ends in its parent's memory, hence in its ring
child = subprocess.run(["/bin/echo", "child"], capture_output=True).stdout
os.close(os.dup(1))
print(child, os.getpid(), flush=True)
"""


def _stops(result) -> int:
    """The record's stops less the library's flushes (a traced getpid every 8,192 buffered
    calls, one stop each): whether a run crosses one depends on how many calls its start-up
    made, not on the rounds compared. The programs' own getpids are the same in both runs."""
    return result.stops - sum(1 for e in result.recording.events if e.nr == NR["getpid"])


def _record(tmp_path, rounds: int, syscall_buffer: bool = True, inject: tuple[str, ...] = ()):
    script = tmp_path / "calls.py"
    script.write_text(PROGRAM)
    return Recorder([PY, str(script), str(rounds), str(tmp_path / "lock")], cwd=str(tmp_path),
                    syscall_buffer=syscall_buffer, inject=[parse_rule(r) for r in inject]).run()


def test_buffered_calls_cost_no_stop_and_replay_byte_identical(tmp_path):
    natives = [subprocess.run([PY, "-c", PROGRAM, str(2 * K), str(tmp_path / "lock")], capture_output=True,
                              timeout=60).stdout for _ in range(2)]
    assert natives[0] != natives[1]  # the ephemeral ports
    once, twice = _record(tmp_path, K), _record(tmp_path, 2 * K)
    assert _stops(twice) - _stops(once) == 2 * K * TRACED_PER_ROUND  # K more rounds: only these
    traced_once = _record(tmp_path, K, syscall_buffer=False)
    traced_twice = _record(tmp_path, 2 * K, syscall_buffer=False)
    assert _stops(traced_twice) - _stops(traced_once) == 2 * K * CALLS_PER_ROUND

    recorded = twice.recording
    calls = [e for e in recorded.events if e.nr == NR["getsockopt"]]
    assert len(calls) == 2 * K and all(e.ret == 0 and e.outs for e in calls)
    own = [e for e in recorded.events if e.nr == NR["fcntl"] and "kprobe" in e.x]
    assert len(own) >= 2 * K * OWN_QUERIES_PER_ROUND  # not the program's: injection skips them
    sends = [e for e in recorded.events if e.nr == NR["sendto"] and e.ret == 2]
    assert len(sends) == 2 * K and all(recorded.blobs.get(e.x["data"]) == b"ab" for e in sends)
    out = recorded.blobs.get(recorded.meta["output"]["1"])
    assert out.split(b"]")[1] == natives[0].split(b"]")[1] and twice.exit_status == 0
    for seed in range(3):
        got = replay_captured(recorded, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


def test_a_call_an_injection_rule_names_stays_traced(tmp_path):
    rec = _record(tmp_path, 3, inject=("getsockopt:error=EBADF:when=2",)).recording
    calls = [e for e in rec.events if e.nr == NR["getsockopt"]]
    assert [e.ret for e in calls] == [0, -9]  # the program stopped at the injected error
    assert calls[1].x["injected"] == "getsockopt:error=EBADF:when=2"
    assert len([e for e in rec.events if e.nr == NR["getsockname"]]) >= 2  # still buffered


def test_a_vfork_childs_buffered_calls_are_its_own_once(tmp_path):
    script = tmp_path / "vfork.py"
    script.write_text(VFORK)
    result = Recorder([PY, str(script)], cwd=str(tmp_path)).run()
    rec, root = result.recording, result.recording.meta["root_tid"]
    closes = [e.tid for e in rec.events if e.nr == NR["close"] and "kprobe" not in e.x]
    execs = [e.tid for e in rec.events if e.nr == NR["execve"] and e.tid != root]
    assert execs and execs[0] in closes  # the child's own closes, before its exec (replay
    # diverges if the parent's stream has them again: it would wait for closes it never makes)
    out = rec.blobs.get(rec.meta["output"]["1"])
    assert out.startswith(b"b'child\\n' ")
    for seed in range(2):
        got = replay_captured(rec, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


# a rule naming flock: the library makes no try of its own (KPROBE_SYSBUF_TRACED), so that the
# rule's count is the program's flocks alone, as strace's would be
@pytest.mark.parametrize("inject, expected", [((), [(-11, True), (0, False)]),
                                              (("flock:error=EIO:when=9",), [(0, False)])])
def test_a_flock_that_must_wait_is_tried_then_traced(tmp_path, inject, expected):
    script = tmp_path / "contended.py"
    script.write_text(CONTENDED)
    result = Recorder([PY, str(script), str(tmp_path / "lock")], cwd=str(tmp_path),
                      inject=[parse_rule(r) for r in inject]).run()
    rec, root = result.recording, result.recording.meta["root_tid"]
    flocks = [e for e in rec.events if e.nr == NR["flock"] and e.tid == root]
    assert [(e.ret, "kprobe" in e.x) for e in flocks] == expected
    assert [e.args[1] for e in flocks] == [2 | 4, 2][-len(expected):]  # LOCK_EX|LOCK_NB, LOCK_EX
    assert rec.meta["env"].get(sysbuf.TRACED_ENV) == (str(NR["flock"]) if inject else None)
    out = rec.blobs.get(rec.meta["output"]["1"])
    for seed in range(2):
        got = replay_captured(rec, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


NONBLOCKING = """
import json, os, socket, sys
k = int(sys.argv[1])
r, w = os.pipe()
os.set_blocking(r, False)
os.set_blocking(w, False)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
srv.setblocking(False)
got, ends = [], []
for i in range(k):
    os.write(w, b"%d," % i)  # a non-blocking pipe: both ends buffered
    got.append(os.read(r, 64))
    cli = socket.socket()  # these two stay traced
    cli.connect(srv.getsockname())
    conn, peer = srv.accept()  # a non-blocking listener: buffered, its endpoints recorded
    ends.append([conn.getsockname()[1], peer[1]])
    cli.close()
    conn.close()
print(b"".join(got)[-8:].decode(), json.dumps(ends), flush=True)
"""
TRACED_NONBLOCKING_PER_ROUND = 2  # socket, connect


def _record_script(tmp_path, source: str, *args: str, syscall_buffer: bool = True):
    script = tmp_path / "prog.py"
    script.write_text(source)
    return Recorder([PY, str(script), *args], cwd=str(tmp_path), syscall_buffer=syscall_buffer).run()


def test_nonblocking_reads_writes_and_accepts_cost_no_stop(tmp_path):
    once, twice = _record_script(tmp_path, NONBLOCKING, str(K)), _record_script(tmp_path, NONBLOCKING, str(2 * K))
    assert _stops(twice) - _stops(once) == 2 * K * TRACED_NONBLOCKING_PER_ROUND
    rec = twice.recording
    out = rec.blobs.get(rec.meta["output"]["1"])
    ends = json.loads(out.split(b" ", 1)[1])
    accepts = [e for e in rec.events if e.nr == NR["accept4"]]
    assert len(accepts) == 2 * K and all(e.ret >= 0 for e in accepts)
    # the endpoints, as /proc/net/tcp spells them, from the accept and the library's own name
    assert [[int(s.split(":")[1], 16) for s in e.x["sock"]] for e in accepts] == ends
    assert all(e.x["sock"][0].startswith("0100007F:") for e in accepts)
    reads = [e for e in rec.events if e.nr == NR["read"] and e.ret > 0 and e.mode == "e"
             and e.args[2] == 64]
    assert len(reads) == 2 * K
    assert out.startswith(f"{2 * K - 2},{2 * K - 1},".encode()[-8:])
    for seed in range(3):
        got = replay_captured(rec, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


QUEUE = """
import queue, sys, threading
k = int(sys.argv[1])
todo, done = queue.Queue(), queue.Queue()
def worker():
    while (item := todo.get()) is not None:
        done.put(item * 2)
t = threading.Thread(target=worker)
t.start()
total = 0
for i in range(k):
    todo.put(i)
    total += done.get()
todo.put(None)
t.join()
print(total, flush=True)
"""
FUTEX_WAKE, FUTEX_WAKE_BITSET = 1, 10


@pytest.mark.parametrize("inject", [(), ("futex:error=EAGAIN:when=1000000",)])
def test_futex_wakes_run_without_a_stop_unless_a_rule_names_futex(tmp_path, inject):
    script = tmp_path / "handoff.py"
    script.write_text(QUEUE)
    result = Recorder([PY, str(script), "300"], cwd=str(tmp_path),
                      inject=[parse_rule(r) for r in inject]).run()
    rec = result.recording
    futexes = [e for e in rec.events if e.nr == NR["futex"]]
    wakes = [e for e in futexes if e.args[1] & 0x7F in (FUTEX_WAKE, FUTEX_WAKE_BITSET)]
    assert rec.meta["futex_wakes_untraced"] is not bool(inject)
    assert len(futexes) > 0 and (len(wakes) > 0) is bool(inject)
    out = rec.blobs.get(rec.meta["output"]["1"])
    assert out == b"89700\n" and result.exit_status == 0
    for seed in range(3):
        got = replay_captured(rec, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


TRIES = """
import os, select, sys
k, path = int(sys.argv[1]), sys.argv[2]
f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(f, b"ledger")  # ext4 refuses RWF_NOWAIT (EOPNOTSUPP): the library's file write
r, w = os.pipe()  # both ends blocking
got, failed = [], []
for i in range(k):
    try:
        os.write(w, b"x%d," % i)  # room in the pipe: the library's pwritev2 try makes it
    except OSError as e:
        failed.append((i, e.errno))
        continue
    select.select([r], [], [], 5)  # ready at once: the zero-timeout try answers
    got.append(os.read(r, 16))  # a blocking read: traced
idle = select.select([r], [], [], 0.01)  # nothing ready: the try, then the traced wait
print(b"".join(got)[-10:].decode(), idle, failed, flush=True)
"""
TRACED_TRIES_PER_ROUND = 1  # the blocking read


def test_select_and_blocking_writes_are_tried_without_a_stop(tmp_path):
    ledger = str(tmp_path / "ledger")
    once = _record_script(tmp_path, TRIES, str(K), ledger)
    twice = _record_script(tmp_path, TRIES, str(2 * K), ledger)
    assert _stops(twice) - _stops(once) == 2 * K * TRACED_TRIES_PER_ROUND  # K more rounds, 2 stops each
    rec = twice.recording
    out = rec.blobs.get(rec.meta["output"]["1"])
    assert out == f"x{2 * K - 2},x{2 * K - 1}, ([], [], []) []\n".encode()[-len(out):]
    selects = [e for e in rec.events if e.nr == NR["pselect6"]]
    assert [(e.ret, "kprobe" in e.x) for e in selects] == [(1, False)] * 2 * K + [(0, True), (0, False)]
    tries = [e for e in rec.events if e.nr == NR["pwritev2"]]
    assert (tries[0].ret, "kprobe" in tries[0].x) == (-95, True)  # the ledger: refused, then traced
    assert [(e.ret, "kprobe" in e.x) for e in tries[1:]] == [(len(b"x%d," % i), False) for i in range(2 * K)]
    assert [e.ret for e in rec.events if e.nr == NR["write"] and e.args[0] > 2] == [6]
    for seed in range(2):
        got = replay_captured(rec, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


def test_a_replay_rule_counts_the_library_writes_as_strace_counts_writes(tmp_path):
    ledger = str(tmp_path / "ledger")
    script = tmp_path / "prog.py"
    script.write_text(TRIES)
    rec = _record_script(tmp_path, TRIES, "6", ledger).recording
    # write 1 is the ledger's (traced), 2-7 the pipe's (the library's pwritev2), 8 the print
    for rule in ("write:error=EIO:when=3", "write:error=ENOSPC:when=4..6"):
        live = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", f"--inject={rule}",
                               PY, str(script), "6", ledger], capture_output=True, timeout=60)
        got = replay_captured(rec, ReplayOptions(strict=False, inject=[parse_rule(rule)]))
        assert (got.replay.exit_status, got.stdout) == (live.returncode, live.stdout), rule
        assert live.stdout.endswith(b" [(1, 5)]\n" if "EIO" in rule else b" [(2, 28), (3, 28), (4, 28)]\n")


SIGNALLED = """
import signal, sys, time
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(n))
n = 0
print("READY", flush=True)
while not got and n < 10_000_000:
    n += 1
    time.monotonic()  # buffered: the loop makes no traced call but the library's flush
print(n, got, flush=True)
"""


def test_a_signal_between_buffered_calls_is_held_for_a_boundary_replay_sees(tmp_path):
    """The signal reaches the thread in its user code, where no stop marks the place; the
    recorder holds it and raises it again at a traced call, where it is recorded and where
    replay delivers it: without that, replay delivered it at another place (1 in 15 recordings
    of the testbed service diverged after its SIGTERM)."""
    script, rec = tmp_path / "signalled.py", str(tmp_path / "s.kpr")
    script.write_text(SIGNALLED)
    proc = subprocess.Popen([*KPROBE, "record", "-q", "-o", rec, "--", PY, str(script)],
                            stdout=subprocess.PIPE, cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
    child = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
    time.sleep(0.02)
    os.kill(child, signal.SIGUSR1)
    out = b"READY\n" + proc.stdout.read()
    assert proc.wait(timeout=60) == 0
    recorded = Recording.load(rec)
    stream = [e for e in recorded.events if e.tid == recorded.meta["root_tid"]]
    at = next(i for i, e in enumerate(stream) if e.nr == SIGNAL_NR)
    assert stream[at].args == [signal.SIGUSR1]
    assert stream[at - 1].nr == NR["getpid"]  # the library's flush: a call replay stops at too
    assert recorded.blobs.get(recorded.meta["output"]["1"]) == out
    n, got = out.split(b"\n")[1].split(b" ", 1)
    assert got == b"[%s]" % n, out  # the handler ran, and the loop stopped right after it
    for seed in range(2):
        got = replay_captured(recorded, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


STATS = """
import os, sys
k, d = int(sys.argv[1]), sys.argv[2]
names = sorted(os.listdir(d))
sizes = []
for i in range(k):
    p = os.path.join(d, names[i % len(names)])
    sizes.append(os.stat(p).st_size)  # newfstatat, as lstat and fstat are: buffered
    os.lstat(p)
    with open(p, "rb") as f:  # openat and the reader's lseek stay traced; its isatty is buffered
        os.fstat(f.fileno())
print(sum(sizes), flush=True)
"""
TRACED_STAT_PER_ROUND = 2  # openat, lseek


def test_stats_and_isatty_cost_no_stop_and_replay_compares_their_paths(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    for i in range(1, 4):
        (files / f"f{i}").write_bytes(b"." * 100 * i)
    once = _record_script(tmp_path, STATS, str(K), str(files))
    twice = _record_script(tmp_path, STATS, str(2 * K), str(files))
    assert _stops(twice) - _stops(once) == 2 * K * TRACED_STAT_PER_ROUND
    rec = twice.recording
    stats = [e for e in rec.events if e.nr == NR["newfstatat"] and e.x.get("path", "").startswith(str(files))]
    assert [e.x["path"] for e in stats] == [str(files / f"f{i % 3 + 1}") for i in range(2 * K) for _ in "sl"]
    assert all(e.ret == 0 and e.outs[0][1] == 2 for e in stats)
    ttys = [e for e in rec.events if e.nr == NR["ioctl"] and e.args[1] == 0x5401]
    assert len(ttys) >= 2 * K and all(e.ret == -25 for e in ttys[-2 * K:])  # ENOTTY: files
    out = rec.blobs.get(rec.meta["output"]["1"])
    assert out == b"%d\n" % (2 * K // 3 * 600)
    for seed in range(2):
        got = replay_captured(rec, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay
    other = tmp_path / "other"
    files.rename(other)  # the program now stats other paths: the first is where replay stops
    argv = [*rec.meta["argv"][:-1], str(other)]
    got = replay_captured(rec, ReplayOptions(argv=argv))
    div = got.replay.divergence
    assert div is not None and div.reason.startswith("a different path") and str(other) in div.reason


AFFINITY = """
import os
print(sorted(os.sched_getaffinity(0)), flush=True)
with open("/proc/self/status") as f:
    print([line.split()[1] for line in f if line.startswith("Cpus_allowed_list")], flush=True)
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="binding needs a second CPU")
@pytest.mark.parametrize("bind_cpu", [True, False])
def test_the_tree_runs_on_one_cpu_and_is_told_the_cpus_it_was_allowed(tmp_path, bind_cpu):
    allowed = sorted(os.sched_getaffinity(0))
    script = tmp_path / "affinity.py"
    script.write_text(AFFINITY)
    result = Recorder([PY, str(script)], cwd=str(tmp_path), bind_cpu=bind_cpu).run()
    rec = result.recording
    cpu = rec.meta["cpu"]
    out = rec.data(rec.meta["output"]["1"]).decode().splitlines()
    assert out[0] == str(allowed)  # what it asked: the CPUs it was allowed, bound or not
    if bind_cpu:
        assert cpu in allowed and out[1] == str([str(cpu)])  # where it ran: that one CPU
    else:
        with open("/proc/self/status") as f:
            ours = [line.split()[1] for line in f if line.startswith("Cpus_allowed_list")]
        assert cpu is None and out[1] == str(ours)
    got = replay_captured(rec, ReplayOptions())
    assert got.matches_recording, got.replay


LEDGER = """
import os, sys
k, path = int(sys.argv[1]), sys.argv[2]
f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
for i in range(k):
    os.write(f, b"entry %d\\n" % i)  # a file: may wait for the disk, never for the tree
    os.fsync(f)
    os.fdatasync(f)
print(os.fstat(f).st_size, flush=True)
"""
LEDGER_CALLS_PER_ROUND = 3


@pytest.mark.parametrize("syscall_buffer", [True, False])
def test_file_writes_and_fsyncs_cost_no_stop(tmp_path, syscall_buffer):
    ledger = str(tmp_path / "ledger")
    once = _record_script(tmp_path, LEDGER, str(K), ledger, syscall_buffer=syscall_buffer)
    os.unlink(ledger)
    twice = _record_script(tmp_path, LEDGER, str(2 * K), ledger, syscall_buffer=syscall_buffer)
    per_round = 0 if syscall_buffer else 2 * LEDGER_CALLS_PER_ROUND
    assert _stops(twice) - _stops(once) == K * per_round
    rec = twice.recording
    writes = [e for e in rec.events if e.nr == NR["write"] and e.args[0] > 2]
    assert [e.ret for e in writes] == [len(b"entry %d\n" % i) for i in range(2 * K)]
    assert sum(e.nr in (NR["fsync"], NR["fdatasync"]) and e.ret == 0 for e in rec.events) == 4 * K
    out = rec.blobs.get(rec.meta["output"]["1"])
    assert out == b"%d\n" % os.path.getsize(ledger)
    os.unlink(ledger)
    for seed in range(2):
        got = replay_captured(rec, ReplayOptions(jitter_ms=2 if seed else 0, seed=seed))
        assert (got.replay.exit_status, got.stdout) == (0, out), got.replay


SLOW_FSYNC = """
import os, sys, threading, time
def settle():
    f = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for _ in range(2):
        os.write(f, b"x" * (256 << 10))  # the page cache: quick
    os.fsync(f)  # 512 KiB to a disk that writes 512 KiB/s: about a second, keeping the turn
    print("fsync done", flush=True)
t = threading.Thread(target=settle)
t.start()
time.sleep(0.1)  # the thread is in its fsync by now
for _ in range(5):
    time.sleep(0.01)  # each sleep returns while the thread waits for the disk
print("main done", flush=True)
t.join()
"""


class _CountingRejoins(Recorder):
    rejoins = 0

    def _rejoin(self, tid, th, regs):
        self.rejoins += 1
        super()._rejoin(tid, th, regs)


def test_a_thread_waiting_for_the_disk_in_the_library_gives_the_turn_back(tmp_path):
    """A file write or fsync the library makes keeps the turn (no stop), so a thread ready
    meanwhile would wait for the disk too: the recorder takes the turn back, and the waiting
    thread asks for it again when its call returns (sysbuf.REJOIN)."""
    from testbed.kernel.volumes import LoopVolume

    volume = LoopVolume(tmp_path / "disk.img", tmp_path / "disk", 64)  # as the testbed's disks
    try:
        volume.throttle_writes(512 << 10)
        script = tmp_path / "slow_fsync.py"
        script.write_text(SLOW_FSYNC)
        recorder = _CountingRejoins([PY, str(script), str(volume.mountpoint / "ledger")],
                                    cwd=str(tmp_path))
        result = recorder.run()
    finally:
        volume.remove()
    rec = result.recording
    out = rec.blobs.get(rec.meta["output"]["1"])
    assert out == b"main done\nfsync done\n"  # main's sleeps were not held behind the disk
    assert recorder.rejoins >= 1  # the fsync (a write may wait for the throttled disk too)
    fsync = next(i for i, e in enumerate(rec.events) if e.nr == NR["fsync"])
    main = rec.meta["root_tid"]
    sleeps = [i for i, e in enumerate(rec.events) if e.nr == NR["clock_nanosleep"] and e.tid == main]
    # recorded where it was entered, before the sleeps main made meanwhile (not where it was
    # rung, after them): replay runs the thread up to its fsync before main goes on, as it ran
    assert len(sleeps) == 6 and fsync < sleeps[-1]
    got = replay_captured(rec, ReplayOptions())
    assert got.matches_recording, got.replay
